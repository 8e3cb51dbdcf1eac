"""The uplift model in MLflow, beside the churn model it was judged against.

``churn register`` logs the uplift model that ``churn uplift`` fitted in a run of its own,
``<p> uplift``, nested under the run of the churn version it belongs with (MLflow's
``mlflow.parentRunId``), as a pyfunc (:mod:`churn.tracking.uplift_pyfunc`), with the held-out
evaluation of ``uplift.json`` as metrics and the file itself as an artifact, and registers it
as a version of ``<churn model>-uplift`` tagged with that churn version and whether scoring
uses it. Nested rather than in the churn run itself: the uplift model is fitted by another
stage, on other rows (past contacts) with other params, and may be refitted while the churn
model stays the same; its own run keeps its metrics and ``uplift.json`` apart from the churn
run's (whose final metrics are linked to the churn model), one run per registration.

Alias ``champion`` only on the uplift version that belongs with the churn champion and is used
for scoring (:func:`sync_champion`); none otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Param
from mlflow.exceptions import MlflowException

from churn.campaigns.uplift import UpliftModel
from churn.tracking.lineage import lineage_tags
from churn.tracking.registry import CHAMPION
from churn.tracking.runs import (
    RegisteredVersion,
    flatten,
    link_metrics,
    log_model_folder,
    metric_entities,
    numeric_metrics,
    register_version,
)
from churn.tracking.store import run_ends, store_error
from churn.tracking.training import METRIC_BATCH, NOTE_TAG, RUN_KIND_TAG
from churn.tracking.uplift_pyfunc import save_uplift_pyfunc, uplift_input, uplift_signature

UPLIFT_MODEL = "uplift_model"
"""The name of the uplift model in its run: ``runs:/<run_id>/uplift_model``."""
CHURN_MODEL_TAG = "churn.model_name"
"""Tag of an uplift run and version: the registered churn model it belongs with."""
BELONGS_WITH_TAG = "churn.model_version"
"""Tag of an uplift run and version: the churn model's version it was judged against."""
USED_FOR_SCORING_TAG = "churn.used_for_scoring"
"""Tag of an uplift run and version: ``true`` when ``churn score`` ranks with it."""
KNOWN_BY_TAG = "churn.uplift_known_by"
"""Tag of an uplift version: the day every outcome it was fitted on was known."""


def uplift_model_name(churn_model_name: str) -> str:
    """The registered uplift model beside ``churn_model_name``: ``churn-<p>-uplift``."""
    return f"{churn_model_name}-uplift"


@dataclass(frozen=True)
class UpliftToLog:
    """A fitted uplift model and what it is logged with: its evaluation ``report``
    (``uplift.json``, also ``report_file``), whether scoring uses it, and the ``params`` it
    was fitted with (nested mappings; flattened with dots)."""

    model: UpliftModel
    report: Mapping[str, Any]
    report_file: Path
    used_for_scoring: bool
    params: Mapping[str, object]


