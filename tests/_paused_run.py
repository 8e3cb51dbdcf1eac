"""Run ``churn`` in a child process that stops forever in the middle of one write, so a test
can kill it there with SIGKILL.

    python tests/_paused_run.py <marker file> <where> <churn arguments...>

``where`` is ``parquet:<text>``, ``booster:<text>``, ``bytes:<text>`` or ``staged:<text>``:
pause after writing half of a parquet file, xgboost model, raw file or file written in parts
(a CRM export, :class:`churn.io.files.StagedFiles`) whose path contains <text>.
The child creates the marker file when it pauses.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import xgboost as xgb

from churn.cli import app
from churn.io import StagedFiles


def pause(marker: str) -> None:
    Path(marker).touch()
    time.sleep(3600)


def half_written(marker: str, text: str, write: Any) -> Any:
    def wrapper(self: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        result = write(self, path, *args, **kwargs)
        target = self if isinstance(self, Path) else path  # Path.write_bytes(self, data)
        if text in str(target):
            os.truncate(target, os.path.getsize(target) // 2)
            pause(marker)
        return result

    return wrapper


def half_closed(marker: str, text: str, close: Any) -> Any:
    """The same for a file written row group by row group (``pq.ParquetWriter``, the streamed
    writes of ``churn.io.files.write_parquet_parts``): pause once it is closed."""

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = close(self, *args, **kwargs)
        target = str(self.where)
        if text in target:
            os.truncate(target, os.path.getsize(target) // 2)
            pause(marker)
        return result

    return wrapper


def half_staged(marker: str, text: str, append: Any) -> Any:
    """The same for a file staged in parts (``StagedFiles.append``): pause after its first."""

    def wrapper(self: Any, dest: Any, data: bytes) -> Any:
        result = append(self, dest, data)
        if text in str(dest):
            staged = self._staged[dest]
            os.truncate(staged, os.path.getsize(staged) // 2)
            pause(marker)
        return result

    return wrapper


def main() -> None:
    marker, where, *args = sys.argv[1:]
    kind, _, text = where.partition(":")
    if kind == "parquet":
        pd.DataFrame.to_parquet = half_written(marker, text, pd.DataFrame.to_parquet)  # type: ignore[method-assign]
        pq.ParquetWriter.close = half_closed(marker, text, pq.ParquetWriter.close)  # type: ignore[method-assign]
    elif kind == "bytes":
        Path.write_bytes = half_written(marker, text, Path.write_bytes)  # type: ignore[method-assign]
    elif kind == "staged":
        StagedFiles.append = half_staged(marker, text, StagedFiles.append)  # type: ignore[method-assign]
    elif kind == "booster":
        xgb.Booster.save_model = half_written(marker, text, xgb.Booster.save_model)  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown pause point {where!r}")
    sys.argv = ["churn", *args]  # what the lock file records as the holder's command
    app(args, prog_name="churn")


if __name__ == "__main__":
    main()
