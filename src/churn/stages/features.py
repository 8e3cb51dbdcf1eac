"""Stage ``features``: canonical tables + labels -> ``features.parquet`` and the catalogue.

With ``features.engine: spark`` an events pipeline's table is built and written by Spark's
executors (:mod:`churn.engines.spark_features`): the driver reads only the files' footers."""

from __future__ import annotations

import logging

import pandas as pd

from churn import io
from churn.engines import ParquetTable
from churn.features import catalogue_records
from churn.io.canonical import CanonicalFiles
from churn.io.files import parquet_empty_frame, read_labels
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.kinds.events import EventsKind
from churn.settings import PipelineSettings

PARAMS: tuple[str, ...] = ("data", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")


def run(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame | None:
    """Build features for every labelled (customer, cutoff) pair; write them and the catalogue.
    Returns the table, or None when Spark wrote it (it is never in this process)."""
    kind = kind_of(settings)
    if settings.features.engine == "spark" and isinstance(kind, EventsKind):
        _write_on_spark(settings, paths, kind)
        return None
    labels = read_labels(paths.labels)
    out = kind.features(CanonicalFiles(paths, settings.features), labels)
    records = kind.catalogue(out)
    io.write_parquet(out, paths.features)
    io.write_json(catalogue_records(records), paths.catalogue)
    log.info("wrote %s: %s rows x %s features", paths.features, f"{len(out):,}", len(records))
    return out


def _write_on_spark(settings: PipelineSettings, paths: PipelinePaths, kind: EventsKind) -> None:
    from churn.engines.spark import scoped_session, spark_session  # noqa: PLC0415 - optional
    from churn.engines.spark_features import write_spark_parquet  # noqa: PLC0415

    spark = settings.features.spark
    io.require_parquet(paths.labels)
    customers = paths.table("customers")
    has_customers = customers.is_file()
    table = kind.spark_features(
        scoped_session(spark_session(spark), spark),
        CanonicalFiles(paths, settings.features).events(),
        ParquetTable(paths.labels),
        ParquetTable(customers) if has_customers else None,
        parquet_empty_frame(customers) if has_customers else None,
    )
    write_spark_parquet(table, paths.features)
    records = kind.catalogue(parquet_empty_frame(paths.features))
    io.write_json(catalogue_records(records), paths.catalogue)
    rows = io.require_parquet(paths.features)
    log.info("Spark wrote %s: %s rows x %s features", paths.features, f"{rows:,}", len(records))
