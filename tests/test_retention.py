"""Retention metrics on tiny hand-made frames (exact numbers), and every retention figure drawn."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from churn.reporting.list_values import list_values
from churn.reporting.retention import (
    churn_rate_by_cutoff,
    clv_summary,
    cohort_retention,
    repeat_purchase_rate,
    retention_matrix,
)
from churn.reporting.retention_figures import (
    churn_rate_figure,
    clv_distribution_figure,
    cohort_retention_figure,
    repeat_purchase_figure,
    value_at_risk_by_tier_figure,
)
from tests.conftest import events_frame

PURCHASE = ["purchase"]


@pytest.fixture
def events() -> pd.DataFrame:
    """a: January cohort, back in February and April (two January days); b: 31 January and
    1 February; c: one purchase in February and a return in March; d: two orders on one March
    day. The data ends on 1 April, so April is not a full month."""
    return events_frame(
        [
            ("a", "2024-01-05 10:00", "purchase", 10),
            ("a", "2024-01-20 10:00", "purchase", 10),
            ("a", "2024-02-10 10:00", "purchase", 10),
            ("b", "2024-01-31 23:00", "purchase", 5),
            ("b", "2024-02-01 01:00", "purchase", 5),
            ("c", "2024-02-15 12:00", "purchase", 8),
            ("c", "2024-03-01 12:00", "return", -8),
            ("d", "2024-03-10 09:00", "purchase", 3),
            ("d", "2024-03-10 17:00", "purchase", 3),
            ("a", "2024-04-01 08:00", "purchase", 10),
        ]
    )


def month(day: str) -> pd.Timestamp:
    return pd.Timestamp(day).as_unit("us")


# --------------------------------------------------------------------------- churn rate


def test_churn_rate_per_labelled_cutoff_skips_the_unlabelled_score_cutoff() -> None:
    labels = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "a", "b", "a"],
            "cutoff": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2 + ["2024-03-01"]),
            "churned": pd.array([True, False, False, True, True, None], dtype="boolean"),
            "split": ["train"] * 3 + ["test"] * 2 + ["score"],
        }
    )
    out = churn_rate_by_cutoff(labels)
    assert list(out.columns) == ["cutoff", "split", "eligible", "churners", "churn_rate"]
    assert out["cutoff"].tolist() == [month("2024-01-01"), month("2024-02-01")]
    assert out["split"].tolist() == ["train", "test"]
    assert out["eligible"].tolist() == [3, 2]
    assert out["churners"].tolist() == [1, 2]
    assert out["churn_rate"].tolist() == pytest.approx([1 / 3, 1.0])


def test_churn_rate_without_any_labelled_cutoff_is_empty() -> None:
    labels = pd.DataFrame(
        {
            "customer_id": ["a"],
            "cutoff": pd.to_datetime(["2024-03-01"]),
            "churned": pd.array([None], dtype="boolean"),
            "split": ["score"],
        }
    )
    assert churn_rate_by_cutoff(labels).empty


# --------------------------------------------------------------------------- cohorts


def test_cohort_retention_is_the_triangle_of_full_months(events: pd.DataFrame) -> None:
    before = events.copy()
    out = cohort_retention(events, PURCHASE)
    pd.testing.assert_frame_equal(events, before)  # inputs are never changed
    expected = pd.DataFrame(
        {
            "cohort": [month(d) for d in ["2024-01-01"] * 3 + ["2024-02-01"] * 2 + ["2024-03-01"]],
            "period": [0, 1, 2, 0, 1, 0],
            "cohort_size": [2, 2, 2, 1, 1, 1],
            "active": [2, 2, 0, 1, 0, 1],  # c's March return is not activity
            "retention": [1.0, 1.0, 0.0, 1.0, 0.0, 1.0],
        }
    )
    pd.testing.assert_frame_equal(out, expected)


def test_cohort_retention_with_a_later_end_and_fewer_periods(events: pd.DataFrame) -> None:
    out = cohort_retention(events, PURCHASE, end=pd.Timestamp("2024-05-01"))
    january = out[out["cohort"] == month("2024-01-01")]
    assert january["retention"].tolist() == [1.0, 1.0, 0.0, 0.5]  # a is back in April
    assert out.loc[out["cohort"] == month("2024-03-01"), "active"].tolist() == [1, 0]
    short = cohort_retention(events, PURCHASE, max_periods=1)
    assert short["period"].tolist() == [0, 1, 0, 1, 0]


def test_retention_matrix_is_wide_with_gaps_where_not_observed(events: pd.DataFrame) -> None:
    wide = retention_matrix(cohort_retention(events, PURCHASE))
    assert list(wide.columns) == [0, 1, 2]
    assert wide.index.tolist() == [month("2024-01-01"), month("2024-02-01"), month("2024-03-01")]
    np.testing.assert_array_equal(
        wide.to_numpy(), [[1.0, 1.0, 0.0], [1.0, 0.0, np.nan], [1.0, np.nan, np.nan]]
    )


def test_weekly_cohorts_count_whole_weeks(events: pd.DataFrame) -> None:
    out = cohort_retention(events, PURCHASE, period="W", max_periods=2)
    # b: Wednesday 31 January and Thursday 1 February are the same Monday-to-Sunday week
    b_week = out[out["cohort"] == month("2024-01-29")]
    assert b_week["cohort_size"].iloc[0] == 1
    assert b_week["active"].tolist() == [1, 0, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period": "D"}, "The 'period' parameter must be one of 'W', 'M', 'Q'"),
        ({"max_periods": 0}, "The 'max_periods' parameter must be a positive int. Got 0"),
    ],
)
def test_cohort_retention_rejects_bad_parameters(
    events: pd.DataFrame, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cohort_retention(events, PURCHASE, **kwargs)  # type: ignore[arg-type]


def test_missing_columns_are_named(events: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"missing \['event_type'\]"):
        cohort_retention(events.drop(columns="event_type"), PURCHASE)
    with pytest.raises(ValueError, match="at least one event type"):
        repeat_purchase_rate(events, [])


# --------------------------------------------------------------------------- repeat purchases


def test_repeat_purchase_rate_counts_distinct_purchase_days(events: pd.DataFrame) -> None:
    rates = repeat_purchase_rate(events, PURCHASE)
    assert (rates.customers, rates.repeat_customers) == (4, 2)  # a and b; d's two orders: 1 day
    assert rates.overall == 0.5
    expected = pd.DataFrame(
        {
            "cohort": [month("2024-01-01"), month("2024-02-01"), month("2024-03-01")],
            "customers": [2, 1, 1],
            "repeat_customers": [2, 0, 0],
            "repeat_rate": [1.0, 0.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(rates.by_cohort, expected)


def test_repeat_within_days_needs_the_whole_window_observed(events: pd.DataFrame) -> None:
    rates = repeat_purchase_rate(events, PURCHASE, within_days=10)
    # a's second day is 15 days after the first; March + 10 days runs past the data
    assert rates.by_cohort["cohort"].tolist() == [month("2024-01-01"), month("2024-02-01")]
    assert rates.by_cohort["repeat_customers"].tolist() == [1, 0]
    assert rates.by_cohort["repeat_rate"].tolist() == [0.5, 0.0]
    assert rates.overall == pytest.approx(1 / 3)


def test_no_customer_counted_gives_a_nan_rate(events: pd.DataFrame) -> None:
    rates = repeat_purchase_rate(events, PURCHASE, within_days=365)
    assert rates.customers == 0 and rates.by_cohort.empty and np.isnan(rates.overall)


# --------------------------------------------------------------------------- value


@pytest.fixture
def scores() -> pd.DataFrame:
    value = np.array([100.0, 50.0, 10.0, 0.0])
    p = np.array([0.9, 0.5, 0.2, 0.1])
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "churn_probability": p,
            "risk_tier": pd.Categorical(
                ["High", "Medium", "Low", "Low"], categories=["Low", "Medium", "High"], ordered=True
            ),
            "expected_value": value,
            "value_at_risk": value * p,
        }
    )


def test_clv_summary_distribution(scores: pd.DataFrame) -> None:
    dist = clv_summary(scores).distribution.set_index("measure")
    ev, var = dist.loc["expected_value"], dist.loc["value_at_risk"]
    assert ev["customers"] == 4
    assert (ev["total"], ev["mean"], ev["q50"], ev["max"]) == pytest.approx((160, 40, 30, 100))
    assert ev["q25"] == pytest.approx(7.5)  # numpy's linear interpolation: 0 + 0.75 * 10
    assert ev["top_decile_share"] == pytest.approx(100 / 160)  # the top 1 of 4 customers
    assert (var["total"], var["q50"], var["max"]) == pytest.approx((117, 13.5, 90))


def test_clv_summary_value_at_risk_by_tier(scores: pd.DataFrame) -> None:
    tiers = clv_summary(scores).by_tier
    assert tiers["risk_tier"].tolist() == ["High", "Medium", "Low"]
    assert tiers["customers"].tolist() == [1, 1, 2]
    assert tiers["expected_value"].tolist() == pytest.approx([100, 50, 10])
    assert tiers["value_at_risk"].tolist() == pytest.approx([90, 25, 2])
    assert tiers["share_of_value_at_risk"].tolist() == pytest.approx([90 / 117, 25 / 117, 2 / 117])
    assert tiers["mean_churn_probability"].tolist() == pytest.approx([0.9, 0.5, 0.15])


def test_an_empty_tier_still_has_a_row(scores: pd.DataFrame) -> None:
    tiers = clv_summary(scores[scores["risk_tier"] != "Medium"]).by_tier.set_index("risk_tier")
    assert tiers.loc["Medium", "customers"] == 0
    assert tiers.loc["Medium", "value_at_risk"] == 0.0


# --------------------------------------------------------------------------- figures


def drawn(fig: Figure) -> Figure:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")  # draws everything: layout and formatter problems show here
    assert buffer.getvalue().startswith(b"\x89PNG")
    return fig


def test_every_figure_draws_with_a_title_and_labelled_axes(
    events: pd.DataFrame, scores: pd.DataFrame
) -> None:
    labels = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "cutoff": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
            "churned": pd.array([True, False, False], dtype="boolean"),
            "split": ["train", "train", "test"],
        }
    )
    figures = [
        churn_rate_figure(churn_rate_by_cutoff(labels), horizon_days=30),
        cohort_retention_figure(cohort_retention(events, PURCHASE)),
        repeat_purchase_figure(repeat_purchase_rate(events, PURCHASE)),
        repeat_purchase_figure(repeat_purchase_rate(events, PURCHASE, within_days=365)),
        clv_distribution_figure(scores, currency="GBP"),
        value_at_risk_by_tier_figure(clv_summary(scores).by_tier, currency="GBP"),
    ]
    for fig in figures:
        ax = drawn(fig).axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert "GBP" in figures[-1].axes[0].get_ylabel()
    assert "within 30 days" in figures[0].axes[0].get_ylabel()


def test_figures_name_the_function_that_builds_their_frame() -> None:
    with pytest.raises(ValueError, match=r"churn\.reporting\.retention\.cohort_retention\(\)"):
        cohort_retention_figure(pd.DataFrame({"cohort": []}))


def test_the_list_values_are_the_same_read_in_parts(scores: pd.DataFrame) -> None:
    """The report's totals, tiers and histogram of a list read a batch at a time are those of
    the list held whole: the histogram's counts and medians exactly."""
    frame = scores.assign(expected_value=scores["expected_value"].where(scores.index % 7 > 0, 0.0))
    whole = list_values(lambda columns: [frame[columns]])
    parts = list_values(
        lambda columns: (frame.iloc[i : i + 9][columns] for i in range(0, len(frame), 9))
    )
    assert parts.customers == whole.customers == len(frame)
    for measure in ("expected_value", "value_at_risk"):
        assert parts.totals[measure] == pytest.approx(frame[measure].sum(), rel=1e-12)
        np.testing.assert_array_equal(
            parts.histogram.counts[measure], whole.histogram.counts[measure]
        )
        positive = frame.loc[frame[measure] > 0, measure]
        assert parts.histogram.medians[measure] == float(np.median(positive))
        assert parts.histogram.left_out[measure] == len(frame) - len(positive)
    assert parts.histogram.edges == whole.histogram.edges
    pd.testing.assert_frame_equal(parts.by_tier, whole.by_tier, rtol=1e-12)
    assert whole.by_tier.equals(clv_summary(frame).by_tier)
