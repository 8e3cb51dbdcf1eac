"""SQL injection through params, driven through the CLI: every value a params file (or the
project's folder name) sends into SQL either is refused with the key or column named, or stays
one name or one value, on DuckDB and (slow) on Spark. Each payload tries to write a file of its
choosing with ``COPY ... TO``; no payload may write it, and none may end in exit code 1 (a bug)
or run anything. ``tests/test_sql_quoting.py`` tests the two quoting helpers themselves."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from churn.modeling.train import booster_params, fit_booster
from churn.modeling.training_data import FeatureColumns, outcome
from churn.settings import SparkSettings, TrainSettings
from tests._project import ORDERS, PIPELINE, churn, make_project, params, write_params

Edit = Callable[[dict[str, Any], str], None]

STAGES = ("ingest", "labels", "features")
CANONICAL = f"data/interim/{PIPELINE}/canonical/events.parquet"
FEATURES = f"data/interim/{PIPELINE}/features.parquet"


def literal_payload(target: Path) -> str:
    """Ends a single-quoted SQL string and runs a statement that writes ``target``."""
    return f"purchase'; COPY (SELECT 1) TO '{target}'; --"


def identifier_payload(target: Path) -> str:
    """Ends a double-quoted SQL identifier (and the CAST it is in) and does the same."""
    return f"""plan" VARCHAR) AS x FROM parts; COPY (SELECT 1) TO '{target}'; --"""


