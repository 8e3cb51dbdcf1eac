"""Which text columns of an event log describe the customer (a plan, a region, a country, a
device, a payment method, a channel) and become event attributes, whose latest value before a
cutoff is a category feature; and which are left out, and why: ids and near-unique text, free
text, personal data, outcomes known only once a customer has left, an order's status, the time
of the event, and product-level descriptions that change from row to row.

Pure: a sample of text cells and the roles already found in, column names and reasons out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from churn.data.inference import (
    CANCEL_FLAG_WORDS,
    LABEL_NAME_WORDS,
    ORDER_STATUS_WORDS,
    EventRoles,
    filled_text,
    glued_id,
    is_numeric,
    leaving_status,
    name_words,
    timestamp_format,
)
from churn.data.json_columns import json_object_columns
from churn.data.parsing import EMAIL_ADDRESS
from churn.data.personal_columns import contact_columns, identifier_columns, personal_columns

MAX_TEXT_ATTRIBUTES = 10
"""Text attributes init maps at most per events source (those constant per customer
first): each is one category feature, and many would drown the model's own features."""
MAX_ATTRIBUTE_VALUES = 50
"""More distinct values in the sample than this and a column names products or events (a
product's description, a page's title), not a group of customers."""
SMALL_VOCABULARY = 12
"""A column of at most this many values is kept even when it changes within a customer (a
device, a channel, a payment method: the latest one used says something about them)."""
CONSTANT_SHARE = 0.8
"""Share of the customers seen on several rows that must keep one value for a column of more
than :data:`SMALL_VOCABULARY` values to describe the customer (a country) rather than each row
(a product's category)."""
MIN_CUSTOMERS_SEEN = 5
"""Customers with several filled rows needed to judge whether a column is constant per
customer; with fewer, only a small vocabulary keeps a column."""
FREE_TEXT_WORDS = 6.0
"""Mean words per value from which a column of few values is free text (a canned message)."""

_ID_WORDS = frozenset({"id", "uid", "uuid", "guid", "key", "ref", "nr", "no", "num", "number"})
"""Words of a name that make it an id; ``code`` is none here: a country or region code is a
category of customers."""
_FREE_TEXT_NAME_WORDS = frozenset(
    {"comment", "comments", "note", "notes", "description", "desc", "message", "text", "body"}
    | {"subject", "title", "review", "feedback", "remark", "remarks", "url", "uri", "link"}
    | {"path", "query", "referrer", "referer", "href", "agent", "useragent", "html", "json"}
)
"""Words of a name that make a column free text or a web address: never a category."""
_EMAIL_WORDS = frozenset({"email", "mail", "emailaddress"})
_EMAIL = re.compile(rf"^{EMAIL_ADDRESS}$")
_TIME_WORDS = frozenset(
    {"year", "month", "week", "weekday", "dow", "hour", "day", "date", "time", "ts", "quarter"}
)
"""Words of a name that make a column the time of the event (a weekday, a month's name)."""


@dataclass(frozen=True)
class TextAttributes:
    """The text attributes of one events source and the text columns left out."""

    taken: tuple[str, ...]
    """Columns mapped as attributes, in the order they are written."""
    left_out: tuple[tuple[str, str], ...]
    """(column, why) of the text columns not taken, in the file's order."""

    def note(self, path: str) -> str | None:
        """One line for init's notes: what was taken and what left out, and why; None when
        the source has no text column besides its roles."""
        if not self.taken and not self.left_out:
            return None
        taken = (
            f"took {', '.join(map(repr, self.taken))} as attributes (the latest value before "
            "a cutoff a category feature)"
            if self.taken
            else "took no text column as an attribute"
        )
        why: dict[str, list[str]] = {}
        for column, reason in self.left_out:
            why.setdefault(reason, []).append(repr(column))
        left = "; ".join(f"{', '.join(columns)}: {reason}" for reason, columns in why.items())
        return (
            f"{path}: {taken}"
            + (f"; left out {left}" if left else "")
            + ("; add or remove any under the source's attributes" if self.taken or left else "")
        )


def _role_columns(roles: EventRoles) -> set[str]:
    return {
        roles.customer_id,
        roles.timestamp.column,
        *(c for c in (roles.amount, roles.quantity, roles.order_id, roles.event_type) if c),
        *([roles.product_id] if roles.product_id else []),
        *roles.measures,
        *roles.numeric_attributes,
    }


def _named_as_id(column: str) -> bool:
    words = name_words(column)
    return bool(set(words) & _ID_WORDS) or (bool(words) and glued_id(words[-1]))


def _emails(values: pd.Series) -> bool:
    """Whether most filled values are email addresses (a buyer's, under any name)."""
    filled = filled_text(values)
    return bool(len(filled) and filled.str.match(_EMAIL).mean() >= 0.5)


