"""Reading a user's file as it is: its format, text encoding and separator, a sample of its
rows as text, and one whole column (for the span of the timestamps).

I/O. A sample is every cell as the file spells it (blanks as empty strings), which is what
:mod:`churn.data.inference` guesses roles from.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow.parquet as pq

from churn.data.inference import names_a_role
from churn.errors import InputDataError
from churn.io.excel_sheets import (
    ALL_SHEETS,
    is_excel_name,
    is_workbook,
    read_sheets,
    sheet_names,
    title_rows,
)
from churn.io.files import parquet_file
from churn.io.json_records import is_json_name, json_record_chunks, json_sample

SEPARATORS = ",;\t|"
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
"""Tried in order; a file that starts with a byte order mark is utf-8-sig (or utf-16, whose
mark says its byte order)."""
SAMPLE_ROWS = 5000
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFormat:
    """How to read one file: what ``SourceSettings`` calls format, separator and encoding."""

    format: Literal["csv", "parquet", "json", "excel"]
    separator: str = ","
    encoding: str = "utf-8"
    sheet: str | None = None
    """excel: the sheet by name (``*``: every sheet, stacked); None: the first."""
    sheets: tuple[str, ...] = ()
    """excel: every sheet of the workbook."""
    decimal: str = "."
    """The decimal mark of its numbers (:func:`churn.data.inference.decimal_mark`)."""
    skip_rows: int = 0
    """csv: lines before the header (:func:`preamble_lines`); excel: rows above the header
    (:func:`churn.io.excel_sheets.title_rows`)."""


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def text_encoding(path: Path) -> str:
    """The encoding its byte order mark names (utf-8-sig; utf-16 for Excel's "Unicode text"
    and other UTF-16 exports), utf-16-le or -be for UTF-16 without a mark (a zero byte beside
    each ASCII character), else the first of :data:`ENCODINGS` that decodes the whole file."""
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if (wide := _utf16_without_mark(head)) is not None:
        return wide
    for encoding in ENCODINGS:
        if encoding != "utf-8-sig" and _decodes(path, encoding):
            if encoding == "utf-8":
                return encoding
            return _east_asian(path, head) or encoding
    return "latin-1"  # pragma: no cover - latin-1 decodes any byte


EAST_ASIAN_ENCODINGS = ("big5", "gb18030", "shift_jis", "euc_kr")
"""Encodings of Chinese, Japanese and Korean exports that are not UTF-8 (Ta-Feng's original
``D11`` files are Big5), tried when a header's bytes are mostly not ASCII."""


def _east_asian(path: Path, head: bytes) -> str | None:
    """The first of :data:`EAST_ASIAN_ENCODINGS` under which the header's non-ASCII names
    read as a customer, a time or money (``顧客編號``, ``交易日期``) and the whole file
    decodes; None when the header is (nearly) ASCII or none does. Read as Windows-1252, such a
    header is mojibake no flag can name."""
    line = head.split(b"\n", 1)[0]
    if sum(b >= 0x80 for b in line) < MIN_HIGH_BYTES:
        return None
    for encoding in EAST_ASIAN_ENCODINGS:
        try:
            header = line.decode(encoding)
        except UnicodeDecodeError:
            continue
        fields = [f for f in re.split(r"[,;\t|]", header) if not f.isascii()]
        if any(names_a_role(f) for f in fields) and _decodes(path, encoding):
            return encoding
    return None


MIN_HIGH_BYTES = 4
"""Fewest bytes above 127 in a header line for other encodings than Windows-1252 to be tried:
two characters of Chinese, more than a French or German header's accents."""


