"""Helpers shared by the stage modules: reading canonical tables written by ``churn ingest``."""

from __future__ import annotations

import pandas as pd

from churn import io
from churn.engines.sql import ParquetTable, Table
from churn.io.paths import PipelinePaths
from churn.settings import PipelineSettings


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


def events_table(settings: PipelineSettings, paths: PipelinePaths) -> Table:
    """The canonical events as the SQL engine reads them: on DuckDB the parquet file itself,
    scanned out of core (a hundred million events never enter memory); on Spark a frame."""
    path = paths.table("events")
    if settings.features.engine == "duckdb":
        io.require_parquet(path, stage_hint=f"churn ingest {paths.name}")
        return ParquetTable(path)
    return require_canonical(paths, "events")


def labels_and_features(paths: PipelinePaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``labels.parquet`` and ``features.parquet``, read once for the row selections below."""
    return (
        io.read_parquet(paths.labels, stage_hint=f"churn labels {paths.name}"),
        io.read_parquet(paths.features, stage_hint=f"churn features {paths.name}"),
    )
