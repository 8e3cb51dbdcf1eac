"""Training sets and their checks, the xgboost fit, the rolling-origin plan and the baselines,
on small synthetic frames whose signal is known."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn.errors import PipelineStateError, TrainingError
from churn.modeling.backtest import (
    Fold,
    fold_purged,
    rolling_origin_plan,
    rolling_origin_tuning_folds,
)
from churn.modeling.baselines import BaselineInputs, Scorer, logistic_rfm_baseline, recency_baseline
from churn.modeling.model import Calibrator, calibration_method
from churn.modeling.search import TuningFold, fold_auc, searched_parameters, tune
from churn.modeling.train import booster_params, fit_model
from churn.modeling.training_data import (
    FeatureColumns,
    check_trainable,
    feature_columns,
    labelled_rows,
    outcome,
    split_rows,
    without_empty_features,
)
from churn.settings import SearchSettings, TrainSettings

CATALOGUE = [
    {"name": "x1", "kind": "numeric"},
    {"name": "plan", "kind": "categorical"},
    {"name": "x2", "kind": "numeric"},
]
COLUMNS = FeatureColumns(numeric=("x1", "x2"), categorical=("plan",))
FAST = {"max_rounds": 200, "early_stopping_rounds": 20, "min_child_weight": 1.0}


def synthetic_rows(n: int, seed: int, split: str) -> pd.DataFrame:
    """``n`` labelled rows: churn odds rise with x1, fall with x2, and are higher on plan 'c'."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    plan = rng.choice(["a", "b", "c"], n)
    logit = 2.5 * x1 - 2.0 * x2 + np.where(plan == "c", 1.0, 0.0)
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": [f"{split}{i}" for i in range(n)],
            "cutoff": pd.Timestamp("2024-01-01"),
            "churned": churned,
            "split": split,
            "x1": x1,
            "x2": x2,
            "plan": plan,
        }
    )


def churn_flags(*flags: int) -> pd.DataFrame:
    """Rows with the given outcomes and two features that are always present."""
    n = len(flags)
    return pd.DataFrame(
        {
            "churned": [bool(f) for f in flags],
            "x1": np.arange(n, dtype=float),
            "x2": 1.0,
            "plan": "a",
        }
    )


# --------------------------------------------------------------------------- training_data


def test_feature_columns_split_by_kind_in_catalogue_order() -> None:
    assert feature_columns(CATALOGUE) == COLUMNS
    assert feature_columns(CATALOGUE, ["x1", "plan"]) == FeatureColumns(("x2",), ())
    assert COLUMNS.all == ["x1", "x2", "plan"]


def test_feature_columns_refuses_unknown_exclusions() -> None:
    with pytest.raises(TrainingError) as err:
        feature_columns(CATALOGUE, ["x1", "nope", "also_nope"])
    message = str(err.value)
    assert "train.exclude_features" in message
    assert "['also_nope', 'nope']" in message and "['plan', 'x1', 'x2']" in message


def test_labelled_rows_joins_labels_to_features() -> None:
    labels = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "cutoff": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
            "churned": [True, False, pd.NA],
            "split": ["train", "train", "score"],
            "extra": [1, 2, 3],
        }
    )
    features = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "cutoff": pd.to_datetime(["2024-02-01", "2024-01-01", "2024-01-01", "2024-01-01"]),
            "x1": [2.0, 1.0, 3.0, 4.0],
        }
    )
    rows = labelled_rows(features, labels)
    assert list(rows.columns) == ["customer_id", "cutoff", "churned", "split", "x1"]
    assert rows["x1"].tolist() == [1.0, 3.0, 2.0]  # in label order; customer c is unlabelled
    assert split_rows(rows, "train")["customer_id"].tolist() == ["a", "b"]
    assert len(split_rows(rows, ["train", "score"])) == 3
    assert outcome(split_rows(rows, "train")).tolist() == [1, 0]
    with pytest.raises(PipelineStateError, match="without labels"):
        outcome(rows)


