"""Which rows of ``features.parquet`` are the population the model was trained on (its train and
valid cutoffs, :data:`churn.monitoring.drift.TRAINING_SPLITS`), found by DuckDB from the two files
where they lie, so that neither the labels nor the whole feature table is read into memory."""

from __future__ import annotations

import numpy as np

from churn.engines.sql import ParquetTable, duckdb_session, quote_literal
from churn.monitoring.drift import TRAINING_SPLITS


def training_row_numbers(
    features: ParquetTable,
    labels: ParquetTable,
    *,
    threads: int | None = None,
    memory_limit: str = "4GB",
) -> np.ndarray:
    """Positions (0-based, ascending, int64) of the rows of ``features`` whose (customer_id,
    cutoff) is labelled with a training split in ``labels``: the rows
    :func:`churn.monitoring.drift.training_rows` keeps."""
    splits = ", ".join(quote_literal(s) for s in TRAINING_SPLITS)
    sql = f"""
    SELECT f.file_row_number AS row
    FROM read_parquet({quote_literal(features.path)}, file_row_number = true) AS f
    JOIN (
        SELECT DISTINCT customer_id, cutoff FROM labels WHERE CAST(split AS VARCHAR) IN ({splits})
    ) AS l ON f.customer_id = l.customer_id AND f.cutoff = l.cutoff
    ORDER BY row
    """
    with duckdb_session({"labels": labels}, threads=threads, memory_limit=memory_limit) as con:
        rows = con.sql(sql).fetchnumpy()["row"]
    return np.asarray(rows, dtype="int64")
