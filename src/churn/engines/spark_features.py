"""``features.parquet`` built and written by Spark's executors (``features.engine: spark``), and
the writer of Spark's outputs (:func:`write_spark_parquet`, labels too).

The same steps as the DuckDB path (:func:`churn.features.build_features`, then
:func:`churn.features.derived.add_derived_features`), with the same definitions:

* the features query of :mod:`churn.features.sql`, transpiled (:func:`spark_sql`), over the
  events and the labels as the executors read them from parquet;
* the rates and the cutoff's month: :func:`churn.features.derived.with_rates` on each Arrow
  batch of the query's result (``mapInPandas``);
* BG/NBD per cutoff: the purchase days (:func:`churn.data.event_summaries.daily_totals_sql`)
  before each cutoff summarised per customer by :func:`churn.modeling.clv.rfm_summary` (in
  groups of customers), fitted by :func:`churn.features.derived.fitted_bgnbd` in one task per
  cutoff, which holds that cutoff's summaries (4 numbers per customer with a purchase);
  the fitted models (one small row per cutoff) are the only rows that reach the driver, and go
  back to the executors with the function that computes
  :func:`churn.features.derived.bgnbd_values` for each customer.

The table is sorted as DuckDB's (cutoff, then customer) and written by one task as one
parquet file, which the driver renames into place: every reader of ``features.parquet``
(pandas, pyarrow by row group, DuckDB, the md5 of the training run's lineage, DVC) reads one
file. That task streams the sorted rows to disk; it never holds the table.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.data.event_summaries import daily_totals_sql
from churn.engines.spark import quote_spark_identifier, spark_sql, spark_view
from churn.engines.sql import Table
from churn.features.catalogue import FeatureSpec
from churn.features.derived import bgnbd_names, bgnbd_values, fitted_bgnbd, with_rates
from churn.features.sql import features_sql
from churn.io.files import staging_folder
from churn.modeling.clv import rfm_summary

RATE_COLUMNS = ("orders_per_month", "spend_per_month", "recency_share_of_tenure")
SUMMARY_SCHEMA = "cutoff_day BIGINT, customer_id STRING, frequency BIGINT, recency DOUBLE, T DOUBLE"
MODEL_SCHEMA = "cutoff_day BIGINT, model BINARY"


def spark_feature_table(
    scoped: Any,
    events: Table,
    labels: Table | Any,
    spec: FeatureSpec,
    customers: Table | None = None,
    *,
    calendar: bool,
    bgnbd: bool,
    horizon_days: int,
    groups: int = 4,
) -> Any:
    """The features of every (customer_id, cutoff) of ``labels`` as a Spark DataFrame of
    session ``scoped`` (see :func:`churn.engines.spark.scoped_session`), not collected: the
    columns, types and row order of ``add_derived_features(build_features(...))`` (customer_id,
    cutoff as a timestamp without time zone, the catalogue's columns, the derived ones; every
    missing number NULL, as pandas writes NaN). ``groups``: groups of customers per cutoff that
    :func:`rfm_summary` runs on at a time."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency
    from pyspark.sql.types import DoubleType, StructField, StructType  # noqa: PLC0415

    spark_view(scoped, events).createOrReplaceTempView("events")
    spark_view(scoped, labels).createOrReplaceTempView("labels")
    if customers is not None:
        spark_view(scoped, customers).createOrReplaceTempView("customers")
    scoped.sql(
        "SELECT DISTINCT customer_id, CAST(UNIX_DATE(CAST(cutoff AS DATE)) AS BIGINT) AS "
        "cutoff_day FROM labels"
    ).createOrReplaceTempView("pairs")
    query = scoped.sql(spark_sql(features_sql(spec)))
    names = [c for c in query.columns if c not in ("customer_id", "cutoff_day")]
    base = query.selectExpr(
        "customer_id",
        "CAST(DATE_FROM_UNIX_DATE(CAST(cutoff_day AS INT)) AS TIMESTAMP_NTZ) AS cutoff",
        *(quote_spark_identifier(n) for n in names),
    )

    added = [*RATE_COLUMNS, *(["cutoff_month"] if calendar else [])]
    # Spark parses the names of a UDF's schema, and feature names come from the data (any
    # text, backticks included): the batches travel under positional names
    real = list(base.columns)
    aliases = [f"_c{i}" for i in range(len(real))]
    fields = zip(aliases, base.schema.fields, strict=True)
    rated_schema = StructType(
        [
            *(StructField(a, f.dataType, f.nullable) for a, f in fields),
            *(StructField(n, DoubleType()) for n in added),
        ]
    )

    def rates(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            batch.columns = real
            rated = with_rates(batch, calendar=calendar)
            rated.columns = [*aliases, *added]
            yield rated

    out = base.toDF(*aliases).mapInPandas(rates, rated_schema).toDF(*real, *added)
    if bgnbd:
        values = _bgnbd_table(scoped, spec, horizon_days, groups)
        out = out.join(values, on=["customer_id", "cutoff"], how="left")
        added += bgnbd_names(horizon_days)
    # pandas' NaN is a missing value, which Spark keeps apart from NULL
    nulls = {n: F.when(~F.isnan(F.col(n)), F.col(n)) for n in added}
    ordered = ["customer_id", "cutoff", *names, *added]  # names from the data: quoted
    out = out.withColumns(nulls).select(*(F.col(quote_spark_identifier(n)) for n in ordered))
    return out.orderBy("cutoff", "customer_id")


def _bgnbd_table(scoped: Any, spec: FeatureSpec, horizon_days: int, groups: int) -> Any:
    """customer_id, cutoff and the BG/NBD columns of each customer with a purchase before a
    cutoff of ``pairs`` where BG/NBD could be fitted (see the module doc)."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    if not spec.activity_event_types:
        return scoped.sql(
            "SELECT customer_id, CAST(NULL AS TIMESTAMP_NTZ) AS cutoff, "
            + ", ".join(f"CAST(NULL AS DOUBLE) AS `{n}`" for n in bgnbd_names(horizon_days))
            + " FROM pairs WHERE FALSE"
        )
    scoped.sql(spark_sql(daily_totals_sql(spec.activity_event_types))).createOrReplaceTempView(
        "purchase_days"
    )
    history = scoped.sql(
        f"""
        SELECT /*+ BROADCAST(c) */ c.cutoff_day, d.customer_id,
            CAST(DATE_FROM_UNIX_DATE(CAST(d.day AS INT)) AS TIMESTAMP_NTZ) AS ts, d.amount,
            PMOD(HASH(d.customer_id), {int(groups)}) AS customer_group
        FROM purchase_days AS d JOIN (SELECT DISTINCT cutoff_day FROM pairs) AS c
            ON d.day < c.cutoff_day
        """
    )

    def summarise(frame: pd.DataFrame) -> pd.DataFrame:
        day = int(frame["cutoff_day"].iloc[0])
        cutoff = pd.Timestamp(day, unit="D")
        summary = rfm_summary(frame[["customer_id", "ts", "amount"]], cutoff)
        return summary[["customer_id", "frequency", "recency", "T"]].assign(cutoff_day=day)

    summaries = history.groupBy("cutoff_day", "customer_group").applyInPandas(
        summarise, SUMMARY_SCHEMA
    )

    def fit(summary: pd.DataFrame) -> pd.DataFrame:
        # in rfm_summary's order, so the fit adds up the likelihood as the DuckDB path does
        ordered = summary.sort_values("customer_id", ignore_index=True)
        model = fitted_bgnbd(ordered)
        if model is None:
            return pd.DataFrame(columns=["cutoff_day", "model"])
        day = int(summary["cutoff_day"].iloc[0])
        return pd.DataFrame({"cutoff_day": [day], "model": [pickle.dumps(model)]})

    fitted = summaries.groupBy("cutoff_day").applyInPandas(fit, MODEL_SCHEMA).collect()
    # the models our own executors pickled: one row per cutoff
    models = {int(row["cutoff_day"]): pickle.loads(row["model"]) for row in fitted}
    names = bgnbd_names(horizon_days)
    schema = "customer_id STRING, cutoff TIMESTAMP_NTZ, " + ", ".join(
        f"{quote_spark_identifier(n)} DOUBLE" for n in names
    )

    def values(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            days = batch["cutoff_day"].to_numpy()
            for day in np.unique(days):
                model = models.get(int(day))
                if model is None:
                    continue
                part = bgnbd_values(batch[days == day], model, horizon_days)
                part.insert(1, "cutoff", pd.Timestamp(int(day), unit="D"))
                yield part

    kept = summaries.where(F.col("cutoff_day").isin(list(models)))
    return kept.mapInPandas(values, schema)


def write_spark_parquet(
    frame: Any, dest: Path, check: Callable[[Path], None] | None = None
) -> None:
    """Write Spark DataFrame ``frame`` as the one parquet file ``dest``, in its order: one task
    writes it into a staging folder beside ``dest`` (on the same file system, which every
    executor must see at the same path), which the driver renames over ``dest``. ``check``:
    called with the written file before the rename; what it raises leaves ``dest`` as it was."""
    staging = staging_folder(dest, f".{dest.name}.spark.")
    try:
        frame.coalesce(1).write.mode("overwrite").parquet(staging.resolve().as_uri())
        parts = sorted(staging.glob("part-*.parquet"))
        if len(parts) != 1:
            raise RuntimeError(f"Spark wrote {len(parts)} parquet parts into {staging}, expected 1")
        if check is not None:
            check(parts[0])
        os.replace(parts[0], dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
