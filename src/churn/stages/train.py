"""Stage ``train``: labels + features -> ``models/<p>/`` and ``reports/<p>/`` (metrics with
baselines side by side, per-segment AUC, backtest or cross-validation, plot data for DVC), all
of it recorded in an MLflow run opened before the fit (:mod:`churn.tracking.training`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn import io
from churn.evaluation import metrics as evaluation_metrics
from churn.evaluation import trust
from churn.evaluation.summaries import backtest_file, baselines_ahead, segments_file
from churn.features.catalogue import ATTRIBUTE_FAMILY
from churn.io.canonical import CanonicalFiles
from churn.io.customer_sample import CustomerSample, customer_sample, sample_rows
from churn.io.files import read_labels
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.modeling.baselines import baseline_probabilities
from churn.modeling.fitting import fit_on_engine
from churn.modeling.leakage import screen_features, single_feature_aucs
from churn.modeling.search import tune
from churn.modeling.training_data import (
    FeatureColumns,
    TrainingRows,
    check_trainable,
    feature_columns,
    outcome,
    without_empty_features,
)
from churn.reporting.evaluation_plots import evaluation_figures, plot_data, test_segments
from churn.settings import PipelineSettings
from churn.stages._canonical import labelled_feature_splits
from churn.tracking import description, training
from churn.tracking.lineage import (
    dvc_experiment,
    experiment_lineage,
    folder_md5,
    lineage_tags,
    training_lineage,
)
from churn.tracking.runs import flatten, numeric_metrics

if TYPE_CHECKING:
    from churn.tracking.store import Tracker

PARAMS: tuple[str, ...] = ("engine", "data", "train", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``features`` for the SQL engine and the Spark session; ``data`` for the label column the leakage
guard compares feature names with, and a snapshot's tenure role (``data.snapshot``, absent from
events pipelines, so the section whole)."""

log = logging.getLogger("churn")


def trails_baselines(metrics: dict[str, Any]) -> str | None:
    """A warning when a baseline ranks the test customers better than the model (test ROC
    AUC): the gate compares versions of the model, never the model with its baselines, so a
    first version that loses to a recency rule would become champion unremarked."""
    ahead = baselines_ahead(metrics)
    if not ahead:
        return None
    listed = ", ".join(f"{n} {auc:.3f}" for n, auc in ahead.items())
    return (
        f"the model's test ROC AUC {metrics['roc_auc']:.3f} trails baseline(s) {listed} on "
        f"{metrics['n_test']:,} test customers: a simpler rule ranks them as well or better. "
        "Check the features (their windows against the data's span) and the horizon before "
        "trusting the list; the promotion gate compares versions, not baselines"
    )


