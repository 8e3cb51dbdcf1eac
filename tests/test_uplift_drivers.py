"""The driver_shift uplift learner: each action as a shift on the churn model's log-odds,
proportional to the risk coming from the reasons the playbook maps to it. Generated campaigns
with uninformative column names and messy shapes (skewed, counts, missing values, a text
category); the churn model is a real xgboost model fitted on generated history."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy.special import expit
from scipy.stats import spearmanr

from churn.campaigns import UpliftModel, UpliftParams, fit_uplift
from churn.campaigns.uplift import CHURN_MODEL_DIR, POOLED
from churn.campaigns.uplift_drivers import (
    DriverArm,
    driver_risk,
    fit_driver_arm,
    playbook_drivers,
    playbook_slopes,
)
from churn.campaigns.uplift_shift import logit
from churn.errors import PipelineStateError
from churn.modeling.model import Calibrator, ChurnModel
from churn.scoring.explain import shap_contributions
from churn.scoring.reasons import CatalogueSpec, ReasonCatalogue, ReasonSpec, resolve
from churn.settings import PlaybookRule, PlaybookSettings
from churn.tracking.runs import RegisteredVersion
from churn.tracking.store import connect, ensure_experiment, tracking_uri
from churn.tracking.uplift_registry import UpliftToLog, log_uplift_run

NUMERIC = ("q1", "q2", "q3")
CATEGORIES = {"seg": ("x", "y", "z")}


def customers(n: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "q1": rng.lognormal(0.0, 0.8, n),  # skewed; drives risk through its log
            "q2": rng.poisson(0.6, n).astype(float),  # a count
            "q3": rng.normal(size=n),  # noise, in no action's reason
            "seg": rng.choice(["x", "y", "z"], n).astype(object),
        }
    )
    frame.loc[rng.uniform(size=n) < 0.05, "q3"] = np.nan
    frame.loc[rng.uniform(size=n) < 0.03, "seg"] = None
    return frame


def alpha_term(f: pd.DataFrame) -> np.ndarray:
    return np.asarray(0.9 * np.clip(np.log(f["q1"].to_numpy()), 0, None))


def beta_term(f: pd.DataFrame) -> np.ndarray:
    return np.asarray(0.8 * f["q2"].to_numpy())


def base_logit(f: pd.DataFrame) -> np.ndarray:
    return -2.2 + alpha_term(f) + beta_term(f) + 0.3 * (f["seg"] == "z").to_numpy()


@pytest.fixture(scope="module")
def churn_model() -> ChurnModel:
    """A churn model fitted on generated history (no contacts): a model, not the truth."""
    rng = np.random.default_rng(100)
    history = customers(20_000, rng)
    y = rng.uniform(size=len(history)) < expit(base_logit(history))
    empty = ChurnModel(xgb.Booster(), Calibrator("none"), NUMERIC, CATEGORIES)
    matrix = xgb.DMatrix(empty.matrix(history), label=y, enable_categorical=True)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "eta": 0.1, "seed": 0, "nthread": 1},
        matrix,
        num_boost_round=150,
    )
    return ChurnModel(booster, Calibrator("none"), NUMERIC, CATEGORIES)


def catalogue() -> ReasonCatalogue:
    spec = CatalogueSpec(
        version="t",
        reasons=[
            ReasonSpec(code="ALPHA", features=["q1"]),
            ReasonSpec(code="BETA", features=["q2"]),
            ReasonSpec(code="GHOST", features=["not_a_model_feature"]),
            ReasonSpec(code="OTHER", features=["q3", "seg"], actionable=False),
        ],
    )
    records = [{"name": n, "family": "f", "description": n} for n in [*NUMERIC, "seg"]]
    return resolve(spec, records, [*NUMERIC, "seg"])


PLAYBOOK = PlaybookSettings(
    rules=[
        PlaybookRule(action="fix_alpha", reasons=["ALPHA"], cost=1.0, effect=0.3),
        PlaybookRule(action="fix_beta", reasons=["BETA"], cost=1.0, effect=0.3),
        PlaybookRule(action="ghost_call", reasons=["GHOST"], cost=1.0, effect=0.3),
    ],
    default_action="nudge",
)
DRIVERS = playbook_drivers(PLAYBOOK, catalogue())
ACTIONS = ("fix_alpha", "fix_beta", "nudge")


def true_shift(f: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each action's true change to the churn log-odds: a fix removes 60 % of its driver's
    term (and a little for everyone), the nudge a little for everyone."""
    return {
        "fix_alpha": -(0.6 * alpha_term(f) + 0.05),
        "fix_beta": -(0.6 * beta_term(f) + 0.05),
        "nudge": np.full(len(f), -0.05),
    }


