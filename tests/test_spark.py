"""On a local Spark (``local[2]``) started once for this module and stopped at its end: the
Spark engine gives the DuckDB engine's features and labels row for row, the model trained on
Spark is the local one, and the champion's probabilities on Spark are the local ones, through
the library and through ``churn train`` and ``churn score``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient

from churn.engines import ParquetTable, SqlRunner, sql_runner
from churn.features import FeatureSpec, build_features, feature_catalogue, features_sql
from churn.labels import build_labels, cutoff_table, observed_until
from churn.modeling.base_margin import BaseMargin
from churn.modeling.model import Calibrator, ChurnModel, design_matrix
from churn.modeling.train import booster_params, fit_booster, fit_model
from churn.modeling.training_data import FeatureColumns, TrainingRows, outcome
from churn.settings import (
    CutoffSchedule,
    EventLabelSettings,
    FeatureSettings,
    SparkSettings,
    TrainSettings,
)
from tests.test_features_reference import CUTOFFS, NO_EVENTS, SPECS, _edge_cases

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import (
    parquet_dataframe,
    scoped_session,
    spark_dataframe,
    spark_query,
    spark_session,
    spark_sql,
)
from churn.modeling.spark_train import (
    BASE_MARGIN_COLUMN,
    ORDER_COLUMN,
    parquet_training_rows,
    spark_booster,
    spark_fit_model,
    training_frame,
)
from churn.scoring.spark_scoring import spark_champion, spark_probabilities
from churn.tracking.pyfunc import PROBABILITY_COLUMN
from churn.tracking.registry import CHAMPION, load_champion
from churn.tracking.runs import log_training_run
from churn.tracking.store import connect, ensure_experiment, tracking_uri
from tests._project import PIPELINE, churn, make_project, run_stages, write_params
from tests._project import params as project_params
from tests.test_tracking import CATEGORIES
from tests.test_tracking import customers as scored_customers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import synthetic_events

pytestmark = pytest.mark.slow

TOLERANCE = 1e-9
SPLITS = ("train", "valid", "test")
ARROW_BATCH = "spark.sql.execution.arrow.maxRecordsPerBatch"
CUSTOMER_SPEC = FeatureSpec(
    settings=FeatureSettings(
        windows_days=[30, 90],
        trend_window_days=30,
        event_types=["purchase", "return", "visit"],
        return_event_types=["return"],
        categorical_attributes=["plan"],
    ),
    activity_event_types=("purchase",),
    event_attributes=("channel",),
    customer_attributes=("age", "plan"),
    has_signup_date=True,
)


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    spark = spark_session(SparkSettings(master="local[2]", shuffle_partitions=2), env={})
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def run_spark(session: Any) -> SqlRunner:
    return spark_query(session)


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    synthetic = synthetic_events(6_000, seed=5, events_per_customer=20, missing_order_fraction=0.1)
    both = pd.concat([synthetic, _edge_cases()], ignore_index=True)
    return both.astype({"amount": "float64", "quantity": "float64"})


@pytest.fixture(scope="module")
def customers(events: pd.DataFrame) -> pd.DataFrame:
    """Attributes and signup dates, with gaps: some customers have none at all."""
    ids = sorted(events["customer_id"].unique())[::2]
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": pd.to_datetime("2022-06-01")
            + pd.to_timedelta(np.arange(n) * 3, unit="D"),
            "age": np.where(np.arange(n) % 5 == 0, np.nan, 20.0 + np.arange(n) % 50),
            "plan": [None if i % 7 == 0 else ("basic", "pro")[i % 2] for i in range(n)],
        }
    ).astype({"signup_date": "datetime64[us]"})


@pytest.fixture(scope="module")
def pairs(events: pd.DataFrame) -> pd.DataFrame:
    customers = [*events["customer_id"].unique(), NO_EVENTS]
    cutoffs = pd.to_datetime(list(CUTOFFS)).astype("datetime64[us]")
    return pd.DataFrame(
        [(c, k) for k in cutoffs for c in customers], columns=["customer_id", "cutoff"]
    )


def assert_same_frame(spark: pd.DataFrame, duck: pd.DataFrame) -> float:
    """Same columns, dtypes and rows in the same order; numbers within 1e-9, missing values in
    the same places. Returns the largest absolute difference of a numeric column."""
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.to_dict() == duck.dtypes.to_dict()
    assert len(spark) == len(duck)
    worst = 0.0
    for column in duck.columns:
        got, want = spark[column], duck[column]
        if pd.api.types.is_float_dtype(want):
            np.testing.assert_allclose(
                got, want, rtol=0, atol=TOLERANCE, equal_nan=True, err_msg=column
            )
            both = want.notna()
            worst = max(worst, float((got[both] - want[both]).abs().max() or 0.0))
        else:
            same = (got == want).fillna(False) | (got.isna() & want.isna())
            assert bool(same.all()), f"{column}: {duck.loc[~same, column].head().tolist()}"
    return worst


@pytest.mark.parametrize(
    "spec",
    [CUSTOMER_SPEC, SPECS["short_windows_visits_count"]],
    ids=["attributes_and_signup", "visits_count"],
)
def test_spark_features_equal_duckdb_features(
    spec: FeatureSpec,
    run_spark: SqlRunner,
    events: pd.DataFrame,
    pairs: pd.DataFrame,
    customers: pd.DataFrame,
) -> None:
    table = customers if spec.customer_attributes or spec.has_signup_date else None
    duck = build_features(events, pairs, spec, table)
    spark = build_features(events, pairs, spec, table, run_sql=run_spark)

    worst = assert_same_frame(spark, duck)
    assert len(duck) == len(pairs) and len(feature_catalogue(spec)) == duck.shape[1] - 2
    print(f"features: {len(duck)} rows x {duck.shape[1]} columns equal; max |diff| {worst:.3g}")


def test_spark_features_with_measures_equal_duckdb_features(
    run_spark: SqlRunner, events: pd.DataFrame, pairs: pd.DataFrame
) -> None:
    """Numbers each event holds (a usage log's logins, minutes), some missing: the same sums,
    ratios and trends on Spark."""
    rng = np.random.default_rng(8)
    minutes = rng.gamma(2.0, 15.0, len(events))
    with_measures = events.assign(
        logins=rng.poisson(3, len(events)).astype(float),
        **{"minutes played": np.where(rng.uniform(size=len(events)) < 0.2, np.nan, minutes)},
    )
    spec = dataclasses.replace(
        SPECS["short_windows_visits_count"], event_measures=("logins", "minutes played")
    )
    duck = build_features(with_measures, pairs, spec)
    spark = build_features(with_measures, pairs, spec, run_sql=run_spark)
    assert_same_frame(spark, duck)
    assert duck["minutes_played_28d"].gt(0).sum() > 100  # customers active at a cutoff


def label_settings(**overrides: object) -> EventLabelSettings:
    base: dict[str, object] = {
        "activity_event_types": ["purchase"],
        "horizon_days": 60,
        "train_cutoffs": CutoffSchedule(start="2023-02-01", end="2023-08-01", every_months=2),
        "test_cutoff": "2023-10-01",
    }
    return EventLabelSettings.model_validate({**base, **overrides})


@pytest.mark.parametrize(
    "settings",
    [
        label_settings(max_inactive_days=90),
        label_settings(churn_definition="either", activity_event_types=["purchase", "visit"]),
    ],
    ids=["inactivity_max_inactive", "either_with_churn_events"],
)
def test_spark_labels_equal_duckdb_labels(
    settings: EventLabelSettings, run_spark: SqlRunner, events: pd.DataFrame
) -> None:
    cutoffs = cutoff_table(settings, observed_until(events))
    churns = None
    if settings.churn_definition != "inactivity":
        last = events.groupby("customer_id")["ts"].max().iloc[::3]
        churns = pd.DataFrame(
            {"customer_id": last.index.astype(object), "ts": last + pd.Timedelta(days=5)}
        ).reset_index(drop=True)
    duck = build_labels(events, cutoffs, settings, churns)
    spark = build_labels(events, cutoffs, settings, churns, run_sql=run_spark)

    assert_same_frame(spark, duck)
    assert duck["churned"].notna().any() and duck["churned"].isna().any()
    print(f"labels: {len(duck)} rows x {duck.shape[1]} columns equal")


def test_the_engine_setting_picks_spark(session: Any, events: pd.DataFrame) -> None:
    """``features.engine: spark`` runs on the process's Spark session (here the module's)."""
    settings = label_settings()
    cutoffs = cutoff_table(settings, observed_until(events))
    run = sql_runner(FeatureSettings(engine="spark"))
    spark = build_labels(events, cutoffs, settings, run_sql=run)
    assert_same_frame(spark, build_labels(events, cutoffs, settings))


def messy_parquet(path: Path) -> pd.DataFrame:
    """A parquet file of every column type a pandas export gives, with gaps: timestamps naive
    (micro- and nanosecond, before 1970 too), in UTC and in another zone, dates, categories,
    nullable booleans and integers, an all-missing column, and names needing quotes."""
    stamps = ["2024-01-01 23:30:00.000001", "2024-03-31 01:00", None, "1969-12-31 23:59:59.9999995"]
    naive = pd.to_datetime(stamps, format="ISO8601")
    frame = pd.DataFrame(
        {
            "customer_id": ["a", None, "c", "d"],
            "plan": pd.Categorical(["x", "y", None, "x"]),
            "ts": naive.astype("datetime64[us]"),
            "ts_ns": naive.astype("datetime64[ns]"),
            "ts_utc": naive.tz_localize("UTC"),
            "ts_zoned": naive.tz_localize("America/New_York").astype(
                "datetime64[us, America/New_York]"
            ),
            "day": [dt.date(2024, 1, 1), None, dt.date(2024, 2, 1), dt.date(1969, 3, 1)],
            "nothing": [None] * 4,
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "amount": [1.5, np.nan, 2.0, -3.0],
            'odd `name" here': [1, 2, 3, 4],
        }
    )
    frame.to_parquet(path, index=False)
    return frame


# pyarrow 17+ converts a frame's zoned timestamps through Series.values, which pandas 3.1
# deprecates; only the reference (the frame handed to Spark) has such columns
@pytest.mark.filterwarnings("ignore:Series.values returning an ndarray that drops timezone")
def test_a_parquet_table_is_read_by_spark_typed_as_a_frame_would_be(
    session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``spark.read.parquet`` gives the types and values the frame read by pandas gives through
    Arrow, and the query never reads the file into the driver's pandas."""
    path = tmp_path / "events.parquet"
    frame = messy_parquet(path)
    scoped = session.newSession()
    scoped.conf.set("spark.sql.session.timeZone", "UTC")
    scoped.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    via_pandas = spark_dataframe(scoped, pd.read_parquet(path)).toArrow()

    direct = parquet_dataframe(scoped, path).toArrow()
    assert direct.schema == via_pandas.schema
    assert direct.equals(via_pandas), [
        c for c in direct.column_names if not direct[c].equals(via_pandas[c])
    ]

    def no_pandas(*args: object, **kwargs: object) -> None:
        raise AssertionError("the driver read the parquet file into pandas")

    monkeypatch.setattr(pd, "read_parquet", no_pandas)
    sql = "SELECT COUNT(*) AS n, MIN(ts) AS first, MAX(ts_ns) AS last FROM events"
    out = spark_query(session)({"events": ParquetTable(path)}, sql).to_pandas()
    assert out["n"].tolist() == [len(frame)]
    assert out["first"].iloc[0] == pd.Timestamp("1969-12-31 23:59:59.999999", tz="UTC")
    assert out["last"].iloc[0] == pd.Timestamp("2024-03-31 01:00", tz="UTC")


