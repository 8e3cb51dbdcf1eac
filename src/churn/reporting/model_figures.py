"""Figures of the report that no other module draws: backtest stability, what the outreach list
says (reasons and actions), drift of the features. Each returns a figure; none writes a file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from churn.reporting.evaluation_figures import _new_axes

MAX_BARS = 15


def backtest_figure(backtest: Sequence[Mapping[str, Any]], test: Mapping[str, Any]) -> Figure:
    """ROC AUC of the model and each baseline at every backtest cutoff and the test cutoff."""
    points = sorted(
        [*backtest, {**test, "test_cutoff": test.get("training", {}).get("test_cutoff", "test")}],
        key=lambda b: str(b["test_cutoff"]),
    )
    fig, ax = _new_axes((8.0, 4.8))
    x = list(range(len(points)))
    ax.plot(x, [p["roc_auc"] for p in points], marker="o", lw=2.5, label="model")
    names = sorted({n for p in points for n in p.get("baselines", {})})
    for name in names:
        ax.plot(
            x,
            [p.get("baselines", {}).get(name, {}).get("roc_auc") for p in points],
            marker=".",
            ls="--",
            lw=1.2,
            label=name.replace("_", " "),
        )
    ax.set_xticks(x, [str(p["test_cutoff"]) for p in points], rotation=30, ha="right")
    ax.set_title("Stability over time: ROC AUC at earlier cutoffs and the test cutoff", fontsize=12)
    ax.set_xlabel("cutoff scored (the last is the test cutoff)")
    ax.set_ylabel("ROC AUC")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9, frameon=False)
    return fig


def counts_figure(counts: Mapping[str, int], *, title: str, xlabel: str) -> Figure:
    """Horizontal bars of how often each label appears, largest on top."""
    items = sorted(counts.items(), key=lambda kv: kv[1])[-MAX_BARS:]
    fig, ax = _new_axes((7.0, 0.45 * max(len(items), 3) + 1.5))
    labels = [k.replace("_", " ") for k, _ in items]
    bars = ax.barh(labels, [v for _, v in items], color="tab:blue")
    ax.bar_label(bars, [f"{v:,}" for _, v in items], padding=3, fontsize=9)
    ax.set_title(title, fontsize=12)
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def drift_figure(drift: Mapping[str, Any]) -> Figure:
    """PSI of the most drifted features and of the score, with the threshold drawn."""
    rows = [(f["feature"], f["psi"], f["flagged"]) for f in drift["features"]][:MAX_BARS]
    rows = [("(model score)", drift["score_psi"], drift["score_flagged"]), *rows][::-1]
    fig, ax = _new_axes((7.5, 0.4 * len(rows) + 1.6))
    colours = ["tab:red" if flagged else "tab:gray" for _, _, flagged in rows]
    ax.barh([r[0] for r in rows], [min(r[1], 10.0) for r in rows], color=colours)
    ax.axvline(drift["psi_threshold"], color="black", ls="--", lw=1, label="threshold")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_title("Drift: scored population against the training population", fontsize=12)
    ax.set_xlabel("population stability index (red: flagged; grey: under threshold or exempt)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9, frameon=False)
    return fig