def run(settings: PipelineSettings, paths: PipelinePaths, tracker: Tracker) -> dict[str, Any]:
    """Train the churn model and its baselines, evaluate on the test cutoff, write it all, and
    record it in a training run of ``tracker``'s store that ends FAILED if training fails."""
    catalogue = io.read_json(paths.catalogue)
    test_cutoffs = io.read_parquet(
        paths.labels, columns=["cutoff"], filters=[("split", "==", "test")]
    )["cutoff"]
    lineage = {
        **training_lineage(
            paths.project_dir,
            features=paths.features,
            labels=paths.labels,
            test_cutoff=pd.Timestamp(test_cutoffs.iloc[0]).date().isoformat()
            if len(test_cutoffs)
            else "",
        ),
        **experiment_lineage(os.environ),
    }
    inputs = {
        paths.labels.relative_to(paths.project_dir).as_posix(): lineage["labels_md5"],
        paths.features.relative_to(paths.project_dir).as_posix(): lineage["features_md5"],
    }
    experiment = dvc_experiment(os.environ)

    def describe(trained: _Trained | None = None) -> str:
        return description.describe(
            settings,
            command=f"churn train {paths.name}",
            experiment=experiment,
            inputs=inputs,
            splits=trained.splits if trained else (),
            n_features=trained.n_features if trained else None,
            metrics=trained.metrics if trained else None,
        )

    with training.training_run(
        tracker.client,
        experiment=tracker.experiment(paths.name),
        run_name=f"{paths.name} {experiment or 'train'}",
        tags=lineage_tags(lineage),
        params=flatten(
            {
                "train": settings.train.model_dump(),
                "labels": settings.labels.model_dump(),
                "features": settings.features.model_dump(),
                "data": settings.data.model_dump(),
            }
        ),
        description=describe(),
    ) as mlflow_run:
        trained = _train(settings, paths, catalogue)
        mlflow_run.record(
            metrics=flatten(numeric_metrics(trained.metrics)),
            curve={f"valid.{name}": values for name, values in trained.curve.items()},
            datasets=[
                training.DatasetUse(path, digest, split)
                for path, digest in inputs.items()
                for split in trained.splits
            ],
            artifacts=[
                p
                # the fold predictions at the run's root: the promotion gate pairs versions on them
                for p in (
                    paths.metrics,
                    paths.backtest,
                    paths.segments,
                    paths.plots,
                    paths.backtest_predictions,
                )
                if p.exists()
            ]
            + [paths.catalogue],
            description=describe(trained),
            model_digest=folder_md5(paths.model),
        )
    return trained.metrics


@dataclass(frozen=True)
class _Trained:
    """What :func:`_train` wrote, for the run: ``metrics.json``'s content, the validation
    curve, the rows of each context and the number of model features."""

    metrics: dict[str, Any]
    curve: Mapping[str, tuple[float, ...]]
    splits: tuple[description.Split, ...]
    n_features: int


def gain_shares(booster: Any) -> dict[str, float]:
    """Each feature's share of the trees' total gain (features no split uses left out); empty
    for a booster without a split."""
    gains = {name: float(g) for name, g in booster.get_score(importance_type="total_gain").items()}
    total = sum(gains.values())
    return {name: g / total for name, g in gains.items()} if total > 0 else {}


def _figure_warnings(
    metrics: Mapping[str, Any],
    test: pd.DataFrame,
    y_test: np.ndarray,
    booster: Any,
    columns: FeatureColumns,
    *,
    built_in: set[str],
    folds: Mapping[str, Any],
    seed: int,
) -> list[str]:
    """What makes the test figures misleading (:mod:`churn.evaluation.trust`): the features
    the model leans on most are measured alone on the test rows only when the AUC is suspect."""
    shares = gain_shares(booster)
    aucs: dict[str, float] = {}
    if metrics["roc_auc"] >= trust.SUSPECT_TEST_AUC:
        top = sorted(shares, key=lambda n: -shares[n])[: trust.TOP_FEATURES]
        aucs = single_feature_aucs(
            test,
            y_test,
            numeric=[c for c in columns.numeric if c in top],
            categorical=[c for c in columns.categorical if c in top],
            seed=seed,
        )
    return trust.figure_warnings(
        metrics, gain_shares=shares, test_aucs=aucs, built_in=built_in, folds=folds
    )


@dataclass(frozen=True)
class _SampledRows:
    """Where the rows of a :class:`CustomerSample`'s customers lie in ``labels.parquet`` and
    ``features.parquet``: found once, read at every pass over the labelled rows."""

    labels: np.ndarray
    features: np.ndarray

    @classmethod
    def of(cls, paths: PipelinePaths, sample: CustomerSample | None) -> _SampledRows | None:
        if sample is None:
            return None
        return cls(sample_rows(paths.labels, sample), sample_rows(paths.features, sample))


