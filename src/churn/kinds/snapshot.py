"""A snapshot pipeline: one row per customer with a churn label (e.g. IBM Telco), all at one
date; train/valid/test are a random split and the backtest is cross-validation."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn.campaigns.outcomes import ContactOutcomes
from churn.engines import ParquetTable
from churn.features import Feature, snapshot_catalogue, snapshot_features
from churn.io.customer_sample import CustomerSample
from churn.kinds.interface import Activity, Backtest, Baselines, Canonical, RowsOf
from churn.labels import HashSplit, snapshot_labels
from churn.modeling.backtest import TuneFold, cross_validated_auc, cross_validation_tuning_folds
from churn.modeling.baselines import onehot_logistic_baseline, single_feature_baseline
from churn.modeling.search import Tuning, TuningFold, tune
from churn.modeling.training_data import FeatureColumns
from churn.monitoring.realised import no_later_outcome
from churn.scoring.population import Population, clv_needs_events, recurring_expected_value
from churn.settings import PipelineSettings, SnapshotLabelSettings, SnapshotSettings

_KEYS = ("customer_id", "cutoff")
DAYS_PER_UNIT = {"days": 1.0, "months": 30.4, "years": 365.25}
"""Days in a unit of ``data.snapshot.tenure_unit`` (30.4 days a month, as the segments had)."""

log = logging.getLogger("churn")
_NO_VALUE = (
    "no monetary value: scoring.value names no charge_feature (method: recurring), so every "
    "expected value and value at risk is 0"
)


@dataclass(frozen=True)
class Tenure:
    """The snapshot attribute that holds tenure, and the days in one of its units."""

    attribute: str
    days_per_unit: float


def snapshot_tenure(snapshot: SnapshotSettings | None) -> Tenure | None:
    """The tenure role a snapshot declares, or None."""
    if snapshot is None or snapshot.tenure_attribute is None:
        return None
    return Tenure(snapshot.tenure_attribute, DAYS_PER_UNIT[snapshot.tenure_unit])


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


class SnapshotKind:
    """The snapshot implementation of :class:`churn.kinds.Kind`."""

    def __init__(self, settings: PipelineSettings, labels: SnapshotLabelSettings) -> None:
        self.settings = settings
        self.labs = labels

    def labels(self, tables: Canonical) -> pd.DataFrame:
        return snapshot_labels(tables.frame("snapshot"), self.labs)

    def spark_labels(self, scoped: Any, snapshot: ParquetTable) -> Any:
        """:meth:`labels` with ``labels.split: hash`` as a Spark DataFrame of session ``scoped``
        that no row leaves: the canonical ``snapshot`` read by the executors, in its order,
        each customer placed by :meth:`churn.labels.HashSplit.sql`, as
        :func:`churn.labels.snapshot_labels` places it."""
        from churn.engines.spark import spark_view  # noqa: PLC0415 - optional dependency

        split, fold = HashSplit.of(self.labs).sql("customer_id")
        return spark_view(scoped, snapshot).selectExpr(
            "CAST(customer_id AS STRING) AS customer_id",
            f"CAST('{self.labs.snapshot_date.isoformat()}' AS TIMESTAMP_NTZ) AS cutoff",
            "COALESCE(CAST(churned AS BOOLEAN), FALSE) AS churned",
            f"{split} AS split",
            f"{fold} AS fold",
        )

    def features(self, tables: Canonical, pairs: pd.DataFrame) -> pd.DataFrame:
        return snapshot_features(tables.frame("snapshot"), pairs, self._dates())

    def _dates(self) -> list[str]:
        snapshot = self.settings.data.snapshot
        assert snapshot is not None
        return list(snapshot.date_attributes)

    def feature_parts(
        self, tables: Canonical, pairs: pd.DataFrame, *, rows: int
    ) -> Iterator[pd.DataFrame]:
        """:meth:`features` in one part: one row per customer is small."""
        yield self.features(tables, pairs)

    def catalogue(self, features: pd.DataFrame) -> list[Feature]:
        snapshot = self.settings.data.snapshot
        assert snapshot is not None
        columns = [c for c in features.columns if c not in _KEYS]
        # attributes inferred from the file, or joined from data.customers, are numeric by type
        numeric = [*snapshot.numeric_attributes, *_numeric_columns(features[columns])]
        return snapshot_catalogue(columns, numeric)

    def population(self, tables: Canonical, cutoff: dt.date | None) -> Population:
        """The current customers (those who have not churned) at ``labels.snapshot_date``;
        ``cutoff`` is ignored: a snapshot has one date."""
        snapshot = tables.frame("snapshot")
        current = snapshot[~snapshot["churned"].astype(bool)]
        when = self.labs.snapshot_date
        pairs = pd.DataFrame({"customer_id": current["customer_id"], "cutoff": pd.Timestamp(when)})
        features = snapshot_features(current, pairs, self._dates())
        return Population(when, features, self.expected_value(tables, features, when))

    def spark_features(self, scoped: Any, snapshot: ParquetTable, pairs: Any) -> Any:
        """:meth:`features` by Spark's executors, a DataFrame of session ``scoped`` that no
        row leaves (``features.engine: spark``): ``pairs`` (a DataFrame of ``customer_id`` and
        ``cutoff``, e.g. ``labels.parquet`` read by :func:`~churn.engines.spark.spark_view`)
        joined to the canonical ``snapshot``'s attributes, in ``pairs``' order, the date
        attributes as days before the cutoff
        (:func:`~churn.features.snapshot.days_before`'s arithmetic), the cutoff a timestamp
        without time zone. Only the files' footers are read here."""
        from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

        from churn.engines.spark import quote_spark_identifier, spark_view  # noqa: PLC0415

        rows = spark_view(scoped, snapshot)
        attrs = [c for c in rows.columns if c not in ("customer_id", "churned")]
        dates = set(self._dates())
        # the rows' order as read (a file's order: partitions in order, rows in order)
        keyed = pairs.select("customer_id", "cutoff").withColumn(
            "_order", F.monotonically_increasing_id()
        )
        joined = keyed.join(
            rows.select("customer_id", *(F.col(quote_spark_identifier(c)) for c in attrs)),
            on="customer_id",
            how="left",
        )
        day = F.unix_date(F.col("cutoff").cast("date")).cast("double")
        columns = [
            F.col("customer_id"),
            F.date_from_unix_date(F.unix_date(F.col("cutoff").cast("date")))
            .cast("timestamp_ntz")
            .alias("cutoff"),
            *(
                (day - F.col(quote_spark_identifier(c)).cast("double")).alias(c)
                if c in dates
                else F.col(quote_spark_identifier(c))
                for c in attrs
            ),
        ]
        return joined.orderBy("_order").select(*columns)

    def spark_population(self, scoped: Any, snapshot: ParquetTable) -> tuple[dt.date, Any]:
        """:meth:`population`'s date and features as a Spark DataFrame of session ``scoped``
        that no row leaves (``features.engine: spark``): the canonical ``snapshot``'s current
        customers, read by the executors in its order and keyed by ``labels.snapshot_date``,
        through :meth:`spark_features`."""
        from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

        from churn.engines.spark import spark_view  # noqa: PLC0415

        when = self.labs.snapshot_date
        rows = spark_view(scoped, snapshot)
        current = rows.where(~F.coalesce(F.col("churned").cast("boolean"), F.lit(False)))
        pairs = current.select(
            "customer_id", F.lit(when.isoformat()).cast("timestamp_ntz").alias("cutoff")
        )
        return when, self.spark_features(scoped, snapshot, pairs)

    def spark_valued(self, scoped: Any, tables: Canonical, features: Any, when: dt.date) -> Any:
        """The population's Spark DataFrame ``features`` (of :meth:`spark_population`) as
        :meth:`expected_value` values it: ``recurring`` reads the charge from each row in the
        executors; without a method, :data:`churn.scoring.spark_rows.VALUE_COLUMN` is 0."""
        from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

        from churn.scoring.spark_rows import VALUE_COLUMN  # noqa: PLC0415

        value = self.settings.scoring.value
        if value.method == "recurring":
            return features
        if "method" in value.model_fields_set:
            raise clv_needs_events(self.settings.name)
        log.info(_NO_VALUE)
        return features.withColumn(VALUE_COLUMN, F.lit(0.0))

    def score_cutoff(self, tables: Canonical) -> dt.date:
        """``labels.snapshot_date``: a snapshot has one date, nothing is back-dated."""
        return self.labs.snapshot_date

    def expected_value(
        self, tables: Canonical, features: pd.DataFrame, cutoff: dt.date
    ) -> pd.Series:
        """Monthly charge x months (``scoring.value.method: recurring``). A snapshot has no
        purchases for a CLV: with the method left at its default (a snapshot without a charge
        column, as ``churn init`` writes it) every customer is worth 0, so outreach ranks by
        churn probability; ``method: clv`` written in the params file is refused."""
        value = self.settings.scoring.value
        if value.method == "recurring":
            return recurring_expected_value(value, features)
        if "method" in value.model_fields_set:
            raise clv_needs_events(self.settings.name)
        log.info(_NO_VALUE)
        return pd.Series(0.0, index=features.index, dtype="float64")

    def backfill_cutoffs(self) -> tuple[dt.date, ...]:
        return ()

    def tenure_column(self) -> tuple[str, float] | None:
        tenure = snapshot_tenure(self.settings.data.snapshot)
        return None if tenure is None else (tenure.attribute, tenure.days_per_unit)

    def label_column(self) -> str | None:
        snapshot = self.settings.data.snapshot
        assert snapshot is not None
        return snapshot.source.columns.get("label")

    def baselines(
        self, tables: Canonical, columns: FeatureColumns, *, where: str | None = None
    ) -> Baselines:
        """Logistic regression on one-hot categories, and tenure alone when the snapshot names
        its tenure attribute (``data.snapshot.tenure_attribute``); they read no events, so
        ``where`` changes nothing."""
        makers = {
            "logistic_onehot": onehot_logistic_baseline(columns.numeric, columns.categorical),
        }
        tenure = snapshot_tenure(self.settings.data.snapshot)
        if tenure is None:
            log.info(
                "no tenure baseline nor tenure segments: data.snapshot.tenure_attribute is not set"
            )
        else:
            makers["tenure"] = single_feature_baseline(tenure.attribute, higher_is_riskier=False)
        return Baselines(makers, None, 0)

    def backtest(
        self,
        rows_of: RowsOf,
        columns: FeatureColumns,
        overrides: Mapping[str, Any] | None,
        baselines: Baselines,
    ) -> Backtest:
        """Cross-validated ROC AUC on the training and validation rows; with the search on,
        each round searches on the other rounds' rows only (``overrides`` is then unused)."""
        aucs, predictions = cross_validated_auc(
            rows_of(["train", "valid"]),
            columns,
            self.settings.train,
            overrides=overrides,
            tune_fold=self._round_tuner(columns),
        )
        metrics = {
            "cv_roc_auc_mean": float(np.mean(aucs)),
            "cv_roc_auc_std": float(np.std(aucs, ddof=1)),
        }
        return Backtest(metrics, {"cross_validation_roc_auc": aucs}, predictions)

    def _round_tuner(self, columns: FeatureColumns) -> TuneFold | None:
        """The search of one cross-validation round, on the rows it may learn from."""
        ts = self.settings.train
        if not ts.search.enabled:
            return None

        def tune_round(history: pd.DataFrame) -> Tuning | None:
            if history.loc[history["fold"] >= 0, "fold"].nunique() < 3:
                # a round needs three other folds to learn from, stop on and score a trial on
                log.info(
                    "search: too few cross-validation folds (labels.n_folds) to search inside "
                    "a round; the round uses the configured recipe"
                )
                return None
            return tune(cross_validation_tuning_folds(history, ts.search.folds), columns, ts)

        return tune_round

    def tuning_folds(self, rows_of: RowsOf) -> tuple[list[TuningFold], bool]:
        """The first cross-validation folds. The reported cross-validation is not in sample
        for this search: each of its rounds searches again without its scored fold."""
        folds = cross_validation_tuning_folds(
            rows_of(["train", "valid"]), self.settings.train.search.folds
        )
        return folds, False

    def realised(
        self, tables: Canonical, lists: Mapping[dt.date, Callable[[], pd.DataFrame]]
    ) -> dict[str, Any]:
        return no_later_outcome()

    def contact_outcomes(
        self, tables: Canonical, sample: CustomerSample | None = None
    ) -> ContactOutcomes | None:
        return None  # settings refuse data.contacts for a snapshot: no dates to measure from

    def activity(self, tables: Canonical) -> Activity | None:
        return None