def _utf16_without_mark(head: bytes) -> str | None:
    """utf-16-le or utf-16-be when every other byte of ``head`` is zero (ASCII text written
    two bytes a character), else None. Text in UTF-8 or a one-byte encoding has no zero
    bytes."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    odd, even = head[1 : 2 * pairs : 2], head[0 : 2 * pairs : 2]
    if odd.count(0) >= 0.9 * pairs and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= 0.9 * pairs and odd.count(0) == 0:
        return "utf-16-be"
    return None


def separator(head: str) -> str:
    """The field separator of CSV text: ``csv.Sniffer`` among ``, ; tab |``, else the one that
    splits the first lines into the same, largest number of fields."""
    lines = [line for line in head.splitlines()[:50] if line.strip()]
    if not lines:
        raise InputDataError("the file is empty: no header row to read")
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=SEPARATORS).delimiter
    except csv.Error:
        pass
    counts = {s: [line.count(s) for line in lines] for s in SEPARATORS}
    steady = {s: c[0] for s, c in counts.items() if c[0] > 0 and len(set(c)) == 1}
    return max(steady or {",": 0}, key=lambda s: steady.get(s, 0))


def file_format(path: Path) -> FileFormat:
    """Format, encoding and separator of ``path``. Raises InputDataError if it is missing."""
    if not path.is_file():
        raise InputDataError(f"{path}: no such file")
    if _is_parquet(path):
        return FileFormat("parquet")
    if is_excel_name(path) or path.suffix.lower() == ".xls" or is_workbook(path):
        return _workbook_format(path)
    encoding = text_encoding(path)
    if is_json_name(path) or _starts_as_json(path, encoding):
        return FileFormat("json", encoding=encoding)
    with path.open("rb") as f:
        head = f.read(64 * 1024).decode(encoding, errors="ignore")
    skip = preamble_lines(head)
    body = "\n".join(head.splitlines()[skip:])
    return FileFormat("csv", separator(body), encoding, skip_rows=skip)


MIN_PREAMBLE_CHECK = 5
"""Lines after a candidate header that must split as it does for the lines above it to be
taken as a preamble."""


def preamble_lines(head: str) -> int:
    """Lines before the header of CSV text (a report's title and date, ``#`` comments, blank
    lines): the header is the first line that splits into as many fields as the lines after it
    do and fills more than half of them (a title padded with separators fills one), for the
    separator of ``, ; tab |`` that splits those lines into the most fields (a decimal comma
    in ``;``-separated text splits them into fewer). 0 when the first line is the header."""
    lines = head.splitlines()[:200]
    if len(lines) < 2:
        return 0
    found: list[tuple[int, int]] = []  # (width, header line) per separator
    for sep in SEPARATORS:
        fields = [next(csv.reader([line], delimiter=sep), []) for line in lines]
        counts = [len(f) for f in fields]
        body = counts[len(counts) // 2 :]
        width = max(set(body), key=body.count)
        if width < 2 or body.count(width) < 0.9 * len(body):
            continue
        header = next(
            (
                i
                for i, n in enumerate(counts)
                if n == width
                and _names_most(fields[i])
                and all(c == width for c in counts[i : i + MIN_PREAMBLE_CHECK])
            ),
            0,
        )
        found.append((width, header))
    return max(found, key=lambda f: f[0])[1] if found else 0


def _names_most(fields: list[str]) -> bool:
    """Whether a line could be a header: more than half its fields filled. A title Excel saved
    as CSV is padded to the table's width (``Export Ablesungen;;;;;;;;``): as many fields as
    the header, one of them filled."""
    return 2 * sum(1 for f in fields if f.strip()) > len(fields)


def _workbook_format(path: Path) -> FileFormat:
    """Excel, on every sheet when the sheets share the first one's header (one sheet per
    year or month), else on the sheet with the most rows (a data dictionary or notes sheet
    often comes first), named when it is not the first."""
    names = tuple(sheet_names(path, name=str(path)))
    headers = [list(pd.read_excel(path, sheet_name=n, nrows=0, engine="openpyxl")) for n in names]
    if len(names) > 1 and all(h == headers[0] for h in headers):
        return FileFormat(
            "excel", sheet=ALL_SHEETS, sheets=names, skip_rows=title_rows(path, names[0])
        )
    rows = _sheet_rows(path, names)
    largest = max(range(len(names)), key=lambda i: (rows[i], -i))
    sheet = names[largest] if largest else None
    return FileFormat("excel", sheet=sheet, sheets=names, skip_rows=title_rows(path, sheet))


def other_sheet_format(path: Path, used: FileFormat, customer_id: str) -> FileFormat:
    """The sheet of a workbook that the events do not read, for its customers table (one
    workbook given as both ``--events`` and ``--customers``, a Transactions and a Customers
    sheet): of the other sheets, those whose header names the events' ``customer_id``, else
    any, the one with the most rows. Raises InputDataError when the events read every sheet
    or the workbook has no other."""
    names = used.sheets or tuple(sheet_names(path, name=str(path)))
    taken = names[0] if used.sheet is None else used.sheet
    others = [n for n in names if n != taken]
    if used.sheet == ALL_SHEETS or not others:
        raise InputDataError(
            f"{path}: given as both the events and the customers table, but the events read "
            f"{'every sheet' if used.sheet == ALL_SHEETS else f'its only sheet {taken!r}'} "
            f"(sheets {list(names)}), so no sheet is left for the customers. Save the customers "
            "as a file of their own, or as a sheet with its own header."
        )
    headers = {
        n: [str(c).strip() for c in pd.read_excel(path, sheet_name=n, nrows=0, engine="openpyxl")]
        for n in others
    }
    keyed = [n for n in others if customer_id.strip() in headers[n]] or others
    rows = dict(zip(keyed, _sheet_rows(path, tuple(keyed)), strict=True))
    sheet = max(keyed, key=lambda n: (rows[n], -names.index(n)))
    return FileFormat("excel", sheet=sheet, sheets=names, skip_rows=title_rows(path, sheet))


def _sheet_rows(path: Path, names: tuple[str, ...]) -> list[int]:
    """Rows per sheet as the workbook records them (its dimension), or as read where it
    records none."""
    with pd.ExcelFile(path, engine="openpyxl") as book:
        recorded = [getattr(book.book[n], "max_row", None) for n in names]
    return [
        int(r) if r else len(pd.read_excel(path, sheet_name=n, usecols=[0], engine="openpyxl"))
        for r, n in zip(recorded, names, strict=True)
    ]


def _starts_as_json(path: Path, encoding: str) -> bool:
    """Whether the first line is a JSON object: JSON lines under another name."""
    with path.open(encoding=encoding, errors="ignore") as f:
        first = f.readline().strip().lstrip("\ufeff")
    if not first.startswith("{"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def _json(
    path: Path, fmt: FileFormat, rows: int | None, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    return json_record_chunks(
        path, name=str(path), encoding=fmt.encoding, rows=rows, columns=columns
    )


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype("string").fillna("").astype(object)


def read_sample(path: Path, fmt: FileFormat, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The first ``rows`` rows of ``path``, every cell as text, blanks as ''."""
    if fmt.format == "parquet":
        batches = parquet_file(path).iter_batches(batch_size=rows)
        first = next(batches, None)
        if first is None:
            return pd.DataFrame(columns=pq.read_schema(path).names)
        return _as_text(first.to_pandas())
    if fmt.format == "json":
        return _as_text(json_sample(path, name=str(path), encoding=fmt.encoding, rows=rows))
    if fmt.format == "excel":
        return _as_text(
            read_sheets(path, fmt.sheet, name=str(path), rows=rows, skip_rows=fmt.skip_rows)
        )
    header = _read_csv(path, fmt, nrows=1, header=None)
    names = [str(n) for n in header.iloc[0]] if len(header) else []
    if data := data_cells(names):
        raise InputDataError(
            f"{path}: the first line holds data, not column names ({', '.join(map(repr, data))} "
            "read as values), so the file seems to have no header line. Add one naming the "
            "columns (e.g. user_id, timestamp, ...) as its first line, then run churn init again."
        )
    if repeated := sorted({n for n in names if names.count(n) > 1 and n.strip()}):
        raise InputDataError(
            f"{path}: the header names column(s) {repeated} more than once; churn cannot tell "
            "them apart (nor can ingest). Rename or remove the repeated column(s) in the file."
        )
    return _as_text(_read_csv(path, fmt, nrows=rows))


