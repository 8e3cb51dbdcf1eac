"""Hyperparameters chosen per dataset: an optuna search scored on folds that never include the
test cutoff.

Each trial fits one booster per :class:`TuningFold` (early stopping on the fold's validation
rows, from the fold's base margin) and is scored by its mean ROC AUC on the folds' held-out
rows. The first trial is the configured recipe, so the search can only keep it or find
something better on those folds. Only the shape parameters the params file leaves unset are
searched: a hand-tuned recipe wins wherever it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn.modeling.train import (
    SEARCH_SPACE,
    base_margin_for,
    booster_params,
    dmatrix,
    fit_booster,
)
from churn.modeling.training_data import FeatureColumns, outcome
from churn.settings import TrainSettings

log = logging.getLogger("churn")


@dataclass(frozen=True)
class TuningFold:
    """Rows a trial learns from (``train``), stops early on (``valid``) and is scored on
    (``held_out``), all from before the test cutoff."""

    name: str
    train: pd.DataFrame
    valid: pd.DataFrame
    held_out: pd.DataFrame


@dataclass(frozen=True)
class Tuning:
    """What the search chose and how: ``params`` overrides :func:`booster_params`."""

    params: dict[str, Any]
    searched: tuple[str, ...]
    folds: tuple[str, ...]
    trials: int
    default_auc: float
    best_auc: float

    def report(self) -> dict[str, Any]:
        return {
            "searched": list(self.searched),
            "chosen": self.params,
            "folds": list(self.folds),
            "trials": self.trials,
            "recipe_fold_roc_auc": self.default_auc,
            "chosen_fold_roc_auc": self.best_auc,
        }


def searched_parameters(settings: TrainSettings) -> tuple[str, ...]:
    """The shape parameters a search may choose: those the params file does not set."""
    return tuple(p for p in SEARCH_SPACE if p not in settings.model_fields_set)


def _suggest(trial: Any, name: str) -> float | int:
    if name == "learning_rate":
        return float(trial.suggest_float(name, 0.01, 0.3, log=True))
    if name == "max_depth":
        return int(trial.suggest_int(name, 2, 8))
    if name == "min_child_weight":
        return float(trial.suggest_float(name, 0.5, 50.0, log=True))
    if name == "subsample":
        return float(trial.suggest_float(name, 0.5, 1.0))
    if name == "colsample_bytree":
        return float(trial.suggest_float(name, 0.3, 1.0))
    if name == "reg_lambda":
        return float(trial.suggest_float(name, 0.1, 30.0, log=True))
    raise ValueError(f"no search range for {name!r}")


def fold_auc(
    folds: Sequence[TuningFold],
    columns: FeatureColumns,
    settings: TrainSettings,
    overrides: Mapping[str, Any],
) -> float:
    """Mean ROC AUC on the folds' held-out rows of boosters fitted with ``overrides``."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415 - slow import

    aucs = []
    for fold in folds:
        base = base_margin_for(fold.train, columns, settings)
        params = booster_params(settings, outcome(fold.train), overrides)
        booster, cats, _, _ = fit_booster(
            fold.train, fold.valid, columns, params, settings, base=base
        )
        scores = booster.predict(dmatrix(fold.held_out, columns, cats, base))
        aucs.append(roc_auc_score(outcome(fold.held_out), scores))
    return float(np.mean(aucs))


def tune(
    folds: Sequence[TuningFold], columns: FeatureColumns, settings: TrainSettings
) -> Tuning | None:
    """The best of ``train.search.n_trials`` trials (or as many as ``timeout_seconds`` allows)
    over the unset shape parameters; None when the params file sets all of them or there is no
    fold to score on (both logged)."""
    searched = searched_parameters(settings)
    if not searched:
        log.info("search: the params file sets every shape parameter; training with it as is")
        return None
    if not folds:
        log.warning(
            "search: too few cutoffs or folds before the test cutoff to score a trial on; "
            "training with the configured recipe"
        )
        return None
    usable = [f for f in folds if len(np.unique(outcome(f.held_out))) == 2]
    if not usable:
        log.warning(
            "search: no fold before the test cutoff has both churners and stayers to score a "
            "trial on; training with the configured recipe"
        )
        return None
    import optuna  # noqa: PLC0415 - slow import, only when searching

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recipe = {p: getattr(settings, p) for p in searched}

    def objective(trial: optuna.Trial) -> float:
        return fold_auc(usable, columns, settings, {p: _suggest(trial, p) for p in searched})

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=settings.seed)
    )
    study.enqueue_trial(recipe)
    study.optimize(
        objective, n_trials=settings.search.n_trials, timeout=settings.search.timeout_seconds
    )
    default_auc = float(study.trials[0].value) if study.trials[0].value is not None else np.nan
    tuning = Tuning(
        params=dict(study.best_params),
        searched=searched,
        folds=tuple(f.name for f in usable),
        trials=len(study.trials),
        default_auc=default_auc,
        best_auc=float(study.best_value),
    )
    log.info(
        "search: %d trials over %s on %d fold(s) (%s): fold ROC AUC %.4f with the recipe, "
        "%.4f with the choice",
        tuning.trials,
        ", ".join(searched),
        len(usable),
        ", ".join(tuning.folds),
        tuning.default_auc,
        tuning.best_auc,
    )
    return tuning
