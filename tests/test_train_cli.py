"""`churn train` end to end through the CLI on a slice of the bundled CDNOW data: what it writes,
and that a failed training run exits with its code and leaves the last model untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from churn.cli import app
from churn.errors import TrainingError
from churn.modeling.model import BOOSTER_FILE, META_FILE, ChurnModel
from tests._project import cdnow_slice

ROOT = Path(__file__).resolve().parents[1]
N_CUSTOMERS = 1500
METRIC_KEYS = {"roc_auc", "pr_auc", "brier", "ece", "lift_top_decile", "n_test", "positive_rate"}

pytestmark = pytest.mark.slow


def churn(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "mini", "--project-dir", str(project)])
    return result.exit_code, result.output


def edit_params(project: Path, **train: object) -> None:
    params_file = project / "pipelines/mini/params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["train"].update(train)
    params_file.write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding the first 1,500 CDNOW customers, run through `churn train`.

    Read-only: tests that change it work on a copy (see ``project_copy``)."""
    project = cdnow_slice(
        tmp_path_factory.mktemp("train_cli"),
        N_CUSTOMERS,
        updates={
            "features": {"bgnbd": True},
            "train": {"backtest_cutoffs": 2, "search": {"enabled": False}},
        },
    )
    for stage in ("ingest", "labels", "features", "train"):
        code, out = churn(project, stage)
        assert code == 0, f"churn {stage}: {out}"
    return project


@pytest.fixture
def project_copy(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "project"))


