"""The model artifact: save/load without pickles, clear errors for broken folders, one design
matrix for training and scoring, and calibrators that keep probabilities in [0, 1] and in
the booster's order."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.isotonic import IsotonicRegression

from churn.errors import PipelineStateError
from churn.modeling.base_margin import BaseMargin
from churn.modeling.model import BOOSTER_FILE, META_FILE, Calibrator, ChurnModel, design_matrix

NUMERIC = ("recency", "orders")
CATEGORIES = {"plan": ("basic", "pro")}


def feature_frame(n: int, seed: int) -> pd.DataFrame:
    """``n`` customers whose churn odds rise with recency and fall with orders."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 365, n)
    orders = rng.poisson(3, n).astype(float)
    plan = rng.choice(["basic", "pro"], n)
    logit = (recency - 180) / 60 - 0.5 * (orders - 3) + np.where(plan == "pro", -1.0, 0.0)
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {"recency": recency, "orders": orders, "plan": plan, "churned": churned.astype(int)}
    )


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    train, valid = feature_frame(300, seed=1), feature_frame(150, seed=2)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 1},
        xgb.DMatrix(
            design_matrix(train, NUMERIC, CATEGORIES),
            label=train["churned"],
            enable_categorical=True,
        ),
        num_boost_round=20,
    )
    margin = booster.predict(
        xgb.DMatrix(design_matrix(valid, NUMERIC, CATEGORIES), enable_categorical=True),
        output_margin=True,
    )
    return ChurnModel(
        booster=booster,
        calibrator=Calibrator.fit("isotonic", margin, valid["churned"].to_numpy()),
        numeric_features=NUMERIC,
        categories=CATEGORIES,
        metadata={"pipeline": "tiny", "best_iteration": 19},
    )


