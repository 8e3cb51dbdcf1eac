"""Fit the churn model on the engine ``train.engine`` names: locally, or on Spark workers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from pathlib import Path
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
    files: tuple[Path, Path] | None = None,
) -> FitResult:
    """Fit on ``train``, stop early and calibrate on ``valid``; locally the ``purged`` rows are
    used for the refit (``train.refit_on_purged``), which Spark does not support yet, and the
    training rows are let go of while the booster grows (:class:`TrainingRows`).

    ``files``: the ``labels.parquet`` and ``features.parquet`` the rows come from. With
    ``features.engine: spark`` too (whose executors already read the project's files, so see
    its folder) the executors read the training and validation rows from them, and the driver
    hands over none (:func:`churn.modeling.spark_train.parquet_training_rows`); otherwise the
    rows go from the driver through Arrow."""
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
    from churn.engines.spark import (  # noqa: PLC0415 - optional dependency
        scoped_session,
        spark_session,
    )
    from churn.modeling.spark_train import (  # noqa: PLC0415
        parquet_training_rows,
        spark_fit_model,
    )

    session = spark_session(settings.features.spark, setting="train.engine")
    spark_rows = None
    if files is not None and settings.features.engine == "spark":
        # a scoped session reads nanosecond timestamps (parquet_dataframe)
        scoped = scoped_session(session, settings.features.spark)
        spark_rows = partial(parquet_training_rows, scoped, files, columns)
    log.info(
        "fitting the booster on Spark (%s, %d worker(s)), the rows %s",
        session.sparkContext.master,
        ts.spark_workers,
        "handed over by the driver" if spark_rows is None else "read by the executors",
    )
    return spark_fit_model(
        session,
        train,
        valid,
        columns,
        ts,
        num_workers=ts.spark_workers,
        overrides=overrides,
        metadata=metadata,
        spark_rows=spark_rows,
    )
