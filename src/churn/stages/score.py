"""Stage ``score``: today's customers -> ``data/scored/<p>/scores.parquet``, the at-risk list.

Builds the population at the scoring cutoff with the training feature code (the pipeline's
:func:`churn.kinds.kind_of`), loads the registry's champion (or a model folder), and writes the
list, a summary and the champion's global SHAP charts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn import io
from churn.campaigns.priors import measured_playbook
from churn.campaigns.uplift import MANIFEST_FILE, UpliftModel
from churn.campaigns.uplift_training import HELD_OUT, KNOWN_BY, usable_at
from churn.engines import ParquetTable
from churn.errors import ConfigError
from churn.io.canonical import CanonicalFiles
from churn.io.customer_sample import customer_sample
from churn.io.files import parquet_empty_frame, read_labels
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.kinds.events import EventsKind
from churn.kinds.snapshot import SnapshotKind
from churn.modeling.model import ChurnModel
from churn.reporting.shap_figures import global_figures, importance
from churn.scoring.explain import Contributions, Reference
from churn.scoring.outreach import misread_tiers
from churn.scoring.playbook import check_rules
from churn.scoring.population import latest_labelled_cutoff, latest_labelled_reference
from churn.scoring.ranking import score_customers
from churn.scoring.reasons import ReasonCatalogue, pipeline_catalogue, resolve
from churn.scoring.summary import scoring_summary
from churn.settings import PipelineSettings, ScoringSettings
from churn.tracking import runs
from churn.tracking.lineage import dvc_experiment
from churn.tracking.loading import LoadedModel, load_scoring_model, spark_probabilities_of
from churn.tracking.store import Tracker

PARAMS: tuple[str, ...] = (
    "engine",
    "data",
    "labels",
    "features",
    "scoring",
    "playbook",
    "monitoring.backfill_cutoffs",
    "train",
)
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")


@dataclass(frozen=True)
class _Charts:
    """What the global SHAP charts and shap_importance.json show: the importance of the
    explained customers, and the SHAP values and model features of those the charts draw."""

    importance: dict[str, Any]
    contributions: Contributions
    explained: pd.DataFrame


@dataclass(frozen=True)
class _Scored:
    """One list: its cutoff, ``scoring.json``'s numbers, its charts, the writer of the live
    list and its features, the playbook effects it was valued by (prior, measured and
    posterior per action; empty without past contacts) and the day by which the outcomes of
    the uplift model it used were known (None: it used none)."""

    cutoff: dt.date
    summary: dict[str, Any]
    charts: Callable[[], _Charts]
    write_live: Callable[[], None]
    effects: list[dict[str, Any]]
    uplift_known_by: str | None


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
    into history/ first, so realised performance can be measured on them.

    A ``cutoff`` before the kind's :meth:`~churn.kinds.Kind.score_cutoff` is back-dated: its
    list goes to history/ only (no backfill, no live list, no charts, no MLflow run) and the
    summary returned (never written) carries ``back_dated: True``."""
    if settings.scoring.engine == "spark" and model_path is not None:
        raise ConfigError(
            f"pipelines/{paths.name}/params.yaml: scoring.engine 'spark' scores the registered "
            f"champion through MLflow's spark_udf, but --model gave the model folder "
            f"{model_path}. Drop --model, or set scoring.engine: local."
        )
    experiment = dvc_experiment(os.environ)
    version = None
    if experiment is not None and model_path is None:  # one experiment, one model
        version = str(io.read_json(paths.registry)["registered"]["version"])
        log.info("DVC experiment %s: scoring with its own version %s", experiment, version)
    loaded = load_scoring_model(paths, model_path, tracker=tracker, version=version)
    loaded.model.booster.set_param({"nthread": settings.scoring.threads or os.cpu_count() or 1})
    feature_records = io.read_json(paths.catalogue)
    scoring = settings.scoring
    if explain_all:
        scoring = scoring.model_copy(update={"explain": "all"})
    spec = pipeline_catalogue(
        feature_records,
        loaded.model.feature_names,
        None if scoring.reasons is None else paths.project_dir / scoring.reasons,
        settings.data.active_day_word,
        context=settings.data.context_attributes,
    )
    where = f"pipelines/{paths.name}/params.yaml"
    check_rules(settings.playbook, [r.code for r in spec.reasons], where=where)
    catalogue = resolve(spec, feature_records, loaded.model.feature_names)
    given = sum(r.per_customer for r in catalogue.reasons)
    if given < scoring.n_reasons:  # never a reason column no reason can fill
        log.info("%s reason(s) per customer: the reason catalogue has no more", given)
        scoring = scoring.model_copy(update={"n_reasons": max(given, 1)})
    columns = loaded.model.feature_names
    kind, tables = kind_of(settings), CanonicalFiles(paths, settings.features)
    uplift_models = _uplift_models(paths)
    in_executors = _scores_in_executors(settings, kind)
    ref = _spark_reference(settings, paths, columns) if in_executors else _reference(paths, columns)
    sample = customer_sample(paths.labels, settings.train.driver_customers)
    contacts = kind.contact_outcomes(tables, sample)
    on_spark = (
        spark_probabilities_of(settings, loaded, tracker=tracker)
        if settings.scoring.engine == "spark" and not in_executors
        else None
    )

    def score_at(when: dt.date | None) -> _Scored:
        if in_executors:
            assert isinstance(kind, EventsKind | SnapshotKind)
            return _score_on_spark(
                settings,
                paths,
                kind,
                tables,
                when,
                loaded=loaded,
                catalogue=catalogue,
                catalogue_version=spec.version,
                reference=ref,
                scoring=scoring,
                contacts=contacts,
                uplift_models=uplift_models,
                now=now,
            )
        population = kind.population(tables, when)
        playbook, effects = settings.playbook, list[dict[str, Any]]()
        if contacts is not None:
            playbook, effects = measured_playbook(playbook, contacts.known_by(population.cutoff))
        uplift_model = usable_at(uplift_models, population.cutoff)
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
            playbook=playbook,
            identity=loaded.identity,
            scored_at=now,
            probabilities=None if on_spark is None else on_spark(population.features),
            uplift=None
            if uplift_model is None
            else _uplift(uplift_model, loaded.model, population.features),
        )
        history = paths.scores_history(population.cutoff.isoformat())
        io.write_parquet(result.scores, history)
        log.info("wrote %s", history)
        known_by = None if uplift_model is None else str(uplift_model.metadata[KNOWN_BY])

        def write_live() -> None:
            io.write_parquet(result.scores, paths.scores)
            io.write_parquet(population.features, paths.scored_features)

        def charts() -> _Charts:
            importance_of = importance(result.contributions, catalogue)
            return _Charts(importance_of, result.contributions, result.explained)

        summary = scoring_summary(result, spec.version)
        return _Scored(population.cutoff, summary, charts, write_live, effects, known_by)

    today = None if cutoff is None else kind.score_cutoff(tables)
    looking_back = cutoff is not None and today is not None and cutoff < today
    for past in () if looking_back else kind.backfill_cutoffs():
        score_at(past)
    scored = score_at(cutoff)
    if looking_back and scored.cutoff == cutoff:  # a snapshot has one date: today's
        log.info(
            "scoring cutoff %s is before today's (%s): wrote %s only; the live list %s, its "
            "features, scoring.json and the SHAP charts were left alone",
            scored.cutoff,
            today,
            paths.scores_history(scored.cutoff.isoformat()),
            paths.scores,
        )
        return {**scored.summary, "back_dated": True}
    scored.write_live()
    out = dict(scored.summary)
    out["action_values_from"] = (
        f"the uplift model (models/{paths.uplift_model.name}, outcomes known by "
        f"{scored.uplift_known_by})"
        if scored.uplift_known_by
        else "the playbook's effects"
        + (" updated by past contacts" if scored.effects else " (priors)")
    )
    log.info("actions valued by %s", out["action_values_from"])
    if contacts is not None:
        out["past_contacts"] = {**contacts.summary(), "playbook_effects": scored.effects}
        if sample is not None:
            out["past_contacts"]["driver_sample"] = sample.summary()
        _log_effects(contacts.summary(), scored.effects)
    io.write_json(out, paths.scoring_summary)
    _write_global_explanations(paths, scored.charts(), loaded)
    _log_scoring_run(paths, out, loaded, tracker)
    reach = out["outreach"]
    log.info(
        "wrote %s: %s customers, %s in the outreach slice (%s held out as control)",
        paths.scores,
        f"{out['scored']:,}",
        f"{reach['customers']:,}",
        f"{reach['control_group']:,}",
    )
    _log_control_power(out["control_group_power"], settings.scoring.outreach.min_detectable_effect)
    misread = misread_tiers(out.get("risk_tier_definition") or {})
    if misread:
        log.warning(misread)
    for policy, p in (out.get("policies") or {}).items():
        log.info(
            "targeting by %s%s: %s customers, expected value saved %s (sd %s)",
            policy.replace("_", " "),
            " (this list)" if p["chosen"] else "",
            f"{p['customers']:,}",
            f"{p['expected_value_saved']:,.0f}",
            f"{p['expected_value_saved_sd']:,.0f}",
        )
    return out