def test_labelled_rows_without_features_say_to_rebuild_them() -> None:
    labels = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "cutoff": pd.Timestamp("2024-01-01"),
            "churned": [True, False, True],
            "split": "train",
        }
    )
    features = pd.DataFrame({"customer_id": ["a"], "cutoff": pd.Timestamp("2024-01-01")})
    with pytest.raises(PipelineStateError) as err:
        labelled_rows(features, labels)
    assert "2 labelled rows have no features" in str(err.value)
    assert "churn features" in str(err.value)


def test_exactly_min_class_rows_of_each_class_is_enough() -> None:
    rows = churn_flags(1, 0, 1, 0)
    check_trainable(rows, COLUMNS, role="training", min_class_rows=2)  # raises if refused
    with pytest.raises(TrainingError, match="2 churners and 2 stayers"):
        check_trainable(rows, COLUMNS, role="training", min_class_rows=3)


@pytest.mark.parametrize("flags", [(1, 1, 1), (0, 0, 0)])
def test_single_class_set_is_refused(flags: tuple[int, ...]) -> None:
    with pytest.raises(TrainingError) as err:
        check_trainable(churn_flags(*flags), COLUMNS, role="validation", min_class_rows=1)
    message = str(err.value)
    assert "validation set has one class only" in message
    assert "horizon_days" in message


def test_too_few_of_a_class_is_refused() -> None:
    with pytest.raises(TrainingError) as err:
        check_trainable(churn_flags(1, 1, 1, 0, 0), COLUMNS, role="training", min_class_rows=3)
    message = str(err.value)
    assert "3 churners and 2 stayers" in message
    assert "train.min_class_rows is 3" in message


def test_a_feature_missing_in_every_training_row_is_left_out() -> None:
    """Nothing to learn from it (the gaps between purchases when nobody bought twice): left
    out, not a stop; with no feature left at all, training is refused."""
    rows = churn_flags(1, 0, 1, 0).assign(x2=np.nan)
    kept, empty = without_empty_features(rows, COLUMNS)
    assert empty == ["x2"] and "x2" not in kept.all and kept.all
    check_trainable(rows, kept, role="training", min_class_rows=1)
    nothing = FeatureColumns(numeric=(), categorical=())
    with pytest.raises(TrainingError, match="No feature is left to train on") as err:
        check_trainable(rows, nothing, role="training", min_class_rows=1)
    assert "train.exclude_features" in str(err.value)


def test_empty_set_is_refused() -> None:
    with pytest.raises(TrainingError, match="training set is empty"):
        check_trainable(churn_flags(), COLUMNS, role="training", min_class_rows=1)


# --------------------------------------------------------------------------- fit_model


@pytest.fixture(scope="module")
def synthetic() -> dict[str, pd.DataFrame]:
    return {
        "train": synthetic_rows(400, seed=1, split="train"),
        "valid": synthetic_rows(250, seed=2, split="valid"),
        "test": synthetic_rows(400, seed=3, split="test"),
    }


def test_same_seed_gives_same_probabilities(synthetic: dict[str, pd.DataFrame]) -> None:
    settings = TrainSettings(seed=7, **FAST)
    train, valid, test = synthetic["train"], synthetic["valid"], synthetic["test"]
    first = fit_model(train, valid, COLUMNS, settings)
    second = fit_model(train, valid, COLUMNS, settings)
    assert first.best_iteration == second.best_iteration
    np.testing.assert_array_equal(first.model.predict_proba(test), second.model.predict_proba(test))


def test_model_learns_the_signal(synthetic: dict[str, pd.DataFrame]) -> None:
    train, valid, test = synthetic["train"], synthetic["valid"], synthetic["test"]
    before = {k: v.copy() for k, v in synthetic.items()}
    fit = fit_model(train, valid, COLUMNS, TrainSettings(**FAST), metadata={"pipeline": "syn"})
    p = fit.model.predict_proba(test)
    assert p.shape == (len(test),)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert roc_auc_score(outcome(test), p) > 0.8
    assert fit.model.feature_names == ["x1", "x2", "plan"]
    assert dict(fit.model.categories) == {"plan": ("a", "b", "c")}
    assert fit.model.metadata["pipeline"] == "syn"
    assert fit.model.metadata["best_iteration"] == fit.best_iteration
    assert 0 <= fit.best_iteration < FAST["max_rounds"]
    assert fit.valid_logloss < np.log(2)  # better than a coin flip on the validation rows
    for name, frame in synthetic.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_isotonic_probabilities_match_the_validation_churn_rate(
    synthetic: dict[str, pd.DataFrame],
) -> None:
    valid = synthetic["valid"]
    fit = fit_model(
        synthetic["train"], valid, COLUMNS, TrainSettings(**FAST, calibration="isotonic")
    )
    assert fit.model.calibrator.method == "isotonic"
    rate = outcome(valid).mean()
    assert fit.model.predict_proba(valid).mean() == pytest.approx(rate, abs=0.01)


