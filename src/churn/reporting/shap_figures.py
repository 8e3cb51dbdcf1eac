"""Global explanations of the champion: which features move churn risk, how much and which way.

Functions return matplotlib figures or plain tables; only stages write files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn.scoring.explain import Contributions, reason_sums
from churn.scoring.reasons import ReasonCatalogue

MAX_POINTS = 5000
MAX_DISPLAY = 15


def importance(contributions: Contributions, catalogue: ReasonCatalogue) -> dict[str, Any]:
    """Mean absolute SHAP value (log-odds) per feature and per reason, largest first."""
    n = len(contributions.values)
    per_feature = (
        np.abs(contributions.values).mean(axis=0) if n else np.zeros(len(contributions.features))
    )
    sums = reason_sums(contributions, catalogue)
    per_reason = np.abs(sums).mean(axis=0) if n else np.zeros(sums.shape[1])
    return importance_of_means(
        contributions.features,
        per_feature,
        reasons=catalogue.codes,
        per_reason=per_reason,
        n=n,
        base=contributions.base,
    )


def importance_of_means(
    features: Sequence[str],
    per_feature: np.ndarray,
    *,
    reasons: Sequence[str],
    per_reason: np.ndarray,
    n: int,
    base: float,
) -> dict[str, Any]:
    """:func:`importance` from its means (mean |SHAP| of each of ``features``, mean |sum| of
    each of ``reasons``, over ``n`` customers), however they were computed."""
    by_feature = sorted(zip(features, map(float, per_feature), strict=True), key=lambda t: -t[1])
    by_reason = sorted(zip(reasons, map(float, per_reason), strict=True), key=lambda t: -t[1])
    return {
        "unit": "mean |SHAP| in log-odds of churn",
        "n_customers": n,
        "base_log_odds": base,
        "features": dict(by_feature),
        "reasons": dict(by_reason),
    }


def _explanation(contributions: Contributions, matrix: pd.DataFrame) -> Any:
    import shap  # noqa: PLC0415 - slow import, only needed here

    n = len(matrix)
    keep = np.arange(n)
    if n > MAX_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))
    data = matrix.iloc[keep].copy()
    for name in data.columns:
        if isinstance(data[name].dtype, pd.CategoricalDtype):
            codes = data[name].cat.codes.astype("float64")
            data[name] = codes.where(codes >= 0)
    return shap.Explanation(
        values=contributions.values[keep],
        base_values=np.full(len(keep), contributions.base),
        data=data.to_numpy(dtype="float64"),
        feature_names=list(contributions.features),
    )


def beeswarm_figure(contributions: Contributions, matrix: pd.DataFrame, title: str) -> Any:
    """Each dot a customer: its SHAP value per feature, coloured by the feature's value."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import shap  # noqa: PLC0415

    figure = plt.figure(figsize=(8.5, 6.5))
    state = np.random.get_state()  # noqa: NPY002 - shap jitters the dots with the global generator
    np.random.seed(0)  # noqa: NPY002
    try:
        shap.plots.beeswarm(
            _explanation(contributions, matrix), max_display=MAX_DISPLAY, show=False, plot_size=None
        )
    finally:
        np.random.set_state(state)  # noqa: NPY002
    ax = figure.axes[0]
    ax.set_title(title)
    ax.set_xlabel("SHAP value (log-odds of churn; > 0 raises risk)")
    figure.tight_layout()
    return figure


def bar_figure(contributions: Contributions, matrix: pd.DataFrame, title: str) -> Any:
    """Mean |SHAP| per feature: what the model leans on most, across the explained customers."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import shap  # noqa: PLC0415

    figure = plt.figure(figsize=(8.5, 6.5))
    shap.plots.bar(_explanation(contributions, matrix), max_display=MAX_DISPLAY, show=False)
    ax = figure.axes[0]
    ax.set_title(title)
    ax.set_xlabel("mean |SHAP value| (log-odds of churn)")
    figure.tight_layout()
    return figure


def global_figures(
    contributions: Contributions, matrix: pd.DataFrame, *, pipeline: str, model: str
) -> tuple[Any, Any]:
    """The beeswarm and the bar chart of ``contributions`` on the explained rows ``matrix``,
    titled with the ``pipeline`` and the ``model`` (``"<name> v<version>"``)."""
    return (
        beeswarm_figure(contributions, matrix, f"{pipeline}: what drives churn risk ({model})"),
        bar_figure(contributions, matrix, f"{pipeline}: mean impact on churn risk ({model})"),
    )
