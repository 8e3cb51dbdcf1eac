"""Helpers shared by the stage modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from churn import io
from churn.engines.freed_memory import return_freed_memory
from churn.io.files import parquet_column_names, read_parquet_rows
from churn.io.paths import PipelinePaths
from churn.modeling.training_data import (
    KEYS,
    labelled_positions,
    rows_of_splits,
    with_feature_columns,
    with_feature_columns_of_each,
)

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


def labelled_feature_splits(
    paths: PipelinePaths,
    labels: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    *,
    columns: Sequence[str] | None = None,
    feature_rows: np.ndarray | None = None,
) -> dict[str, pd.DataFrame]:
    """For each name of ``groups``, :func:`labelled_feature_rows` whose ``split`` is one of
    its splits (``{"train": ["train"], "history": ["train", "purged", "valid"]}``), in label
    order, as :func:`churn.modeling.training_data.split_rows` would give them. The feature
    table is read once, ``COLUMNS_PER_READ`` columns at a time, and only the rows of the groups
    are held: never all labelled rows beside their splits, nor rows of splits no group names
    (the unlabelled ``score`` rows). ``columns``: the feature columns to take (None: all).
    ``feature_rows``: the positions of the only feature rows to read (those of a
    :class:`~churn.io.customer_sample.CustomerSample`, whose labels ``labels`` then are)."""

    def read(names: list[str]) -> pd.DataFrame:
        if feature_rows is None:
            return io.read_parquet(paths.features, columns=names)
        return read_parquet_rows(paths.features, feature_rows, names)

    head, rows = labelled_positions(read(KEYS), labels)
    selections = {name: rows_of_splits(head, rows, splits) for name, splits in groups.items()}
    del head, rows
    names = [
        n
        for n in parquet_column_names(paths.features)
        if n not in KEYS and (columns is None or n in columns)
    ]
    groups_of_columns = (
        names[i : i + COLUMNS_PER_READ] for i in range(0, len(names), COLUMNS_PER_READ)
    )
    frames = with_feature_columns_of_each(
        selections,
        (read(group) for group in groups_of_columns),
    )
    return_freed_memory()  # Arrow's pool keeps what each read freed: 0.5 GB at 30M events
    return frames