def registered_champion(client: MlflowClient, project: Path) -> str:
    """A champion of 40 trees with a Platt calibrator, on numeric and categorical features."""
    frame, y = scored_customers(400, seed=3)
    numeric = ("recency", "weak", "noise")
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": 0},
        xgb.DMatrix(design_matrix(frame, numeric, CATEGORIES), label=y, enable_categorical=True),
        num_boost_round=40,
    )
    model = ChurnModel(booster, Calibrator("platt", (0.9,), (-0.1,)), numeric, CATEGORIES)
    model.save(project / "model")
    registered = log_training_run(
        client,
        experiment=ensure_experiment(client, project, "spark"),
        model_dir=project / "model",
        params={},
        metrics={},
        artifacts=[],
        lineage={},
        input_example=frame.head(3),
        registered_model_name="churn-spark",
    )
    client.set_registered_model_alias("churn-spark", CHAMPION, registered.version)
    return registered.version


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_the_champion_as_a_spark_udf_gives_the_pandas_probabilities(
    session: Any, tmp_path: Path
) -> None:
    client = connect(tracking_uri(tmp_path, {}))
    version = registered_champion(client, tmp_path)
    features, _ = scored_customers(300, seed=4)
    features = features.reset_index().astype({"plan": object})
    features.loc[::7, "weak"] = np.nan
    features.loc[::5, "plan"] = None

    pyfunc, _ = load_champion(client, "churn-spark")
    expected = pyfunc.predict(features)[PROBABILITY_COLUMN].to_numpy()
    champion = spark_champion(session, client, "churn-spark")
    scored = spark_probabilities(spark_dataframe(session, features), champion)
    got = scored.toArrow().to_pandas()  # toPandas() fails on pandas 3 in pyspark 4.3

    assert champion.version == version
    assert got["customer_id"].tolist() == features["customer_id"].tolist()
    assert len(np.unique(expected)) > 20, "a model that tells customers apart"
    np.testing.assert_allclose(got[PROBABILITY_COLUMN], expected, rtol=0, atol=TOLERANCE)
    worst = float(np.abs(got[PROBABILITY_COLUMN] - expected).max())
    print(f"spark_udf: {len(got)} probabilities equal; max |diff| {worst:.3g}")


