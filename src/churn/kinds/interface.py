"""The interface both kinds implement, and the small types they share (see :mod:`churn.kinds`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from churn.campaigns.outcomes import ContactOutcomes
from churn.engines.sql import Table
from churn.features import Feature
from churn.io.customer_sample import CustomerSample
from churn.modeling.baselines import BaselineInputs, Scorer
from churn.modeling.search import TuningFold
from churn.modeling.training_data import FeatureColumns
from churn.reporting.retention import Activity
from churn.scoring.population import Population

__all__ = [
    "Activity",
    "Backtest",
    "Baselines",
    "Canonical",
    "Kind",
    "Population",
    "RowsOf",
]

RowsOf = Callable[[Sequence[str]], pd.DataFrame]
"""The labelled feature rows whose ``split`` is one of those named, in label order, read when
called (``rows_of(["train", "purged", "valid"])``): a backtest that has no fold to re-train
never reads them."""


class Canonical(Protocol):
    """The canonical tables of ``churn ingest`` (see :class:`churn.io.canonical.CanonicalFiles`)."""

    def frame(self, name: str) -> pd.DataFrame:
        """Table ``name`` in memory (``snapshot``, ``events``); an error if it is missing."""
        ...

    def optional(self, name: str, sample: CustomerSample | None = None) -> pd.DataFrame | None:
        """Table ``name`` in memory (the rows of the ``sample``'s customers alone, if given),
        or None when the pipeline has none (``customers``, ``churn_events``)."""
        ...

    def events(self) -> Table:
        """The events as the SQL engine reads them (on DuckDB a parquet file scanned in place,
        so the events never have to fit in memory)."""
        ...


@dataclass(frozen=True)
class Baselines:
    """The simple models the churn model is compared with, and what they learn from."""

    makers: Mapping[str, Callable[[BaselineInputs], Scorer]]
    purchases: pd.DataFrame | None
    """Purchases per customer and day (BG/NBD fits on them); None for a snapshot."""
    horizon_days: int
    train_columns: tuple[str, ...] | None = None
    """The feature columns of the training rows the makers read (None: every one), so
    ``churn train`` need not hold the others beside the purchases."""

    def inputs(self, train: pd.DataFrame, valid: pd.DataFrame) -> BaselineInputs:
        return BaselineInputs(train, valid, self.purchases, self.horizon_days)


@dataclass(frozen=True)
class Backtest:
    """How the model did away from the test cutoff: ``report`` goes to ``backtest.json``,
    ``metrics`` are added to ``metrics.json``, ``predictions`` (every fold's test rows, in
    :data:`churn.modeling.backtest.PREDICTION_COLUMNS`) to
    ``models/<p>/backtest_predictions.parquet`` for the promotion gate."""

    metrics: dict[str, float]
    report: Any
    predictions: pd.DataFrame | None = None


class Kind(Protocol):
    """What an events and a snapshot pipeline do differently. ``pairs``, ``labels``: frames
    with ``customer_id`` and ``cutoff``, one row per (customer, cutoff)."""

    def labels(self, tables: Canonical) -> pd.DataFrame:
        """Point-in-time labels: ``customer_id``, ``cutoff``, ``split``, ``churned``, ..."""
        ...

    def features(self, tables: Canonical, pairs: pd.DataFrame) -> pd.DataFrame:
        """One feature row per row of ``pairs``, built only from what was known at its cutoff
        (the one feature path of training and scoring)."""
        ...

    def feature_parts(
        self, tables: Canonical, pairs: pd.DataFrame, *, rows: int
    ) -> Iterator[pd.DataFrame]:
        """The rows of :meth:`features` in order, in parts of ``rows`` rows or more (at least
        one part, empty when there are no rows): how the features stage writes a table too
        large to hold."""
        ...

    def catalogue(self, features: pd.DataFrame) -> list[Feature]:
        """Every feature of ``features`` (as :meth:`features` built it, or no rows of it: only
        its columns and dtypes are read), with family and description."""
        ...

    def population(self, tables: Canonical, cutoff: dt.date | None) -> Population:
        """The customers to score at ``cutoff`` (None: the kind's default) with their
        features and expected value."""
        ...

    def score_cutoff(self, tables: Canonical) -> dt.date:
        """The cutoff :meth:`population` scores at when given none: today's list. A
        ``--cutoff`` before it is back-dated."""
        ...

    def expected_value(
        self, tables: Canonical, features: pd.DataFrame, cutoff: dt.date
    ) -> pd.Series:
        """What each row of ``features`` is worth over the horizon (``scoring.value``)."""
        ...

    def backfill_cutoffs(self) -> tuple[dt.date, ...]:
        """Earlier cutoffs to score into the history before today's list."""
        ...

    def tenure_column(self) -> tuple[str, float] | None:
        """The attribute holding a customer's tenure and the days in one of its units, when the
        pipeline declares one (a snapshot's ``tenure_attribute``); None otherwise (events
        measure tenure themselves, as ``days_since_first_activity``)."""
        ...

    def label_column(self) -> str | None:
        """The user's column the label comes from, if it is a column of theirs (a snapshot's
        churn flag); None when churn builds the label itself (from events)."""
        ...

    def baselines(
        self, tables: Canonical, columns: FeatureColumns, *, where: str | None = None
    ) -> Baselines:
        """The baselines ``churn train`` reports beside the model; ``where``: a SQL condition
        on ``customer_id`` that keeps the customers whose events they may read (those of a
        :class:`~churn.io.customer_sample.CustomerSample`), None for all."""
        ...

    def backtest(
        self,
        rows_of: RowsOf,
        columns: FeatureColumns,
        overrides: Mapping[str, Any] | None,
        baselines: Baselines,
    ) -> Backtest:
        """Rolling-origin backtest (events) or cross-validation (snapshot) on the labelled
        rows (features and labels joined) other than the test cutoff, read through
        ``rows_of`` when there is a fold to re-train."""
        ...

    def tuning_folds(self, rows_of: RowsOf) -> tuple[list[TuningFold], bool]:
        """Folds the hyperparameter search scores trials on, from the labelled rows other
        than the test cutoff (read through ``rows_of``), and whether :meth:`backtest`'s
        figures are in sample for that search (never since each backtest fold searches again
        on its own past)."""
        ...

    def contact_outcomes(
        self, tables: Canonical, sample: CustomerSample | None = None
    ) -> ContactOutcomes | None:
        """Past contacts with the outcome of each (churned within the horizon after its day),
        when the pipeline has a contacts table (events only); None otherwise. ``sample``: the
        contacts of its customers alone (``train.driver_customers``)."""
        ...

    def realised(
        self, tables: Canonical, lists: Mapping[dt.date, Callable[[], pd.DataFrame]]
    ) -> dict[str, Any]:
        """``realised.json``: the scored ``lists`` (by cutoff) whose outcome is now known,
        evaluated against it."""
        ...

    def activity(self, tables: Canonical) -> Activity | None:
        """The events behind the report's retention charts, or None (a snapshot, or no
        events table)."""
        ...
