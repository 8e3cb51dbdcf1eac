"""Figures of held-out evaluation: ROC, precision-recall, calibration, and cumulative gains
with lift, each drawn from the frames of :mod:`churn.evaluation.curves` for the model and any
baselines. Also the axes style the report's other figures share. Each function returns a
matplotlib ``Figure`` (never pyplot state, never a file).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from churn.validation import require_columns


def _curves(
    curve: pd.DataFrame,
    label: str,
    baselines: Mapping[str, pd.DataFrame] | None,
    columns: tuple[str, ...],
    maker: str,
) -> list[tuple[str, pd.DataFrame]]:
    """The model's curve first, then each baseline; every frame checked for ``columns``."""
    curves = [(label, curve), *(baselines or {}).items()]
    for _, frame in curves:
        require_columns(frame, columns, what="the curve frame", fix=f"Build it with {maker}().")
    return curves


def _new_axes(figsize: tuple[float, float] = (6.4, 5.4)) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=13)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=10, frameon=False)


def _line_style(i: int) -> tuple[float, str]:
    """Line width and style: the model (i = 0) bold and solid, baselines thinner and dashed."""
    return (2.2, "-") if i == 0 else (1.5, "--")


def roc_figure(
    curve: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "ROC curve",
) -> Figure:
    """ROC curve(s) from :func:`roc_curve_frame` frames: the model, each baseline (name ->
    frame) and the random-ranking diagonal. Put AUCs in ``label`` and the names if wanted."""
    fig, ax = _new_axes((6.4, 5.8))
    for i, (name, frame) in enumerate(
        _curves(curve, label, baselines, ("fpr", "tpr"), "roc_curve_frame")
    ):
        lw, ls = _line_style(i)
        ax.plot(frame["fpr"], frame["tpr"], label=name, lw=lw, ls=ls)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="random ranking")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    _style(
        ax,
        title,
        "False positive rate (share of non-churners flagged, 0-1)",
        "True positive rate (share of churners flagged, 0-1)",
    )
    return fig


def pr_figure(
    curve: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "Precision-recall curve",
) -> Figure:
    """Precision-recall curve(s) from :func:`pr_curve_frame` frames, with the no-skill line at
    the churn rate (read off the model frame's last row, where everyone is flagged)."""
    fig, ax = _new_axes()
    for i, (name, frame) in enumerate(
        _curves(curve, label, baselines, ("recall", "precision"), "pr_curve_frame")
    ):
        lw, ls = _line_style(i)
        ax.plot(frame["recall"], frame["precision"], label=name, lw=lw, ls=ls)
    if len(curve) and float(curve["recall"].iloc[-1]) == 1.0:
        rate = float(curve["precision"].iloc[-1])
        ax.axhline(rate, color="grey", ls=":", lw=1, label=f"no skill (churn rate {rate:.1%})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    _style(
        ax,
        title,
        "Recall (share of churners flagged, 0-1)",
        "Precision (share of flagged who churn, 0-1)",
    )
    return fig


def calibration_figure(
    frame: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "Calibration (reliability diagram)",
) -> Figure:
    """Observed churn rate against mean predicted probability per bin, from
    :func:`calibration_frame` frames, with the perfect-calibration diagonal. Both axes span
    0 to just above the largest rate shown, so low churn rates stay readable."""
    curves = _curves(
        frame, label, baselines, ("mean_predicted", "observed_rate"), "calibration_frame"
    )
    fig, ax = _new_axes((6.4, 5.8))
    shown = [f[["mean_predicted", "observed_rate"]].to_numpy().max() for _, f in curves if len(f)]
    top = float(max(shown, default=1.0))
    upper = min(1.0, 1.08 * top) if top > 0 else 1.0
    for i, (name, f) in enumerate(curves):
        lw, ls = _line_style(i)
        ax.plot(f["mean_predicted"], f["observed_rate"], marker="o", ms=5, label=name, lw=lw, ls=ls)
    ax.plot([0, upper], [0, upper], color="grey", ls=":", lw=1, label="perfectly calibrated")
    ax.set_xlim(0, upper)
    ax.set_ylim(0, upper)
    ax.set_aspect("equal")
    _style(
        ax,
        title,
        "Mean predicted churn probability in bin (0-1)",
        "Observed churn rate in bin (0-1)",
    )
    return fig


def gains_figure(
    frame: pd.DataFrame,
    *,
    label: str = "churn model",
    baselines: Mapping[str, pd.DataFrame] | None = None,
    title: str = "Cumulative gains and lift",
) -> Figure:
    """Two panels from :func:`gains_frame` frames: share of churners caught, and lift, against
    the share of customers contacted in order of falling churn probability (both in %)."""
    curves = _curves(
        frame,
        label,
        baselines,
        ("share_contacted", "share_of_churners_caught", "lift"),
        "gains_frame",
    )
    fig = Figure(figsize=(11.5, 5.0), layout="constrained")
    gains_ax, lift_ax = fig.subplots(1, 2)
    for i, (name, f) in enumerate(curves):
        x = 100 * f["share_contacted"]
        lw, ls = _line_style(i)
        gains_ax.plot(x, 100 * f["share_of_churners_caught"], label=name, lw=lw, ls=ls)
        lift_ax.plot(x, f["lift"], label=name, lw=lw, ls=ls)
    gains_ax.plot([0, 100], [0, 100], color="grey", ls=":", lw=1, label="random order")
    lift_ax.axhline(1.0, color="grey", ls=":", lw=1, label="random order")
    gains_ax.set_xlim(0, 100)
    gains_ax.set_ylim(0, 101)
    lift_ax.set_xlim(0, 100)
    lift_ax.set_ylim(bottom=0)
    contacted = "Customers contacted, highest risk first (%)"
    _style(gains_ax, "Cumulative gains", contacted, "Churners caught (% of all churners)")
    _style(lift_ax, "Lift", contacted, "Lift (churn rate contacted / overall, x)")
    fig.suptitle(title, fontsize=14)
    return fig
