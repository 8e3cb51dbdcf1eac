"""A pass over a parquet output in batches holds a batch, not the file: what the report's and
scoring's passes over lists of tens of millions of customers rest on (issue 17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from churn.io.files import parquet_column_batches
from churn.io.paths import Output

ROW_GROUPS, ROWS = 40, 20_000


def _file(path: Path) -> Output:
    rng = np.random.default_rng(3)
    with pq.ParquetWriter(path, pa.schema([("id", pa.string()), ("x", pa.float64())])) as writer:
        for group in range(ROW_GROUPS):
            ids = [f"customer-{group}-{i}" for i in range(ROWS)]
            writer.write_table(pa.table({"id": ids, "x": rng.random(ROWS)}))
    return Output(path, made_by="churn score shop")


def test_a_pass_in_batches_lets_each_batch_go(tmp_path: Path) -> None:
    """pyarrow's pre_buffer kept every row group read until the end of the pass: the Arrow
    memory held grew to the whole file's columns (about 40 row groups' worth here)."""
    path = _file(tmp_path / "scores.parquet")
    start, most, rows = pa.total_allocated_bytes(), 0, 0
    for part in parquet_column_batches(path, ["id", "x"], batch_rows=ROWS):
        rows += len(part)
        most = max(most, pa.total_allocated_bytes() - start)
    assert rows == ROW_GROUPS * ROWS
    assert most < _whole(path) / 4


def _whole(path: Path) -> int:
    """The bytes of every row group of ``path``, uncompressed."""
    meta = pq.ParquetFile(path).metadata
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
