"""The weekly job (issue 15): a new week's file under a glob source goes through ``churn run
NAME --score-only``: ingest reads that file only, the registered champion scores the new
cutoff, and nothing is retrained."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from churn.cli import app
from tests import messy
from tests.test_init import dvc_project, export, init, project

ENV: dict[str, str | None] = {
    "OMP_NUM_THREADS": "1",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_TRACKING_URI": None,  # the project's own mlflow.db
}


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([a-z_]+)@shop'", output)


def run(root: Path, *args: str) -> str:
    env = {**ENV, "PYTHONPATH": str(root / "src")}
    result = CliRunner().invoke(app, ["run", "shop", *args, "--project-dir", str(root)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_score_only_before_any_model_says_to_run_the_pipeline_once(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    orders = export(tmp_path, messy.event_log(120, seed=3).events, "orders.csv")
    assert init(root, "shop", "--events", str(orders))[0] == 0
    result = CliRunner().invoke(app, ["run", "shop", "--score-only", "--project-dir", str(root)])
    assert result.exit_code == 5
    assert "registry.json" in result.output and "`churn run shop` once" in result.output


@pytest.mark.slow
def test_a_new_weeks_file_is_ingested_alone_and_scored_without_retraining(
    tmp_path: Path,
) -> None:
    root = dvc_project(tmp_path / "p")
    events = messy.event_log(300, seed=11).events
    stamps = pd.to_datetime(events["Order Date"])
    last_week = stamps >= stamps.max().normalize() - pd.Timedelta(days=6)
    first = export(tmp_path, events[~last_week], "orders_week01.csv")
    assert init(root, "shop", "--events", str(first))[0] == 0
    params_file = root / "pipelines/shop/params.yaml"
    params: dict[str, Any] = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    source = params["data"]["events"]["sources"][0]
    assert source["path"] == "data/raw/shop/orders_week01.csv"
    source["path"] = "data/raw/shop/orders_week*.csv"  # each week's export lands beside the last
    params.setdefault("train", {})["search"] = {"enabled": False}  # fast: no tuning
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")

    full = run(root)
    assert {"train", "register", "score"} <= set(stages_run(full))
    model = folder_digest(root / "models/shop")
    registry = (root / "reports/shop/registry.json").read_bytes()
    before = json.loads((root / "reports/shop/scoring.json").read_text())

    events[last_week].to_csv(root / "data/raw/shop/orders_week02.csv", index=False)
    weekly = run(root, "--score-only")
    assert stages_run(weekly) == ["ingest", "score", "export", "monitor", "report"]
    read = re.search(
        r"reused 1 file\(s\) already ingested \([\d,]+ rows\); read 1 file\(s\): (\S+)", weekly
    )
    assert read is not None, weekly
    assert read.group(1) == "data/raw/shop/orders_week02.csv"
    assert folder_digest(root / "models/shop") == model  # nothing retrained
    assert (root / "reports/shop/registry.json").read_bytes() == registry
    after = json.loads((root / "reports/shop/scoring.json").read_text())
    assert after["model"] == before["model"]
    assert after["cutoff"] > before["cutoff"]
    scores = pd.read_parquet(root / "data/scored/shop/scores.parquet")
    assert str(scores["cutoff"].iloc[0])[:10] == after["cutoff"]
    assert "list at " + after["cutoff"] in weekly

    again = run(root, "--score-only")  # nothing new: DVC skips every stage
    assert stages_run(again) == []