def test_the_booster_trained_on_spark_is_the_pandas_one(session: Any) -> None:
    """One worker, the same rows, no row or column sampling: the same trees, the same stop."""
    rng = np.random.default_rng(8)
    n = 1_500
    rows = pd.DataFrame(
        {
            "recency": rng.uniform(0, 1, n),
            "spend": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.gamma(2.0, 10.0, n)),
            "noise": rng.normal(size=n),
            "split": rng.choice(["train", "valid", "test"], n, p=[0.6, 0.25, 0.15]),
        }
    )
    rows["churned"] = (rows["recency"] + rng.normal(0, 0.4, n) > 0.6).astype("boolean")
    columns = FeatureColumns(numeric=("recency", "spend", "noise"), categorical=())
    settings = TrainSettings(subsample=1.0, colsample_bytree=1.0, max_rounds=300)
    params = booster_params(settings, outcome(rows[rows["split"] == "train"]))

    train, valid = rows[rows["split"] == "train"], rows[rows["split"] == "valid"]
    expected, _, expected_best, expected_loss = fit_booster(train, valid, columns, params, settings)
    booster, best, loss = spark_booster(
        spark_dataframe(session, rows), columns.numeric, params, settings
    )

    assert best == expected_best and 5 < best < settings.max_rounds - 1
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    matrix = xgb.DMatrix(rows[list(columns.numeric)])
    np.testing.assert_allclose(
        booster.predict(matrix), expected.predict(matrix), rtol=0, atol=TOLERANCE
    )


