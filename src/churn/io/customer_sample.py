"""A fixed sample of customers: what ``churn train`` reads on the driver when the labelled
rows would not fit there (``train.driver_customers``).

A customer is in the sample when the first 16 hex digits of the md5 of their id are at most
the sample's ``threshold``: the same customers on every read, every cutoff and every engine
(DuckDB, Spark SQL and Python's hashlib write md5 alike), so a customer's cutoffs stay together
and the backtest's folds keep their shape. The threshold is chosen so that exactly
``train.driver_customers`` customers of the labels are in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from churn.engines.sql import duckdb_session, quote_literal

HASH_DIGITS = 16
"""Hex digits of the md5 a customer is placed by: 64 bits, so two ids share a place about once
in 10^19 pairs."""

log = logging.getLogger("churn")


@dataclass(frozen=True)
class CustomerSample:
    """The ``customers`` (of ``of`` in the labels) whose id's md5 prefix is at most
    ``threshold``."""

    threshold: str
    customers: int
    of: int

    def where(self, column: str = "customer_id") -> str:
        """The SQL condition (DuckDB and Spark SQL alike) that keeps the sample's rows."""
        return f"{_placed(column)} <= {quote_literal(self.threshold)}"

    def keeps(self, ids: Iterable[object]) -> np.ndarray:
        """Whether each of ``ids`` is in the sample, in Python."""
        return np.array([place(str(i)) <= self.threshold for i in ids], dtype=bool)

    def summary(self) -> dict[str, object]:
        """What ``metrics.json`` records of the sample."""
        return {
            "customers": self.customers,
            "of_customers": self.of,
            "md5_prefix_at_most": self.threshold,
        }


def _placed(column: str) -> str:
    """:func:`place` of ``column`` in SQL (DuckDB and Spark SQL alike)."""
    return f"substr(md5(CAST({column} AS STRING)), 1, {HASH_DIGITS})"


def place(customer_id: str) -> str:
    """A customer's place in every sample: the first :data:`HASH_DIGITS` hex digits of the md5
    of their id (UTF-8)."""
    return hashlib.md5(customer_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:HASH_DIGITS]


def customer_sample(labels: Path, most: int | None) -> CustomerSample | None:
    """The sample of ``most`` customers of the labels file ``labels``, or None when it has no
    more than ``most`` customers (or ``most`` is None): then every row is read. DuckDB scans
    the file's ids out of core; no id list reaches pandas."""
    if most is None:
        return None
    source = f"read_parquet({quote_literal(str(labels))})"
    with duckdb_session({}) as con:
        row = con.execute(
            f"""
            WITH places AS (SELECT DISTINCT {_placed("customer_id")} AS place FROM {source})
            SELECT
                (SELECT COUNT(*) FROM places),
                (SELECT MAX(place) FROM (SELECT place FROM places ORDER BY place LIMIT {most}))
            """
        ).fetchone()
    assert row is not None  # an aggregate always has a row
    total, threshold = int(row[0]), row[1]
    if total <= most:
        return None
    log.info(
        "train.driver_customers %s: the driver reads the labelled rows of %s of the %s "
        "customers (a fixed sample by the md5 of their ids)",
        f"{most:,}",
        f"{most:,}",
        f"{total:,}",
    )
    return CustomerSample(str(threshold), most, total)


def sample_rows(path: Path, sample: CustomerSample, where: str | None = None) -> np.ndarray:
    """The 0-based positions, ascending, of the rows of parquet file ``path`` whose
    ``customer_id`` is in ``sample`` (and which the SQL condition ``where`` keeps, if given):
    what :func:`churn.io.files.read_parquet_rows` reads."""
    also = "" if where is None else f" AND ({where})"
    with duckdb_session({}) as con:
        positions = con.execute(
            f"""
            SELECT file_row_number
            FROM read_parquet({quote_literal(str(path))}, file_row_number = true)
            WHERE {sample.where()}{also}
            ORDER BY file_row_number
            """
        ).fetchnumpy()["file_row_number"]
    return np.asarray(positions, dtype="int64")
