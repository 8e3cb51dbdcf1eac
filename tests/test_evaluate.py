"""Evaluation metrics, curve frames and segments on tiny hand-made data with known answers,
then invariants on a larger random sample. The figures are in test_evaluation_figures.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churn.errors import TrainingError
from churn.evaluation import curves, segments
from churn.evaluation import metrics as evaluation_metrics


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """5,000 customers whose outcomes are drawn from their (calibrated) probabilities."""
    rng = np.random.default_rng(7)
    p = rng.uniform(size=5_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    return y, p


def perfect(n: int, n_churners: int) -> tuple[np.ndarray, np.ndarray]:
    """Churners first, each scored above every non-churner."""
    y = np.r_[np.ones(n_churners, dtype=int), np.zeros(n - n_churners, dtype=int)]
    return y, np.linspace(0.99, 0.01, n)


# --------------------------------------------------------------------------- binary_metrics


def test_metric_keys_and_types(sample: tuple[np.ndarray, np.ndarray]) -> None:
    metrics = evaluation_metrics.binary_metrics(*sample)
    assert list(metrics) == list(evaluation_metrics.METRIC_KEYS)
    assert type(metrics["n_test"]) is int and metrics["n_test"] == 5_000
    assert all(type(v) is float for k, v in metrics.items() if k != "n_test")


def test_perfect_ranking_scores_auc_one_and_lift_inverse_rate() -> None:
    for n_churners in (10, 25):  # below and above the top decile's size
        metrics = evaluation_metrics.binary_metrics(*perfect(100, n_churners))
        assert metrics["roc_auc"] == 1.0
        assert metrics["pr_auc"] == pytest.approx(1.0)
        assert metrics["positive_rate"] == n_churners / 100
        assert metrics["lift_top_decile"] == pytest.approx(100 / n_churners)


def test_reversed_ranking_scores_auc_zero() -> None:
    y, p = perfect(100, 10)
    assert evaluation_metrics.binary_metrics(y, p[::-1])["roc_auc"] == 0.0


def test_brier_by_hand() -> None:
    y = [0, 1, 1, 0]
    p = [0.1, 0.8, 0.6, 0.3]
    expected = (0.1**2 + 0.2**2 + 0.4**2 + 0.3**2) / 4
    assert evaluation_metrics.binary_metrics(y, p)["brier"] == pytest.approx(expected)


def test_ece_zero_when_every_bin_is_calibrated() -> None:
    y = np.r_[np.ones(10), np.zeros(40), np.ones(30), np.zeros(20)]
    p = np.r_[np.full(50, 0.2), np.full(50, 0.6)]
    assert evaluation_metrics.expected_calibration_error(y, p) == pytest.approx(0.0)
    assert evaluation_metrics.binary_metrics(y, p)["ece"] == pytest.approx(0.0)


def test_ece_of_a_constructed_miscalibration() -> None:
    # bin 1: predicted 0.2, observed 0.4; bin 2: predicted 0.8, observed 0.6 -> gaps 0.2 each
    y = np.r_[np.ones(20), np.zeros(30), np.ones(30), np.zeros(20)]
    p = np.r_[np.full(50, 0.2), np.full(50, 0.8)]
    assert evaluation_metrics.expected_calibration_error(y, p) == pytest.approx(0.2)
    # unequal weights: 0.2 * 25% + 0.1 * 75%
    y = np.r_[np.ones(10), np.zeros(15), np.ones(15), np.zeros(60)]
    p = np.r_[np.full(25, 0.2), np.full(75, 0.1)]
    assert evaluation_metrics.expected_calibration_error(y, p, strategy="uniform") == pytest.approx(
        0.125
    )


def test_uniform_bins_are_half_open_and_the_last_holds_one() -> None:
    frame = curves.calibration_frame(
        [0, 1, 1, 0], [0.0, 0.1, 1.0, 0.95], n_bins=10, strategy="uniform"
    )
    assert frame["count"].tolist() == [1, 1, 2]
    assert frame["mean_predicted"].tolist() == pytest.approx([0.0, 0.1, 0.975])


def test_lift_ties_are_shared_so_row_order_does_not_matter() -> None:
    y = np.r_[np.ones(20, dtype=int), np.zeros(80, dtype=int)]
    constant = np.full(100, 0.3)
    assert evaluation_metrics.binary_metrics(y, constant)["lift_top_decile"] == pytest.approx(1.0)
    assert evaluation_metrics.binary_metrics(y[::-1], constant)["lift_top_decile"] == pytest.approx(
        1.0
    )


def test_metrics_do_not_depend_on_row_order(sample: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = sample
    p = np.round(p, 1)  # many ties
    order = np.random.default_rng(1).permutation(len(y))
    assert evaluation_metrics.binary_metrics(y[order], p[order]) == pytest.approx(
        evaluation_metrics.binary_metrics(y, p)
    )


def test_average_precision_by_hand() -> None:
    # cuts at 0.9 (recall 1/2, precision 1), 0.8 (recall 1/2), 0.7 (recall 1, precision 2/3)
    metrics = evaluation_metrics.binary_metrics([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    assert metrics["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert metrics["roc_auc"] == 0.75


def test_tied_pairs_count_half() -> None:
    # pairs (churner, stayer): (0.8, 0.5) right, (0.8, 0.8) tied, (0.5, 0.5) tied, (0.5, 0.8) wrong
    assert evaluation_metrics.binary_metrics([1, 1, 0, 0], [0.8, 0.5, 0.8, 0.5])["roc_auc"] == 0.5
    assert evaluation_metrics.binary_metrics([1, 0, 0], [0.8, 0.8, 0.2])["roc_auc"] == 0.75


def test_accepts_pandas_boolean_and_series() -> None:
    y = pd.Series([True, False, True, False], dtype="boolean", index=[10, 11, 12, 13])
    p = pd.Series([0.9, 0.2, 0.7, 0.4], index=y.index)
    assert evaluation_metrics.binary_metrics(y, p)["roc_auc"] == 1.0
    assert evaluation_metrics.binary_metrics(y, p.to_numpy())["n_test"] == 4


# --------------------------------------------------------------------------- validation


def test_single_class_raises_training_error_saying_what_to_do() -> None:
    with pytest.raises(TrainingError, match=r"one class only: all 3 customers stayed.*cutoff"):
        evaluation_metrics.binary_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(TrainingError, match="all 2 customers churned"):
        curves.roc_curve_frame([1, 1], [0.1, 0.2])


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.2, 1.5], r"within \[0, 1\].*0.2 to 1.5"),
        ([0, 1], [-0.1, 0.5], r"within \[0, 1\]"),
        ([0, 1], [0.2, np.nan], "must be finite"),
        ([0, 1, 1], [0.2, 0.4], "got 3 outcomes and 2 probabilities"),
        ([0, 2], [0.2, 0.4], "must be binary.*e.g. 2"),
        ([0, 1], ["a", "b"], "must hold probabilities"),
        ([], [], "no customers"),
        ([[0, 1]], [[0.1, 0.2]], "1-D"),
    ],
)
def test_invalid_inputs_raise_training_error(y: object, p: object, message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        evaluation_metrics.binary_metrics(y, p)  # type: ignore[arg-type]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(TrainingError, match="2 problem") as info:
        evaluation_metrics.binary_metrics(
            pd.Series([0, 1, pd.NA], dtype="boolean"), [0.1, 2.0, 0.3]
        )
    assert "missing values" in str(info.value) and "[0, 1]" in str(info.value)


def test_series_with_different_indexes_are_refused() -> None:
    y = pd.Series([0, 1], index=[1, 2])
    p = pd.Series([0.2, 0.8], index=[2, 1])
    with pytest.raises(TrainingError, match="different indexes"):
        evaluation_metrics.binary_metrics(y, p)


def test_invalid_parameters_raise_value_error() -> None:
    with pytest.raises(ValueError, match=r"'n_bins' parameter must be a positive int\. Got 0"):
        evaluation_metrics.expected_calibration_error([0, 1], [0.1, 0.9], n_bins=0)
    with pytest.raises(ValueError, match="'strategy'"):
        curves.calibration_frame([0, 1], [0.1, 0.9], strategy="equal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'rule'"):
        evaluation_metrics.operating_threshold([0, 1], [0.1, 0.9], rule="youden")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'threshold'"):
        curves.confusion_frame([0, 1], [0.1, 0.9], threshold=1.5)


# --------------------------------------------------------------------------- curve frames


def test_roc_frame_small_case_is_exact() -> None:
    frame = curves.roc_curve_frame([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    assert frame["fpr"].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert frame["tpr"].tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert frame["threshold"].tolist() == [1.0, 0.9, 0.8, 0.7, 0.1]


def test_curve_frames_are_small_bounded_and_monotone(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    y, p = sample
    roc = curves.roc_curve_frame(y, p)
    pr = curves.pr_curve_frame(y, p)
    for frame in (roc, pr):
        assert 100 <= len(frame) <= curves.MAX_CURVE_POINTS
        assert frame.notna().all().all()
        assert frame.to_numpy().min() >= 0.0 and frame.to_numpy().max() <= 1.0
        assert frame["threshold"].is_monotonic_decreasing
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    assert roc.iloc[0][["fpr", "tpr"]].tolist() == [0.0, 0.0]
    assert roc.iloc[-1][["fpr", "tpr"]].tolist() == [1.0, 1.0]
    assert pr["recall"].is_monotonic_increasing
    assert pr.iloc[-1]["recall"] == 1.0
    assert pr.iloc[-1]["precision"] == pytest.approx(y.mean())
    # thinning keeps exact points: the area under the thinned ROC stays close to the true AUC
    auc = evaluation_metrics.binary_metrics(y, p)["roc_auc"]
    thinned_auc = np.sum(np.diff(roc["fpr"]) * (roc["tpr"].to_numpy()[1:] + roc["tpr"][:-1]) / 2)
    assert thinned_auc == pytest.approx(auc, abs=2e-3)


def test_calibration_frame_counts_sum_to_n(sample: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = sample
    frame = curves.calibration_frame(y, p)
    assert list(frame.columns) == ["mean_predicted", "observed_rate", "count"]
    assert len(frame) == 10 and frame["count"].sum() == len(y)
    assert (frame["count"] == 500).all()  # equal-frequency bins
    assert frame["mean_predicted"].is_monotonic_increasing


def test_gains_frame_steps_and_matches_top_decile_lift(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    y, p = sample
    frame = curves.gains_frame(y, p)
    assert len(frame) == 101
    assert frame["share_contacted"].tolist() == pytest.approx(np.arange(101) / 100)
    caught = frame["share_of_churners_caught"]
    assert caught.iloc[0] == 0.0 and caught.iloc[-1] == pytest.approx(1.0)
    assert caught.is_monotonic_increasing
    assert math.isnan(frame["lift"].iloc[0]) and frame["lift"].iloc[-1] == pytest.approx(1.0)
    top = frame.loc[frame["share_contacted"] == 0.1, "lift"].item()
    assert top == pytest.approx(evaluation_metrics.binary_metrics(y, p)["lift_top_decile"])


def test_gains_of_a_perfect_model() -> None:
    frame = curves.gains_frame(*perfect(100, 20))
    at = frame.set_index("share_contacted")
    assert at.loc[0.1, "share_of_churners_caught"] == pytest.approx(0.5)
    assert at.loc[0.2, "share_of_churners_caught"] == pytest.approx(1.0)
    assert at.loc[0.1, "lift"] == pytest.approx(5.0)


def test_confusion_counts_by_hand_and_sum_to_n(sample: tuple[np.ndarray, np.ndarray]) -> None:
    frame = curves.confusion_frame([1, 1, 0, 0, 0], [0.9, 0.2, 0.6, 0.1, 0.5], threshold=0.5)
    counts = {(a, b): c for a, b, c in frame.itertuples(index=False)}
    assert counts == {
        ("churn", "churn"): 1,
        ("churn", "stay"): 1,
        ("stay", "churn"): 2,
        ("stay", "stay"): 1,
    }
    y, p = sample
    assert curves.confusion_frame(y, p, 0.3)["count"].sum() == len(y)
    rows = curves.confusion_rows(y, p, 0.3)
    assert len(rows) == len(y) and set(rows["actual"]) == {"churn", "stay"}


def test_operating_threshold_rules() -> None:
    y = [1, 1, 0, 1, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.3, 0.1]
    # F1 at 0.6: tp 3, fp 1, fn 0 -> 6 / 7, the best of all cuts
    assert evaluation_metrics.operating_threshold(y, p) == 0.6
    assert (
        evaluation_metrics.operating_threshold(y, p, rule="top_decile") == 0.9
    )  # ceil(0.6) = 1 customer


# --------------------------------------------------------------------------- segments


def test_tenure_bands_boundaries() -> None:
    days = pd.Series([0, 89.9, 90, 179, 180, 364, 365, 729, 730, 5000, np.nan], name="age")
    bands = segments.tenure_bands(days)
    assert bands.tolist()[:-1] == [
        "<90d", "<90d", "90-180d", "90-180d", "180-365d", "180-365d",
        "1-2y", "1-2y", "2y+", "2y+",
    ]  # fmt: skip
    assert pd.isna(bands.iloc[-1])
    assert list(bands.cat.categories) == list(segments.TENURE_BANDS) and bands.cat.ordered
    assert bands.name == "age" and bands.index.equals(days.index)
    with pytest.raises(ValueError, match="negative"):
        segments.tenure_bands(pd.Series([3, -1]))


def test_top_categories_maps_rare_values_to_other() -> None:
    values = pd.Series(["de", "fr", "de", "it", "fr", "de", "es", None], index=range(10, 18))
    top = segments.top_categories(values, k=2)
    assert top.tolist()[:7] == ["de", "fr", "de", "other", "fr", "de", "other"]
    assert pd.isna(top.iloc[7])
    assert list(top.cat.categories) == ["de", "fr", "other"]
    assert top.index.equals(values.index)


def test_segment_metrics_nan_auc_for_small_or_single_class_segments() -> None:
    rng = np.random.default_rng(3)
    y = np.r_[rng.integers(0, 2, 60), rng.integers(0, 2, 20), np.zeros(30, dtype=int), [0, 1]]
    y[:2] = [0, 1]  # both classes in the large and the small segment
    y[60:62] = [0, 1]
    p = rng.uniform(size=y.size)
    labels = pd.Series(["big"] * 60 + ["small"] * 20 + ["one class"] * 30 + [None] * 2)
    frame = segments.segment_metrics(y, p, {"group": labels}, min_rows=30)
    assert list(frame.columns) == [
        "segment", "value", "n", "positive_rate", "mean_predicted", "roc_auc",
    ]  # fmt: skip
    by_value = frame.set_index("value")
    assert by_value["n"].to_dict() == {"big": 60, "one class": 30, "small": 20, "(missing)": 2}
    assert not math.isnan(by_value.loc["big", "roc_auc"])
    assert math.isnan(by_value.loc["small", "roc_auc"])
    assert math.isnan(by_value.loc["one class", "roc_auc"])
    assert by_value.loc["one class", "positive_rate"] == 0.0
    assert by_value.loc["big", "mean_predicted"] == pytest.approx(p[:60].mean())


def test_segment_metrics_keeps_band_order_and_checks_lengths() -> None:
    days = pd.Series([10, 400, 100, 800] * 10, index=range(100, 140))
    y = np.tile([0, 1], 20)
    frame = segments.segment_metrics(y, np.full(40, 0.5), {"tenure": segments.tenure_bands(days)})
    assert frame["value"].tolist() == ["<90d", "90-180d", "1-2y", "2y+"]
    with pytest.raises(TrainingError, match=r"segments\['tenure'\].*39 labels for 40"):
        segments.segment_metrics(y, np.full(40, 0.5), {"tenure": days.iloc[:39]})
    shifted = pd.Series(y, index=range(40))
    with pytest.raises(TrainingError, match="different indexes"):
        segments.segment_metrics(shifted, np.full(40, 0.5), {"tenure": segments.tenure_bands(days)})


@pytest.mark.parametrize("n", [100, 1000, 4317])
def test_calibration_noise_is_the_ece_a_calibrated_model_shows_by_chance(n: int) -> None:
    rng = np.random.default_rng(n)
    eces = []
    for _ in range(100):
        p = rng.uniform(0.05, 0.95, n)
        y = (rng.random(n) < p).astype(int)
        eces.append(evaluation_metrics.expected_calibration_error(y, p))
    noise = evaluation_metrics.calibration_noise(n)
    assert np.mean(eces) <= noise <= 1.5 * np.mean(eces)
