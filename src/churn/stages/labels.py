"""Stage ``labels``: canonical tables -> ``data/interim/<p>/labels.parquet``."""

from __future__ import annotations

import logging

import pandas as pd

from churn import io
from churn.data.event_summaries import event_span
from churn.engines import sql_runner
from churn.io.paths import PipelinePaths
from churn.labels import build_labels, cutoff_table, observed_until, snapshot_labels
from churn.settings import PipelineSettings, SnapshotLabelSettings
from churn.stages._canonical import events_table, read_canonical, require_canonical

PARAMS: tuple[str, ...] = ("labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``features`` for the SQL engine."""

log = logging.getLogger("churn")


def label_summary(labels: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per split: rows, cutoffs and churn rate among labelled rows."""
    out = {}
    for split, group in labels.groupby("split", sort=False):
        known = group["churned"].dropna()
        out[str(split)] = {
            "rows": len(group),
            "cutoffs": int(group["cutoff"].nunique()),
            "churn_rate": round(float(known.mean()), 4) if len(known) else float("nan"),
        }
    return out


def run(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame:
    """Build point-in-time labels for every cutoff and write them."""
    if isinstance(settings.labels, SnapshotLabelSettings):
        out = snapshot_labels(require_canonical(paths, "snapshot"), settings.labels)
    else:
        events = events_table(settings, paths)
        run_sql = sql_runner(settings.features)
        churns = read_canonical(paths, "churn_events", required=False)
        cutoffs = cutoff_table(
            settings.labels,
            observed_until(event_span(events, run_sql), settings.labels.last_day_of_data),
        )
        out = build_labels(events, cutoffs, settings.labels, churns, run_sql=run_sql)
    io.write_parquet(out, paths.labels)
    log.info("wrote %s: %s rows; %s", paths.labels, f"{len(out):,}", label_summary(out))
    return out
