"""The contact fields of a scored list's rows, in the list's order and a batch at a time, so
that ``churn export`` joins them to a list too large to hold (issue 17: 50 million customers).

DuckDB joins ``contact_fields.parquet`` to the list's ids out of core (within its memory limit,
spilling beyond it) and hands the result over in batches of exactly the size the list is read
in (:func:`churn.io.files.parquet_row_batches`), so the n-th batch of each holds the same
customers. A customer the customers table has no contact for gets empty fields; one it lists
twice, the last of its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from churn.engines.sql import DuckDbRunner, quote_identifier, quote_literal, result_batches

MEMORY_LIMIT = "1GB"
"""DuckDB's working memory for the join; what is beyond spills to disk."""


def contact_field_names(contacts: Path) -> list[str]:
    """The contact fields of ``contact_fields.parquet`` (its columns but ``customer_id``)."""
    return [n for n in pq.read_schema(contacts).names if n != "customer_id"]


def contact_batches(
    scores: Path, contacts: Path, *, where: str | None, rows: int
) -> Iterator[pd.DataFrame]:
    """``customer_id`` and every contact field of the rows of ``scores`` (only those whose
    boolean column ``where`` is true, when given), in the file's order, ``rows`` rows at a
    time (the last frame fewer; one empty frame when there are none). The fields are pandas'
    string dtype, as ``contact_fields.parquet`` holds them."""
    fields = contact_field_names(contacts)
    chosen = ", ".join(f"c.{quote_identifier(f)}" for f in fields)
    keep = "" if where is None else f"WHERE {quote_identifier(where)}"
    sql = f"""
        WITH c AS (
            SELECT * EXCLUDE (row_at) FROM (
                SELECT *, CAST(customer_id AS VARCHAR) AS id, file_row_number AS row_at
                FROM read_parquet({quote_literal(contacts)}, file_row_number = true)
                WHERE customer_id IS NOT NULL
            )
            QUALIFY row_number() OVER (PARTITION BY id ORDER BY row_at DESC) = 1
        ),
        s AS (
            SELECT CAST(customer_id AS VARCHAR) AS id, file_row_number AS row_at
            FROM read_parquet({quote_literal(scores)}, file_row_number = true)
            {keep}
        )
        SELECT s.id AS customer_id{", " if fields else ""}{chosen}
        FROM s LEFT JOIN c ON s.id = c.id
        ORDER BY s.row_at
    """
    runner = DuckDbRunner(memory_limit=MEMORY_LIMIT)
    for table in result_batches(runner, {}, sql, rows=rows):
        frame: pd.DataFrame = table.to_pandas()
        yield frame.astype({f: "string" for f in fields})
