"""Nothing left behind: the staging folders of a killed ingest are removed by the next ingest,
DuckDB spill folders by their own run on exit (SIGTERM included) and, after SIGKILL, by the
next run once they are stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from filelock import FileLock

from churn.engines import spill
from churn.engines.sql import duckdb_session
from tests._project import PIPELINE, churn, leftovers, make_project, subprocess_env

MARKER_WAIT_S = 120  # generous: the machine is shared; only a hang ever waits this long
HOUR_AGO = time.time() - 2 * 3600

PAUSED_IN_DUCKDB = """
import sys, time
from pathlib import Path
import churn.stages.ingest as ingest
from churn.cli import app

marker, *args = sys.argv[1:]
real = ingest.kept_rows_sql

def paused(settings):  # called inside the DuckDB session that stacks the cleaned chunks
    Path(marker).touch()
    time.sleep(3600)
    return real(settings)

ingest.kept_rows_sql = paused
app(args, prog_name="churn")
"""


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp directory of the test's own, for this process and its children."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def spill_folders(temp_dir: Path) -> list[str]:
    return sorted(p.name for p in temp_dir.glob(f"{spill.PREFIX}*"))


def paused_ingest(project: Path, temp_dir: Path) -> subprocess.Popen[str]:
    """``churn ingest`` in a child stopped inside its DuckDB session, after staging its chunks."""
    marker = project / "paused.marker"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSED_IN_DUCKDB,
            str(marker),
            "ingest",
            PIPELINE,
            "--project-dir",
            str(project),
        ],
        env={**subprocess_env(), "TMPDIR": str(temp_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + MARKER_WAIT_S
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"the child never paused (exit {proc.returncode}):\n{out}")
        time.sleep(0.05)
    marker.unlink()
    return proc


def end(proc: subprocess.Popen[str], signum: int) -> int:
    proc.send_signal(signum)
    proc.communicate(timeout=MARKER_WAIT_S)
    return proc.returncode


def test_a_killed_ingest_leaves_staging_and_spill_folders_that_the_next_runs_remove(
    tmp_path: Path, temp_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(tmp_path / "project")
    proc = paused_ingest(project, temp_dir)
    staging = sorted((project / "data/interim/shop").glob(".ingest-parts-*"))
    assert len(staging) == 1 and any(staging[0].iterdir())
    assert len(spill_folders(temp_dir)) == 1

    assert end(proc, signal.SIGKILL) == -signal.SIGKILL
    assert staging[0].exists() and len(spill_folders(temp_dir)) == 1  # nothing could run

    (killed,) = temp_dir.glob(f"{spill.PREFIX}*")
    os.utime(killed, (HOUR_AGO, HOUR_AGO))  # as if killed two hours ago
    spill._swept.discard(temp_dir)
    code, out = churn(project, "ingest")
    assert code == 0, out
    assert f"a previous ingest was interrupted: removed {staging[0]}" in caplog.text
    assert not staging[0].exists()
    assert leftovers(project) == []
    assert spill_folders(temp_dir) == []


def test_sigterm_ends_an_ingest_with_its_staging_and_spill_folders(
    tmp_path: Path, temp_dir: Path
) -> None:
    project = make_project(tmp_path / "project")
    proc = paused_ingest(project, temp_dir)
    assert len(spill_folders(temp_dir)) == 1

    assert end(proc, signal.SIGTERM) == 143

    assert spill_folders(temp_dir) == []
    assert leftovers(project) == []
    assert not list((project / "data/interim/shop").glob(".ingest-parts-*"))


def test_only_stale_spill_folders_of_dead_processes_are_removed(temp_dir: Path) -> None:
    fresh = temp_dir / f"{spill.PREFIX}fresh"
    dead = temp_dir / f"{spill.PREFIX}dead"
    live = temp_dir / f"{spill.PREFIX}live"
    unrelated = temp_dir / "someone-else"
    for folder in (fresh, dead, live, unrelated):
        folder.mkdir()
        (folder / "spill.tmp").write_bytes(b"x" * 100)
    holder = FileLock(live / ".in-use.lock")
    holder.acquire()  # a live process using it for over an hour
    for folder in (dead, live, unrelated):
        os.utime(folder, (HOUR_AGO, HOUR_AGO))
    try:
        removed = spill.remove_stale_spill_folders(temp_dir)
    finally:
        holder.release()
    assert removed == [dead]
    assert sorted(p.name for p in temp_dir.iterdir()) == sorted(
        [fresh.name, live.name, unrelated.name]
    )


def test_a_session_removes_its_spill_folder_and_the_first_one_sweeps_stale_ones(
    temp_dir: Path,
) -> None:
    stale = temp_dir / f"{spill.PREFIX}stale"
    stale.mkdir()
    os.utime(stale, (HOUR_AGO, HOUR_AGO))
    spill._swept.discard(temp_dir)
    with duckdb_session({}, memory_limit="64MB") as con:
        assert con.execute("SELECT 1").fetchall() == [(1,)]
        (inside,) = spill_folders(temp_dir)
        assert inside != stale.name
    assert spill_folders(temp_dir) == []
