"""A JSON file of records read as a table of text cells, as a CSV is read.

Event exports from web analytics, app backends and warehouses often come as JSON lines (one
object per line), as one array of objects, or as an API's answer: one object whose one list
of objects holds the records (``{"orders": [...]}``). Each object is a row; nested objects become
columns named by their path (``{"page": {"name": "Home"}}`` -> ``page.name``); a list stays
one cell, as its JSON text. Every cell is text, spelled as the file spells it (integers keep
every digit, so 17-digit ids stay exact; ``true``/``false`` as written; ``null`` is missing),
and the input contract parses the cells as it parses a CSV's. Types that change from row to
row (an id written as a number here and as text there) are therefore no error.

A key first seen late in the file is a column of every chunk: JSON lines are read twice, once
for the keys and once for the rows, so the chunks of one file share their columns (once, when
the caller names the columns it wants).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import pandas as pd

from churn.errors import InputDataError

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def is_json_name(path: str | Path) -> bool:
    """Whether the file's name says JSON: .json, .jsonl or .ndjson, gzipped or not."""
    name = str(path).lower().removesuffix(".gz")
    return name.endswith(JSON_SUFFIXES)


def _open(path: Path, encoding: str) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding)
    return path.open(encoding=encoding)


def _first_character(path: Path, encoding: str) -> str:
    with _open(path, encoding) as f:
        while chunk := f.read(4096):
            stripped = chunk.lstrip("\ufeff \t\r\n")
            if stripped:
                return stripped[0]
    return ""


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)  # a list: one cell, its JSON text


def _flat(record: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str | None]]:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flat(value, f"{name}.")
        else:
            yield name, _cell(value)


def _record(text: str, where: str) -> dict[str, str | None]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputDataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(value, dict):
        raise InputDataError(
            f"{where}: expected a JSON object (one record), found {type(value).__name__} "
            f"{text.strip()[:60]!r}"
        )
    return dict(_flat(value))


def _line_records(path: Path, name: str, encoding: str) -> Iterator[dict[str, str | None]]:
    with _open(path, encoding) as f:
        for number, line in enumerate(f, start=1):
            text = line.lstrip("\ufeff") if number == 1 else line
            if text.strip():
                yield _record(text, f"{name} line {number:,}")


def _document(path: Path, name: str, encoding: str) -> Any:
    """The file read as one JSON value; InputDataError naming where it is not valid JSON."""
    with _open(path, encoding) as f:
        try:
            return json.loads(f.read().lstrip("\ufeff"))
        except json.JSONDecodeError as exc:
            raise InputDataError(
                f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from exc


def _array_records(path: Path, name: str, encoding: str) -> list[dict[str, str | None]]:
    values = _document(path, name, encoding)
    records = []
    for position, value in enumerate(values):
        if not isinstance(value, dict):
            raise InputDataError(
                f"{name}: item {position:,} of the array is {type(value).__name__}, not a "
                "JSON object (one record)"
            )
        records.append(dict(_flat(value)))
    return records


def _wrapped(path: Path, name: str, encoding: str) -> list[Any] | None:
    """The records of a file that is one JSON object (pretty-printed or not): the one value of
    the object that is a list of objects (an API's ``{"orders": [{...}, ...]}``), else the
    object itself. None for JSON lines (the first line is a whole object and more follow)."""
    with _open(path, encoding) as f:
        lines = (line for line in f if line.strip())
        first, second = next(lines, ""), next(lines, None)
    try:
        json.loads(first.lstrip("\ufeff"))
        if second is not None:
            return None  # one object per line
    except json.JSONDecodeError:
        pass  # an object over several lines: one document
    document = _document(path, name, encoding)
    lists = [
        v
        for v in (document.values() if isinstance(document, dict) else ())
        if isinstance(v, list) and v and all(isinstance(item, dict) for item in v)
    ]
    return lists[0] if len(lists) == 1 else [document]  # no list of them: one record


def _frames(
    records: Iterator[dict[str, str | None]], columns: list[str], rows: int | None
) -> Iterator[pd.DataFrame]:
    offset, batch = 0, list[dict[str, str | None]]()

    def frame() -> pd.DataFrame:
        out = pd.DataFrame.from_records(batch, columns=columns).astype(object)
        out = out.where(out.notna(), None)
        out.index = pd.RangeIndex(offset, offset + len(out))
        return out

    for record in records:
        batch.append(record)
        if rows is not None and len(batch) == rows:
            yield frame()
            offset += len(batch)
            batch = []
    if batch or offset == 0:
        yield frame()


def _document_records(
    path: Path, name: str, encoding: str, first: str
) -> list[dict[str, str | None]] | None:
    """The records of a file that is one JSON document (an array of objects, or one object:
    :func:`_wrapped`), the file read once; None for JSON lines, read a line at a time."""
    if first == "[":
        return _array_records(path, name, encoding)
    wrapped = _wrapped(path, name, encoding) if first == "{" else None
    return None if wrapped is None else [dict(_flat(value)) for value in wrapped]


def json_sample(path: Path, *, name: str, encoding: str = "utf-8", rows: int) -> pd.DataFrame:
    """The first ``rows`` records of the JSON file, with the keys they hold (read no further):
    what ``churn init`` guesses roles from."""
    records = _document_records(path, name, encoding, _first_character(path, encoding))
    if records is None:  # JSON lines: read only the first rows
        records = list(islice(_line_records(path, name, encoding), rows))
    columns = list(dict.fromkeys(k for r in records for k in r))
    return next(_frames(iter(records), columns, rows))


def json_record_chunks(
    path: Path,
    *,
    name: str,
    encoding: str = "utf-8",
    rows: int | None = None,
    columns: list[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """The records of the JSON file ``path`` (``name`` in errors: the path as the params write
    it), ``rows`` at a time (None: all at once), every cell text or None, each chunk indexed
    by its rows' 0-based positions and holding every column of the file (or only
    ``columns``, missing where no record has them: then the file is read once). Raises
    InputDataError naming the line (or array item) that is not a JSON object."""
    first = _first_character(path, encoding)
    records = _document_records(path, name, encoding, first)
    if records is not None:
        if columns is None:
            columns = list(dict.fromkeys(k for r in records for k in r))
        yield from _frames(iter(records), columns, rows)
        return
    if first != "{":
        raise InputDataError(
            f"{name}: expected JSON records (one object per line, or an array of objects), "
            f"but the file starts with {first!r}" + ("" if first else " (nothing: it is empty)")
        )
    if columns is None:
        keys: dict[str, None] = {}
        for record in _line_records(path, name, encoding):
            keys.update(dict.fromkeys(record))
        columns = list(keys)
    yield from _frames(_line_records(path, name, encoding), columns, rows)