def true_uplift(f: pd.DataFrame) -> pd.DataFrame:
    base = base_logit(f)
    return pd.DataFrame(
        {a: expit(base) - expit(base + s) for a, s in true_shift(f).items()}, index=f.index
    )


@dataclass(frozen=True)
class Campaign:
    features: pd.DataFrame
    action: pd.Series
    control: pd.Series
    churned: pd.Series


def campaign(n: int, seed: int, *, shift: dict[str, np.ndarray] | None = None) -> Campaign:
    """Contacts, 25 % control, the rest spread over the actions; outcomes from the true base
    log-odds plus the true shift of the action (``shift`` replaces it)."""
    rng = np.random.default_rng(seed)
    f = customers(n, rng)
    control = rng.uniform(size=n) < 0.25
    action = np.where(control, None, rng.choice(list(ACTIONS), n)).astype(object)
    shifts = shift if shift is not None else true_shift(f)
    log_odds = base_logit(f)
    for name, s in shifts.items():
        log_odds = np.where(action == name, log_odds + s, log_odds)
    churned = rng.uniform(size=n) < expit(log_odds)
    return Campaign(f, pd.Series(action), pd.Series(control), pd.Series(churned))


def fit(c: Campaign, model: ChurnModel, **kwargs: object) -> UpliftModel:
    options: dict[str, object] = {"drivers": DRIVERS, **kwargs}
    return fit_uplift(
        c.features,
        c.action,
        c.control,
        c.churned,
        actions=(*ACTIONS, "ghost_call"),
        learner="driver_shift",
        churn_model=model,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def fitted(churn_model: ChurnModel) -> UpliftModel:
    return fit(campaign(12_000, seed=1), churn_model)


# --------------------------------------------------------------------------- the drivers


def test_playbook_drivers_map_each_action_to_its_reasons_model_features() -> None:
    assert DRIVERS["fix_alpha"] == {"ALPHA": ("q1",)}
    assert DRIVERS["fix_beta"] == {"BETA": ("q2",)}
    # a reason no model feature belongs to, and the default action: no driver
    assert DRIVERS["ghost_call"] == {}
    assert DRIVERS["nudge"] == {}
    # the prior slope of each rule's action is its prior effect; the default action has none
    assert playbook_slopes(PLAYBOOK) == {"fix_alpha": 0.3, "fix_beta": 0.3, "ghost_call": 0.3}


def test_driver_risk_is_the_positive_part_of_each_reasons_summed_contributions(
    churn_model: ChurnModel,
) -> None:
    f = customers(500, np.random.default_rng(3))
    contributions = shap_contributions(churn_model, f)
    both = driver_risk(contributions, {"A": ("q1",), "O": ("q3", "seg")})
    q1 = contributions.frame(f.index)["q1"].to_numpy()
    other = contributions.frame(f.index)[["q3", "seg"]].sum(axis=1).to_numpy()
    np.testing.assert_allclose(both, np.clip(q1, 0, None) + np.clip(other, 0, None))
    assert (both >= 0).all() and (both > 0).any()
    assert (driver_risk(contributions, {}) == 0).all()
    with pytest.raises(ValueError, match="not_there"):
        driver_risk(contributions, {"X": ("not_there",)})


# --------------------------------------------------------------------------- fitting


def test_it_recovers_the_slope_and_shift_the_outcomes_were_drawn_with(
    churn_model: ChurnModel,
) -> None:
    """Outcomes drawn from the model's own form (the churn model's logit shifted by c + theta
    x its driver risk): the fit finds theta and c within a few standard errors."""
    rng = np.random.default_rng(5)
    n = 30_000
    f = customers(n, rng)
    base = logit(churn_model.predict_proba(f))
    d = driver_risk(shap_contributions(churn_model, f), DRIVERS["fix_alpha"])
    contacted = rng.uniform(size=n) < 0.7
    y = rng.uniform(size=n) < expit(base - contacted * (0.1 + 0.8 * d))
    arm = fit_driver_arm(
        base,
        d,
        y.astype(float),
        contacted,
        ~contacted,
        reasons=DRIVERS["fix_alpha"],
        penalty=1.0,
    )
    assert arm.slope == pytest.approx(0.8, abs=0.15)
    assert arm.shift == pytest.approx(0.1, abs=0.1)
    assert abs(arm.intercept) < 0.1  # the churn model's logit needs no correction here


def test_a_slope_the_data_push_below_zero_is_held_at_zero(churn_model: ChurnModel) -> None:
    rng = np.random.default_rng(6)
    n = 20_000
    f = customers(n, rng)
    base = logit(churn_model.predict_proba(f))
    d = driver_risk(shap_contributions(churn_model, f), DRIVERS["fix_alpha"])
    contacted = rng.uniform(size=n) < 0.7
    # the action adds risk where the driver is: an estimate of theta would be negative
    y = rng.uniform(size=n) < expit(base + contacted * 0.6 * d)
    arm = fit_driver_arm(
        base, d, y.astype(float), contacted, ~contacted, reasons=DRIVERS["fix_alpha"], penalty=1.0
    )
    assert arm.slope == 0.0
    assert arm.shift < 0  # the harm shows as a negative constant shift instead


def test_it_ranks_customers_by_their_true_effect_better_than_the_x_learner(
    churn_model: ChurnModel, fitted: UpliftModel
) -> None:
    train = campaign(12_000, seed=1)
    x_learner = fit_uplift(
        train.features,
        train.action,
        train.control,
        train.churned,
        min_rows=300,
        params=UpliftParams(),
    )
    test = customers(5_000, np.random.default_rng(2))
    truth = true_uplift(test)
    mine, theirs = fitted.predict(test), x_learner.predict(test)
    for name in ("fix_alpha", "fix_beta"):
        rho_mine = spearmanr(mine[name], truth[name]).statistic
        rho_theirs = spearmanr(theirs[name], truth[name]).statistic
        assert rho_mine > 0.8
        assert rho_mine > rho_theirs + 0.1
        k = len(test) // 5  # the true churn kept by contacting the top fifth of each ranking
        kept_mine = truth[name].to_numpy()[np.argsort(-mine[name].to_numpy())[:k]].sum()
        kept_theirs = truth[name].to_numpy()[np.argsort(-theirs[name].to_numpy())[:k]].sum()
        assert kept_mine > kept_theirs


def test_an_action_without_a_mapped_driver_gets_a_constant_log_odds_shift(
    fitted: UpliftModel,
) -> None:
    nudge = fitted.arms[fitted.actions["nudge"]]
    assert isinstance(nudge, DriverArm)
    assert nudge.reasons == {} and nudge.slope == 0.0
    # a playbook action never contacted: the pooled constant shift of every contact
    assert fitted.actions["ghost_call"] == POOLED
    pooled = fitted.arms[POOLED]
    assert isinstance(pooled, DriverArm) and pooled.slope == 0.0
    # constant on the log-odds scale: its uplift grows with risk up to one half, never sign
    test = customers(2_000, np.random.default_rng(4))
    predicted = fitted.predict(test)["nudge"].to_numpy()
    assert np.all(np.sign(predicted) == np.sign(nudge.shift))
    assert fitted.arms[fitted.actions["fix_alpha"]].slope > 0  # type: ignore[union-attr]


def test_an_action_with_few_rows_stays_near_its_priors(churn_model: ChurnModel) -> None:
    """ "rare": 40 contacted rows answering ALPHA with a prior slope of 0.5: its shift stays
    nearer the pooled one, and its slope nearer the prior, than without the penalty."""
    c = campaign(8_000, seed=8)
    rng = np.random.default_rng(9)
    rare = rng.choice(np.flatnonzero((c.action == "fix_alpha").to_numpy()), 40, replace=False)
    action = c.action.copy()
    action.iloc[rare] = "rare"
    moved = Campaign(c.features, action, c.control, c.churned)
    drivers = {**DRIVERS, "rare": DRIVERS["fix_alpha"]}
    shrunk = fit(moved, churn_model, drivers=drivers, driver_slopes={"rare": 0.5})
    loose = fit(moved, churn_model, drivers=drivers, driver_penalty=1e-6)
    arm, pooled, free = shrunk.arms["rare"], shrunk.arms[POOLED], loose.arms["rare"]
    assert isinstance(arm, DriverArm) and isinstance(pooled, DriverArm)
    assert isinstance(free, DriverArm)
    assert arm.rows == 40 and shrunk.actions["rare"] == "rare"
    assert abs(arm.shift - pooled.shift) < abs(free.shift - pooled.shift)
    assert abs(arm.slope - 0.5) < abs(free.slope - 0.5)
    predicted = shrunk.predict(c.features.head(500))["rare"].to_numpy()
    assert np.isfinite(predicted).all() and np.abs(predicted).max() < 1


def test_it_needs_the_churn_model(churn_model: ChurnModel) -> None:
    c = campaign(2_000, seed=10)
    with pytest.raises(ValueError, match="churn model"):
        fit_uplift(c.features, c.action, c.control, c.churned, learner="driver_shift")
    with pytest.raises(ValueError, match="q2"):
        fit(
            Campaign(c.features.drop(columns=["q2"]), c.action, c.control, c.churned),
            churn_model,
        )


# --------------------------------------------------------------------------- saved and served


def test_saved_and_loaded_it_predicts_the_same_from_features_alone(
    fitted: UpliftModel, tmp_path: Path
) -> None:
    fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / CHURN_MODEL_DIR).is_dir()
    loaded = UpliftModel.load(tmp_path / "m")
    test = customers(300, np.random.default_rng(11))
    assert not loaded.needs_churn_probability
    pd.testing.assert_frame_equal(loaded.predict(test), fitted.predict(test))
    assert loaded.metadata["learner"] == "driver_shift"


