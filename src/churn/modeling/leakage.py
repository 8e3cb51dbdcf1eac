"""Before training: columns that would make a model look better than it is.

* **Leaks.** A feature that alone separates the training labels almost perfectly is nearly always
  the label in disguise: a twin of the label column, a vendor's churn score, a churn reason that
  is blank for everyone who stayed. Real signals do not: on the bundled data the strongest single
  feature stays below 0.8 ROC AUC. Each feature's single-feature ROC AUC is measured on the
  training rows (categories by out-of-fold target encoding, so a column of unique values scores
  0.5, not 1.0), missingness is measured as a feature of its own, and a name that repeats the
  label's is suspect whatever its AUC.
* **Identifiers.** Text columns with so many distinct values that they name customers rather
  than describe them (a surname, an email, a free-text id) cannot generalise; they are left out.
* **A label the wrong way round.** Churners are usually the minority; a positive class above
  ``max_positive_share`` is worth a warning.

On more than ``train.leakage.max_rows`` training rows the AUCs are measured on a seeded
sample of that many: a leak separates a sample as well as the whole, and 48 AUCs on 4.5M rows
took minutes before the first boosting round.

Pure: frames in, findings out. ``churn train`` calls :func:`screen_features` before fitting:
leaks stop it (:class:`LeakageError`, exit code 6), the rest is logged.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churn.errors import TrainingError
from churn.modeling.training_data import FeatureColumns
from churn.settings import LeakageSettings

MAX_SINGLE_FEATURE_AUC = 0.98
MAX_POSITIVE_SHARE = 0.6
MIN_IDENTIFIER_VALUES = 100
"""A text column needs at least this many distinct values to look like an identifier..."""
MIN_IDENTIFIER_SHARE = 0.05
"""...and at least this share of the rows as distinct values."""
_FOLDS = 5
_GENERIC_NAME_TOKENS = frozenset(
    {"is", "has", "flag", "label", "target", "value", "status", "indicator", "y", "yes", "no", "1"}
)


class LeakageError(TrainingError):
    """Training features that give the label away (exit code 6, as every TrainingError)."""


@dataclass(frozen=True)
class LeakSuspect:
    column: str
    auc: float
    """Single-feature ROC AUC on the training rows (or the sample of them the screen measures),
    oriented so that 0.5 is chance and 1.0 a perfect separation (a feature that separates the
    wrong way round scores high too)."""
    why: str

    def phrase(self) -> str:
        return f"{self.column!r} {self.why} (single-feature ROC AUC {self.auc:.3f})"


def _oriented_auc(y: np.ndarray, score: np.ndarray) -> float:
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


def _numeric_auc(values: pd.Series, y: np.ndarray) -> float:
    """Missing values sit below every value, then above: a leak in either place is caught."""
    x = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    missing = np.isnan(x)
    if missing.all():
        return 0.5
    low, high = np.nanmin(x) - 1.0, np.nanmax(x) + 1.0
    return max(
        _oriented_auc(y, np.where(missing, low, x)), _oriented_auc(y, np.where(missing, high, x))
    )


def _categorical_auc(values: pd.Series, y: np.ndarray, seed: int) -> float:
    """Out-of-fold churn rate of each row's category (missing is a category of its own)."""
    codes = values.astype("string").fillna("\0missing").to_numpy()
    encoded = np.empty(len(y), dtype="float64")
    splits = min(_FOLDS, int(min(y.sum(), len(y) - y.sum())))
    folds = StratifiedKFold(n_splits=max(splits, 2), shuffle=True, random_state=seed)
    for fit, held in folds.split(codes, y):
        rates = pd.Series(y[fit]).groupby(codes[fit]).mean()
        encoded[held] = pd.Series(codes[held]).map(rates).fillna(y[fit].mean()).to_numpy()
    return _oriented_auc(y, encoded)


def _tokens(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t}


def repeats_label_name(column: str, label_name: str) -> bool:
    """``column``'s name holds every distinctive word of ``label_name`` ("Churn Score" and
    "Churn Reason" repeat "Churn Label"; "tenure" does not repeat "Exited")."""
    distinctive = _tokens(label_name) - _GENERIC_NAME_TOKENS
    return bool(distinctive) and distinctive <= _tokens(column)


