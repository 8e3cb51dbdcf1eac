"""Tracking and registry against a real SQLite store in a temporary folder (no server)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

from churn.errors import PipelineStateError, TrackingError
from churn.modeling.model import Calibrator, ChurnModel, design_matrix
from churn.tracking.pyfunc import PROBABILITY_COLUMN
from churn.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    PromotionDecision,
    RegistrySettings,
    load_champion,
    load_model,
    promote,
)
from churn.tracking.runs import RegisteredVersion, log_training_run
from churn.tracking.store import connect, ensure_experiment, tracking_uri, ui_command

pytestmark = [
    # MLflow 3.17's SQL store configures SQLAlchemy mappers that use the deprecated `noload`
    # strategy; raised once, when the first store is opened.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    # MLflow compares `df.columns == range(...)` when saving the input example, which pandas 3
    # deprecates (Pandas4Warning).
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

CATEGORIES = {"plan": ("basic", "pro")}
LOOSE_ECE = RegistrySettings(max_ece=1.0)  # isolates the AUC rule: 5 uncalibrated rounds


def customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers whose churn follows ``recency``; ``noise`` says nothing about it."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 1, n)
    frame = pd.DataFrame(
        {
            "recency": recency,
            "weak": recency + rng.normal(0, 0.6, n),
            "noise": rng.uniform(0, 1, n),
            "plan": rng.choice(["basic", "pro"], n),
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )
    return frame, (recency > 0.5).astype(int)


TRAIN, Y_TRAIN = customers(48, seed=1)
TEST, Y_TEST = customers(40, seed=2)


def metrics_fn(y: np.ndarray, p: np.ndarray) -> Mapping[str, float]:
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).mean() for b in np.unique(bins)
    )
    return {"roc_auc": float(roc_auc_score(y, p)), "ece": float(ece)}


@dataclass(frozen=True)
class Store:
    project: Path
    client: MlflowClient
    experiment: str

    def log(self, name: str, numeric: Sequence[str], folder: Path) -> RegisteredVersion:
        train(numeric, folder / "model")
        (folder / "metrics.json").write_text(json.dumps({"roc_auc": 0.5}))
        (folder / "plots").mkdir()
        (folder / "plots" / "roc.txt").write_text("a plot\n")
        return log_training_run(
            self.client,
            experiment=self.experiment,
            model_dir=folder / "model",
            params={"train": {"max_depth": 2, "rounds": 5}, "features": list(numeric)},
            metrics={"roc_auc": 0.9, "baselines": {"recency": {"roc_auc": 0.7}}},
            artifacts=[folder / "metrics.json", folder / "plots"],
            lineage={"git_commit": "abc123", "features_md5": "f00d", "test_cutoff": "2024-04-01"},
            input_example=TEST.head(3),
            registered_model_name=name,
        )

    def score(self, model_uri: str) -> np.ndarray:
        predicted = load_model(self.client, model_uri).predict(TEST)
        return np.asarray(predicted[PROBABILITY_COLUMN], dtype=float)


def train(numeric: Sequence[str], folder: Path) -> ChurnModel:
    matrix = design_matrix(TRAIN, numeric, CATEGORIES)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "seed": 0},
        xgb.DMatrix(matrix, label=Y_TRAIN, enable_categorical=True),
        num_boost_round=5,
    )
    model = ChurnModel(booster, Calibrator("none"), tuple(numeric), CATEGORIES)
    model.save(folder)
    return model


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    # One store for the module: creating the SQLite schema takes seconds. Each test uses its
    # own registered model name, so tests do not depend on each other.
    project = tmp_path_factory.mktemp("project")
    client = connect(tracking_uri(project, {}))
    return Store(project, client, ensure_experiment(client, project, "x"))


def test_tracking_uri_is_the_project_sqlite_file_unless_the_env_says_otherwise(
    tmp_path: Path,
) -> None:
    assert tracking_uri(tmp_path, {}) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert tracking_uri(tmp_path, {"MLFLOW_TRACKING_URI": "http://h:5000"}) == "http://h:5000"


def test_ui_command_binds_localhost_and_reads_the_sqlite_store(tmp_path: Path) -> None:
    command = ui_command(tmp_path)
    assert command[:2] == ["mlflow", "ui"]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--backend-store-uri") + 1] == tracking_uri(tmp_path, {})


class Unavailable(http.server.BaseHTTPRequestHandler):
    """A server that answers every request with 503, which MLflow normally retries for minutes."""

    requests = 0

    def do_GET(self) -> None:
        Unavailable.requests += 1
        self.send_response(503)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def unavailable_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:1",
        "sqlite:////nonexistent-folder/sub/mlflow.db",
        "file:///tmp/mlruns",
    ],
)
def test_a_broken_tracking_uri_names_the_uri_and_the_fix(uri: str) -> None:
    with pytest.raises(TrackingError, match="MLFLOW_TRACKING_URI") as info:
        connect(uri)
    assert uri in str(info.value)


def test_a_failing_server_is_asked_once_not_retried(unavailable_server: str) -> None:
    Unavailable.requests = 0
    with pytest.raises(TrackingError, match="does not answer") as info:
        connect(unavailable_server)
    assert unavailable_server in str(info.value)
    assert Unavailable.requests == 1


def test_a_logged_run_is_registered_as_challenger_and_predicts_calibrated_probabilities(
    store: Store, tmp_path: Path
) -> None:
    registered = store.log("churn-log", ["recency"], tmp_path)

    client = store.client
    version = client.get_model_version_by_alias("churn-log", CHALLENGER)
    assert str(version.version) == registered.version == "1"
    assert registered.model_uri == "models:/churn-log/1"
    assert version.tags["lineage.features_md5"] == "f00d"
    run = client.get_run(registered.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["train.max_depth"] == "2"
    assert run.data.metrics["baselines.recency.roc_auc"] == 0.7
    assert run.data.tags["lineage.test_cutoff"] == "2024-04-01"
    assert run.data.tags["mlflow.source.git.commit"] == "abc123"
    logged = {a.path for a in client.list_artifacts(registered.run_id)}
    assert logged == {"metrics.json", "plots"}

    expected = ChurnModel.load(tmp_path / "model").predict_proba(TEST)
    pyfunc = load_model(client, "models:/churn-log@challenger")
    schema = pyfunc.metadata.get_input_schema()
    assert schema.input_names() == ["customer_id", "recency", "plan"]
    assert schema.required_input_names() == ["recency", "plan"]  # a request may omit ids
    assert pyfunc.metadata.get_output_schema().input_names() == ["customer_id", PROBABILITY_COLUMN]
    predicted = pyfunc.predict(TEST)  # extra columns are ignored
    assert list(predicted.columns) == [PROBABILITY_COLUMN]
    assert predicted.index.equals(TEST.index)
    assert ((predicted[PROBABILITY_COLUMN] >= 0) & (predicted[PROBABILITY_COLUMN] <= 1)).all()
    np.testing.assert_allclose(predicted[PROBABILITY_COLUMN].to_numpy(), expected)


def test_stock_mlflow_loads_the_registered_model_by_alias(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported here, after churn.tracking has imported it with its import-time warning silenced.
    from mlflow.pyfunc import load_model as load_pyfunc  # noqa: PLC0415

    store.log("churn-stock", ["recency"], tmp_path)
    # Stock MLflow (``mlflow models serve``, notebooks) finds the store through this variable;
    # setting it is how a user points MLflow at the project, so it is what this test does.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.client.tracking_uri)

    predicted = load_pyfunc("models:/churn-stock@challenger").predict(TEST)

    expected = ChurnModel.load(tmp_path / "model").predict_proba(TEST)
    np.testing.assert_allclose(predicted[PROBABILITY_COLUMN].to_numpy(), expected)


def test_promotion_keeps_a_worse_challenger_out_and_lets_a_better_one_in(
    store: Store, tmp_path: Path
) -> None:
    name, client = "churn-promo", store.client

    def decide(settings: RegistrySettings = LOOSE_ECE, force: bool = False) -> PromotionDecision:
        return promote(
            client,
            model_name=name,
            score=store.score,
            y_test=Y_TEST,
            metrics_fn=metrics_fn,
            settings=settings,
            force=force,
        )

    def champion() -> str:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)

    store.log(name, ["weak"], tmp_path / "v1")
    first = decide()
    assert first.promoted and first.champion_version is None
    assert "no champion yet: v1 becomes champion (ECE" in first.reason
    assert champion() == "1"
    assert "already the champion" in decide().reason

    store.log(name, ["noise"], tmp_path / "v2")
    worse = decide()
    assert not worse.promoted
    assert champion() == "1"
    auc1, auc2 = worse.champion_metrics["roc_auc"], worse.challenger_metrics["roc_auc"]
    assert auc2 < auc1
    assert f"{auc1:.4f}" in worse.reason and f"{auc2:.4f}" in worse.reason
    tags = client.get_model_version(name, "2").tags
    assert tags["promotion.decision"] == "refused"
    assert tags["promotion.reason"] == worse.reason
    assert json.loads(json.dumps(worse.to_dict()))["champion_version"] == "1"

    store.log(name, ["recency"], tmp_path / "v3")
    miscalibrated = decide(RegistrySettings(max_ece=1e-9))
    assert not miscalibrated.promoted
    assert "ECE" in miscalibrated.reason
    better = decide()
    assert better.promoted and not better.forced
    assert champion() == "3"
    assert client.get_model_version(name, "1").tags["promotion.replaced_by"] == "3"

    store.log(name, ["noise"], tmp_path / "v4")
    forced = decide(force=True)
    assert forced.promoted and forced.forced
    assert "forced" in forced.reason
    assert champion() == "4"
    assert client.get_model_version(name, "4").tags["promotion.forced"] == "true"

    model, version = load_champion(client, name)
    assert version == "4"
    assert len(model.predict(TEST)) == len(TEST)


def test_a_champion_that_cannot_score_the_current_features_is_kept_unless_forced(
    store: Store, tmp_path: Path
) -> None:
    name, client = "churn-changed", store.client
    store.log(name, ["weak"], tmp_path / "v1")
    store.log(name, ["recency"], tmp_path / "v2")
    client.set_registered_model_alias(name, CHAMPION, "1")

    def score(uri: str) -> np.ndarray:
        if uri.endswith("/1"):
            raise PipelineStateError("needs feature(s) ['weak'] that the current features lack")
        return store.score(uri)

    def decide(force: bool) -> PromotionDecision:
        return promote(
            client,
            model_name=name,
            score=score,
            y_test=Y_TEST,
            metrics_fn=metrics_fn,
            settings=LOOSE_ECE,
            force=force,
        )

    kept = decide(force=False)
    assert not kept.promoted
    assert "champion v1 cannot be compared" in kept.reason and "--force" in kept.reason
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == "1"
    forced = decide(force=True)
    assert forced.promoted and forced.forced
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == "2"


def test_a_first_version_outside_max_ece_is_registered_but_not_champion(
    store: Store, tmp_path: Path
) -> None:
    name, client = "churn-firstece", store.client
    store.log(name, ["recency"], tmp_path / "v1")
    strict = RegistrySettings(max_ece=1e-6)

    def decide(force: bool = False) -> PromotionDecision:
        return promote(
            client,
            model_name=name,
            score=store.score,
            y_test=Y_TEST,
            metrics_fn=metrics_fn,
            settings=strict,
            force=force,
        )

    refused = decide()
    assert not refused.promoted and "v1 is registered but not champion: ECE" in refused.reason
    assert "> max_ece 1e-06" in refused.reason and "--force" in refused.reason
    with pytest.raises(TrackingError) as err:  # churn score says why there is nothing to use
        load_champion(client, name)
    assert "v1 is registered but not champion: ECE" in str(err.value)
    forced = decide(force=True)
    assert forced.promoted and forced.forced
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == "1"


def test_load_champion_names_the_fix_when_there_is_none(store: Store, tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match="no registered model named 'churn-missing'"):
        load_champion(store.client, "churn-missing")
    store.log("churn-nochamp", ["recency"], tmp_path)
    with pytest.raises(TrackingError, match=r"no champion yet for churn-nochamp: run `churn pro"):
        load_champion(store.client.tracking_uri, "churn-nochamp")


def test_a_better_challenger_whose_population_drifted_is_kept_out_unless_forced(
    store: Store, tmp_path: Path
) -> None:
    name, client = "churn-drift", store.client
    store.log(name, ["weak"], tmp_path / "v1")
    drifted = ["score PSI 0.35", "orders_total PSI 0.41 (threshold 0.2)"]

    def decide(force: bool, drift: list[str]) -> PromotionDecision:
        return promote(
            client,
            model_name=name,
            score=store.score,
            y_test=Y_TEST,
            metrics_fn=metrics_fn,
            settings=LOOSE_ECE,
            force=force,
            drift=lambda uri: drift,
        )

    first = decide(False, drifted)  # a first version is champion anyway: something must score
    assert first.promoted and "Note: the population it would score has drifted" in first.reason
    store.log(name, ["recency"], tmp_path / "v2")  # better than v1
    kept = decide(False, drifted)
    assert not kept.promoted
    assert "orders_total PSI 0.41 (threshold 0.2)" in kept.reason and "--force" in kept.reason
    assert decide(False, []).promoted  # the same challenger without drift gets in
    store.log(name, ["recency"], tmp_path / "v3")
    forced = decide(True, drifted)
    assert forced.promoted and forced.forced


def test_churn_tracking_exports_the_pyfunc_models_load_and_the_tracker() -> None:
    import churn.tracking  # noqa: PLC0415
    from churn.tracking import events_model, pyfunc, store, uplift_pyfunc  # noqa: PLC0415

    assert churn.tracking.__all__ == ["ChurnEventsPyfunc", "ChurnPyfunc", "Tracker", "UpliftPyfunc"]
    assert churn.tracking.ChurnPyfunc is pyfunc.ChurnPyfunc  # registered models' code imports it
    assert "from churn.tracking import ChurnPyfunc" in pyfunc.MODEL_CODE
    assert churn.tracking.ChurnEventsPyfunc is events_model.ChurnEventsPyfunc  # and events models'
    assert "from churn.tracking import ChurnEventsPyfunc" in events_model.EVENTS_MODEL_CODE
    assert churn.tracking.UpliftPyfunc is uplift_pyfunc.UpliftPyfunc  # and uplift models'
    assert "from churn.tracking import UpliftPyfunc" in uplift_pyfunc.UPLIFT_MODEL_CODE
    assert churn.tracking.Tracker is store.Tracker
    with pytest.raises(AttributeError, match="no attribute 'connect'"):
        _ = churn.tracking.connect


def test_a_tracker_connects_on_first_use_then_reuses_its_client(store: Store) -> None:
    from churn.tracking import Tracker  # noqa: PLC0415

    unreachable = Tracker.from_environment(
        store.project, {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}
    )
    assert unreachable.uri == "http://127.0.0.1:1"  # built without touching the server
    with pytest.raises(TrackingError, match="cannot be reached"):
        _ = unreachable.client

    tracker = Tracker.from_environment(store.project, {})
    assert tracker.uri == tracking_uri(store.project, {})
    assert tracker.client is tracker.client
    assert tracker.experiment("x") == store.experiment
