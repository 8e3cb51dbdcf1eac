"""Two pipelines on one fresh SQLite MLflow store at once: both create the store's tables and
run its migrations, which failed one of them with exit 7; a store-wide lock serialises that,
and SQLite's "database is locked" is retried with backoff."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from churn.tracking.store import is_busy, retry_busy, sqlite_path
from tests._project import subprocess_env

ROUNDS = 20
WAIT_S = 300  # generous: the machine is shared; only a hang waits this long


PIPELINE = """
import sys, time
from pathlib import Path
from churn.tracking.store import Tracker

root, name, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(rounds):
    folder = root / f"store-{i}"
    while not (folder / "go").exists():
        time.sleep(0.002)
    try:
        tracker = Tracker.from_environment(folder, {})
        run = tracker.client.create_run(tracker.experiment(name))
        tracker.client.log_metric(run.info.run_id, "roc_auc", 0.8)
        tracker.client.set_terminated(run.info.run_id)
        outcome = "ok"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    # written whole, then renamed: the parent waits for the file and must never read it empty
    (folder / f"{name}.done.tmp").write_text(outcome)
    (folder / f"{name}.done.tmp").replace(folder / f"{name}.done")
"""


@pytest.mark.slow  # about two minutes on two shared cores: twenty fresh stores, each migrated
def test_two_pipelines_opening_a_fresh_store_at_once_both_succeed_twenty_times(
    tmp_path: Path,
) -> None:
    """Each round starts both pipelines on a store that does not exist yet, at the same
    moment (the children are already running and only wait for the go file)."""
    for i in range(ROUNDS):
        (tmp_path / f"store-{i}").mkdir()
    env = {k: v for k, v in subprocess_env().items() if k != "MLFLOW_TRACKING_URI"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", PIPELINE, str(tmp_path), name, str(ROUNDS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("retail", "telco")
    ]
    results = []
    try:
        for i in range(ROUNDS):
            folder = tmp_path / f"store-{i}"
            (folder / "go").touch()
            deadline = time.monotonic() + WAIT_S
            done = [folder / "retail.done", folder / "telco.done"]
            while not all(p.exists() for p in done):
                assert time.monotonic() < deadline, f"round {i} hung"
                assert all(c.poll() is None for c in children), "a child died"
                time.sleep(0.01)
            results.append([p.read_text() for p in done])
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.communicate()
    failures = [(i, r) for i, r in enumerate(results) if r != ["ok", "ok"]]
    assert failures == []
    assert all((tmp_path / f"store-{i}/mlflow.db.lock").exists() for i in range(ROUNDS))


def test_busy_errors_are_retried_with_backoff_and_others_are_not() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def busy_twice() -> str:
        calls.append(1)
        if len(calls) <= 2:
            try:
                raise sqlite3.OperationalError("database is locked")
            except sqlite3.OperationalError as exc:
                raise MlflowException("(sqlite3.OperationalError) database is locked") from exc
        return "done"

    assert retry_busy(busy_twice, delays=(0.1, 0.2, 0.4), sleep=waits.append) == "done"
    assert waits == [0.1, 0.2]

    def broken() -> None:
        raise MlflowException("RESOURCE_DOES_NOT_EXIST")

    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        retry_busy(broken, delays=(0.1,), sleep=waits.append)
    assert waits == [0.1, 0.2]

    def always_busy() -> None:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        retry_busy(always_busy, delays=(0.1, 0.2), sleep=waits.append)
    assert waits == [0.1, 0.2, 0.1, 0.2]


def test_busy_is_found_through_the_exception_chain() -> None:
    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as inner:
            raise MlflowException("could not log") from inner
    except MlflowException as outer:
        assert is_busy(outer)
    assert not is_busy(MlflowException("no such table"))


def test_only_sqlite_files_have_a_store_lock() -> None:
    assert sqlite_path("sqlite:////srv/mlflow.db") == Path("/srv/mlflow.db")
    assert sqlite_path("sqlite:////srv/mlflow.db?timeout=30") == Path("/srv/mlflow.db")
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("http://127.0.0.1:5000") is None
