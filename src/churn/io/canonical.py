"""The canonical tables written by ``churn ingest``, read from a pipeline's files the way the
stages read them (see :class:`churn.kinds.Canonical` for what a pipeline kind asks of them)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from churn.engines.sql import ParquetTable, Table
from churn.io.customer_sample import CustomerSample, sample_rows
from churn.io.files import read_parquet, read_parquet_rows, require_parquet
from churn.io.paths import PipelinePaths
from churn.settings import FeatureSettings


@dataclass(frozen=True)
class CanonicalFiles:
    """``data/interim/<p>/canonical/*.parquet``, each read when asked for."""

    paths: PipelinePaths
    features: FeatureSettings
    """The feature settings of the stage (its engine no longer changes how events are read:
    DuckDB and Spark both read the parquet file)."""

    def frame(self, name: str) -> pd.DataFrame:
        """A canonical table in memory; says to run ``churn ingest`` if it is missing."""
        return read_parquet(self.paths.table(name))

    def optional(self, name: str, sample: CustomerSample | None = None) -> pd.DataFrame | None:
        """A canonical table in memory (only the rows of the ``sample``'s customers, if given),
        or None when the pipeline has none (e.g. customers)."""
        path = self.paths.table(name)
        if not path.is_file():
            return None
        return (
            read_parquet(path)
            if sample is None
            else read_parquet_rows(path, sample_rows(path, sample))
        )

    def events(self) -> Table:
        """The canonical events as the SQL engine reads them: the parquet file itself, scanned
        out of core by DuckDB or read by Spark's executors (a hundred million events never
        enter this process's memory)."""
        path = self.paths.table("events")
        require_parquet(path)
        return ParquetTable(path)
