"""The shapes of ``backtest.json`` and ``segments.json``: a JSON object each, a small ``summary``
of scalars (what ``dvc metrics show`` and ``dvc metrics diff`` read; DVC reads no number from a
list) beside the full list, ``folds`` or ``segments``; and which baselines of ``metrics.json``
rank better than the model. Pure: dicts in, dicts out."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = [
    "backtest_file",
    "backtest_folds",
    "cross_validation_aucs",
    "segments_file",
    "segments_list",
]


def _finite(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


def _spread(name: str, values: Iterable[Any]) -> dict[str, float]:
    """``<name>_mean``, ``_min`` and ``_max`` of the finite ``values`` (nothing when none is)."""
    finite = _finite(values)
    if not finite:
        return {}
    return {
        f"{name}_mean": sum(finite) / len(finite),
        f"{name}_min": min(finite),
        f"{name}_max": max(finite),
    }


def backtest_file(report: Any) -> dict[str, Any]:
    """``backtest.json`` from :attr:`churn.kinds.interface.Backtest.report`.

    ``report`` is either the rolling-origin folds of an events pipeline (a list of dicts with
    ``test_cutoff``, ``roc_auc``, ``ece``, ``baselines``, ...) or a snapshot's
    cross-validation (``{"cross_validation_roc_auc": [auc, ...]}``). Returns
    ``{"summary": {"folds": n, "roc_auc_mean": ..., "roc_auc_min": ..., "roc_auc_max": ...,
    "ece_mean": ..., ...}, "folds": [...]}``: rolling-origin folds as they were, a
    cross-validation's as ``{"fold": i, "roc_auc": auc}`` (i from 1). No number changes.
    """
    if isinstance(report, Mapping) and "cross_validation_roc_auc" in report:
        aucs = list(report["cross_validation_roc_auc"])
        folds: list[dict[str, Any]] = [
            {"fold": i, "roc_auc": auc} for i, auc in enumerate(aucs, start=1)
        ]
    elif isinstance(report, Sequence) and not isinstance(report, str):
        folds = [dict(f) for f in report]
    else:
        raise TypeError(
            "backtest_file expects a list of rolling-origin folds or "
            f"{{'cross_validation_roc_auc': [...]}}; got {type(report).__name__}"
        )
    summary: dict[str, Any] = {"folds": len(folds)}
    summary |= _spread("roc_auc", (f.get("roc_auc") for f in folds))
    summary |= _spread("ece", (f.get("ece") for f in folds))
    return {"summary": summary, "folds": folds}


def backtest_folds(backtest: Any) -> list[dict[str, Any]]:
    """The rolling-origin folds of a ``backtest.json`` (each with ``test_cutoff``); empty for a
    cross-validation. Reads the list of earlier versions too."""
    folds = backtest.get("folds", []) if isinstance(backtest, Mapping) else backtest
    if not isinstance(folds, list):
        return []
    return [dict(f) for f in folds if isinstance(f, Mapping) and "test_cutoff" in f]


def cross_validation_aucs(backtest: Any) -> list[float]:
    """ROC AUC per cross-validation fold of a snapshot's ``backtest.json``, in fold order;
    empty for rolling-origin folds. Reads the ``cross_validation_roc_auc`` of earlier
    versions too."""
    if not isinstance(backtest, Mapping):
        return []
    if "cross_validation_roc_auc" in backtest:
        return [float(a) for a in backtest["cross_validation_roc_auc"]]
    folds = backtest.get("folds", [])
    return [
        float(f["roc_auc"])
        for f in folds
        if isinstance(f, Mapping) and "fold" in f and f.get("roc_auc") is not None
    ]


def segments_file(segments: pd.DataFrame) -> dict[str, Any]:
    """``segments.json`` from :func:`churn.evaluation.segments.segment_metrics`'s frame.

    Returns ``{"summary": {"segments": n, "worst_roc_auc": ..., "worst_segment": "<segment>
    = <value>"}, "segments": [one record per row]}``; the worst is the lowest ROC AUC of the
    segments that have one (large enough, both classes), left out when none has."""
    records = segments.to_dict(orient="records")
    summary: dict[str, Any] = {"segments": len(records)}
    scored = [r for r in records if _finite([r.get("roc_auc")])]
    if scored:
        worst = min(scored, key=lambda r: float(r["roc_auc"]))
        summary["worst_roc_auc"] = float(worst["roc_auc"])
        summary["worst_segment"] = f"{worst['segment']} = {worst['value']}"
    return {"summary": summary, "segments": records}


def segments_list(segments: Any) -> list[dict[str, Any]]:
    """The per-segment records of a ``segments.json`` (the list of earlier versions too)."""
    rows = segments.get("segments", []) if isinstance(segments, Mapping) else segments
    return [dict(r) for r in rows] if isinstance(rows, list) else []


def baselines_ahead(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The baselines of ``metrics.json`` whose test ROC AUC is above the model's, best first."""
    model = metrics["roc_auc"]
    ahead = {
        n: m["roc_auc"] for n, m in metrics.get("baselines", {}).items() if m["roc_auc"] > model
    }
    return dict(sorted(ahead.items(), key=lambda kv: -kv[1]))
