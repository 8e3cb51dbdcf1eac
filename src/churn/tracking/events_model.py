"""The registered model's entry point for raw events: canonical events and a cutoff in,
``customer_id``, ``churn_probability`` and ``risk_tier`` out, the features built inside, so
another team can score without knowing them.

:class:`ChurnEventsPyfunc` carries the churn model's files and risk reference
(:mod:`churn.tracking.pyfunc`) plus the pipeline's ``data``, ``labels`` and ``features``
settings and its feature catalogue. ``predict`` checks the request's events
(:mod:`churn.tracking.events_request`), writes them as a canonical folder and builds the
population with the pipeline's kind at the cutoff, as ``churn score`` does: one feature path
for training, scoring and serving.

It is logged in the training run beside the registered model as ``events_model`` (not
registered itself): ``events_model_uri(client, "churn-<p>")`` gives the champion's
``runs:/<run_id>/events_model``. A snapshot pipeline has none (its rows are already the
features), nor does an events pipeline whose population reads ``data.customers`` or
``data.churn_events``, which a frame of events cannot carry: nothing is logged, a log line and
the run's tag ``churn.events_model`` say why, and :func:`events_model_uri` quotes it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import DataType
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

from churn.errors import ChurnError, TrackingError
from churn.io.canonical import CanonicalFiles
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.modeling.model import ChurnModel
from churn.settings import EventLabelSettings, PipelineSettings, ScoringSettings, ValueSettings
from churn.tracking.events_request import (
    canonical_request,
    request_columns,
    tables_besides_events,
)
from churn.tracking.pyfunc import (
    ID_COLUMN,
    MODEL_DIR_ARTIFACT,
    PROBABILITY_COLUMN,
    REFERENCE_ARTIFACT,
    TIER_COLUMN,
    prediction_frame,
    save_pyfunc,
)
from churn.tracking.registry import CHAMPION, version_of
from churn.tracking.serving import RiskReference, tier_params
from churn.tracking.store import store_error

with warnings.catch_warnings():
    # as in churn.tracking.pyfunc: MLflow warns while importing its own agent schemas
    warnings.filterwarnings("ignore", message=".*Any type hint is inferred", category=UserWarning)
    from mlflow.pyfunc.model import PythonModel, PythonModelContext

EVENTS_MODEL = "events_model"
"""The name of the events model in its run: ``runs:/<run_id>/events_model``."""
EVENTS_MODEL_TAG = "churn.events_model"
"""Run tag: the events model's URI, or ``none: <why>`` when the run has none."""
SETTINGS_ARTIFACT = "pipeline_settings"
CATALOGUE_ARTIFACT = "feature_catalogue"
CUTOFF_PARAM = "cutoff"
EVENTS_MODEL_CODE = """\
import mlflow.models

from churn.tracking import ChurnEventsPyfunc

mlflow.models.set_model(ChurnEventsPyfunc())
"""
"""The script MLflow stores with the events model and runs to load it."""
_SETTINGS_SECTIONS = {"name", "data", "labels", "features"}

log = logging.getLogger("churn")


@dataclass(frozen=True)
class EventsEntry:
    """What the events model needs besides the churn model: the pipeline's settings (its
    ``data``, ``labels`` and ``features`` sections are stored) and its feature catalogue
    (``churn features``' ``feature_catalogue.json``; None or a missing file: not stored)."""

    settings: PipelineSettings
    catalogue: Path | None = None


class LogFolder(Protocol):
    """:func:`churn.tracking.runs.log_model_folder`: log one model folder in a run."""

    def __call__(
        self,
        client: MlflowClient,
        *,
        experiment: str,
        run_id: str,
        tags: Mapping[str, str],
        write: Callable[[Path, Model], Path],
        name: str = ...,
    ) -> tuple[str, str]: ...


