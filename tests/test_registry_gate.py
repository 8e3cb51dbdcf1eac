"""The promotion gate on backtest folds: the paired ROC AUC difference and its interval, which
folds pair, the rule, the fallback on the test cutoff, and the ECE rule on the backtest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from scipy.stats import norm, rankdata
from sklearn.metrics import roc_auc_score

from churn.evaluation.paired import (
    PairedFold,
    paired_auc_difference,
    paired_folds,
    weighted_auc,
)
from churn.io.paths import PipelinePaths
from churn.settings import RegistrySettings
from churn.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    PREDICTIONS_ARTIFACT,
    PromotionDecision,
    backtest_predictions,
    promote,
)
from churn.tracking.store import connect, tracking_uri

pytestmark = [
    # MLflow's SQL store configures SQLAlchemy mappers that use the deprecated `noload`
    # strategy; raised once, when the first store is opened.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]

# --------------------------------------------------------------------------- the statistic


def test_a_hand_computed_difference() -> None:
    # challenger ranks all 4 pairs right (AUC 1); champion 3 of 4 (AUC 0.75) on fold a;
    # on fold b both rank 2 of 4 pairs right, one tie counted half: 0.625 each
    a = PairedFold(
        "a", np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.1, 0.3, 0.2, 0.4])
    )
    b = PairedFold(
        "b", np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.3]), np.array([0.1, 0.2, 0.3, 0.3])
    )
    result = paired_auc_difference([a, b], confidence=0.9, resamples=200)
    assert result.per_fold == {"a": pytest.approx(0.25), "b": pytest.approx(0.0)}
    assert result.difference == pytest.approx(0.125)  # folds count once each
    assert result.challenger_auc == pytest.approx((1.0 + 0.625) / 2)
    assert result.champion_auc == pytest.approx((0.75 + 0.625) / 2)
    assert result.n_customers == 8 and result.folds == ("a", "b")
    assert result.low <= result.difference <= result.high


def test_a_weighted_auc_is_the_auc_of_the_rows_repeated() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    scores = np.round(rng.normal(size=60) + y, 1)  # ties included
    counts = rng.multinomial(60, np.full(60, 1 / 60), size=20).astype(float)
    expected = [
        roc_auc_score(np.repeat(y, c.astype(int)), np.repeat(scores, c.astype(int))) for c in counts
    ]
    np.testing.assert_allclose(weighted_auc(scores, y, counts), expected, rtol=1e-12)


def test_the_interval_matches_a_plain_bootstrap_by_hand() -> None:
    """The vectorised interval against the textbook loop: draw each fold's customers with
    replacement, score both models (Mann-Whitney: mean rank of the churners), average the
    folds' differences."""

    def auc(y: np.ndarray, p: np.ndarray) -> float:
        ranks = rankdata(p)  # ties share their mean rank: half a pair each
        n1 = int(y.sum())
        return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))

    rng = np.random.default_rng(1)
    folds = []
    for k, n in enumerate((150, 90)):
        y = rng.integers(0, 2, n)
        folds.append(
            PairedFold(f"f{k}", y, rng.normal(size=n) + 1.0 * y, rng.normal(size=n) + 0.6 * y)
        )
    draw = np.random.default_rng(2)
    by_hand = []
    for _ in range(2000):
        diffs = []
        for fold in folds:
            i = draw.integers(0, len(fold.y), len(fold.y))
            diffs.append(auc(fold.y[i], fold.challenger[i]) - auc(fold.y[i], fold.champion[i]))
        by_hand.append(np.mean(diffs))
    low, high = np.quantile(by_hand, [0.05, 0.95])
    result = paired_auc_difference(folds, confidence=0.9, resamples=2000, seed=3)
    # two Monte Carlo estimates of the same quantiles (2,000 draws each)
    assert result.low == pytest.approx(low, abs=0.012)
    assert result.high == pytest.approx(high, abs=0.012)
    again = paired_auc_difference(folds, confidence=0.9, resamples=2000, seed=3)
    assert (again.low, again.high) == (result.low, result.high)  # seeded


