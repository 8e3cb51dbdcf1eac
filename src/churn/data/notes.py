"""What cleaning an events source met that is legal but worth telling the user: counted over
every chunk while the contract cleans them (:func:`churn.data.contract.clean_event_chunk`),
then put in words for the log here. Nothing here touches files or the logger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from churn.data.id_notes import WrittenIds
from churn.data.parsing import ClockChanges, event_type_key
from churn.settings import EventsSettings, SourceSettings


@dataclass
class SourceNotes:
    """Counts over the chunks of one events source."""

    clock_changes: ClockChanges = field(default_factory=ClockChanges)
    amounts: int = 0
    """Rows with an amount."""
    positive_amounts: int = 0
    spellings: dict[str, set[str]] = field(default_factory=dict)
    """Event type (trimmed and case-folded) -> the spellings the file gave it."""
    missing_timestamps: int = 0
    """Rows dropped for want of a timestamp (``drop_missing_timestamp``)."""
    ids: WrittenIds = field(default_factory=WrittenIds)
    """Customer ids written as whole numbers with a decimal point ('12697.0')."""
    covered_before_event: int = 0
    """Rows whose ``covered_until`` is before their own timestamp (a cancellation or refund
    that ends the paid period early): kept, they extend no coverage."""

    def count_missing_timestamps(self, n: int) -> None:
        self.missing_timestamps += n

    def count_amounts(self, amounts: pd.Series) -> None:
        self.amounts += int(amounts.notna().sum())
        self.positive_amounts += int((amounts > 0).sum())

    def count_spellings(self, spellings: Iterable[object]) -> None:
        """Remember how each event type was spelt (``spellings``: trimmed, not folded)."""
        for spelling in spellings:
            self.spellings.setdefault(event_type_key(str(spelling)), set()).add(str(spelling))


def source_warnings(src: SourceSettings, notes: SourceNotes, settings: EventsSettings) -> list[str]:
    """Warnings about one source: no positive amount at all, rows dropped for want of a
    timestamp, rows covered until before they happened, and local times that fell on a
    daylight-saving change (each with its count and the rule applied)."""
    out = []
    if notes.amounts and not notes.positive_amounts:
        if "amount" in src.columns:
            where = f"column {src.columns['amount']!r}"
        else:
            where = f"columns {src.columns.get('quantity')!r} x {src.columns.get('unit_price')!r}"
        out.append(
            f"{src.path}: {where} (amount): none of the {notes.amounts:,} amounts is positive "
            "(a refunds-only export, or the sign convention flipped?); kept, so spend and "
            "customer value come out negative or zero. Check the export, or map the column of "
            "sales."
        )
    if notes.missing_timestamps:
        out.append(
            f"{src.path}: column {src.columns['timestamp']!r}: dropped "
            f"{notes.missing_timestamps:,} row(s) without a timestamp "
            "(data.events.drop_missing_timestamp)"
        )
    if notes.covered_before_event:
        out.append(
            f"{src.path}: column {src.columns['covered_until']!r} (covered_until): "
            f"{notes.covered_before_event:,} row(s) are covered until a date before their own "
            f"{src.columns['timestamp']!r} (cancellations or refunds that end the paid period "
            "early?); kept, such a row extends no customer's coverage"
        )
    changes = notes.clock_changes
    if changes.ambiguous or changes.nonexistent:
        out.append(
            f"{src.path}: column {src.columns['timestamp']!r}: "
            f"{changes.ambiguous + changes.nonexistent:,} local time(s) fell on a daylight-"
            f"saving change in {settings.timezone}: {changes.ambiguous:,} shown twice when "
            f"the clocks went back, read as the earlier instant; {changes.nonexistent:,} "
            "skipped when they went forward, moved to the first time that exists"
        )
    return out


def spelling_notes(all_notes: Iterable[SourceNotes]) -> list[str]:
    """One line naming the event types spelt more than one way, or not in lower case, and
    what they were read as; empty when every spelling was already its folded form."""
    merged: dict[str, set[str]] = {}
    for notes in all_notes:
        for folded, spellings in notes.spellings.items():
            merged.setdefault(folded, set()).update(spellings)
    folded_ones = {k: v for k, v in sorted(merged.items()) if v != {k}}
    if not folded_ones:
        return []
    described = "; ".join(f"{sorted(v)} read as {k!r}" for k, v in folded_ones.items())
    return [f"event types are compared trimmed and case-folded: {described}"]
