"""Figures of the retention metrics in :mod:`churn.reporting.retention`.

Every function takes the frames those functions return and gives back a matplotlib
``Figure`` (never pyplot state, never a file): callers save or show it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from churn.reporting.evaluation_figures import _new_axes, _style
from churn.reporting.list_values import (
    HISTOGRAM_BINS,
    VALUE_MEASURES,
    ValueHistogram,
    frame_histogram,
)
from churn.reporting.retention import (
    CHURN_RATE_COLUMNS,
    COHORT_COLUMNS,
    REPEAT_COLUMNS,
    TIER_COLUMNS,
    Period,
    RepeatPurchaseRates,
    retention_matrix,
)
from churn.validation import require_columns

_PERIOD_WORDS = {"W": "weeks", "M": "months", "Q": "quarters"}
_COHORT_FORMAT = {"W": "%Y-%m-%d", "M": "%Y-%m", "Q": "%Y-%m"}
_SPLIT_COLOURS = {
    "train": "tab:blue",
    "purged": "tab:gray",
    "valid": "tab:orange",
    "test": "tab:red",
}
_TIER_COLOURS = {"High": "tab:red", "Medium": "tab:orange", "Low": "tab:green"}
MAX_ANNOTATED_CELLS = 400
"""Largest retention triangle whose cells get their percentage written in."""


def _check(frame: pd.DataFrame, columns: tuple[str, ...], maker: str) -> None:
    fix = f"Build it with churn.reporting.retention.{maker}()."
    require_columns(frame, columns, what="the frame", fix=fix)


def _money(currency: str | None) -> str:
    return currency or "currency units"


def _label(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Title, axis labels and grid; a legend only when something is labelled."""
    if ax.get_legend_handles_labels()[0]:
        _style(ax, title, xlabel, ylabel)
        return
    ax.set_title(title, fontsize=13)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.grid(True, alpha=0.3)


def _amount(value: float, _pos: int) -> str:
    """Tick text of an amount: 1,000 or 0.1 (a log axis reaches below 1)."""
    return f"{value:,.0f}" if abs(value) >= 1 or value == 0 else f"{value:g}"


def churn_rate_figure(
    rates: pd.DataFrame,
    *,
    horizon_days: int | None = None,
    title: str = "Churn rate at each cutoff",
) -> Figure:
    """Churn rate (%) per cutoff, from :func:`churn.reporting.retention.churn_rate_by_cutoff`:
    one line, each point coloured by the cutoff's split (train, purged, valid, test)."""
    _check(rates, CHURN_RATE_COLUMNS, "churn_rate_by_cutoff")
    fig, ax = _new_axes((9.0, 5.0))
    when = pd.to_datetime(rates["cutoff"])
    pct = 100.0 * rates["churn_rate"].astype("float64")
    ax.plot(when, pct, color="grey", lw=1.5, zorder=1)
    for split, rows in rates.groupby("split", sort=False):
        colour = _SPLIT_COLOURS.get(str(split), "tab:purple")
        ax.scatter(
            when[rows.index], pct[rows.index], color=colour, s=40, label=str(split), zorder=2
        )
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter())
    within = f"within {horizon_days} days" if horizon_days else "within the horizon"
    _label(ax, title, "Cutoff date", f"Customers churning {within} (% of eligible)")
    return fig


def cohort_retention_figure(
    cohorts: pd.DataFrame,
    *,
    period: Period = "M",
    title: str = "Cohort retention",
) -> Figure:
    """Heatmap of the retention triangle from
    :func:`churn.reporting.retention.cohort_retention`: one row per cohort (labelled with its
    size), one column per period after the first, the share of the cohort active in it (%).
    Period 0 (always 100 %) is left out so the scale shows the differences that matter."""
    _check(cohorts, COHORT_COLUMNS, "cohort_retention")
    wide = retention_matrix(cohorts).drop(columns=[0], errors="ignore")
    sizes = cohorts.groupby("cohort")["cohort_size"].first().reindex(wide.index)
    n_rows, n_cols = wide.shape
    fig, ax = _new_axes((10.0, min(9.0, 2.2 + 0.32 * max(n_rows, 1))))
    values = 100.0 * wide.to_numpy(dtype="float64")
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 100.0
    image = ax.imshow(
        np.ma.masked_invalid(values), aspect="auto", cmap="Blues", vmin=0, vmax=max(top, 1.0)
    )
    bar = fig.colorbar(image, ax=ax, format=PercentFormatter(decimals=0))
    bar.set_label("Active in the period (% of cohort)", fontsize=11)
    if n_rows * n_cols <= MAX_ANNOTATED_CELLS:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ink = "white" if v > 0.6 * top else "black"
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color=ink)
    ax.set_xticks(range(n_cols), [str(c) for c in wide.columns])
    labels = [
        f"{pd.Timestamp(c).strftime(_COHORT_FORMAT[period])} (n={n:,})"
        for c, n in zip(wide.index, sizes, strict=True)
    ]
    ax.set_yticks(range(n_rows), labels, fontsize=8)
    words = _PERIOD_WORDS[period]
    ax.set_title(title, fontsize=13)
    ax.set_xlabel(f"{words.capitalize()} since first purchase", fontsize=11)
    ax.set_ylabel("Cohort (period of first purchase, customers)", fontsize=11)
    return fig


