"""The uplift model in MLflow: logged in a run nested under the churn version's, registered
beside it as ``<churn model>-uplift``, loaded back by stock MLflow, and aliased champion only
with the churn champion it belongs with. A real SQLite store in a temporary folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from churn.campaigns import UpliftModel, UpliftParams, fit_uplift
from churn.tracking.registry import CHAMPION
from churn.tracking.runs import RegisteredVersion
from churn.tracking.store import connect, ensure_experiment, tracking_uri
from churn.tracking.uplift_registry import (
    BELONGS_WITH_TAG,
    USED_FOR_SCORING_TAG,
    UpliftToLog,
    log_uplift_run,
    sync_champion,
    uplift_model_name,
)
from tests.test_uplift import contacts

pytestmark = [
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

REPORT = {
    "fitted": True,
    "used_for_scoring": True,
    "contacts_with_outcome": 3000,
    "held_out": {
        "evaluated": True,
        "rankings": {
            "churn_probability": {"qini": -0.0021, "uplift_at_10pct": 0.05},
            "uplift": {"qini": 0.0132, "uplift_at_10pct": 0.11, "uplift_at_20pct": None},
        },
    },
    "use_reason": "on held-out campaigns its Qini 0.0132 beat the risk ranking's -0.0021",
}


@dataclass(frozen=True)
class Store:
    client: MlflowClient
    experiment: str
    model: UpliftModel
    frame: pd.DataFrame
    report_file: Path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    project = tmp_path_factory.mktemp("project")
    client = connect(tracking_uri(project, {}))
    features, outcomes = contacts(3_000, seed=7)
    model = fit_uplift(
        features,
        outcomes["action"],
        outcomes["control"],
        outcomes["churned"],
        min_rows=300,
        actions=("sms",),
        params=UpliftParams(n_rounds=20),
    )
    # scoring rows: the id among the features, a contact field that must never reach MLflow
    # and a category the model never saw
    frame = features.head(40).copy()
    frame.loc[frame.index[3], "plan"] = "enterprise"
    frame["email"] = [f"person{i}@example.org" for i in range(len(frame))]
    frame.insert(2, "customer_id", [f"C-{i:04d}" for i in range(len(frame))])
    report_file = project / "uplift.json"
    report_file.write_text(json.dumps(REPORT))
    return Store(client, ensure_experiment(client, project, "x"), model, frame, report_file)


def churn_version(store: Store, name: str) -> RegisteredVersion:
    """A churn model version (its run and registered version; no model needed here)."""
    client = store.client
    run_id = client.create_run(store.experiment, tags={"lineage.git_commit": "abc123"}).info.run_id
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name)
    mv = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
    return RegisteredVersion(run_id, str(mv.version), f"models:/{name}/{mv.version}")


def log(store: Store, name: str, churn: RegisteredVersion, *, used: bool) -> RegisteredVersion:
    return log_uplift_run(
        store.client,
        experiment=store.experiment,
        churn=churn,
        churn_model_name=name,
        uplift=UpliftToLog(
            model=store.model,
            report={**REPORT, "used_for_scoring": used},
            report_file=store.report_file,
            used_for_scoring=used,
            params={"train": {"uplift": {"min_contacts": 400}, "seed": 0}},
        ),
        input_example=store.frame,
        run_name="x uplift",
    )


def test_stock_mlflow_loads_the_registered_uplift_model_and_predicts_as_the_model_does(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported here, after churn.tracking has imported it with its import-time warning silenced.
    from mlflow.pyfunc import load_model  # noqa: PLC0415

    name = "churn-load"
    churn = churn_version(store, name)
    version = log(store, name, churn, used=True)
    assert version.model_uri == f"models:/{uplift_model_name(name)}/1"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.client.tracking_uri)

    pyfunc = load_model(f"models:/churn-load-uplift/{version.version}")
    predicted = pyfunc.predict(store.frame)

    expected = store.model.predict(store.frame)
    assert list(predicted.columns) == ["customer_id", *expected.columns]
    assert "sms" in predicted.columns  # a playbook action never contacted: the pooled arm
    assert predicted["customer_id"].tolist() == store.frame["customer_id"].tolist()
    np.testing.assert_allclose(
        predicted[list(expected.columns)].to_numpy(), expected.to_numpy(), rtol=1e-6
    )
    schema = pyfunc.metadata.get_input_schema()
    assert set(schema.input_names()) == {"customer_id", "tenure", "engagement", "noise", "plan"}
    assert "customer_id" not in schema.required_input_names()
    outputs = pyfunc.metadata.get_output_schema().input_names()
    assert outputs == ["customer_id", *expected.columns]
    # without customer_id, per action only
    alone = pyfunc.predict(store.frame.drop(columns=["customer_id", "email"]))
    assert list(alone.columns) == list(expected.columns)


def test_the_run_is_nested_under_the_churn_run_with_the_evaluation_and_no_contact_field(
    store: Store, tmp_path: Path
) -> None:
    client = store.client
    name = "churn-run"
    churn = churn_version(store, name)
    version = log(store, name, churn, used=False)

    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == churn.run_id
    assert run.data.tags["lineage.git_commit"] == "abc123"  # the churn run's lineage
    metrics = run.data.metrics
    assert metrics["held_out.rankings.uplift.qini"] == pytest.approx(0.0132)
    assert metrics["held_out.rankings.churn_probability.uplift_at_10pct"] == pytest.approx(0.05)
    assert "held_out.rankings.uplift.uplift_at_20pct" not in metrics  # None is no number
    assert run.data.params["train.uplift.min_contacts"] == "400"
    mv = client.get_model_version(uplift_model_name(name), version.version)
    assert mv.tags[BELONGS_WITH_TAG] == churn.version
    assert mv.tags[USED_FOR_SCORING_TAG] == "false"
    assert mv.run_id == version.run_id
    assert "uplift.json" in {a.path for a in client.list_artifacts(version.run_id)}

    folder = Path(_download_model(client, mv.source, tmp_path))
    texts = [p.read_bytes() for p in folder.rglob("*") if p.is_file() and "code" not in p.parts]
    assert texts, "the logged model holds files"
    for i in range(len(store.frame)):
        assert not any(f"person{i}@example.org".encode() in t for t in texts)
    assert not any(b"email" in t for t in texts)


def _download_model(client: MlflowClient, source: str, dst: Path) -> str:
    import mlflow.artifacts  # noqa: PLC0415

    return mlflow.artifacts.download_artifacts(
        artifact_uri=source, dst_path=str(dst), tracking_uri=client.tracking_uri
    )


def test_champion_alias_follows_the_churn_champion_and_only_when_used_for_scoring(
    store: Store,
) -> None:
    client = store.client
    name = "churn-alias"
    uplift_name = uplift_model_name(name)
    assert sync_champion(client, name) is None  # no uplift model registered: nothing to do

    first = churn_version(store, name)
    served = log(store, name, first, used=True)
    assert sync_champion(client, name) is None  # no churn champion yet
    assert CHAMPION not in client.get_registered_model(uplift_name).aliases

    client.set_registered_model_alias(name, CHAMPION, first.version)
    assert sync_champion(client, name) == served.version
    log(store, name, first, used=False)  # a later refit that did not beat risk
    assert sync_champion(client, name) == served.version
    assert str(client.get_registered_model(uplift_name).aliases[CHAMPION]) == served.version

    second = churn_version(store, name)
    log(store, name, second, used=True)
    assert sync_champion(client, name) == served.version  # the churn champion is still first

    third = churn_version(store, name)
    log(store, name, third, used=False)
    client.set_registered_model_alias(name, CHAMPION, third.version)
    assert sync_champion(client, name) is None  # its uplift model is not used for scoring
    assert CHAMPION not in client.get_registered_model(uplift_name).aliases