def _log_control_power(power: dict[str, Any], wanted: float) -> None:
    mde = power["min_detectable_effect_points"]
    log.info(
        "control group: %s of the outreach slice (%s customers, %s), stratified by risk tier x "
        "action; at a churn rate of %.0f %% it detects a fall of %s (two-sided, alpha 0.05, "
        "power 0.8)",
        f"{power['share_percent']:g} %",
        f"{power['control']:,}",
        power["sizing"],
        100 * power["base_churn_rate"],
        "no size of effect" if mde is None else f"{mde:.1f} points or more",
    )
    if power["control"] and (mde is None or mde > 100 * wanted):
        fix = (
            "the slice is too small even at max_control_percent: widen the budget, or accept "
            "the larger effect"
            if power["sizing"] == "auto"
            else "set control_percent: auto to size it"
        )
        log.warning(
            "the control group cannot detect the %.1f-point fall in churn of "
            "scoring.outreach.min_detectable_effect; %s",
            100 * wanted,
            fix,
        )


def _write_global_explanations(paths: PipelinePaths, charts: _Charts, loaded: LoadedModel) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415 - slow import, only needed here

    who = f"{loaded.identity.name} v{loaded.identity.version}"
    io.write_json(charts.importance, paths.shap_importance)
    figures = global_figures(charts.contributions, charts.explained, pipeline=paths.name, model=who)
    for dest, figure in zip(paths.shap_plots, figures, strict=True):
        io.write_png(figure, dest)
        plt.close(figure)


