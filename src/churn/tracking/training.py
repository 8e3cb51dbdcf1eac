"""The MLflow run of one ``churn train``: opened before the model is fitted, it holds the params,
the lineage, a description, the validation curve per boosting round, the final metrics, the
reports and plots, and the datasets the rows came from; it ends FINISHED when training succeeds
and FAILED (with the error) when it raises. ``churn register`` then logs the model into it,
finding it by the digest of the model folder it trained (:func:`find_training_run`)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from churn.tracking.description import Split
from churn.tracking.store import first_line, run_ends, store_error

NOTE_TAG = "mlflow.note.content"
"""MLflow's tag for a run's description (the run page's Description box)."""
RUN_KIND_TAG = "churn.run"
"""``training`` on a training run, ``scoring`` on a scoring run."""
MODEL_DIGEST_TAG = "churn.model_md5"
"""MD5 of the model folder the run trained (:func:`churn.tracking.lineage.folder_md5`)."""
ERROR_TAG = "churn.error"
CURVE_PREFIX = "curve."
"""Metrics logged per boosting round: ``curve.<eval set>.<metric>`` (``curve.valid.logloss``)."""

METRIC_BATCH = 1000
"""MLflow's limit of metrics in one ``log_batch``."""


@dataclass(frozen=True)
class DatasetUse:
    """One input file as the rows of one context came from it: ``path`` relative to the
    project, ``digest`` its MD5, ``split`` the rows of that context."""

    path: str
    digest: str
    split: Split

    def entity(self) -> DatasetInput:
        """An MLflow dataset input: named ``<file stem> (<context>)`` (MLflow keeps one dataset
        per name and digest, so each context needs its own name), the file's MD5 as digest, the
        file as source and the rows, churned and cutoffs as profile; the context as MLflow's
        dataset context tag."""
        dataset = Dataset(
            name=f"{Path(self.path).stem} ({self.split.context})",
            digest=self.digest,
            source_type="local",
            source=json.dumps({"uri": self.path}),
            profile=json.dumps(
                {
                    "rows": self.split.rows,
                    "churned": self.split.churned,
                    "cutoffs": list(self.split.cutoffs),
                }
            ),
        )
        return DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, self.split.context)])


@dataclass(frozen=True)
class TrainingRun:
    """An open training run of ``client``'s store (see :func:`training_run`)."""

    client: MlflowClient
    run_id: str

    def record(
        self,
        *,
        metrics: Mapping[str, float],
        curve: Mapping[str, Sequence[float]],
        datasets: Sequence[DatasetUse],
        artifacts: Sequence[Path],
        description: str,
        model_digest: str,
    ) -> None:
        """Log what training produced: ``metrics`` (flat, at step 0), ``curve`` (metric ->
        one value per boosting round, logged as ``curve.<metric>`` with the round as step),
        the datasets, the files and folders ``artifacts``, the final description and the
        digest of the model folder that :func:`find_training_run` looks for."""
        now = int(time.time() * 1000)
        entities = [Metric(key, float(value), now, 0) for key, value in metrics.items()]
        entities += [
            Metric(f"{CURVE_PREFIX}{name}", float(value), now, step)
            for name, values in curve.items()
            for step, value in enumerate(values)
        ]
        for start in range(0, len(entities), METRIC_BATCH):
            self.client.log_batch(self.run_id, metrics=entities[start : start + METRIC_BATCH])
        if datasets:
            self.client.log_inputs(self.run_id, datasets=[d.entity() for d in datasets])
        for path in artifacts:
            if path.is_dir():
                self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
            else:
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_tag(self.run_id, NOTE_TAG, description)
        self.client.set_tag(self.run_id, MODEL_DIGEST_TAG, model_digest)


@contextlib.contextmanager
def training_run(
    client: MlflowClient,
    *,
    experiment: str,
    run_name: str,
    tags: Mapping[str, str],
    params: Mapping[str, object],
    description: str,
) -> Iterator[TrainingRun]:
    """Open a training run in ``experiment`` (an id) with ``tags``, flat ``params`` and a first
    ``description``, and yield it. It ends FINISHED when the block does, FAILED when it raises
    (KILLED when interrupted or terminated), with the error's first line as the ``churn.error``
    tag and at the end of the description. Store failures raise TrackingError."""
    all_tags = {**tags, RUN_KIND_TAG: "training", NOTE_TAG: description}
    try:
        run_id = str(client.create_run(experiment, tags=all_tags, run_name=run_name).info.run_id)
    except MlflowException as exc:
        raise store_error(client, "create a training run", exc) from exc

    def failed(exc: BaseException) -> None:
        why = first_line(exc)[:4000]  # MLflow caps tag values
        client.set_tag(run_id, ERROR_TAG, why)
        client.set_tag(run_id, NOTE_TAG, f"{description}\n\n**Training failed**: {why}")

    with run_ends(client, run_id, "log training run", on_failure=failed):
        client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
        yield TrainingRun(client, run_id)


def find_training_run(client: MlflowClient, experiment: str, model_digest: str) -> str | None:
    """Id of the latest FINISHED training run of ``experiment`` that trained the model folder
    whose :func:`~churn.tracking.lineage.folder_md5` is ``model_digest``; None when there is
    none (the model was trained by an older churn, in another store, or its run was deleted).
    The digest, not a file train leaves, ties the two: the model folder stays byte-identical
    for DVC, and a folder DVC restored from its cache finds the run that trained it."""
    if not model_digest.isalnum():
        raise ValueError(f"model_digest must be a hex digest. Got {model_digest!r} instead.")
    try:
        found = client.search_runs(
            [experiment],
            filter_string=(
                f"tags.`{MODEL_DIGEST_TAG}` = '{model_digest}' "
                f"and tags.`{RUN_KIND_TAG}` = 'training' and attributes.status = 'FINISHED'"
            ),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    except MlflowException as exc:
        raise store_error(client, "search the training runs", exc) from exc
    return str(found[0].info.run_id) if found else None
