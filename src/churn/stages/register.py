"""Stages ``register`` and ``promote``: log the trained model to MLflow, register it as the
``challenger`` of ``churn-<pipeline>``, then run the champion/challenger gate on the backtest
folds both versions hold (the current test cutoff when none pair); log and register the uplift
model ``churn uplift`` fitted beside it (:mod:`churn.tracking.uplift_registry`). Writes
``reports/<p>/registry.json`` with the versions and the decision."""

from __future__ import annotations

import logging
import os
from typing import Any

import pandas as pd

from churn import io
from churn.campaigns.uplift import UpliftModel
from churn.campaigns.uplift_outputs import CHURN_MODEL_MD5, fitted_uplift
from churn.evaluation import metrics as evaluation_metrics
from churn.io.customer_sample import CustomerSample, customer_sample
from churn.io.paths import PipelinePaths
from churn.modeling.model import ChurnModel
from churn.modeling.training_data import outcome
from churn.monitoring.drift import population_problems
from churn.settings import PipelineSettings
from churn.stages._populations import scoring_population, test_rows, training_population
from churn.tracking import registry, runs, training, uplift_registry
from churn.tracking.events_model import EventsEntry
from churn.tracking.lineage import (
    dvc_experiment,
    experiment_lineage,
    folder_md5,
    training_lineage,
)
from churn.tracking.serving import RiskReference
from churn.tracking.store import Tracker
from churn.tracking.uplift_pyfunc import CHURN_PROBABILITY

PARAMS: tuple[str, ...] = (
    "engine",
    "train",
    "labels",
    "features",
    "registry",
    "monitoring",
    "data",
)
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``train``, ``labels``, ``features``: logged to MLflow (``train.uplift`` with the uplift
model); ``monitoring``: the drift gate;
``data`` (with ``labels`` and ``features``): stored in the events model."""

log = logging.getLogger("churn")


def register(
    settings: PipelineSettings, paths: PipelinePaths, tracker: Tracker, test: pd.DataFrame
) -> dict[str, Any]:
    """Log the model in ``models/<p>`` into the run ``churn train`` opened for it (a run of its
    own, with its metrics, plots and lineage, when there is none); alias challenger.
    ``test``: the test rows (:func:`churn.tracking.registry.test_rows`), the first five of
    which are the input example; the served model's risk tiers are drawn on all of them."""
    metrics = io.read_json(paths.metrics)
    experiment = dvc_experiment(os.environ)
    # a missing or corrupted model fails before the store is touched
    model = ChurnModel.load(paths.model)
    test_cutoff = str(metrics.get("training", {}).get("test_cutoff", ""))
    reference = RiskReference.of(
        model.predict_proba(test), f"the {len(test):,} customers of the test cutoff {test_cutoff}"
    )
    name = registry.model_name(paths.name)
    experiment_id = tracker.experiment(paths.name)
    model_md5 = folder_md5(paths.model)
    run_id = training.find_training_run(tracker.client, experiment_id, model_md5)
    if run_id is not None:  # the run `churn train` opened: the model goes into it
        version = runs.log_model_to_run(
            tracker.client,
            run_id=run_id,
            experiment=experiment_id,
            model_dir=paths.model,
            input_example=test.head(5),
            registered_model_name=name,
            alias=None if experiment else registry.CHALLENGER,
            risk_reference=reference,
            lineage=experiment_lineage(os.environ),
            events_entry=EventsEntry(settings, paths.catalogue),
        )
    else:
        log.warning(
            "no finished `churn train` run in %s trained the model in %s (md5 %s): it was "
            "trained by an older churn, against another MLflow store, or its run was deleted. "
            "Logging it in a run of its own, without its training curve and datasets.",
            tracker.uri,
            paths.model,
            model_md5,
        )
        version = runs.log_training_run(
            tracker.client,
            experiment=experiment_id,
            model_dir=paths.model,
            params={
                "train": settings.train.model_dump(),
                "labels": settings.labels.model_dump(),
                "features": settings.features.model_dump(),
            },
            metrics=runs.numeric_metrics(metrics),
            artifacts=[
                p
                for p in (
                    paths.metrics,
                    paths.backtest,
                    paths.segments,
                    paths.plots,
                    paths.catalogue,
                    paths.backtest_predictions,  # the promotion gate pairs versions on them
                )
                if p.exists()
            ],
            lineage={
                **training_lineage(
                    paths.project_dir,
                    features=paths.features,
                    labels=paths.labels,
                    test_cutoff=test_cutoff,
                ),
                **experiment_lineage(os.environ),
            },
            input_example=test.head(5),
            registered_model_name=name,
            alias=None if experiment else registry.CHALLENGER,
            run_name=f"{paths.name} {experiment}" if experiment else f"{paths.name} train",
            risk_reference=reference,
            events_entry=EventsEntry(settings, paths.catalogue),
        )
    log.info(
        "registered %s version %s (run %s) %s",
        name,
        version.version,
        version.run_id,
        f"for DVC experiment {experiment}, without an alias" if experiment else "as challenger",
    )
    return {"run_id": version.run_id, "version": version.version, "model_uri": version.model_uri}


