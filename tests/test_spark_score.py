"""``churn score`` on Spark (``scoring.engine: spark`` with ``features.engine: spark``): the
population's features built by the executors, and scoring that gives the local path's
numbers. On a local Spark (``local[2]``) started once for this module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.engines import ParquetTable
from churn.io.canonical import CanonicalFiles
from churn.io.files import parquet_empty_frame
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.kinds.events import EventsKind
from churn.modeling.model import ChurnModel
from churn.scoring.explain import Reference, shap_contributions, top_reasons, with_no_single_driver
from churn.scoring.reasons import ReasonCatalogue, load_catalogue, resolve
from churn.settings import PipelineSettings, ScoringSettings, SparkSettings, load_settings

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import scoped_session, spark_dataframe, spark_session
from churn.scoring.spark_rows import customer_rows, reason_columns
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
    return model, resolve(load_catalogue(), CATALOGUE, model.feature_names), reference


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
