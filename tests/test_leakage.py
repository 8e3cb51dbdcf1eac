"""The leakage guard catches the label in disguise and lets real signals through."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.errors import TrainingError
from churn.modeling.leakage import (
    LeakageError,
    identifier_like,
    leak_suspects,
    leakage_error,
    positive_share_warning,
    repeats_label_name,
)

N = 2000


@pytest.fixture
def shop() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    y = (rng.random(N) < 0.27).astype(np.int8)
    tenure = np.where(y == 1, rng.gamma(2, 6, N), rng.gamma(4, 8, N))  # a real signal
    score = np.clip(y * 60 + rng.normal(20, 8, N), 0, 100)  # a vendor's churn score
    rows = pd.DataFrame(
        {
            "tenure": tenure,
            "charges": rng.gamma(3, 20, N),
            "churn_score": score,
            "label_twin": np.where(y == 1, "Yes", "No"),
            "reason": pd.Series(np.where(y == 1, rng.choice(["price", "service"], N), None)),
            "contract": rng.choice(["month", "year", "two years"], N),
            "surname": [f"name{i}" for i in rng.permutation(N)],
        }
    )
    return rows, y


NUMERIC = ["tenure", "charges", "churn_score"]
CATEGORICAL = ["label_twin", "reason", "contract", "surname"]


def test_the_label_in_disguise_is_caught_and_real_signals_pass(
    shop: tuple[pd.DataFrame, np.ndarray],
) -> None:
    rows, y = shop
    suspects = leak_suspects(rows, y, numeric=NUMERIC, categorical=CATEGORICAL)
    assert {s.column for s in suspects} == {"churn_score", "label_twin", "reason"}
    assert all(s.auc >= 0.98 for s in suspects)
    why = {s.column: s.why for s in suspects}
    assert "missing" in why["reason"]


def test_a_column_of_unique_values_is_not_a_leak_but_an_identifier(
    shop: tuple[pd.DataFrame, np.ndarray],
) -> None:
    rows, y = shop
    suspects = leak_suspects(rows, y, numeric=[], categorical=["surname"])
    assert suspects == []
    assert identifier_like(rows, CATEGORICAL) == ["surname"]


def test_allowed_columns_are_never_suspect(shop: tuple[pd.DataFrame, np.ndarray]) -> None:
    rows, y = shop
    suspects = leak_suspects(
        rows, y, numeric=NUMERIC, categorical=CATEGORICAL, allow=["churn_score", "reason"]
    )
    assert [s.column for s in suspects] == ["label_twin"]


def test_a_separation_the_wrong_way_round_is_a_leak_too(
    shop: tuple[pd.DataFrame, np.ndarray],
) -> None:
    rows, y = shop
    rows = rows.assign(retained_score=-rows["churn_score"])
    suspects = leak_suspects(rows, y, numeric=["retained_score"], categorical=[])
    assert [s.column for s in suspects] == ["retained_score"]


def test_a_name_that_repeats_the_label_is_suspect_whatever_its_auc(
    shop: tuple[pd.DataFrame, np.ndarray],
) -> None:
    rows, y = shop
    rows = rows.assign(ChurnCategory=rows["contract"])
    suspects = leak_suspects(
        rows, y, numeric=["tenure"], categorical=["ChurnCategory"], label_name="Churn Label"
    )
    assert [s.column for s in suspects] == ["ChurnCategory"]
    assert "Churn Label" in suspects[0].why


@pytest.mark.parametrize(
    ("column", "label", "repeats"),
    [
        ("Churn Score", "Churn Label", True),
        ("Churn Reason", "Churn Value", True),
        ("churn_reason", "Churn", True),
        ("tenure", "Exited", False),
        ("Exited_flag", "Exited", True),
        ("status", "Label", False),  # nothing distinctive in the label's name
    ],
)
def test_names_that_repeat_the_label(column: str, label: str, repeats: bool) -> None:
    assert repeats_label_name(column, label) is repeats


def test_the_error_names_each_column_its_auc_and_both_settings(
    shop: tuple[pd.DataFrame, np.ndarray],
) -> None:
    rows, y = shop
    error = leakage_error(leak_suspects(rows, y, numeric=NUMERIC, categorical=CATEGORICAL))
    assert isinstance(error, TrainingError)
    assert error.exit_code == 6
    text = str(error)
    for column in ("churn_score", "label_twin", "reason"):
        assert repr(column) in text
    assert "single-feature ROC AUC 1.000" in text
    assert "train.exclude_features" in text
    assert "train.leakage.allow" in text
    assert isinstance(error, LeakageError)


def test_one_class_has_no_suspects(shop: tuple[pd.DataFrame, np.ndarray]) -> None:
    rows, _ = shop
    assert leak_suspects(rows, np.zeros(N), numeric=NUMERIC, categorical=CATEGORICAL) == []


def test_a_label_the_wrong_way_round_warns() -> None:
    assert positive_share_warning(np.array([1] * 86 + [0] * 14)) is not None
    assert positive_share_warning(np.array([1] * 27 + [0] * 73)) is None
    most = np.array([1] * 86 + [0] * 14)
    assert "positive_label" in (positive_share_warning(most) or "")
    on_events = positive_share_warning(most, snapshot=False) or ""
    assert "horizon_days" in on_events and "snapshot" not in on_events


def test_the_guard_does_not_change_its_inputs(shop: tuple[pd.DataFrame, np.ndarray]) -> None:
    rows, y = shop
    before, y_before = rows.copy(), y.copy()
    leak_suspects(rows, y, numeric=NUMERIC, categorical=CATEGORICAL)
    pd.testing.assert_frame_equal(rows, before)
    np.testing.assert_array_equal(y, y_before)


def test_a_large_training_set_is_screened_on_a_seeded_sample() -> None:
    from churn.modeling.leakage import screen_features, screening_sample  # noqa: PLC0415
    from churn.modeling.training_data import FeatureColumns  # noqa: PLC0415
    from churn.settings import LeakageSettings  # noqa: PLC0415

    rng = np.random.default_rng(11)
    n = 30_000
    y = (rng.random(n) < 0.2).astype(np.int8)
    rows = pd.DataFrame(
        {
            "tenure": np.where(y == 1, rng.gamma(2, 6, n), rng.gamma(4, 8, n)),
            "churn_score": np.where(rng.random(n) < 0.002, np.nan, y * 60 + rng.normal(20, 5, n)),
            "plan": rng.choice(np.array(["a", "b", None], object), n),
        }
    )
    capped = LeakageSettings(max_rows=2_000)

    sample, y_sample = screening_sample(rows, y, capped.max_rows, seed=4)
    assert len(sample) == len(y_sample) == 2_000
    again, _ = screening_sample(rows, y, capped.max_rows, seed=4)
    pd.testing.assert_frame_equal(sample, again)
    assert not sample.equals(screening_sample(rows, y, capped.max_rows, seed=5)[0])
    # the sample keeps each row with its own outcome
    picked = rows.reset_index().merge(sample, on=["tenure", "churn_score", "plan"])
    assert len(picked) == 2_000
    np.testing.assert_array_equal(y[picked["index"].to_numpy()], y_sample)
    few = rows.head(500)
    small, y_small = screening_sample(few, y[:500], capped.max_rows, seed=4)
    pd.testing.assert_frame_equal(small, few)  # at most max_rows: every row, as it is
    np.testing.assert_array_equal(y_small, y[:500])

    columns = FeatureColumns(numeric=("tenure", "churn_score"), categorical=("plan",))
    with pytest.raises(LeakageError, match="churn_score"):
        screen_features(rows, y, columns, capped, seed=4)
    clean = FeatureColumns(numeric=("tenure",), categorical=("plan",))
    assert screen_features(rows, y, clean, capped, seed=4).columns == clean


def test_a_built_in_feature_that_separates_the_labels_is_a_warning_not_a_stop() -> None:
    """A call log where customers are active every few days: recency separates a 90-day
    inactivity label at ROC AUC 0.99, since churners had gone quiet before the cutoff. churn
    computes recency from events before the cutoff, so it cannot leak; the screen warns. A
    column of the user's files that separates them as well still stops training."""
    from churn.modeling.leakage import screen_features  # noqa: PLC0415
    from churn.modeling.training_data import FeatureColumns  # noqa: PLC0415
    from churn.settings import LeakageSettings  # noqa: PLC0415

    rng = np.random.default_rng(5)
    n = 2_000
    y = (rng.random(n) < 0.2).astype(np.int8)
    rows = pd.DataFrame(
        {
            "days_since_last_activity": np.where(y == 1, 20 + rng.exponential(30, n), 0.0),
            "orders_30d": rng.poisson(5, n).astype(float),
            "cancel_reason": np.where(y == 1, 1.0, np.nan),  # a column of the user's file
        }
    )
    built_in = {"days_since_last_activity", "orders_30d"}
    own = FeatureColumns(numeric=("days_since_last_activity", "orders_30d"), categorical=())
    screened = screen_features(rows, y, own, LeakageSettings(), built_in=built_in)
    assert screened.columns == own  # nothing left out, nothing stopped
    (warning,) = [w for w in screened.warnings if "days_since_last_activity" in w]
    assert "no leak" in warning and "labels.max_inactive_days" in warning
    every = FeatureColumns(numeric=(*own.numeric, "cancel_reason"), categorical=())
    with pytest.raises(LeakageError, match="cancel_reason") as stopped:
        screen_features(rows, y, every, LeakageSettings(), built_in=built_in)
    assert "days_since_last_activity" not in str(stopped.value)
