"""The whole-list steps of ``churn score`` on Spark, from the per-customer rows the executors
computed (:mod:`churn.scoring.spark_rows`) to the ranked list, with the local rules of
:func:`churn.scoring.ranking.score_customers` reproduced from small summaries:

* ranks by Spark's sort (priority, then customer id: UTF-8 byte order is code point order, as
  Python compares strings), numbered per range partition from a count per partition, so no
  step gathers the list in one task (:func:`_with_rank`);
* percentiles from the first rank of each value (the share of customers at or below, as
  pandas' rank by its highest tie over the count);
* percentile tiers from the customers at or above each distinct probability (its last rank):
  the cut nearest the wanted share, one row back per tier;
* with priority ``expected_value_saved``, the local doubling search over the bound of any
  action, each round an aggregate (the budget-th largest positive value saved, the largest
  bound left): the same explained set, so the same ranks;
* the control group: the count per stratum (risk tier x action) gives the quotas
  (:func:`churn.scoring.control.stratum_quotas`), the lowest draws of each stratum are taken
  (ties by customer id, which is the local row order of a population in customer order);
* ``scoring.json``, the policies and the SHAP importance from aggregates; the charts from at
  most :data:`churn.reporting.shap_figures.MAX_POINTS` explained customers, the very ones the
  local charts draw.

What reaches the driver: a handful of one-row aggregates, a row per partition of each sort, a
row per stratum, per action and per tier, a row per feature for the importance, and the
charts' sample.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn.modeling.model import ChurnModel
from churn.reporting.shap_figures import MAX_POINTS, importance_of_means
from churn.scoring.control import control_plan, control_power, stratum_quotas
from churn.scoring.explain import Contributions
from churn.scoring.outreach import TIERS, outreach_size, tier_definition_of_spans
from churn.scoring.playbook import best_actions
from churn.scoring.ranking import CONTACT, CONTROL, NOT_IN_OUTREACH, ModelIdentity, score_columns
from churn.scoring.reasons import ReasonCatalogue
from churn.scoring.spark_rows import uplift_columns
from churn.settings import PlaybookSettings, ScoringSettings


@dataclass(frozen=True)
class SparkList:
    """The list of :func:`spark_list`: ``scores`` a Spark DataFrame (not collected) of the
    local list's columns sorted by ``priority_rank``; the rest small."""

    scores: Any
    summary: dict[str, Any]
    """``scoring.json`` as :func:`churn.scoring.summary.scoring_summary` makes it."""
    importance: dict[str, Any]
    """:func:`churn.reporting.shap_figures.importance` of the explained customers."""
    contributions: Contributions
    """SHAP values of the customers the charts draw (all explained ones, up to MAX_POINTS)."""
    explained: pd.DataFrame
    """Their model features (:meth:`ChurnModel.matrix`), aligned with ``contributions``."""


