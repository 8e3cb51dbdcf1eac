"""Does today's population still look like the one the model learned from?

Population stability index (PSI) per feature and for the score, share of missing values, and
categories never seen in training. PSI = sum over bins of (a - e) * ln(a / e), with e and a the
shares of the reference (training) and current (scoring) populations in each bin; bins are
deciles of the reference (missing values form a bin of their own, categories are bins). Common
reading: below 0.1 stable, 0.1 to 0.2 moderate shift, above 0.2 a shift worth acting on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from churn.modeling.model import PREDICT_BATCH_ROWS, ChurnModel
from churn.settings import MonitoringSettings

EPSILON = 1e-4
"""Floor of a bin's share, so an empty bin contributes a large but finite amount."""


def _psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    if expected.sum() == 0 or actual.sum() == 0:
        return float("nan")
    e = np.maximum(expected / expected.sum(), EPSILON)
    a = np.maximum(actual / actual.sum(), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_psi(reference: pd.Series, current: pd.Series, *, bins: int = 10) -> float:
    """PSI of a numeric feature over the reference's quantile bins plus a missing-value bin."""
    ref = pd.to_numeric(reference, errors="coerce").to_numpy(dtype="float64")
    cur = pd.to_numeric(current, errors="coerce").to_numpy(dtype="float64")
    known = ref[~np.isnan(ref)]
    edges: np.ndarray = np.array([])
    if len(known):
        # deciles, plus the reference's own range: values below its minimum or above its
        # maximum get bins of their own, so a constant reference still shows a shift
        inner = np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(
            np.concatenate([[known.min()], inner, [np.nextafter(known.max(), np.inf)]])
        )

    def counts(values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        binned = np.bincount(
            np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1
        )
        return np.append(binned, missing.sum()).astype("float64")

    return _psi_from_counts(counts(ref), counts(cur))


def categorical_psi(reference: pd.Series, current: pd.Series) -> float:
    """PSI of a categorical feature: one bin per category (and one for missing values)."""
    ref = reference.astype(object).where(reference.notna(), "<missing>").astype(str)
    cur = current.astype(object).where(current.notna(), "<missing>").astype(str)
    categories = sorted(set(ref) | set(cur))
    e = ref.value_counts().reindex(categories, fill_value=0).to_numpy(dtype="float64")
    a = cur.value_counts().reindex(categories, fill_value=0).to_numpy(dtype="float64")
    return _psi_from_counts(e, a)


class Columns(Protocol):
    """Rows read a column at a time (``churn.io.files.ParquetRows``): the reference
    population need not be held whole, since each feature's drift reads its own column and the
    score's reads the model's columns a batch of rows at a time."""

    def __len__(self) -> int: ...

    def __getitem__(self, column: str) -> pd.Series: ...

    def frames(self, columns: list[str], *, batch_rows: int) -> Iterator[pd.DataFrame]:
        """``columns`` of the rows in order, ``batch_rows`` at a time (at least one frame)."""
        ...


def _probability(model: ChurnModel, rows: pd.DataFrame | Columns) -> np.ndarray:
    """The model's probability for each of ``rows``; from :class:`Columns`, a batch of rows at
    a time (a row's probability depends on that row alone)."""
    if isinstance(rows, pd.DataFrame):
        return model.predict_proba(rows)
    margin = model.base_margin.features if model.base_margin is not None else ()
    columns = list(dict.fromkeys([*model.feature_names, *margin]))
    frames = rows.frames(columns, batch_rows=PREDICT_BATCH_ROWS)
    return np.concatenate([model.predict_proba(frame) for frame in frames])


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    psi: float
    missing_reference: float
    missing_current: float
    unseen_categories: list[str]
    unseen_share: float
    flagged: bool


def feature_drift(
    reference: pd.DataFrame | Columns,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    threshold: float,
    bins: int = 10,
) -> list[FeatureDrift]:
    """Drift of each feature from ``reference`` (training rows) to ``current`` (scoring rows),
    largest PSI first."""
    out = []
    for name in [*numeric, *categorical]:
        is_cat = name in categorical
        ref, cur = reference[name], current[name]
        psi = categorical_psi(ref, cur) if is_cat else numeric_psi(ref, cur, bins=bins)
        unseen: list[str] = []
        unseen_share = 0.0
        if is_cat:
            seen = set(ref.dropna().astype(str))
            new = cur.dropna().astype(str)
            is_new = ~new.isin(seen)
            unseen = sorted(set(new[is_new]))[:20]
            unseen_share = float(is_new.sum() / max(len(cur), 1))
        out.append(
            FeatureDrift(
                feature=name,
                kind="categorical" if is_cat else "numeric",
                psi=psi,
                missing_reference=float(ref.isna().mean()) if len(ref) else 0.0,
                missing_current=float(cur.isna().mean()) if len(cur) else 0.0,
                unseen_categories=unseen,
                unseen_share=unseen_share,
                flagged=bool(psi > threshold),
            )
        )
    return sorted(out, key=lambda d: -d.psi if np.isfinite(d.psi) else 0.0)


def drift_summary(
    features: list[FeatureDrift],
    *,
    score_psi: float,
    threshold: float,
    reference_rows: int,
    current_rows: int,
    ignored: Sequence[str] = (),
) -> dict[str, Any]:
    """The drift report as plain data (``drift.json``)."""
    flagged = [f.feature for f in features if f.flagged]
    return {
        "psi_threshold": threshold,
        "reference_rows": reference_rows,
        "current_rows": current_rows,
        "score_psi": score_psi,
        "score_flagged": bool(score_psi > threshold),
        "flagged_features": flagged,
        "ignored_features": list(ignored),
        "features": [asdict(f) for f in features],
    }


TRAINING_SPLITS = ("train", "valid")


def training_rows(labels: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Feature rows of the population a model of this pipeline is trained on."""
    keys = labels.loc[labels["split"].isin(TRAINING_SPLITS), ["customer_id", "cutoff"]]
    return features.merge(keys, on=["customer_id", "cutoff"])


def population_drift(
    model: ChurnModel,
    reference: pd.DataFrame | Columns,
    current: pd.DataFrame,
    *,
    catalogue: Sequence[Mapping[str, str]],
    settings: MonitoringSettings,
    current_probability: np.ndarray | None = None,
) -> dict[str, Any]:
    """Drift of ``current`` from ``reference`` over the model's features and its score.

    ``reference``: a frame, or :class:`Columns` read a column or a batch of rows at a time.
    Features of ``settings.exempt_families`` are measured but never flagged."""
    family = {f["name"]: f["family"] for f in catalogue}
    exempt = [n for n in model.feature_names if family.get(n) in settings.exempt_families]
    drifts = feature_drift(
        reference,
        current,
        numeric=list(model.numeric_features),
        categorical=list(model.categories),
        threshold=settings.psi_threshold,
        bins=settings.psi_bins,
    )
    drifts = [d if d.feature not in exempt else _unflag(d) for d in drifts]
    p_current = model.predict_proba(current) if current_probability is None else current_probability
    score_psi = numeric_psi(
        pd.Series(_probability(model, reference)), pd.Series(p_current), bins=settings.psi_bins
    )
    return drift_summary(
        drifts,
        score_psi=score_psi,
        threshold=settings.psi_threshold,
        reference_rows=len(reference),
        current_rows=len(current),
        ignored=exempt,
    )


def _unflag(drift: FeatureDrift) -> FeatureDrift:
    return replace(drift, flagged=False)


def scoring_rows(labels: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Feature rows of the customers a new champion would score: the ``score`` cutoff of an
    event pipeline, the current (not churned) customers of a snapshot."""
    if (labels["split"] == "score").any():
        keys = labels.loc[labels["split"] == "score", ["customer_id", "cutoff"]]
    else:
        keys = labels.loc[labels["churned"].eq(False), ["customer_id", "cutoff"]]
    return features.merge(keys, on=["customer_id", "cutoff"])


def drift_problems(
    model: ChurnModel,
    labels: pd.DataFrame,
    features: pd.DataFrame,
    *,
    catalogue: Sequence[Mapping[str, str]],
    settings: MonitoringSettings,
) -> list[str]:
    """How the population ``model`` would score today (:func:`scoring_rows`) has drifted from
    the one it was trained on (:func:`training_rows`), as phrases for the promotion gate
    ("score PSI 0.35", "orders_total PSI 0.41 (threshold 0.2)"); empty when nothing is over
    ``settings.psi_threshold``."""
    return population_problems(
        model,
        training_rows(labels, features),
        scoring_rows(labels, features),
        catalogue=catalogue,
        settings=settings,
    )


def population_problems(
    model: ChurnModel,
    reference: pd.DataFrame | Columns,
    current: pd.DataFrame,
    *,
    catalogue: Sequence[Mapping[str, str]],
    settings: MonitoringSettings,
) -> list[str]:
    """:func:`drift_problems` of populations already found: ``reference`` the training rows
    (a frame, or :class:`Columns` read a column at a time), ``current`` the scoring rows."""
    summary = population_drift(model, reference, current, catalogue=catalogue, settings=settings)
    psi = {f["feature"]: f["psi"] for f in summary["features"]}
    problems = [f"score PSI {summary['score_psi']:.2f}"] if summary["score_flagged"] else []
    problems += [f"{name} PSI {psi[name]:.2f}" for name in summary["flagged_features"]]
    if problems:
        problems[-1] += f" (threshold {settings.psi_threshold:g})"
    return problems