def _log_scoring_run(
    paths: PipelinePaths, out: dict[str, Any], loaded: LoadedModel, tracker: Tracker
) -> None:
    """The scoring's own MLflow run, nested under the model's training run (a model folder
    given by path has none: nothing is logged)."""
    if loaded.run_id is None:
        return
    run_id = runs.log_scoring_run(
        tracker.client,
        experiment=tracker.experiment(paths.name),
        training_run_id=loaded.run_id,
        run_name=f"{paths.name} score {out['cutoff']}",
        metrics={"scored": out["scored"], "outreach": out["outreach"]},
        artifacts=[paths.scoring_summary, paths.shap_importance, *paths.shap_plots],
        tags={
            "churn.model": loaded.identity.name,
            "churn.model_version": loaded.identity.version,
            "churn.cutoff": str(out["cutoff"]),
        },
    )
    log.info("logged scoring run %s under training run %s", run_id, loaded.run_id)


def _log_effects(summary: dict[str, Any], effects: list[dict[str, Any]]) -> None:
    """What past contacts taught the playbook, one line per action."""
    log.info(
        "past contacts: %s, %s with a known outcome (%s waiting, %s of customers not eligible)",
        f"{summary['contacts']:,}",
        f"{summary['with_outcome']:,}",
        f"{summary['waiting_for_outcome']:,}",
        f"{summary['not_eligible']:,}",
    )
    for e in effects:
        measured = (
            "not measured"
            if e["measured"] is None
            else f"measured {e['measured']:.2f} (sd {e['measured_sd']:.2f}, "
            f"{e['n_contacted']:,} contacted vs {e['n_control']:,} control)"
        )
        log.info(
            "effect of %s: prior %.2f, %s -> %.2f (sd %.2f)",
            e["action"],
            e["prior"],
            measured,
            e["posterior"],
            e["posterior_sd"],
        )


def _uplift(uplift: UpliftModel, churn: ChurnModel, features: pd.DataFrame) -> pd.DataFrame:
    """The uplift model's per-action estimates; a ``logit_shift`` model also reads the churn
    model's probability of each customer (the logit its shifts act on)."""
    risk = churn.predict_proba(features) if uplift.needs_churn_probability else None
    return uplift.predict(features, risk)


def _uplift_models(paths: PipelinePaths) -> list[UpliftModel]:
    """The uplift models ``churn uplift`` fitted (the served one and the held-out one), none
    when it fitted none (or never ran). Each list uses the latest one it may know of
    (:func:`churn.campaigns.uplift_training.usable_at`)."""
    folders = (paths.uplift_model, paths.uplift_model / HELD_OUT)
    return [UpliftModel.load(f) for f in folders if (f / MANIFEST_FILE).is_file()]


def _reference(paths: PipelinePaths, columns: list[str]) -> Reference:
    """Typical values and churn rates of the customers at the latest labelled cutoff."""
    labels = read_labels(paths.labels)
    latest = latest_labelled_cutoff(labels)
    # only the feature rows of that cutoff are read: the reference uses no other
    on_latest = None if latest is None else [("cutoff", "==", latest)]
    return latest_labelled_reference(
        labels, io.read_parquet(paths.features, filters=on_latest), columns
    )