@pytest.mark.parametrize(
    ("rows", "churners", "method"),
    [(110, 12, "platt"), (999, 300, "platt"), (5_000, 49, "platt"), (1_000, 50, "isotonic")],
)
def test_auto_calibration_is_isotonic_only_on_enough_rows_of_each_class(
    rows: int, churners: int, method: str
) -> None:
    y = np.zeros(rows, dtype=np.int8)
    y[:churners] = 1
    assert calibration_method(y) == method


def test_auto_calibration_on_a_small_validation_month_gives_no_certainties() -> None:
    """110 validation rows, 12 churners: isotonic regression is a staircase of a few steps
    (whose end steps, once 0 and 1, are now held off them); ``auto`` fits Platt there, whose
    probabilities stay inside and move with the margin."""
    rng = np.random.default_rng(4)
    margin = rng.normal(size=110)
    y = (rng.random(110) < 1 / (1 + np.exp(-(2 * margin - 2.5)))).astype(np.int8)
    scored = np.linspace(-4, 4, 200)
    steps = Calibrator.fit("isotonic", margin, y)
    isotonic = steps(scored)
    assert len(set(steps.y)) <= 6 and ((isotonic > 0) & (isotonic < 1)).all()
    auto = Calibrator.fit("auto", margin, y)
    assert auto.method == "platt"
    assert ((auto(scored) > 0) & (auto(scored) < 1)).all()


def test_class_weight_sets_scale_pos_weight() -> None:
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0], dtype=np.int8)  # 2 churners, 6 stayers
    weight = {
        cw: booster_params(TrainSettings(class_weight=cw), y)["scale_pos_weight"]
        for cw in ("none", "balanced", 2.5)
    }
    assert weight == {"none": 1.0, "balanced": 3.0, 2.5: 2.5}
    params = booster_params(TrainSettings(seed=3), y, {"max_depth": 7})
    assert params["seed"] == 3 and params["max_depth"] == 7
    assert params["objective"] == "binary:logistic"


def test_early_stopping_metric_is_the_last_eval_metric() -> None:
    y = np.array([1, 0, 0, 1], dtype=np.int8)
    assert booster_params(TrainSettings(), y)["eval_metric"] == ["logloss"]
    auc = booster_params(TrainSettings(early_stopping_metric="auc"), y)["eval_metric"]
    assert auc == ["logloss", "auc"]  # xgboost stops on the last; log loss stays reported


def test_refit_grows_the_early_stopped_trees_on_training_and_purged_rows(
    synthetic: dict[str, pd.DataFrame],
) -> None:
    train, valid = synthetic["train"], synthetic["valid"]
    purged = synthetic_rows(300, seed=4, split="purged")
    plain = fit_model(train, valid, COLUMNS, TrainSettings(**FAST))
    refit = fit_model(
        train, valid, COLUMNS, TrainSettings(**FAST, refit_on_purged=True), purged=purged
    )
    # early stopping sees the same rows either way, so it picks the same number of trees
    assert refit.best_iteration == plain.best_iteration
    assert refit.model.booster.num_boosted_rounds() == plain.best_iteration + 1
    assert refit.model.metadata["refit_rows"] == len(train) + len(purged)
    assert not np.allclose(refit.model.margin(valid), plain.model.margin(valid))
    p = refit.model.predict_proba(valid)
    assert ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(outcome(valid), p) > 0.8