def test_spark_keys_customers_without_moving_them_to_one_partition(session: Any) -> None:
    """DuckDB keeps its integer key; on Spark customer_id replaces it, so no window without
    PARTITION BY gathers every customer in one task (only one-row global MIN/MAX remain)."""
    duck_sql = features_sql(CUSTOMER_SPEC)
    spark_text = spark_sql(duck_sql)
    assert "ROW_NUMBER() OVER (ORDER BY customer_id)" in duck_sql
    assert "ROW_NUMBER" not in spark_text.upper()

    scoped = session.newSession()
    tiny = pd.DataFrame({"customer_id": ["a"], "cutoff_day": [19_500]})
    for name, frame in {"pairs": tiny, "customers": tiny, "events": tiny}.items():
        spark_dataframe(scoped, frame).createOrReplaceTempView(name)
    columns = {
        "events": "customer_id, TIMESTAMP '2023-01-01' AS ts, 1.0D AS amount, 1.0D AS quantity, "
        "'purchase' AS event_type, 'o' AS order_id, 'p' AS product_id, 'web' AS channel",
        "customers": "customer_id, TIMESTAMP '2022-01-01' AS signup_date, 1.0D AS age, "
        "'pro' AS plan",
    }
    for name, select in columns.items():
        scoped.sql(f"SELECT {select} FROM pairs").createOrReplaceTempView(name)
    plan = scoped.sql(spark_text)._jdf.queryExecution().executedPlan().toString().splitlines()
    gathered = [i for i, line in enumerate(plan) if "Exchange SinglePartition" in line]
    assert gathered, "expected the global MIN/MAX of the calendar"
    assert all("HashAggregate(keys=[]" in plan[i + 1] for i in gathered), "a one-partition step"
    assert not any("row_number()" in line for line in plan)


