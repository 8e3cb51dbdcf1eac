"""The notebooks under notebooks/ run top to bottom on a small project of their own: the first
CDNOW customers ingested, labelled, trained and scored through the CLI in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from typer.testing import CliRunner

from churn.cli import app
from churn.io.notebooks import PIPELINE_ENV, PROJECT_ENV
from tests._project import cdnow_slice

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
N_CUSTOMERS = 800
PIPELINE = "mini"

pytestmark = pytest.mark.slow


def churn(project: Path, *args: str) -> None:
    result = CliRunner().invoke(app, [args[0], PIPELINE, "--project-dir", str(project), *args[1:]])
    assert result.exit_code == 0, f"churn {args[0]}: {result.output}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first CDNOW customers trained and scored with the model folder (`churn score
    --model`): registering in MLflow would double the test's time, and `churn score` from the
    champion is tested in test_score_cli. Training records its run in the project's own
    SQLite store; the registry is never reached (the notebooks run with an unreachable one)."""
    project = cdnow_slice(
        tmp_path_factory.mktemp("notebooks"),
        N_CUSTOMERS,
        name=PIPELINE,
        updates={
            "train": {"backtest_cutoffs": 0, "search": {"enabled": False}, "threads": 1},
            "scoring": {"threads": 1},
        },
    )
    with pytest.MonkeyPatch.context() as mp:  # undone even when a stage fails
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)  # the project's mlflow.db
        for stage in ("ingest", "labels", "features", "train"):
            churn(project, stage)
        churn(project, "score", "--model", str(project / "models" / PIPELINE))
    return project


def test_the_notebooks_are_saved_without_outputs() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01-retention-metrics.ipynb",
        "02-why-this-customer.ipynb",
    ]
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_a_small_project(
    path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROJECT_ENV, str(project))
    monkeypatch.setenv(PIPELINE_ENV, PIPELINE)
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's own deprecation warning
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(project)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images, f"{path.name} drew no figure"
