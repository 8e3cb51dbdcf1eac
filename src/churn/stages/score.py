"""Stage ``score``: today's customers -> ``data/scored/<p>/scores.parquet``, the at-risk list.

Reads the canonical tables, builds features at the scoring cutoff with the training code
(:func:`churn.stages.features.event_features`), loads the registry's champion (or a model
folder), and writes the list, a summary and the champion's global SHAP charts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn import io
from churn.data.event_summaries import daily_totals, event_span
from churn.engines import Table, sql_runner
from churn.errors import ConfigError, LabelError
from churn.features import snapshot_features
from churn.io.paths import PipelinePaths
from churn.labels import build_labels, observed_until
from churn.reporting.shap_figures import bar_figure, beeswarm_figure, importance
from churn.scoring.explain import Reference
from churn.scoring.playbook import check_rules
from churn.scoring.ranking import ScoreResult, score_customers
from churn.scoring.reasons import load_catalogue, resolve
from churn.scoring.value import purchase_value, recurring_value
from churn.settings import EventLabelSettings, PipelineSettings, SnapshotLabelSettings
from churn.stages._canonical import events_table, read_canonical, require_canonical
from churn.stages.features import event_features
from churn.tracking.loading import LoadedModel, load_scoring_model, spark_probabilities_of
from churn.tracking.store import Tracker

PARAMS: tuple[str, ...] = (
    "data",
    "labels",
    "features",
    "scoring",
    "playbook",
    "monitoring.backfill_cutoffs",
)
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")


@dataclass(frozen=True)
class Population:
    """Today's customers: one feature row each, at ``cutoff``, and what each is worth."""

    cutoff: dt.date
    features: pd.DataFrame
    expected_value: pd.Series


def event_population(
    settings: PipelineSettings, paths: PipelinePaths, cutoff: dt.date | None
) -> Population:
    """Customers eligible at ``cutoff`` (default: labels.score_cutoff, else the day after the
    data), their features and expected value."""
    labs = settings.labels
    assert isinstance(labs, EventLabelSettings)
    events = events_table(settings, paths)
    run_sql = sql_runner(settings.features)
    span = event_span(events, run_sql)
    data_end = observed_until(span, labs.last_day_of_data)
    assert span.first is not None  # observed_until raises on no events
    when = cutoff or labs.score_cutoff or data_end
    first = span.first.date()
    if not first < when <= data_end:
        raise LabelError(
            f"scoring cutoff {when}: expected a date after the first event ({first}) and no "
            f"later than the day after the data ({data_end}); features at a later date would "
            "miss the days in between. Give --cutoff within that range."
        )
    horizon = dt.timedelta(days=labs.horizon_days)
    table = pd.DataFrame(
        {"cutoff": [when], "split": ["score"], "observed": [when + horizon <= data_end]}
    )
    eligible = build_labels(
        events,
        table,
        labs,
        read_canonical(paths, "churn_events", required=False),
        run_sql=run_sql,
    )
    if eligible.empty:
        raise LabelError(
            f"scoring cutoff {when}: no eligible customers (none active before it and not yet "
            "churned). Check --cutoff and labels.max_inactive_days."
        )
    features = event_features(
        settings, events, eligible, read_canonical(paths, "customers", required=False)
    )
    return Population(when, features, _expected_value(settings, features, events, when))


def snapshot_population(settings: PipelineSettings, paths: PipelinePaths) -> Population:
    """A snapshot's current customers (those who have not churned) and their features."""
    labs = settings.labels
    assert isinstance(labs, SnapshotLabelSettings)
    snapshot = require_canonical(paths, "snapshot")
    current = snapshot[~snapshot["churned"].astype(bool)]
    pairs = pd.DataFrame(
        {"customer_id": current["customer_id"], "cutoff": pd.Timestamp(labs.snapshot_date)}
    )
    features = snapshot_features(current, pairs)
    return Population(
        labs.snapshot_date,
        features,
        _expected_value(settings, features, None, labs.snapshot_date),
    )


def _expected_value(
    settings: PipelineSettings,
    features: pd.DataFrame,
    events: Table | None,
    cutoff: dt.date,
) -> pd.Series:
    value = settings.scoring.value
    if value.method == "recurring":
        assert value.charge_feature is not None
        return recurring_value(features, value.charge_feature, value.months)
    labs = settings.labels
    if events is None or not isinstance(labs, EventLabelSettings):
        raise ConfigError(
            f"pipelines/{settings.name}/params.yaml: scoring.value.method 'clv' needs purchase "
            "events; for a snapshot set method: recurring and charge_feature (the monthly charge)."
        )
    run_sql = sql_runner(settings.features)
    purchases = daily_totals(events, labs.activity_event_types, run_sql)
    returns = daily_totals(events, settings.features.return_event_types, run_sql)
    per_customer = purchase_value(purchases, pd.Timestamp(cutoff), labs.horizon_days, returns)
    return features["customer_id"].map(per_customer).fillna(0.0).astype("float64")


def reference(paths: PipelinePaths, columns: list[str]) -> Reference:
    """Typical values and churn rates of the customers at the latest labelled cutoff."""
    labels = io.read_parquet(paths.labels, stage_hint=f"churn labels {paths.name}")
    known = labels[labels["churned"].notna()]
    latest = known[known["cutoff"] == known["cutoff"].max()][["customer_id", "cutoff", "churned"]]
    features = io.read_parquet(paths.features, stage_hint=f"churn features {paths.name}")
    return Reference.from_labelled(features.merge(latest, on=["customer_id", "cutoff"]), columns)


