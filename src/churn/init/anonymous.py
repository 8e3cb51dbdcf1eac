"""Event logs keyed by a person on some rows and by a device or browser on all (Amplitude's
``user_id`` beside ``device_id``, Segment's ``userId`` beside ``anonymousId``, GA4's
``user_id`` beside ``user_pseudo_id``). Keyed by the person, the rows without one (visits before
sign-in, visitors who never sign in) are dropped (``drop_missing_customer_id``); keyed by the
device, one person on two devices is two customers. Tying devices to people needs an identity
step churn does not have, so init says what each choice leaves out and how much such a step
would change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from churn.data.inference import (
    EventRoles,
    filled_text,
    guests_note,
    id_candidates,
    name_words,
    named_as_id,
)
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


@dataclass(frozen=True)
class DevicesPerPerson:
    """How many people of one file, keyed by device, are seen on several devices."""

    path: str
    customer_id: str
    person: str
    people: int
    on_several: int
    devices: int
    """Devices of the people seen on several: customers that are one person."""

    def note(self) -> str:
        return (
            f"{self.path}: customers are each {self.customer_id!r} (a device or browser); of "
            f"the {self.people:,} {self.person!r} values signed in on them, {self.on_several:,} "
            f"are seen on several, so {self.devices:,} customers are {self.on_several:,} "
            "people. Joining them needs an identity step churn does not have (map each "
            f"{self.customer_id!r} to its {self.person!r} before init); to key by the signed-in "
            f"id instead, give --customer-id {self.person} (rows without one are then left out)"
        )


def devices_per_person(
    path: Path, source: SourceFile, customer_id: str, person: str
) -> DevicesPerPerson:
    """The people in ``person`` of the whole file and the devices in ``customer_id`` each is
    seen on."""
    devices = read_column(path, source.format, customer_id).str.strip()
    people = read_column(path, source.format, person).str.strip()
    pairs = pd.DataFrame({"device": devices, "person": people})
    pairs = pairs[pairs["device"].ne("") & pairs["person"].ne("")].drop_duplicates()
    per_person = pairs.groupby("person")["device"].nunique()
    several = per_person[per_person > 1]
    return DevicesPerPerson(
        path=source.path,
        customer_id=customer_id,
        person=person,
        people=len(per_person),
        on_several=len(several),
        devices=int(several.sum()),
    )


def person_column(sample: pd.DataFrame, customer_id: str) -> str | None:
    """When ``customer_id`` names a device or browser (:data:`ANONYMOUS_WORDS`: GA4's
    ``user_pseudo_id``), the column named like the customer's id that is filled on some rows
    only (GA4's ``user_id``, set once a visitor signs in); else None."""
    if not set(name_words(customer_id)) & ANONYMOUS_WORDS:
        return None
    for column in id_candidates([str(c) for c in sample.columns if c != customer_id]):
        if set(name_words(column)) & ANONYMOUS_WORDS or not named_as_id(column):
            continue
        filled = filled_text(sample[column])
        if 0 < len(filled) < len(sample):
            return column
    return None


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
    an anonymous id (:func:`anonymous_column`), or whose customers are devices of which some
    people use several (:func:`person_column`), counted in the whole file."""
    notes = []
    for path, source, roles, sample in files:
        if (person := person_column(sample, roles.customer_id)) is not None:
            several = devices_per_person(path, source, roles.customer_id, person)
            notes += [several.note()] if several.on_several else []
        if not roles.blank_ids or roles.placeholder_ids:
            continue
        column = anonymous_column(sample, roles.customer_id)
        if column is not None:
            found = anonymous_rows(path, source, roles.customer_id, column)
            notes += [found.note()] if found.rows else []
    return notes
