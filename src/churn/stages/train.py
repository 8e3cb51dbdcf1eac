"""Stage ``train``: labels + features -> ``models/<p>/`` and ``reports/<p>/`` (metrics with
baselines side by side, per-segment AUC, rolling-origin backtest, plot data for DVC)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from churn import io
from churn.data.event_summaries import daily_totals
from churn.engines import sql_runner
from churn.errors import ConfigError
from churn.evaluation import curves
from churn.evaluation import metrics as evaluation_metrics
from churn.evaluation import segments as evaluation_segments
from churn.io.paths import PipelinePaths
from churn.modeling.backtest import (
    cross_validated_auc,
    rolling_origin_backtest,
    rolling_origin_plan,
)
from churn.modeling.baselines import (
    BaselineInputs,
    event_baselines,
    onehot_logistic_baseline,
    single_feature_baseline,
)
from churn.modeling.train import fit_model, search_params
from churn.modeling.training_data import (
    FeatureColumns,
    check_trainable,
    feature_columns,
    labelled_rows,
    outcome,
    split_rows,
)
from churn.reporting import evaluation_figures
from churn.settings import EventLabelSettings, PipelineSettings
from churn.stages._canonical import events_table

PARAMS: tuple[str, ...] = ("train", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``features`` for the SQL engine and the Spark session."""

log = logging.getLogger("churn")


def _segments(test: pd.DataFrame, p: np.ndarray, columns: FeatureColumns) -> pd.DataFrame:
    groups: dict[str, pd.Series] = {}
    if "days_since_first_activity" in test:
        groups["tenure"] = evaluation_segments.tenure_bands(test["days_since_first_activity"])
    if "tenure_months" in test:
        groups["tenure"] = evaluation_segments.tenure_bands(test["tenure_months"] * 30.4)
    for name in columns.categorical:
        groups[name] = evaluation_segments.top_categories(test[name])
    return evaluation_segments.segment_metrics(outcome(test), p, groups)


