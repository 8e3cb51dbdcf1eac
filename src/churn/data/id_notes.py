"""Ids written as whole numbers with a decimal point ('12697.0'), which every table keyed by
customer reads as their digits ('12697', :func:`churn.data.parsing.whole_number_ids`): how many
values of one source's id column were, and the log line that says so, naming the file and the
column. Pure: raw values in, counts and words out; the ingest stage logs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from churn.data.parsing import fractional_ids, whole_number_written
from churn.settings import SourceSettings

ID_ROLES = ("customer_id", "person_id")
"""The id columns a source may map that tables are joined on."""


@dataclass
class WrittenIds:
    """Counts over the values (every chunk) of one id column of one source."""

    whole_numbers: int = 0
    """Values written as a whole number with a decimal point ('12697.0'), read as digits."""
    fractions: int = 0
    """Values written as a number with a fraction ('3.1'), left as they are."""
    example: str | None = None
    """The first value counted in ``whole_numbers``, as the file writes it."""

    def count(self, values: pd.Series) -> None:
        """Add the raw id ``values`` of one chunk."""
        written = whole_number_written(values)
        n = int(written.sum())
        if n and self.example is None:
            self.example = str(values[written].iloc[0]).strip()
        self.whole_numbers += n
        self.fractions += fractional_ids(values)

    @property
    def doubtful(self) -> bool:
        """Whether the column also holds fractions: dotted codes ('3.0', '3.1') rather than
        numbers, whose '3.0' is no '3' in the user's records."""
        return bool(self.whole_numbers and self.fractions)

    def note(self, path: str, column: str) -> str | None:
        """The log line for ``column`` of file ``path``; None when no value was rewritten."""
        if not self.whole_numbers:
            return None
        example = self.example or "12697.0"
        digits = example.split(".", 1)[0]
        line = (
            f"{path}: column {column!r}: {self.whole_numbers:,} id(s) written as whole numbers "
            f"with a decimal point (e.g. {example!r}: a column of floats saved as text) were "
            f"read as their digits ({digits!r}), as every table keyed by customer reads them, "
            "so they match ids written without one"
        )
        if self.doubtful:
            line += (
                f"; {self.fractions:,} other id(s) of the column have a fraction (such as "
                "'3.1'): if the ids are dotted codes, not numbers, write them as text with a "
                "prefix so '3.0' stays '3.0'"
            )
        return line


def written_id_notes(
    raw_by_source: Sequence[tuple[SourceSettings, pd.DataFrame]],
) -> list[tuple[str, bool]]:
    """For each source whose id columns (:data:`ID_ROLES` it maps and has) hold ids written as
    whole numbers with a decimal point: the log line and whether it is doubtful
    (:attr:`WrittenIds.doubtful`), in source order."""
    notes = []
    for src, raw in raw_by_source:
        for role in ID_ROLES:
            column = src.columns.get(role)
            if column is None or column not in raw.columns:
                continue
            counts = WrittenIds()
            counts.count(raw[column])
            line = counts.note(src.path, column)
            if line is not None:
                notes.append((line, counts.doubtful))
    return notes
