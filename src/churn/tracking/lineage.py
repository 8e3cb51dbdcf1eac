"""Model lineage: what a registered model was trained from (the code's git commit, digests of
the labels and features files, the test cutoff), as the ``lineage.*`` tags of its run and
model version."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from churn.io.digest import file_md5, folder_md5

__all__ = [
    "GIT_COMMIT",
    "dvc_experiment",
    "experiment_lineage",
    "file_md5",
    "folder_md5",
    "git_commit",
    "lineage_tags",
    "training_lineage",
]

GIT_COMMIT = "git_commit"
"""Lineage key whose value is also written to MLflow's own ``mlflow.source.git.commit`` tag."""


def git_commit(project_dir: Path) -> str:
    """``git rev-parse HEAD`` in ``project_dir``; ``"unknown"`` outside a repository or
    without git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def training_lineage(
    project_dir: Path, *, features: Path, labels: Path, test_cutoff: str
) -> dict[str, str]:
    """The lineage of a model trained in ``project_dir`` on the ``features`` and ``labels``
    parquet files: ``git_commit``, ``features_md5``, ``labels_md5`` and ``test_cutoff``."""
    return {
        GIT_COMMIT: git_commit(project_dir),
        "features_md5": file_md5(features),
        "labels_md5": file_md5(labels),
        "test_cutoff": test_cutoff,
    }


def dvc_experiment(environ: Mapping[str, str]) -> str | None:
    """The name of the DVC experiment this process runs in (``dvc exp run`` sets
    ``DVC_EXP_NAME`` for its stages), or None outside one."""
    return environ.get("DVC_EXP_NAME") or None


def experiment_lineage(environ: Mapping[str, str]) -> dict[str, str]:
    """``dvc_experiment`` and ``dvc_baseline_rev`` lineage inside a DVC experiment; empty
    outside one."""
    name = dvc_experiment(environ)
    if name is None:
        return {}
    return {"dvc_experiment": name, "dvc_baseline_rev": environ.get("DVC_EXP_BASELINE_REV", "")}


def lineage_tags(lineage: Mapping[str, object]) -> dict[str, str]:
    """``lineage.<key>`` tags, plus MLflow's ``mlflow.source.git.commit`` when the commit is
    known."""
    tags = {f"lineage.{key}": str(value) for key, value in lineage.items()}
    if GIT_COMMIT in lineage:
        tags["mlflow.source.git.commit"] = str(lineage[GIT_COMMIT])
    return tags
