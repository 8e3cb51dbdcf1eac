"""Helpers shared by the stage modules: reading canonical tables written by ``churn ingest``."""

from __future__ import annotations

import pandas as pd

from churn import io
from churn.paths import PipelinePaths


def read_canonical(
    paths: PipelinePaths, name: str, *, required: bool = True
) -> pd.DataFrame | None:
    """A canonical table, or None when it is optional and absent."""
    path = paths.table(name)
    if not path.is_file() and not required:
        return None
    return io.read_parquet(path, stage_hint=f"churn ingest {paths.name}")


def require_canonical(paths: PipelinePaths, name: str) -> pd.DataFrame:
    frame = read_canonical(paths, name)
    assert frame is not None
    return frame
