"""Outputs as a team sharing a project folder, and a nightly run on a full or read-only disk,
need them: folders and files follow the umask (``tempfile`` alone makes them private), and a
disk that is full, read-only or not writable is exit code 9 with a message naming the output
and what to do, the previous outputs kept and nothing left behind."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churn import io
from churn.errors import OutputWriteError
from tests._project import PIPELINE, churn, leftovers, make_project, run_stages, snapshot

pytestmark = [
    # MLflow's SQL store warns once, when the first store is opened (see test_bad_inputs.py)
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process's umask for one test; the previous one is put back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes_under(folder: Path) -> tuple[set[int], set[int]]:
    """Permission bits of the folders (``folder`` included) and of the files under it."""
    paths = [folder, *folder.rglob("*")]
    return {mode(p) for p in paths if p.is_dir()}, {mode(p) for p in paths if p.is_file()}


def test_output_folders_and_files_follow_the_umask(
    tmp_path: Path, umask: Callable[[int], None]
) -> None:
    umask(0o022)
    root = make_project(tmp_path / "project")
    run_stages(root)
    for folder in ("data/interim/shop/canonical", "models/shop", "reports/shop"):
        assert modes_under(root / folder) == ({0o755}, {0o644}), folder
    assert mode(root / "data/interim/shop/labels.parquet") == 0o644


@pytest.mark.parametrize(
    ("mask", "folders", "files"), [(0o027, 0o750, 0o640), (0o002, 0o775, 0o664)]
)
def test_write_folder_and_files_take_the_umask_of_the_moment(
    tmp_path: Path, umask: Callable[[int], None], mask: int, folders: int, files: int
) -> None:
    umask(mask)

    def fill(folder: Path) -> None:
        io.write_json({"a": 1}, folder / "a.json")
        (folder / "sub").mkdir()
        io.write_bytes(b"x", folder / "sub" / "b.bin")

    io.write_folder(tmp_path / "out", fill)
    assert modes_under(tmp_path / "out") == ({folders}, {files})


# ---- full disk, read-only file system, folder not writable ------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project run through ingest, labels, features and train. Read-only: copy it."""
    root = make_project(tmp_path_factory.mktemp("trained"))
    run_stages(root)
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "project"))


def failing(code: int) -> Callable[..., Any]:
    """A writer method (path first) that writes part of the file and then fails with OSError
    ``code``, as a disk that fills up half way through."""

    def write(self: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError(code, os.strerror(code), str(path))

    return write


def refused_with_9(project: Path, stage: str, *fragments: str) -> str:
    before = snapshot(project)
    code, out = churn(project, stage)
    assert code == 9, out
    assert len([line for line in out.splitlines() if line.startswith("error:")]) == 1, out
    assert "Traceback" not in out and "bug in churn" not in out
    assert "The previous output is unchanged." in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"
    assert snapshot(project) == before
    assert leftovers(project) == []
    return out


def test_a_full_disk_keeps_the_previous_output_and_exits_9(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing(errno.ENOSPC))
    refused_with_9(
        project,
        "labels",
        f"{project}/data/interim/{PIPELINE}/labels.parquet: cannot be written (No space left on "
        "device): the disk is full: free some space on it, then run the command again.",
    )


def test_a_full_disk_while_a_folder_is_written_names_the_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: Any, folder: Path) -> None:
        (folder / "booster.ubj").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "booster.ubj"))

    monkeypatch.setattr("churn.modeling.model.ChurnModel.save", full)
    refused_with_9(project, "train", f"{project}/models/{PIPELINE}: cannot be written")


def test_a_read_only_file_system_exits_9(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: Any, dir: str | None = None, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system", dir)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    refused_with_9(
        project,
        "features",
        f"{project}/data/interim/{PIPELINE}/features.parquet: cannot be written (Read-only file "
        "system): the file system is read-only",
    )


def test_ingest_on_a_full_disk_exits_9_before_its_staging_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any, dir: str | None = None, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", dir)

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    refused_with_9(
        project,
        "ingest",
        f"{project}/data/interim/{PIPELINE}/canonical: cannot be written (No space left on "
        "device): the disk is full",
    )


def test_an_error_that_is_not_about_the_output_stays_what_it_is(tmp_path: Path) -> None:
    def fill(folder: Path) -> None:
        raise OSError(errno.EACCES, "Permission denied", "/somewhere/else/input.csv")

    with pytest.raises(OSError) as err:
        io.write_folder(tmp_path / "out", fill)
    assert not isinstance(err.value, OutputWriteError)
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def not_writable(folder: Path) -> Iterator[None]:
    """``folder`` made read-only for this process: mode 0555, or for root (whom modes do not
    stop) the immutable attribute, where ``chattr`` may set it."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], check=False).returncode:
        pytest.skip("root writes into read-only folders, and chattr +i is not available")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


@pytest.mark.parametrize(
    ("stage", "folder", "output"),
    [
        ("ingest", "data/interim/shop", "data/interim/shop/canonical"),
        ("labels", "data/interim/shop", "data/interim/shop/labels.parquet"),
        ("train", "models", "models/shop"),
        ("features", "data/interim/shop", "data/interim/shop/features.parquet"),
    ],
)
def test_a_folder_that_is_not_writable_exits_9(
    project: Path, stage: str, folder: str, output: str
) -> None:
    with not_writable(project / folder):
        refused_with_9(
            project, stage, f"{project}/{output}: cannot be written (", "permission denied: make "
        )