class ChurnEventsPyfunc(PythonModel):
    """MLflow pyfunc scoring canonical events (see :mod:`churn.tracking.events_model`).

    ``predict`` takes canonical events (:func:`churn.tracking.events_request.request_columns`;
    extra columns ignored) and ``params``: ``cutoff`` (ISO date, default: the day after the
    latest event) and the risk-tier params (:func:`churn.tracking.serving.tier_params`). It
    returns one row per customer eligible at the cutoff (active before it, as the lists'),
    sorted by id: ``customer_id``, ``churn_probability`` and ``risk_tier``. A request it cannot
    score (a missing column, a broken value, a cutoff outside the events, nobody eligible)
    raises an MlflowException (INVALID_PARAMETER_VALUE, HTTP 400 when served) saying why.
    """

    def load_context(self, context: PythonModelContext) -> None:
        self._model = ChurnModel.load(Path(context.artifacts[MODEL_DIR_ARTIFACT]))
        reference = context.artifacts.get(REFERENCE_ARTIFACT)
        self._reference = None if reference is None else RiskReference.read(Path(reference))
        stored = json.loads(Path(context.artifacts[SETTINGS_ARTIFACT]).read_text("utf-8"))
        self._settings = PipelineSettings.model_validate(stored)

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        try:
            return score_events(
                self._model,
                self._settings,
                model_input,
                self._reference,
                params,
                now=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        except (ValueError, ChurnError) as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from exc


def score_events(
    model: ChurnModel,
    settings: PipelineSettings,
    events: pd.DataFrame,
    reference: RiskReference | None,
    params: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime,
) -> pd.DataFrame:
    """The events model's answer for ``events`` (see :class:`ChurnEventsPyfunc`): the
    request's canonical events written to a temporary canonical folder, the population at the
    cutoff built by ``kind_of(settings).population`` as ``churn score`` builds it, scored by
    ``model``. Raises ValueError (a bad request) or LabelError (no cutoff or customer to
    score)."""
    asked = dict(params or {})
    cutoff = request_cutoff(asked.pop(CUTOFF_PARAM, None))
    canonical = canonical_request(events, settings.data, now)
    if canonical.empty:
        raise ValueError("the request holds no events: nothing to build features from.")
    last_day = pd.Timestamp(canonical["ts"].max()).date()
    serving = serving_settings(settings, cutoff, last_day, model.feature_names[0])
    with tempfile.TemporaryDirectory(prefix="churn-events-") as tmp:
        paths = PipelinePaths(Path(tmp), settings.name)
        paths.canonical.mkdir(parents=True)
        canonical.to_parquet(paths.table("events"), index=False)
        population = kind_of(serving).population(CanonicalFiles(paths, serving.features), cutoff)
    features = population.features.sort_values(ID_COLUMN, kind="stable").reset_index(drop=True)
    return prediction_frame(
        model.predict_proba(features), features[[ID_COLUMN]], reference, asked or None
    )


def request_cutoff(value: object) -> dt.date | None:
    """The request's ``cutoff`` param as a date (None or empty: the default)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(
            f"The request's param {CUTOFF_PARAM!r} must be an ISO date (YYYY-MM-DD) or empty "
            f"(the day after the latest event). Got {value!r} instead."
        ) from None


def serving_settings(
    settings: PipelineSettings,
    cutoff: dt.date | None,
    last_event_day: dt.date,
    charge_feature: str,
) -> PipelineSettings:
    """``settings`` for a request's events: the training extract's dates go
    (``labels.score_cutoff``; ``labels.last_day_of_data`` becomes the day before the asked
    ``cutoff``, the caller's events being complete up to it, so a cutoff after a quiet spell is
    accepted), the SQL runs on DuckDB (Spark is not in the model's environment; both engines
    build the same features), and value is the ``recurring`` charge on a feature: the response
    carries no value, and the CLV model would refuse a request of a few customers."""
    labels = settings.labels
    assert isinstance(labels, EventLabelSettings)
    covered = None if cutoff is None else max(cutoff - dt.timedelta(days=1), last_event_day)
    value = ValueSettings(method="recurring", charge_feature=charge_feature)
    return settings.model_copy(
        update={
            "labels": labels.model_copy(update={"score_cutoff": None, "last_day_of_data": covered}),
            "features": settings.features.model_copy(update={"engine": "duckdb"}),
            "scoring": ScoringSettings(value=value),
        }
    )


def events_signature(settings: PipelineSettings, *, tiers: bool) -> ModelSignature:
    """Input: the canonical events columns of ``settings.data`` (required as
    :func:`~churn.tracking.events_request.request_columns` says); output: ``customer_id``,
    ``churn_probability`` and, with ``tiers``, ``risk_tier``; params: ``cutoff`` (default
    empty: the day after the latest event) and, with ``tiers``, the tier params."""
    types = {"text": DataType.string, "time": DataType.datetime, "number": DataType.double}
    inputs: list[ColSpec | TensorSpec] = [
        ColSpec(types[c.kind], c.name, required=c.required) for c in request_columns(settings.data)
    ]
    outputs: list[ColSpec | TensorSpec] = [
        ColSpec(DataType.string, ID_COLUMN),
        ColSpec(DataType.double, PROBABILITY_COLUMN),
    ]
    params = [ParamSpec(CUTOFF_PARAM, DataType.string, "")]
    if tiers:
        outputs.append(ColSpec(DataType.string, TIER_COLUMN))
        params += [
            ParamSpec(k, DataType.string if isinstance(v, str) else DataType.double, v)
            for k, v in tier_params().items()
        ]
    return ModelSignature(
        inputs=Schema(inputs), outputs=Schema(outputs), params=ParamSchema(params)
    )


def example_request(settings: PipelineSettings) -> pd.DataFrame:
    """Two events of one made-up customer, in the columns the events model requires (plus
    ``event_type``): the shape to send, with no real customer in the model's artifacts."""
    assert isinstance(settings.labels, EventLabelSettings)
    made_up: dict[str, list[object]] = {
        "customer_id": ["C-1", "C-1"],
        "ts": list(pd.to_datetime(["2024-01-05 10:00", "2024-02-09 16:30"])),
        "event_type": [settings.labels.activity_event_types[0]] * 2,
        "amount": [25.0, 40.0],
        "quantity": [1.0, 2.0],
        "order_id": ["O-1", "O-2"],
        "product_id": ["P-1", "P-2"],
        "covered_until": list(pd.to_datetime(["2024-02-05", "2024-03-09"])),
    }
    wanted = [c for c in request_columns(settings.data) if c.required or c.name in made_up]
    filler: dict[str, list[object]] = {"text": ["a value"] * 2, "number": [3.0, 5.0]}
    example = pd.DataFrame(
        {c.name: made_up.get(c.name, filler.get(c.kind, filler["text"])) for c in wanted}
    )
    for column in ("ts", "covered_until"):
        if column in example:
            example[column] = example[column].astype("datetime64[us]")
    return example


def why_no_events_model(settings: PipelineSettings) -> str | None:
    """Why a pipeline gets no events model, or None when it gets one."""
    if settings.data.kind != "events":
        return "a snapshot's rows are already its features: serve the registered model"
    tables = tables_besides_events(settings.data)
    if tables:
        return (
            f"its features need {' and '.join(tables)}, which a frame of events cannot carry: "
            "serve the registered model with the feature columns"
        )
    return None


def save_events_pyfunc(
    workdir: Path,
    model_dir: Path,
    entry: EventsEntry,
    *,
    mlflow_model: Model,
    risk_reference: RiskReference | None,
) -> Path:
    """Write the events model of the :class:`ChurnModel` in ``model_dir`` under the empty
    folder ``workdir``; returns the folder to upload (see :func:`churn.tracking.pyfunc.
    save_pyfunc`)."""
    stored = entry.settings.model_dump(mode="json", include=_SETTINGS_SECTIONS)
    settings_file = workdir / "pipeline_settings.json"
    settings_file.write_text(json.dumps(stored, indent=2) + "\n", encoding="utf-8")
    extra = {SETTINGS_ARTIFACT: settings_file}
    if entry.catalogue is not None and entry.catalogue.is_file():
        extra[CATALOGUE_ARTIFACT] = entry.catalogue
    package = workdir / "events"
    package.mkdir()
    return save_pyfunc(
        package,
        model_dir,
        signature=events_signature(entry.settings, tiers=risk_reference is not None),
        input_example=example_request(entry.settings),
        mlflow_model=mlflow_model,
        risk_reference=risk_reference,
        model_code=EVENTS_MODEL_CODE,
        extra_artifacts=extra,
    )


def log_events_model(
    client: MlflowClient,
    *,
    experiment: str,
    run_id: str,
    tags: Mapping[str, str],
    model_dir: Path,
    entry: EventsEntry | None,
    risk_reference: RiskReference | None,
    log_folder: LogFolder,
) -> str | None:
    """Log the events model of run ``run_id`` as ``events_model`` with ``log_folder`` and tag
    the run with its URI (``churn.events_model``); returns its model id. A pipeline that gets
    none (:func:`why_no_events_model`) logs nothing but the tag and a log line saying why;
    ``entry`` None (a caller with no settings to give) logs nothing at all."""
    if entry is None:
        return None
    why = why_no_events_model(entry.settings)
    if why is not None:
        log.info("no events model for %s: %s", entry.settings.name, why)
        client.set_tag(run_id, EVENTS_MODEL_TAG, f"none: {why}")
        return None
    model_id, _ = log_folder(
        client,
        experiment=experiment,
        run_id=run_id,
        tags=tags,
        write=lambda workdir, mlflow_model: save_events_pyfunc(
            workdir,
            model_dir,
            entry,
            mlflow_model=mlflow_model,
            risk_reference=risk_reference,
        ),
        name=EVENTS_MODEL,
    )
    client.set_tag(run_id, EVENTS_MODEL_TAG, f"runs:/{run_id}/{EVENTS_MODEL}")
    log.info("logged the events model: runs:/%s/%s", run_id, EVENTS_MODEL)
    return model_id


def events_model_uri(client: MlflowClient, model_name: str, alias: str = CHAMPION) -> str:
    """``runs:/<run_id>/events_model`` of the version of ``model_name`` that ``alias`` points
    at, for ``mlflow.pyfunc.load_model`` or ``mlflow models serve -m``. Raises TrackingError
    when the alias is not set or that version's run has no events model (quoting why)."""
    name, version = version_of(client, f"models:/{model_name}@{alias}")
    try:
        run_id = str(client.get_model_version(name, version).run_id)
        note = client.get_run(run_id).data.tags.get(EVENTS_MODEL_TAG)
    except MlflowException as exc:
        raise store_error(client, f"read the run of {name} version {version}", exc) from exc
    if note is None or not note.startswith("runs:/"):
        why = "it was registered before churn logged events models" if note is None else note
        raise TrackingError(
            f"{name}@{alias} (version {version}, run {run_id}) has no events model ({why}). "
            "Expected the tag churn.events_model on its run; retrain and register an events "
            "pipeline without data.customers and data.churn_events to get one."
        )
    return f"runs:/{run_id}/{EVENTS_MODEL}"
