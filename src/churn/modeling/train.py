"""Gradient-boosted churn models: xgboost (hist) on stacked training cutoffs, optionally boosted
from a base margin fitted on the training rows (``train.boost_from``), early stopping on the
validation cutoff, optionally refitted with the purged cutoffs, and a calibrator fitted on the
validation cutoff (pooled with the latest cutoffs before it with ``train.calibration_cutoffs``).
The test cutoff is never used here (nor by the hyperparameter search of
:mod:`churn.modeling.search`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from churn.errors import TrainingError
from churn.modeling.base_margin import BaseMargin
from churn.modeling.calibration import calibration_cutoff_dates, calibration_rows
from churn.modeling.model import Calibrator, ChurnModel, design_matrix
from churn.modeling.training_data import FeatureColumns, TrainingRows, outcome
from churn.settings import TrainSettings

log = logging.getLogger("churn")

SEARCH_SPACE = (
    "learning_rate",
    "max_depth",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
)


class Heartbeat(xgb.callback.TrainingCallback):
    """A log line every ``every_seconds`` while a booster grows, so a long fit is not a long
    silence: the round and the latest validation metrics."""

    def __init__(self, every_seconds: float = 15.0) -> None:
        super().__init__()
        self.every_seconds = every_seconds
        self._last = time.monotonic()

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        now = time.monotonic()
        if now - self._last >= self.every_seconds:
            self._last = now
            latest = {
                f"{data} {metric}": f"{values[-1]:.4f}"
                for data, metrics in evals_log.items()
                for metric, values in metrics.items()
                if values
            }
            log.info("boosting: round %d, %s", epoch + 1, latest or "no metric yet")
        return False


@dataclass(frozen=True)
class FitResult:
    """A fitted model and how it was fitted. ``curve``: each validation metric per boosting
    round of the early-stopped fit (``{"logloss": (0.61, 0.58, ...)}``), rounds after
    ``best_iteration`` included; empty when the engine does not report it."""

    model: ChurnModel
    params: Mapping[str, Any]
    best_iteration: int
    valid_logloss: float
    curve: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Boosted:
    """What :func:`boost` grew: the booster cut at its best iteration, the training categories,
    the best iteration, the validation log loss there, and the validation curve (see
    :class:`FitResult`)."""

    booster: xgb.Booster
    categories: dict[str, tuple[str, ...]]
    best_iteration: int
    valid_logloss: float
    curve: Mapping[str, tuple[float, ...]]


def booster_params(
    settings: TrainSettings, y_train: np.ndarray, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """xgboost parameters for a run: fixed objective and seed, tunable shape parameters."""
    if settings.class_weight == "none":
        weight = 1.0
    elif settings.class_weight == "balanced":
        weight = float((len(y_train) - y_train.sum()) / max(y_train.sum(), 1))
    else:
        weight = float(settings.class_weight)
    # xgboost stops early on the last metric listed; log loss is kept for the search and reports
    metrics = ["logloss"] if settings.early_stopping_metric == "logloss" else ["logloss", "auc"]
    params: dict[str, Any] = {
        "objective": "binary:logistic",
        "eval_metric": metrics,
        "tree_method": "hist",
        "seed": settings.seed,
        "nthread": settings.threads,
        "scale_pos_weight": weight,
        "max_cat_to_onehot": 4,
        **{k: getattr(settings, k) for k in SEARCH_SPACE},
    }
    params.update(overrides or {})
    return params


def _categories(frame: pd.DataFrame, columns: FeatureColumns) -> dict[str, tuple[str, ...]]:
    return {c: tuple(sorted(frame[c].dropna().astype(str).unique())) for c in columns.categorical}


def base_margin_for(
    train: pd.DataFrame, columns: FeatureColumns, settings: TrainSettings
) -> BaseMargin | None:
    """The base margin ``train.boost_from`` asks for, fitted on ``train``; None if unset.
    Raises TrainingError naming every boost_from feature that is not a model feature."""
    if not settings.boost_from:
        return None
    unknown = [f for f in settings.boost_from if f not in columns.numeric]
    if unknown:
        raise TrainingError(
            f"train.boost_from names {unknown}, which are not numeric model features; expected "
            "numeric names from the feature catalogue that train.exclude_features does not drop."
        )
    return BaseMargin.fit(train, outcome(train), settings.boost_from)


def dmatrix(
    rows: pd.DataFrame,
    columns: FeatureColumns,
    cats: Mapping[str, tuple[str, ...]],
    base: BaseMargin | None,
) -> xgb.DMatrix:
    dm = xgb.DMatrix(
        design_matrix(rows, columns.numeric, cats), label=outcome(rows), enable_categorical=True
    )
    if base is not None:
        dm.set_base_margin(base(rows))
    return dm


def boost(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    columns: FeatureColumns,
    params: Mapping[str, Any],
    settings: TrainSettings,
    *,
    base: BaseMargin | None = None,
) -> Boosted:
    """Train with early stopping on ``valid``, starting from ``base`` when given."""
    cats = _categories(train, columns)
    dtrain = dmatrix(train, columns, cats, base)
    return _grow(dtrain, dmatrix(valid, columns, cats, base), cats, params, settings)


def _grow(
    dtrain: xgb.DMatrix,
    dvalid: xgb.DMatrix,
    cats: dict[str, tuple[str, ...]],
    params: Mapping[str, Any],
    settings: TrainSettings,
) -> Boosted:
    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        dict(params),
        dtrain,
        num_boost_round=settings.max_rounds,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=settings.early_stopping_rounds,
        evals_result=history,
        verbose_eval=False,
        callbacks=[Heartbeat()],
    )
    best = int(booster.best_iteration)
    curve = {metric: tuple(map(float, values)) for metric, values in history["valid"].items()}
    return Boosted(booster[: best + 1], cats, best, curve["logloss"][best], curve)


def fit_booster(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    columns: FeatureColumns,
    params: Mapping[str, Any],
    settings: TrainSettings,
    *,
    base: BaseMargin | None = None,
) -> tuple[xgb.Booster, dict[str, tuple[str, ...]], int, float]:
    """Train with early stopping on ``valid``, starting from ``base`` when given; returns the
    booster cut at its best iteration, the training categories, the best iteration and the
    validation log loss there (:func:`boost` without the curve)."""
    grown = boost(train, valid, columns, params, settings, base=base)
    return grown.booster, grown.categories, grown.best_iteration, grown.valid_logloss


def _training_matrix(
    train: pd.DataFrame,
    columns: FeatureColumns,
    settings: TrainSettings,
    overrides: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], BaseMargin | None, dict[str, tuple[str, ...]], xgb.DMatrix]:
    """What the boosting needs of the training rows: the booster parameters, the base margin,
    the training categories and the DMatrix; the rows themselves are not needed after."""
    params = booster_params(settings, outcome(train), overrides)
    base = base_margin_for(train, columns, settings)
    cats = _categories(train, columns)
    return params, base, cats, dmatrix(train, columns, cats, base)


def fit_model(
    train: pd.DataFrame | TrainingRows,
    valid: pd.DataFrame,
    columns: FeatureColumns,
    settings: TrainSettings,
    *,
    purged: pd.DataFrame | None = None,
    overrides: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> FitResult:
    """Train on ``train``, stop early and calibrate on ``valid``; return the model artifact.

    With ``train.refit_on_purged`` and ``purged`` rows (cutoffs between the training and the
    validation cutoff, whose label windows overlap the validation one), the trees are grown
    again on ``train`` and ``purged`` together, as many as early stopping chose on ``train``
    alone, and that refitted model is calibrated on ``valid``. Early stopping never sees the
    purged rows, so their overlap with the validation outcomes cannot fool it, and the model
    still learns from the most recent labelled behaviour. ``best_iteration`` and
    ``valid_logloss`` describe the early-stopped fit.

    With ``train.calibration_cutoffs`` k > 1 the calibrator is fitted on the validation rows
    pooled with the rows of the k - 1 latest earlier cutoffs (purged, then training ones;
    :mod:`churn.modeling.calibration`), listed in the metadata as ``calibration_cutoffs``.

    ``train`` given as :class:`TrainingRows` that can be read again is let go of while the
    booster grows, and read again only if the refit or the pooled calibration needs it."""
    rows = train if isinstance(train, TrainingRows) else TrainingRows(train)
    del train  # only the holder refers to the frame now
    params, base, cats, dtrain = _training_matrix(rows.frame, columns, settings, overrides)
    rows.let_go()
    grown = _grow(dtrain, dmatrix(valid, columns, cats, base), cats, params, settings)
    del dtrain
    booster, best = grown.booster, grown.best_iteration
    meta: dict[str, Any] = {**(metadata or {}), "params": params, "best_iteration": best}
    if settings.refit_on_purged and purged is not None and len(purged):
        fitted = pd.concat([rows.frame, purged], ignore_index=True)
        base = base_margin_for(fitted, columns, settings)
        cats = _categories(fitted, columns)
        booster = xgb.train(
            dict(params), dmatrix(fitted, columns, cats, base), num_boost_round=best + 1
        )
        meta["refit_rows"] = len(fitted)
        del fitted
    uncalibrated = ChurnModel(
        booster=booster,
        calibrator=Calibrator("none"),
        numeric_features=columns.numeric,
        categories=cats,
        metadata=meta,
        base_margin=base,
    )
    pooled = settings.calibration_cutoffs > 1  # only then are the earlier rows read
    earlier = [purged, rows.frame] if pooled else [purged]
    calibrated = calibration_rows(
        valid, [f for f in earlier if f is not None], settings.calibration_cutoffs
    )
    if pooled:
        meta["calibration_cutoffs"] = calibration_cutoff_dates(calibrated)
    calibrator = Calibrator.fit(
        settings.calibration, uncalibrated.margin(calibrated), outcome(calibrated)
    )
    return FitResult(
        replace(uncalibrated, calibrator=calibrator), params, best, grown.valid_logloss, grown.curve
    )