def test_the_interval_covers_the_true_difference_as_often_as_it_claims() -> None:
    """Binormal scores (churners shifted by ``a``, correlated noise between the two models):
    the true AUC is Phi(a / sqrt(2)), so the true difference is known."""
    rng = np.random.default_rng(4)
    a_challenger, a_champion, rho = 1.0, 0.8, 0.5
    truth = norm.cdf(a_challenger / np.sqrt(2)) - norm.cdf(a_champion / np.sqrt(2))
    covered, reps = 0, 150
    for rep in range(reps):
        folds = []
        for k in range(2):
            n = 300
            y = (rng.uniform(size=n) < 0.3).astype(int)
            shared = rng.normal(size=n)
            e1 = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(size=n)
            e2 = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(size=n)
            folds.append(PairedFold(f"{k}", y, a_challenger * y + e1, a_champion * y + e2))
        result = paired_auc_difference(folds, confidence=0.9, resamples=300, seed=rep)
        covered += result.low <= truth <= result.high
    assert 0.82 <= covered / reps <= 0.97  # 90 % claimed; binomial sd over 150 reps is 2.4 %


# --------------------------------------------------------------------------- pairing


def _predictions(fold: str, ids: list[str], churned: list[int], p: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fold": fold,
            "customer_id": ids,
            "cutoff": pd.Timestamp(fold) if fold[0].isdigit() else pd.Timestamp("2024-01-01"),
            "churned": churned,
            "probability": p,
        }
    )


def test_folds_pair_only_with_the_same_customers_and_outcomes() -> None:
    ids, y = ["a", "b", "c", "d"], [0, 1, 0, 1]
    challenger = pd.concat(
        [
            _predictions("2024-03-01", ids, y, [0.1, 0.9, 0.2, 0.8]),
            _predictions("2024-02-01", ids, y, [0.1, 0.9, 0.2, 0.8]),
            _predictions("2024-01-01", ids, y, [0.1, 0.9, 0.2, 0.8]),
            _predictions("2023-12-01", ids, y, [0.1, 0.9, 0.2, 0.8]),
        ]
    )
    champion = pd.concat(
        [  # the same customers in another order: pairs, row by row
            _predictions("2024-03-01", ids[::-1], y[::-1], [0.6, 0.5, 0.4, 0.3]),
            _predictions("2024-02-01", ["a", "b", "c", "e"], y, [0.1, 0.9, 0.2, 0.8]),
            _predictions("2024-01-01", ids, [1, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]),
        ]
    )
    paired, left_out = paired_folds(challenger, champion)
    assert [f.name for f in paired] == ["2024-03-01"]
    np.testing.assert_array_equal(paired[0].y, [0, 1, 0, 1])
    np.testing.assert_array_equal(paired[0].champion, [0.3, 0.4, 0.5, 0.6])
    assert left_out == [
        "2024-02-01: different customers (4 vs the champion's 4, 3 shared)",
        "2024-01-01: 1 customers' outcomes differ (the data changed)",
        "2023-12-01: the champion has no predictions for it",
    ]


# --------------------------------------------------------------------------- the gate


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    return connect(tracking_uri(tmp_path_factory.mktemp("gate"), {}))


N = 400
_rng = np.random.default_rng(7)
Y = (_rng.uniform(size=N) < 0.4).astype(int)
SIGNAL = _rng.normal(size=N)


def calibrated(strength: float, seed: int, y: np.ndarray = Y) -> np.ndarray:
    """Probabilities that rank ``y`` with AUC rising with ``strength``, mapped to the
    observed rate within deciles (so their ECE stays small)."""
    noise = np.random.default_rng(seed).normal(size=len(y))
    score = strength * y + noise
    bins = pd.qcut(score, 10, labels=False)
    rate = pd.Series(y).groupby(bins).transform("mean").to_numpy()
    return np.clip(rate + 1e-6 * score, 0.001, 0.999)


def metrics_fn(y: np.ndarray, p: np.ndarray) -> Mapping[str, float]:
    bins = pd.qcut(p, 10, labels=False, duplicates="drop")
    frame = pd.DataFrame({"y": y, "p": p, "bin": bins}).groupby("bin")
    ece = float((frame["y"].mean() - frame["p"].mean()).abs().mul(frame.size() / len(y)).sum())
    return {"roc_auc": float(roc_auc_score(y, p)), "ece": ece, "n_test": float(len(y))}