def _mean_words(filled: pd.Series) -> float:
    """Mean number of words of the filled values."""
    return float(filled.str.count(r"\S+").mean()) if len(filled) else 0.0


def _reads_as_dates(values: pd.Series) -> bool:
    try:
        return timestamp_format(values, unix=True) is not False
    except ValueError:
        return False


def _constant_share(values: pd.Series, customers: pd.Series) -> float | None:
    """Share of the customers with several filled rows who keep one value on all of them;
    None with fewer than :data:`MIN_CUSTOMERS_SEEN` such customers."""
    frame = pd.DataFrame({"customer": customers.reindex(values.index), "value": values})
    groups = frame.groupby("customer", sort=False)["value"]
    sizes = groups.size()
    several = sizes[sizes >= 2].index
    if len(several) < MIN_CUSTOMERS_SEEN:
        return None
    return float((groups.nunique().reindex(several) == 1).mean())


def _why_not(column: str, values: pd.Series, customers: pd.Series) -> str | None:
    """Why a text column is no attribute of the customer; None when it is one."""
    words = set(name_words(column))
    if words & (LABEL_NAME_WORDS | CANCEL_FLAG_WORDS) or leaving_status(column, values):
        return "an outcome, known only once a customer has left"
    if _named_as_id(column):
        return "named like an id"
    if words & _TIME_WORDS:
        return "the time of the event"
    filled = filled_text(values)
    distinct = filled.nunique()
    if distinct < 2:
        return "one value"
    if words & _FREE_TEXT_NAME_WORDS:
        return "free text"
    if distinct > MAX_ATTRIBUTE_VALUES:
        return f"more than {MAX_ATTRIBUTE_VALUES} values: about each row or product"
    if _mean_words(filled) >= FREE_TEXT_WORDS:
        return "free text"
    statuses = {re.sub(r"[\s-]+", "_", v.lower()) for v in filled.unique()}
    if len(statuses & ORDER_STATUS_WORDS) >= 2:
        return "an order's status, not the customer's"
    if distinct <= SMALL_VOCABULARY:
        return None
    share = _constant_share(filled, customers)
    if share is not None and share >= CONSTANT_SHARE:
        return None
    return (
        f"{distinct} values changing within a customer's rows: about each row or product"
        if share is not None
        else f"{distinct} values, and too few returning customers to tell it is theirs"
    )


def text_attributes(
    sample: pd.DataFrame, roles: EventRoles, *, exclude: Sequence[str] = ()
) -> TextAttributes:
    """The text columns of an events file's ``sample`` (every cell as text) that describe the
    customer, not the event: besides the columns of ``roles`` and ``exclude``, neither numbers
    nor dates, not personal data (:func:`~churn.data.personal_columns.private_columns`), not
    named like an id, an outcome (a churn flag, a status with a value saying the customer
    left), a time or free text, not an order's status, at most :data:`MAX_ATTRIBUTE_VALUES`
    values and either at most :data:`SMALL_VOCABULARY` of them or one value per customer for
    :data:`CONSTANT_SHARE` of the returning customers. At most :data:`MAX_TEXT_ATTRIBUTES`,
    those constant per customer first, each group in the file's order."""
    taken_by_roles = _role_columns(roles) | set(exclude)
    text = [
        str(c)
        for c in sample.columns
        if str(c) not in taken_by_roles
        and len(filled_text(sample[c]))
        and not is_numeric(sample[c])
        and not _reads_as_dates(sample[c])
    ]
    personal = {
        *contact_columns(text).values(),
        *personal_columns(text, sample),
        *(c for c in text if set(name_words(c)) & _EMAIL_WORDS or _emails(sample[c])),
    }
    near_unique = set(identifier_columns(sample, [c for c in text if c not in personal]))
    objects = set(json_object_columns(sample, text))
    customers = sample[roles.customer_id].astype("string").str.strip()
    left_out: dict[str, str] = {}
    kept: list[tuple[bool, int, str]] = []
    for position, column in enumerate(text):
        if column in personal:
            left_out[column] = "personal data (an email, a name, a phone, an address)"
            continue
        if column in objects:  # as a category, any one field changes the whole value
            left_out[column] = "JSON objects: no field inside one is read"
            continue
        if column in near_unique:
            left_out[column] = "nearly all different: an id or free text"
            continue
        why = _why_not(column, sample[column], customers)
        if why is not None:
            left_out[column] = why
            continue
        share = _constant_share(filled_text(sample[column]), customers)
        kept.append((share is None or share < CONSTANT_SHARE, position, column))
    kept.sort()
    for _, _, column in kept[MAX_TEXT_ATTRIBUTES:]:
        left_out[column] = f"beyond the {MAX_TEXT_ATTRIBUTES} init maps"
    return TextAttributes(
        tuple(column for _, _, column in kept[:MAX_TEXT_ATTRIBUTES]),
        tuple((c, left_out[c]) for c in text if c in left_out),
    )
