"""Helpers shared by the stage modules: reading canonical tables written by ``churn ingest``."""

from __future__ import annotations

import pandas as pd

from churn.errors import PipelineStateError
from churn.paths import PipelinePaths


def read_canonical(
    paths: PipelinePaths, name: str, *, required: bool = True
) -> pd.DataFrame | None:
    """A canonical table, or None when it is optional and absent."""
    path = paths.table(name)
    if not path.is_file():
        if required:
            raise PipelineStateError(f"{path}: not found. Run `churn ingest {paths.name}` first.")
        return None
    return pd.read_parquet(path)


def require_canonical(paths: PipelinePaths, name: str) -> pd.DataFrame:
    frame = read_canonical(paths, name)
    assert frame is not None
    return frame