def _plot_data(
    y_test: np.ndarray, p_test: np.ndarray, threshold: float, baselines: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    roc = [curves.roc_curve_frame(y_test, p_test).assign(model="churn model")]
    roc += [curves.roc_curve_frame(y_test, p).assign(model=name) for name, p in baselines.items()]
    return {
        "roc": pd.concat(roc, ignore_index=True),
        "precision_recall": curves.pr_curve_frame(y_test, p_test),
        "calibration": curves.calibration_frame(y_test, p_test),
        "gains": curves.gains_frame(y_test, p_test),
        "confusion": pd.DataFrame(
            {
                "actual": np.where(y_test == 1, "churn", "stay"),
                "predicted": np.where(p_test >= threshold, "churn", "stay"),
            }
        ),
    }


def _figures(
    y: np.ndarray, p: np.ndarray, baselines: dict[str, np.ndarray], metrics: dict[str, Any]
) -> dict[str, Any]:
    """The evaluation charts as matplotlib figures, baselines beside the model."""
    label = f"churn model (AUC {metrics['roc_auc']:.3f})"
    named = {f"{n} (AUC {metrics['baselines'][n]['roc_auc']:.3f})": b for n, b in baselines.items()}
    return {
        "roc": evaluation_figures.roc_figure(
            curves.roc_curve_frame(y, p),
            label=label,
            baselines={n: curves.roc_curve_frame(y, b) for n, b in named.items()},
        ),
        "precision_recall": evaluation_figures.pr_figure(
            curves.pr_curve_frame(y, p),
            label=label,
            baselines={n: curves.pr_curve_frame(y, b) for n, b in named.items()},
        ),
        "calibration": evaluation_figures.calibration_figure(
            curves.calibration_frame(y, p), label=f"churn model (ECE {metrics['ece']:.3f})"
        ),
        "gains": evaluation_figures.gains_figure(
            curves.gains_frame(y, p),
            label=label,
            baselines={n: curves.gains_frame(y, b) for n, b in named.items()},
        ),
    }


def run(settings: PipelineSettings, paths: PipelinePaths) -> dict[str, Any]:
    """Train the churn model and its baselines, evaluate on the test cutoff, write it all."""
    ts = settings.train
    labels = io.read_parquet(paths.labels, stage_hint=f"churn labels {paths.name}")
    features = io.read_parquet(paths.features, stage_hint=f"churn features {paths.name}")
    catalogue = io.read_json(paths.catalogue, stage_hint=f"churn features {paths.name}")
    rows = labelled_rows(features, labels)
    columns = feature_columns(catalogue, ts.exclude_features)
    train, valid, test = (split_rows(rows, s) for s in ("train", "valid", "test"))
    for role, frame in (("training", train), ("validation", valid), ("test", test)):
        check_trainable(frame, columns, role=role, min_class_rows=ts.min_class_rows)
    log.info(
        "training on %s rows, validating on %s, testing on %s",
        f"{len(train):,}",
        f"{len(valid):,}",
        f"{len(test):,}",
    )

    overrides = search_params(train, valid, columns, ts) if ts.search.enabled else None
    test_cutoff = pd.Timestamp(test["cutoff"].iloc[0])
    metadata = {"pipeline": paths.name, "test_cutoff": test_cutoff.date().isoformat()}
    if ts.engine == "spark":
        if ts.refit_on_purged:
            raise ConfigError(
                f"pipelines/{paths.name}/params.yaml: train.refit_on_purged is not supported "
                "with train.engine: spark yet. Set train.refit_on_purged: false, or "
                "train.engine: local."
            )
        from churn.engines.spark import spark_session  # noqa: PLC0415 - optional dependency
        from churn.modeling.spark_train import spark_fit_model  # noqa: PLC0415

        session = spark_session(settings.features.spark, setting="train.engine")
        log.info(
            "fitting the booster on Spark (%s, %d worker(s))",
            session.sparkContext.master,
            ts.spark_workers,
        )
        fit = spark_fit_model(
            session,
            train,
            valid,
            columns,
            ts,
            num_workers=ts.spark_workers,
            overrides=overrides,
            metadata=metadata,
        )
    else:
        purged = split_rows(rows, "purged")
        fit = fit_model(
            train, valid, columns, ts, purged=purged, overrides=overrides, metadata=metadata
        )
    y_test = outcome(test)
    p_test = fit.model.predict_proba(test)
    metrics: dict[str, Any] = evaluation_metrics.binary_metrics(y_test, p_test)

    purchases = None
    labs = settings.labels
    if isinstance(labs, EventLabelSettings):
        purchases = daily_totals(
            events_table(settings, paths),
            labs.activity_event_types,
            sql_runner(settings.features),
        )
        has_amounts = bool(purchases["amount"].notna().any())
        baselines = dict(event_baselines(has_purchases=has_amounts))
        horizon = labs.horizon_days
    else:
        baselines = {
            "logistic_onehot": onehot_logistic_baseline(columns.numeric, columns.categorical),
            "tenure": single_feature_baseline("tenure_months", higher_is_riskier=False),
        }
        horizon = 0
    inputs = BaselineInputs(train, valid, purchases, horizon)
    baseline_p = {name: make(inputs)(test) for name, make in baselines.items()}
    metrics["baselines"] = {
        n: evaluation_metrics.binary_metrics(y_test, p) for n, p in baseline_p.items()
    }

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
        "refit_rows": fit.model.metadata.get("refit_rows"),
    }
    if isinstance(labs, EventLabelSettings):
        history = rows[rows["split"].isin(["train", "purged", "valid"])]
        plan = rolling_origin_plan(list(history["cutoff"].unique()), horizon, ts.backtest_cutoffs)
        backtest: Any = rolling_origin_backtest(
            history,
            plan,
            columns,
            ts,
            overrides=overrides,
            baselines=baselines,
            purchases=purchases,
            horizon_days=horizon,
        )
    else:
        aucs = cross_validated_auc(
            split_rows(rows, ["train", "valid"]), columns, ts, overrides=overrides
        )
        metrics["cv_roc_auc_mean"] = float(np.mean(aucs))
        metrics["cv_roc_auc_std"] = float(np.std(aucs, ddof=1))
        backtest = {"cross_validation_roc_auc": aucs}
    segments = _segments(test, p_test, columns)

    io.write_folder(paths.model, fit.model.save)
    io.write_json(metrics, paths.metrics)
    io.write_json(backtest, paths.backtest)
    io.write_json(segments.to_dict(orient="records"), paths.segments)
    for name, frame in _plot_data(y_test, p_test, threshold, baseline_p).items():
        io.write_csv(frame, paths.plots / f"{name}.csv")
    for name, figure in _figures(y_test, p_test, baseline_p, metrics).items():
        io.write_png(figure, paths.plots / f"{name}.png")
    log.info(
        "test ROC AUC %.3f (baselines: %s), ECE %.3f; wrote %s and %s",
        metrics["roc_auc"],
        ", ".join(f"{n} {m['roc_auc']:.3f}" for n, m in metrics["baselines"].items()),
        metrics["ece"],
        paths.model,
        paths.reports,
    )
    return metrics