def _with_rank(rows: Any, name: str, column: str, *, ascending: bool = False) -> Any:
    """``rows`` with ``name``: 1 for the row with the largest ``column`` (smallest with
    ``ascending``), ties by customer id, numbered without gathering the rows in one task:
    Spark's sort spreads them over range partitions, a count per partition (a row each)
    gives each partition's first number, and each task numbers its own rows in order."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency
    from pyspark.sql.types import LongType, StructField, StructType  # noqa: PLC0415

    key = F.col(column).asc() if ascending else F.col(column).desc()
    ordered = rows.orderBy(key, F.col("customer_id").asc())
    # kept by the executors, its plan cut: each rank would otherwise carry every step before
    ordered = ordered.withColumn("_part", F.spark_partition_id()).localCheckpoint()
    sizes = {int(r["_part"]): int(r["count"]) for r in ordered.groupBy("_part").count().collect()}
    first, total = {}, 0
    for part in sorted(sizes):
        first[part], total = total, total + sizes[part]
    names = list(ordered.columns)
    aliases = [f"_c{i}" for i in range(len(names))]
    at = names.index("_part")
    fields = [
        StructField(a, f.dataType, f.nullable)
        for a, f in zip(aliases, ordered.schema.fields, strict=True)
    ]

    def number(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        done = 0  # one task numbers one partition, its batches in order
        for batch in batches:
            if not len(batch):
                continue
            start = first[int(batch[aliases[at]].to_numpy()[0])] + done + 1
            batch["_rank"] = np.arange(start, start + len(batch), dtype="int64")
            done += len(batch)
            yield batch

    schema = StructType([*fields, StructField("_rank", LongType())])
    numbered = ordered.toDF(*aliases).mapInPandas(number, schema).toDF(*names, name)
    return numbered.drop("_part")


def _with_share_at_or_below(rows: Any, name: str, column: str, rank: str, n: int) -> Any:
    """``rows`` with ``name``: the percent of rows whose ``column`` is at or below the row's
    (pandas' rank by the highest tie, over the count, x 100), from ``rank``, a rank of
    ``column`` from the largest (:func:`_with_rank`): at or below = n - (first rank of the
    row's value) + 1."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    firsts = rows.groupBy(column).agg(F.min(rank).alias("_first"))
    share = (F.lit(n) - F.col("_first") + F.lit(1)) / F.lit(n) * 100.0
    return rows.join(firsts, on=column).withColumn(name, share).drop("_first")


def spark_list(
    rows: Any,
    features: Any,
    model: ChurnModel,
    *,
    catalogue: ReasonCatalogue,
    settings: ScoringSettings,
    playbook: PlaybookSettings,
    identity: ModelIdentity,
    scored_at: dt.datetime,
    uplift_actions: Sequence[str] = (),
) -> SparkList:
    """The list of ``rows`` (:func:`churn.scoring.spark_rows.customer_rows` of ``features``,
    the population's Spark DataFrame), as :func:`churn.scoring.ranking.score_customers`
    makes it of the same customers (see the module doc). ``uplift_actions``: the actions of
    the uplift model whose estimates ``rows`` carry (none without one): they value those
    actions, as the local ``uplift`` does."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    outreach = settings.outreach
    rows = rows.localCheckpoint()  # computed once, kept by the executors
    n = rows.count()
    budget = outreach_size(n, outreach)
    money = rows.where(F.col("expected_value") > 0).limit(1).count() > 0
    p, value = F.col("churn_probability"), F.col("expected_value")
    rows = rows.withColumns({"worth": value if money else F.lit(1.0), "value_at_risk": p * value})
    rows = _with_rank(rows, "rank_p", "churn_probability")
    rows = _with_share_at_or_below(rows, "risk_percentile", "churn_probability", "rank_p", n)
    if money:
        rows = _with_rank(rows, "rank_value", "expected_value")
        rows = _with_share_at_or_below(
            rows, "value_percentile", "expected_value", "rank_value", n
        ).drop("rank_value")
    else:
        rows = rows.withColumn("value_percentile", F.lit(0.0))
    rows = rows.withColumn("risk_tier", _tiers(rows, n, settings))
    bound = outreach.priority == "expected_value_saved"
    rows = _with_choice(rows, playbook, bound=bound, uplift_actions=uplift_actions)
    rows = _with_rank(rows, "rank_var", "value_at_risk")
    base = (F.col("rank_p") <= budget) | (F.col("rank_var") <= budget)
    base = base | F.lit(settings.explain == "all")
    saved = F.col("saved")
    if outreach.priority == "expected_value_saved":
        rows = _with_rank(rows, "bound_rank", "bound")
        size = _explained_size(rows, base, n, budget)
        done = base | (F.col("bound_rank") <= size)
        rows = rows.withColumns(
            {"done": done, "key": F.when(done, saved).otherwise(F.col("bound"))}
        )
        rows = _with_rank(rows, "priority_rank", "key")
        in_outreach = (F.col("priority_rank") <= budget) & F.col("done") & (saved > 0)
    else:
        by = "rank_var" if outreach.priority == "value_at_risk" and money else "rank_p"
        rows = rows.withColumns({"done": base, "priority_rank": F.col(by)})
        in_outreach = F.col("priority_rank") <= budget
    kept = F.col("in_outreach") if settings.explain == "outreach" else F.lit(True)
    rows = rows.withColumns(
        {
            "in_outreach": in_outreach,
            "expected_value_saved": F.when(F.col("done"), saved).otherwise(F.lit(float("nan"))),
        }
    )
    rows = rows.withColumns(
        {
            "kept": kept,
            "action_kept": F.when(kept, F.col("action")).otherwise(
                F.lit(playbook.not_contacted_action)
            ),
        }
    )
    rows = rows.withColumn(
        "stratum", F.concat(F.col("risk_tier"), F.lit(" x "), F.col("action_kept"))
    )
    rows, power = _with_control(rows, settings)
    rows = rows.localCheckpoint()
    scores = _list_columns(rows, settings, playbook, identity, scored_at)
    design = {
        "risk_tiers": _tier_definition(rows, settings),
        "control_group": power,
        "priority": outreach.priority,
        "policies": _policies(rows, budget, outreach.priority),
    }
    contributions, explained = _chart_sample(rows, features, model)
    return SparkList(
        scores,
        _summary(scores, design, catalogue.version, n),
        _importance(rows, model, catalogue, contributions.base),
        contributions,
        explained,
    )


def _tiers(rows: Any, n: int, settings: ScoringSettings) -> Any:
    """The risk tier column (:func:`churn.scoring.outreach.risk_tier`)."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    tiers, p = settings.risk_tiers, F.col("churn_probability")
    if tiers.method != "percentile":
        high, medium = p >= tiers.high, p >= tiers.medium
    else:
        # customers at or above each probability: the last rank (from the riskiest) it has
        above = rows.groupBy("churn_probability").agg(F.max("rank_p").alias("above"))

        def riskiest_share(percent: float) -> Any:
            # riskiest_share: the boundary whose count above is nearest the share (k = 0,
            # nobody, wins ties, then the riskier boundary)
            target = n * percent / 100.0
            gap = F.abs(F.col("above") - F.lit(target))
            best = above.select(p, gap.alias("gap")).orderBy("gap", p.desc()).first()
            if best is None or target <= best["gap"]:
                return F.lit(False)
            return p >= F.lit(float(best["churn_probability"]))

        high = riskiest_share(tiers.high_percent)
        medium = riskiest_share(tiers.high_percent + tiers.medium_percent)
    return F.when(high, "High").when(medium, "Medium").otherwise("Low")


def _with_choice(
    rows: Any, playbook: PlaybookSettings, *, bound: bool, uplift_actions: Sequence[str] = ()
) -> Any:
    """``rows`` with each customer's best action (:func:`best_actions`): ``action``, ``saved``,
    ``saved_sd``, and with ``bound`` the most any action could save (``bound``); the actions
    of ``uplift_actions`` valued by the uplift estimates ``rows`` carry
    (:func:`~churn.scoring.spark_rows.uplift_columns`)."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType  # noqa: PLC0415

    names = list(rows.columns)
    aliases = [f"_c{i}" for i in range(len(names))]
    added = [
        StructField("action", StringType()),
        StructField("saved", DoubleType()),
        StructField("saved_sd", DoubleType()),
        StructField("bound", DoubleType()),
    ]
    fields = [
        StructField(a, f.dataType, f.nullable) for a, f in zip(aliases, rows.schema, strict=True)
    ]
    estimates = dict(zip(uplift_actions, uplift_columns(uplift_actions), strict=True))

    def choose(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            batch.columns = names
            p = batch["churn_probability"].to_numpy(dtype="float64")
            pct = batch["value_percentile"].to_numpy(dtype="float64")
            worth = batch["worth"].to_numpy(dtype="float64")
            code = batch["top_reason"].astype(object)
            uplift = (
                pd.DataFrame({a: batch[c].to_numpy(dtype="float64") for a, c in estimates.items()})
                if estimates
                else None
            )
            choice = best_actions(code, p, pct, worth, playbook, uplift=uplift)
            batch.columns = aliases
            batch["action"] = choice.action
            batch["saved"] = choice.saved
            batch["saved_sd"] = choice.saved_sd
            batch["bound"] = (
                best_actions(None, p, pct, worth, playbook, uplift=uplift).saved
                if bound
                else np.nan
            )
            yield batch

    out = rows.toDF(*aliases).mapInPandas(choose, StructType([*fields, *added]))
    return out.toDF(*names, *(f.name for f in added))


def _explained_size(rows: Any, base: Any, n: int, budget: int) -> int:
    """The bound rank up to which :func:`churn.scoring.targeting.explain_customers` explains
    customers with priority ``expected_value_saved``: its doubling search, each round two
    aggregates (the budget-th largest positive value saved, the largest bound left)."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    size = max(budget, 1)
    while True:
        done = base | (F.col("bound_rank") <= size)
        positive = rows.where(done & (F.col("saved") > 0))
        floor = 0.0
        if budget > 0 and positive.count() >= budget:
            top = positive.select("saved").orderBy(F.col("saved").desc()).offset(budget - 1)
            floor = float(top.first()["saved"])
        rest = rows.where(~done).agg(F.max("bound").alias("most")).first()
        most = None if rest is None else rest["most"]
        if size >= n or most is None or most <= floor:
            return size
        size = min(n, 2 * size)


def _with_control(rows: Any, settings: ScoringSettings) -> tuple[Any, dict[str, Any]]:
    """``rows`` with ``control_group`` (:func:`churn.scoring.control.hold_out_control`) and
    what the group can measure."""
    from pyspark.sql import Window  # noqa: PLC0415 - optional dependency
    from pyspark.sql import functions as F  # noqa: PLC0415

    outreach = settings.outreach
    in_slice = rows.where("in_outreach")
    seen = in_slice.agg(F.count(F.lit(1)).alias("n"), F.avg("churn_probability").alias("p"))
    first = seen.first()
    n_slice = int(first["n"])
    base_rate = float(first["p"]) if n_slice else 0.0
    plan = control_plan(outreach, n_slice, base_rate)
    control = F.lit(False)
    if plan.share > 0 and n_slice:
        sizes = {
            r["stratum"]: int(r["count"]) for r in in_slice.groupBy("stratum").count().collect()
        }
        quotas = stratum_quotas(sizes, plan.share)
        take = F.create_map(*(F.lit(x) for k, v in quotas.items() for x in (k, v)))
        within = Window.partitionBy("in_outreach", "stratum").orderBy("draw", "customer_id")
        control = F.col("in_outreach") & (F.row_number().over(within) <= take[F.col("stratum")])
    rows = rows.withColumn("control_group", control)
    n_control = rows.where("control_group").count()
    return rows, control_power(plan, outreach, n_control, n_slice - n_control, base_rate)


def _list_columns(
    rows: Any,
    settings: ScoringSettings,
    playbook: PlaybookSettings,
    identity: ModelIdentity,
    scored_at: dt.datetime,
) -> Any:
    """The columns of scores.parquet (:func:`score_columns`), sorted by priority."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    control, kept, in_slice = F.col("control_group"), F.col("kept"), F.col("in_outreach")
    status = F.when(control, CONTROL).when(in_slice, CONTACT).otherwise(NOT_IN_OUTREACH)
    none = F.lit(playbook.not_contacted_action)
    columns: dict[str, Any] = {
        "outreach_status": status,
        "recommended_action": F.when(control, none).otherwise(F.col("action_kept")),
        "planned_action": F.when(in_slice, F.col("action_kept")).otherwise(none),
        "model_name": F.lit(identity.name),
        "model_version": F.lit(identity.version),
        "scored_at": F.lit(scored_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
    }
    for k in range(1, settings.n_reasons + 1):
        for part in ("code", "text", "actionable"):
            name = f"reason_{k}_{part}"
            columns[name] = F.when(kept, F.col(name))
    return (
        rows.withColumns(columns)
        .orderBy("priority_rank")
        .select(*score_columns(settings.n_reasons))
    )


def _tier_definition(rows: Any, settings: ScoringSettings) -> dict[str, Any]:
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    p = F.col("churn_probability")
    spans = {
        r["risk_tier"]: (float(r["low"]), float(r["high"]))
        for r in rows.groupBy("risk_tier")
        .agg(F.min(p).alias("low"), F.max(p).alias("high"))
        .collect()
    }
    return tier_definition_of_spans(settings.risk_tiers, spans)


def _policies(rows: Any, budget: int, chosen: str) -> dict[str, Any]:
    """:func:`churn.scoring.targeting.compare_policies` from sums per action of each slice."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    slices = {
        "churn_probability": F.col("rank_p") <= budget,
        "value_at_risk": F.col("rank_var") <= budget,
        "expected_value_saved": F.col("in_outreach"),
    }
    p = F.col("churn_probability")
    out: dict[str, Any] = {}
    for policy, members in slices.items():
        per_action = (
            rows.where(members)
            .groupBy("action")
            .agg(
                F.count(F.lit(1)).alias("n"),
                F.sum(p).alias("p"),
                F.sum("saved").alias("saved"),
                F.sum("saved_sd").alias("sd"),
                F.sum(p * F.col("worth")).alias("var"),
            )
            .collect()
        )
        count = sum(int(r["n"]) for r in per_action)
        out[policy] = {
            "chosen": policy == chosen,
            "customers": count,
            "mean_churn_probability": sum(float(r["p"]) for r in per_action) / count
            if count
            else None,
            "expected_value_saved": float(sum(float(r["saved"]) for r in per_action)),
            "expected_value_saved_sd": float(
                math.sqrt(sum(float(r["sd"]) ** 2 for r in per_action))
            ),
            "value_at_risk": float(sum(float(r["var"]) for r in per_action)),
        }
    return out


def _counts(frame: Any, column: str) -> dict[str, int]:
    """``value_counts`` of ``column`` (missing left out): by count, ties in order of first
    appearance in the list."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    counted = (
        frame.where(F.col(column).isNotNull())
        .groupBy(column)
        .agg(F.count(F.lit(1)).alias("n"), F.min("priority_rank").alias("first"))
        .orderBy(F.col("n").desc(), "first")
        .collect()
    )
    return {str(r[column]): int(r["n"]) for r in counted}


def _summary(scores: Any, design: dict[str, Any], catalogue_version: str, n: int) -> dict[str, Any]:
    """:func:`churn.scoring.summary.scoring_summary` from aggregates of ``scores``."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    p, var = F.col("churn_probability"), F.col("value_at_risk")
    whole = scores.agg(
        F.min("cutoff").alias("cutoff"),
        F.avg(p).alias("p"),
        F.sum("expected_value").alias("value"),
        F.sum(var).alias("var"),
        F.first("model_name").alias("name"),
        F.first("model_version").alias("version"),
    ).first()
    outreach = scores.where("in_outreach")
    contact = outreach.where(~F.col("control_group"))
    reach = outreach.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(var).alias("var"),
        F.avg(p).alias("p"),
        F.sum(F.when(~F.col("control_group"), 1).otherwise(0)).alias("contact"),
        F.sum(F.when(~F.col("control_group"), F.col("expected_value_saved"))).alias("saved"),
    ).first()
    tiers = {r["risk_tier"]: int(r["count"]) for r in scores.groupBy("risk_tier").count().collect()}
    in_reach, to_contact = int(reach["n"]), int(reach["contact"] or 0)
    return {
        "cutoff": str(pd.Timestamp(whole["cutoff"]).date()),
        "model": {"name": whole["name"], "version": whole["version"]},
        "reason_catalogue": catalogue_version,
        "scored": n,
        "mean_churn_probability": float(whole["p"]),
        "risk_tiers": {name: tiers.get(name, 0) for name in TIERS},
        "risk_tier_definition": design["risk_tiers"],
        "control_group_power": design["control_group"],
        "expected_value_total": float(whole["value"]),
        "value_at_risk_total": float(whole["var"]),
        "outreach": {
            "customers": in_reach,
            "to_contact": to_contact,
            "control_group": in_reach - to_contact,
            "value_at_risk": float(reach["var"] or 0.0),
            "mean_churn_probability": float("nan") if reach["p"] is None else float(reach["p"]),
            "expected_value_saved": float(reach["saved"] or 0.0),
        },
        "priority": design["priority"],
        "policies": design["policies"],
        "recommended_actions": _counts(contact, "recommended_action"),
        "top_reasons": _counts(outreach, "reason_1_code"),
    }


