"""Stage ``features``: canonical tables + labels -> ``features.parquet`` and the catalogue.

The rows are streamed from the engine to the file one row group at a time, so the table is
never held whole (the file's bytes are those of writing it whole). With ``features.engine:
spark`` the table is built and written by Spark's executors (an events pipeline's by
:mod:`churn.engines.spark_features`, a snapshot's by :meth:`SnapshotKind.spark_features`): the
driver reads only the files' footers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pandas as pd

from churn import io
from churn.engines import ParquetTable
from churn.features import catalogue_records
from churn.io.canonical import CanonicalFiles
from churn.io.files import parquet_empty_frame, read_labels
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.kinds.events import EventsKind
from churn.kinds.snapshot import SnapshotKind
from churn.settings import PipelineSettings

PARAMS: tuple[str, ...] = ("engine", "data", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")

PART_ROWS = 128 * 1024
"""Feature rows handed from the engine to pandas at a time: an eighth of a row group, which
the writer assembles in Arrow (the file's bytes do not depend on it)."""


def run(settings: PipelineSettings, paths: PipelinePaths) -> None:
    """Build features for every labelled (customer, cutoff) pair; write them and the catalogue."""
    kind = kind_of(settings)
    if settings.features.engine == "spark" and isinstance(kind, EventsKind | SnapshotKind):
        _write_on_spark(settings, paths, kind)
        return
    labels = read_labels(paths.labels)
    tables = CanonicalFiles(paths, settings.features)
    parts = kind.feature_parts(tables, labels, rows=PART_ROWS)
    columns = io.write_parquet_parts(_first_logged(parts), paths.features)
    records = kind.catalogue(columns)
    io.write_json(catalogue_records(records), paths.catalogue)
    log.info("wrote %s: %s features", paths.features, len(records))


def _first_logged(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``parts`` as they are, logging when the first arrives: where the engine's query ends
    and the stream to the file begins."""
    for number, part in enumerate(parts):
        if number == 0:
            log.info("the engine's result: streaming it to the file, %s rows at a time", PART_ROWS)
        yield part


def _write_on_spark(
    settings: PipelineSettings, paths: PipelinePaths, kind: EventsKind | SnapshotKind
) -> None:
    from churn.engines.spark import scoped_session, spark_session, spark_view  # noqa: PLC0415
    from churn.engines.spark_features import write_spark_parquet  # noqa: PLC0415

    spark = settings.features.spark
    io.require_parquet(paths.labels)
    scoped = scoped_session(spark_session(spark), spark)
    if isinstance(kind, SnapshotKind):
        io.require_parquet(paths.table("snapshot"))
        snapshot = ParquetTable(paths.table("snapshot"))
        pairs = spark_view(scoped, ParquetTable(paths.labels))
        table = kind.spark_features(scoped, snapshot, pairs)
    else:
        customers = paths.table("customers")
        has_customers = customers.is_file()
        table = kind.spark_features(
            scoped,
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
