"""An Excel workbook (.xlsx, .xlsm) read as a table of text cells, as a CSV is read.

Business exports often come as workbooks, sometimes one sheet per year with the same columns
(UCI's Online Retail II is one). ``sheet`` picks the sheet by name; ``*`` stacks every sheet,
which must then share the first sheet's header; by default the first sheet is read. Cells are
text as Excel shows them to pandas (a date cell as ``2009-12-01 07:45:00``, a whole number
without ``.0``), blanks missing; the input contract parses them as it parses a CSV's.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from churn.errors import InputDataError

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
ALL_SHEETS = "*"


def is_excel_name(path: str | Path) -> bool:
    return str(path).lower().endswith(EXCEL_SUFFIXES)


def is_workbook(path: Path) -> bool:
    """Whether ``path`` is an Office Open XML workbook (a zip holding ``xl/workbook.xml``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return "xl/workbook.xml" in archive.namelist()


def sheet_names(path: Path, *, name: str) -> list[str]:
    """The workbook's sheets in order. Raises InputDataError when it is not a workbook."""
    if str(path).lower().endswith(".xls"):
        raise InputDataError(
            f"{name}: an Excel 97-2003 workbook (.xls), which churn does not read; save it "
            "as .xlsx or CSV"
        )
    if not is_workbook(path):
        raise InputDataError(f"{name}: not a readable Excel workbook (.xlsx)")
    with pd.ExcelFile(path, engine="openpyxl") as book:
        return [str(n) for n in book.sheet_names]


def chosen_sheets(path: Path, sheet: str | None, *, name: str) -> list[str]:
    """The sheets ``sheet`` names: the first (None), one by name, or every one (``*``)."""
    names = sheet_names(path, name=name)
    if sheet is None:
        return names[:1]
    if sheet == ALL_SHEETS:
        return names
    if sheet not in names:
        raise InputDataError(f"{name}: no sheet {sheet!r}; the workbook has sheets {names}")
    return [sheet]


def read_sheets(
    path: Path,
    sheet: str | None,
    *,
    name: str,
    rows: int | None = None,
    columns: list[str] | None = None,
    skip_rows: int = 0,
) -> pd.DataFrame:
    """The chosen sheets stacked (their first ``rows`` rows each, or every row, after
    ``skip_rows`` rows above the header), every cell text or None, indexed 0, 1, .... Raises
    InputDataError naming a sheet whose header differs from the first's."""
    frames: list[pd.DataFrame] = []
    for sheet_name in chosen_sheets(path, sheet, name=name):
        frame = pd.read_excel(
            path,
            sheet_name=sheet_name,
            dtype=str,
            engine="openpyxl",
            nrows=rows,
            usecols=columns,
            skiprows=skip_rows,
        )
        header = [str(c) for c in frame.columns]
        if frames and header != [str(c) for c in frames[0].columns]:
            raise InputDataError(
                f"{name}: sheet {sheet_name!r} has columns {header}, the first sheet "
                f"{list(frames[0].columns)}; with sheet: '{ALL_SHEETS}' every sheet must share "
                "the first one's header. Name one sheet, or make them match."
            )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True).astype(object)
    return out.where(out.notna(), None)


def sheet_chunks(
    path: Path, sheet: str | None, *, name: str, rows: int | None, skip_rows: int = 0
) -> Iterator[pd.DataFrame]:
    """:func:`read_sheets` of every row, ``rows`` rows at a time (None: at once), each chunk
    indexed by its rows' 0-based positions. A workbook is read whole: Excel holds at most
    1,048,576 rows a sheet."""
    whole = read_sheets(path, sheet, name=name, skip_rows=skip_rows)
    if rows is None or len(whole) <= rows:
        yield whole
        return
    for start in range(0, len(whole), rows):
        yield whole.iloc[start : start + rows]


TITLE_ROWS_READ = 50
"""Rows of a sheet read to find its header."""


def title_rows(path: Path, sheet: str | None) -> int:
    """Rows above a sheet's header (a report's title and date, blank rows): the header is the
    first row with at least 80 % of the widest row's filled cells among the first
    :data:`TITLE_ROWS_READ`; 0 when that is the first row."""
    sheet_name: str | int = sheet if sheet not in (None, ALL_SHEETS) else 0
    top = pd.read_excel(
        path, sheet_name=sheet_name, header=None, nrows=TITLE_ROWS_READ, engine="openpyxl"
    )
    filled = top.notna().sum(axis=1).tolist()
    width = max(filled, default=0)
    if width < 2:
        return 0
    return next(i for i, n in enumerate(filled) if n >= 0.8 * width)