def log_uplift_run(
    client: MlflowClient,
    *,
    experiment: str,
    churn: RegisteredVersion,
    churn_model_name: str,
    uplift: UpliftToLog,
    input_example: pd.DataFrame,
    run_name: str,
    lineage: Mapping[str, str] | None = None,
) -> RegisteredVersion:
    """Log ``uplift`` in a run nested under the run of ``churn`` (the churn version it was
    judged against) and register it as a version of ``<churn_model_name>-uplift``, without an
    alias (see :func:`sync_champion`).

    The run holds the params, the numbers of ``uplift.json`` flattened as metrics
    (``held_out.rankings.uplift.qini``, ``held_out.rankings.churn_probability.uplift_at_10pct``,
    ...; linked to the logged model too), ``uplift.json`` and the pyfunc ``uplift_model``,
    whose signature is inferred from the first five rows of ``input_example`` (the churn
    model's feature frame; see :func:`churn.tracking.uplift_pyfunc.uplift_input`). Run and
    version carry the churn run's lineage tags, ``lineage`` (this registration's own), the
    churn model's name and version and whether scoring uses the model. Raises
    PipelineStateError when ``input_example`` lacks a feature, TrackingError when the store
    fails; a run that fails midway is marked FAILED."""
    example = uplift_input(uplift.model, input_example.head(5))
    signature = uplift_signature(uplift.model, example)
    used = str(uplift.used_for_scoring).lower()
    try:
        parent = client.get_run(churn.run_id)
    except MlflowException as exc:
        raise store_error(client, f"read the run {churn.run_id} of {churn.model_uri}", exc) from exc
    tags = {
        key: value
        for key, value in parent.data.tags.items()
        if key.startswith("lineage.") or key == "mlflow.source.git.commit"
    } | lineage_tags(lineage or {})
    tags |= {
        CHURN_MODEL_TAG: churn_model_name,
        BELONGS_WITH_TAG: churn.version,
        USED_FOR_SCORING_TAG: used,
    }
    known_by = uplift.model.metadata.get("known_by")
    version_tags = tags | ({KNOWN_BY_TAG: str(known_by)} if known_by is not None else {})
    run_tags = tags | {
        "mlflow.parentRunId": churn.run_id,
        RUN_KIND_TAG: "uplift",
        NOTE_TAG: _description(churn_model_name, churn.version, uplift),
    }
    try:
        run_id = str(client.create_run(experiment, tags=run_tags, run_name=run_name).info.run_id)
    except MlflowException as exc:
        raise store_error(client, "create an uplift run", exc) from exc
    with run_ends(client, run_id, "log uplift run"):
        params = [Param(key, str(value)) for key, value in flatten(uplift.params).items()]
        metrics = metric_entities(
            flatten(numeric_metrics(uplift.report)), timestamp_ms=int(time.time() * 1000)
        )
        client.log_batch(run_id, params=params)
        for start in range(0, len(metrics), METRIC_BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + METRIC_BATCH])
        client.log_artifact(run_id, str(uplift.report_file))
        model_id, source = log_model_folder(
            client,
            experiment=experiment,
            run_id=run_id,
            tags=version_tags,
            write=lambda workdir, mlflow_model: save_uplift_pyfunc(
                workdir,
                uplift.model,
                signature=signature,
                input_example=example,
                mlflow_model=mlflow_model,
            ),
            name=UPLIFT_MODEL,
        )
        link_metrics(client, run_id, model_id)
        return register_version(
            client,
            name=uplift_model_name(churn_model_name),
            source=source,
            run_id=run_id,
            model_id=model_id,
            tags=version_tags,
            alias=None,
        )


def sync_champion(client: MlflowClient, churn_model_name: str) -> str | None:
    """Point the uplift model's ``champion`` alias at its newest version that belongs with the
    churn model's champion and is used for scoring, or remove it when there is none (a new
    churn champion whose uplift model did not beat the risk ranking, or none). Returns the
    uplift champion's version, None when there is none; nothing to do when no uplift model was
    ever registered. Raises TrackingError when the store fails."""
    name = uplift_model_name(churn_model_name)
    try:
        try:
            uplift = client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        champion = client.get_registered_model(churn_model_name).aliases.get(CHAMPION)
        belonging = [
            v
            for v in client.search_model_versions(f"name='{name}'")
            if champion is not None
            and v.tags.get(BELONGS_WITH_TAG) == str(champion)
            and v.tags.get(USED_FOR_SCORING_TAG) == "true"
        ]
        newest = max(belonging, key=lambda v: int(v.version), default=None)
        if newest is None:
            if CHAMPION in uplift.aliases:
                client.delete_registered_model_alias(name, CHAMPION)
            return None
        client.set_registered_model_alias(name, CHAMPION, str(newest.version))
    except MlflowException as exc:
        raise store_error(client, f"set the champion of {name}", exc) from exc
    return str(newest.version)


def _description(churn_model_name: str, churn_version: str, uplift: UpliftToLog) -> str:
    """The run page's Description: what the model estimates, what it belongs with, whether
    scoring uses it and why."""
    why = uplift.report.get("use_reason") or uplift.report.get("reason") or ""
    used = "used for scoring" if uplift.used_for_scoring else "not used for scoring"
    actions = ", ".join(uplift.model.actions) or "none"
    return (
        f"Uplift model: per customer and action, the churn probability the action "
        f"removes. Actions: {actions}. Judged on held-out campaigns against {churn_model_name} "
        f"version {churn_version}'s risk ranking; {used}{': ' + why if why else ''}."
    )