def single_feature_aucs(
    rows: pd.DataFrame,
    y: np.ndarray,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int = 0,
) -> dict[str, float]:
    """Each feature's single-feature ROC AUC on ``rows`` (oriented: 0.5 is chance)."""
    y = np.asarray(y).astype(np.int8)
    out = {c: _numeric_auc(rows[c], y) for c in numeric}
    out |= {c: _categorical_auc(rows[c], y, seed) for c in categorical}
    return out


def leak_suspects(
    rows: pd.DataFrame,
    y: np.ndarray,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    label_name: str | None = None,
    max_auc: float = MAX_SINGLE_FEATURE_AUC,
    allow: Sequence[str] = (),
    seed: int = 0,
) -> list[LeakSuspect]:
    """The features of ``rows`` (training rows, outcomes ``y`` of 0/1) that look like the label:
    single-feature ROC AUC of the value or of its missingness at or above ``max_auc``, or a name
    that repeats ``label_name``. Columns in ``allow`` are never suspect. Strongest first."""
    y = np.asarray(y).astype(np.int8)
    if len(np.unique(y)) < 2:
        return []
    found = []
    for column in [*numeric, *categorical]:
        if column in allow:
            continue
        values = rows[column]
        if column in categorical:
            auc = _categorical_auc(values, y, seed)
        else:
            auc = _numeric_auc(values, y)
        missing = values.isna().to_numpy()
        missing_auc = _oriented_auc(y, missing.astype("float64")) if missing.any() else 0.5
        if missing_auc >= max_auc:
            found.append(LeakSuspect(column, missing_auc, "is missing exactly for one class"))
        elif auc >= max_auc:
            found.append(LeakSuspect(column, auc, "alone separates the training labels"))
        elif label_name is not None and repeats_label_name(column, label_name):
            found.append(
                LeakSuspect(column, auc, f"has a name that repeats the label's ({label_name!r})")
            )
    return sorted(found, key=lambda s: -s.auc)


def leakage_error(suspects: Sequence[LeakSuspect]) -> LeakageError:
    names = [s.column for s in suspects]
    lines = "\n".join(f"  - {s.phrase()}" for s in suspects)
    return LeakageError(
        f"{len(suspects)} feature(s) look like the label in disguise; a model trained on them "
        f"would score well here and fail on customers who have not churned yet:\n{lines}\n"
        "If a column is only known after a customer churned (a churn score, reason or date), "
        f"leave it out: train.exclude_features: {names}. If it is a genuine signal, keep it: "
        f"train.leakage.allow: {names}."
    )


def already_gone_warning(suspects: Sequence[LeakSuspect]) -> str:
    """What it means when features churn computed from the events before each cutoff separate
    the labels: many churners had gone quiet before the cutoff already."""
    lines = "; ".join(x.phrase() for x in suspects)
    return (
        f"{lines}. churn computes these from the events before each cutoff, so this is no "
        "leak: many of the churners had already gone quiet before the cutoff, and the test "
        "figures and the list then reward finding customers who are already gone. A "
        "labels.max_inactive_days shorter than the silence that means a customer is gone, or a "
        "shorter labels.horizon_days, keeps to customers who can still be kept."
    )


def identifier_like(rows: pd.DataFrame, categorical: Sequence[str]) -> list[str]:
    """Text columns of ``rows`` whose distinct values are many (at least
    ``MIN_IDENTIFIER_VALUES``) and a large share of the rows (``MIN_IDENTIFIER_SHARE``): names,
    emails, free-text ids. A model learns the customers, not the pattern, from them."""
    out = []
    for column in categorical:
        distinct = int(rows[column].nunique(dropna=True))
        if distinct >= MIN_IDENTIFIER_VALUES and distinct >= MIN_IDENTIFIER_SHARE * len(rows):
            out.append(column)
    return out