def promote(
    settings: PipelineSettings, paths: PipelinePaths, tracker: Tracker, *, force: bool = False
) -> dict[str, Any]:
    """Run the champion/challenger gate: the paired backtest folds, the test rows of
    ``labels.parquet`` as a report (and the fallback when no fold pairs); the uplift model's
    champion follows the churn model's (:func:`churn.tracking.uplift_registry.sync_champion`)."""
    sample = customer_sample(paths.labels, settings.train.driver_customers)
    decision = _gate(settings, paths, tracker, test_rows(paths, sample), sample, force=force)
    _sync_uplift_champion(tracker, paths)
    return decision


def _gate(
    settings: PipelineSettings,
    paths: PipelinePaths,
    tracker: Tracker,
    test: pd.DataFrame,
    sample: CustomerSample | None,
    *,
    force: bool,
) -> dict[str, Any]:
    """The gate on ``test`` (:func:`churn.stages._populations.test_rows`); the drift rule reads
    the training and scoring populations when it runs (of the ``sample``'s customers alone, if
    given), not the whole feature table."""
    client = tracker.client

    def drift(uri: str) -> list[str]:
        return population_problems(
            registry.load_churn_model(client, uri),
            training_population(paths, settings.features, sample),
            scoring_population(paths, sample),
            catalogue=io.read_json(paths.catalogue),
            settings=settings.monitoring,
        )

    name = registry.model_name(paths.name)
    decision = registry.promote(
        client,
        model_name=name,
        score=lambda uri: registry.probabilities_on(client, uri, test),
        y_test=outcome(test),
        metrics_fn=evaluation_metrics.binary_metrics,
        settings=settings.registry,
        force=force,
        drift=drift if settings.monitoring.gate_promotion else None,
        folds=lambda uri: registry.backtest_predictions(client, uri),
    )
    log.info("promotion of %s: %s", name, decision.reason)
    return decision.to_dict()


def run(settings: PipelineSettings, paths: PipelinePaths, tracker: Tracker) -> dict[str, Any]:
    """Register the trained model and run the gate, then register the uplift model beside it;
    write ``reports/<p>/registry.json``."""
    sample = customer_sample(paths.labels, settings.train.driver_customers)
    test = test_rows(paths, sample)
    registered = register(settings, paths, tracker, test)
    experiment = dvc_experiment(os.environ)
    if experiment is None:
        decision = _gate(settings, paths, tracker, test, sample, force=False)
    else:  # its scores and report come from this version; the champion stays the champion
        decision = {
            "promoted": False,
            "challenger_version": registered["version"],
            "reason": f"DVC experiment {experiment}: version {registered['version']} is left "
            "out of the champion/challenger aliases; its scores, exports and report use it. "
            f"After `dvc exp apply {experiment}` and a commit, `churn promote {paths.name}` "
            "judges it.",
        }
    uplift = register_uplift(settings, paths, tracker, registered, test)
    if experiment is None:  # an experiment moves no alias, the uplift model's neither
        champion = _sync_uplift_champion(tracker, paths)
        if uplift.get("registered"):
            uplift["champion"] = champion == uplift["version"]
    out = {
        "registered": registered,
        "promotion": decision,
        "experiment": experiment,
        "uplift": uplift,
    }
    io.write_json(out, paths.registry)
    return out


