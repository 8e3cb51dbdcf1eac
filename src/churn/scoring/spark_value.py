"""``scoring.value.method: clv`` on Spark: each customer's expected value over the horizon as
:func:`churn.scoring.value.purchase_value` computes it, with the purchase histories kept in
the executors.

* the purchase and return days (:func:`churn.data.event_summaries.daily_totals_sql`) before
  the cutoff, per group of customers (both tables cogrouped): each customer's summary
  (:func:`churn.modeling.clv.rfm_summary`) and the share of spend not returned, in the local
  order of rows, so the same numbers;
* one task fits BG/NBD and Gamma-Gamma on every summary in customer order
  (:func:`churn.scoring.value.fit_value`): the fit, one row, is all that reaches the driver,
  and goes back to the executors with :func:`churn.scoring.value.values_of`.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
from collections.abc import Iterator
from typing import Any

import pandas as pd

from churn.data.event_summaries import daily_totals_sql
from churn.engines.spark import spark_sql, spark_view
from churn.engines.sql import Table
from churn.errors import PipelineStateError
from churn.modeling.clv import MIN_CUSTOMERS_TO_FIT, rfm_summary
from churn.scoring.spark_rows import VALUE_COLUMN
from churn.scoring.value import fit_value, kept_share, values_of

log = logging.getLogger("churn")

SUMMARY_SCHEMA = (
    "customer_id STRING, frequency BIGINT, recency DOUBLE, T DOUBLE, "
    "mean_repeat_spend DOUBLE, kept DOUBLE"
)
DAYS_SCHEMA = "customer_id STRING, ts TIMESTAMP_NTZ, amount DOUBLE, customer_group INT"


def spark_purchase_value(
    scoped: Any,
    events: Table,
    *,
    cutoff: dt.date,
    activity_event_types: tuple[str, ...] | list[str],
    return_event_types: tuple[str, ...] | list[str],
    horizon_days: int,
    groups: int = 4,
) -> Any:
    """``customer_id`` and :data:`VALUE_COLUMN` of every customer with a purchase before
    ``cutoff``, as a Spark DataFrame of session ``scoped`` (not collected): the values of
    :func:`purchase_value` at ``cutoff``. Raises PipelineStateError as it does when too few
    customers have bought."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    spark_view(scoped, events).createOrReplaceTempView("events")
    day = (pd.Timestamp(cutoff) - pd.Timestamp(0)).days
    stamp = pd.Timestamp(cutoff)

    def days_of(types: tuple[str, ...] | list[str]) -> Any:
        if not types:
            return scoped.createDataFrame([], DAYS_SCHEMA)
        totals = scoped.sql(spark_sql(daily_totals_sql(list(types))))
        return totals.where(F.col("day") < day).selectExpr(
            "customer_id",
            "CAST(DATE_FROM_UNIX_DATE(CAST(day AS INT)) AS TIMESTAMP_NTZ) AS ts",
            "CAST(amount AS DOUBLE) AS amount",
            f"CAST(PMOD(HASH(customer_id), {int(groups)}) AS INT) AS customer_group",
        )

    bought, returned = days_of(activity_event_types), days_of(return_event_types)

    columns = ["customer_id", "frequency", "recency", "T", "mean_repeat_spend", "kept"]

    def summarise(purchases: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
        if not len(purchases):  # a group of customers who only returned
            return pd.DataFrame(columns=columns)
        # the local order of rows (customer, then day), so the same sums
        purchases = purchases.sort_values(["customer_id", "ts"], ignore_index=True)
        returns = returns.sort_values(["customer_id", "ts"], ignore_index=True)
        purchases = purchases[["customer_id", "ts", "amount"]].astype({"customer_id": object})
        returns = returns[["customer_id", "ts", "amount"]].astype({"customer_id": object})
        summary = rfm_summary(purchases, stamp)
        kept = kept_share(purchases, returns if len(returns) else None, stamp)
        summary["kept"] = kept.reindex(summary["customer_id"]).fillna(1.0).to_numpy()
        return summary[columns]

    summaries = (
        bought.groupBy("customer_group")
        .cogroup(returned.groupBy("customer_group"))
        .applyInPandas(summarise, SUMMARY_SCHEMA)
        .persist()
    )
    customers = summaries.count()
    if customers < MIN_CUSTOMERS_TO_FIT:
        raise PipelineStateError(
            f"value at {cutoff}: {customers} customers have purchases before the cutoff; the "
            f"CLV model needs at least {MIN_CUSTOMERS_TO_FIT}. Use a later cutoff or "
            "scoring.value.method: recurring."
        )

    def fit(summary: pd.DataFrame) -> pd.DataFrame:
        ordered = summary.drop(columns="_all").sort_values("customer_id", ignore_index=True)
        return pd.DataFrame({"fit": [pickle.dumps(fit_value(ordered, stamp))]})

    whole = summaries.withColumn("_all", F.lit(0)).groupBy("_all")  # one task
    fitted = whole.applyInPandas(fit, "fit BINARY").collect()
    model = pickle.loads(fitted[0]["fit"])  # our own executors pickled it
    if model.bg is None:
        log.warning(
            "value at %s: BG/NBD could not be fitted; using each customer's purchase rate so "
            "far instead",
            cutoff,
        )
    if model.repeat_buyers and model.gg is None:
        log.warning(
            "value at %s: Gamma-Gamma could not be fitted; every repeat buyer at the mean "
            "repeat spend",
            cutoff,
        )

    def values(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            worth = values_of(batch, model, horizon_days) * batch["kept"].to_numpy()
            yield pd.DataFrame({"customer_id": batch["customer_id"], VALUE_COLUMN: worth})

    return summaries.mapInPandas(values, f"customer_id STRING, {VALUE_COLUMN} DOUBLE")
