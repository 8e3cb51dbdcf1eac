"""What each stage on Spark hands to the driver, bounded by ``tests/_driver_rows.py`` (on a local
Spark, ``local[2]``, started once for this module). docs/spark.md lists the same per stage."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.settings import SparkSettings, TrainSettings

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import scoped_session, spark_dataframe, spark_session
from churn.modeling.spark_train import parquet_training_rows, spark_fit_model
from churn.modeling.training_data import FeatureColumns, TrainingRows
from churn.reporting.shap_figures import MAX_POINTS
from churn.scoring.spark_scoring import champion_probabilities, spark_champion
from churn.tracking.store import connect, tracking_uri
from tests._driver_rows import COLLECTING, driver_rows, rows_of
from tests._project import PIPELINE, churn, make_project, run_stages, write_params
from tests._project import params as project_params
from tests.test_spark import assert_same_frame, registered_champion
from tests.test_spark_score import assert_same_tree
from tests.test_tracking import customers as scored_customers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    spark = spark_session(SparkSettings(master="local[2]", shuffle_partitions=2), env={})
    yield spark
    spark.stop()


def test_the_guard_counts_each_way_rows_reach_the_driver_once(session: Any) -> None:
    frame = session.range(50).selectExpr("id", "id * 2 AS twice")
    with driver_rows(at_most=1_000) as seen:
        frame.toArrow()
        frame.collect()
        frame.take(7)  # calls collect: counted once
        frame.tail(3)
        frame.head(4)
        frame.first()  # calls head, take, collect
        frame.head()
        consumed = sum(1 for _ in frame.toLocalIterator())
    assert consumed == 50
    assert [name for name, _ in seen.calls[:7]] == [
        "toArrow",
        "collect",
        "take",
        "tail",
        "head",
        "first",
        "head",
    ]
    assert [rows for _, rows in seen.calls[:7]] == [50, 50, 7, 3, 4, 1, 1]
    assert seen.calls[7:] == [("toLocalIterator", 1)] * 50
    assert seen.total == 50 * 2 + 7 + 3 + 4 + 1 + 1 + 50
    # toPandas() fails on pandas 3 in pyspark 4.3 (churn never calls it): counted as a frame
    assert {name for name, _ in seen.calls} == set(COLLECTING) - {"toPandas"}
    assert rows_of(pd.DataFrame({"x": range(6)})) == 6


def test_the_guard_fails_at_the_call_past_the_bound_and_restores_the_methods(
    session: Any,
) -> None:
    frame = session.range(20)
    plain = type(frame).collect
    expected = pytest.raises(AssertionError, match=r"collect\(\) handed 20 rows.*at most 15")
    with expected, driver_rows(at_most=15) as seen:
        frame.take(10)
        frame.collect()
    assert seen.calls == [("take", 10), ("collect", 20)]
    assert type(frame).collect is plain
    assert len(frame.collect()) == 20  # no guard left behind


def training_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "recency": rng.uniform(0, 1, n),
            "noise": rng.normal(size=n),
            "split": rng.choice(["train", "valid"], n, p=[0.7, 0.3]),
        }
    )
    rows["churned"] = (rows["recency"] + rng.normal(0, 0.4, n) > 0.6).astype("boolean")
    return rows


def test_training_on_spark_brings_back_the_booster_not_the_rows(session: Any) -> None:
    """``train.engine: spark``: the rows go from the driver to the executors (through Arrow);
    what comes back is the booster, as one row per worker, not the training rows."""
    rows = training_rows(1_200, seed=4)
    train, valid = (rows[rows["split"] == s].reset_index(drop=True) for s in ("train", "valid"))
    columns = FeatureColumns(numeric=("recency", "noise"), categorical=())
    settings = TrainSettings(max_rounds=40)
    with driver_rows(at_most=5) as seen:
        fitted = spark_fit_model(session, train, valid, columns, settings, metadata={})
    assert fitted.best_iteration >= 0
    # xgboost.spark's own: the number of distinct labels, then the booster, its config and
    # evaluation history
    assert seen.calls == [("collect", 1), ("collect", 3)]


def test_training_from_the_files_hands_spark_no_row_and_lets_the_driver_s_rows_go(
    session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``churn train`` on Spark: the executors read the labelled rows from ``labels.parquet``
    and ``features.parquet``; the driver creates no DataFrame from its rows, lets the training
    rows go before the booster grows, and gets back what xgboost.spark collects."""
    rows = training_rows(1_200, seed=4).assign(
        customer_id=[f"c{i}" for i in range(1_200)], cutoff=pd.Timestamp("2024-01-01")
    )
    labels, features = tmp_path / "labels.parquet", tmp_path / "features.parquet"
    rows[["customer_id", "cutoff", "churned", "split"]].to_parquet(labels, index=False)
    rows[["customer_id", "cutoff", "recency", "noise"]].to_parquet(features, index=False)
    train, valid = (rows[rows["split"] == s].reset_index(drop=True) for s in ("train", "valid"))
    held = TrainingRows(train, reread=lambda: train)
    columns = FeatureColumns(numeric=("recency", "noise"), categorical=())

    def handed(*args: object, **kwargs: object) -> None:
        raise AssertionError("the driver handed Spark a frame of rows")

    monkeypatch.setattr(type(session), "createDataFrame", handed)
    scoped = scoped_session(session)
    with driver_rows(at_most=5) as seen:
        fitted = spark_fit_model(
            session,
            held,
            valid,
            columns,
            TrainSettings(max_rounds=40),
            metadata={},
            spark_rows=partial(parquet_training_rows, scoped, (labels, features), columns),
        )
    assert fitted.best_iteration >= 0
    assert not held.held
    assert seen.calls == [("collect", 1), ("collect", 3)]


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_scoring_by_spark_udf_still_brings_back_one_probability_per_customer(
    session: Any, tmp_path: Path
) -> None:
    """``scoring.engine: spark`` where the list is not made in the executors (features on
    DuckDB, a snapshot pipeline, an uplift model): the population goes from the driver to the
    executors, and each row's probability (its row number and the probability) comes back,
    since the reasons, tiers and lists are then computed on the driver."""
    client = connect(tracking_uri(tmp_path, {}))
    registered_champion(client, tmp_path)
    champion = spark_champion(session, client, "churn-spark")
    features, _ = scored_customers(250, seed=6)
    features = features.reset_index().astype({"plan": object})
    with driver_rows(at_most=len(features)) as seen:
        probabilities = champion_probabilities(session, champion, features)
    assert probabilities.shape == (len(features),)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert seen.calls == [("toArrow", len(features))]


