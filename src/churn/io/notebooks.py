"""What the notebooks under ``notebooks/`` share: which project and pipeline they look at, and
the pipeline's tables, read the way the stages read them.

A notebook looks at ``$CHURN_PROJECT_DIR`` (default: the nearest folder above the working
directory that holds ``pipelines/``, i.e. the repository) and pipeline ``$CHURN_PIPELINE``
(default ``retail``), so the test suite can point it at a small project of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from churn import io
from churn.errors import ConfigError
from churn.io.files import read_labels
from churn.io.paths import Output, PipelinePaths
from churn.settings import PipelineSettings, load_settings

PROJECT_ENV = "CHURN_PROJECT_DIR"
PIPELINE_ENV = "CHURN_PIPELINE"
DEFAULT_PIPELINE = "retail"


@dataclass(frozen=True)
class NotebookContext:
    settings: PipelineSettings
    paths: PipelinePaths

    def events(self) -> pd.DataFrame:
        """Canonical events (``data/interim/<p>/canonical/events.parquet``)."""
        return io.read_parquet(self._here(self.paths.table("events")))

    def labels(self) -> pd.DataFrame:
        """``data/interim/<p>/labels.parquet``."""
        return read_labels(self._here(self.paths.labels))

    def scores(self) -> pd.DataFrame:
        """The at-risk list, ``data/scored/<p>/scores.parquet``."""
        return io.read_parquet(self._here(self.paths.scores))

    def _here(self, output: Output) -> Output:
        """``output``, whose command names this project (a notebook runs outside it)."""
        return Output(output, made_by=f"{output.made_by} --project-dir {self.paths.project_dir}")


def find_project_dir(start: Path) -> Path:
    """``start`` or the nearest folder above it that holds ``pipelines/``."""
    for folder in (start, *start.parents):
        if (folder / "pipelines").is_dir():
            return folder
    raise ConfigError(
        f"no project found: neither {start} nor a folder above it holds pipelines/. Start the "
        f"notebook inside the repository or set {PROJECT_ENV} to the project folder."
    )


def notebook_context(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> NotebookContext:
    """Settings and paths of the pipeline a notebook looks at (see the module docstring)."""
    env = os.environ if environ is None else environ
    given = env.get(PROJECT_ENV)
    project = Path(given) if given else find_project_dir((cwd or Path.cwd()).resolve())
    name = env.get(PIPELINE_ENV) or DEFAULT_PIPELINE
    return NotebookContext(load_settings(project, name), PipelinePaths(project, name))
