"""`dvc exp run -S` as a data scientist runs it: one experiment, one model. Its metrics, scores
and MLflow run come from the model it trained, and the shared registry's aliases stay where
they were."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from tests._project import PIPELINE, dvc, dvc_project, make_project, params

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]


def test_an_experiment_scores_with_its_own_model_and_leaves_the_aliases(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    values = params() | {
        "registry": {"auc_margin": 0.005, "max_ece": 0.5},
        "monitoring": {"psi_threshold": 0.2, "backfill_cutoffs": []},
        "scoring": {},
        "playbook": {},
    }
    params_file = project / "pipelines" / PIPELINE / "params.yaml"
    params_file.write_text(yaml.safe_dump(values, sort_keys=False))
    dvc_project(project)
    dvc(project, "repro", f"score@{PIPELINE}")
    subprocess.run([*GIT, "add", "-A"], cwd=project, check=True)
    subprocess.run([*GIT, "commit", "-qm", "baseline"], cwd=project, check=True)

    dvc(
        project,
        "exp",
        "run",
        "-n",
        "shallow",
        "-S",
        f"pipelines/{PIPELINE}/params.yaml:train.max_rounds=20",
        f"score@{PIPELINE}",
    )

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    name = f"churn-{PIPELINE}"
    aliases = {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}
    assert aliases == {"champion": "1", "challenger": "1"}  # the experiment moved nothing
    registry = json.loads((project / "reports" / PIPELINE / "registry.json").read_text())
    assert registry["experiment"] == "shallow" and registry["registered"]["version"] == "2"
    assert not registry["promotion"]["promoted"]
    scores = pd.read_parquet(project / "data/scored" / PIPELINE / "scores.parquet")
    assert set(scores["model_version"]) == {"2"}
    run = client.get_run(client.get_model_version(name, "2").run_id)
    assert run.data.tags["lineage.dvc_experiment"] == "shallow"
    assert run.data.tags["mlflow.runName"] == f"{PIPELINE} shallow"
    assert run.data.params["train.max_rounds"] == "20"
    metrics = json.loads((project / "reports" / PIPELINE / "metrics.json").read_text())
    assert run.data.metrics["roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert yaml.safe_load(params_file.read_text())["train"]["max_rounds"] == 20
