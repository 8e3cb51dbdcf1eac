"""Stage ``features``: canonical tables + labels -> ``features.parquet`` and the catalogue."""

from __future__ import annotations

import logging

import pandas as pd

from churn import io
from churn.features import catalogue_records
from churn.io.canonical import CanonicalFiles
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.settings import PipelineSettings

PARAMS: tuple[str, ...] = ("data", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")


def run(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame:
    """Build features for every labelled (customer, cutoff) pair; write them and the catalogue."""
    labels = io.read_parquet(paths.labels)
    kind = kind_of(settings)
    out = kind.features(CanonicalFiles(paths, settings.features), labels)
    records = kind.catalogue(out)
    io.write_parquet(out, paths.features)
    io.write_json(catalogue_records(records), paths.catalogue)
    log.info("wrote %s: %s rows x %s features", paths.features, f"{len(out):,}", len(records))
    return out
