"""Helpers shared by the stage modules."""

from __future__ import annotations

import pandas as pd

from churn import io
from churn.io.files import parquet_column_names
from churn.io.paths import PipelinePaths
from churn.modeling.training_data import KEYS, labelled_positions, with_feature_columns

COLUMNS_PER_READ = 8
"""Feature columns read from ``features.parquet`` at a time by :func:`labelled_feature_rows`."""


def labelled_feature_rows(paths: PipelinePaths, labels: pd.DataFrame) -> pd.DataFrame:
    """:func:`churn.modeling.training_data.labelled_rows` of ``features.parquet`` and
    ``labels``, with the feature table read ``COLUMNS_PER_READ`` columns at a time and each
    group taken at the labelled rows before the next is read: the joined rows and one group
    are held, never the whole table beside them."""
    head, rows = labelled_positions(io.read_parquet(paths.features, columns=KEYS), labels)
    names = [n for n in parquet_column_names(paths.features) if n not in KEYS]
    groups = (names[i : i + COLUMNS_PER_READ] for i in range(0, len(names), COLUMNS_PER_READ))
    return with_feature_columns(
        head, (io.read_parquet(paths.features, columns=group) for group in groups), rows
    )
