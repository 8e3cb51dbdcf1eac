"""The paths catalog: every stage output knows the command that writes it, so a read of a
missing or broken output says by itself what to run."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from churn import io
from churn.errors import PipelineStateError
from churn.io.paths import Output, PipelinePaths


@pytest.fixture
def paths(tmp_path: Path) -> PipelinePaths:
    return PipelinePaths(tmp_path, "shop")


def test_each_output_names_the_command_that_writes_it(paths: PipelinePaths) -> None:
    made_by = {
        paths.table("events"): "churn ingest shop",
        paths.canonical: "churn ingest shop",
        paths.labels: "churn labels shop",
        paths.features: "churn features shop",
        paths.catalogue: "churn features shop",
        paths.model: "churn train shop",
        paths.metrics: "churn train shop",
        paths.backtest: "churn train shop",
        paths.scores: "churn score shop",
        paths.scored_features: "churn score shop",
        paths.scores_history("2024-01-01"): "churn score shop",
        paths.scoring_summary: "churn score shop",
        paths.drift: "churn monitor shop",
        paths.realised: "churn monitor shop",
        paths.export("generic"): "churn export shop",
        paths.report: "churn report shop",
    }
    for path, command in made_by.items():
        assert isinstance(path, Output) and path.made_by == command, path


def test_an_output_is_a_path_and_what_is_derived_from_it_is_a_plain_path(
    paths: PipelinePaths,
) -> None:
    labels = paths.labels
    assert labels == paths.interim / "labels.parquet" and str(labels).endswith("labels.parquet")
    assert type(labels.parent) is not Output and type(paths.plots / "roc.png") is not Output
    assert pickle.loads(pickle.dumps(labels)).made_by == "churn labels shop"


def test_a_missing_or_broken_output_names_its_command(paths: PipelinePaths) -> None:
    with pytest.raises(PipelineStateError, match=r"labels.parquet: not found. Run `churn labels "):
        io.read_parquet(paths.labels)
    paths.catalogue.parent.mkdir(parents=True)
    paths.catalogue.write_text("{not json")
    with pytest.raises(PipelineStateError, match="Run `churn features shop` again to rebuild"):
        io.read_json(paths.catalogue)