def summary(result: ScoreResult, catalogue_version: str) -> dict[str, Any]:
    s = result.scores
    outreach = s[s["in_outreach"]]
    contact = outreach[~outreach["control_group"]]
    return {
        "cutoff": str(pd.Timestamp(s["cutoff"].iloc[0]).date()) if len(s) else None,
        "model": {"name": s["model_name"].iloc[0], "version": s["model_version"].iloc[0]},
        "reason_catalogue": catalogue_version,
        "scored": len(s),
        "mean_churn_probability": float(s["churn_probability"].mean()),
        "risk_tiers": {
            str(k): int(v) for k, v in s["risk_tier"].value_counts().sort_index().items()
        },
        "expected_value_total": float(s["expected_value"].sum()),
        "value_at_risk_total": float(s["value_at_risk"].sum()),
        "outreach": {
            "customers": len(outreach),
            "to_contact": len(contact),
            "control_group": len(outreach) - len(contact),
            "value_at_risk": float(outreach["value_at_risk"].sum()),
            "mean_churn_probability": float(outreach["churn_probability"].mean()),
        },
        "recommended_actions": _counts(contact["recommended_action"]),
        "top_reasons": _counts(outreach["reason_1_code"]),
    }


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.value_counts(dropna=True).items()}


def run(
    settings: PipelineSettings,
    paths: PipelinePaths,
    tracker: Tracker,
    *,
    now: dt.datetime,
    cutoff: dt.date | None = None,
    model_path: Path | None = None,
    explain_all: bool = False,
) -> dict[str, Any]:
    """Score today's customers; write scores.parquet (a copy kept in history/), the scored
    features, scoring.json and the SHAP charts. ``monitoring.backfill_cutoffs`` are scored
    into history/ first, so realised performance can be measured on them."""
    if settings.scoring.engine == "spark" and model_path is not None:
        raise ConfigError(
            f"pipelines/{paths.name}/params.yaml: scoring.engine 'spark' scores the registered "
            f"champion through MLflow's spark_udf, but --model gave the model folder "
            f"{model_path}. Drop --model, or set scoring.engine: local."
        )
    loaded = load_scoring_model(paths, model_path, tracker=tracker)
    on_spark = (
        spark_probabilities_of(settings, loaded, tracker=tracker)
        if settings.scoring.engine == "spark"
        else None
    )
    loaded.model.booster.set_param({"nthread": settings.scoring.threads or os.cpu_count() or 1})
    feature_records = io.read_json(paths.catalogue, stage_hint=f"churn features {paths.name}")
    scoring = settings.scoring
    if explain_all:
        scoring = scoring.model_copy(update={"explain": "all"})
    catalogue_file = None if scoring.reasons is None else paths.project_dir / scoring.reasons
    spec = load_catalogue(catalogue_file)
    check_rules(
        settings.playbook,
        [r.code for r in spec.reasons],
        where=f"pipelines/{paths.name}/params.yaml",
    )
    catalogue = resolve(spec, feature_records, loaded.model.feature_names)
    ref = reference(paths, loaded.model.feature_names)

    def score_at(when: dt.date | None) -> tuple[Population, ScoreResult]:
        population = (
            snapshot_population(settings, paths)
            if settings.data.kind == "snapshot"
            else event_population(settings, paths, when)
        )
        log.info(
            "scoring %s customers of %s at %s with %s v%s",
            f"{len(population.features):,}",
            paths.name,
            population.cutoff,
            loaded.identity.name,
            loaded.identity.version,
        )
        result = score_customers(
            loaded.model,
            population.features,
            population.expected_value,
            catalogue=catalogue,
            reference=ref,
            settings=scoring,
            playbook=settings.playbook,
            identity=loaded.identity,
            scored_at=now,
            probabilities=None if on_spark is None else on_spark(population.features),
        )
        history = paths.scores_history(population.cutoff.isoformat())
        io.write_parquet(result.scores, history)
        log.info("wrote %s", history)
        return population, result

    if settings.data.kind == "events":
        for past in settings.monitoring.backfill_cutoffs:
            score_at(past)
    population, result = score_at(cutoff)
    io.write_parquet(result.scores, paths.scores)
    io.write_parquet(population.features, paths.scored_features)
    out = summary(result, spec.version)
    io.write_json(out, paths.scoring_summary)
    _write_global_explanations(paths, result, catalogue, loaded, tracker)
    log.info(
        "wrote %s: %s customers, %s in the outreach slice (%s held out as control)",
        paths.scores,
        f"{out['scored']:,}",
        f"{out['outreach']['customers']:,}",
        f"{out['outreach']['control_group']:,}",
    )
    return out


def _write_global_explanations(
    paths: PipelinePaths,
    result: ScoreResult,
    catalogue: Any,
    loaded: LoadedModel,
    tracker: Tracker,
) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    who = f"{loaded.identity.name} v{loaded.identity.version}"
    io.write_json(importance(result.contributions, catalogue), paths.shap_importance)
    beeswarm_path, bar_path = paths.shap_plots
    figures: Mapping[Path, Any] = {
        beeswarm_path: beeswarm_figure(
            result.contributions, result.explained, f"{paths.name}: what drives churn risk ({who})"
        ),
        bar_path: bar_figure(
            result.contributions,
            result.explained,
            f"{paths.name}: mean impact on churn risk ({who})",
        ),
    }
    for dest, figure in figures.items():
        io.write_png(figure, dest)
        plt.close(figure)
    if loaded.run_id is not None:
        for path in (paths.shap_importance, beeswarm_path, bar_path):
            tracker.client.log_artifact(loaded.run_id, str(path), artifact_path="shap")
