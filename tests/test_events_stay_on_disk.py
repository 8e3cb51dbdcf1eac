"""``churn monitor`` and ``churn report`` never read the canonical events or the labels into pandas,
nor the whole feature table: whatever they need from them is aggregated or selected by the SQL
engine where the files lie, so a hundred million events never have to fit in memory (issue 17).

On a small generated shop, every Python reader of whole parquet files refuses those files while
the two stages run, and every SQL result that reaches pandas is counted: none may be the size of
the events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from churn import engines
from churn.engines.sql import ParquetTable, SqlRunner
from churn.io.files import read_parquet_rows
from churn.io.paths import Output
from churn.monitoring.drift import training_rows
from churn.monitoring.reference import training_row_numbers
from tests._project import churn, make_project, orders, run_stages


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("shop"))
    run_stages(project)
    model = str(project / "models/shop")
    # a back-dated list whose outcome is known (monitor evaluates it), then today's
    for extra in (("--cutoff", "2024-03-01"), ()):
        code, out = churn(project, "score", "--model", model, *extra)
        assert code == 0, out
    return project


class Refused(AssertionError):
    pass


def _refusing(reader: Callable[..., Any], refused: set[Path]) -> Callable[..., Any]:
    def read(source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str | Path) and Path(source).resolve() in refused:
            raise Refused(f"{source} read into memory by {reader.__module__}.{reader.__name__}")
        return reader(source, *args, **kwargs)

    return read


@pytest.fixture
def sql_rows(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The row count of every SQL result the stages' engine returns."""
    rows: list[int] = []
    make = engines.duckdb_runner

    def counting(**kwargs: Any) -> SqlRunner:
        run = make(**kwargs)

        def counted(tables: Any, sql: str) -> Any:
            out = run(tables, sql)
            rows.append(int(out.num_rows))
            return out

        return counted

    monkeypatch.setattr(engines, "duckdb_runner", counting)
    yield rows


def refuse(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    refused = {p.resolve() for p in paths}
    assert all(p.is_file() for p in refused)
    monkeypatch.setattr(pd, "read_parquet", _refusing(pd.read_parquet, refused))
    monkeypatch.setattr(pq, "read_table", _refusing(pq.read_table, refused))
    monkeypatch.setattr(pq, "read_pandas", _refusing(pq.read_pandas, refused))
    monkeypatch.setattr(ds, "dataset", _refusing(ds.dataset, refused))


@pytest.mark.slow
def test_the_guard_catches_a_whole_read(scored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = scored / "data/interim/shop/canonical/events.parquet"
    refuse(monkeypatch, events)
    with pytest.raises(Refused):
        pd.read_parquet(events)
    with pytest.raises(Refused):
        pq.read_table(str(events))


@pytest.mark.slow
def test_monitor_aggregates_the_events_where_they_lie(
    scored: Path, monkeypatch: pytest.MonkeyPatch, sql_rows: list[int]
) -> None:
    refuse(
        monkeypatch,
        scored / "data/interim/shop/canonical/events.parquet",
        scored / "data/interim/shop/labels.parquet",
        scored / "data/interim/shop/features.parquet",  # drift reads its training rows only
    )
    code, out = churn(scored, "monitor")
    assert code == 0, out
    realised = json.loads((scored / "reports/shop/realised.json").read_text())
    assert [r["cutoff"] for r in realised["evaluated"]] == ["2024-03-01"]
    assert sql_rows and max(sql_rows) <= orders()["cust"].nunique()  # labels at one cutoff


@pytest.mark.slow
def test_report_aggregates_the_events_and_labels_where_they_lie(
    scored: Path, monkeypatch: pytest.MonkeyPatch, sql_rows: list[int]
) -> None:
    n_events = len(orders())
    refuse(
        monkeypatch,
        scored / "data/interim/shop/canonical/events.parquet",
        scored / "data/interim/shop/labels.parquet",
    )
    code, out = churn(scored, "report")
    assert code == 0, out
    page = (scored / "reports/shop/report.html").read_text(encoding="utf-8")
    assert "repeat purchase within 60 days" in page
    # churn rate per cutoff and split, cohort x period counts, customers per first day
    assert len(sql_rows) >= 5 and max(sql_rows) < n_events / 5, sql_rows


def test_drift_reads_only_the_training_rows_it_would_have_selected(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 3_000
    keys = pd.DataFrame(
        {
            "customer_id": [f"c'{i % 700}" for i in range(n)],
            "cutoff": pd.to_datetime("2023-01-01")
            + pd.to_timedelta((np.arange(n) // 700) * 30, unit="D"),
        }
    )
    labels = keys.assign(split=rng.choice(["train", "purged", "valid", "test", "score"], n))
    features = keys.assign(
        spend=np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 10, n)),
        orders=pd.array(rng.integers(0, 9, n), dtype="Int64"),
        country=pd.Categorical(rng.choice(["UK", "FR", None], n)),
    ).sample(frac=1.0, random_state=1)  # not in the labels' order
    features.to_parquet(tmp_path / "features.parquet", row_group_size=256)
    labels.sample(frac=1.0, random_state=2).to_parquet(tmp_path / "labels.parquet")
    expected = training_rows(labels, pd.read_parquet(tmp_path / "features.parquet"))
    rows = training_row_numbers(
        ParquetTable(tmp_path / "features.parquet"), ParquetTable(tmp_path / "labels.parquet")
    )
    columns = ["country", "spend", "orders"]
    features_file = Output(tmp_path / "features.parquet", made_by="churn features")
    got = read_parquet_rows(features_file, rows, columns)
    assert list(got.columns) == columns and len(got) == len(expected) < n
    order = ["customer_id", "cutoff"]
    with_keys = read_parquet_rows(features_file, rows, [*order, *columns])
    pd.testing.assert_frame_equal(
        with_keys.sort_values(order).reset_index(drop=True),
        expected.sort_values(order).reset_index(drop=True)[[*order, *columns]],
    )
    none = read_parquet_rows(features_file, np.array([], dtype="int64"), columns)
    assert none.empty and list(none.columns) == columns
