"""Logging a trained model: its pyfunc logged into the run ``churn train`` opened
(:func:`log_model_to_run`; :mod:`churn.tracking.training`) or, for a model trained without one,
into a run of its own with its params, metrics, artifacts and lineage (:func:`log_training_run`);
its metrics linked to it, registered and aliased ``challenger``. Scoring runs nest under the
training run (:func:`log_scoring_run`)."""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from churn.errors import PipelineStateError
from churn.modeling.model import ChurnModel
from churn.tracking.events_model import EventsEntry, log_events_model
from churn.tracking.lineage import lineage_tags
from churn.tracking.pyfunc import (
    model_input,
    prediction_frame,
    save_pyfunc,
    with_text_categories,
)
from churn.tracking.registry import CHALLENGER
from churn.tracking.serving import RiskReference, tier_params
from churn.tracking.store import run_ends, store_error
from churn.tracking.training import CURVE_PREFIX, METRIC_BATCH

_MODEL_NAME = "model"

type MetricTree = Mapping[str, float | MetricTree]
"""Metrics, possibly nested: ``{"baselines": {"recency": {"roc_auc": 0.7}}}``."""


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version created by :func:`log_training_run`.

    ``model_uri`` is ``models:/<registered name>/<version>``.
    """

    run_id: str
    version: str
    model_uri: str


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level with dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def numeric_metrics(tree: Mapping[str, Any]) -> dict[str, Any]:
    """The finite numeric leaves of a metrics tree (``metrics.json``) as floats, nesting kept:
    MLflow metrics are numbers; dates, counts as text and NaN are left out."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out[key] = numeric_metrics(value)
        elif (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[key] = float(value)
    return out


def log_training_run(
    client: MlflowClient,
    *,
    experiment: str,
    model_dir: Path,
    params: Mapping[str, object],
    metrics: MetricTree,
    artifacts: Sequence[Path],
    lineage: Mapping[str, str],
    input_example: pd.DataFrame,
    registered_model_name: str,
    alias: str | None = CHALLENGER,
    run_name: str | None = None,
    risk_reference: RiskReference | None = None,
    events_entry: EventsEntry | None = None,
) -> RegisteredVersion:
    """Log one training run, register its model and point ``alias`` at it (None: no alias,
    as for a DVC experiment's model, which must not move the shared registry's aliases): the
    run of a model whose ``churn train`` run cannot be found (see :func:`log_model_to_run`).

    ``experiment`` is an experiment id (see :func:`churn.tracking.store.ensure_experiment`).
    ``params`` and ``metrics`` may nest mappings; keys are flattened with dots
    (``baselines.recency.roc_auc``). ``artifacts`` are files or folders copied into the run.
    ``lineage`` (git commit, features hash, test cutoff, ...; see
    :mod:`churn.tracking.lineage`) becomes ``lineage.<key>`` tags on the run and the model
    version. ``input_example`` is a few rows of the feature frame; the model's columns of its
    first five rows (see :func:`churn.tracking.pyfunc.model_input`) are stored with the model,
    and the signature is inferred from them and the model's output on them.
    ``risk_reference``: the customers the served model draws its risk tiers on (None: it
    returns no tier); the tiers' params and their defaults are then part of the signature.
    ``events_entry``: what the run's events model needs (:mod:`churn.tracking.events_model`).

    Raises PipelineStateError when ``model_dir`` or an artifact is missing, and TrackingError
    when the store fails; a run that fails midway is marked FAILED.
    """
    churn_model = ChurnModel.load(model_dir)
    missing = [str(p) for p in artifacts if not p.exists()]
    if missing:
        raise PipelineStateError(
            f"{len(missing)} artifact(s) to log do not exist: {missing}. Run the stage that "
            "writes them (`churn train`) before logging."
        )
    model = _ModelToLog.of(churn_model, model_dir, input_example, risk_reference, events_entry)
    tags = lineage_tags(lineage)
    param_entities = [Param(key, str(value)) for key, value in flatten(params).items()]
    metrics_to_log = metric_entities(flatten(metrics), timestamp_ms=int(time.time() * 1000))

    try:
        run_id = str(client.create_run(experiment, tags=tags, run_name=run_name).info.run_id)
    except MlflowException as exc:
        raise store_error(client, "create a run", exc) from exc
    with run_ends(client, run_id, "log run"):
        client.log_batch(run_id, params=param_entities, metrics=metrics_to_log)
        for path in artifacts:
            if path.is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=path.name)
            else:
                client.log_artifact(run_id, str(path))
        registered = model.log_and_register(
            client,
            experiment=experiment,
            run_id=run_id,
            tags=tags,
            registered_model_name=registered_model_name,
            alias=alias,
        )
    return registered


