"""``churn score`` on Spark (``scoring.engine: spark`` with ``features.engine: spark``): the
population's features built by the executors, and scoring that gives the local path's
numbers. On a local Spark (``local[2]``) started once for this module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn import io as churn_io
from churn.campaigns.uplift import UpliftModel, UpliftParams, fit_uplift
from churn.engines import ParquetTable
from churn.io.canonical import CanonicalFiles
from churn.io.files import parquet_empty_frame
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.kinds.events import EventsKind
from churn.modeling.model import ChurnModel
from churn.reporting.shap_figures import MAX_POINTS, _explanation, importance
from churn.scoring.explain import Reference, shap_contributions, top_reasons, with_no_single_driver
from churn.scoring.ranking import ModelIdentity, ScoreResult, score_customers
from churn.scoring.reasons import ReasonCatalogue, default_catalogue, resolve
from churn.scoring.summary import scoring_summary
from churn.settings import (
    OutreachSettings,
    PipelineSettings,
    PlaybookSettings,
    RiskTiers,
    ScoringSettings,
    SparkSettings,
    load_settings,
)

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import scoped_session, spark_dataframe, spark_session
from churn.scoring.spark_list import SparkList, spark_list
from churn.scoring.spark_output import as_local_list, write_spark_list
from churn.scoring.spark_rows import VALUE_COLUMN, customer_rows, reason_columns
from tests._driver_rows import driver_rows
from tests._project import PIPELINE, make_project, run_stages, write_params
from tests._project import params as project_params
from tests.test_scoring import CATALOGUE, FEATURES, toy_features, toy_model
from tests.test_spark import assert_same_frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    spark = spark_session(SparkSettings(master="local[2]", shuffle_partitions=3), env={})
    yield spark
    spark.stop()


def ingested(root: Path) -> tuple[PipelineSettings, PipelinePaths]:
    """The test shop with BG/NBD and the calendar features on, ingested."""
    make_project(root)
    values = project_params()
    values["features"] = {**values["features"], "bgnbd": True, "calendar": True}
    write_params(root, values)
    run_stages(root, ("ingest",))
    paths = PipelinePaths(root, PIPELINE)
    return load_settings(root, PIPELINE), paths


@pytest.mark.parametrize("when", [None, "2024-02-10"], ids=["today", "a_past_day"])
def test_the_population_on_spark_is_the_local_one_and_stays_in_the_executors(
    session: Any, tmp_path: Path, when: str | None
) -> None:
    settings, paths = ingested(tmp_path)
    kind = kind_of(settings)
    assert isinstance(kind, EventsKind)
    tables = CanonicalFiles(paths, settings.features)
    cutoff = None if when is None else pd.Timestamp(when).date()
    local = kind.population(tables, cutoff)
    on_spark = settings.model_copy(
        update={"features": settings.features.model_copy(update={"engine": "spark"})}
    )
    kind = kind_of(on_spark)
    assert isinstance(kind, EventsKind)
    customers = paths.table("customers")
    with driver_rows(at_most=20) as seen:
        day, features = kind.spark_population(
            scoped_session(session),
            tables,
            cutoff,
            churn_events=None,
            customers=ParquetTable(customers) if customers.is_file() else None,
            customer_columns=parquet_empty_frame(customers) if customers.is_file() else None,
        )
    assert day == local.cutoff
    # the events' span (one row, and the distinct event types), the BG/NBD model fitted at
    # the day (one row)
    assert seen.calls[-1] == ("collect", 1)
    assert seen.total <= 1 + 10 + 1
    # read back by the test: Arrow's strings as pandas' object, as the local frame holds ids
    spark = features.toArrow().to_pandas().astype({"customer_id": object})
    assert len(spark) > 50
    assert_same_frame(spark, local.features)

    with driver_rows(at_most=2) as seen:
        valued = kind.spark_valued(scoped_session(session), tables, features, day)
    assert seen.calls == [("collect", 1)], "the value model, fitted in one task"
    value = valued.select("customer_id", VALUE_COLUMN).toArrow().to_pandas()
    got = value.set_index("customer_id")[VALUE_COLUMN].reindex(local.features["customer_id"])
    np.testing.assert_allclose(got.to_numpy(), local.expected_value.to_numpy(), rtol=1e-12)
    assert (local.expected_value > 0).sum() > 50


def messy_population(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The toy features of tests/test_scoring.py made messy: customers with the same features
    (ties in probability), missing numbers, a missing and an unseen country, customers with
    nothing bought (no events: zeros and gaps), ids with quotes and non-ASCII letters, rows not
    in id order."""
    frame, churned = toy_features(n, seed=seed)
    rng = np.random.default_rng(seed)
    twins = rng.choice(n, n // 5, replace=False)
    frame.iloc[twins, 2:] = frame.iloc[twins[0], 2:].to_numpy()
    frame.loc[rng.random(n) < 0.1, "days_since_last_activity"] = np.nan
    frame.loc[rng.random(n) < 0.1, "spend_total"] = np.nan
    frame.loc[rng.random(n) < 0.05, "country"] = None
    frame.loc[rng.random(n) < 0.05, "country"] = "Ísland"
    quiet = rng.random(n) < 0.1
    frame.loc[quiet, ["orders_total", "spend_total"]] = [0.0, np.nan]
    frame.loc[quiet, "days_since_last_activity"] = np.nan
    ids = frame["customer_id"].to_numpy(dtype=object)
    ids[:3] = ["o'brien", 'say "hi"', "zoë"]
    frame["customer_id"] = ids
    return frame, churned


@pytest.fixture(scope="module")
def toy() -> tuple[ChurnModel, ReasonCatalogue, Reference]:
    model = toy_model()
    frame, y = toy_features(600, seed=9)
    reference = Reference.from_labelled(frame.assign(churned=y.astype(bool)), FEATURES)
    spec = default_catalogue(CATALOGUE, model.feature_names)
    return model, resolve(spec, CATALOGUE, model.feature_names), reference


def test_the_charts_draw_the_local_customers_when_more_are_explained_than_they_show(
    session: Any, toy: tuple[ChurnModel, ReasonCatalogue, Reference], tmp_path: Path
) -> None:
    """More explained customers than MAX_POINTS: the charts' customers are the very ones the
    local charts draw, numbered by the distributed rank."""
    settings = ScoringSettings(
        outreach=OutreachSettings(priority="churn_probability", top_percent=10),
        explain="all",
    )
    frame, _ = messy_population(MAX_POINTS + 400, seed=8)
    frame = frame.sort_values("customer_id", ignore_index=True)
    local, spark, calls = local_and_spark(session, toy, frame, frame["spend_total"], settings)
    assert_same_list(local, spark, settings.n_reasons)
    wanted = _explanation(local.contributions, local.explained)
    drawn = _explanation(spark.contributions, spark.explained)
    np.testing.assert_array_equal(drawn.values, wanted.values)
    np.testing.assert_array_equal(drawn.data, wanted.data)
    assert len(spark.contributions.values) == MAX_POINTS
    assert max(rows for _, rows in calls) == MAX_POINTS


def test_each_customers_probability_and_reasons_on_spark_are_the_local_ones(
    session: Any, toy: tuple[ChurnModel, ReasonCatalogue, Reference]
) -> None:
    """:func:`customer_rows` in the executors, against the local functions on the whole
    frame: probabilities within 1e-6 (measured: equal), reasons identical."""
    model, catalogue, reference = toy
    frame, _ = messy_population(700, seed=3)
    settings = ScoringSettings(value={"method": "recurring", "charge_feature": "spend_total"})
    spark = customer_rows(
        spark_dataframe(session, frame).repartition(3),
        model,
        catalogue=catalogue,
        reference=reference,
        settings=settings,
    )
    got = spark.toArrow().to_pandas()
    got = got.set_index("customer_id").loc[frame["customer_id"]].reset_index()
    p = model.predict_proba(frame)
    assert np.abs(got["churn_probability"].to_numpy() - p).max() <= 1e-6
    assert pd.Series(p).duplicated().sum() > 50, "ties in probability"
    contributions = shap_contributions(model, frame)
    want = with_no_single_driver(top_reasons(frame, contributions, catalogue, reference))
    for column in reason_columns(3):
        same = (got[column] == want[column]).fillna(False) | (
            got[column].isna() & want[column].isna()
        )
        assert bool(same.all()), column
    np.testing.assert_array_equal(np.vstack(got["contributions"]), contributions.values)
    np.testing.assert_allclose(got["expected_value"], frame["spend_total"].fillna(0.0))
    assert got["reason_1_code"].nunique() > 2


PLAYBOOK = PlaybookSettings.model_validate(
    {
        "rules": [
            {"action": "service_call", "reasons": ["RETURNS"], "cost": 2.0, "effect": 0.3},
            {"action": "loyalty_reward", "min_value_percentile": 80, "cost": 5.0},
            {"action": "win_back_offer", "reasons": ["RECENCY"], "min_probability": 0.6},
            {"action": "re_engagement_message", "reasons": ["RECENCY", "FREQUENCY"]},
        ],
        "default_action": "feedback_request",
    }
)
WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def local_and_spark(
    session: Any,
    toy: tuple[ChurnModel, ReasonCatalogue, Reference],
    frame: pd.DataFrame,
    value: pd.Series,
    settings: ScoringSettings,
    *,
    uplift: UpliftModel | None = None,
) -> tuple[ScoreResult, SparkList, list[tuple[str, int]]]:
    """The local list of ``frame`` (its rows in customer order, as a population is) and the
    Spark list of the same rows, with what reached the driver while it was made; ``uplift``
    values its actions in both, each as ``churn score`` gives it."""
    model, catalogue, reference = toy
    identity = ModelIdentity("churn-toy", "7")
    estimates = None
    if uplift is not None:
        risk = model.predict_proba(frame) if uplift.needs_churn_probability else None
        estimates = uplift.predict(frame, risk)
    local = score_customers(
        model,
        frame,
        value,
        catalogue=catalogue,
        reference=reference,
        settings=settings,
        playbook=PLAYBOOK,
        identity=identity,
        scored_at=WHEN,
        uplift=estimates,
    )
    features = spark_dataframe(session, frame.assign(**{VALUE_COLUMN: value})).repartition(3)
    with driver_rows(at_most=MAX_POINTS + 200) as seen:
        rows = customer_rows(
            features,
            model,
            catalogue=catalogue,
            reference=reference,
            settings=settings,
            uplift=uplift,
        )
        spark = spark_list(
            rows,
            features,
            model,
            catalogue=catalogue,
            settings=settings,
            playbook=PLAYBOOK,
            identity=identity,
            scored_at=WHEN,
            uplift_actions=() if uplift is None else list(uplift.actions),
        )
    return local, spark, seen.calls


def assert_same_tree(got: Any, want: Any, where: str = "") -> None:
    """The same JSON tree (keys in the same order), numbers within 1e-12 relative: Spark adds
    up sums and means in another order than numpy."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), (where, got, want)
        for key in want:
            assert_same_tree(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12, nan_ok=True), where
    else:
        assert got == want, (where, got, want)


def assert_same_list(local: ScoreResult, spark: SparkList, n_reasons: int) -> None:
    got = as_local_list(spark.scores.toArrow().to_pandas(), n_reasons)
    want = local.scores
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    np.testing.assert_allclose(got["churn_probability"], want["churn_probability"], atol=1e-6)
    for column in want.columns:
        if column in ("churn_probability", "cutoff"):
            continue
        if pd.api.types.is_float_dtype(want[column]):
            np.testing.assert_allclose(
                got[column], want[column], rtol=1e-12, equal_nan=True, err_msg=column
            )
        else:
            same = (got[column] == want[column]).fillna(False) | (
                got[column].isna() & want[column].isna()
            )
            assert bool(same.all()), f"{column}: {want.loc[~same, column].head().tolist()}"


@pytest.mark.parametrize(
    "settings",
    [
        ScoringSettings(outreach=OutreachSettings(top_percent=20, control_percent=25)),
        ScoringSettings(
            outreach=OutreachSettings(
                priority="value_at_risk", top_k=90, top_percent=None, control_percent="auto"
            ),
            risk_tiers=RiskTiers(method="probability", high=0.6, medium=0.3),
        ),
        ScoringSettings(
            outreach=OutreachSettings(priority="churn_probability", top_percent=15),
            explain="all",
            n_reasons=2,
        ),
    ],
    ids=["expected_value_saved", "value_at_risk_top_k_auto_control", "probability_explain_all"],
)
def test_the_list_on_spark_is_the_local_list_with_only_summaries_on_the_driver(
    session: Any,
    toy: tuple[ChurnModel, ReasonCatalogue, Reference],
    settings: ScoringSettings,
    tmp_path: Path,
) -> None:
    frame, _ = messy_population(900, seed=5)
    frame = frame.sort_values("customer_id", ignore_index=True)  # a population's order
    value = frame["spend_total"].where(frame.index % 7 != 0)  # some values unknown
    local, spark, calls = local_and_spark(session, toy, frame, value, settings)
    assert_same_list(local, spark, settings.n_reasons)
    want = scoring_summary(local, "v1")
    got = {**spark.summary, "reason_catalogue": "v1"}
    assert_same_tree(got, want)
    assert_same_tree(spark.importance, importance(local.contributions, toy[1]))
    np.testing.assert_array_equal(spark.contributions.values, local.contributions.values)
    pd.testing.assert_frame_equal(
        spark.explained, local.explained.reset_index(drop=True), check_dtype=False
    )
    with driver_rows(at_most=1) as seen:
        written = write_spark_list(spark.scores, tmp_path / "spark.parquet", settings.n_reasons)
    assert (written, seen.calls) == (len(local.scores), [("collect", 1)])
    churn_io.write_parquet(local.scores, tmp_path / "local.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "spark.parquet").drop(columns=["churn_probability"]),
        pd.read_parquet(tmp_path / "local.parquet").drop(columns=["churn_probability"]),
        check_exact=False,
        rtol=1e-12,
    )
    explained = int(local.scores["reason_1_code"].notna().sum())
    # one-row aggregates, a row per stratum, action, tier and feature, and the charts' rows
    assert sum(rows for _, rows in calls) <= explained + 150, calls
    print(f"{settings.outreach.priority}: driver {calls}")


def toy_campaign(model: ChurnModel, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Past contacts of customers like :func:`messy_population`'s: a random action of three
    (service calls keep the customers with many orders) or the control group."""
    frame, _ = messy_population(n, seed=seed)
    rng = np.random.default_rng(seed)
    actions = np.array(["service_call", "loyalty_reward", "win_back_offer"], dtype=object)
    action = actions[rng.integers(0, 3, n)]
    control = rng.random(n) < 0.3
    risk = model.predict_proba(frame)
    helped = (action == "service_call") & ~control & (frame["orders_total"].to_numpy() > 4)
    churned = rng.random(n) < np.where(helped, 0.4 * risk, risk)
    outcomes = pd.DataFrame({"action": action, "control": control, "churned": churned})
    return frame[model.feature_names], outcomes.assign(risk=risk)


@pytest.mark.parametrize("learner", ["x_learner", "logit_shift"])
def test_an_uplift_models_list_on_spark_is_the_local_list(
    session: Any, toy: tuple[ChurnModel, ReasonCatalogue, Reference], learner: str
) -> None:
    """With an uplift model valuing the actions it covers (one of them through its pooled
    arm), the list made in the executors is the local list: same actions, values saved, ranks
    and control group."""
    model = toy[0]
    contacts, outcomes = toy_campaign(model, 2_000, seed=21)
    uplift = fit_uplift(
        contacts,
        outcomes["action"],
        outcomes["control"],
        outcomes["churned"],
        min_rows=450,
        actions=("re_engagement_message",),
        params=UpliftParams(n_rounds=20),
        learner=learner,
        churn_probability=outcomes["risk"].to_numpy(),
    )
    settings = ScoringSettings(outreach=OutreachSettings(top_percent=30, control_percent=20))
    frame, _ = messy_population(900, seed=5)
    frame = frame.sort_values("customer_id", ignore_index=True)
    value = frame["spend_total"].where(frame.index % 7 != 0)
    local, spark, _ = local_and_spark(session, toy, frame, value, settings, uplift=uplift)
    plain, _, _ = local_and_spark(session, toy, frame, value, settings)
    assert_same_list(local, spark, settings.n_reasons)
    assert_same_tree({**spark.summary, "reason_catalogue": "v1"}, scoring_summary(local, "v1"))
    valued = local.scores["expected_value_saved"].to_numpy()
    assert not np.allclose(valued, plain.scores["expected_value_saved"], equal_nan=True)
    assert "re_engagement_message" in uplift.actions
