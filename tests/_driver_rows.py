"""A guard for tests on Spark: count the rows every pyspark DataFrame hands to the driver, and
fail as soon as they pass a bound.

Wraps the DataFrame methods that bring rows into the driver's Python (``toPandas``,
``toArrow``, ``collect``, ``take``, ``tail``, ``head``, ``first``, ``toLocalIterator``). A
call made inside another (``first`` calls ``head``, ``head`` calls ``take``, ``take`` calls
``collect``) is counted once, by the outermost. Not seen: ``df.rdd`` actions (churn uses
none) and rows another process collects.

    with driver_rows(at_most=10) as seen:
        ...            # AssertionError at the first call that takes the total past 10
    seen.calls         # [("toArrow", 3), ...]
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql.classic.dataframe import DataFrame

COLLECTING = (
    "toPandas",
    "toArrow",
    "collect",
    "take",
    "tail",
    "head",
    "first",
    "toLocalIterator",
)
"""The DataFrame methods that hand rows to the driver."""


def rows_of(result: Any) -> int:
    """How many rows a collecting method returned: a frame's or Arrow table's length, a
    list's, one for a single Row, none for None."""
    if result is None:
        return 0
    if hasattr(result, "num_rows"):  # pyarrow.Table
        return int(result.num_rows)
    if isinstance(result, list) or hasattr(result, "shape"):  # Rows, pandas frame
        return len(result)
    return 1  # one Row (first(), head())


@dataclass
class DriverRows:
    """What reached the driver inside :func:`driver_rows`: ``(method, rows)`` per call."""

    at_most: int
    calls: list[tuple[str, int]] = field(default_factory=list)
    depth: int = 0

    @property
    def total(self) -> int:
        return sum(rows for _, rows in self.calls)

    def record(self, method: str, rows: int) -> None:
        self.calls.append((method, rows))
        if self.total > self.at_most:
            raise AssertionError(
                f"{method}() handed {rows:,} rows to the driver, {self.total:,} in all: "
                f"expected at most {self.at_most:,}. Calls so far: {self.calls}"
            )


def _counting(seen: DriverRows, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: DataFrame, *args: Any, **kwargs: Any) -> Any:
        seen.depth += 1
        try:
            result = method(self, *args, **kwargs)
        finally:
            seen.depth -= 1
        if seen.depth:  # inside another collecting call, which counts these rows
            return result
        if name == "toLocalIterator":
            return _counted_iterator(seen, result)
        seen.record(name, rows_of(result))
        return result

    return wrapper


def _counted_iterator(seen: DriverRows, rows: Iterator[Any]) -> Iterator[Any]:
    for row in rows:
        seen.record("toLocalIterator", 1)
        yield row


@contextlib.contextmanager
def driver_rows(*, at_most: int) -> Iterator[DriverRows]:
    """Count rows handed to the driver by any DataFrame while inside; raise AssertionError at
    the call that takes the total past ``at_most``. Restores the methods on exit."""
    seen = DriverRows(at_most)
    originals = {name: DataFrame.__dict__[name] for name in COLLECTING}
    try:
        for name, method in originals.items():
            setattr(DataFrame, name, _counting(seen, name, method))
        yield seen
    finally:
        for name, method in originals.items():
            setattr(DataFrame, name, method)
