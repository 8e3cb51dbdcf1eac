"""The folders DuckDB spills to beyond its memory limit (``<temp dir>/churn-duckdb-*``): one per
session, removed when the session closes, at exit (an exception, ``sys.exit`` or, through the
CLI, SIGTERM) if it never closed, and, when its process was killed outright (SIGKILL, a power
cut), by the next process that opens one.

A folder in use holds a kernel lock on ``.in-use.lock`` inside it, which dies with its
process, so a folder is stale when nobody holds that lock and it has not changed for
``STALE_AFTER_S`` seconds. Another user's folders, which this process cannot lock or delete,
are left alone.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path

from filelock import FileLock, Timeout

PREFIX = "churn-duckdb-"
STALE_AFTER_S = 3600.0
"""A spill folder untouched this long whose process is gone is removed by the next run."""
_IN_USE = ".in-use.lock"

_open: dict[Path, FileLock] = {}
_swept: set[Path] = set()


def open_spill_folder() -> Path:
    """A new private spill folder in the temp directory, marked in use by this process. The
    first call for a temp directory removes the stale folders in it."""
    root = Path(tempfile.gettempdir())
    if root not in _swept:
        _swept.add(root)
        remove_stale_spill_folders(root)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    lock = FileLock(folder / _IN_USE)
    lock.acquire(timeout=0)  # a folder just made: nobody else can hold it
    _open[folder] = lock
    return folder


def close_spill_folder(folder: Path) -> None:
    """Remove ``folder`` (made by :func:`open_spill_folder`) and everything DuckDB left in it."""
    lock = _open.pop(folder, None)
    shutil.rmtree(folder, ignore_errors=True)
    if lock is not None:
        lock.release()


@atexit.register
def _close_all() -> None:
    for folder in list(_open):
        close_spill_folder(folder)


def remove_stale_spill_folders(
    root: Path, *, older_than_s: float = STALE_AFTER_S, now: float | None = None
) -> list[Path]:
    """Remove the spill folders under ``root`` that no live process holds and that have not
    changed for ``older_than_s`` seconds; return them."""
    now = time.time() if now is None else now
    removed = []
    for folder in sorted(root.glob(f"{PREFIX}*")):
        try:
            if folder.is_symlink() or not folder.is_dir():
                continue
            if now - folder.stat().st_mtime < older_than_s:
                continue
            lock = FileLock(folder / _IN_USE)
            lock.acquire(timeout=0)
        except (OSError, Timeout):  # in use, or another user's: not ours to remove
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            lock.release()
        if not folder.exists():
            removed.append(folder)
    return removed
