"""An events pipeline: a behaviour log (purchases, usage) whose labels come from a schedule of
cutoffs and whose features are SQL on DuckDB (or Spark) over the events before each cutoff.

The events arrive as the engine's tables (:class:`churn.engines.ParquetTable` on DuckDB,
scanned in place), so they never have to fit in memory.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import pandas as pd

from churn.campaigns.outcomes import ContactOutcomes, contact_outcomes
from churn.data.contract import COVERAGE_COLUMN
from churn.data.event_summaries import amounts_written, daily_totals, event_span
from churn.engines import ParquetTable, SqlRunner, Table, sql_runner
from churn.engines.sql import days_to_timestamp, table_columns, timestamp_to_days
from churn.errors import LabelError
from churn.features import Feature, FeatureSpec, feature_catalogue
from churn.features.build import feature_batches
from churn.features.catalogue import text_columns
from churn.features.derived import (
    BgnbdFits,
    derive_columns,
    derived_catalogue,
    fit_bgnbd,
)
from churn.io.customer_sample import CustomerSample
from churn.kinds.interface import Activity, Backtest, Baselines, Canonical, RowsOf
from churn.labels import (
    build_labels,
    cutoff_table,
    empty_splits,
    no_eligible_customers,
    observed_until,
)
from churn.modeling.backtest import (
    TuneFold,
    no_fold_predictions,
    rolling_origin_backtest,
    rolling_origin_plan,
    rolling_origin_tuning_folds,
)
from churn.modeling.baselines import RFM, event_baselines
from churn.modeling.search import Tuning, TuningFold, tune
from churn.modeling.training_data import FeatureColumns
from churn.monitoring.realised import realised_performance
from churn.scoring.population import Population, recurring_expected_value
from churn.scoring.value import purchase_value
from churn.settings import EventLabelSettings, PipelineSettings

HISTORY_SPLITS = ("train", "purged", "valid")
"""The splits the backtest and the search learn from: every labelled cutoff before the test one."""

UNKNOWN_SPEND_SHARE = 0.5
"""Share of purchase days whose spend is unknown (an event without an amount among them) from
which the value model is said to rest on too little."""

log = logging.getLogger("churn")


class EventsKind:
    """The events implementation of :class:`churn.kinds.Kind`."""

    def __init__(self, settings: PipelineSettings, labels: EventLabelSettings) -> None:
        self.settings = settings
        self.labs = labels

    @staticmethod
    def _covered(events: Table) -> bool:
        """Whether the canonical ``events`` hold ``covered_until``: ingest writes it exactly
        when a source maps it (``data.events.covered``). Read from the table, not the params,
        since the labels stage reads no ``data`` params (dvc.yaml)."""
        return COVERAGE_COLUMN in table_columns(events)

    def _data_end(self, events: Table) -> dt.date:
        """The day after the last event (or ``labels.last_day_of_data``)."""
        span = event_span(events, sql_runner(self.settings.features))
        return observed_until(span, self.labs.last_day_of_data)

    def _labels_at(
        self,
        tables: Canonical,
        events: Table,
        cutoffs: pd.DataFrame,
        only: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        return build_labels(
            events,
            cutoffs,
            self.labs,
            tables.optional("churn_events"),
            run_sql=sql_runner(self.settings.features),
            only=only,
            covered=self._covered(events),
        )

    def labels(self, tables: Canonical) -> pd.DataFrame:
        events = tables.events()
        cutoffs = cutoff_table(self.labs, self._data_end(events))
        return self._labels_at(tables, events, cutoffs)

    def spark_labels(
        self, scoped: Any, tables: Canonical, churn_events: Table | None
    ) -> tuple[Any, pd.DataFrame]:
        """:meth:`labels` as a Spark DataFrame of session ``scoped`` that no row leaves
        (``features.engine: spark``; :mod:`churn.engines.spark_labels`), and the cutoff table
        they were made at. ``churn_events``: the explicit churn events table, if any. Not
        checked: hand the splits found to :meth:`require_labels`."""
        from churn.engines.spark_labels import spark_label_table  # noqa: PLC0415 - optional

        events = tables.events()
        cutoffs = cutoff_table(self.labs, self._data_end(events))
        labels = spark_label_table(
            scoped, events, cutoffs, self.labs, churn_events, covered=self._covered(events)
        )
        return labels, cutoffs

    def require_labels(self, tables: Canonical, cutoffs: pd.DataFrame, splits: Any) -> None:
        """Raise :class:`LabelError` when a training, validation or test cutoff of ``cutoffs``
        has none of the labels' ``splits``, as :meth:`labels` does."""
        empty = empty_splits(cutoffs, splits)
        if empty:
            run_sql = sql_runner(self.settings.features)
            raise no_eligible_customers(empty, self.labs, tables.events(), run_sql)

    def feature_spec(self, text_columns: Collection[str] = ()) -> FeatureSpec:
        """The feature spec, from the settings (never from data values), so training and
        scoring always build the same columns. ``text_columns``: the columns the canonical
        customers table holds as text; a customer attribute among them is a category (ingest
        decided its type, :mod:`churn.data.attribute_types`)."""
        data = self.settings.data
        assert data.events is not None
        customer_sources = data.customers.sources if data.customers is not None else []
        customer_attributes = tuple(sorted({a for s in customer_sources for a in s.attributes}))
        return FeatureSpec(
            settings=self.settings.features,
            activity_event_types=tuple(self.labs.activity_event_types),
            event_attributes=tuple(sorted({a for s in data.events.sources for a in s.attributes})),
            customer_attributes=customer_attributes,
            has_signup_date=any("signup_date" in s.columns for s in customer_sources),
            text_customer_attributes=tuple(a for a in customer_attributes if a in text_columns),
            event_measures=tuple(data.events.measure_names),
            numeric_event_attributes=tuple(sorted(data.events.numeric_attributes)),
            covered=data.events.covered,
        )

    def features(self, tables: Canonical, pairs: pd.DataFrame) -> pd.DataFrame:
        """The SQL pass on ``features.engine`` (DuckDB or Spark), then the derived columns on
        pandas: the one feature path of training (all labelled cutoffs) and scoring."""
        return self._features(tables, tables.events(), pairs)

    def _features(self, tables: Canonical, events: Table, pairs: pd.DataFrame) -> pd.DataFrame:
        """:meth:`_parts` in one frame (the query's rows are at most the pairs)."""
        parts = list(self._parts(tables, events, pairs, rows=max(len(pairs), 1)))
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def spark_features(
        self,
        scoped: Any,
        events: Table,
        labels: ParquetTable | Any,
        customers: ParquetTable | None,
        customer_columns: pd.DataFrame | None,
    ) -> Any:
        """:meth:`features` of every row of ``labels`` (a parquet file, or a DataFrame of
        ``scoped``) as a Spark DataFrame of session ``scoped`` that no row leaves
        (``features.engine: spark``; see :mod:`churn.engines.spark_features`).
        ``customer_columns``: the canonical customers table's columns and dtypes (no rows
        needed), which decide its text attributes."""
        from churn.engines.spark_features import (  # noqa: PLC0415 - optional dependency
            spark_feature_table,
        )

        fs = self.settings.features
        return spark_feature_table(
            scoped,
            events,
            labels,
            self.feature_spec(text_columns(customer_columns)),
            customers,
            calendar=fs.calendar,
            bgnbd=fs.bgnbd,
            horizon_days=self.labs.horizon_days,
            groups=fs.spark.shuffle_partitions,
        )

    def feature_parts(
        self, tables: Canonical, pairs: pd.DataFrame, *, rows: int
    ) -> Iterator[pd.DataFrame]:
        """The rows of :meth:`features`, in order, ``rows`` at a time (the last part shorter;
        one empty part when there are none), streamed out of the engine: the BG/NBD columns
        are fitted first, from daily purchase totals freed before the features query runs."""
        return self._parts(tables, tables.events(), pairs, rows=rows)

    def _parts(
        self, tables: Canonical, events: Table, pairs: pd.DataFrame, *, rows: int
    ) -> Iterator[pd.DataFrame]:
        """The one feature path of training (all labelled cutoffs) and scoring: the SQL pass on
        ``features.engine``, then the derived columns on pandas, part by part."""
        fs = self.settings.features
        run_sql = sql_runner(fs)
        customers = tables.optional("customers")
        spec = self.feature_spec(text_columns(customers))
        fits = self._bgnbd_fits(events, pairs, run_sql) if fs.bgnbd else None
        for part in feature_batches(events, pairs, spec, customers, run_sql=run_sql, rows=rows):
            yield derive_columns(part, fits, calendar=fs.calendar)

    def _bgnbd_fits(self, events: Table, pairs: pd.DataFrame, run_sql: SqlRunner) -> BgnbdFits:
        """BG/NBD fitted at each cutoff of ``pairs``, keyed as the feature rows will be."""
        keys = pd.DataFrame(
            {
                "customer_id": pairs["customer_id"].astype(object),
                "cutoff": days_to_timestamp(timestamp_to_days(pd.to_datetime(pairs["cutoff"]))),
            }
        )
        purchases = daily_totals(events, self.labs.activity_event_types, run_sql)
        return fit_bgnbd(keys, purchases, self.labs.horizon_days)

    def catalogue(self, features: pd.DataFrame) -> list[Feature]:
        fs = self.settings.features
        # a customer attribute's feature column is text exactly when its canonical column is
        spec = self.feature_spec(text_columns(features))
        return feature_catalogue(spec) + derived_catalogue(
            calendar=fs.calendar, bgnbd=fs.bgnbd, horizon_days=self.labs.horizon_days
        )

    def population(self, tables: Canonical, cutoff: dt.date | None) -> Population:
        """Customers eligible at ``cutoff`` (default: labels.score_cutoff, else the day after
        the data), their features and expected value."""
        events = tables.events()
        when, table = self._scoring_cutoff(events, cutoff)
        eligible = self._labels_at(tables, events, table)
        if eligible.empty:
            raise _no_eligible_customers(when)
        features = self._features(tables, events, eligible)
        return Population(when, features, self._expected_value(events, features, when))

    def spark_population(
        self,
        scoped: Any,
        tables: Canonical,
        cutoff: dt.date | None,
        *,
        churn_events: Table | None,
        customers: ParquetTable | None,
        customer_columns: pd.DataFrame | None,
    ) -> tuple[dt.date, Any]:
        """:meth:`population`'s scoring day and features, the features as a Spark DataFrame of
        session ``scoped`` that no row leaves (``features.engine: spark``): the eligible
        customers by the labels query (:mod:`churn.engines.spark_labels`) and their features
        by the features stage's code on Spark (:mod:`churn.engines.spark_features`), in the
        same rows, order and types. The driver sees the events' span and one count.
        ``churn_events``, ``customers``, ``customer_columns``: as :meth:`spark_labels` and
        :meth:`spark_features` take them. The expected value is not computed here."""
        from churn.engines.spark_labels import spark_label_table  # noqa: PLC0415 - optional

        events = tables.events()
        when, table = self._scoring_cutoff(events, cutoff)
        eligible = spark_label_table(
            scoped, events, table, self.labs, churn_events, covered=self._covered(events)
        )
        if eligible.isEmpty():
            raise _no_eligible_customers(when)
        features = self.spark_features(scoped, events, eligible, customers, customer_columns)
        return when, features

    def spark_valued(self, scoped: Any, tables: Canonical, features: Any, when: dt.date) -> Any:
        """The population's Spark DataFrame ``features`` (of :meth:`spark_population`) with
        each customer's expected value at ``when`` in
        :data:`churn.scoring.spark_rows.VALUE_COLUMN` (``clv``: computed by the executors,
        :mod:`churn.scoring.spark_value`; 0 for a customer without a purchase before it), as
        :meth:`population` values it. ``recurring``: ``features`` as they are (the executors
        read the charge from the row)."""
        from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

        from churn.scoring.spark_rows import VALUE_COLUMN  # noqa: PLC0415
        from churn.scoring.spark_value import spark_purchase_value  # noqa: PLC0415

        if self.settings.scoring.value.method == "recurring":
            return features
        fs = self.settings.features
        values = spark_purchase_value(
            scoped,
            tables.events(),
            cutoff=when,
            activity_event_types=self._purchase_types(),
            return_event_types=fs.return_event_types,
            horizon_days=self.labs.horizon_days,
            groups=fs.spark.shuffle_partitions,
        )
        valued = features.join(values, on="customer_id", how="left")
        return valued.withColumn(VALUE_COLUMN, F.coalesce(F.col(VALUE_COLUMN), F.lit(0.0)))

    def _scoring_cutoff(
        self, events: Table, cutoff: dt.date | None
    ) -> tuple[dt.date, pd.DataFrame]:
        """The scoring day and its one-row cutoff table: ``cutoff`` (default:
        labels.score_cutoff, else the day after the data); raises LabelError when the events
        do not cover it."""
        labs = self.labs
        span = event_span(events, sql_runner(self.settings.features))
        data_end = observed_until(span, labs.last_day_of_data)
        assert span.first is not None  # observed_until raises on no events
        when = cutoff or labs.score_cutoff or data_end
        first = span.first.date()
        if not first < when <= data_end:
            raise LabelError(
                f"scoring cutoff {when}: expected a date after the first event ({first}) and no "
                f"later than the day after the data ({data_end}); features at a later date "
                "would miss the days in between. Give --cutoff within that range."
            )
        horizon = dt.timedelta(days=labs.horizon_days)
        return when, pd.DataFrame(
            {"cutoff": [when], "split": ["score"], "observed": [when + horizon <= data_end]}
        )

    def score_cutoff(self, tables: Canonical) -> dt.date:
        """labels.score_cutoff, else the day after the data (as :meth:`population`)."""
        return self.labs.score_cutoff or self._data_end(tables.events())

    def expected_value(
        self, tables: Canonical, features: pd.DataFrame, cutoff: dt.date
    ) -> pd.Series:
        return self._expected_value(tables.events(), features, cutoff)

    def _expected_value(self, events: Table, features: pd.DataFrame, cutoff: dt.date) -> pd.Series:
        value = self.settings.scoring.value
        if value.method == "recurring":
            return recurring_expected_value(value, features)
        run_sql = sql_runner(self.settings.features)
        purchases = daily_totals(events, self._purchase_types(), run_sql)
        unknown = float(purchases["amount"].isna().mean()) if len(purchases) else 1.0
        if unknown >= UNKNOWN_SPEND_SHARE and (
            written := amounts_written(events, self._purchase_types(), run_sql)
        ):
            log.warning(
                "scoring.value: %s events of the purchase types %s carry an amount, but %.0f %% "
                "of the days with a purchase also hold an event of those types without one, so "
                "their spend is unknown and %s. Set scoring.value.purchase_event_types to the "
                "event types whose rows carry the amounts (payments, orders).",
                f"{written:,}",
                self._purchase_types(),
                100 * unknown,
                "every customer is valued 0" if unknown == 1 else "values rest on the rest",
            )
        if unknown == 1:  # no amounts (an app's log): no value to model
            return pd.Series(0.0, index=features.index, dtype="float64")
        returns = daily_totals(events, self.settings.features.return_event_types, run_sql)
        per_customer = purchase_value(
            purchases, pd.Timestamp(cutoff), self.labs.horizon_days, returns
        )
        return features["customer_id"].map(per_customer).fillna(0.0).astype("float64")

    def _purchase_types(self) -> list[str]:
        """The event types whose amounts the value model reads as spend."""
        chosen = self.settings.scoring.value.purchase_event_types
        return list(chosen) if chosen is not None else list(self.labs.activity_event_types)

    def backfill_cutoffs(self) -> tuple[dt.date, ...]:
        return tuple(self.settings.monitoring.backfill_cutoffs)

    def tenure_column(self) -> tuple[str, float] | None:
        return None

    def label_column(self) -> str | None:
        return None

    def baselines(
        self, tables: Canonical, columns: FeatureColumns, *, where: str | None = None
    ) -> Baselines:
        """Recency, logistic RFM and (with purchase amounts) BG/NBD, from the daily totals of
        the customers ``where`` keeps."""
        purchases = daily_totals(
            tables.events(),
            self.labs.activity_event_types,
            sql_runner(self.settings.features),
            where=where,
        )
        has_amounts = bool(purchases["amount"].notna().any())
        return Baselines(
            dict(event_baselines(has_purchases=has_amounts)),
            purchases,
            self.labs.horizon_days,
            train_columns=RFM,  # logistic RFM is the only one fitted on training rows
        )

    def backtest(
        self,
        rows_of: RowsOf,
        columns: FeatureColumns,
        overrides: Mapping[str, Any] | None,
        baselines: Baselines,
    ) -> Backtest:
        """Rolling-origin folds over the cutoffs before the test cutoff; with the search on,
        each fold searches on its own past (``overrides`` is then unused)."""
        ts = self.settings.train
        if ts.backtest_cutoffs == 0:  # no fold to re-train: the labelled rows are not read
            return Backtest({}, [], no_fold_predictions())
        history = rows_of(HISTORY_SPLITS)
        horizon = baselines.horizon_days
        plan = rolling_origin_plan(list(history["cutoff"].unique()), horizon, ts.backtest_cutoffs)
        folds, predictions = rolling_origin_backtest(
            history,
            plan,
            columns,
            ts,
            overrides=overrides,
            baselines=baselines.makers,
            purchases=baselines.purchases,
            horizon_days=horizon,
            tune_fold=self._fold_tuner(columns),
        )
        return Backtest({}, folds, predictions)

    def _fold_tuner(self, columns: FeatureColumns) -> TuneFold | None:
        """The search of one backtest fold: rolling-origin folds within the rows it is given
        (those up to the fold's validation cutoff, so never its test window)."""
        ts = self.settings.train
        if not ts.search.enabled:
            return None
        horizon = self.labs.horizon_days

        def tune_fold(history: pd.DataFrame) -> Tuning | None:
            folds, _ = rolling_origin_tuning_folds(history, horizon, backtest=0, n=ts.search.folds)
            return tune(folds, columns, ts)

        return tune_fold

    def tuning_folds(self, rows_of: RowsOf) -> tuple[list[TuningFold], bool]:
        """Rolling-origin folds older than the backtest's (when the cutoffs allow). The
        backtest is never in sample for this search: each fold searches again on its past."""
        ts = self.settings.train
        history = rows_of(HISTORY_SPLITS)
        folds, _ = rolling_origin_tuning_folds(
            history, self.labs.horizon_days, backtest=ts.backtest_cutoffs, n=ts.search.folds
        )
        return folds, False

    def realised(
        self, tables: Canonical, lists: Mapping[dt.date, Callable[[], pd.DataFrame]]
    ) -> dict[str, Any]:
        events = tables.events()

        def outcome_at(cutoff: dt.date) -> pd.DataFrame:
            table = pd.DataFrame({"cutoff": [cutoff], "split": ["realised"], "observed": [True]})
            return self._labels_at(tables, events, table)

        return realised_performance(
            lists,
            outcome_at,
            data_end=self._data_end(events),
            horizon_days=self.labs.horizon_days,
        )

    def contact_outcomes(
        self, tables: Canonical, sample: CustomerSample | None = None
    ) -> ContactOutcomes | None:
        """Past contacts (``data.contacts``) with their outcome, labelled at each contact's day
        by the same query as the training labels, for the contacted customers alone (of the
        ``sample``, if given); None without a contacts table."""
        contacts = tables.optional("contacts", sample)
        if contacts is None:
            return None
        events = tables.events()

        def labels_at(pairs: pd.DataFrame) -> pd.DataFrame:
            days = sorted({d.date() for d in pairs["cutoff"]})
            table = pd.DataFrame({"cutoff": days, "split": "contact", "observed": True})
            return self._labels_at(tables, events, table, only=pairs)

        return contact_outcomes(
            contacts,
            labels_at,
            data_end=self._data_end(events),
            horizon_days=self.labs.horizon_days,
        )

    def activity(self, tables: Canonical) -> Activity | None:
        """The events as the engine scans them (never read whole into memory)."""
        return Activity(
            tables.events(),
            self.labs.activity_event_types,
            self.labs.horizon_days,
            sql_runner(self.settings.features),
        )


def _no_eligible_customers(when: dt.date) -> LabelError:
    return LabelError(
        f"scoring cutoff {when}: no eligible customers (none active before it and not "
        "yet churned). Check --cutoff and labels.max_inactive_days."
    )