def register_uplift(
    settings: PipelineSettings,
    paths: PipelinePaths,
    tracker: Tracker,
    churn: dict[str, Any],
    test: pd.DataFrame,
) -> dict[str, Any]:
    """Log the uplift model in ``models/<p>.uplift`` (served or not) in a run nested under the
    run of ``churn`` (the churn version :func:`register` just registered) and register it as
    a version of ``churn-<p>-uplift``, without an alias. Nothing is registered when
    ``churn uplift`` fitted no model, or judged it against another churn model than
    ``models/<p>``: the returned record (``registry.json``'s ``uplift``) says why."""
    if not paths.uplift_report.is_file():
        return {
            "registered": False,
            "reason": f"no {paths.uplift_report.name}: `churn uplift {paths.name}` has not run",
        }
    report = io.read_json(paths.uplift_report)
    fitted = fitted_uplift(paths.uplift_model)
    if fitted is None:
        why = report.get("reason") or "churn uplift fitted no model"
        log.info("no uplift model to register: %s", why)
        return {"registered": False, "reason": f"no uplift model was fitted: {why}"}
    judged, current = report.get(CHURN_MODEL_MD5), folder_md5(paths.model)
    if judged != current:
        why = (
            f"the uplift model in {paths.uplift_model.name} was judged against another churn "
            f"model (md5 {judged}) than the one registered (models/{paths.name}, md5 "
            f"{current}); run `churn uplift {paths.name}` then `churn register {paths.name}`"
        )
        log.warning("uplift model not registered: %s", why)
        return {"registered": False, "reason": why}
    churn_name = registry.model_name(paths.name)
    experiment = dvc_experiment(os.environ)
    uplift_model = UpliftModel.load(fitted.folder)
    example = test
    if uplift_model.needs_churn_probability:  # logit_shift: shifts the churn model's logit
        example = test.assign(
            **{CHURN_PROBABILITY: ChurnModel.load(paths.model).predict_proba(test)}
        )
    version = uplift_registry.log_uplift_run(
        tracker.client,
        experiment=tracker.experiment(paths.name),
        churn=runs.RegisteredVersion(churn["run_id"], churn["version"], churn["model_uri"]),
        churn_model_name=churn_name,
        uplift=uplift_registry.UpliftToLog(
            model=uplift_model,
            report=report,
            report_file=paths.uplift_report,
            used_for_scoring=fitted.used_for_scoring,
            params={
                "train": {"seed": settings.train.seed, "uplift": settings.train.uplift.model_dump()}
            },
        ),
        input_example=example,
        run_name=f"{paths.name} uplift {experiment}" if experiment else f"{paths.name} uplift",
        lineage=experiment_lineage(os.environ),
    )
    log.info(
        "registered %s version %s (run %s, nested under churn version %s's), %s",
        uplift_registry.uplift_model_name(churn_name),
        version.version,
        version.run_id,
        churn["version"],
        "used for scoring" if fitted.used_for_scoring else "not used for scoring",
    )
    return {
        "registered": True,
        "version": version.version,
        "model_uri": version.model_uri,
        "run_id": version.run_id,
        "parent_run_id": churn["run_id"],
        "belongs_with": churn["version"],
        "used_for_scoring": fitted.used_for_scoring,
        "champion": False,
    }


def _sync_uplift_champion(tracker: Tracker, paths: PipelinePaths) -> str | None:
    churn_name = registry.model_name(paths.name)
    champion = uplift_registry.sync_champion(tracker.client, churn_name)
    if champion is not None:
        log.info(
            "%s@champion is version %s", uplift_registry.uplift_model_name(churn_name), champion
        )
    return champion
