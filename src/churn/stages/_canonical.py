"""Helpers shared by the stage modules."""

from __future__ import annotations

import pandas as pd

from churn import io
from churn.io.paths import PipelinePaths


def labels_and_features(paths: PipelinePaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``labels.parquet`` and ``features.parquet``, read once for the row selections below."""
    return io.read_parquet(paths.labels), io.read_parquet(paths.features)
