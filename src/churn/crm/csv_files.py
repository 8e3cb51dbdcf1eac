"""A CSV import file written a batch at a time, in parts when its CRM takes no more at once.

The first batch writes the header (and Dynamics' byte-order mark), each later one only its rows,
so the batches appended one after another make the file that one batch of every row would.
With a :class:`churn.settings.FileLimit`, rows that would pass the limit start the next part
(``<name>_part1.csv``, ``<name>_part2.csv``, ...), each with the header; a dated copy, when
asked for, gets the whole file. The bytes go through :class:`churn.io.StagedFiles`, so nothing
is in place until the caller commits the set.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import pandas as pd

from churn import io
from churn.crm.writers import Target, export_bytes
from churn.io.paths import Output
from churn.settings import FileLimit

log = logging.getLogger("churn")


@dataclass
class Part:
    """One file of a :class:`CsvFile`: where it goes, its rows and its bytes so far."""

    dest: Output
    rows: int = 0
    size: int = 0


@dataclass
class CsvFile:
    """One CSV file written a batch at a time: the first batch's header (and Dynamics'
    byte-order mark) once, then each batch's rows. With a ``limit``, a file that would pass it
    is written in parts (``<name>_part1.csv``, ``<name>_part2.csv``, ...), each with the
    header and none over the limit; ``copy``, when given, gets the whole file."""

    dest: Output
    target: Target
    limit: FileLimit = field(default_factory=FileLimit)
    copy: Output | None = None
    header: bytes | None = None
    rows: int = 0
    parts: list[Part] = field(default_factory=list)

    def add(self, staged: io.StagedFiles, frame: pd.DataFrame) -> bytes:
        """Append ``frame``'s rows; returns them as a file of their own (with the header)."""
        data = export_bytes(frame, self.target)
        if self.header is None:
            self.header = export_bytes(frame.iloc[:0], self.target)
        body = self._body(data)
        if self.copy is not None:
            staged.append(self.copy, body if self.parts else data)
        self._place(staged, frame, body)
        self.rows += len(frame)
        return data

    def files(self) -> list[str]:
        """The names of the file's parts (one: the file itself)."""
        return [part.dest.name for part in self.parts]

    def _body(self, data: bytes) -> bytes:
        """``data`` (rows with the header) without the header."""
        assert self.header is not None and data.startswith(self.header), f"{self.dest}: header"
        return data[len(self.header) :]

    def _place(self, staged: io.StagedFiles, frame: pd.DataFrame, body: bytes) -> None:
        """Append rows to the last part, or to a new one when they would pass the limit;
        rows that do not fit together are split in halves until they do."""
        if not self.parts:
            self._new_part(staged)
        part = self.parts[-1]
        if not self._fits(part, len(frame), len(body)):
            if len(frame) > 1:
                half = len(frame) // 2
                for piece in (frame.iloc[:half], frame.iloc[half:]):
                    self._place(staged, piece, self._body(export_bytes(piece, self.target)))
                return
            if part.rows:  # a row alone that does not fit beside the others: a new part
                self._new_part(staged)
                part = self.parts[-1]
        staged.append(part.dest, body)
        part.rows += len(frame)
        part.size += len(body)

    def _fits(self, part: Part, rows: int, size: int) -> bool:
        most_rows, megabytes = self.limit.rows, self.limit.megabytes
        return (most_rows is None or part.rows + rows <= most_rows) and (
            megabytes is None or part.size + size <= megabytes * 1e6
        )

    def _new_part(self, staged: io.StagedFiles) -> None:
        """Start the next part (the first is the file itself until a second is needed)."""
        assert self.header is not None
        if len(self.parts) == 1:
            first = self.parts[0]
            first.dest = self._part_dest(1)
            staged.rename(self.dest, first.dest)
        dest = self.dest if not self.parts else self._part_dest(len(self.parts) + 1)
        staged.append(dest, self.header)
        self.parts.append(Part(dest, size=len(self.header)))

    def _part_dest(self, number: int) -> Output:
        return self.dest.with_name(f"{self.dest.stem}_part{number}.csv")

    def finish(self, staged: io.StagedFiles) -> dict[str, int]:
        """Rows per file written (a part each, under its name without ``.csv``); the earlier
        export's parts (or whole file) that this one does not write are deleted with the
        commit."""
        if len(self.parts) > 1:
            limits = [f"{self.limit.rows:,} rows"] if self.limit.rows else []
            limits += [f"{self.limit.megabytes:g} MB"] if self.limit.megabytes else []
            log.info(
                "%s: %s rows in %s files, as its CRM imports at most %s per file "
                "(export.file_limits.%s)",
                self.dest.name,
                f"{self.rows:,}",
                len(self.parts),
                " and ".join(limits),
                self.target,
            )
        written = {part.dest.name for part in self.parts}
        pattern = re.compile(rf"{re.escape(self.dest.stem)}(_part\d+)?\.csv")
        for path in sorted(self.dest.parent.glob(f"{self.dest.stem}*.csv")):
            if pattern.fullmatch(path.name) and path.name not in written:
                staged.remove(path)
        return {part.dest.stem: part.rows for part in self.parts}
