"""Interrupted and concurrent runs: a run killed with SIGKILL in the middle of a write leaves
the previous outputs intact and the next run completes and cleans up; two runs of the same
pipeline never write at once, while different pipelines run side by side.

The killed run is a child process (``tests/_paused_run.py``) that stops forever in the middle of
one write and is then killed; nothing here depends on timing.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from churn.errors import PipelineBusyError
from churn.io import recover, write_folder
from tests._project import (
    PIPELINE,
    churn,
    leftovers,
    make_project,
    run_stages,
    snapshot,
    subprocess_env,
)

PAUSED_RUN = Path(__file__).with_name("_paused_run.py")
MARKER_WAIT_S = 120  # generous: the machine is shared; only a hang ever waits this long


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("interrupted"))
    run_stages(root)
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "project"))


def start_paused(project: Path, where: str, *args: str) -> subprocess.Popen[str]:
    """Start ``churn <args>`` in a child that pauses at ``where``; return once it has paused."""
    marker = project / "paused.marker"
    proc = subprocess.Popen(
        [sys.executable, str(PAUSED_RUN), str(marker), where, *args, "--project-dir", str(project)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + MARKER_WAIT_S
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"the child never reached {where} (exit {proc.returncode}):\n{out}")
        time.sleep(0.05)
    marker.unlink()
    return proc


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes a test starts; any still running at the end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_killed_mid_write_holds_off_a_second_run_keeps_the_old_file_and_the_next_run_cleans_up(
    project: Path, children: list[subprocess.Popen[str]]
) -> None:
    """One story, to start as few child processes as possible: run A stops half-way through
    writing features.parquet (holding the pipeline's lock); run B is refused, naming the lock
    and A's PID; another pipeline runs meanwhile; run C waits; A is killed with SIGKILL; the old
    features are intact; C then completes and removes A's temporary file."""
    make_project(project, name="other")
    features = project / "data/interim/shop/features.parquet"
    before = snapshot(project)
    holder = start_paused(project, "parquet:.features.parquet.", "features", PIPELINE)
    children.append(holder)

    code, out = churn(project, "features", env={"CHURN_LOCK_TIMEOUT": "0.2"})
    assert code == PipelineBusyError.exit_code == 8
    lock_file = project / ".churn/locks/shop.lock"
    assert f"another run holds its lock {lock_file}, held by pid {holder.pid} on" in out
    assert "(churn features shop --project-dir" in out
    assert "CHURN_LOCK_TIMEOUT" in out and "Traceback" not in out
    assert snapshot(project) == before

    code, out = churn(project, "ingest", name="other")  # another pipeline is not held up
    assert code == 0, out

    waiter = subprocess.Popen(
        [sys.executable, "-m", "churn.cli", "features", PIPELINE, "--project-dir", str(project)],
        env={**subprocess_env(), "CHURN_LOCK_TIMEOUT": "600"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    children.append(waiter)
    assert waiter.stdout is not None
    lines = []
    for line in waiter.stdout:  # until it says it waits (or exits, failing the next assert)
        lines.append(line)
        if "waiting for the lock" in line:
            break
    assert f"(pid {holder.pid} on" in lines[-1], lines
    assert features.read_bytes() == before["data/interim/shop/features.parquet"][0]
    (temp,) = leftovers(project)
    assert temp.startswith("data/interim/shop/.features.parquet.") and temp.endswith(".tmp")

    kill(holder)

    assert features.read_bytes() == before["data/interim/shop/features.parquet"][0]
    lines += waiter.stdout.readlines()
    assert waiter.wait() == 0, "".join(lines)
    assert leftovers(project) == []
    assert features.read_bytes() == before["data/interim/shop/features.parquet"][0]


def test_killed_while_writing_the_model_keeps_the_old_model_and_the_next_run_cleans_up(
    project: Path, children: list[subprocess.Popen[str]]
) -> None:
    before = snapshot(project)
    proc = start_paused(project, "booster:booster.ubj", "train", PIPELINE)
    children.append(proc)

    kill(proc)

    assert snapshot(project) == before
    (staging,) = leftovers(project)
    assert staging.startswith("models/.shop.")
    code, out = churn(project, "train")
    assert code == 0, out
    assert leftovers(project) == []
    models = {k: v[0] for k, v in snapshot(project).items() if k.startswith("models/")}
    assert models == {k: v[0] for k, v in before.items() if k.startswith("models/")}


def test_killed_while_writing_scores_or_an_export_keeps_the_old_ones(
    project: Path, children: list[subprocess.Popen[str]]
) -> None:
    model = ["--model", str(project / "models" / PIPELINE)]
    assert churn(project, "score", *model)[0] == 0
    assert churn(project, "export", "--target", "generic")[0] == 0

    def outputs() -> dict[str, tuple[bytes, int]]:
        # history/ gets a complete copy of each list before scores.parquet is written
        return {k: v for k, v in snapshot(project).items() if "/history/" not in k}

    before = outputs()
    children.append(start_paused(project, "parquet:.scores.parquet.", "score", PIPELINE, *model))
    kill(children[-1])
    assert outputs() == before
    where = "staged:generic.csv"
    children.append(start_paused(project, where, "export", PIPELINE, "--target", "generic"))
    kill(children[-1])
    assert outputs() == before
    assert len(leftovers(project)) == 2  # the two half-written temporary files

    code, out = churn(project, "score", *model)
    assert code == 0, out
    code, out = churn(project, "export", "--target", "generic")
    assert code == 0, out
    assert leftovers(project) == []


def test_a_folder_swap_cut_between_its_two_renames_is_put_back_by_the_next_run(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """write_folder parks the old folder as .<name>.old, then renames the new one in. A kill
    between the two leaves exactly this state (no model folder, a parked one, a staging one);
    any stage of the pipeline puts the old folder back before it starts."""
    model = project / "models/shop"
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    model.rename(project / "models/.shop.old")
    shutil.copytree(project / "models/.shop.old", project / "models/.shop.k1ll3d_x")

    code, out = churn(project, "labels")

    assert code == 0, out
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
    assert leftovers(project) == []
    assert "a previous run was interrupted: restored" in caplog.text


def test_recover_removes_leftovers_and_keeps_a_finished_folder(tmp_path: Path) -> None:
    dest = tmp_path / "model"
    write_folder(dest, lambda folder: (folder / "a.txt").write_text("new"))
    (tmp_path / ".model.old").mkdir()
    (tmp_path / ".model.abcd_123").mkdir()
    (tmp_path / ".model.zzzzzzzz.tmp").write_text("half")
    (tmp_path / ".modelx.zzzzzzzz.tmp").write_text("someone else's")

    actions = recover(dest)

    assert len(actions) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".modelx.zzzzzzzz.tmp", "model"]
    assert (dest / "a.txt").read_text() == "new"