@pytest.fixture
def saved(model: ChurnModel, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    model.save(folder)
    return folder


# --------------------------------------------------------------------------- save / load


def test_round_trip_gives_identical_probabilities(model: ChurnModel, saved: Path) -> None:
    loaded = ChurnModel.load(saved)
    rows = feature_frame(200, seed=3)
    np.testing.assert_array_equal(loaded.margin(rows), model.margin(rows))
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    assert loaded.calibrator == model.calibrator
    assert loaded.feature_names == ["recency", "orders", "plan"]
    assert dict(loaded.categories) == CATEGORIES
    assert dict(loaded.metadata) == {"pipeline": "tiny", "best_iteration": 19}


def test_saved_folder_holds_only_booster_and_json(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == sorted([BOOSTER_FILE, META_FILE])
    meta = json.loads((saved / META_FILE).read_text())
    assert meta["numeric_features"] == list(NUMERIC)
    assert meta["calibrator"]["method"] == "isotonic"
    assert not (saved / BOOSTER_FILE).read_bytes().startswith(b"\x80")  # no pickle header


def test_folder_without_model_files_is_refused(saved: Path) -> None:
    (saved / BOOSTER_FILE).unlink()
    with pytest.raises(PipelineStateError, match="not a churn model folder") as err:
        ChurnModel.load(saved)
    assert str(saved) in str(err.value) and BOOSTER_FILE in str(err.value)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("file", "corrupt"),
    [
        pytest.param(META_FILE, lambda _: b"{not json", id="json-syntax"),
        pytest.param(META_FILE, lambda _: b'{"numeric_features": []}', id="json-missing-keys"),
        pytest.param(BOOSTER_FILE, lambda _: b"these are not booster bytes", id="booster-junk"),
        pytest.param(BOOSTER_FILE, _truncated, id="booster-truncated"),
        pytest.param(BOOSTER_FILE, lambda _: b"", id="booster-empty"),
        pytest.param(
            META_FILE,
            lambda _: b"null",
            id="json-not-an-object",
        ),
        pytest.param(
            META_FILE,
            lambda data: b"\xff" + data,
            id="json-not-utf8",
        ),
    ],
)
def test_corrupted_model_file_raises_pipeline_state_error(
    saved: Path, file: str, corrupt: Callable[[bytes], bytes]
) -> None:
    path = saved / file
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(PipelineStateError) as err:
        ChurnModel.load(saved)
    message = str(err.value)
    assert str(saved) in message
    assert "corrupted" in message and "churn train" in message


def test_model_from_another_format_version_is_refused(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    meta["format_version"] = 99
    (saved / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(PipelineStateError, match="version"):
        ChurnModel.load(saved)


def test_unknown_calibrator_method_is_refused(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    meta["calibrator"]["method"] = "bogus"
    (saved / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(PipelineStateError):
        ChurnModel.load(saved)


# --------------------------------------------------------------------------- design_matrix


def test_design_matrix_types_order_and_missing_values() -> None:
    features = pd.DataFrame(
        {
            "plan": ["pro", None, "basic", np.nan],
            "orders": ["3", "x", None, 1],
            "recency": [1, 2, 3, 4],
            "unused": [9, 9, 9, 9],
        },
        index=[10, 11, 12, 13],
    )
    before = features.copy()
    dm = design_matrix(features, NUMERIC, CATEGORIES)
    assert list(dm.columns) == ["recency", "orders", "plan"]
    assert list(dm.index) == [10, 11, 12, 13]
    assert dm["recency"].dtype == "float64" and dm["orders"].dtype == "float64"
    assert dm["orders"].tolist()[0] == 3.0 and dm["orders"].tolist()[3] == 1.0
    assert dm["orders"].isna().tolist() == [False, True, True, False]
    assert list(dm["plan"].cat.categories) == ["basic", "pro"]
    assert dm["plan"].isna().tolist() == [False, True, False, True]
    assert dm["plan"].tolist()[::2] == ["pro", "basic"]
    pd.testing.assert_frame_equal(features, before)


def test_unseen_categories_are_treated_as_missing(model: ChurnModel) -> None:
    rows = feature_frame(6, seed=6)
    unseen, missing = rows.assign(plan="enterprise"), rows.assign(plan=None)
    dm = design_matrix(unseen, NUMERIC, CATEGORIES)
    assert dm["plan"].isna().all()
    assert list(dm["plan"].cat.categories) == ["basic", "pro"]
    np.testing.assert_array_equal(model.predict_proba(unseen), model.predict_proba(missing))


def test_design_matrix_names_every_missing_column() -> None:
    features = pd.DataFrame({"recency": [1.0]})
    with pytest.raises(PipelineStateError) as err:
        design_matrix(features, NUMERIC, CATEGORIES)
    assert "['orders', 'plan']" in str(err.value)
    assert "churn features" in str(err.value)


# --------------------------------------------------------------------------- probabilities


def test_predict_proba_in_unit_interval_even_for_odd_rows(model: ChurnModel) -> None:
    rows = pd.DataFrame(
        {
            "recency": [0.0, 1e9, -1e9, np.nan, 100.0],
            "orders": [0.0, 1e9, np.nan, np.nan, 2.0],
            "plan": ["basic", "pro", None, None, "pro"],
        }
    )
    p = model.predict_proba(pd.concat([rows, feature_frame(200, seed=4)], ignore_index=True))
    assert p.shape == (205,)
    assert np.all((p >= 0.0) & (p <= 1.0))


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    """Margins and outcomes drawn from them, as a validation cutoff would give."""
    rng = np.random.default_rng(5)
    margin = rng.normal(0.0, 2.0, 400)
    y = (rng.uniform(size=margin.size) < 1 / (1 + np.exp(-margin))).astype(int)
    return margin, y


@pytest.mark.parametrize("method", ["isotonic", "platt", "none"])
def test_calibrator_is_a_monotone_map_into_unit_interval(
    method: Literal["isotonic", "platt", "none"], held_out: tuple[np.ndarray, np.ndarray]
) -> None:
    cal = Calibrator.fit(method, *held_out)
    assert cal.method == method
    margins = np.r_[-50.0, np.linspace(-10, 10, 401), 50.0]
    p = cal(margins)
    assert p.shape == margins.shape
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(np.diff(p) >= 0.0)


def test_isotonic_calibrator_is_flat_outside_the_fitted_range(
    held_out: tuple[np.ndarray, np.ndarray],
) -> None:
    margin, y = held_out
    cal = Calibrator.fit("isotonic", margin, y)
    assert cal(np.array([margin.min() - 100.0]))[0] == cal(np.array([margin.min()]))[0]
    assert cal(np.array([margin.max() + 100.0]))[0] == cal(np.array([margin.max()]))[0]
    # isotonic regression keeps the mean of what it was fitted on, but for half a churner or
    # stayer added to a step of stayers or churners only at each end
    assert cal(margin).mean() == pytest.approx(y.mean(), abs=1 / len(y))


def test_isotonic_ends_are_never_certain() -> None:
    """The lowest-margin customers of a calibration set without a churner among them get a
    small probability, not 0; the highest, of churners only, a large one, not 1; the steps
    between keep their class means."""
    rng = np.random.default_rng(5)
    margin = np.sort(rng.normal(0.0, 1.0, 2000))
    y = (rng.uniform(size=margin.size) < 1 / (1 + np.exp(-3 * margin))).astype(int)
    y[:120], y[-80:] = 0, 1  # 120 stayers at the bottom, 80 churners at the top
    plain = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y)
    assert plain.predict(margin[:1])[0] == 0.0 and plain.predict(margin[-1:])[0] == 1.0
    cal = Calibrator.fit("isotonic", margin, y)
    p = cal(np.r_[-50.0, margin, 50.0])
    assert 0.0 < p[0] <= 0.5 / 121 and 1 - 0.5 / 81 <= p[-1] < 1.0
    assert np.all(np.diff(p) >= 0.0)
    inner = (p[1:-1] > p[0]) & (p[1:-1] < p[-1])
    np.testing.assert_allclose(p[1:-1][inner], plain.predict(margin)[inner])


@pytest.mark.parametrize("cal", [Calibrator("none"), Calibrator("platt", (50.0,), (0.0,))])
def test_sigmoid_calibrators_take_extreme_margins_without_warnings(cal: Calibrator) -> None:
    np.testing.assert_array_equal(cal(np.array([-1e3, 1e3])), [0.0, 1.0])


def test_uncalibrated_is_the_logistic_function() -> None:
    p = Calibrator("none")(np.array([-np.log(3), 0.0, np.log(3)]))
    np.testing.assert_allclose(p, [0.25, 0.5, 0.75])


def test_model_with_base_margin_round_trips(model: ChurnModel, tmp_path: Path) -> None:
    boosted = replace(model, base_margin=BaseMargin(("orders",), (-0.8,), 0.3))
    boosted.save(tmp_path / "boosted")
    loaded = ChurnModel.load(tmp_path / "boosted")
    rows = feature_frame(200, seed=4)
    assert loaded.base_margin == boosted.base_margin
    np.testing.assert_array_equal(loaded.margin(rows), boosted.margin(rows))
    # the base margin replaces the booster's constant start: it shifts each row's log-odds by
    # its own base margin, less that one constant
    shift = boosted.margin(rows) - model.margin(rows) - boosted.base_margin(rows)
    np.testing.assert_allclose(shift, shift[0], atol=1e-5)


def test_version_1_model_without_base_margin_still_loads(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    meta["format_version"] = 1
    del meta["base_margin"]
    (saved / META_FILE).write_text(json.dumps(meta))
    assert ChurnModel.load(saved).base_margin is None


def test_malformed_base_margin_is_refused(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    meta["base_margin"] = {"features": ["orders"], "coefs": [], "intercept": 0.0}
    (saved / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(PipelineStateError, match="corrupted"):
        ChurnModel.load(saved)
