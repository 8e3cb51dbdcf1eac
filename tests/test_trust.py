"""The warnings that qualify the test figures (churn.evaluation.trust): a ROC AUC too good to be
a model, a test set too small to say anything, a churn rate near 0 or 100 %; and that the
bundled pipelines' figures call for none of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churn.evaluation.trust import (
    auc_interval,
    extreme_rate_warning,
    figure_warnings,
    interval_record,
    small_test_warning,
    too_good_warning,
)
from churn.reporting.page import Note
from churn.reporting.sections import model_section

ROOT = Path(__file__).resolve().parents[1]


def figures(auc: float, n: int, rate: float, interval: tuple[float, float] = (0.7, 0.9)) -> dict:
    """metrics.json's figures; the interval as given (its own tests are below)."""
    low, high = interval
    return {
        **{"roc_auc": auc, "n_test": n, "positive_rate": rate, "pr_auc": 0.5, "ece": 0.02},
        **{"lift_top_decile": 2.0, "brier": 0.1},
        "roc_auc_interval": {"low": low, "high": high, "confidence": 0.95, "method": "DeLong"},
    }


def scores(n1: int, n0: int, shift: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes and binormal scores, churners shifted up by ``shift``."""
    y = np.r_[np.ones(n1), np.zeros(n0)].astype(int)
    return y, np.random.default_rng(seed).normal(0, 1, n1 + n0) + shift * y


@pytest.mark.parametrize(("n1", "n0", "shift"), [(40, 360, 1.2), (13, 1000, 3.0), (200, 800, 1.0)])
def test_the_interval_is_as_wide_as_the_bootstrap_says(n1: int, n0: int, shift: float) -> None:
    y, p = scores(n1, n0, shift)
    rng = np.random.default_rng(1)
    boot = []
    for _ in range(300):
        i = np.r_[rng.choice(n1, n1), n1 + rng.choice(n0, n0)]
        boot.append(roc_auc_score(y[i], p[i]))
    low, high = auc_interval(y, p)
    assert low < roc_auc_score(y, p) < high
    assert (high - low) == pytest.approx(2 * 1.96 * float(np.std(boot)), rel=0.15)


def test_the_interval_narrows_with_more_customers_and_stays_in_0_1() -> None:
    small, large = auc_interval(*scores(13, 1000, 1.2)), auc_interval(*scores(1300, 10_000, 1.2))
    assert small[1] - small[0] > 5 * (large[1] - large[0])
    assert auc_interval(*scores(13, 1000, 4.0))[1] == 1.0
    assert auc_interval(*scores(13, 1000, 100.0)) == (1.0, 1.0)  # every churner on top
    y, p = scores(13, 1000, 1.2)
    ties = np.round(p)  # ties count one half, as in scikit-learn's AUC
    assert np.mean(auc_interval(y, ties)) == pytest.approx(roc_auc_score(y, ties), abs=0.05)
    record = interval_record(y, p)
    assert record["method"] == "DeLong" and record["low"] < record["high"]
    with pytest.raises(ValueError, match="both classes"):
        auc_interval(np.zeros(10), np.arange(10.0))


def test_13_churners_read_as_what_they_are() -> None:
    said = small_test_warning(figures(0.998, 1013, 13 / 1013, (0.981, 1.0)))
    assert said is not None
    assert "13 churners and 1,000 stayers" in said
    assert "95% interval 0.981 to 1.000, 0.019 wide" in said
    assert "train.backtest_cutoffs" in said  # no folds given: how to get more evidence
    folds = {"folds": 3, "roc_auc_min": 0.71, "roc_auc_max": 0.79}
    assert "3 backtest or cross-validation folds" in str(
        small_test_warning(figures(0.8, 60, 0.2), folds)
    )
    assert "fewer than 50 stayers" in str(small_test_warning(figures(0.8, 1000, 0.97)))
    assert small_test_warning(figures(0.8, 1000, 0.1)) is None  # 100 churners, 900 stayers


def test_a_perfect_separation_says_no_interval_describes_it() -> None:
    assert "every churner ranked above every stayer" in str(
        small_test_warning(figures(1.0, 500, 0.02, (1.0, 1.0)))
    )


def test_a_too_good_model_names_the_columns_it_leans_on_and_how_to_check() -> None:
    shares = {"closed_flag": 0.62, "plan": 0.25, "tenure": 0.08, "usage": 0.05}
    aucs = {"closed_flag": 0.97, "plan": 0.61, "tenure": 0.66}
    said = too_good_warning(figures(0.991, 5000, 0.2), shares, aucs)
    assert said is not None
    assert "'closed_flag' 62% of the gain, alone 0.970 ROC AUC" in said
    assert "'usage'" not in said  # only the top three are named
    # the top one, and any other with much of the gain; not a weak third
    assert "train.exclude_features: ['closed_flag', 'plan']" in said
    assert "max_single_feature_auc" in said
    assert too_good_warning(figures(0.94, 5000, 0.2), shares, aucs) is None


def test_a_too_good_model_on_built_in_features_points_at_churners_already_gone() -> None:
    said = too_good_warning(
        figures(0.97, 5000, 0.3),
        {"days_since_last_event": 0.9, "events_30d": 0.1},
        {"days_since_last_event": 0.96},
        built_in={"days_since_last_event", "events_30d"},
    )
    assert said is not None
    assert "labels.max_inactive_days" in said
    assert "exclude_features" not in said  # churn's own features cannot leak


def test_a_churn_rate_near_0_or_100_percent_warns() -> None:
    assert "pr_auc" in str(extreme_rate_warning(figures(0.8, 100_000, 0.005)))
    assert "horizon_days" in str(extreme_rate_warning(figures(0.8, 100_000, 0.99)))
    assert extreme_rate_warning(figures(0.8, 100_000, 0.06)) is None
    assert extreme_rate_warning(figures(0.8, 100_000, 0.86)) is None  # cdnow's one-time buyers


@pytest.mark.parametrize("pipeline", ["cdnow", "retail", "subscription", "telco"])
def test_the_bundled_pipelines_figures_call_for_no_warning(pipeline: str) -> None:
    metrics = json.loads((ROOT / "reports" / pipeline / "metrics.json").read_text())
    backtest = json.loads((ROOT / "reports" / pipeline / "backtest.json").read_text())
    found = figure_warnings(
        metrics, gain_shares={"f": 1.0}, test_aucs={}, folds=backtest["summary"]
    )
    assert found == []


def test_the_report_shows_the_interval_and_every_warning() -> None:
    metrics = {
        **figures(0.998, 1013, 13 / 1013, (0.981, 1.0)),
        "warnings": ["the test ROC AUC rests on 13"],
    }
    notes = [i.text for i in model_section(metrics, {}, None).items if isinstance(i, Note)]
    assert "ROC AUC 95% interval 0.981 to 1.000" in notes[0]
    assert "Warning from churn train: the test ROC AUC rests on 13" in notes
    older = {k: v for k, v in metrics.items() if k not in ("warnings", "roc_auc_interval")}
    assert len([i for i in model_section(older, {}, None).items if isinstance(i, Note)]) == 1