def positive_share_warning(
    y: np.ndarray, *, max_share: float = MAX_POSITIVE_SHARE, snapshot: bool = True
) -> str | None:
    """A sentence when churners are more than ``max_share`` of the training rows, else None:
    a snapshot's label may be the wrong way round; an event log's churn comes from its
    horizon and who counts as a customer."""
    share = float(np.mean(y)) if len(y) else 0.0
    if share <= max_share:
        return None
    said = f"{share:.0%} of the training rows are labelled as churned; churners are usually the "
    if snapshot:
        return said + (
            "minority. If the label is the wrong way round, set the value that means "
            "'churned' (data.snapshot.positive_label)."
        )
    return said + (
        "minority. In an event log that means most customers do not come back within the "
        "horizon (one-time buyers, or a horizon short for how often they return): check "
        "labels.horizon_days, and labels.max_inactive_days to leave out customers already "
        "lost before a cutoff."
    )


def screening_sample(
    rows: pd.DataFrame, y: np.ndarray, max_rows: int, *, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """``rows`` and their outcomes ``y`` as they are when there are at most ``max_rows``, else
    ``max_rows`` of them drawn without replacement (seeded by ``seed``), in their order."""
    if len(rows) <= max_rows:
        return rows, y
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=max_rows, replace=False))
    return rows.iloc[keep].reset_index(drop=True), np.asarray(y)[keep]


@dataclass(frozen=True)
class Screened:
    """The feature columns to train on, and what the guard left out or noticed."""

    columns: FeatureColumns
    identifiers: tuple[str, ...]
    warnings: tuple[str, ...]


def screen_features(
    train: pd.DataFrame,
    y: np.ndarray,
    columns: FeatureColumns,
    settings: LeakageSettings,
    *,
    label_name: str | None = None,
    seed: int = 0,
    built_in: Collection[str] = (),
) -> Screened:
    """The guard on the training rows (outcomes ``y``): identifier-like text features left out
    (``settings.drop_identifiers``), then :class:`LeakageError` if any remaining feature looks
    like the label on them, or on a sample of ``settings.max_rows`` of them
    (:func:`screening_sample`) when there are more; warnings for what was left out and for a
    positive class above ``MAX_POSITIVE_SHARE``. Raises LeakageError naming every suspect at
    once.

    ``built_in``: the features churn computes itself from the events before each cutoff
    (recency, frequency, gaps...). They cannot carry what happened after the cutoff, so one
    that separates the labels is no leak but churn that had already happened: a warning
    (:func:`already_gone_warning`), never a stop. On a call log where customers are active
    every few days, recency separated a 90-day inactivity label at ROC AUC 0.99, and the screen
    stopped ``churn train`` on a sound pipeline."""
    allowed = set(settings.allow)
    identifiers = (
        tuple(c for c in identifier_like(train, columns.categorical) if c not in allowed)
        if settings.drop_identifiers
        else ()
    )
    kept = FeatureColumns(
        numeric=columns.numeric,
        categorical=tuple(c for c in columns.categorical if c not in identifiers),
    )
    sample, y_sample = screening_sample(
        train[[*kept.numeric, *kept.categorical]], y, settings.max_rows, seed=seed
    )
    suspects = leak_suspects(
        sample,
        y_sample,
        numeric=kept.numeric,
        categorical=kept.categorical,
        label_name=label_name,
        max_auc=settings.max_single_feature_auc,
        allow=settings.allow,
        seed=seed,
    )
    leaks = [x for x in suspects if x.column not in built_in]
    if leaks:
        raise leakage_error(leaks)
    obvious = [x for x in suspects if x.column in built_in]
    warnings = [already_gone_warning(obvious)] if obvious else []
    warnings += [
        f"left out {c!r}: {train[c].nunique():,} distinct values in {len(train):,} training rows "
        "look like an identifier or a name, which a model memorises instead of learning from "
        "(train.leakage.allow keeps it)"
        for c in identifiers
    ]
    share = positive_share_warning(y, snapshot=label_name is not None)
    if share is not None:
        warnings.append(share)
    return Screened(kept, identifiers, tuple(warnings))
