"""The calibrators of ``benchmarks/calibration_folds.py`` on generated cutoffs: each recovers the
shift it is built for where one exists, so that a calibrator that does not help on a real
pipeline's folds is not helping there, not broken."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.evaluation.metrics import expected_calibration_error
from churn.modeling.training_data import outcome

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import calibration_folds as cf


def cutoff_rows(
    cutoff: str, n: int, rng: np.random.Generator, *, active: float, level: float
) -> pd.DataFrame:
    """``n`` customers at ``cutoff``: a share ``active`` has ``recent_visits`` > 0; churn
    log-odds are ``margin`` plus ``level``, which the margin does not see."""
    margin = rng.normal(size=n)
    visits = np.where(rng.uniform(size=n) < active, rng.integers(1, 5, size=n), 0)
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-(margin + level)))
    return pd.DataFrame(
        {
            "cutoff": pd.Timestamp(cutoff),
            "churned": churned,
            "margin": margin,
            "recent_visits": visits.astype(float),
        }
    )


def population_months(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly cutoffs whose churn level falls as the share of recently active customers
    rises (level = 3 x (0.5 - share)); the test month is far busier than the latest ones."""
    rng = np.random.default_rng(seed)
    shares = [0.3, 0.6, 0.4, 0.7, 0.35, 0.3]
    known = pd.concat(
        [
            cutoff_rows(f"2024-0{i + 1}-01", 3000, rng, active=s, level=3 * (0.5 - s))
            for i, s in enumerate(shares)
        ],
        ignore_index=True,
    )
    test = cutoff_rows("2024-08-01", 3000, rng, active=0.8, level=3 * (0.5 - 0.8))
    return known, test


def test_a_population_covariate_moves_the_level_with_the_scored_population() -> None:
    known, test = population_months(seed=1)
    y = outcome(test)
    plain = expected_calibration_error(y, cf.platt(2)(known, test))
    moved = expected_calibration_error(
        y, cf.population_covariate("recent_visits", "share", 2)(known, test)
    )
    assert moved < 0.04 < plain


def test_a_population_covariate_without_a_signal_keeps_the_platt_level() -> None:
    rng = np.random.default_rng(2)
    known = pd.concat(
        [cutoff_rows(f"2024-0{i + 1}-01", 3000, rng, active=0.5, level=0.4) for i in range(4)],
        ignore_index=True,
    )
    test = cutoff_rows("2024-06-01", 3000, rng, active=0.5, level=0.4)
    p_plain = cf.platt(2)(known, test)
    p_moved = cf.population_covariate("recent_visits", "share", 2)(known, test)
    assert np.abs(p_moved - p_plain).max() < 0.02


def test_segment_levels_follow_a_mix_that_shifts() -> None:
    """New customers (``tenure`` < 90) churn 1.5 log-odds more than the margin says; the test
    cutoff has three times their share of the known cutoffs."""
    rng = np.random.default_rng(3)

    def month(cutoff: str, new_share: float) -> pd.DataFrame:
        n = 4000
        tenure = np.where(rng.uniform(size=n) < new_share, 30.0, 400.0)
        margin = rng.normal(size=n)
        extra = np.where(tenure < 90, 1.5, 0.0)
        churned = rng.uniform(size=n) < 1 / (1 + np.exp(-(margin + extra)))
        frame = pd.DataFrame({"cutoff": pd.Timestamp(cutoff), "margin": margin})
        return frame.assign(churned=churned, tenure=tenure)

    known = pd.concat([month("2024-01-01", 0.15), month("2024-02-01", 0.15)], ignore_index=True)
    test = month("2024-03-01", 0.45)
    y = outcome(test)
    plain = expected_calibration_error(y, cf.platt(2)(known, test))
    segmented = expected_calibration_error(y, cf.segment_offsets("tenure", [90.0], 2)(known, test))
    assert segmented < 0.04 < plain


@pytest.mark.parametrize("make", [cf.beta, cf.venn_abers, cf.isotonic, cf.platt])
def test_every_calibrator_gives_probabilities_that_rise_with_the_margin(make: object) -> None:
    known, test = population_months(seed=4)
    p = make(1)(known, test)  # type: ignore[operator]
    order = np.argsort(test["margin"].to_numpy())
    assert p.shape == (len(test),)
    assert ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p[order]) >= -1e-9).all()


def test_the_oracle_level_matches_the_scored_churn_rate() -> None:
    known, test = population_months(seed=5)
    p = cf.oracle_level(2)(known, test)
    assert p.mean() == pytest.approx(outcome(test).mean(), abs=1e-6)
    assert cf.platt(2)(known, test).mean() != pytest.approx(outcome(test).mean(), abs=0.05)
