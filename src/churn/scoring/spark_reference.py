"""The reasons' reference on Spark: :func:`churn.scoring.population.latest_labelled_reference`
(:meth:`churn.scoring.explain.Reference.from_labelled`) computed by the executors from
``labels.parquet`` and ``features.parquet``, so that no labelled customer reaches the driver:
the latest labelled cutoff (one row), a median per numeric feature of those who stayed (one
row), the churn rates below and above each numeric feature's typical value (one row), and the
churn rate of each value of a categorical or few-valued feature (at most
:data:`churn.scoring.explain.FEW_VALUES` rows for a number, a row per category for text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from churn.engines.spark import parquet_dataframe, quote_spark_identifier
from churn.scoring.explain import FEW_VALUES, MIN_SIDE_ROWS, Reference
from churn.scoring.reasons import value_key


def spark_reference(scoped: Any, labels: Path, features: Path, columns: list[str]) -> Reference:
    """:func:`latest_labelled_reference` of the labels and features parquet files, by the
    executors of session ``scoped`` (see the module doc). Medians are Spark's exact
    ``median`` (the mean of the two middle values, as pandas'; within a rounding of it)."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency
    from pyspark.sql.types import BooleanType, NumericType  # noqa: PLC0415

    known = parquet_dataframe(scoped, labels).where(F.col("churned").isNotNull())
    latest = known.agg(F.max("cutoff").alias("latest"))
    at = known.join(latest, F.col("cutoff") == F.col("latest")).select(
        "customer_id", "cutoff", F.col("churned").cast("boolean").alias("churned")
    )
    rows = parquet_dataframe(scoped, features)
    labelled = rows.join(at, on=["customer_id", "cutoff"]).persist()
    stayed = labelled.where(~F.col("churned"))
    kinds = {f.name: f.dataType for f in labelled.schema.fields}
    numeric = [n for n in columns if n in kinds and isinstance(kinds[n], NumericType | BooleanType)]
    typical: dict[str, object] = {n: None for n in columns}
    rates: dict[str, dict[str, float]] = {}
    sides: dict[str, tuple[float, float]] = {}

    def col(name: str) -> Any:
        return F.col(quote_spark_identifier(name))

    if numeric:
        medians = stayed.agg(
            *(F.median(col(n).cast("double")).alias(f"m{i}") for i, n in enumerate(numeric))
        ).first()
        distinct = labelled.agg(
            *(F.count_distinct(col(n)).alias(f"d{i}") for i, n in enumerate(numeric))
        ).first()
        for i, name in enumerate(numeric):
            median = None if medians is None else medians[f"m{i}"]
            typical[name] = None if median is None else float(median)
            if distinct is not None and int(distinct[f"d{i}"]) <= FEW_VALUES:
                rates[name] = _rates(labelled, col(name))
        sides = _side_rates(labelled, {n: t for n in numeric if isinstance(t := typical[n], float)})
    for name in columns:
        if name not in kinds or name in numeric:
            continue
        text = col(name).cast("string")
        mode = (
            stayed.where(text.isNotNull())
            .groupBy(text.alias("v"))
            .count()
            .orderBy(F.col("count").desc(), F.col("v").asc())
            .first()
        )
        typical[name] = None if mode is None else str(mode["v"])
        rates[name] = _rates(labelled, text)
    overall = labelled.agg(F.avg(F.col("churned").cast("double")).alias("p")).first()
    rate = float("nan") if overall is None or overall["p"] is None else float(overall["p"])
    return Reference(typical, rates, rate, sides)


def _side_rates(labelled: Any, typical: dict[str, float]) -> dict[str, tuple[float, float]]:
    """The churn rates of the rows below and above each feature's typical value (NaN: fewer
    than :data:`MIN_SIDE_ROWS` rows on that side), in one aggregate row."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    if not typical:
        return {}
    churned = F.col("churned").cast("double")
    parts = []
    for i, (name, value) in enumerate(typical.items()):
        number = F.col(quote_spark_identifier(name)).cast("double")
        for side, rows in (("b", number < F.lit(value)), ("a", number > F.lit(value))):
            parts.append(F.avg(F.when(rows, churned)).alias(f"{side}{i}"))
            parts.append(F.count(F.when(rows, churned)).alias(f"n{side}{i}"))
    row = labelled.agg(*parts).first()

    def rate(key: str) -> float:
        if row is None or row[key] is None or int(row[f"n{key}"]) < MIN_SIDE_ROWS:
            return float("nan")
        return float(row[key])

    return {name: (rate(f"b{i}"), rate(f"a{i}")) for i, name in enumerate(typical)}


def _rates(labelled: Any, value: Any) -> dict[str, float]:
    """The churn rate of each value (missing left out) of the column expression ``value``."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    grouped = (
        labelled.where(value.isNotNull())
        .groupBy(value.alias("v"))
        .agg(F.avg(F.col("churned").cast("double")).alias("rate"))
        .orderBy("v")
        .collect()
    )
    return {value_key(r["v"]): float(r["rate"]) for r in grouped}
