"""The populations ``register``, ``promote`` and ``monitor`` judge a model on, each read from
``labels.parquet`` and ``features.parquet`` without the whole feature table:

* the test rows (:func:`churn.tracking.registry.test_rows`): the labels of the test split and
  the feature rows at their cutoffs alone;
* the scoring rows (:func:`churn.monitoring.drift.scoring_rows`): the same, for the score
  split (a snapshot's current customers when there is none);
* the training rows (:func:`churn.monitoring.drift.training_rows`): found by DuckDB where they
  lie and read a column at a time (:class:`churn.io.files.ParquetRows`).

Each is the same frame, row for row and in the same order, as the function named computes from
the two tables read whole; or, given a :class:`~churn.io.customer_sample.CustomerSample`
(``train.driver_customers``), from the rows of its customers alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn import io
from churn.engines.sql import ParquetTable, quote_literal
from churn.io.customer_sample import CustomerSample, sample_rows
from churn.io.files import (
    ParquetRows,
    parquet_empty_frame,
    read_labels,
    read_parquet_rows,
)
from churn.io.paths import PipelinePaths
from churn.monitoring.drift import scoring_rows
from churn.monitoring.reference import training_row_numbers
from churn.settings import FeatureSettings
from churn.tracking import registry

TEST_SPLIT = "test"
SCORE_SPLIT = "score"


def features_at(paths: PipelinePaths, cutoffs: pd.Series) -> pd.DataFrame:
    """The rows of ``features.parquet`` whose cutoff is one of ``cutoffs`` (the labels'
    ``cutoff`` column), in file order; its columns without rows when there is none."""
    wanted = list(cutoffs.drop_duplicates())
    if not wanted:
        return parquet_empty_frame(paths.features)
    return io.read_parquet(paths.features, filters=[("cutoff", "in", wanted)])


def _split_is(split: str) -> str:
    return f"CAST(split AS VARCHAR) = {quote_literal(split)}"


def _sampled(
    paths: PipelinePaths, sample: CustomerSample, labelled: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labels that the SQL condition ``labelled`` keeps, of the ``sample``'s customers,
    and those customers' feature rows at the cutoffs of those labels."""
    labels = read_labels(paths.labels, rows=sample_rows(paths.labels, sample, labelled))
    cutoffs = (
        "cutoff IN (SELECT DISTINCT cutoff FROM "
        f"read_parquet({quote_literal(str(paths.labels))}) WHERE {labelled})"
    )
    rows = sample_rows(paths.features, sample, cutoffs)
    return labels, read_parquet_rows(paths.features, rows)


def test_rows(paths: PipelinePaths, sample: CustomerSample | None = None) -> pd.DataFrame:
    """:func:`churn.tracking.registry.test_rows` of the test split's labels and the feature
    rows at their cutoffs (of the ``sample``'s customers alone, if given): the other splits
    are never read."""
    if sample is not None:
        return registry.test_rows(*_sampled(paths, sample, _split_is(TEST_SPLIT)))
    labels = read_labels(paths.labels, filters=[("split", "==", TEST_SPLIT)])
    return registry.test_rows(labels, features_at(paths, labels["cutoff"]))


def scoring_population(paths: PipelinePaths, sample: CustomerSample | None = None) -> pd.DataFrame:
    """:func:`churn.monitoring.drift.scoring_rows` of the score split's labels (a snapshot's
    customers not churned when no label is of that split) and the feature rows at their
    cutoffs (of the ``sample``'s customers alone, if given)."""
    if sample is not None:
        labels, features = _sampled(paths, sample, _split_is(SCORE_SPLIT))
        if labels.empty:
            labels, features = _sampled(paths, sample, "churned = false")
        return scoring_rows(labels, features)
    labels = read_labels(paths.labels, filters=[("split", "==", SCORE_SPLIT)])
    if labels.empty:
        labels = read_labels(paths.labels, filters=[("churned", "==", False)])
    return scoring_rows(labels, features_at(paths, labels["cutoff"]))


def training_population(
    paths: PipelinePaths, engine: FeatureSettings, sample: CustomerSample | None = None
) -> ParquetRows:
    """The feature rows the model's population was trained on (as
    :func:`churn.monitoring.drift.training_rows`), of the ``sample``'s customers alone if
    given: DuckDB finds them from labels.parquet and features.parquet where they lie; their
    columns are then read as drift needs them, never the table whole. ``engine``: DuckDB's
    threads and memory limit."""
    io.require_parquet(paths.labels)
    io.require_parquet(paths.features)
    rows = training_row_numbers(
        ParquetTable(paths.features),
        ParquetTable(paths.labels),
        threads=engine.duckdb_threads,
        memory_limit=engine.duckdb_memory_limit,
    )
    if sample is not None:
        rows = np.intersect1d(rows, sample_rows(paths.features, sample), assume_unique=True)
    return ParquetRows(paths.features, rows)