def log_model_to_run(
    client: MlflowClient,
    *,
    run_id: str,
    experiment: str,
    model_dir: Path,
    input_example: pd.DataFrame,
    registered_model_name: str,
    alias: str | None = CHALLENGER,
    risk_reference: RiskReference | None = None,
    lineage: Mapping[str, str] | None = None,
    events_entry: EventsEntry | None = None,
) -> RegisteredVersion:
    """Log the model in ``model_dir`` into the training run ``run_id`` that ``churn train``
    left (:mod:`churn.tracking.training`; see :func:`churn.tracking.training.find_training_run`),
    link the run's final metrics to it, register it with the run's lineage tags and point
    ``alias`` at it, as :func:`log_training_run` does for a run of its own. ``lineage`` is
    this registration's own (the DVC experiment registering it, which may not be the one
    that trained it), added to the model's and the version's tags. The run keeps its status:
    a failure here is the registration's, not the training's.

    Raises PipelineStateError when ``model_dir`` is missing or broken, TrackingError when the
    store fails."""
    model = _ModelToLog.of(
        ChurnModel.load(model_dir), model_dir, input_example, risk_reference, events_entry
    )
    try:
        run = client.get_run(run_id)
        tags = {
            key: value
            for key, value in run.data.tags.items()
            if key.startswith("lineage.") or key == "mlflow.source.git.commit"
        } | lineage_tags(lineage or {})
        return model.log_and_register(
            client,
            experiment=experiment,
            run_id=run_id,
            tags=tags,
            registered_model_name=registered_model_name,
            alias=alias,
        )
    except MlflowException as exc:
        raise store_error(client, f"log the model into run {run_id}", exc) from exc


def link_metrics(client: MlflowClient, run_id: str, model_id: str) -> int:
    """Log the final metrics of run ``run_id`` (step 0, not the ``curve.*`` ones) again with
    ``model_id``, so MLflow shows them on the logged model (its Metrics); the run's own history
    gains nothing, as each is logged with its original timestamp. Returns how many."""
    run = client.get_run(run_id)
    entities = []
    for key in sorted(run.data.metrics):
        if key.startswith(CURVE_PREFIX):
            continue
        logged = [m for m in client.get_metric_history(run_id, key) if m.step == 0]
        if logged:
            last = max(logged, key=lambda m: m.timestamp)
            entities.append(Metric(key, last.value, last.timestamp, 0, model_id=model_id))
    for start in range(0, len(entities), METRIC_BATCH):
        client.log_batch(run_id, metrics=entities[start : start + METRIC_BATCH])
    return len(entities)


@dataclass(frozen=True)
class _ModelToLog:
    """A trained model ready to log: its folder, signature, input example and risk reference,
    and what its events entry point needs (None: it gets none)."""

    model_dir: Path
    signature: ModelSignature
    example: pd.DataFrame
    risk_reference: RiskReference | None
    events_entry: EventsEntry | None = None

    @classmethod
    def of(
        cls,
        churn_model: ChurnModel,
        model_dir: Path,
        input_example: pd.DataFrame,
        risk_reference: RiskReference | None,
        events_entry: EventsEntry | None = None,
    ) -> _ModelToLog:
        example = model_input(churn_model, input_example.head(5))
        signature = with_text_categories(
            churn_model.categories,
            infer_signature(
                example,
                prediction_frame(churn_model.predict_proba(example), example, risk_reference),
                params=None if risk_reference is None else tier_params(),
            ),
        )
        return cls(model_dir, signature, example, risk_reference, events_entry)

    def log_and_register(
        self,
        client: MlflowClient,
        *,
        experiment: str,
        run_id: str,
        tags: Mapping[str, str],
        registered_model_name: str,
        alias: str | None,
    ) -> RegisteredVersion:
        model_id, source = log_model_folder(
            client,
            experiment=experiment,
            run_id=run_id,
            tags=tags,
            write=lambda workdir, mlflow_model: save_pyfunc(
                workdir,
                self.model_dir,
                signature=self.signature,
                input_example=self.example,
                mlflow_model=mlflow_model,
                risk_reference=self.risk_reference,
            ),
        )
        log_events_model(
            client,
            experiment=experiment,
            run_id=run_id,
            tags=tags,
            model_dir=self.model_dir,
            entry=self.events_entry,
            risk_reference=self.risk_reference,
            log_folder=log_model_folder,
        )
        link_metrics(client, run_id, model_id)
        return register_version(
            client,
            name=registered_model_name,
            source=source,
            run_id=run_id,
            model_id=model_id,
            tags=tags,
            alias=alias,
        )


