"""Where each stage reads and writes, per pipeline: a typed catalog in which every stage output
knows the command that writes it. One place, so the CLI and dvc.yaml agree, and so a missing or
broken input can say by itself which command to run (see ``churn.io.read_parquet``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from churn.errors import ConfigError

PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""What a pipeline may be called: it names folders under pipelines/, data/, models/ and
reports/, and a DVC stage key, so nothing that could climb out of them (``..``, ``/``)."""


def check_pipeline_name(name: str) -> str:
    """``name`` if it matches ``PIPELINE_NAME``, else ConfigError (exit code 2)."""
    if not PIPELINE_NAME.fullmatch(name):
        raise ConfigError(
            f"The pipeline name must match {PIPELINE_NAME.pattern} (lower case letters, digits, "
            f"_ and -, starting with a letter or digit). Got {name!r} instead."
        )
    return name


def inside_project(project_dir: Path, path: Path) -> Path:
    """``path`` if it lies inside ``project_dir`` once ``..`` are resolved (symbolic links are
    not followed: data/ may be a link to another disk), else ConfigError. Every output a stage
    writes is resolved through it."""
    root = os.path.abspath(project_dir)
    where = os.path.abspath(path)
    if os.path.commonpath([root, where]) != root:
        raise ConfigError(
            f"{path}: refused to write outside the project folder {root}. Output paths are "
            "built from the pipeline name; check it."
        )
    return path


class Output(Path):
    """The path of a file or folder that one pipeline command writes; ``made_by`` is that
    command (``"churn labels retail"``), named when the file is missing or unreadable. Paths
    derived from it (``output / "x"``, ``output.parent``) are plain paths."""

    made_by: str

    def __init__(self, *segments: str | os.PathLike[str], made_by: str) -> None:
        super().__init__(*segments)
        self.made_by = made_by

    def with_segments(self, *segments: str | os.PathLike[str]) -> Self:
        return Path(*segments)  # type: ignore[return-value]  # derived paths name no command

    def __reduce__(self) -> tuple[object, ...]:
        return _output, (str(self), self.made_by)


def _output(path: str, made_by: str) -> Output:
    return Output(path, made_by=made_by)


@dataclass(frozen=True)
class PipelinePaths:
    """Every path of pipeline ``name`` in the project ``project_dir``; ConfigError for a name
    that does not match ``PIPELINE_NAME``."""

    project_dir: Path
    name: str

    def __post_init__(self) -> None:
        check_pipeline_name(self.name)

    def _made_by(self, command: str, path: Path) -> Output:
        return Output(
            inside_project(self.project_dir, path), made_by=f"churn {command} {self.name}"
        )

    @property
    def interim(self) -> Path:
        return inside_project(self.project_dir, self.project_dir / "data" / "interim" / self.name)

    @property
    def canonical(self) -> Output:
        """Folder of validated canonical tables written by ``churn ingest``."""
        return self._made_by("ingest", self.interim / "canonical")

    def table(self, name: str) -> Output:
        return self._made_by("ingest", self.canonical / f"{name}.parquet")

    @property
    def labels(self) -> Output:
        return self._made_by("labels", self.interim / "labels.parquet")

    @property
    def features(self) -> Output:
        return self._made_by("features", self.interim / "features.parquet")

    @property
    def catalogue(self) -> Output:
        return self._made_by("features", self.interim / "feature_catalogue.json")

    @property
    def reports(self) -> Path:
        return inside_project(self.project_dir, self.project_dir / "reports" / self.name)

    @property
    def plots(self) -> Output:
        return self._made_by("train", self.reports / "plots")

    @property
    def metrics(self) -> Output:
        return self._made_by("train", self.reports / "metrics.json")

    @property
    def backtest(self) -> Output:
        return self._made_by("train", self.reports / "backtest.json")

    @property
    def segments(self) -> Output:
        return self._made_by("train", self.reports / "segments.json")

    @property
    def model(self) -> Output:
        """Folder of the trained model (xgboost UBJSON + JSON metadata and calibrator)."""
        return self._made_by("train", self.project_dir / "models" / self.name)

    @property
    def backtest_predictions(self) -> Output:
        """Every backtest fold's test predictions, in the model's folder (the gate compares
        versions on them; the served model never carries them)."""
        return self._made_by("train", self.model / "backtest_predictions.parquet")

    @property
    def uplift_model(self) -> Output:
        """Folder of the uplift model fitted on past contacts (``churn uplift``); a pipeline
        name never holds a dot, so it cannot be another pipeline's model folder."""
        return self._made_by("uplift", self.project_dir / "models" / f"{self.name}.uplift")

    @property
    def uplift_report(self) -> Output:
        return self._made_by("uplift", self.reports / "uplift.json")

    @property
    def scores(self) -> Output:
        """The scored at-risk list written by ``churn score``."""
        return self._made_by(
            "score", self.project_dir / "data" / "scored" / self.name / "scores.parquet"
        )

    @property
    def scored_features(self) -> Output:
        """Features of the customers in ``scores.parquet`` (what ``churn monitor`` compares)."""
        return self._made_by("score", self.scores.with_name("features.parquet"))

    @property
    def history(self) -> Path:
        """Folder of every scoring run's list, one file per cutoff."""
        return inside_project(self.project_dir, self.scores.parent / "history")

    def scores_history(self, cutoff: str) -> Output:
        """Every scoring run's list, kept per cutoff for realised performance."""
        return self._made_by("score", self.history / f"scores_{cutoff}.parquet")

    @property
    def registry(self) -> Output:
        return self._made_by("register", self.reports / "registry.json")

    @property
    def drift(self) -> Output:
        return self._made_by("monitor", self.reports / "drift.json")

    @property
    def realised(self) -> Output:
        return self._made_by("monitor", self.reports / "realised.json")

    @property
    def campaigns(self) -> Output:
        return self._made_by("monitor", self.reports / "campaigns.json")

    @property
    def report(self) -> Output:
        return self._made_by("report", self.reports / "report.html")

    @property
    def exports(self) -> Output:
        """Folder of CRM import files written by ``churn export``."""
        return self._made_by("export", self.project_dir / "data" / "exports" / self.name)

    def export(self, target: str) -> Output:
        return self._made_by("export", self.exports / f"{target}.csv")

    @property
    def scoring_summary(self) -> Output:
        return self._made_by("score", self.reports / "scoring.json")

    @property
    def shap_importance(self) -> Output:
        return self._made_by("score", self.reports / "shap_importance.json")

    @property
    def shap_plots(self) -> tuple[Output, Output]:
        """Beeswarm and bar chart of the champion's SHAP values on the explained customers."""
        return (
            self._made_by("score", self.reports / "shap_beeswarm.png"),
            self._made_by("score", self.reports / "shap_bar.png"),
        )

    @property
    def lock(self) -> Path:
        """Held by every stage of this pipeline while it runs (see ``churn.io.locks``)."""
        return inside_project(
            self.project_dir, self.project_dir / ".churn" / "locks" / f"{self.name}.lock"
        )

    @property
    def folder_outputs(self) -> tuple[Path, ...]:
        """Outputs written as whole folders (swapped in by ``io.write_folder``)."""
        return (self.canonical, self.model, self.uplift_model, self.plots)