def _splits_of(
    paths: PipelinePaths,
    groups: Mapping[str, Sequence[str]],
    sampled: _SampledRows | None,
    columns: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The labelled feature rows of each group of splits, in label order, read from the files
    (those of the ``sampled`` customers alone when given); only the feature ``columns`` when
    given."""
    if sampled is None:
        return labelled_feature_splits(paths, read_labels(paths.labels), groups, columns=columns)
    labels = read_labels(paths.labels, rows=sampled.labels)
    return labelled_feature_splits(
        paths, labels, groups, columns=columns, feature_rows=sampled.features
    )


def _rows_of(
    paths: PipelinePaths,
    sampled: _SampledRows | None,
    splits: Sequence[str],
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The labelled feature rows of ``splits``, as :func:`_splits_of` reads them."""
    return _splits_of(paths, {"rows": splits}, sampled, columns)["rows"]


def _train(settings: PipelineSettings, paths: PipelinePaths, catalogue: Any) -> _Trained:
    ts = settings.train
    warnings: list[str] = []  # every warning logged here, for metrics.json

    def warn(message: str) -> None:
        log.warning(message)
        warnings.append(message)

    columns = feature_columns(catalogue, ts.exclude_features)
    sample = customer_sample(paths.labels, ts.driver_customers)
    sampled = _SampledRows.of(paths, sample)
    # each split read on its own: the labelled rows are never held whole beside their splits
    frames = _splits_of(paths, {s: [s] for s in ("train", "valid", "test", "purged")}, sampled)
    # the training rows are let go of while the booster grows, and read again after it
    rows = TrainingRows(frames.pop("train"), reread=partial(_rows_of, paths, sampled, ["train"]))
    valid, test, purged = (frames.pop(s) for s in ("valid", "test", "purged"))
    columns, empty = without_empty_features(rows.frame, columns)
    if empty:
        warn(
            f"left out {', '.join(repr(c) for c in empty)}: missing in every training row (a "
            "gap between purchases when nobody bought twice, a column mapped to nothing), so "
            "nothing to learn from"
        )
    for role, frame in (("training", rows.frame), ("validation", valid), ("test", test)):
        check_trainable(frame, columns, role=role, min_class_rows=ts.min_class_rows)
    kind = kind_of(settings)
    built_in = {c["name"] for c in catalogue if c["family"] != ATTRIBUTE_FAMILY}
    screened = screen_features(
        rows.frame,
        outcome(rows.frame),
        columns,
        ts.leakage,
        label_name=kind.label_column(),
        seed=ts.seed,
        built_in=built_in,
    )
    for warning in screened.warnings:
        warn(warning)
    columns = screened.columns
    n_train = len(rows.frame)
    log.info(
        "training on %s rows, validating on %s, testing on %s",
        f"{n_train:,}",
        f"{len(valid):,}",
        f"{len(test):,}",
    )

    tuning, in_sample = None, False
    if ts.search.enabled:
        folds, overlaps = kind.tuning_folds(partial(_rows_of, paths, sampled))
        tuning = tune(folds, columns, ts)
        in_sample = tuning is not None and overlaps
        if in_sample:
            log.info("search: the backtest shares its folds, so it is optimistic; trust the test")
    overrides = tuning.params if tuning is not None else None
    test_cutoff = pd.Timestamp(test["cutoff"].iloc[0])
    metadata = {"pipeline": paths.name, "test_cutoff": test_cutoff.date().isoformat()}
    counted = ["cutoff", "churned"]  # what a Split counts: no copy of the feature columns
    purged_counts = purged[counted]
    fit = fit_on_engine(
        settings,
        rows,
        valid,
        purged,
        columns,
        overrides=overrides,
        metadata=metadata,
        files=(paths.labels, paths.features),
    )
    del purged  # the purged rows served the fit alone
    y_test = outcome(test)
    p_test = fit.model.predict_proba(test)
    metrics: dict[str, Any] = evaluation_metrics.binary_metrics(y_test, p_test)

    baselines = kind.baselines(
        CanonicalFiles(paths, settings.features),
        columns,
        where=None if sample is None else sample.where(),
    )
    # the training rows again, only the columns the baselines read unless the fit kept them
    # all: beside the purchases, all of them set the stage's peak (6.1 GB at 100M events)
    wanted = baselines.train_columns
    train = (
        rows.frame if rows.held or wanted is None else _rows_of(paths, sampled, ["train"], wanted)
    )
    del rows
    inputs = baselines.inputs(train, valid)
    baseline_p, skipped = baseline_probabilities(baselines.makers, inputs, test)
    for name, why in skipped.items():
        warn(f"baseline {name} left out of the comparison: it could not be fitted ({why})")
    metrics["baselines"] = {
        n: evaluation_metrics.binary_metrics(y_test, p) for n, p in baseline_p.items()
    }
    if skipped:
        metrics["baselines_not_fitted"] = skipped

    threshold = evaluation_metrics.operating_threshold(
        outcome(valid), fit.model.predict_proba(valid)
    )
    metrics["training"] = {
        "n_train": len(train),
        "n_valid": len(valid),
        "best_iteration": fit.best_iteration,
        "valid_logloss": fit.valid_logloss,
        "operating_threshold": threshold,
        "test_cutoff": test_cutoff.date().isoformat(),
        "searched": overrides is not None,
        "search": tuning.report() if tuning is not None else None,
        "backtest_in_sample_for_search": in_sample,
        "refit_rows": fit.model.metadata.get("refit_rows"),
        "driver_sample": None if sample is None else sample.summary(),
    }
    backtest = kind.backtest(partial(_rows_of, paths, sampled), columns, overrides, baselines)
    metrics.update(backtest.metrics)
    backtest_report = backtest_file(backtest.report)
    segments = test_segments(test, p_test, columns, tenure=kind.tenure_column())
    metrics["roc_auc_interval"] = trust.interval_record(y_test, p_test)
    # said after the test line of the log, written now: metrics.json carries every warning
    caveats = [w for w in [trails_baselines(metrics)] if w is not None]
    caveats += _figure_warnings(
        metrics,
        test,
        y_test,
        fit.model.booster,
        columns,
        built_in=built_in,
        folds=backtest_report["summary"],
        seed=ts.seed,
    )
    metrics["warnings"] = [*warnings, *caveats]

    def model_folder(folder: Path) -> None:
        fit.model.save(folder)
        if backtest.predictions is not None:  # beside the model: what the promotion gate pairs
            io.write_parquet(backtest.predictions, folder / paths.backtest_predictions.name)

    io.write_folder(paths.model, model_folder)
    io.write_json(metrics, paths.metrics)
    io.write_json(backtest_report, paths.backtest)
    io.write_json(segments_file(segments), paths.segments)
    tables = plot_data(y_test, p_test, threshold, baseline_p)
    figures = evaluation_figures(y_test, p_test, baseline_p, metrics)

    def fill(folder: Path) -> None:  # a whole new folder: no series of an earlier run is left
        for name, frame in tables.items():
            io.write_csv(frame, folder / name)
        for name, figure in figures.items():
            io.write_png(figure, folder / f"{name}.png")

    io.write_folder(paths.plots, fill)
    low, high = metrics["roc_auc_interval"]["low"], metrics["roc_auc_interval"]["high"]
    log.info(
        "test ROC AUC %.3f (%.0f%% interval %.3f to %.3f; baselines: %s), ECE %.3f; wrote %s "
        "and %s",
        metrics["roc_auc"],
        100 * trust.CONFIDENCE,
        low,
        high,
        ", ".join(f"{n} {m['roc_auc']:.3f}" for n, m in metrics["baselines"].items()),
        metrics["ece"],
        paths.model,
        paths.reports,
    )
    for caveat in caveats:
        log.warning(caveat)
    fitted = (
        pd.concat([train[counted], purged_counts])
        if fit.model.metadata.get("refit_rows")
        else train
    )
    splits = tuple(
        description.Split.of(context, frame, outcome(frame))
        for context, frame in zip(description.CONTEXTS, (fitted, valid, test), strict=True)
    )
    n_features = len(columns.numeric) + len(columns.categorical)
    return _Trained(metrics, fit.curve, splits, n_features)