def test_purged_rows_are_ignored_unless_refit_is_asked_for(
    synthetic: dict[str, pd.DataFrame],
) -> None:
    train, valid = synthetic["train"], synthetic["valid"]
    purged = synthetic_rows(300, seed=4, split="purged")
    settings = TrainSettings(**FAST)
    with_purged = fit_model(train, valid, COLUMNS, settings, purged=purged)
    without = fit_model(train, valid, COLUMNS, settings)
    np.testing.assert_array_equal(
        with_purged.model.predict_proba(valid), without.model.predict_proba(valid)
    )
    assert "refit_rows" not in with_purged.model.metadata


def _tuning_folds(n: int = 2) -> list[TuningFold]:
    return [
        TuningFold(
            f"fold {k}",
            synthetic_rows(400, seed=10 * k, split="train"),
            synthetic_rows(200, seed=10 * k + 1, split="valid"),
            synthetic_rows(200, seed=10 * k + 2, split="held"),
        )
        for k in range(n)
    ]


def test_search_scores_trials_by_their_mean_auc_on_held_out_fold_rows() -> None:
    settings = TrainSettings(**FAST, search=SearchSettings(n_trials=3, timeout_seconds=None))
    folds = _tuning_folds()
    tuning = tune(folds, COLUMNS, settings)
    assert tuning is not None and tuning.trials == 3
    assert tuning.best_auc >= tuning.default_auc  # the recipe is trial one
    assert tuning.best_auc == pytest.approx(fold_auc(folds, COLUMNS, settings, tuning.params))
    recipe = {p: getattr(settings, p) for p in tuning.searched}
    assert tuning.default_auc == pytest.approx(fold_auc(folds, COLUMNS, settings, recipe))
    assert tuning.folds == ("fold 0", "fold 1")


def test_a_recipe_in_the_params_file_wins_over_the_search() -> None:
    partial = TrainSettings(**FAST, max_depth=3, learning_rate=0.02)
    assert searched_parameters(partial) == ("subsample", "colsample_bytree", "reg_lambda")
    tuning = tune(
        _tuning_folds(1), COLUMNS, partial.model_copy(update={"search": SearchSettings(n_trials=2)})
    )
    assert tuning is not None and set(tuning.params) == {
        "subsample",
        "colsample_bytree",
        "reg_lambda",
    }
    full = TrainSettings(
        **FAST,
        max_depth=3,
        learning_rate=0.02,
        subsample=0.8,
        colsample_bytree=0.8,
        reg_lambda=1.0,
    )
    assert tune(_tuning_folds(1), COLUMNS, full) is None


def test_no_fold_with_both_classes_means_no_search() -> None:
    fold = _tuning_folds(1)[0]
    one_class = TuningFold("flat", fold.train, fold.valid, fold.held_out.assign(churned=False))
    assert tune([one_class], COLUMNS, TrainSettings(**FAST)) is None


def _cutoff_rows(cutoffs: list[str]) -> pd.DataFrame:
    return pd.concat(
        [
            synthetic_rows(50, seed=i, split="train").assign(cutoff=pd.Timestamp(c))
            for i, c in enumerate(cutoffs)
        ],
        ignore_index=True,
    )


def test_search_folds_are_older_than_the_backtests_when_the_cutoffs_allow() -> None:
    months = [f"2023-{m:02d}-01" for m in range(1, 13)]
    rows = _cutoff_rows(months)
    folds, overlaps = rolling_origin_tuning_folds(rows, 60, backtest=3, n=2)
    backtest_tests = {f.test_cutoff for f in rolling_origin_plan(rows["cutoff"].unique(), 60, 3)}
    searched_tests = {pd.Timestamp(f.held_out["cutoff"].iloc[0]) for f in folds}
    assert not overlaps and len(folds) == 2
    assert max(searched_tests) < min(backtest_tests)
    for fold in folds:  # each fold learns only from cutoffs whose windows end by its validation
        assert fold.train["cutoff"].max() + pd.Timedelta(days=60) <= fold.valid["cutoff"].iloc[0]
    few = _cutoff_rows(months[:7])
    folds, overlaps = rolling_origin_tuning_folds(few, 60, backtest=3, n=2)
    assert overlaps and folds  # too few cutoffs: the backtest's own folds, and said so