def repeat_purchase_figure(
    rates: RepeatPurchaseRates,
    *,
    within_days: int | None = None,
    period: Period = "M",
    title: str = "Repeat purchase rate by cohort",
) -> Figure:
    """Bars: the share of each cohort that bought again on another day (%), from
    :func:`churn.reporting.retention.repeat_purchase_rate`, with the rate over all cohorts as a
    line.
    Pass the same ``within_days`` as to the metric so the axis says what was counted."""
    _check(rates.by_cohort, REPEAT_COLUMNS, "repeat_purchase_rate")
    frame = rates.by_cohort
    fig, ax = _new_axes((10.0, 5.0))
    x = np.arange(len(frame))
    ax.bar(x, 100.0 * frame["repeat_rate"], color="tab:blue", alpha=0.85, label="cohort")
    if rates.customers:
        overall = 100.0 * rates.overall
        ax.axhline(
            overall,
            color="tab:red",
            ls="--",
            lw=1.5,
            label=f"all cohorts: {overall:.0f}% of {rates.customers:,} customers",
        )
    ax.set_xticks(
        x,
        [pd.Timestamp(c).strftime(_COHORT_FORMAT[period]) for c in frame["cohort"]],
        rotation=60,
        ha="right",
        fontsize=8,
    )
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter())
    again = f"within {within_days} days" if within_days else "ever"
    _label(ax, title, "Cohort (period of first purchase)", f"Bought again {again} (% of cohort)")
    return fig


def clv_distribution_figure(
    scores: pd.DataFrame,
    *,
    currency: str | None = None,
    bins: int = HISTOGRAM_BINS,
    title: str = "Customer value over the horizon",
) -> Figure:
    """Histograms on a log value axis of ``expected_value`` (what each scored customer is worth
    over the horizon) and ``value_at_risk`` (that times the churn probability), from
    ``scores.parquet``, with each median marked (:func:`value_histogram_figure`)."""
    _check(scores, VALUE_MEASURES, "clv_summary")
    return value_histogram_figure(frame_histogram(scores, bins), currency=currency, title=title)


_HISTOGRAM_SERIES = {"expected_value": ("expected value", "tab:blue")} | {
    "value_at_risk": ("value at risk", "tab:red")
}


def value_histogram_figure(
    histogram: ValueHistogram,
    *,
    currency: str | None = None,
    title: str = "Customer value over the horizon",
) -> Figure:
    """The :class:`~churn.reporting.list_values.ValueHistogram` of the scored list: each
    measure's values above 0 on a log axis, its median marked. Customers with zero value
    cannot sit on a log axis; the legend says how many were left out."""
    fig, ax = _new_axes((9.0, 5.2))
    if histogram.edges is not None:
        edges = histogram.edges
        for measure, (name, colour) in _HISTOGRAM_SERIES.items():
            zero = histogram.left_out[measure]
            note = f", {zero:,} at zero not shown" if zero else ""
            ax.hist(
                edges[:-1],
                bins=edges,
                weights=histogram.counts[measure],
                histtype="step",
                lw=2,
                color=colour,
                label=f"{name}{note}",
            )
            median = histogram.medians[measure]
            if median is not None:
                ax.axvline(
                    median, color=colour, ls=":", lw=1.5, label=f"median {name}: {median:,.0f}"
                )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_amount))
    _label(
        ax,
        title,
        f"Value per customer over the horizon ({_money(currency)}, log scale)",
        "Customers",
    )
    return fig


def value_at_risk_by_tier_figure(
    by_tier: pd.DataFrame,
    *,
    currency: str | None = None,
    title: str = "Value at risk by risk tier",
) -> Figure:
    """Per risk tier (High, Medium, Low), from ``clv_summary(...).by_tier``: the value at stake
    (expected value) and the value at risk (expected value x churn probability) as bars, each
    value-at-risk bar labelled with its share of the total and the tier's customers."""
    _check(by_tier, TIER_COLUMNS, "clv_summary")
    fig, ax = _new_axes((8.0, 5.2))
    x = np.arange(len(by_tier))
    width = 0.38
    colours = [_TIER_COLOURS.get(str(t), "tab:blue") for t in by_tier["risk_tier"]]
    ax.bar(
        x - width / 2,
        by_tier["expected_value"],
        width,
        color=colours,
        alpha=0.35,
    )
    risk = ax.bar(
        x + width / 2,
        by_tier["value_at_risk"],
        width,
        color=colours,
    )
    notes = [
        f"{share:.0%} of risk\n{n:,} customers"
        for share, n in zip(by_tier["share_of_value_at_risk"], by_tier["customers"], strict=True)
    ]
    ax.bar_label(risk, notes, padding=3, fontsize=9)
    ax.legend(
        handles=[
            Patch(color="grey", alpha=0.35, label="value at stake (expected value)"),
            Patch(color="grey", label="value at risk (x churn probability)"),
        ],
        loc="best",
        fontsize=10,
        frameon=False,
    )
    ax.set_xticks(x, [str(t) for t in by_tier["risk_tier"]])
    ax.margins(y=0.18)
    ax.yaxis.set_major_formatter(FuncFormatter(_amount))
    ax.set_title(title, fontsize=13)
    ax.set_xlabel("Risk tier", fontsize=11)
    ax.set_ylabel(f"Total over the horizon ({_money(currency)})", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    return fig