def test_train_writes_model_metrics_backtest_and_plots(trained: Path) -> None:
    model_dir = trained / "models/mini"
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        [BOOSTER_FILE, META_FILE, "backtest_predictions.parquet"]
    )
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".")]

    reports = trained / "reports/mini"
    metrics = json.loads((reports / "metrics.json").read_text())
    assert set(metrics) >= METRIC_KEYS
    assert metrics["n_test"] == N_CUSTOMERS
    assert 0.0 < metrics["positive_rate"] < 1.0
    assert 0.5 < metrics["roc_auc"] <= 1.0
    assert set(metrics["baselines"]) == {"recency", "logistic_rfm", "bgnbd"}
    for name, baseline in metrics["baselines"].items():
        assert set(baseline) == METRIC_KEYS, name
        assert baseline["n_test"] == N_CUSTOMERS
        assert baseline["positive_rate"] == metrics["positive_rate"]

    backtest = json.loads((reports / "backtest.json").read_text())
    folds = backtest["folds"]
    assert len(folds) == 2
    for fold in folds:
        assert set(fold) >= METRIC_KEYS
        assert set(fold["baselines"]) == {"recency", "logistic_rfm", "bgnbd"}
        assert fold["valid_cutoff"] < fold["test_cutoff"] < metrics["training"]["test_cutoff"]
    aucs = [f["roc_auc"] for f in folds]
    assert backtest["summary"] == {
        "folds": 2,
        "roc_auc_mean": pytest.approx(sum(aucs) / 2),
        "roc_auc_min": min(aucs),
        "roc_auc_max": max(aucs),
        "ece_mean": pytest.approx(sum(f["ece"] for f in folds) / 2),
        "ece_min": min(f["ece"] for f in folds),
        "ece_max": max(f["ece"] for f in folds),
    }
    segments = json.loads((reports / "segments.json").read_text())
    assert segments["summary"]["segments"] == len(segments["segments"]) > 0
    scored = [s["roc_auc"] for s in segments["segments"] if s["roc_auc"] is not None]
    assert segments["summary"]["worst_roc_auc"] == min(scored)
    # each fold's test predictions, beside the model: what the promotion gate pairs on
    predictions = pd.read_parquet(model_dir / "backtest_predictions.parquet")
    assert list(predictions["fold"].unique()) == [f["test_cutoff"] for f in folds]
    assert predictions.groupby("fold").size().to_dict() == {
        f["test_cutoff"]: f["n_test"] for f in folds
    }

    # one file per series: DVC draws the model and each baseline as lines of their own
    series = {"model", "recency", "logistic_rfm", "bgnbd"}
    for curve in ("roc", "precision_recall", "gains"):
        assert {p.stem for p in (reports / "plots" / curve).glob("*.csv")} == series, curve
        for name in series:
            assert len(pd.read_csv(reports / "plots" / curve / f"{name}.csv")) > 0, (curve, name)
    model_roc = pd.read_csv(reports / "plots/roc/model.csv")
    assert list(model_roc.columns) == ["fpr", "tpr", "threshold"]
    assert model_roc["fpr"].is_monotonic_increasing and model_roc["tpr"].is_monotonic_increasing
    assert len(pd.read_csv(reports / "plots/calibration.csv")) > 0
    assert len(pd.read_csv(reports / "plots/confusion.csv")) == N_CUSTOMERS
    for name in ("roc", "precision_recall", "calibration", "gains"):
        assert (reports / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (reports / "plots/roc.csv").exists()


def test_saved_model_scores_the_test_cutoff_it_was_evaluated_on(trained: Path) -> None:
    model = ChurnModel.load(trained / "models/mini")
    assert model.metadata["test_cutoff"] == "1998-04-01"
    features = pd.read_parquet(trained / "data/interim/mini/features.parquet")
    test = features[features["cutoff"] == pd.Timestamp("1998-04-01")]
    p = model.predict_proba(test)
    assert p.shape == (N_CUSTOMERS,)
    assert np.all((p >= 0.0) & (p <= 1.0))


@pytest.mark.parametrize(
    ("train_params", "message"),
    [
        (
            {"exclude_features": ["no_such_feature"]},
            "train.exclude_features names unknown feature(s) ['no_such_feature']",
        ),
        ({"min_class_rows": 100_000}, "train.min_class_rows is 100000"),
    ],
    ids=["unknown-excluded-feature", "too-few-of-a-class"],
)
def test_failed_training_exits_with_its_code_and_keeps_the_model(
    project_copy: Path, train_params: dict[str, object], message: str
) -> None:
    models = project_copy / "models"
    before = {p: p.read_bytes() for p in sorted(models.rglob("*")) if p.is_file()}
    metrics_before = (project_copy / "reports/mini/metrics.json").read_bytes()
    edit_params(project_copy, **train_params)

    code, out = churn(project_copy, "train")

    assert code == TrainingError.exit_code == 6
    assert message in out
    assert "Traceback" not in out
    after = {p: p.read_bytes() for p in sorted(models.rglob("*")) if p.is_file()}
    assert after == before
    assert (project_copy / "reports/mini/metrics.json").read_bytes() == metrics_before


def test_a_pipeline_without_a_recipe_searches_on_folds_older_than_the_backtest(
    project_copy: Path,
) -> None:
    """The package default: the shape parameters the params file leaves unset are searched, on
    rolling-origin folds whose test cutoffs are older than every backtest fold's and than the
    test cutoff; max_depth, written in the file, is kept."""
    edit_params(project_copy, search={"n_trials": 3}, max_depth=3)
    code, out = churn(project_copy, "train")
    assert code == 0, out
    reports = project_copy / "reports/mini"
    metrics = json.loads((reports / "metrics.json").read_text())
    search = metrics["training"]["search"]
    assert search["trials"] == 3 and "max_depth" not in search["searched"]
    assert set(search["chosen"]) == set(search["searched"])
    assert search["chosen_fold_roc_auc"] >= search["recipe_fold_roc_auc"]
    backtest = json.loads((reports / "backtest.json").read_text())
    searched = [f.removeprefix("test ") for f in search["folds"]]
    assert searched and max(searched) < min(f["test_cutoff"] for f in backtest["folds"])
    assert max(searched) < metrics["training"]["test_cutoff"]
    assert metrics["training"]["backtest_in_sample_for_search"] is False
    model = json.loads((project_copy / "models/mini" / META_FILE).read_text())
    assert model["metadata"]["params"]["max_depth"] == 3