def test_a_frame_handed_to_spark_is_not_collected_back(session: Any) -> None:
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(300)], "x": np.arange(300.0)})
    with driver_rows(at_most=0):
        spark_dataframe(session, frame).createOrReplaceTempView("handed")
        counted = session.sql("SELECT COUNT(*) AS n FROM handed")
    assert counted.count() == 1  # count() returns a number: no row reaches Python


def test_churn_labels_and_features_on_spark_write_the_duckdb_files_collecting_summaries(
    session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``churn labels`` and ``churn features`` with features.engine spark (BG/NBD and the
    calendar on): the executors write labels.parquet and features.parquet, equal to DuckDB's;
    the driver collects the events' span, a count per split and one fitted BG/NBD model per
    cutoff, and reads no parquet file into pandas."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = make_project(tmp_path)
    values = project_params()
    values["features"] = {**values.get("features", {}), "bgnbd": True, "calendar": True}
    write_params(root, values)
    run_stages(root, ("ingest", "labels", "features"))
    interim = root / "data/interim" / PIPELINE
    written = ("labels.parquet", "features.parquet", "feature_catalogue.json")
    duck = {name: (interim / name).read_bytes() for name in written}
    for name in written:
        (interim / name).unlink()

    values["features"]["engine"] = "spark"
    write_params(root, values)
    with monkeypatch.context() as patch, driver_rows(at_most=20) as seen:
        patch.setattr(pd, "read_parquet", forbidden_read)
        for stage in ("labels", "features"):
            code, out = churn(root, stage)
            assert code == 0, out

    labels = pd.read_parquet(interim / "labels.parquet")
    want_labels = pd.read_parquet(io.BytesIO(duck["labels.parquet"]))
    pd.testing.assert_frame_equal(
        labels.astype({"churned": "boolean"}), want_labels, check_exact=True
    )
    spark = pd.read_parquet(interim / "features.parquet")
    want = pd.read_parquet(io.BytesIO(duck["features.parquet"]))
    pd.testing.assert_frame_equal(spark, want, check_exact=False, rtol=0, atol=1e-9)
    assert (interim / "feature_catalogue.json").read_bytes() == duck["feature_catalogue.json"]
    assert spark["bgnbd_p_alive"].notna().sum() > 100
    cutoffs, splits = labels["cutoff"].nunique(), labels["split"].nunique()
    assert seen.calls[-2:] == [("toArrow", splits), ("collect", cutoffs)]
    assert seen.total <= 1 + 10 + splits + cutoffs, "the events' span: one row, a few types"
    print(f"churn labels + features on Spark: driver {seen.calls}")


def forbidden_read(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"the driver read a parquet file into pandas: {args}")


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_churn_score_in_the_executors_hands_the_driver_summaries_and_writes_the_local_outputs(
    session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``churn score`` with scoring.engine and features.engine spark: the list, its history
    copy, the scored features, scoring.json and shap_importance.json the local run writes
    (probabilities within 1e-6, sums within 1e-12), with only summaries and the charts'
    customers handed to the driver, and no parquet file read into pandas."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    make_project(tmp_path)
    values = project_params()
    values["features"] = {**values["features"], "bgnbd": True, "calendar": True}
    values["scoring"] = {"outreach": {"top_percent": 25, "control_percent": 20}}
    write_params(tmp_path, values)
    run_stages(tmp_path, ("ingest", "labels", "features", "train", "register"))
    scored = tmp_path / "data/scored" / PIPELINE
    reports = tmp_path / "reports" / PIPELINE
    code, out = churn(tmp_path, "score")
    assert code == 0, out
    names = ("scores.parquet", "features.parquet")
    local = {name: (scored / name).read_bytes() for name in names}
    local_summary = json.loads((reports / "scoring.json").read_text())
    local_importance = json.loads((reports / "shap_importance.json").read_text())
    for name in names:
        (scored / name).unlink()

    values["features"]["engine"] = "spark"
    values["scoring"]["engine"] = "spark"
    write_params(tmp_path, values)
    with monkeypatch.context() as patch, driver_rows(at_most=100 + MAX_POINTS) as seen:
        patch.setattr(pd, "read_parquet", forbidden_read)
        code, out = churn(tmp_path, "score")
    assert code == 0, out

    want = pd.read_parquet(io.BytesIO(local["scores.parquet"]))
    got = pd.read_parquet(scored / "scores.parquet")
    assert len(want) > 100 and want["in_outreach"].sum() > 20
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    np.testing.assert_allclose(got["churn_probability"], want["churn_probability"], atol=1e-6)
    pd.testing.assert_frame_equal(
        got.drop(columns=["scored_at", "churn_probability"]),
        want.drop(columns=["scored_at", "churn_probability"]),
        check_exact=False,
        rtol=1e-12,
    )
    history = sorted((scored / "history").glob("*.parquet"))
    assert (scored / "scores.parquet").read_bytes() == history[-1].read_bytes()
    features = pd.read_parquet(scored / "features.parquet")
    assert_same_frame(features, pd.read_parquet(io.BytesIO(local["features.parquet"])))
    assert_same_tree(json.loads((reports / "scoring.json").read_text()), local_summary)
    assert_same_tree(json.loads((reports / "shap_importance.json").read_text()), local_importance)
    explained = int(want["reason_1_code"].notna().sum())
    features_of_model = len(local_importance["features"])
    large = [rows for _, rows in seen.calls if rows > 20]
    # the charts' customers (at most MAX_POINTS) and the mean |SHAP| of each feature
    assert large == [explained, features_of_model], seen.calls
    assert seen.total - explained - features_of_model <= 100
    print(f"churn score in the executors: driver {seen.calls}")
