"""Problems found in the input data, collected over every source and chunk, raised at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from churn.errors import ContractViolation, Problem


@dataclass
class Problems:
    """Problems collected over every source (and chunk), raised at once (``raise_if_any``)."""

    items: list[Problem] = field(default_factory=list)

    def add(self, source: str, column: str, rule: str, bad: pd.Series | None = None) -> None:
        """Record that ``bad`` (the offending values or row labels; None: the file itself)
        breaks ``rule``: counted in full, the first five distinct ones kept as examples."""
        n = 0 if bad is None else len(bad)
        examples = () if bad is None else tuple(bad.drop_duplicates().head(5).tolist())
        self.items.append(Problem(source, column, rule, n, examples))

    def raise_if_any(self, hint: str = "") -> None:
        if self.items:
            raise ContractViolation(merged(self.items), hint)


def merged(items: Sequence[Problem]) -> list[Problem]:
    """One problem per source, column and rule: chunks of one source report theirs apart."""
    out: dict[tuple[str, str, str], Problem] = {}
    for item in items:
        key = (item.source, item.column, item.rule)
        if key not in out:
            out[key] = item
            continue
        seen = out[key]
        examples = list(seen.examples)
        examples += [e for e in item.examples if e not in examples]
        out[key] = Problem(
            item.source, item.column, item.rule, seen.n_rows + item.n_rows, tuple(examples[:5])
        )
    return list(out.values())


def row_labels(positions: pd.Index | pd.Series) -> pd.Series:
    """'row 5' for the row at 0-based position 3 of a source: the line number a user sees in a
    text editor, after the header. The example to give when the offending value is missing."""
    return pd.Series([f"row {int(i) + 2}" for i in positions], dtype=object)