def source(values: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = values["data"]["events"]["sources"][0]
    return first


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the payloads try to write; the working folder too, for relative payloads."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "pwned.csv"


def nothing_written_by(target: Path) -> None:
    root = target.parent
    assert not target.exists()
    assert not list(root.rglob(target.name)), "a payload wrote a file"


def run(root: Path, edit: Edit, payload: str) -> dict[str, tuple[int, str]]:
    """Apply ``edit`` to the shop's params, run ingest, labels and features until one fails;
    exit code and output of each stage run."""
    values = params()
    edit(values, payload)
    write_params(root, values)
    results = {}
    for stage in STAGES:
        results[stage] = churn(root, stage)
        if results[stage][0] != 0:
            break
    return results


# ---- refused, naming the key or the column ----------------------------------------------------


def memory_limit(values: dict[str, Any], payload: str) -> None:
    values["features"]["duckdb_memory_limit"] = f"4GB{payload}"


def customer_id_column(values: dict[str, Any], payload: str) -> None:
    source(values)["columns"]["customer_id"] = payload


def attribute_column(values: dict[str, Any], payload: str) -> None:
    source(values)["attributes"] = {"plan": payload}


def activity_types(values: dict[str, Any], payload: str) -> None:
    values["labels"]["activity_event_types"] = [payload]


REFUSED: dict[str, tuple[Edit, str, int, str]] = {
    "memory limit": (memory_limit, "ingest", 2, "features.duckdb_memory_limit: Value error"),
    "memory limit (identifier)": (memory_limit, "ingest", 2, "features.duckdb_memory_limit"),
    "column mapping": (customer_id_column, "ingest", 3, "column mapped to 'customer_id' not found"),
    "attribute column": (attribute_column, "ingest", 3, "column mapped to 'plan' not found"),
    "activity event type": (activity_types, "labels", 4, "No eligible customers"),
}


@pytest.mark.parametrize("payload_of", [literal_payload, identifier_payload])
@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_a_payload_in_a_checked_value_is_refused_naming_it(
    tmp_path: Path,
    target: Path,
    case: tuple[Edit, str, int, str],
    payload_of: Callable[[Path], str],
) -> None:
    edit, stage, code, message = case
    root = make_project(tmp_path / "project")
    payload = payload_of(target)
    results = run(root, edit, payload)
    failed = list(results)[-1]
    assert failed == stage, results
    exit_code, out = results[stage]
    assert exit_code == code, out
    assert message in out, out
    if code != 2:  # a key refused by the settings is named with its value; data by its column
        assert payload in out or repr(payload) in out, out
    assert "bug in churn" not in out and "Traceback" not in out
    nothing_written_by(target)


# ---- accepted: a name stays that name, a value that value ---------------------------------------


def attribute_name(values: dict[str, Any], payload: str) -> None:
    source(values)["attributes"] = {payload: "cust"}


def event_types(values: dict[str, Any], payload: str) -> None:
    values["features"]["event_types"] = ["purchase", payload]
    values["features"]["return_event_types"] = [payload]


def default_type(values: dict[str, Any], payload: str) -> None:
    values["data"]["events"]["default_event_type"] = payload
    values["labels"]["activity_event_types"] = [payload]
    values["features"]["event_types"] = [payload]


def check_attribute(root: Path, payload: str) -> None:
    events = pd.read_parquet(root / CANONICAL)
    assert payload in events.columns
    assert (events[payload] == events["customer_id"]).all()
    features = pd.read_parquet(root / FEATURES)
    assert payload in features.columns


def check_event_types(root: Path, payload: str) -> None:
    features = pd.read_parquet(root / FEATURES)
    share = [c for c in features.columns if c.startswith("share_") and c != "share_purchase_90d"]
    assert len(share) == 1 and (features[share[0]].fillna(0) == 0).all()  # no event has that type
    assert (features["returns_total"] == 0).all()


def check_default_type(root: Path, payload: str) -> None:
    events = pd.read_parquet(root / CANONICAL)
    assert set(events["event_type"]) == {payload.strip().casefold()}  # event types are folded
    features = pd.read_parquet(root / FEATURES)
    share = [c for c in features.columns if c.startswith("share_")]
    assert len(share) == 1 and (features[share[0]].dropna() == 1).all()  # every event


ACCEPTED: dict[str, tuple[Edit, Callable[[Path, str], None]]] = {
    "attribute name": (attribute_name, check_attribute),
    "feature event types": (event_types, check_event_types),
    "default event type": (default_type, check_default_type),
}


@pytest.mark.parametrize("payload_of", [literal_payload, identifier_payload])
@pytest.mark.parametrize("case", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_a_payload_in_a_name_or_value_stays_that_name_or_value(
    tmp_path: Path,
    target: Path,
    case: tuple[Edit, Callable[[Path, str], None]],
    payload_of: Callable[[Path], str],
) -> None:
    edit, check = case
    root = make_project(tmp_path / "project")
    payload = payload_of(target)
    for stage, (code, out) in run(root, edit, payload).items():
        assert code == 0, f"churn {stage}: {out}"
    check(root, payload)
    nothing_written_by(target)


def test_paths_with_quotes_stay_paths(tmp_path: Path, target: Path) -> None:
    """The project folder (in every parquet path DuckDB reads and the COPY of ingest) and a
    raw file named with both quotes and a statement."""
    name = f"""o'brien "shop"; COPY (SELECT 1) TO '{target.name}'; --"""
    root = make_project(tmp_path / name)
    raw = root / "data/raw/shop" / f"{name}.csv"
    (root / ORDERS).rename(raw)
    values = params()
    source(values)["path"] = str(raw.relative_to(root))
    write_params(root, values)
    for stage in STAGES:
        code, out = churn(root, stage)
        assert code == 0, f"churn {stage}: {out}"
    assert len(pd.read_parquet(root / FEATURES)) > 0
    nothing_written_by(target)
    assert not (Path(os.getcwd()) / target.name).exists()


# ---- Spark --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session for this module's Spark tests, stopped at the end (the CLI uses
    the process's session when there is one)."""
    pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
    from churn.engines.spark import spark_session  # noqa: PLC0415 - needs pyspark

    session = spark_session(SparkSettings(master="local[1]", shuffle_partitions=1), env={})
    yield session
    session.stop()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["attribute name", "default event type"])
def test_on_spark_a_payload_stays_a_name_or_value(tmp_path: Path, target: Path, case: str) -> None:
    """``features.engine: spark``: the queries are DuckDB's, transpiled; the payloads stay what
    they are there too, and the features are DuckDB's."""
    pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
    edit, check = ACCEPTED[case]
    payload = literal_payload(target) + "`; --"

    def on_spark(values: dict[str, Any], text: str) -> None:
        edit(values, text)
        values["features"]["engine"] = "spark"
        values["features"]["spark"] = {"master": "local[1]", "shuffle_partitions": 1}

    duck = make_project(tmp_path / "duckdb")
    for stage, (code, out) in run(duck, edit, payload).items():
        assert code == 0, f"churn {stage} on duckdb: {out}"
    spark = make_project(tmp_path / "spark")
    for stage, (code, out) in run(spark, on_spark, payload).items():
        assert code == 0, f"churn {stage} on spark: {out}"
    check(spark, payload)
    pd.testing.assert_frame_equal(
        pd.read_parquet(spark / FEATURES), pd.read_parquet(duck / FEATURES), check_dtype=False
    )
    nothing_written_by(target)


@pytest.mark.slow
def test_spark_training_takes_a_feature_name_with_backticks_as_a_name(spark: Any) -> None:
    """``train.engine: spark`` writes its own Spark SQL over the feature names, which come from
    params and from a snapshot's header: a backtick in one stays in the name."""
    from churn.engines.spark import spark_dataframe  # noqa: PLC0415 - needs pyspark
    from churn.modeling.spark_train import spark_booster  # noqa: PLC0415 - needs pyspark

    hostile = "recency` AS DOUBLE), 1.0) AS _features, 1 AS `x"
    rng = np.random.default_rng(3)
    n = 400
    rows = pd.DataFrame(
        {
            hostile: rng.uniform(0, 1, n),
            "noise": rng.normal(size=n),
            "split": rng.choice(["train", "valid"], n, p=[0.7, 0.3]),
        }
    )
    rows["churned"] = (rows[hostile] + rng.normal(0, 0.3, n) > 0.5).astype("boolean")
    columns = FeatureColumns(numeric=(hostile, "noise"), categorical=())
    settings = TrainSettings(subsample=1.0, colsample_bytree=1.0, max_rounds=30)
    params = booster_params(settings, outcome(rows[rows["split"] == "train"]))
    train, valid = rows[rows["split"] == "train"], rows[rows["split"] == "valid"]
    expected, *_ = fit_booster(train, valid, columns, params, settings)

    booster, _, _ = spark_booster(spark_dataframe(spark, rows), columns.numeric, params, settings)

    assert booster.feature_names == [hostile, "noise"]
    matrix = xgb.DMatrix(rows[list(columns.numeric)])
    np.testing.assert_allclose(booster.predict(matrix), expected.predict(matrix), atol=1e-9)