def log_scoring_run(
    client: MlflowClient,
    *,
    experiment: str,
    training_run_id: str,
    run_name: str,
    metrics: Mapping[str, object],
    artifacts: Sequence[Path],
    tags: Mapping[str, str],
) -> str:
    """A run of its own for one scoring, nested under the run that trained the model (MLflow's
    ``mlflow.parentRunId``), holding the scoring's numbers and files, so a scoring never
    writes over the training run's artifacts. Returns its id."""
    all_tags = {**tags, "mlflow.parentRunId": training_run_id, "churn.run": "scoring"}
    try:
        run_id = str(client.create_run(experiment, tags=all_tags, run_name=run_name).info.run_id)
    except MlflowException as exc:
        raise store_error(client, "create a scoring run", exc) from exc
    with run_ends(client, run_id, "log scoring run"):
        entities = metric_entities(
            {k: v for k, v in flatten(metrics).items() if isinstance(v, int | float)},
            timestamp_ms=int(time.time() * 1000),
        )
        client.log_batch(run_id, metrics=entities)
        for path in artifacts:
            client.log_artifact(run_id, str(path))
    return run_id


def log_model_folder(
    client: MlflowClient,
    *,
    experiment: str,
    run_id: str,
    tags: Mapping[str, str],
    write: Callable[[Path, Model], Path],
    name: str = _MODEL_NAME,
) -> tuple[str, str]:
    """Log one model of run ``run_id``: ``write(workdir, mlflow_model)`` saves it (a pyfunc
    folder, any flavour) under the empty folder ``workdir`` with ``mlflow_model`` as its
    MLmodel and returns the folder, which is uploaded as a LoggedModel named ``name``, as
    ``Model.log`` does but through ``client`` instead of MLflow's global tracking URI.

    Returns (model id, artifact location: the ``source`` to register).
    """
    logged = client.create_logged_model(
        experiment, name=name, source_run_id=run_id, tags=dict(tags)
    )
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    with tempfile.TemporaryDirectory(prefix="churn-pyfunc-") as tmp:
        mlflow_model = Model(
            artifact_path=logged.artifact_location,
            model_uuid=logged.model_id,
            run_id=run_id,
            model_id=logged.model_id,
        )
        local = write(Path(tmp), mlflow_model)
        client.log_model_artifacts(logged.model_id, str(local))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return str(logged.model_id), str(logged.artifact_location)


def register_version(
    client: MlflowClient,
    *,
    name: str,
    source: str,
    run_id: str,
    model_id: str,
    tags: Mapping[str, str],
    alias: str | None,
) -> RegisteredVersion:
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    # The artifact location, not models:/<model_id>: the SQL registry resolves the latter with
    # MLflow's *global* tracking URI, which may point at another store.
    mv = client.create_model_version(
        name, source=source, run_id=run_id, tags=dict(tags), model_id=model_id
    )
    version = str(mv.version)
    # the SQL registry keeps no model id on a version: MLflow links the logged model to its
    # versions with this tag, as mlflow.register_model does
    logged = client.get_logged_model(model_id)
    versions = json.loads(logged.tags.get(MLFLOW_MODEL_VERSIONS, "[]"))
    versions.append({"name": name, "version": int(mv.version)})  # as MLflow writes it
    client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(versions)})
    if alias is not None:
        client.set_registered_model_alias(name, alias, version)
    return RegisteredVersion(run_id=run_id, version=version, model_uri=f"models:/{name}/{version}")


def metric_entities(flat: Mapping[str, object], *, timestamp_ms: int) -> list[Metric]:
    """MLflow metrics at step 0; a TypeError naming every value that is not a number."""
    entities: list[Metric] = []
    bad: dict[str, object] = {}
    for key, value in flat.items():
        if isinstance(value, int | float | np.number):
            entities.append(Metric(key, float(value), timestamp_ms, 0))
        else:
            bad[key] = value
    if bad:
        raise TypeError(f"metrics must be numbers; {len(bad)} are not: {bad}.")
    return entities
