"""Fit the churn model on the engine ``train.engine`` names: locally, or on Spark workers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from churn.errors import ConfigError
from churn.modeling.train import FitResult, fit_model
from churn.modeling.training_data import FeatureColumns, TrainingRows
from churn.settings import PipelineSettings

log = logging.getLogger("churn")


def fit_on_engine(
    settings: PipelineSettings,
    train: TrainingRows,
    valid: pd.DataFrame,
    purged: pd.DataFrame,
    columns: FeatureColumns,
    *,
    overrides: Mapping[str, Any] | None,
    metadata: dict[str, Any],
) -> FitResult:
    """Fit on ``train``, stop early and calibrate on ``valid``; locally the ``purged`` rows are
    used for the refit (``train.refit_on_purged``), which Spark does not support yet, and the
    training rows are let go of while the booster grows (:class:`TrainingRows`)."""
    ts = settings.train
    if ts.engine != "spark":
        return fit_model(
            train, valid, columns, ts, purged=purged, overrides=overrides, metadata=metadata
        )
    if ts.refit_on_purged:
        raise ConfigError(
            f"pipelines/{settings.name}/params.yaml: train.refit_on_purged is not supported "
            "with train.engine: spark yet. Set train.refit_on_purged: false, or "
            "train.engine: local."
        )
    if ts.calibration_cutoffs > 1:
        raise ConfigError(
            f"pipelines/{settings.name}/params.yaml: train.calibration_cutoffs "
            f"{ts.calibration_cutoffs} is not supported with train.engine: spark yet (the "
            "calibrator is fitted on the validation cutoff alone there). Set "
            "train.calibration_cutoffs: 1, or train.engine: local."
        )
    from churn.engines.spark import spark_session  # noqa: PLC0415 - optional dependency
    from churn.modeling.spark_train import spark_fit_model  # noqa: PLC0415

    session = spark_session(settings.features.spark, setting="train.engine")
    log.info(
        "fitting the booster on Spark (%s, %d worker(s))",
        session.sparkContext.master,
        ts.spark_workers,
    )
    return spark_fit_model(
        session,
        train.frame,
        valid,
        columns,
        ts,
        num_workers=ts.spark_workers,
        overrides=overrides,
        metadata=metadata,
    )