def test_a_saved_model_without_its_churn_model_is_refused(
    fitted: UpliftModel, tmp_path: Path
) -> None:
    fitted.save(tmp_path / "m")
    for path in (tmp_path / "m" / CHURN_MODEL_DIR).iterdir():
        path.unlink()
    with pytest.raises(PipelineStateError, match="churn model"):
        UpliftModel.load(tmp_path / "m")


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_stock_mlflow_loads_the_registered_model_and_predicts_as_the_model_does(
    fitted: UpliftModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported here, after churn.tracking has imported it with its import-time warning silenced.
    from mlflow.pyfunc import load_model  # noqa: PLC0415

    client = connect(tracking_uri(tmp_path, {}))
    experiment = ensure_experiment(client, tmp_path, "d")
    run_id = client.create_run(experiment).info.run_id
    client.create_registered_model("churn-d")
    mv = client.create_model_version("churn-d", source=f"runs:/{run_id}/model", run_id=run_id)
    frame = customers(30, np.random.default_rng(12))
    frame.insert(0, "customer_id", [f"C{i}" for i in range(len(frame))])
    report = tmp_path / "uplift.json"
    report.write_text("{}")
    version = log_uplift_run(
        client,
        experiment=experiment,
        churn=RegisteredVersion(run_id, str(mv.version), f"models:/churn-d/{mv.version}"),
        churn_model_name="churn-d",
        uplift=UpliftToLog(fitted, {}, report, True, {"learner": "driver_shift"}),
        input_example=frame,
        run_name="d uplift",
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", client.tracking_uri)
    predicted = load_model(version.model_uri).predict(frame)
    expected = fitted.predict(frame)
    assert predicted["customer_id"].tolist() == frame["customer_id"].tolist()
    np.testing.assert_allclose(
        predicted[list(expected.columns)].to_numpy(), expected.to_numpy(), rtol=1e-6
    )
