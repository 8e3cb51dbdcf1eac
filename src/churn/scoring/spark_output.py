"""scores.parquet written by one Spark task with the local list's types: the sorted list of
:func:`churn.scoring.spark_list.spark_list` goes, one Arrow batch at a time, to a single task
that gives each batch the dtypes of :func:`churn.scoring.ranking.score_customers`' frame
(risk tier as an ordered category, reason flags as nullable booleans, ranks as int64) and
streams it into one parquet file with :func:`churn.io.files.write_parquet_parts`, so every
reader of scores.parquet (``churn export``, ``monitor``, ``report``) reads what the local path
writes. The driver renames the file into place; one row (the count) reaches it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.io.files import staging_folder, write_parquet_parts
from churn.scoring.outreach import TIERS
from churn.scoring.ranking import score_columns

FLAGS = ("in_outreach", "control_group")


def as_local_list(batch: pd.DataFrame, n_reasons: int) -> pd.DataFrame:
    """Rows of the list as Spark hands them to pandas, with the local list's dtypes."""
    out: dict[str, Any] = {}
    for column in score_columns(n_reasons):
        values = batch[column]
        if column == "risk_tier":
            out[column] = pd.Categorical(values.to_numpy(dtype=object), list(TIERS), ordered=True)
        elif column.endswith("_actionable"):
            out[column] = pd.array(values.to_numpy(dtype=object), dtype="boolean")
        elif column in FLAGS:
            out[column] = values.to_numpy(dtype=bool)
        elif column == "priority_rank":
            out[column] = values.to_numpy(dtype="int64")
        elif column == "cutoff":
            out[column] = pd.to_datetime(values).to_numpy().astype("datetime64[us]")
        elif pd.api.types.is_float_dtype(values):
            out[column] = values.to_numpy(dtype="float64")
        else:
            out[column] = values.to_numpy(dtype=object)
    return pd.DataFrame(out)


def write_spark_list(scores: Any, dest: Path, n_reasons: int) -> int:
    """Write the Spark list ``scores`` (sorted) as the parquet file ``dest`` the local path
    would write: one task (``coalesce(1)``) converts and streams it into a staging folder
    beside ``dest`` (every executor must see it at the same path), which the driver renames
    over ``dest``. Returns the rows written."""
    staging = staging_folder(dest, f".{dest.name}.spark.")
    part = staging / "list.parquet"
    try:

        def write(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            rows = [0]

            def converted() -> Iterator[pd.DataFrame]:
                for batch in batches:
                    if len(batch):
                        rows[0] += len(batch)
                        yield as_local_list(batch, n_reasons)

            write_parquet_parts(_at_least_one(converted(), n_reasons), part)
            yield pd.DataFrame({"rows": np.array([rows[0]], dtype="int64")})

        counted = scores.coalesce(1).mapInPandas(write, "rows BIGINT").collect()
        if len(counted) != 1 or not part.is_file():
            raise RuntimeError(f"Spark wrote {len(counted)} lists into {staging}, expected 1")
        os.replace(part, dest)
        return int(counted[0]["rows"])
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _at_least_one(parts: Iterator[pd.DataFrame], n_reasons: int) -> Iterator[pd.DataFrame]:
    """``parts``, or one empty list when there are none (an empty population cannot be
    scored, but the writer needs a frame for the schema)."""
    empty = True
    for part in parts:
        empty = False
        yield part
    if empty:
        yield as_local_list(pd.DataFrame({c: [] for c in score_columns(n_reasons)}), n_reasons)
