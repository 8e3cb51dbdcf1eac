"""End to end through the CLI on a small slice of real data, and what a bad input does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from churn.cli import app
from tests._project import cdnow_slice

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project holding the first 300 CDNOW customers and the cdnow params."""
    return cdnow_slice(tmp_path, 300)


def churn(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "mini", "--project-dir", str(project)])
    return result.exit_code, result.output


def test_ingest_labels_features_end_to_end(project: Path) -> None:
    for stage in ("ingest", "labels", "features"):
        code, out = churn(project, stage)
        assert code == 0, out
    interim = project / "data/interim/mini"
    labels = pd.read_parquet(interim / "labels.parquet")
    features = pd.read_parquet(interim / "features.parquet")
    catalogue = json.loads((interim / "feature_catalogue.json").read_text())
    assert set(labels["split"]) == {"train", "purged", "valid", "test", "score"}
    test = labels[labels["split"] == "test"]
    assert len(test) == 300 and test["churned"].notna().all()
    assert 0.5 < test["churned"].mean() < 1.0
    assert len(features) == len(labels)
    assert features[["customer_id", "cutoff"]].equals(labels[["customer_id", "cutoff"]])
    assert [c["name"] for c in catalogue] == list(features.columns[2:])
    assert {"name", "family", "description", "kind"} <= set(catalogue[0])


def test_bad_input_exits_non_zero_names_the_problem_and_keeps_outputs(project: Path) -> None:
    assert churn(project, "ingest")[0] == 0
    canonical = project / "data/interim/mini/canonical/events.parquet"
    before = canonical.read_bytes()
    raw_file = project / "data/raw/cdnow/CDNOW_master.txt"
    lines = raw_file.read_text().splitlines()
    lines[5] = lines[5].replace("1997", "19x7", 1)
    raw_file.write_text("\n".join(lines) + "\n")
    code, out = churn(project, "ingest")
    assert code == 3
    assert "data/raw/cdnow/CDNOW_master.txt: column 'date': unparseable timestamp" in out
    assert "Traceback" not in out
    assert canonical.read_bytes() == before
    assert not [p for p in canonical.parent.parent.iterdir() if p.name.startswith(".")]


def test_bad_params_exit_code_and_message(project: Path) -> None:
    params_file = project / "pipelines/mini/params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["labels"]["horizon_days"] = 0
    params_file.write_text(yaml.safe_dump(params))
    code, out = churn(project, "ingest")
    assert code == 2
    assert "labels.horizon_days: Input should be greater than 0. Got 0 instead." in out


def test_stage_before_its_inputs_says_what_to_run(project: Path) -> None:
    code, out = churn(project, "features")
    assert code == 5 and "Run `churn labels mini` first" in out


def test_summary_of_a_missing_folder_or_an_untrained_project_says_so(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["summary", "--project-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    empty = runner.invoke(app, ["summary", "--project-dir", str(tmp_path)])
    assert empty.exit_code == 5 and "no trained pipeline" in empty.output


def test_help_shows_flags_as_flags() -> None:
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    assert "--debug" in result.output and "<bool>" not in result.output


def test_list_before_any_scoring_says_what_to_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["list", "shop", "--project-dir", str(tmp_path)])
    assert result.exit_code == 5 and "churn score shop" in result.output


def test_show_prints_the_filtered_top_of_the_list_and_refuses_a_tier_it_lacks(
    tmp_path: Path,
) -> None:
    scored = tmp_path / "data" / "scored" / "shop"
    scored.mkdir(parents=True)
    pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "cutoff": pd.to_datetime(["2024-03-01"] * 3),
            "churn_probability": [0.9, 0.6, 0.2],
            "risk_tier": ["High", "High", "Low"],
            "value_at_risk": [90.0, 6.0, 1.0],
            "priority_rank": [1, 2, 3],
            "outreach_status": ["contact", "control: do not contact", "not in outreach"],
            "recommended_action": ["service_call", "none", "none"],
            "reason_1_text": ["Support tickets: 4", "Support tickets: 2", ""],
        }
    ).to_parquet(scored / "scores.parquet")
    runner = CliRunner()
    base = ["--project-dir", str(tmp_path)]
    shown = runner.invoke(app, ["show", "shop", "--tier", "high", "--top", "1", *base])
    assert shown.exit_code == 0, shown.output
    assert "c1" in shown.output and "service_call" in shown.output and "c2" not in shown.output
    assert "1 of 2 customers (tier high; 3 on the list), cutoff 2024-03-01" in shown.output
    control = runner.invoke(app, ["show", "shop", "--status", "CONTROL", *base])
    assert control.exit_code == 0 and "c2" in control.output and "c1" not in control.output
    alias = runner.invoke(app, ["list", "shop", "--top", "3", *base])
    assert alias.exit_code == 0 and all(c in alias.output for c in ("c1", "c2", "c3"))
    typo = runner.invoke(app, ["show", "shop", "--tier", "urgent", *base])
    assert typo.exit_code == 2
    assert "--tier 'urgent'" in typo.output and "['High', 'Low']" in typo.output
