"""Where each stage reads and writes, per pipeline. One place, so the CLI and dvc.yaml agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PipelinePaths:
    project_dir: Path
    name: str

    @property
    def interim(self) -> Path:
        return self.project_dir / "data" / "interim" / self.name

    @property
    def canonical(self) -> Path:
        """Folder of validated canonical tables written by ``churn ingest``."""
        return self.interim / "canonical"

    def table(self, name: str) -> Path:
        return self.canonical / f"{name}.parquet"

    @property
    def labels(self) -> Path:
        return self.interim / "labels.parquet"

    @property
    def features(self) -> Path:
        return self.interim / "features.parquet"

    @property
    def catalogue(self) -> Path:
        return self.interim / "feature_catalogue.json"

    @property
    def reports(self) -> Path:
        return self.project_dir / "reports" / self.name

    @property
    def plots(self) -> Path:
        return self.reports / "plots"

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    @property
    def backtest(self) -> Path:
        return self.reports / "backtest.json"

    @property
    def segments(self) -> Path:
        return self.reports / "segments.json"

    @property
    def model(self) -> Path:
        """Folder of the trained model (xgboost UBJSON + JSON metadata and calibrator)."""
        return self.project_dir / "models" / self.name

    @property
    def scores(self) -> Path:
        """The scored at-risk list written by ``churn score``."""
        return self.project_dir / "data" / "scored" / self.name / "scores.parquet"

    @property
    def scored_features(self) -> Path:
        """Features of the customers in ``scores.parquet`` (what ``churn monitor`` compares)."""
        return self.scores.with_name("features.parquet")

    def scores_history(self, cutoff: str) -> Path:
        """Every scoring run's list, kept per cutoff for realised performance."""
        return self.scores.parent / "history" / f"scores_{cutoff}.parquet"

    @property
    def drift(self) -> Path:
        return self.reports / "drift.json"

    @property
    def realised(self) -> Path:
        return self.reports / "realised.json"

    @property
    def report(self) -> Path:
        return self.reports / "report.html"

    @property
    def exports(self) -> Path:
        """Folder of CRM import files written by ``churn export``."""
        return self.project_dir / "data" / "exports" / self.name

    def export(self, target: str) -> Path:
        return self.exports / f"{target}.csv"

    @property
    def scoring_summary(self) -> Path:
        return self.reports / "scoring.json"

    @property
    def shap_importance(self) -> Path:
        return self.reports / "shap_importance.json"

    @property
    def shap_plots(self) -> tuple[Path, Path]:
        """Beeswarm and bar chart of the champion's SHAP values on the explained customers."""
        return self.reports / "shap_beeswarm.png", self.reports / "shap_bar.png"

    @property
    def lock(self) -> Path:
        """Held by every stage of this pipeline while it runs (see ``churn.io.locks``)."""
        return self.project_dir / ".churn" / "locks" / f"{self.name}.lock"

    @property
    def folder_outputs(self) -> tuple[Path, ...]:
        """Outputs written as whole folders (swapped in by ``io.write_folder``)."""
        return (self.canonical, self.model)
