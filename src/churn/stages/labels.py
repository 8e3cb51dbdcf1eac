"""Stage ``labels``: canonical tables -> ``data/interim/<p>/labels.parquet``."""

from __future__ import annotations

import logging

import pandas as pd

from churn import io
from churn.io.canonical import CanonicalFiles
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.settings import PipelineSettings

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
    out = kind_of(settings).labels(CanonicalFiles(paths, settings.features))
    io.write_parquet(out, paths.labels)
    log.info("wrote %s: %s rows; %s", paths.labels, f"{len(out):,}", label_summary(out))
    return out
