"""The report and monitor on a snapshot pipeline (a slice of the bundled IBM Telco data), where
there is no time axis: no cohorts, no realised performance, but drift and the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def churn(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [args[0], "tiny", "--project-dir", str(project), *args[1:]])
    return result.exit_code, result.output


def test_snapshot_pipeline_scores_monitors_and_reports(tmp_path: Path) -> None:
    raw = ROOT / "data/raw/telco/WA_Fn-UseC_-Telco-Customer-Churn.csv"
    (tmp_path / "data/raw/telco").mkdir(parents=True)
    pd.read_csv(raw, dtype=str).head(1500).to_csv(
        tmp_path / "data/raw/telco" / raw.name, index=False
    )
    (tmp_path / "pipelines/tiny").mkdir(parents=True)
    for name in ("params.yaml", "reasons.yaml"):
        text = (ROOT / "pipelines/telco" / name).read_text()
        (tmp_path / "pipelines/tiny" / name).write_text(
            text.replace("pipelines/telco/", "pipelines/tiny/")
        )
    for stage in ("ingest", "labels", "features", "train"):
        code, out = churn(tmp_path, stage)
        assert code == 0, f"churn {stage}: {out}"
    code, out = churn(tmp_path, "score", "--model", str(tmp_path / "models/tiny"))
    assert code == 0, out
    scores = pd.read_parquet(tmp_path / "data/scored/tiny/scores.parquet")
    snapshot = pd.read_parquet(tmp_path / "data/interim/tiny/canonical/snapshot.parquet")
    assert len(scores) == int((~snapshot["churned"]).sum())  # current subscribers only
    assert (scores["expected_value"] > 0).mean() > 0.99  # 12 months of charges

    assert churn(tmp_path, "monitor")[0] == 0
    realised = json.loads((tmp_path / "reports/tiny/realised.json").read_text())
    assert realised["evaluated"] == [] and "snapshot" in realised["note"]
    drift = json.loads((tmp_path / "reports/tiny/drift.json").read_text())
    assert drift["current_rows"] == len(scores)
    assert {f["feature"] for f in drift["features"]} >= {"contract", "tenure_months"}

    code, out = churn(tmp_path, "report")
    assert code == 0, out
    page = (tmp_path / "reports/tiny/report.html").read_text(encoding="utf-8")
    for title in ("Retention", "Model", "Who to contact, and why", "Monitoring"):
        assert f"<h2>{title}</h2>" in page
    assert "A snapshot has one date" in page
    backtest = json.loads((tmp_path / "reports/tiny/backtest.json").read_text())
    aucs = [f["roc_auc"] for f in backtest["folds"]]
    assert backtest["summary"]["folds"] == len(aucs) == 5
    assert "ROC AUC of the 5 cross-validation folds: " + ", ".join(f"{a:.3f}" for a in aucs) in page