def _spark_reference(
    settings: PipelineSettings, paths: PipelinePaths, columns: list[str]
) -> Reference:
    """:func:`_reference` computed by Spark's executors (:mod:`churn.scoring.spark_reference`)."""
    from churn.engines.spark import scoped_session, spark_session  # noqa: PLC0415 - optional
    from churn.scoring.spark_reference import spark_reference  # noqa: PLC0415

    spark = settings.features.spark
    scoped = scoped_session(spark_session(spark, setting="scoring.engine"), spark)
    io.require_parquet(paths.labels)
    io.require_parquet(paths.features)
    return spark_reference(scoped, paths.labels, paths.features, columns)


def _scores_in_executors(settings: PipelineSettings, kind: object) -> bool:
    """Whether the list is made in Spark's executors (:func:`_score_on_spark`): with
    ``scoring.engine`` and ``features.engine`` both ``spark``."""
    if settings.scoring.engine != "spark" or settings.features.engine != "spark":
        return False
    return isinstance(kind, EventsKind | SnapshotKind)


def _score_on_spark(
    settings: PipelineSettings,
    paths: PipelinePaths,
    kind: EventsKind | SnapshotKind,
    tables: CanonicalFiles,
    when: dt.date | None,
    *,
    loaded: LoadedModel,
    catalogue: ReasonCatalogue,
    catalogue_version: str,
    reference: Reference,
    scoring: ScoringSettings,
    contacts: Any,
    uplift_models: list[UpliftModel],
    now: dt.datetime,
) -> _Scored:
    """The list at ``when`` made in Spark's executors: the population's features
    (:meth:`EventsKind.spark_population`, :meth:`SnapshotKind.spark_population`), values,
    per-customer scores (:mod:`churn.scoring.spark_rows`, with the estimates of the uplift
    model usable at ``when``) and the list (:mod:`churn.scoring.spark_list`), its history copy
    written by one task; only summaries reach the driver."""
    from churn.engines.spark import scoped_session, spark_session  # noqa: PLC0415 - optional
    from churn.engines.spark_features import write_spark_parquet  # noqa: PLC0415
    from churn.scoring.spark_list import spark_list  # noqa: PLC0415
    from churn.scoring.spark_output import write_spark_list  # noqa: PLC0415
    from churn.scoring.spark_rows import customer_rows  # noqa: PLC0415

    spark = settings.features.spark
    scoped = scoped_session(spark_session(spark, setting="scoring.engine"), spark)
    customers, churns = paths.table("customers"), paths.table("churn_events")
    if isinstance(kind, SnapshotKind):  # one date: ``when`` is the snapshot's or refused
        day, features = kind.spark_population(scoped, ParquetTable(paths.table("snapshot")))
    else:
        day, features = kind.spark_population(
            scoped,
            tables,
            when,
            churn_events=ParquetTable(churns) if churns.is_file() else None,
            customers=ParquetTable(customers) if customers.is_file() else None,
            customer_columns=parquet_empty_frame(customers) if customers.is_file() else None,
        )
    playbook, effects = settings.playbook, list[dict[str, Any]]()
    if contacts is not None:
        playbook, effects = measured_playbook(playbook, contacts.known_by(day))
    valued = kind.spark_valued(scoped, tables, features, day)
    uplift = usable_at(uplift_models, day)
    rows = customer_rows(
        valued,
        loaded.model,
        catalogue=catalogue,
        reference=reference,
        settings=scoring,
        uplift=uplift,
    )
    listed = spark_list(
        rows,
        valued,
        loaded.model,
        catalogue=catalogue,
        settings=scoring,
        playbook=playbook,
        identity=loaded.identity,
        scored_at=now,
        uplift_actions=() if uplift is None else list(uplift.actions),
    )
    log.info(
        "scored %s customers of %s at %s with %s v%s in the Spark executors",
        f"{listed.summary['scored']:,}",
        paths.name,
        day,
        loaded.identity.name,
        loaded.identity.version,
    )
    history = paths.scores_history(day.isoformat())
    write_spark_list(listed.scores, history, scoring.n_reasons)
    log.info("Spark wrote %s", history)

    def write_live() -> None:
        _copy_file(history, paths.scores)
        write_spark_parquet(features, paths.scored_features)

    def charts() -> _Charts:
        return _Charts(listed.importance, listed.contributions, listed.explained)

    summary = {**listed.summary, "reason_catalogue": catalogue_version}
    known_by = None if uplift is None else str(uplift.metadata[KNOWN_BY])
    return _Scored(day, summary, charts, write_live, effects, known_by)


def _copy_file(source: Path, dest: Path) -> None:
    """``source`` copied over ``dest`` through a temporary file beside it, renamed."""
    staging = io.staging_folder(dest, f".{dest.name}.copy.")
    try:
        shutil.copyfile(source, staging / dest.name)
        os.replace(staging / dest.name, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
