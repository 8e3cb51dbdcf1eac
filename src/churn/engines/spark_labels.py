"""``labels.parquet`` built and written by Spark's executors (``features.engine: spark``): the
labels query of :func:`churn.labels.build_labels` (:func:`churn.labels.labels_sql`), transpiled,
over the events (and explicit churn events) as the executors read them from parquet. Only the
cutoffs go to Spark, and only a count per split comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from churn.engines.spark import parquet_dataframe, spark_dataframe, spark_sql, spark_view
from churn.engines.sql import Table
from churn.labels import NO_CHURNS, cutoff_days, labels_sql
from churn.settings import EventLabelSettings


def spark_label_table(
    scoped: Any,
    events: Table,
    cutoffs: pd.DataFrame,
    settings: EventLabelSettings,
    churn_events: Table | None = None,
    *,
    covered: bool = False,
) -> Any:
    """The labels of ``build_labels(events, cutoffs, settings, churn_events, covered=covered)``
    as a Spark
    DataFrame of session ``scoped``, not collected: ``customer_id``, ``cutoff`` (a timestamp
    without time zone), ``churned`` (boolean, NULL where the window is not observed),
    ``split``, sorted by cutoff then customer. Does not check that every split has labels:
    :func:`spark_split_counts` of the written file tells."""
    spark_view(scoped, events).createOrReplaceTempView("events")
    spark_view(scoped, NO_CHURNS if churn_events is None else churn_events).createOrReplaceTempView(
        "churns"
    )
    spark_dataframe(scoped, cutoff_days(cutoffs)).createOrReplaceTempView("cut")
    query = scoped.sql(spark_sql(labels_sql(settings, covered=covered)))
    return query.selectExpr(
        "customer_id",
        "CAST(DATE_FROM_UNIX_DATE(CAST(cutoff_day AS INT)) AS TIMESTAMP_NTZ) AS cutoff",
        "CAST(churned AS BOOLEAN) AS churned",
        "split",
    ).orderBy("cutoff", "customer_id")


def spark_split_counts(scoped: Any, labels: Path) -> pd.DataFrame:
    """:func:`churn.stages.labels.split_counts` of the labels parquet file ``labels``, counted
    by the executors: one row per split (a few rows reach the driver)."""
    parquet_dataframe(scoped, labels).createOrReplaceTempView("labels")
    counts = scoped.sql(
        """
        SELECT split, COUNT(*) AS rows, COUNT(DISTINCT cutoff) AS cutoffs,
            COUNT(churned) AS known, COUNT_IF(churned) AS churned
        FROM labels GROUP BY split ORDER BY MIN(cutoff)
        """
    )
    out: pd.DataFrame = counts.toArrow().to_pandas()
    return out
