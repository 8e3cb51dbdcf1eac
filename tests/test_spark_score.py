"""``churn score`` on Spark (``scoring.engine: spark`` with ``features.engine: spark``): the
population's features built by the executors, and scoring that gives the local path's
numbers. On a local Spark (``local[2]``) started once for this module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churn.engines import ParquetTable
from churn.io.canonical import CanonicalFiles
from churn.io.files import parquet_empty_frame
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.kinds.events import EventsKind
from churn.settings import PipelineSettings, SparkSettings, load_settings

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import scoped_session, spark_session
from tests._driver_rows import driver_rows
from tests._project import PIPELINE, make_project, run_stages, write_params
from tests._project import params as project_params
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
