"""Where the MLflow tracking store lives and how to reach it: its URI, a checked client, the
experiment of a pipeline, and :class:`Tracker`, the one handle on the store a command passes
to the stages that use it.

Every call takes an explicit ``MlflowClient``; nothing here sets MLflow's global tracking URI or
active run, so two stores can be used in one process and tests need no patching. The store is
SQLite in the project (``mlflow.db``) with artifacts under ``mlartifacts/``; MLflow's file store
is deprecated in MLflow 3 and refused.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from filelock import FileLock, Timeout
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from churn.errors import TrackingError
from churn.tracking.relocation import relocate_store

log = logging.getLogger("churn")

DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"

_PROBE_TIMEOUT_S = 3.0
STORE_LOCK_TIMEOUT_S = 600.0
"""How long a command waits for another one creating or migrating the SQLite store."""
BUSY_RETRY_DELAYS_S = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0)
"""Waits between tries of a store call while SQLite says "database is locked" (about 26 s in
all, on top of SQLite's own 5 s wait per try)."""


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
    A SQLite store is created or migrated by one process at a time (:func:`store_lock`), and
    the client retries SQLite's "database is locked" (:class:`BusyRetryingClient`).
    """
    _check_reachable(uri)
    try:
        with _no_http_retries(), store_lock(uri), _quiet_sql_store():
            client = BusyRetryingClient(tracking_uri=uri, registry_uri=uri)
            # both stores create or migrate their tables when first opened: do it here
            client.search_experiments(max_results=1)
            client.search_registered_models(max_results=1)
    except TrackingError:
        raise
    except Exception as exc:  # MLflow raises many types here (sqlalchemy, requests, ...)
        raise TrackingError(
            f"the MLflow tracking store {uri} does not answer ({type(exc).__name__}: "
            f"{first_line(exc)}). {_fix_hint(uri)}"
        ) from exc
    return client


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for other stores and in-memory ones."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return None if not path or path == ":memory:" else Path(path)


@contextlib.contextmanager
def store_lock(uri: str, *, timeout: float = STORE_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the store-wide lock ``<database>.lock`` of a SQLite store while the block runs.

    Two processes opening a fresh store at once both create its tables and run its migrations,
    and one fails half-way (exit 7); under this lock the second finds the store ready. The lock
    is the kernel's, so it dies with its holder. Other stores (a server) need none."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    lock = FileLock(path.with_name(path.name + ".lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise TrackingError(
            f"the MLflow store {uri} is being created or migrated by another process, which "
            f"still holds {lock.lock_file} after {timeout:g} s. Wait for it to finish."
        ) from exc
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def run_ends(
    client: MlflowClient,
    run_id: str,
    what: str,
    *,
    on_failure: Callable[[BaseException], None] | None = None,
) -> Iterator[None]:
    """End run ``run_id`` FINISHED when the block does; when it raises, call ``on_failure`` (its
    own errors ignored) and end it FAILED, or KILLED when interrupted or terminated. A store
    failure is raised again as TrackingError naming ``what`` and the run."""
    try:
        yield
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
        status = RunStatus.KILLED if interrupted else RunStatus.FAILED
        if on_failure is not None:
            with contextlib.suppress(Exception):
                on_failure(exc)
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, RunStatus.to_string(status))
        if isinstance(exc, MlflowException):
            raise store_error(client, f"{what} {run_id}", exc) from exc
        raise


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is SQLite's "database is locked":
    another process was writing, nothing was done, and trying again is safe."""
    seen: BaseException | None = exc
    while seen is not None:
        if "database is locked" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_busy[T](
    call: Callable[[], T],
    *,
    delays: Sequence[float] = BUSY_RETRY_DELAYS_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again after each of ``delays`` seconds while SQLite is busy."""
    for delay in delays:
        try:
            return call()
        except Exception as exc:
            if not is_busy(exc):
                raise
        sleep(delay)
    return call()


class BusyRetryingClient(MlflowClient):
    """An ``MlflowClient`` whose public methods retry SQLite's "database is locked" with
    backoff (:func:`retry_busy`): two pipelines writing to one SQLite store at the same moment
    wait for each other instead of failing."""

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if name.startswith("_") or not callable(attr):
            return attr

        @functools.wraps(attr)
        def retried(*args: Any, **kwargs: Any) -> Any:
            return retry_busy(lambda: attr(*args, **kwargs))

        return retried


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


@dataclass(frozen=True)
class Tracker:
    """The project's tracking store: built once per command (by the CLI) and passed to the
    stages that log, register or load models, so none of them reads the environment.

    ``client`` connects on first use (a command that never needs the store, such as
    ``churn score --model <folder>``, never reaches it) and is then reused. The project's own
    SQLite store is first moved to this folder if it was copied or moved from another one
    (:mod:`churn.tracking.relocation`), so a copy never reads or writes the original.
    """

    project_dir: Path
    uri: str

    @classmethod
    def from_environment(cls, project_dir: Path, env: Mapping[str, str]) -> Tracker:
        """The store ``env['MLFLOW_TRACKING_URI']`` names, else ``<project_dir>/mlflow.db``."""
        return cls(project_dir, tracking_uri(project_dir, env))

    @cached_property
    def client(self) -> MlflowClient:
        """A client checked to answer (see :func:`connect`); TrackingError when it does not."""
        relocate_project_store(self.uri, self.project_dir)
        return connect(self.uri)

    def experiment(self, pipeline: str) -> str:
        """Id of the experiment ``churn-<pipeline>`` (see :func:`ensure_experiment`)."""
        return ensure_experiment(self.client, self.project_dir, pipeline)


def relocate_project_store(uri: str, project_dir: Path) -> None:
    """Move the artifact locations of ``uri`` into ``project_dir`` when ``uri`` is that
    project's own SQLite store and names another folder's (a copied or moved project), under
    the store lock (:func:`store_lock`) and before MLflow opens the store. Nothing to do for
    another store or one that does not exist yet."""
    db = sqlite_path(uri)
    if db is None or not db.is_file() or db.resolve() != (project_dir / DB_FILE).resolve():
        return
    with store_lock(uri):
        relocations = relocate_store(db, project_dir)
    for moved in relocations:
        log.info(
            "the MLflow store %s was copied from %s: %s stored location(s) now point into %s",
            db,
            moved.old_root,
            moved.rows,
            moved.new_root,
        )


def store_error(client: MlflowClient, action: str, exc: MlflowException) -> TrackingError:
    """A TrackingError saying which ``action`` failed in ``client``'s store, and what to check."""
    return TrackingError(
        f"could not {action} in the MLflow store {client.tracking_uri}: {first_line(exc)}. "
        "Check that the store is reachable and writable (`mlflow ui` shows it)."
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
def _quiet_sql_store() -> Iterator[None]:
    """MLflow's SQL store configures SQLAlchemy mappers with the deprecated ``noload`` strategy
    when first opened in a process: MLflow's to fix, not a churn user's, and fatal where
    warnings are errors (a test run, ``python -W error``), now that every ``churn train``
    opens the store."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The ``noload`` loader strategy", category=DeprecationWarning
        )
        yield


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