def scored_rows(n: int, seed: int, split: str) -> pd.DataFrame:
    """Rows whose churn odds fall smoothly with log(score), plus a small x1 effect: a score
    trees rebuild only coarsely from a constant start."""
    rows = synthetic_rows(n, seed, split)
    rng = np.random.default_rng(seed + 100)
    score = rng.gamma(0.8, 2.0, n)
    logit = -1.5 * np.log(score + 0.01) - 1.0 + 0.5 * rows["x1"].to_numpy()
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    return rows.assign(score=score, churned=churned)


def test_boosting_from_a_score_ranks_at_least_as_well_as_the_score() -> None:
    train, valid, test = (
        scored_rows(n, s, r) for n, s, r in ((600, 1, "t"), (300, 2, "v"), (2000, 3, "s"))
    )
    columns = FeatureColumns(numeric=("x1", "x2", "score"), categorical=("plan",))
    settings = TrainSettings(boost_from=["score"], early_stopping_metric="auc", **FAST)
    fit = fit_model(train, valid, columns, settings)
    assert fit.model.base_margin is not None
    assert fit.model.base_margin.features == ("score",)
    y = outcome(test)
    assert (
        roc_auc_score(y, fit.model.predict_proba(test)) >= roc_auc_score(y, -test["score"]) - 0.005
    )


def test_boost_from_must_name_numeric_model_features(synthetic: dict[str, pd.DataFrame]) -> None:
    settings = TrainSettings(boost_from=["x1", "plan", "nope"], **FAST)
    with pytest.raises(TrainingError, match=r"\['plan', 'nope'\]"):
        fit_model(synthetic["train"], synthetic["valid"], COLUMNS, settings)


# --------------------------------------------------------------------------- rolling origin


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


MONTHLY = [day(f"2024-{m:02d}-01") for m in range(1, 7)]


def test_rolling_origin_plan_on_monthly_cutoffs() -> None:
    # 45 days before 06-01 is 04-17, before 05-01 is 03-17, before 04-01 is 02-16,
    # before 03-01 is 01-16, before 02-01 is 2023-12-18.
    plan = rolling_origin_plan(list(reversed(MONTHLY)), horizon_days=45, n=10)
    assert plan == [
        Fold(day("2024-06-01"), day("2024-04-01"), (day("2024-01-01"), day("2024-02-01"))),
        Fold(day("2024-05-01"), day("2024-03-01"), (day("2024-01-01"),)),
    ]  # 04-01 and 03-01 would have validation cutoffs but no training cutoffs


@pytest.mark.parametrize("horizon_days", [1, 7, 20, 45])
def test_rolling_origin_plan_invariants(horizon_days: int) -> None:
    horizon = pd.Timedelta(days=horizon_days)
    weekly = [day("2024-01-01") + pd.Timedelta(weeks=w) for w in range(20)]
    plan = rolling_origin_plan(weekly, horizon_days, n=100)
    assert plan, "expected at least one fold"
    assert [f.test_cutoff for f in plan] == sorted((f.test_cutoff for f in plan), reverse=True)
    for fold in plan:
        assert fold.valid_cutoff + horizon <= fold.test_cutoff
        later = [c for c in weekly if fold.valid_cutoff < c and c + horizon <= fold.test_cutoff]
        assert not later, "the validation cutoff must be the latest one that fits"
        assert fold.train_cutoffs
        assert all(c + horizon <= fold.valid_cutoff for c in fold.train_cutoffs)
        assert fold.train_cutoffs == tuple(c for c in weekly if c + horizon <= fold.valid_cutoff)


def test_rolling_origin_plan_windows_may_end_on_the_next_cutoff() -> None:
    cutoffs = [day("2024-01-01"), day("2024-02-15"), day("2024-03-31")]  # 45 days apart
    assert rolling_origin_plan(cutoffs, 45, n=5) == [
        Fold(day("2024-03-31"), day("2024-02-15"), (day("2024-01-01"),))
    ]
    assert rolling_origin_plan(cutoffs, 46, n=5) == []


