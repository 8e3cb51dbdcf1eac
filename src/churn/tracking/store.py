"""MLflow adapter: where the tracking store lives, how to reach it, and how a training run is
logged and registered.

Every call takes an explicit ``MlflowClient``; nothing here sets MLflow's global tracking URI or
active run, so two stores can be used in one process and tests need no patching. The store is
SQLite in the project (``mlflow.db``) with artifacts under ``mlartifacts/``; MLflow's file store
is deprecated in MLflow 3 and refused.

The registered model is a custom pyfunc: its ``predict`` takes a feature frame and returns one
calibrated churn probability per row, in a one-column frame named ``churn_probability``. It
imports :mod:`churn` when loaded, so serve it from an environment where this package is installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature

from churn.errors import PipelineStateError, TrackingError
from churn.modeling.model import MODEL_FILES, ChurnModel

with warnings.catch_warnings():
    # MLflow 3.17 warns while importing its own agent schemas ("Any type hint is inferred as
    # AnyType"): nothing a user can act on, and it would print on every command.
    warnings.filterwarnings("ignore", message=".*Any type hint is inferred", category=UserWarning)
    from mlflow.pyfunc import save_model
    from mlflow.pyfunc.model import PythonModel, PythonModelContext

DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
CHALLENGER = "challenger"
CHAMPION = "champion"
PROBABILITY_COLUMN = "churn_probability"
MODEL_DIR_ARTIFACT = "model_dir"
GIT_COMMIT = "git_commit"
"""Lineage key whose value is also written to MLflow's own ``mlflow.source.git.commit`` tag."""

_MODEL_NAME = "model"
_CODE_MODEL_LOADER = "mlflow.pyfunc.loaders.code_model"
_PROBE_TIMEOUT_S = 3.0
_REQUIREMENTS = ("xgboost", "pandas", "numpy", "scikit-learn")
_MODEL_CODE = """\
import mlflow.models

from churn.tracking import ChurnPyfunc

mlflow.models.set_model(ChurnPyfunc())
"""


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


def tracking_uri(project_dir: Path, env: Mapping[str, str]) -> str:
    """The tracking store URI: ``env['MLFLOW_TRACKING_URI']`` when set, else the project's
    SQLite file ``sqlite:///<absolute project_dir>/mlflow.db``."""
    return env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_dir.resolve() / DB_FILE}"


def artifact_location(project_dir: Path, experiment_name: str) -> str:
    """``file://`` URI of the folder holding an experiment's runs and models."""
    return (project_dir.resolve() / ARTIFACTS_DIR / experiment_name).as_uri()


def experiment_name(pipeline: str) -> str:
    return f"churn-{pipeline}"


def ui_command(project_dir: Path) -> list[str]:
    """The ``mlflow ui`` command over the project's store, bound to localhost only."""
    root = project_dir.resolve()
    return [
        "mlflow",
        "ui",
        "--backend-store-uri",
        tracking_uri(root, {}),
        "--default-artifact-root",
        (root / ARTIFACTS_DIR).as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        "5000",
    ]


def connect(uri: str) -> MlflowClient:
    """A client for the tracking store and model registry at ``uri``, checked to answer.

    Fails within a few seconds, without MLflow's long retries, with a TrackingError naming the
    URI and the fix when the store is unreachable, misconfigured or a deprecated file store.
    """
    _check_reachable(uri)
    try:
        with _no_http_retries():
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)
    except Exception as exc:  # MLflow raises many types here (sqlalchemy, requests, ...)
        raise TrackingError(
            f"the MLflow tracking store {uri} does not answer ({type(exc).__name__}: "
            f"{_first_line(exc)}). {_fix_hint(uri)}"
        ) from exc
    return client


def ensure_experiment(client: MlflowClient, project_dir: Path, pipeline: str) -> str:
    """Id of the experiment ``churn-<pipeline>``, created with its artifacts under
    ``<project_dir>/mlartifacts/churn-<pipeline>`` when it does not exist yet."""
    name = experiment_name(pipeline)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(
        client.create_experiment(name, artifact_location=artifact_location(project_dir, name))
    )


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