def folds_of(strength: float, seed: int) -> pd.DataFrame:
    """Three backtest folds of the same 400 customers with a version's probabilities."""
    return pd.concat(
        [
            _predictions(day, [f"c{i}" for i in range(N)], list(Y), list(calibrated(strength, k)))
            for k, day in enumerate(("2024-03-01", "2024-02-01", "2024-01-01"), start=seed)
        ],
        ignore_index=True,
    )


def new_version(client: MlflowClient, name: str) -> str:
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name)
    version = str(client.create_model_version(name, source="file:///nonexistent/model").version)
    client.set_registered_model_alias(name, CHALLENGER, version)
    return version


def decide(
    client: MlflowClient,
    name: str,
    test: Mapping[str, np.ndarray],
    folds: Mapping[str, pd.DataFrame | None],
    settings: RegistrySettings | None = None,
) -> PromotionDecision:
    return promote(
        client,
        model_name=name,
        score=lambda uri: test[uri.rsplit("/", 1)[1]],
        y_test=Y,
        metrics_fn=metrics_fn,
        settings=settings or RegistrySettings(max_ece=0.05),
        folds=lambda uri: folds.get(uri.rsplit("/", 1)[1]),
    )


def test_a_better_challenger_on_the_folds_wins_whatever_the_test_cutoff_says(
    client: MlflowClient,
) -> None:
    name = "churn-paired"
    new_version(client, name)
    client.set_registered_model_alias(name, CHAMPION, "1")
    new_version(client, name)  # v2
    # on the test cutoff the challenger looks worse; on the three folds it is clearly better
    test = {"1": calibrated(1.2, 50), "2": calibrated(0.8, 51)}
    folds = {"1": folds_of(0.8, 0), "2": folds_of(1.6, 10)}
    decision = decide(client, name, test, folds)
    assert decision.promoted, decision.reason
    comparison = decision.comparison
    assert comparison["basis"] == "backtest folds"
    assert comparison["folds"] == ["2024-03-01", "2024-02-01", "2024-01-01"]
    assert comparison["roc_auc_difference"] > 0.05 and comparison["ci_low"] > 0
    assert "v2 replaces v1: challenger - champion ROC AUC +0." in decision.reason
    assert "on 3 backtest fold(s)" in decision.reason
    assert "test cutoff, a report" in decision.reason
    assert decision.challenger_metrics["roc_auc"] < decision.champion_metrics["roc_auc"]
    assert "backtest ECE" in decision.reason
    tags = client.get_model_version(name, "2").tags
    assert tags["promotion.basis"] == "backtest folds"
    assert float(tags["promotion.auc_difference"]) == pytest.approx(
        comparison["roc_auc_difference"], rel=1e-5
    )
    out = json.loads(json.dumps(decision.to_dict()))
    assert out["comparison"]["difference_per_fold"].keys() == {
        "2024-03-01",
        "2024-02-01",
        "2024-01-01",
    }


def test_an_equal_challenger_is_not_promoted(client: MlflowClient) -> None:
    name = "churn-equal"
    new_version(client, name)
    client.set_registered_model_alias(name, CHAMPION, "1")
    new_version(client, name)
    same = folds_of(1.2, 0)
    test = {"1": calibrated(1.2, 50), "2": calibrated(1.6, 51)}  # better on test: irrelevant
    decision = decide(client, name, test, {"1": same, "2": same.copy()})
    assert not decision.promoted
    assert decision.comparison["roc_auc_difference"] == 0.0
    assert "kept v1: challenger - champion ROC AUC +0.0000" in decision.reason
    assert "fails the rule: difference >= margin 0.005" in decision.reason