def test_rolling_origin_plan_keeps_the_latest_n_folds() -> None:
    weekly = [day("2024-01-01") + pd.Timedelta(weeks=w) for w in range(12)]
    every = rolling_origin_plan(weekly, 10, n=100)
    assert len(every) == 8  # test cutoffs in weeks 4..11: valid two weeks, train four before
    assert rolling_origin_plan(weekly, 10, n=3) == every[:3]
    assert rolling_origin_plan(weekly, 10, n=1) == every[:1]


def test_fold_purged_rows_lie_between_training_and_validation_cutoffs() -> None:
    cutoffs = [day(f"2024-{m:02d}-01") for m in range(1, 7)]
    rows = pd.DataFrame({"cutoff": cutoffs, "customer_id": "a"})
    fold = rolling_origin_plan(cutoffs, horizon_days=45, n=1)[0]
    purged = fold_purged(rows, fold)
    assert list(purged["cutoff"]) == [
        c for c in cutoffs if max(fold.train_cutoffs) < c < fold.valid_cutoff
    ]
    assert len(purged) > 0
    assert (purged["cutoff"] + pd.Timedelta(days=45) <= fold.test_cutoff).all()


def test_rolling_origin_plan_with_n_zero_is_empty() -> None:
    assert rolling_origin_plan(MONTHLY, 45, n=0) == []


# --------------------------------------------------------------------------- baselines


def rfm_rows(n: int, seed: int, split: str) -> pd.DataFrame:
    """Customers who churn more often the longer since their last purchase."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 360, n)
    orders = rng.poisson(4, n).astype(float) + 1
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-(recency - 180) / 40))
    return pd.DataFrame(
        {
            "customer_id": [f"{split}{i}" for i in range(n)],
            "cutoff": pd.Timestamp("2024-01-01"),
            "days_since_last_activity": recency,
            "orders_total": orders,
            "spend_total": orders * rng.uniform(10, 30, n),
            "churned": churned,
            "split": split,
        }
    )


@pytest.mark.parametrize("baseline", [recency_baseline, logistic_rfm_baseline])
def test_baselines_give_probabilities_in_the_right_direction(
    baseline: Callable[[BaselineInputs], Scorer],
) -> None:
    inputs = BaselineInputs(rfm_rows(300, 1, "train"), rfm_rows(200, 2, "valid"))
    test = rfm_rows(300, 3, "test")
    unlabelled = test.drop(columns=["churned", "split"])  # scoring must not need labels
    p = baseline(inputs)(unlabelled)
    assert p.shape == (300,)
    assert np.all((p >= 0.0) & (p <= 1.0))
    recent = test["days_since_last_activity"] < 180
    assert p[recent.to_numpy()].mean() < p[~recent.to_numpy()].mean()
    assert roc_auc_score(outcome(test), p) > 0.7


def test_recency_baseline_is_monotone_in_recency() -> None:
    inputs = BaselineInputs(rfm_rows(300, 1, "train"), rfm_rows(200, 2, "valid"))
    test = rfm_rows(100, 3, "test").sort_values("days_since_last_activity")
    p = recency_baseline(inputs)(test)
    assert np.all(np.diff(p) >= 0.0)


def test_a_long_fit_logs_a_heartbeat_with_the_round_and_metrics(
    synthetic: dict[str, pd.DataFrame], caplog: pytest.LogCaptureFixture
) -> None:
    import xgboost as xgb  # noqa: PLC0415

    from churn.modeling.train import Heartbeat, dmatrix  # noqa: PLC0415

    train = synthetic["train"]
    cats = {"plan": ("a", "b", "c")}
    data = dmatrix(train, COLUMNS, cats, None)
    with caplog.at_level("INFO", logger="churn"):
        xgb.train(
            {"objective": "binary:logistic", "eval_metric": "logloss"},
            data,
            num_boost_round=3,
            evals=[(data, "valid")],
            verbose_eval=False,
            callbacks=[Heartbeat(every_seconds=0.0)],
        )
    beats = [r.getMessage() for r in caplog.records if r.getMessage().startswith("boosting")]
    assert beats[0].startswith("boosting: round 1, {'valid logloss': '0.")
    assert len(beats) == 3