def _importance(
    rows: Any, model: ChurnModel, catalogue: ReasonCatalogue, base: float
) -> dict[str, Any]:
    """Mean |SHAP| per feature and per reason over the explained customers, summed by the
    executors: a row per feature and one row of reasons reach the driver."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - optional dependency

    kept = rows.where("kept")
    n = kept.count()
    names = list(model.feature_names)
    per_feature = np.zeros(len(names))
    per_reason = np.zeros(len(catalogue.reasons))
    if n:
        exploded = kept.select(F.posexplode("contributions").alias("i", "v"))
        for r in exploded.groupBy("i").agg(F.avg(F.abs("v")).alias("m")).collect():
            per_feature[int(r["i"])] = float(r["m"])
        position = {name: i for i, name in enumerate(names)}
        sums = []
        for j, reason in enumerate(catalogue.reasons):
            total = F.lit(0.0)
            for name in reason.features:
                total = total + F.col("contributions")[position[name]]
            sums.append(F.avg(F.abs(total)).alias(f"r{j}"))
        means = kept.agg(*sums).first()
        per_reason = np.array([float(means[f"r{j}"]) for j in range(len(catalogue.reasons))])
    return importance_of_means(
        names, per_feature, reasons=catalogue.codes, per_reason=per_reason, n=n, base=base
    )


def _chart_sample(
    rows: Any, features: Any, model: ChurnModel
) -> tuple[Contributions, pd.DataFrame]:
    """The explained customers the local charts draw (all of them, or MAX_POINTS chosen as
    :func:`churn.reporting.shap_figures.beeswarm_figure` chooses them, in customer order):
    their SHAP values and model features, the only customer rows that reach the driver."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    kept = rows.where("kept").select("customer_id", "contributions", "shap_base")
    n = kept.count()
    if n > MAX_POINTS:
        chosen = np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))
        numbered = _with_rank(kept, "at", "customer_id", ascending=True)
        kept = numbered.where((F.col("at") - 1).isin([int(i) for i in chosen])).drop("at")
    names = list(model.feature_names)
    wanted = features.select("customer_id", *(F.col(f"`{c.replace('`', '``')}`") for c in names))
    sample = kept.join(wanted, on="customer_id").orderBy("customer_id").toArrow().to_pandas()
    frame = sample.drop(columns=["contributions", "shap_base"])
    values = (
        np.vstack(sample["contributions"].to_numpy()) if len(sample) else np.zeros((0, len(names)))
    )
    base = float(sample["shap_base"].iloc[0]) if len(sample) else 0.0
    matrix = model.matrix(frame.astype({"customer_id": object}))
    return Contributions(values, base, tuple(names)), matrix
