"""One run at a time per pipeline: an exclusive lock on ``.churn/locks/<pipeline>.lock``.

The lock is the kernel's (``flock``, through filelock), so it dies with its holder, even one
killed by SIGKILL: there is never a stale lock to delete by hand. The file itself stays; it
holds the last holder's PID, host and command, which a refused run names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from filelock import FileLock, Timeout

from churn.errors import ConfigError, PipelineBusyError
from churn.validation import must_be

TIMEOUT_VARIABLE = "CHURN_LOCK_TIMEOUT"
"""Environment variable: seconds a run waits for a busy pipeline before giving up (default 0)."""


def _holder_record() -> str:
    command = " ".join(["churn", *sys.argv[1:]]) if sys.argv else "churn"
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()} ({command}, since {started})"


def _write_holder(fd: int) -> None:
    """Record who holds the lock in the lock file (filelock calls this once it holds it)."""
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (_holder_record() + "\n").encode())


def holder(lock_file: Path) -> str:
    """Who holds (or last held) ``lock_file``, as its holder recorded it."""
    try:
        text = lock_file.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "an unknown process"


@contextlib.contextmanager
def pipeline_lock(
    lock_file: Path,
    *,
    pipeline: str,
    timeout: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold ``lock_file`` for the block. When another process holds it, call ``on_wait`` with
    a description of the holder and wait up to ``timeout`` seconds; then raise
    PipelineBusyError naming the lock file and the holder."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_file, timeout=0, on_acquired=_write_holder)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if timeout <= 0:
            raise _busy(lock_file, pipeline, timeout) from None
        if on_wait is not None:
            on_wait(holder(lock_file))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise _busy(lock_file, pipeline, timeout) from None
    try:
        yield
    finally:
        lock.release()


def _busy(lock_file: Path, pipeline: str, timeout: float) -> PipelineBusyError:
    waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
    return PipelineBusyError(
        f"pipeline {pipeline!r} is busy{waited}: another run holds its lock {lock_file}, "
        f"held by {holder(lock_file)}. Wait for that run to finish, or set "
        f"{TIMEOUT_VARIABLE}=<seconds> to wait for it. The lock is released when its holder "
        "exits, even if it is killed."
    )


def lock_timeout(env: Mapping[str, str]) -> float:
    """Seconds to wait for a busy pipeline, from ``CHURN_LOCK_TIMEOUT`` (default 0: refuse)."""
    raw = env.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise ConfigError(must_be(TIMEOUT_VARIABLE, "a number of seconds, 0 or more", raw))
    return value
