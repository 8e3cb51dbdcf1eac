"""Stages ``register`` and ``promote``: log the trained model to MLflow, register it as the
``challenger`` of ``churn-<pipeline>``, then run the champion/challenger gate on the current
test cutoff. Writes ``reports/<p>/registry.json`` with the version and the decision."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn import io
from churn.errors import PipelineStateError
from churn.evaluation import evaluate
from churn.io.paths import PipelinePaths
from churn.modeling.model import ChurnModel
from churn.modeling.training_data import labelled_rows, outcome, split_rows
from churn.monitoring.drift import population_drift, scoring_rows, training_rows
from churn.settings import PipelineSettings
from churn.stages._canonical import labels_and_features
from churn.tracking.registry import model_name

log = logging.getLogger("churn")


def _git_commit(project_dir: Path) -> str:
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


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _numeric(tree: dict[str, Any]) -> dict[str, Any]:
    """The numeric leaves of a metrics tree (MLflow metrics are numbers; dates go in tags)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out[key] = _numeric(value)
        elif (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[key] = float(value)
    return out


def test_rows(paths: PipelinePaths) -> pd.DataFrame:
    """Labelled feature rows of the test cutoff: the population every model is judged on."""
    labels = io.read_parquet(paths.labels)
    features = io.read_parquet(paths.features)
    return split_rows(labelled_rows(features, labels), "test")


def register(
    settings: PipelineSettings, paths: PipelinePaths, test: pd.DataFrame
) -> dict[str, Any]:
    """Log the model in ``models/<p>`` with its metrics, plots and lineage; alias challenger.
    ``test``: rows from :func:`test_rows`, the first five of which are the input example."""
    from churn.tracking import store as tracking  # noqa: PLC0415 - mlflow is slow to import

    metrics = io.read_json(paths.metrics)
    ChurnModel.load(paths.model)  # a missing or corrupted model fails before the store is touched
    client = tracking.connect(tracking.tracking_uri(paths.project_dir, os.environ))
    experiment = tracking.ensure_experiment(client, paths.project_dir, paths.name)
    version = tracking.log_training_run(
        client,
        experiment=experiment,
        model_dir=paths.model,
        params={
            "train": settings.train.model_dump(),
            "labels": settings.labels.model_dump(),
            "features": settings.features.model_dump(),
        },
        metrics=_numeric(metrics),
        artifacts=[
            p
            for p in (paths.metrics, paths.backtest, paths.segments, paths.plots, paths.catalogue)
            if p.exists()
        ],
        lineage={
            "git_commit": _git_commit(paths.project_dir),
            "features_md5": _md5(paths.features),
            "labels_md5": _md5(paths.labels),
            "test_cutoff": str(metrics.get("training", {}).get("test_cutoff", "")),
        },
        input_example=test.head(5),
        registered_model_name=model_name(paths.name),
    )
    log.info(
        "registered %s version %s (run %s) as challenger",
        model_name(paths.name),
        version.version,
        version.run_id,
    )
    return {"run_id": version.run_id, "version": version.version, "model_uri": version.model_uri}


def promote(
    settings: PipelineSettings,
    paths: PipelinePaths,
    test: pd.DataFrame,
    *,
    force: bool = False,
) -> dict[str, Any]:
    """Run the champion/challenger gate on ``test`` (rows from :func:`test_rows`)."""
    # mlflow is slow to import
    from churn.tracking import registry  # noqa: PLC0415
    from churn.tracking import store as tracking  # noqa: PLC0415

    client = tracking.connect(tracking.tracking_uri(paths.project_dir, os.environ))

    def score(uri: str) -> np.ndarray:
        pyfunc = registry.load_model(client, uri)
        schema = pyfunc.metadata.get_input_schema()  # type: ignore[no-untyped-call]
        wanted = schema.input_names() if schema is not None else list(test.columns)
        missing = [c for c in wanted if c not in test.columns]
        if missing:
            raise PipelineStateError(
                f"{uri} needs feature(s) {missing} that the current features lack: the feature "
                "set changed since it was trained. Promote the new version with "
                f"`churn promote {paths.name} --force` if it should replace it."
            )
        out = pd.DataFrame(pyfunc.predict(test[wanted]))
        return np.asarray(out[tracking.PROBABILITY_COLUMN], dtype=float)

    def drift(uri: str) -> list[str]:
        return drift_problems(settings, paths, registry.load_model(client, uri))

    decision = registry.promote(
        client,
        model_name=model_name(paths.name),
        score=score,
        y_test=outcome(test),
        metrics_fn=evaluate.binary_metrics,
        settings=settings.registry,
        force=force,
        drift=drift if settings.monitoring.gate_promotion else None,
    )
    log.info("promotion of %s: %s", model_name(paths.name), decision.reason)
    return decision.to_dict()


def drift_problems(settings: PipelineSettings, paths: PipelinePaths, pyfunc: Any) -> list[str]:
    """The flagged drift of today's scoring population for a registered model, as phrases
    ("score PSI 0.35", "orders_total PSI 0.41"); empty when nothing is over the threshold."""
    from churn.tracking import store as tracking  # noqa: PLC0415

    wrapper = pyfunc.unwrap_python_model()
    assert isinstance(wrapper, tracking.ChurnPyfunc)
    labels, features = labels_and_features(paths)
    summary = population_drift(
        wrapper.churn_model,
        training_rows(labels, features),
        scoring_rows(labels, features),
        catalogue=io.read_json(paths.catalogue),
        settings=settings.monitoring,
    )
    psi = {f["feature"]: f["psi"] for f in summary["features"]}
    problems = [f"score PSI {summary['score_psi']:.2f}"] if summary["score_flagged"] else []
    problems += [f"{name} PSI {psi[name]:.2f}" for name in summary["flagged_features"]]
    if problems:
        problems[-1] += f" (threshold {settings.monitoring.psi_threshold:g})"
    return problems


def run(settings: PipelineSettings, paths: PipelinePaths) -> dict[str, Any]:
    """Register the trained model and run the gate; write ``reports/<p>/registry.json``."""
    test = test_rows(paths)
    registered = register(settings, paths, test)
    decision = promote(settings, paths, test)
    out = {"registered": registered, "promotion": decision}
    io.write_json(out, paths.reports / "registry.json")
    return out
