"""Rows of an event log without the customer's id but with an anonymous one (Amplitude's
``device_id``, Segment's ``anonymous_id``, a cookie or a browser id): visits before sign-in,
or by visitors who never signed in. Ingest drops them (``drop_missing_customer_id``); tying an
anonymous id to the user who signs in on it later needs an identity step churn does not have,
so init says how many rows are left out and how many of them such a step could keep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from churn.data.inference import EventRoles, filled_text, guests_note, name_words, named_as_id
from churn.init.plan import SourceFile
from churn.init.sniff import read_column

ANONYMOUS_WORDS = frozenset(
    {"device", "anonymous", "anon", "pseudo", "cookie", "distinct", "browser", "fingerprint"}
    | {"visitor", "idfa", "idfv", "gaid", "adid"}
)
"""Words of a column's name that make it an id of a device or a browser rather than a person
(``device_id``, ``anonymousId``, Mixpanel's ``distinct_id``, a ``cookie_id``)."""

FILLED_ON_BLANKS = 0.9
"""Share of the rows without a customer id on which an anonymous id must be filled."""


def anonymous_column(sample: pd.DataFrame, customer_id: str) -> str | None:
    """The column naming the device or browser of the sample's rows that have no
    ``customer_id``: named as an id with a word of :data:`ANONYMOUS_WORDS` (not a
    ``device_type``), filled on nine in ten of those rows; None when every row has a customer
    id or no column does."""
    blank = filled_text(sample[customer_id]).reindex(sample.index).isna()
    if not blank.any():
        return None
    for column in sample.columns:
        named = str(column)
        if column == customer_id or not named_as_id(named):
            continue
        if not set(name_words(named)) & ANONYMOUS_WORDS:
            continue
        filled = filled_text(sample.loc[blank, column])
        if len(filled) >= FILLED_ON_BLANKS * int(blank.sum()):
            return str(column)
    return None


@dataclass(frozen=True)
class AnonymousRows:
    """How many rows of one file have no customer id but an anonymous one."""

    path: str
    customer_id: str
    column: str
    rows: int
    total: int
    signed_in: int
    """Of ``rows``, those whose anonymous id is seen with a customer id elsewhere in the
    file: the rows an identity step could give to a customer."""

    def note(self) -> str:
        share = self.rows / self.total if self.total else 0.0
        return (
            f"{self.path}: {self.rows:,} of {self.total:,} rows ({share:.0%}) have "
            f"{self.column!r} filled and no {self.customer_id!r}: visits before sign-in or by "
            "visitors who never signed in. They are left out "
            "(data.events.drop_missing_customer_id), so the customers are those with a "
            f"{self.customer_id!r}; {self.signed_in:,} of those rows carry a {self.column!r} "
            f"seen with a {self.customer_id!r} elsewhere in the log, and giving them to that "
            "customer needs an identity step churn does not have (map each "
            f"{self.column!r} to its {self.customer_id!r} before init). To count every "
            f"{self.column!r} as a customer instead, give --customer-id {self.column} (one "
            "person on two devices is then two customers)"
        )


def anonymous_rows(path: Path, source: SourceFile, customer_id: str, column: str) -> AnonymousRows:
    """The rows of the whole file at ``path`` with no ``customer_id`` but a ``column``."""
    ids = read_column(path, source.format, customer_id).str.strip()
    devices = read_column(path, source.format, column).str.strip()
    anonymous = ids.eq("") & devices.ne("")
    known = set(devices[ids.ne("") & devices.ne("")])
    return AnonymousRows(
        path=source.path,
        customer_id=customer_id,
        column=column,
        rows=int(anonymous.sum()),
        total=len(ids),
        signed_in=int(devices[anonymous].isin(known).sum()),
    )


def without_guests_note(roles: EventRoles, sample: pd.DataFrame) -> EventRoles:
    """``roles`` without the sample's note on rows of no customer id when an anonymous id
    explains them (:class:`AnonymousRows` says more, counted in the whole file)."""
    if not roles.blank_ids or roles.placeholder_ids:
        return roles
    if anonymous_column(sample, roles.customer_id) is None:
        return roles
    said = guests_note(roles.blank_ids, len(sample))
    return replace(roles, notes=tuple(n for n in roles.notes if n != said))


def anonymous_notes(
    files: Sequence[tuple[Path, SourceFile, EventRoles, pd.DataFrame]],
) -> list[str]:
    """A note per file (path, source, roles, sample) whose rows without a customer id have
    an anonymous id (:func:`anonymous_column`), counted in the whole file."""
    notes = []
    for path, source, roles, sample in files:
        if not roles.blank_ids or roles.placeholder_ids:
            continue
        column = anonymous_column(sample, roles.customer_id)
        if column is not None:
            found = anonymous_rows(path, source, roles.customer_id, column)
            notes += [found.note()] if found.rows else []
    return notes