def test_a_challenger_that_ranks_no_worse_replaces_a_miscalibrated_champion(
    client: MlflowClient,
) -> None:
    """Ranking alone never replaces a champion whose probabilities drifted off the outcomes:
    a recalibrated challenger that ranks the same needs no margin, one that ranks worse is
    still refused, and a calibrated champion keeps the margin."""
    name = "churn-recalibrated"
    new_version(client, name)
    client.set_registered_model_alias(name, CHAMPION, "1")
    new_version(client, name)  # v2: the same ranking, calibrated again
    ranking = calibrated(1.2, 50)
    drifted = np.clip(ranking * 0.5, 0.001, 0.999)  # says 20 % where 40 % churn: same order
    same = folds_of(1.2, 0)
    decision = decide(client, name, {"1": drifted, "2": ranking}, {"1": same, "2": same.copy()})
    assert decision.promoted, decision.reason
    assert decision.comparison["roc_auc_difference"] == 0.0
    assert decision.comparison["champion_calibrated"] is False
    assert decision.reason.startswith("v2 replaces v1: champion v1 ECE 0.2")
    assert "its probabilities no longer hold" in decision.reason
    assert "passes the rule: interval low >= -0.005 (ranks no worse" in decision.reason

    new_version(client, name)  # v3, against champion v2 (calibrated): the margin again
    decision = decide(client, name, {"2": ranking, "3": ranking.copy()}, {"2": same, "3": same})
    assert not decision.promoted
    assert decision.comparison["champion_calibrated"] is True
    assert "fails the rule: difference >= margin 0.005" in decision.reason

    # a miscalibrated champion is still not replaced by a challenger that ranks worse
    client.set_registered_model_alias(name, CHAMPION, "1")
    worse = decide(client, name, {"1": drifted, "3": ranking}, {"1": same, "3": folds_of(0.3, 30)})
    assert not worse.promoted
    assert worse.comparison["ci_low"] < -0.005
    assert "fails the rule: interval low >= -0.005" in worse.reason


def test_a_champion_without_fold_predictions_is_compared_on_the_test_cutoff(
    client: MlflowClient,
) -> None:
    name = "churn-fallback"
    new_version(client, name)
    client.set_registered_model_alias(name, CHAMPION, "1")
    new_version(client, name)
    test = {"1": calibrated(0.6, 50), "2": calibrated(1.6, 51)}
    decision = decide(client, name, test, {"1": None, "2": folds_of(1.6, 10)})
    assert decision.promoted, decision.reason
    assert decision.comparison["basis"] == "test cutoff"
    assert "champion v1 has no backtest fold predictions" in decision.reason
    assert decision.comparison["folds"] == ["test cutoff"]
    # the same when the folds exist but none pairs (the data moved on)
    new_version(client, name)  # v3
    moved = folds_of(1.6, 20).assign(fold=lambda f: "2023-" + f["fold"].str[5:])
    test["3"] = calibrated(1.6, 52)
    decision = decide(client, name, test, {"2": folds_of(1.6, 10), "3": moved})
    assert decision.comparison["basis"] == "test cutoff"
    assert "no backtest fold of the challenger can be paired with champion v2's" in decision.reason


def test_a_first_version_must_also_be_calibrated_on_its_backtest(client: MlflowClient) -> None:
    name = "churn-first"
    new_version(client, name)
    good_test = {"1": calibrated(1.2, 50)}
    skewed = folds_of(1.2, 0).assign(probability=lambda f: np.clip(f["probability"] + 0.2, 0, 1))
    refused = decide(client, name, good_test, {"1": skewed})
    assert not refused.promoted
    assert refused.reason.startswith("v1 is registered but not champion: backtest ECE 0.19")
    assert "(mean of 3 fold(s))" in refused.reason
    assert refused.calibration["backtest_ece"] == pytest.approx(0.19, abs=0.01)
    passed = decide(client, name, good_test, {"1": folds_of(1.2, 0)})
    assert passed.promoted
    assert "no champion yet: v1 becomes champion (ECE" in passed.reason
    assert "backtest ECE" in passed.reason


def test_the_predictions_artifact_is_read_from_the_version_run(
    client: MlflowClient, tmp_path: Path
) -> None:
    name = "churn-artifact"
    experiment = client.create_experiment("artifact")
    with_file = client.create_run(experiment).info.run_id
    without = client.create_run(experiment).info.run_id
    frame = folds_of(1.0, 0)
    local = tmp_path / PREDICTIONS_ARTIFACT
    frame.to_parquet(local, index=False)
    client.log_artifact(with_file, str(local))
    client.create_registered_model(name)
    client.create_model_version(name, source="file:///nonexistent/model", run_id=with_file)
    client.create_model_version(name, source="file:///nonexistent/model", run_id=without)
    read = backtest_predictions(client, f"models:/{name}/1")
    assert read is not None
    pd.testing.assert_frame_equal(read, frame)
    assert backtest_predictions(client, f"models:/{name}/2") is None
    paths = PipelinePaths(tmp_path, "shop")  # train writes the file register logs
    assert paths.backtest_predictions.name == PREDICTIONS_ARTIFACT
    assert paths.backtest_predictions.parent == paths.model
