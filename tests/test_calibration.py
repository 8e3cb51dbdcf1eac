"""Calibrating on several recent cutoffs (``train.calibration_cutoffs``), on generated monthly
cutoffs whose churn level moves with a season the features cannot see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.evaluation.metrics import expected_calibration_error
from churn.modeling.calibration import calibration_cutoff_dates, calibration_rows
from churn.modeling.fitting import fit_on_engine
from churn.modeling.train import fit_model
from churn.modeling.training_data import FeatureColumns, outcome
from churn.settings import TrainSettings, load_settings

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = FeatureColumns(numeric=("signal", "noise"), categorical=())
FAST = {"max_rounds": 200, "early_stopping_rounds": 20, "min_child_weight": 1.0}

# log-odds added to every customer at each month's cutoff: a season the features do not see.
# The last labelled cutoff (the validation one) is a spike the next cutoff does not share.
LEVELS = {
    "2023-01-01": -0.4,
    "2023-02-01": 0.3,
    "2023-03-01": -0.2,
    "2023-04-01": 0.2,
    "2023-05-01": -0.3,
    "2023-06-01": 0.1,
    "2023-07-01": 1.6,
    "2023-08-01": 0.0,
}


def month_rows(cutoff: str, n: int, seed: int) -> pd.DataFrame:
    """``n`` customers at ``cutoff``: churn odds rise with ``signal``, plus the month's level."""
    rng = np.random.default_rng(seed)
    signal, noise = rng.normal(size=n), rng.normal(size=n)
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-(1.5 * signal + LEVELS[cutoff])))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "cutoff": pd.Timestamp(cutoff),
            "churned": churned,
            "signal": signal,
            "noise": noise,
        }
    )


@pytest.fixture(scope="module")
def months() -> dict[str, pd.DataFrame]:
    return {c: month_rows(c, 1500, seed) for seed, c in enumerate(LEVELS)}


def split(months: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, ...]:
    cutoffs = list(months)
    train = pd.concat([months[c] for c in cutoffs[:5]], ignore_index=True)
    purged = months[cutoffs[5]]
    return train, purged, months[cutoffs[6]], months[cutoffs[7]]


def test_pooling_recent_cutoffs_beats_single_cutoff_isotonic_after_a_seasonal_spike(
    months: dict[str, pd.DataFrame],
) -> None:
    train, purged, valid, test = split(months)
    single = fit_model(train, valid, COLUMNS, TrainSettings(**FAST), purged=purged)
    pooled = fit_model(
        train,
        valid,
        COLUMNS,
        TrainSettings(**FAST, calibration="platt", calibration_cutoffs=4),
        purged=purged,
    )
    y = outcome(test)
    ece_single = expected_calibration_error(y, single.model.predict_proba(test))
    ece_pooled = expected_calibration_error(y, pooled.model.predict_proba(test))
    assert ece_pooled < ece_single - 0.05
    # the same booster either way: only the calibrator changed, so ranking is untouched
    np.testing.assert_array_equal(pooled.model.margin(test), single.model.margin(test))
    assert pooled.model.metadata["calibration_cutoffs"] == [
        "2023-07-01",
        "2023-06-01",
        "2023-05-01",
        "2023-04-01",
    ]
    assert "calibration_cutoffs" not in single.model.metadata


def test_one_calibration_cutoff_is_the_validation_cutoff_alone(
    months: dict[str, pd.DataFrame],
) -> None:
    train, purged, valid, test = split(months)
    default = fit_model(train, valid, COLUMNS, TrainSettings(**FAST), purged=purged)
    explicit = fit_model(
        train, valid, COLUMNS, TrainSettings(**FAST, calibration_cutoffs=1), purged=purged
    )
    assert TrainSettings().calibration_cutoffs == 1
    np.testing.assert_array_equal(
        default.model.predict_proba(test), explicit.model.predict_proba(test)
    )
    assert default.model.calibrator == explicit.model.calibrator


def test_calibration_rows_take_the_latest_earlier_cutoffs(
    months: dict[str, pd.DataFrame],
) -> None:
    train, purged, valid, _ = split(months)
    before = {"train": train.copy(), "purged": purged.copy(), "valid": valid.copy()}
    rows = calibration_rows(valid, [purged, train], 3)
    assert calibration_cutoff_dates(rows) == ["2023-07-01", "2023-06-01", "2023-05-01"]
    assert len(rows) == 3 * 1500
    # more cutoffs than there are pools all of them; one is the validation rows unchanged
    assert len(calibration_rows(valid, [purged, train], 99)) == 7 * 1500
    assert calibration_rows(valid, [purged, train], 1) is valid
    pd.testing.assert_frame_equal(train, before["train"])
    pd.testing.assert_frame_equal(purged, before["purged"])
    pd.testing.assert_frame_equal(valid, before["valid"])


def test_snapshot_rows_without_earlier_cutoffs_calibrate_on_the_validation_rows() -> None:
    """A snapshot pipeline's folds share one cutoff date, and some frames have no cutoff at
    all: there is nothing earlier to pool, whatever the setting says."""
    same_day = month_rows("2023-08-01", 50, seed=1)
    assert calibration_rows(same_day, [same_day.copy()], 5) is same_day
    no_cutoff = same_day.drop(columns="cutoff")
    assert calibration_rows(no_cutoff, [no_cutoff], 5) is no_cutoff
    assert calibration_rows(same_day, [no_cutoff], 5) is same_day
    assert calibration_cutoff_dates(no_cutoff) == []


def test_spark_engine_refuses_pooled_calibration_before_starting_spark(
    months: dict[str, pd.DataFrame],
) -> None:
    train, purged, valid, _ = split(months)
    bundled = load_settings(ROOT, "cdnow")
    train_settings = bundled.train.model_copy(
        update={"engine": "spark", "refit_on_purged": False, "calibration_cutoffs": 3}
    )
    settings = bundled.model_copy(update={"train": train_settings})
    with pytest.raises(ConfigError, match=r"train\.calibration_cutoffs 3 .*spark"):
        fit_on_engine(settings, train, valid, purged, COLUMNS, overrides=None, metadata={})
