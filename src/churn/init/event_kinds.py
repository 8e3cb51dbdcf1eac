"""What an event type is, told from its name: a customer's cancellation (``Cancellation
Confirmation``, ``subscription_cancelled``), a return (``refund``, ``Order Cancelled``) or a
purchase among views and carts. Pure: names in, names out."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

_SERVICE = r"(?:subscription|account|membership|plan|contract|service|licen[cs]e)"
_LEAVING_ABROAD = (
    r"k(ü|ue?)ndig|abmeldung|(lieferanten|anbieter|versorger)wechsel|\bauszug\b"  # German
    r"|op(ge)?zeg|r[ée]sili|d[ée]sabonn|rescis|\bbaja\b"  # Dutch, French, Spanish, Portuguese
)
"""A contract ended in the languages init reads exports of (``Kündigung``, ``Auszug`` a
move-out, ``Lieferantenwechsel`` a switch of supplier, ``opzegging``, ``résiliation``,
``baja``, ``rescisão``); ``Kontoauszug``, a statement, is no ``Auszug``."""
_CANCEL_NAME = re.compile(
    rf"churn|unsubscri|terminat|deactivat|close.?account|account.?clos|cancellation.?confirm"
    rf"|{_SERVICE}.{{0,3}}cancel|cancel.{{0,3}}{_SERVICE}|move.?out|{_LEAVING_ABROAD}",
    re.I,
)
"""Event type values that name a customer leaving (not a lapse)."""
_ORDER_NAME = re.compile(r"order|purchase|item|invoice|booking|payment|cart", re.I)
"""Words that make a cancellation an order's (a return), not the customer's."""


_RETURN_NAME = re.compile(r"refund|return|chargeback|charge.?back", re.I)
_PARTLY = re.compile(r"partial|\bpart\b|\bpartly\b", re.I)
"""Words of an order's status that say only part of it was refunded or returned (Shopify's
``partially_refunded``): the customer kept the rest, so the order is a sale, not a return."""


def _partly_returned(name: str) -> bool:
    return bool(_PARTLY.search(name) and _RETURN_NAME.search(name))


def return_types(types: Sequence[str]) -> tuple[str, ...]:
    """The event types of ``types`` named like a return: a refund, a chargeback, a cancelled
    order (``features.return_event_types``: return features and value net of returns); not
    an order partly refunded, whose whole amount would count as given back."""
    return tuple(
        t
        for t in types
        if (_RETURN_NAME.search(t) or (re.search("cancel", t, re.I) and _ORDER_NAME.search(t)))
        and not _partly_returned(t)
    )


_PURCHASE_NAME = re.compile(
    r"purchase|order|transaction|buy|checkout|payment|paid|sale|renew|subscribe", re.I
)
_ORDER_DONE = re.compile(
    r"\s*(completed?|fulfill?ed|delivered|shipped|processing|settled|captured|succeeded"
    r"|invoiced|approved)\s*",
    re.I,
)
"""An order's status once it is a sale (WooCommerce's completed and processing; Olist's
invoiced and approved, whose payment went through; not its created, canceled or
unavailable)."""
_NOT_DONE_NAME = re.compile(
    r"fail|declin|abandon|remov|error|attempt|view|cart|wish|start|begin|click|search|open|shar"
    r"|pending|hold|void|draft|await|unpaid|expired|authori[sz]ed",
    re.I,
)
"""Words of an event type that make it a step towards a purchase, not one (``payment_failed``,
``view_order``, ``add_to_cart``)."""


def purchase_types(activity: Sequence[str]) -> tuple[str, ...]:
    """The event types of ``activity`` that are a purchase (``purchase``, ``transaction``,
    ``order_completed``, ``payment``, an order partly refunded) when the log also holds other
    ones (views, carts): a shop's customer is someone who buys, so only these keep one from
    churning (``labels.activity_event_types``); the others stay features. Empty when none or
    all are."""
    found = tuple(
        t
        for t in activity
        if _partly_returned(t)  # a sale of which the customer kept part
        or (
            (_PURCHASE_NAME.search(t) or _ORDER_DONE.fullmatch(t))
            and not _NOT_DONE_NAME.search(t)
            and t not in return_types([t])
        )
    )
    return found if len(found) < len(activity) else ()


_BARE_CANCEL = re.compile(r"\s*cancel(l?ed|lation|s)?\s*", re.I)
_SUBSCRIPTION_NAME = re.compile(rf"renew|subscri|trial|{_SERVICE}", re.I)


def cancellation_types(types: Sequence[str]) -> tuple[str, ...]:
    """The event types of ``types`` named like a customer's cancellation: churn, unsubscribe,
    a subscription or account cancelled or closed; not an order's ("Order Cancelled"). A bare
    ``cancelled`` is the customer's in a log of subscriptions (other types name a renewal, a
    trial, a plan), as an order's status it is not."""
    subscriptions = any(_SUBSCRIPTION_NAME.search(t) for t in types)
    return tuple(
        t
        for t in types
        if (_CANCEL_NAME.search(t) or (subscriptions and _BARE_CANCEL.fullmatch(t)))
        and not _ORDER_NAME.search(t)
    )


RETURN_TYPE = "return"
"""The event type init gives the lines of a cancelled invoice (``event_type_rules``)."""
MIN_RETURN_LINES = 3
"""Fewest lines of negative units in the sample for a prefix to be told from them."""
_PREFIX = re.compile(r"^([A-Za-z]+)\d")


def return_prefix(order_ids: pd.Series, units: pd.Series) -> str | None:
    """The letters that start the order id of a cancelled invoice (UCI Online Retail's
    ``C536379``), told from the lines whose units (or amount) are negative: nearly all of
    them (90 %) start with it and nearly no other line (1 %) does. None without such a prefix,
    or with too few negative lines (:data:`MIN_RETURN_LINES`) to tell."""
    numbers = pd.to_numeric(units, errors="coerce")
    ids = order_ids.astype("string").str.strip()
    negative = (numbers < 0).fillna(False).to_numpy(dtype=bool)
    if int(negative.sum()) < MIN_RETURN_LINES:
        return None
    prefixes = ids.str.extract(_PREFIX, expand=False)
    common = prefixes[negative].value_counts()
    if common.empty:
        return None
    prefix, count = str(common.index[0]), int(common.iloc[0])
    elsewhere = prefixes[~negative].eq(prefix).fillna(False).mean()
    return prefix if count >= 0.9 * negative.sum() and elsewhere <= 0.01 else None
