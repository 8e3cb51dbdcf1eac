"""Stage ``labels``: canonical tables -> ``data/interim/<p>/labels.parquet``.

With ``features.engine: spark`` an events pipeline's labels are built and written by Spark's
executors (:mod:`churn.engines.spark_labels`), and a snapshot's with ``labels.split: hash``
(:meth:`SnapshotKind.spark_labels`): only a count per split reaches the driver."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from churn import io
from churn.engines import ParquetTable
from churn.io.canonical import CanonicalFiles
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.kinds.events import EventsKind
from churn.kinds.snapshot import SnapshotKind
from churn.settings import PipelineSettings

PARAMS: tuple[str, ...] = ("engine", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``features`` for the SQL engine."""

log = logging.getLogger("churn")


def split_counts(labels: pd.DataFrame) -> pd.DataFrame:
    """Per split, in the order the splits first appear: ``rows``, ``cutoffs`` (distinct),
    ``known`` (labelled rows) and ``churned`` (of them, churned)."""
    groups = labels.groupby("split", sort=False)
    return (
        pd.DataFrame(
            {
                "rows": groups.size(),
                "cutoffs": groups["cutoff"].nunique(),
                "known": groups["churned"].count(),
                "churned": groups["churned"].sum(),
            }
        )
        .rename_axis("split")
        .reset_index()
    )


def summary_of_counts(counts: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per split (from :func:`split_counts`): rows, cutoffs and churn rate among labelled rows."""
    out = {}
    for row in counts.to_dict("records"):
        known, churned = int(row["known"]), int(row["churned"])
        out[str(row["split"])] = {
            "rows": int(row["rows"]),
            "cutoffs": int(row["cutoffs"]),
            "churn_rate": round(churned / known, 4) if known else float("nan"),
        }
    return out


def label_summary(labels: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per split: rows, cutoffs and churn rate among labelled rows."""
    return summary_of_counts(split_counts(labels))


def run(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame | None:
    """Build point-in-time labels for every cutoff and write them. Returns them, or None when
    Spark wrote them (they are never in this process)."""
    kind = kind_of(settings)
    if settings.features.engine == "spark" and isinstance(kind, EventsKind):
        _write_on_spark(settings, paths, kind)
        return None
    if settings.features.engine == "spark" and isinstance(kind, SnapshotKind):
        if kind.labs.split == "hash":
            _write_snapshot_on_spark(settings, paths, kind)
            return None
        log.info(
            "features.engine spark: a snapshot's stratified split (labels.split: stratified) "
            "is scikit-learn's, computed in this process; labels.split: hash computes it in "
            "Spark's executors"
        )
    out = kind.labels(CanonicalFiles(paths, settings.features))
    io.write_parquet(out, paths.labels)
    log.info("wrote %s: %s rows; %s", paths.labels, f"{len(out):,}", label_summary(out))
    return out


def _write_on_spark(settings: PipelineSettings, paths: PipelinePaths, kind: EventsKind) -> None:
    from churn.engines.spark import scoped_session, spark_session  # noqa: PLC0415 - optional
    from churn.engines.spark_features import write_spark_parquet  # noqa: PLC0415
    from churn.engines.spark_labels import spark_split_counts  # noqa: PLC0415

    spark = settings.features.spark
    scoped = scoped_session(spark_session(spark), spark)
    tables = CanonicalFiles(paths, settings.features)
    churns = paths.table("churn_events")
    table, cutoffs = kind.spark_labels(
        scoped, tables, ParquetTable(churns) if churns.is_file() else None
    )
    summary: dict[str, dict[str, float]] = {}

    def check(written: Path) -> None:
        counts = spark_split_counts(scoped, written)
        kind.require_labels(tables, cutoffs, counts["split"])
        summary.update(summary_of_counts(counts))

    write_spark_parquet(table, paths.labels, check)
    rows = sum(int(s["rows"]) for s in summary.values())
    log.info("Spark wrote %s: %s rows; %s", paths.labels, f"{rows:,}", summary)


def _write_snapshot_on_spark(
    settings: PipelineSettings, paths: PipelinePaths, kind: SnapshotKind
) -> None:
    from churn.engines.spark import scoped_session, spark_session  # noqa: PLC0415 - optional
    from churn.engines.spark_features import write_spark_parquet  # noqa: PLC0415
    from churn.engines.spark_labels import spark_split_counts  # noqa: PLC0415

    spark = settings.features.spark
    scoped = scoped_session(spark_session(spark), spark)
    io.require_parquet(paths.table("snapshot"))
    table = kind.spark_labels(scoped, ParquetTable(paths.table("snapshot")))
    summary: dict[str, dict[str, float]] = {}

    def check(written: Path) -> None:
        summary.update(summary_of_counts(spark_split_counts(scoped, written)))

    write_spark_parquet(table, paths.labels, check)
    rows = sum(int(s["rows"]) for s in summary.values())
    log.info("Spark wrote %s: %s rows; %s", paths.labels, f"{rows:,}", summary)
