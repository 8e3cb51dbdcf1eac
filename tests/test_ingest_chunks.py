"""``churn ingest`` validates events a chunk of rows at a time and lets DuckDB stack, de-duplicate
and sort the chunks on disk. The canonical tables must not depend on the chunk size, and a
problem found in several chunks is still reported once, with every row counted."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.errors import ContractViolation
from churn.io.paths import PipelinePaths
from churn.settings import load_settings
from churn.stages import ingest
from tests._project import ORDERS, make_project, orders, params, subprocess_env, write_params

NOW = dt.datetime(2026, 1, 1)


def two_sources(root: Path) -> None:
    """The shop's orders split into two files that overlap by 30 orders, with a repeated line
    and a guest row, as exports of two periods often are."""
    make_project(root)
    frame = orders()
    first, second = frame.iloc[:400], frame.iloc[370:]
    first = pd.concat([first, first.iloc[[5]]])  # a line repeated exactly
    second = pd.concat([second, second.iloc[[0]].assign(cust="")])  # a guest checkout
    first.to_csv(root / ORDERS, index=False)
    second.to_csv(root / "data/raw/shop/orders_2.csv", index=False)
    values: dict[str, Any] = params()
    source = values["data"]["events"]["sources"][0]
    values["data"]["events"]["sources"] = [source, {**source, "path": "data/raw/shop/orders_2.csv"}]
    values["data"]["events"] |= {
        "overlap_key": "order_id",
        "drop_duplicate_events": True,
        "drop_missing_customer_id": True,
    }
    write_params(root, values)


def ingested(root: Path, chunk_rows: int) -> tuple[pd.DataFrame, dict[str, int]]:
    paths = PipelinePaths(root, "shop")
    settings = load_settings(root, "shop")
    # rebuild: every file is read again at this chunk size, not reused from the manifest
    counts = ingest.run(settings, paths, now=NOW, chunk_rows=chunk_rows, rebuild=True)
    return pd.read_parquet(paths.table("events")), counts


def test_chunk_size_does_not_change_the_canonical_events(tmp_path: Path) -> None:
    two_sources(tmp_path)
    whole, counts = ingested(tmp_path, 1_000_000)
    for rows in (97, 250):  # files of 401 and 1,400-odd rows: several chunks, a ragged last one
        chunked, chunked_counts = ingested(tmp_path, rows)
        pd.testing.assert_frame_equal(chunked, whole)
        assert chunked_counts == counts
    n_orders = len(orders())
    assert counts["events"] == n_orders == whole["order_id"].nunique()
    assert whole.equals(whole.sort_values(["customer_id", "ts"], kind="stable"))


def test_a_problem_in_many_chunks_is_reported_once_with_every_row(tmp_path: Path) -> None:
    make_project(tmp_path)
    frame = orders().astype({"total": object})
    frame.loc[[2, 9, 30], "total"] = ["ten", "n/a", "ten"]
    frame.to_csv(tmp_path / ORDERS, index=False)
    paths = PipelinePaths(tmp_path, "shop")
    with pytest.raises(ContractViolation) as err:
        ingest.run(load_settings(tmp_path, "shop"), paths, now=NOW, chunk_rows=8)
    (problem,) = err.value.problems
    assert (problem.source, problem.column, problem.n_rows) == (ORDERS, "total", 3)
    assert list(problem.examples) == ["ten", "n/a"]
    assert not paths.canonical.exists()
    assert not list(paths.canonical.parent.glob(".ingest-parts-*"))


def test_ingest_prints_no_pyspark_pandas_warning(tmp_path: Path) -> None:
    """With churn[spark] installed, pandera imports pyspark.pandas again on its first
    validation, which warns about pandas 3; a user should not see that on every ingest."""
    pytest.importorskip("pyspark")
    make_project(tmp_path)
    churn = shutil.which("churn", path=str(Path(sys.executable).parent))
    assert churn is not None
    done = subprocess.run(
        [churn, "ingest", "shop", "--project-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr
    assert "PySpark does not yet fully support pandas" not in done.stderr


def messy_events(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Raw order lines as an export gives them: ids in mixed shapes, many lines of one customer
    at the same minute, a channel with gaps, and exact repeats of earlier lines far from them
    (in other chunks), some of them at the very end of the file."""
    customers = [f" c-{i:03d}" if i % 7 == 0 else f"C{i:03d}" for i in range(60)]
    minute = pd.Timestamp("2023-02-01") + pd.to_timedelta(rng.integers(0, 500_000, n), unit="m")
    frame = pd.DataFrame(
        {
            "order": [f"O{i % (n // 3)}" for i in range(n)],  # orders with several lines
            "cust": rng.choice(customers, n),
            "when": minute.strftime("%Y-%m-%d %H:%M"),
            "total": np.round(rng.gamma(2, 15, n), 2),
            "via": rng.choice(["web", "store", None], n),
        }
    )
    frame.loc[rng.random(n) < 0.2, "when"] = frame["when"].iloc[0]  # ties on (customer, time)
    repeats = frame.iloc[rng.integers(0, n, n // 10)]
    return pd.concat([frame, repeats.iloc[: n // 20], frame, repeats], ignore_index=True)


def ingested_bytes(root: Path, drop_duplicates: bool, chunk_sizes: tuple[int, ...]) -> set[Any]:
    """The md5 and row count of events.parquet ingested from generated messy raw events at
    each of ``chunk_sizes``."""
    raw = messy_events(np.random.default_rng(11), 900)
    if not (root / "pipelines").exists():
        make_project(root)
        raw.to_parquet(root / "data/raw/shop/orders.parquet", row_group_size=333, index=False)
    values: dict[str, Any] = params()
    source = values["data"]["events"]["sources"][0]
    values["data"]["events"]["sources"] = [
        {**source, "path": "data/raw/shop/orders.parquet", "attributes": {"channel": "via"}}
    ]
    values["data"]["events"]["drop_duplicate_events"] = drop_duplicates
    write_params(root, values)
    events = PipelinePaths(root, "shop").table("events")
    digests = set()
    for rows in chunk_sizes:
        _, counts = ingested(root, rows)
        digests.add((hashlib.md5(events.read_bytes()).hexdigest(), counts["events"]))
        n_written = counts["events"]
        assert (n_written < len(raw)) if drop_duplicates else (n_written == len(raw))
    return digests


@pytest.mark.parametrize("drop_duplicates", [False, True])
def test_events_file_is_the_same_bytes_whatever_the_number_of_chunks(
    tmp_path: Path, drop_duplicates: bool
) -> None:
    """events.parquet itself, not only its values: the file DVC hashes must not move when
    ingest reads its raw rows in other chunks (6, 8 or 49 of them, duplicates across them)."""
    digests = ingested_bytes(tmp_path, drop_duplicates, (333, 250, 40))
    assert len(digests) == 1, digests


def test_events_file_is_the_same_bytes_in_one_chunk_as_in_several(tmp_path: Path) -> None:
    """One part file gave DuckDB statistics that no column has a missing value, and it wrote
    those columns as `required`; several parts gave none, and the same columns optional."""
    digests = ingested_bytes(tmp_path, False, (1_000_000, 250))
    assert len(digests) == 1, digests