class ChurnPyfunc(PythonModel):
    """MLflow pyfunc around a saved :class:`ChurnModel` folder (artifact ``model_dir``).

    ``predict`` takes the feature frame (the model's feature columns; extra columns ignored) and
    returns a frame with one column ``churn_probability`` in [0, 1], indexed like the input.
    """

    def load_context(self, context: PythonModelContext) -> None:
        self._model = ChurnModel.load(Path(context.artifacts[MODEL_DIR_ARTIFACT]))

    @property
    def churn_model(self) -> ChurnModel:
        """The loaded model itself, for what the pyfunc interface cannot do (SHAP values)."""
        return self._model

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return _probability_frame(self._model.predict_proba(model_input), model_input.index)


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
) -> RegisteredVersion:
    """Log one training run, register its model and point the alias ``challenger`` at it.

    ``experiment`` is an experiment id (see :func:`ensure_experiment`). ``params`` and
    ``metrics`` may nest mappings; keys are flattened with dots (``baselines.recency.roc_auc``).
    ``artifacts`` are files or folders copied into the run. ``lineage`` (git commit, features
    hash, test cutoff, ...) becomes ``lineage.<key>`` tags on the run and the model version.
    ``input_example`` is a few rows of the feature frame; the model's columns of its first five
    rows (see :func:`model_input`) are stored with the model, and the signature is inferred from
    them and the model's output on them.

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
    example = model_input(churn_model, input_example.head(5))
    signature = infer_signature(
        example, _probability_frame(churn_model.predict_proba(example), example.index)
    )
    tags = {f"lineage.{key}": str(value) for key, value in lineage.items()}
    if GIT_COMMIT in lineage:
        tags["mlflow.source.git.commit"] = str(lineage[GIT_COMMIT])
    param_entities = [Param(key, str(value)) for key, value in flatten(params).items()]
    metric_entities = _metric_entities(flatten(metrics), timestamp_ms=int(time.time() * 1000))

    try:
        run_id = str(client.create_run(experiment, tags=tags).info.run_id)
    except MlflowException as exc:
        raise _store_error(client, "create a run", exc) from exc
    try:
        client.log_batch(run_id, params=param_entities, metrics=metric_entities)
        for path in artifacts:
            if path.is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=path.name)
            else:
                client.log_artifact(run_id, str(path))
        model_id, source = _log_pyfunc(
            client,
            experiment=experiment,
            run_id=run_id,
            model_dir=model_dir,
            signature=signature,
            example=example,
            tags=tags,
        )
        registered = _register(
            client,
            name=registered_model_name,
            source=source,
            run_id=run_id,
            model_id=model_id,
            tags=tags,
        )
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    except BaseException as exc:
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, RunStatus.to_string(status))
        if isinstance(exc, MlflowException):
            raise _store_error(client, f"log run {run_id}", exc) from exc
        raise
    return registered


def _log_pyfunc(
    client: MlflowClient,
    *,
    experiment: str,
    run_id: str,
    model_dir: Path,
    signature: ModelSignature,
    example: pd.DataFrame,
    tags: Mapping[str, str],
) -> tuple[str, str]:
    """Save the pyfunc locally and upload it as a LoggedModel of the run, as ``Model.log``
    does, but through ``client`` instead of MLflow's global tracking URI.

    Returns (model id, artifact location).
    """
    logged = client.create_logged_model(
        experiment, name=_MODEL_NAME, source_run_id=run_id, tags=dict(tags)
    )
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    with tempfile.TemporaryDirectory(prefix="churn-pyfunc-") as tmp:
        local = Path(tmp) / _MODEL_NAME
        # only the files a ChurnModel reads reach the registry, never a stray file (a pickle)
        model_files = Path(tmp) / MODEL_DIR_ARTIFACT
        model_files.mkdir()
        for name in MODEL_FILES:
            shutil.copy2(model_dir / name, model_files / name)
        # "Models from code": MLflow stores this script, not a cloudpickle of the class.
        code = Path(tmp) / "churn_pyfunc.py"
        code.write_text(_MODEL_CODE)
        save_model(
            path=str(local),
            python_model=str(code),
            artifacts={MODEL_DIR_ARTIFACT: str(model_files)},
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            mlflow_model=Model(
                artifact_path=logged.artifact_location,
                model_uuid=logged.model_id,
                run_id=run_id,
                model_id=logged.model_id,
            ),
        )
        client.log_model_artifacts(logged.model_id, str(local))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return str(logged.model_id), str(logged.artifact_location)


def _register(
    client: MlflowClient,
    *,
    name: str,
    source: str,
    run_id: str,
    model_id: str,
    tags: Mapping[str, str],
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
    client.set_registered_model_alias(name, CHALLENGER, version)
    return RegisteredVersion(run_id=run_id, version=version, model_uri=f"models:/{name}/{version}")


def check_pyfunc_folder(folder: Path) -> None:
    """Refuse a downloaded model folder unless it is exactly the pyfunc this module logs:
    MLflow's models-from-code loader (no pickled Python object), running this module's own
    script. Loading anything else could unpickle or run code someone put in the registry.

    Raises TrackingError naming what differs.
    """
    try:
        flavor = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))["flavors"][
            "python_function"
        ]
        code_file = folder / Path(str(flavor.get("model_code_path") or "-")).name
        problems = []
        if flavor.get("loader_module") != _CODE_MODEL_LOADER:
            problems.append(f"loader {flavor.get('loader_module')!r}")
        if "python_model" in flavor:
            problems.append(f"a pickled python_model {flavor['python_model']!r}")
        if flavor.get("code"):
            problems.append(f"extra code {flavor['code']!r}")
        if not code_file.is_file() or code_file.read_text(encoding="utf-8") != _MODEL_CODE:
            problems.append(f"model code {code_file.name!r} that is not churn's")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        problems = [f"no readable MLmodel python_function flavor ({_first_line(exc)})"]
    if problems:
        raise TrackingError(
            f"refusing to load the model in {folder}: expected churn's models-from-code pyfunc "
            f"(loader {_CODE_MODEL_LOADER!r}, churn's own script), found "
            f"{'; '.join(problems)}. Register models only with `churn register`."
        )


def model_input(model: ChurnModel, features: pd.DataFrame) -> pd.DataFrame:
    """The model's feature columns of ``features`` in the feature frame's contract: numeric as
    float64, categorical as object. The pyfunc's signature is inferred from this, so callers
    must pass those dtypes too (MLflow refuses int64 for a double column, and pandas
    categories for a string one). Raises PipelineStateError naming missing columns."""
    model.matrix(features)  # the one place that checks for missing feature columns
    columns = {
        name: pd.to_numeric(features[name], errors="coerce").astype("float64")
        for name in model.numeric_features
    }
    columns |= {name: features[name].astype(object) for name in model.categories}
    return pd.DataFrame(columns, index=features.index)


def pip_requirements() -> list[str]:
    """Pinned versions of the installed packages the pyfunc needs (``churn`` itself is not
    listed: it is not on PyPI; install it from this repository where the model is served)."""
    pins = []
    for dist in _REQUIREMENTS:
        with contextlib.suppress(PackageNotFoundError):
            pins.append(f"{dist}=={version(dist)}")
    return pins


def _probability_frame(proba: np.ndarray, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({PROBABILITY_COLUMN: np.asarray(proba, dtype="float64")}, index=index)


def _metric_entities(flat: Mapping[str, object], *, timestamp_ms: int) -> list[Metric]:
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


def _check_reachable(uri: str) -> None:
    """Cheap checks before MLflow gets a chance to retry for minutes."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file"):
        raise TrackingError(
            f"MLFLOW_TRACKING_URI={uri!r} is a file store, which MLflow 3 deprecates. "
            f"{_fix_hint(uri)}"
        )
    if scheme == "sqlite":
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else ""
        if path and path != ":memory:" and not Path(path).parent.is_dir():
            raise TrackingError(
                f"the MLflow tracking store {uri} is in folder {Path(path).parent}, which does "
                f"not exist. {_fix_hint(uri)}"
            )
    if scheme in ("http", "https"):
        port = parsed.port or (443 if scheme == "https" else 80)
        try:
            with socket.create_connection((parsed.hostname or "", port), _PROBE_TIMEOUT_S):
                pass
        except OSError as exc:
            raise TrackingError(
                f"the MLflow tracking server {uri} cannot be reached ({exc}). {_fix_hint(uri)}"
            ) from exc


@contextlib.contextmanager
def _no_http_retries() -> Iterator[None]:
    """MLflow reads its HTTP retry and timeout settings from the environment at request time;
    lower them while probing so a bad server fails in seconds, then restore them."""
    names = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _fix_hint(uri: str) -> str:
    return (
        "Unset MLFLOW_TRACKING_URI to use the project's SQLite store (sqlite:///<project>/"
        f"{DB_FILE}), or point it at a running server or an existing folder "
        f"(it is now {uri!r})."
    )


def _store_error(client: MlflowClient, action: str, exc: MlflowException) -> TrackingError:
    return TrackingError(
        f"could not {action} in the MLflow store {client.tracking_uri}: {_first_line(exc)}. "
        "Check that the store is reachable and writable (`mlflow ui` shows it)."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
