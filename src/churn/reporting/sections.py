"""The sections of ``report.html``, each built from what earlier stages wrote (frames, the
parsed JSON outputs, PNG bytes): nothing here reads or writes a file."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churn.engines import sql
from churn.evaluation.summaries import backtest_folds, cross_validation_aucs
from churn.reporting.list_values import ListValues
from churn.reporting.model_figures import backtest_figure, counts_figure, drift_figure
from churn.reporting.page import Figure, KeyNumbers, Note, Png, Section, Table
from churn.reporting.retention import (
    Activity,
    churn_rate_by_cutoff,
    cohort_retention,
    repeat_purchase_rate,
)
from churn.reporting.retention_figures import (
    churn_rate_figure,
    cohort_retention_figure,
    repeat_purchase_figure,
    value_at_risk_by_tier_figure,
    value_histogram_figure,
)
from churn.scoring.outreach import describe_tiers, misread_tiers

METRIC_COLUMNS = ("roc_auc", "pr_auc", "brier", "ece", "lift_top_decile")
PLOTS = (
    ("roc", "ROC curve: model and baselines on the test cutoff"),
    ("precision_recall", "Precision against recall on the test cutoff"),
    ("calibration", "Calibration: predicted against observed churn rate"),
    ("gains", "Cumulative gains: share of churners reached by contacting the riskiest first"),
)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def business_section(
    labels: sql.Table,
    values: ListValues,
    activity: Activity | None,
    *,
    run_sql: sql.SqlRunner | None = None,
) -> Section:
    """Churn rate, value at stake and at risk; with the ``activity`` of an events pipeline,
    churn over time, cohorts and repeat purchases too. ``labels``: ``labels.parquet`` (a frame
    or the file, aggregated by ``run_sql``, DuckDB when None); ``values``: the scored list's
    (:func:`churn.reporting.list_values.list_values`)."""
    rates = churn_rate_by_cutoff(labels, run_sql=run_sql)
    latest = rates.iloc[-1] if len(rates) else None
    items: list[Any] = []
    numbers = [
        ("customers scored", f"{values.customers:,}"),
        ("expected value at stake", f"{values.totals['expected_value']:,.0f}"),
        ("value at risk", f"{values.totals['value_at_risk']:,.0f}"),
    ]
    if latest is not None:
        numbers.insert(
            0,
            (f"churn rate at {pd.Timestamp(latest['cutoff']).date()}", _pct(latest["churn_rate"])),
        )
    if activity is not None:
        events, types = activity.events, activity.activity_event_types
        horizon, run = activity.horizon_days, activity.run_sql
        repeat = repeat_purchase_rate(events, types, within_days=horizon, run_sql=run)
        numbers.append((f"repeat purchase within {horizon} days", _pct(repeat.overall)))
        items.append(KeyNumbers(numbers))
        items.append(Figure(churn_rate_figure(rates, horizon_days=horizon)))
        cohorts = cohort_retention(events, types, run_sql=run)
        items.append(Figure(cohort_retention_figure(cohorts)))
        items.append(Figure(repeat_purchase_figure(repeat, within_days=horizon)))
    else:
        items.append(KeyNumbers(numbers))
        items.append(
            Note("A snapshot has one date: no churn rate over time, cohorts or repeat purchases.")
        )
    items.append(Figure(value_histogram_figure(values.histogram)))
    items.append(Figure(value_at_risk_by_tier_figure(values.by_tier)))
    return Section("Retention", items, "retention")


def model_section(metrics: dict[str, Any], plots: dict[str, bytes], backtest: Any) -> Section:
    """The model against its baselines on the test cutoff. ``metrics``: ``metrics.json``;
    ``plots``: the PNGs of ``churn train`` by name (those of :data:`PLOTS` that exist);
    ``backtest``: ``backtest.json`` (:mod:`churn.evaluation.summaries`), or None."""
    rows = [{"model": "churn model", **{k: metrics[k] for k in METRIC_COLUMNS}}]
    rows += [
        {"model": name.replace("_", " "), **{k: b[k] for k in METRIC_COLUMNS}}
        for name, b in metrics.get("baselines", {}).items()
    ]
    table = pd.DataFrame(rows).round(3)
    cv = ""
    if "cv_roc_auc_mean" in metrics:
        mean, std = metrics["cv_roc_auc_mean"], metrics["cv_roc_auc_std"]
        cv = f"; 5-fold CV ROC AUC {mean:.3f} ± {std:.3f}"
    interval = metrics.get("roc_auc_interval")  # absent from metrics of older versions
    spread = (
        f"; ROC AUC {interval['confidence']:.0%} interval {interval['low']:.3f} to "
        f"{interval['high']:.3f}"
        if interval
        else ""
    )
    items: list[Any] = [
        Note(
            f"Test cutoff: {metrics['n_test']:,} customers, {metrics['positive_rate']:.1%} churned"
            f"{spread}{cv}. No training, early-stopping or calibration step saw these rows."
        ),
        *(Note(f"Warning from churn train: {w}") for w in metrics.get("warnings", [])),
        Table(table, "Model and baselines on the same test rows (ECE: expected calibration error)"),
    ]
    items += [Png(plots[name], caption) for name, caption in PLOTS if name in plots]
    if folds := backtest_folds(backtest):  # rolling-origin folds of an event pipeline
        items.append(Figure(backtest_figure(folds, metrics)))
    elif aucs := cross_validation_aucs(backtest):
        listed = ", ".join(f"{auc:.3f}" for auc in aucs)
        items.append(Note(f"ROC AUC of the {len(aucs)} cross-validation folds: {listed}."))
    return Section("Model", items, "model")


TOP_ROWS = 15
"""Customers the page lists, the first to contact."""

TOP_COLUMNS = [
    "priority_rank",
    "customer_id",
    "churn_probability",
    "value_at_risk",
    "reason_1_text",
    "recommended_action",
]
"""Their columns."""


def outreach_section(
    summary: dict[str, Any],
    first_to_contact: pd.DataFrame,
    shap_plots: tuple[bytes | None, bytes | None],
) -> Section:
    """Who to contact and why. ``summary``: ``scoring.json``; ``first_to_contact``: the first
    :data:`TOP_ROWS` rows of ``scores.parquet`` in the outreach slice and not held out, with
    :data:`TOP_COLUMNS`; ``shap_plots``: the beeswarm and bar PNGs of ``churn score`` (None
    where missing)."""
    outreach = summary["outreach"]
    items: list[Any] = [
        KeyNumbers(
            [
                ("in the outreach slice", f"{outreach['customers']:,}"),
                ("to contact", f"{outreach['to_contact']:,}"),
                ("control group (do not contact)", f"{outreach['control_group']:,}"),
                ("value at risk in the slice", f"{outreach['value_at_risk']:,.0f}"),
                ("mean churn probability in the slice", _pct(outreach["mean_churn_probability"])),
            ]
        ),
    ]
    if summary.get("risk_tier_definition"):  # absent from lists scored before tier methods
        items.append(Note(describe_tiers(summary["risk_tier_definition"])))
        misread = misread_tiers(summary["risk_tier_definition"])
        if misread:
            items.append(Note(misread[0].upper() + misread[1:] + "."))
    if summary.get("control_group_power"):
        items.append(Note(_control_power_text(summary["control_group_power"])))
    if summary.get("policies"):
        items.append(Table(_policies_table(summary["policies"]), POLICIES_CAPTION))
    items += [
        Figure(
            counts_figure(
                summary["top_reasons"],
                title="Top reason of each customer in the outreach slice",
                xlabel="customers",
            )
        ),
        Figure(
            counts_figure(
                summary["recommended_actions"],
                title="Recommended actions (control group excluded)",
                xlabel="customers",
            )
        ),
    ]
    beeswarm, bar = shap_plots
    items += [
        Png(png, caption)
        for png, caption in (
            (bar, "What the model leans on most (mean |SHAP|)"),
            (beeswarm, "How each feature moves risk, customer by customer"),
        )
        if png is not None
    ]
    items.append(Table(first_to_contact[TOP_COLUMNS].round(3), "The first customers to contact"))
    return Section("Who to contact, and why", items, "outreach")


POLICIES_CAPTION = (
    "Who each targeting policy would contact within the same budget, and the value their best "
    "actions are expected to save (P(churn) x effect x value - cost, effects as the playbook's "
    "priors; sd: from the effects' uncertainty). The list follows the marked policy."
)


def _policies_table(policies: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {
            "policy": name.replace("_", " ") + (" (this list)" if p["chosen"] else ""),
            "customers": p["customers"],
            "mean churn probability": round(p["mean_churn_probability"] or 0.0, 3),
            "value at risk": _whole(p["value_at_risk"]),
            "expected value saved": _whole(p["expected_value_saved"]),
            "sd": _whole(p["expected_value_saved_sd"]),
        }
        for name, p in policies.items()
    ]
    return pd.DataFrame(rows)


def _whole(value: float | None) -> float | None:
    """``value`` rounded to a whole number; None (a figure scoring could not compute) stays
    None, an empty cell, rather than stopping the report."""
    return None if value is None else round(value, 0)


def _control_power_text(power: dict[str, Any]) -> str:
    mde = power["min_detectable_effect_points"]
    can = (
        "cannot detect any fall in churn"
        if mde is None
        else f"can tell a fall in churn of {mde:.1f} percentage points or more from chance"
    )
    return (
        f"Control group: {power['control']:,} customers ({power['share_percent']:g} % of the "
        f"slice, {power['sizing']}), drawn within each risk tier and action so they match the "
        f"{power['contacted']:,} contacted. At the slice's churn rate of "
        f"{power['base_churn_rate']:.0%}, comparing them {can} ({power['test']}). Control "
        "customers get no action and are left out of the CRM contact files."
    )


def monitoring_section(
    drift: dict[str, Any] | None, realised: dict[str, Any] | None, pipeline: str
) -> Section:
    """Drift and realised performance. ``drift``, ``realised``: ``drift.json`` and
    ``realised.json`` of ``churn monitor``, or None when not written yet."""
    items: list[Any] = []
    if drift is not None:
        flagged = drift["flagged_features"]
        items.append(
            Note(
                f"Population stability index of the {drift['current_rows']:,} scored customers "
                f"against the {drift['reference_rows']:,} training rows: the score "
                f"{drift['score_psi']:.2f}; {len(flagged)} feature(s) over "
                f"{drift['psi_threshold']:g}{': ' + ', '.join(flagged[:8]) if flagged else ''}. "
                f"Exempt (drift by construction): {', '.join(drift['ignored_features']) or 'none'}."
            )
        )
        items.append(Figure(drift_figure(drift)))
    if realised is not None:
        if realised["evaluated"]:
            frame = pd.DataFrame(realised["evaluated"])
            keep = [
                "cutoff",
                "model",
                "with_outcome",
                "roc_auc",
                "ece",
                "lift_top_decile",
                "churn_rate_outreach",
                "churn_rate_rest",
            ]
            items.append(
                Table(
                    frame[keep].round(3),
                    "Realised performance of earlier lists whose outcome is now known",
                )
            )
        else:
            items.append(Note(realised.get("note") or "No earlier list has a known outcome yet."))
    if not items:
        items.append(Note(f"Run `churn monitor {pipeline}` for drift and realised performance."))
    return Section("Monitoring", items, "monitoring")
