"""The features stage streams the engine's result to features.parquet one row group at a time
(issue 17: a hundred million events on one machine). Streamed, the file must be the one that
writing the whole table gives, byte for byte."""

from __future__ import annotations

import datetime as dt
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from churn.engines.sql import duckdb_runner, result_batches
from churn.io.files import write_parquet, write_parquet_parts
from churn.kinds import kind_of
from churn.settings import PipelineSettings
from tests._project import params
from tests.test_kinds import Frames

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import synthetic_events

KEYS = ["customer_id", "cutoff"]


@pytest.mark.parametrize(("n", "rows"), [(0, 4), (3, 4), (8, 4), (11, 4), (11, 100)])
def test_result_batches_are_the_result_in_order_in_exact_slices(n, rows):
    sql = f"SELECT range AS x, 'r' || range AS name FROM range({n}) ORDER BY x DESC"
    tables = list(result_batches(duckdb_runner(), {}, sql, rows=rows))
    assert [t.num_rows for t in tables[:-1]] == [rows] * (len(tables) - 1)
    assert 0 < tables[-1].num_rows <= rows or n == 0
    assert tables[0].schema.names == ["x", "name"]
    values = [x for t in tables for x in t.column("x").to_pylist()]
    assert values == list(range(n - 1, -1, -1))


def _parts(frame: pd.DataFrame, sizes: list[int]) -> list[pd.DataFrame]:
    """``frame`` cut into consecutive parts of ``sizes`` (the rest in the last part), each
    numbered from 0 as a part converted from Arrow is."""
    cuts = np.cumsum([0, *sizes])
    bounds = [*cuts[cuts < len(frame)], len(frame)]
    return [frame.iloc[a:b].reset_index(drop=True) for a, b in itertools.pairwise(bounds)] or [
        frame.iloc[:0]
    ]


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    late = n * 2 // 3
    return pd.DataFrame(
        {
            "customer_id": pd.Series([f"id{i:05d}" for i in range(n)], dtype=object),
            "cutoff": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 9, n), "D"),
            "spend": np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2.0, 9.0, n)),
            # missing in the first row groups, text later: typed by the whole table
            "plan": pd.Series(
                [None] * late + list(rng.choice(["a", "é b", ""], n - late)), dtype=object
            ),
            "nothing": pd.Series([None] * n, dtype=object),  # never a value: null, as whole
            "text": pd.Series(rng.choice(["x", "y"], n), dtype="str"),
        }
    )


@pytest.mark.parametrize("n", [0, 1, 9, 10, 20, 57])
@pytest.mark.parametrize("sizes", [[10] * 6, [3, 1, 26, 2], [57]])
@pytest.mark.parametrize("typed_early", [False, True])
def test_parts_written_give_the_bytes_of_the_whole(tmp_path, n, sizes, typed_early):
    frame = _table(n, seed=n)
    if typed_early:  # every column's type known from the first part: written as they come
        frame = frame.drop(columns=["nothing", "plan"])
    write_parquet(frame, tmp_path / "whole.parquet", row_group_rows=10)
    columns = write_parquet_parts(
        _parts(frame, sizes), tmp_path / "parts.parquet", row_group_rows=10
    )
    assert (tmp_path / "parts.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert len(columns) == 0
    assert columns.dtypes.to_dict() == frame.dtypes.to_dict()
    assert pq.ParquetFile(tmp_path / "parts.parquet").metadata.num_rows == n


def _events() -> pd.DataFrame:
    events = synthetic_events(12_000, seed=7, events_per_customer=20, missing_order_fraction=0.1)
    purchases = events.index[events["event_type"] == "purchase"]
    events.loc[purchases[::50], "amount"] = np.nan  # unknown amounts, some days' totals unknown
    return events


def _customers(events: pd.DataFrame) -> pd.DataFrame:
    ids = np.sort(events["customer_id"].unique())
    rng = np.random.default_rng(3)
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": ids,
            # only the last customers have a plan: the first row groups hold none
            "plan": np.array([None] * (n - 40) + list(rng.choice(["gold", "b"], 40)), object),
            "age": np.where(rng.random(n) < 0.2, np.nan, rng.integers(18, 90, n)),
        }
    )


def _settings(events: pd.DataFrame) -> PipelineSettings:
    values = params()
    values["data"]["customers"] = {
        "sources": [
            {
                "path": "customers.csv",
                "columns": {"customer_id": "id"},
                "attributes": {"plan": "plan", "age": "age"},
            }
        ]
    }
    first = events["ts"].min().date()
    values["labels"] = {
        "activity_event_types": ["purchase"],
        "horizon_days": 30,
        "train_cutoffs": {"dates": [first + dt.timedelta(days=d) for d in (60, 120, 180, 240)]},
        "test_cutoff": first + dt.timedelta(days=300),
    }
    values["features"]["bgnbd"] = True
    values["features"]["calendar"] = True
    return PipelineSettings.model_validate({"name": "shop", **values})


def test_streamed_features_file_is_the_whole_tables_file(tmp_path):
    events = _events()
    tables = Frames({"events": events, "customers": _customers(events)})
    kind = kind_of(_settings(events))
    labels = kind.labels(tables)
    # and a cutoff before any event: its customers have no history, BG/NBD nothing to fit on
    early = labels[KEYS].head(30).assign(cutoff=events["ts"].min().floor("D") - pd.Timedelta("9D"))
    pairs = pd.concat([labels[KEYS], early], ignore_index=True)
    rows = 97
    whole = kind.features(tables, pairs)
    assert len(whole) > 5 * rows  # several row groups, the last one short
    assert whole["plan"].iloc[:rows].isna().all() and whole["plan"].notna().any()
    assert whole["bgnbd_p_alive"].notna().any() and whole["bgnbd_p_alive"].isna().any()
    assert whole["spend_total"].isna().any() or whole["age"].isna().any()
    write_parquet(whole, tmp_path / "whole.parquet", row_group_rows=rows)

    parts = list(kind.feature_parts(tables, pairs, rows=40))  # row groups from small parts
    assert [len(p) for p in parts[:-1]] == [40] * (len(parts) - 1)
    columns = write_parquet_parts(iter(parts), tmp_path / "parts.parquet", row_group_rows=rows)
    assert (tmp_path / "parts.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert kind.catalogue(columns) == kind.catalogue(whole)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