def labelled_frame(n: int, seed: int) -> pd.DataFrame:
    """Rows of a training table: numeric features (with gaps), a six-valued categorical (with
    gaps), a non-negative score to boost from, and an outcome depending on all of them."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro", "team", "edu", "trial"], n).astype(object)
    plan[rng.uniform(size=n) < 0.1] = None
    rows = pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "recency": rng.uniform(0, 1, n),
            "spend": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.gamma(2.0, 10.0, n)),
            "expected": rng.gamma(1.5, 1.0, n),
            "noise": rng.normal(size=n),
            "plan": plan,
            "split": rng.choice(["train", "valid", "test"], n, p=[0.6, 0.25, 0.15]),
        }
    )
    risky = pd.Series(plan).isin(["trial", "edu"]).to_numpy()
    signal = rows["recency"] - 0.2 * np.log(rows["expected"] + 0.01) + 0.5 * risky
    rows["churned"] = (signal + rng.normal(0, 0.4, n) > 0.8).astype("boolean")
    return rows


def test_the_model_trained_on_spark_is_the_local_one(session: Any, tmp_path: Path) -> None:
    """``train.engine: spark``: with one worker the same trees (row and column sampling
    included), the same base margin, calibrator and metadata, so the same probabilities."""
    rows = labelled_frame(2_000, seed=11)
    train, valid, test = (rows[rows["split"] == s].reset_index(drop=True) for s in SPLITS)
    columns = FeatureColumns(
        numeric=("recency", "spend", "expected", "noise"), categorical=("plan",)
    )
    settings = TrainSettings(max_rounds=300, boost_from=["expected"], calibration="isotonic")

    local = fit_model(train, valid, columns, settings, metadata={"pipeline": "t"})
    started = time.perf_counter()
    # small Arrow batches, so some hold only training rows and others only validation rows,
    # as in a real table where the validation cutoff's rows come last
    session.conf.set(ARROW_BATCH, "300")
    try:
        spark = spark_fit_model(
            session, train, valid, columns, settings, metadata={"pipeline": "t"}
        )
    finally:
        session.conf.unset(ARROW_BATCH)
    seconds = time.perf_counter() - started

    assert spark.best_iteration == local.best_iteration and 5 < local.best_iteration < 299
    assert spark.valid_logloss == pytest.approx(local.valid_logloss, rel=1e-12)
    assert spark.params == local.params
    assert spark.model.categories == local.model.categories
    assert spark.model.base_margin == local.model.base_margin
    assert spark.model.calibrator == local.model.calibrator
    p_local, p_spark = local.model.predict_proba(test), spark.model.predict_proba(test)
    assert len(np.unique(p_local)) > 10
    np.testing.assert_allclose(p_spark, p_local, rtol=0, atol=TOLERANCE)

    local.model.save(tmp_path / "local")
    spark.model.save(tmp_path / "spark")
    reloaded = ChurnModel.load(tmp_path / "spark")
    np.testing.assert_allclose(reloaded.predict_proba(test), p_local, rtol=0, atol=TOLERANCE)
    assert (tmp_path / "spark/model.json").read_text() == (
        tmp_path / "local/model.json"
    ).read_text()
    worst = float(np.abs(p_spark - p_local).max())
    print(
        f"train.engine spark: {len(train)} training rows, {spark.best_iteration + 1} trees in "
        f"{seconds:.1f} s; {len(test)} test probabilities, max |diff| {worst:.3g}"
    )


def labelled_files(rows: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """``rows`` (from :func:`labelled_frame`) as a ``labels.parquet`` in their order and a
    ``features.parquet`` in another order, as the stages write them."""
    rows = rows.assign(cutoff=pd.Timestamp("2024-03-01"))
    labels, features = folder / "labels.parquet", folder / "features.parquet"
    rows[["customer_id", "cutoff", "churned", "split"]].to_parquet(labels, index=False)
    shuffled = rows.drop(columns=["churned", "split"]).sample(frac=1.0, random_state=3)
    shuffled.to_parquet(features, index=False, row_group_size=400)
    return labels, features


def test_the_model_trained_on_spark_from_the_parquet_files_is_the_local_one(
    session: Any, tmp_path: Path
) -> None:
    """``churn train`` on Spark: the executors read the labelled rows from the files (splits
    interleaved in the labels, features in another order, several row groups and Arrow
    batches), and xgboost grows the trees it grows locally on the same rows."""
    rows = labelled_frame(2_000, seed=12)
    train, valid, test = (rows[rows["split"] == s].reset_index(drop=True) for s in SPLITS)
    labels, features = labelled_files(rows, tmp_path)
    columns = FeatureColumns(
        numeric=("recency", "spend", "expected", "noise"), categorical=("plan",)
    )
    settings = TrainSettings(max_rounds=300, boost_from=["expected"], calibration="isotonic")
    local = fit_model(train, valid, columns, settings, metadata={"pipeline": "t"})

    scoped = scoped_session(session)
    session.conf.set(ARROW_BATCH, "300")
    try:
        spark = spark_fit_model(
            session,
            TrainingRows(train.copy(), reread=lambda: train),
            valid,
            columns,
            settings,
            metadata={"pipeline": "t"},
            spark_rows=partial(parquet_training_rows, scoped, (labels, features), columns),
        )
    finally:
        session.conf.unset(ARROW_BATCH)

    assert spark.best_iteration == local.best_iteration and 5 < local.best_iteration < 299
    assert spark.model.base_margin == local.model.base_margin
    assert spark.model.calibrator == local.model.calibrator
    local.model.save(tmp_path / "local")
    spark.model.save(tmp_path / "spark")
    assert (tmp_path / "spark/model.json").read_text() == (
        tmp_path / "local/model.json"
    ).read_text()
    p_local, p_spark = local.model.predict_proba(test), spark.model.predict_proba(test)
    np.testing.assert_allclose(p_spark, p_local, rtol=0, atol=TOLERANCE)


def test_the_executors_build_the_driver_s_training_frame_from_the_files(
    session: Any, tmp_path: Path
) -> None:
    rows = labelled_frame(300, seed=5)
    labels, features = labelled_files(rows, tmp_path)
    columns = FeatureColumns(numeric=("recency", "spend"), categorical=("plan",))
    cats = {"plan": ("basic", "pro", "trial")}
    base = BaseMargin(("expected",), (0.5,), -1.0)

    built = (
        parquet_training_rows(scoped_session(session), (labels, features), columns, cats, base)
        .toArrow()
        .to_pandas()
        .sort_values(ORDER_COLUMN)
    )
    used = rows[rows["split"] != "test"]
    want = training_frame(used, columns, cats, base)
    np.testing.assert_array_equal(built[ORDER_COLUMN], np.flatnonzero(rows["split"] != "test"))
    assert list(built.columns) == [*want.columns, ORDER_COLUMN]
    pd.testing.assert_frame_equal(
        built.drop(columns=ORDER_COLUMN).reset_index(drop=True), want, check_exact=True
    )


def test_spark_training_rows_hold_category_codes_and_the_base_margin() -> None:
    rows = labelled_frame(50, seed=2)
    columns = FeatureColumns(numeric=("recency",), categorical=("plan",))
    cats = {"plan": ("basic", "pro")}
    base = BaseMargin(("expected",), (0.5,), -1.0)
    frame = training_frame(rows, columns, cats, base)

    assert list(frame.columns) == ["recency", "plan", "churned", "split", BASE_MARGIN_COLUMN]
    want = rows["plan"].map({"basic": 0.0, "pro": 1.0})  # others and missing: no category
    np.testing.assert_array_equal(frame["plan"].to_numpy(), want.to_numpy(dtype=float))
    np.testing.assert_allclose(frame[BASE_MARGIN_COLUMN], base(rows))
    assert frame["churned"].dtype == bool


@pytest.fixture(scope="module")
def shop(session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny shop project up to features, with MLflow's store inside it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        root = make_project(tmp_path_factory.mktemp("spark_shop"))
        run_stages(root, ("ingest", "labels", "features"))
        yield root


def with_engines(root: Path, train: str, scoring: str) -> None:
    values = project_params()
    values["train"] = {**values["train"], "engine": train}
    values["scoring"] = {"engine": scoring}
    write_params(root, values)


def scores(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "data/scored" / PIPELINE / "scores.parquet")


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_churn_train_and_score_on_spark_give_the_local_outputs(shop: Path) -> None:
    """``churn train`` with train.engine spark writes the model and metrics the local engine
    writes; ``churn score`` with scoring.engine spark writes the same scores.parquet."""
    model, metrics = shop / "models" / PIPELINE, shop / "reports" / PIPELINE / "metrics.json"
    timings = {}
    for engine in ("local", "spark"):
        with_engines(shop, engine, "local")
        started = time.perf_counter()
        code, out = churn(shop, "train")
        timings[f"train {engine}"] = time.perf_counter() - started
        assert code == 0, out
        if engine == "local":
            local_model, local_json = ChurnModel.load(model), (model / "model.json").read_bytes()
            local_metrics = json.loads(metrics.read_text())
    spark_model = ChurnModel.load(model)
    assert (model / "model.json").read_bytes() == local_json
    assert json.loads(metrics.read_text()) == local_metrics

    code, out = churn(shop, "register")
    assert code == 0, out
    got = {}
    for engine in ("local", "spark"):
        with_engines(shop, "spark", engine)
        started = time.perf_counter()
        code, out = churn(shop, "score")
        timings[f"score {engine}"] = time.perf_counter() - started
        assert code == 0, out
        got[engine] = scores(shop)
    local, spark = got["local"], got["spark"]
    assert len(local) > 50 and local["churn_probability"].nunique() > 10
    np.testing.assert_allclose(
        spark["churn_probability"], local["churn_probability"], rtol=0, atol=TOLERANCE
    )
    pd.testing.assert_frame_equal(spark.drop(columns="scored_at"), local.drop(columns="scored_at"))
    scored = pd.read_parquet(shop / "data/scored" / PIPELINE / "features.parquet")
    train_diff = np.abs(spark_model.predict_proba(scored) - local_model.predict_proba(scored)).max()
    score_diff = float(np.abs(spark["churn_probability"] - local["churn_probability"]).max())
    print(
        f"CLI: model max |diff| {train_diff:.3g}, scores max |diff| {score_diff:.3g} over "
        f"{len(local)} customers; "
        + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    )


def test_spark_scoring_refuses_a_model_folder(shop: Path) -> None:
    with_engines(shop, "local", "spark")
    code, out = churn(shop, "score", "--model", str(shop / "models" / PIPELINE))
    assert code != 0
    assert "scoring.engine 'spark'" in out and "scoring.engine: local" in out


def test_with_a_driver_sample_the_booster_on_spark_still_learns_from_every_row(
    shop: Path,
) -> None:
    """``train.driver_customers`` below the shop's customers: the driver reads the sample's
    rows for everything around the booster, while the executors read every row, so the trees
    are those the local engine grows on all of them."""
    model, metrics = shop / "models" / PIPELINE, shop / "reports" / PIPELINE / "metrics.json"
    with_engines(shop, "local", "local")
    code, out = churn(shop, "train")
    assert code == 0, out
    every_row = ChurnModel.load(model)
    n_train = json.loads(metrics.read_text())["training"]["n_train"]

    values = project_params()
    values["features"] = {**values["features"], "engine": "spark"}
    values["train"] = {**values["train"], "engine": "spark", "driver_customers": 100}
    write_params(shop, values)
    code, out = churn(shop, "train")
    assert code == 0, out
    sampled = ChurnModel.load(model)
    training = json.loads(metrics.read_text())["training"]
    assert training["driver_sample"]["customers"] == 100
    assert training["n_train"] < n_train  # the driver read fewer rows ...
    scored = pd.read_parquet(shop / "data/interim" / PIPELINE / "features.parquet")
    np.testing.assert_allclose(  # ... and the booster learnt from all of them
        sampled.margin(scored), every_row.margin(scored), rtol=0, atol=1e-6
    )
    assert sampled.metadata["best_iteration"] == every_row.metadata["best_iteration"]