_DATA_CELL = re.compile(
    r"^(\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?"
    r"|-?\d+\.\d+"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
    re.I,
)
"""A cell no header names a column by: a date or time, a decimal number, a UUID."""


def data_cells(names: list[str]) -> list[str]:
    """The cells of a file's first line that read as data (a date, a time, a decimal number,
    a UUID): a file without a header line (Last.fm's listening logs), whose first row would
    otherwise name its columns and be lost."""
    return [n for n in names if _DATA_CELL.match(n.strip())]


def _read_csv(path: Path, fmt: FileFormat, **options: Any) -> pd.DataFrame:
    """``path`` as the sniffed ``fmt`` says, every cell as text, blanks as ''."""
    try:
        frame: pd.DataFrame = pd.read_csv(
            path,
            sep=fmt.separator,
            encoding=fmt.encoding,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            skiprows=fmt.skip_rows,
            **options,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"{path}: not a readable CSV file: {exc}") from exc
    return frame


def read_column(path: Path, fmt: FileFormat, column: str) -> pd.Series:
    """Every value of one column, as text."""
    if fmt.format == "parquet":
        values = pq.read_table(path, columns=[column]).column(0).to_pandas()
    elif fmt.format == "excel":
        values = read_sheets(
            path, fmt.sheet, name=str(path), columns=[column], skip_rows=fmt.skip_rows
        )[column]
    elif fmt.format == "json":
        values = pd.concat([chunk[column] for chunk in _json(path, fmt, 1_000_000, [column])])
    else:
        values = _read_csv(path, fmt, usecols=[column])[column]
    text: pd.Series = values.astype("string").fillna("").astype(object)
    return text
