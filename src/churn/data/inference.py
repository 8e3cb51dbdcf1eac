"""What a user's file holds, guessed from a sample: which column identifies customers, which is
the timestamp (and its format), the amount, the order id, the event type; for a snapshot, the
label's positive value and which attributes are numbers.

Pure: a sample frame of text (every cell as the file spells it, blanks as empty strings) in,
findings out. ``churn init`` reads the sample and writes the findings as a params file; every
finding it cannot make with confidence becomes a :class:`RoleNotFound` naming the candidates.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from churn.data.credit_notes import credit_column, credit_values, negative_amounts
from churn.data.day_numbers import (
    EXCEL_ORIGIN,
    MIN_DAYS,
    day_number_columns,
    day_number_format,
    reads_as_day_numbers,
    reads_as_excel_serials,
)
from churn.data.json_columns import json_object_columns
from churn.data.money_flows import flow_sides
from churn.data.paid_periods import paid_period_column
from churn.data.parsing import (
    CURRENCY,
    EMAIL_ADDRESS,
    YYMMDD,
    YYMMDD_DIGITS,
    as_week_start,
    parse_numbers,
    parse_timestamps,
    utc_names_as_offsets,
    written_as_none,
)
from churn.errors import ConfigError
from churn.settings import UNIX_FORMATS, check_strftime, day_number_origin

TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y%m%d",
    # 12-hour clocks (Excel, Salesforce and PayPal reports in the US)
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %I:%M %p",
    # two-digit years
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    # month names
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y %H:%M",
    "%b %d, %Y",
    "%B %d, %Y",
    "%A, %B %d, %Y",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y %H:%M",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    # ISO weeks (a weekly export's 2024-W05), read as their Monday
    "%G-W%V",
)
"""Formats tried in order; the first that reads every non-blank value wins, except that a
day-first and a month-first format that both read everything are ambiguous."""

POSITIVE_WORDS = (
    "yes",
    "y",
    "true",
    "t",
    "1",
    "1.0",
    "churned",
    "churn",
    "exited",
    "left",
    "cancelled",
    "canceled",
    "lost",
    "attrited",
    "inactive",
    "closed",
)
NEGATIVE_WORDS = (
    "no",
    "n",
    "false",
    "f",
    "0",
    "0.0",
    "stayed",
    "retained",
    "active",
    "existing",
    "current",
    "open",
)
MIN_PARSED_SHARE = 0.98
"""Share of non-blank values that must parse for a column to count as numbers or dates."""

_ID_NAME = re.compile(
    r"(^|[^a-z])(customer|cust|client|user|member|account|acct|buyer|shopper|"
    r"subscriber|household|person|contact|visitor|player|gamer|patron|patient|student|"
    r"learner|rider|passenger|donor|msisdn|imsi)([^a-z]|id|no|number|$)|^id$"
    r"|顧客|顾客|客戶|客户|會員|会员|用戶|用户|ユーザー|고객|회원",
    re.I,
)
_CUSTOMER_WORDS_ELSEWHERE = frozenset(
    {"kunde", "kunden", "kundennummer", "kundennr", "kundenid", "kdnr", "klant", "klanten"}
    | {"klantnummer", "klantnr", "cliente", "clientes", "client", "clients", "usuario"}
    | {"utilisateur", "abonne", "abonné", "socio", "codcliente", "idcliente", "numcliente"}
)
"""Words of other languages' exports naming the customer (German, Dutch, Spanish, French,
Portuguese, Italian): ``Kundennummer``, ``Cliente``, ``Klant``."""
_TIME_NAME = re.compile(
    r"date|time|^ts$|timestamp|created|when|day|datum|fecha|heure|start|epoch|(^|_)at$"
    r"|日期|時間|时间|日時|日付|날짜|일시",
    re.I,
)
_AMOUNT_NAME = re.compile(
    r"amount|total|revenue|sales|spend|value|price|paid|payment|gmv|charge|(^|[^a-z])(mrr|arr)([^a-z]|$)"
    r"|betrag|umsatz|preis|summe|importe|monto|precio|montant|prix|valor|importo|bedrag|prijs"
    r"|金額|金额|價格|价格|銷售|销售|売上|価格|금액|가격|매출"
    r"|(^|[^a-z])(usd|eur|gbp|jpy|cny|inr|brl|cad|aud|chf|sek|nok|dkk|pln|mxn|zar)([^a-z]|$)",
    re.I,
)
"""Names of money: what was paid, in the languages init reads, or named by its currency
(a game's ``iap_usd``, ``umsatz_eur``)."""
_ORDER_NAME = re.compile(r"order|invoice|transaction|receipt|basket|purchase_?id|txn", re.I)
_TYPE_NAME = re.compile(r"event|type|action|kind|activity|page|screen", re.I)
# Words of a column name that make it the money a customer brings, strongest first; words that
# make a money-sounding name something else (a usage, a count); words of a running total.
_CHARGE_WORDS = (
    {"charge", "charges", "fee", "fees", "arpu", "mrr", "bill", "billing", "price", "payment"},
    {"revenue", "spend", "spending", "amount", "cost", "value"},
    {"balance"},
)
_PER_MONTH_WORDS = {"monthly", "month", "mrr", "arpu", "per_month", "pm"}
_PER_YEAR_WORDS = frozenset(
    {"annual", "annually", "yearly", "year", "arr", "acv", "jahresumsatz", "anual", "annuel"}
)
"""Words of a value's name that make it a yearly figure (``Annual Revenue``, ``ARR``)."""
_NOT_CHARGE_WORDS = {
    "usage",
    "minutes",
    "mins",
    "gb",
    "mb",
    "calls",
    "sms",
    "texts",
    "data",
    "count",
    "number",
    "num",
    "visits",
    "tickets",
    "score",
    "id",
    "salary",
    "income",
    "age",
    "days",
    "months",
    "cashback",  # money the business gives back, not what the customer pays
    "discount",
    "discounts",
    "refund",
    "refunds",
    "coupon",
    "reward",
    "rewards",
    "points",
    "credit",
    "limit",
    # durations: HourSpendOnApp is time in the app, not money
    "hour",
    "hours",
    "hrs",
    "time",
    "duration",
    "seconds",
    "secs",
    "weeks",
    "years",
    "tenure",
}
_NOT_EVENT_TIME_WORDS = frozenset(
    {
        "expire",
        "expires",
        "expiry",
        "expiration",
        "end",
        "ends",
        "ended",
        "due",
        "until",
        "valid",
        "renewal",
        "next",
        "cancel",
        "cancelled",
        "canceled",
        "termination",
        "birth",
        "dob",
        "signup",
        "registration",
        "registered",
        "shipped",
        "delivered",
        "delivery",
        "first",
        "touch",
    }
)
"""Words of a date column's name that say it is not when the event happened (a membership's
expiry, a birth or signup date, a delivery, a user's first visit: GA4's
``user_first_touch_timestamp``), so beside another date it is not the timestamp."""
_RECORDED_TIME_WORDS = frozenset(
    {"upload", "uploaded", "received", "receive", "processed", "ingested", "loaded", "synced"}
    | {"inserted", "uuid", "original", "client", "sent"}
)
"""Words of a time column's name that make it when a system handled the row rather than when
the event happened: sent, uploaded, received, processed or loaded into a warehouse (Amplitude's
``server_upload_time``, Segment's ``sent_at``, ``received_at``, ``loaded_at``, ``uuid_ts``), or the
device's own clock before the tool corrected it (Amplitude's ``client_event_time`` beside
``event_time``, Segment's ``original_timestamp`` beside ``timestamp``). Beside another time
such a column is not the timestamp."""
_RUNNING_TOTAL_WORDS = {"total", "lifetime", "cumulative", "ltv", "sum"}


class RoleNotFound(ConfigError):
    """A required role cannot be told from the file: exit code 2, naming the candidates."""


@dataclass(frozen=True)
class TimestampGuess:
    column: str
    format: str | None
    """strftime format, or None when the values are ISO 8601 with a zone."""
    twin: str | None = None
    """The month-first (day-first) format that reads the sample as well as ``format`` does:
    the whole column must decide (:func:`settle_dates`)."""


class AmbiguousDates(ValueError):
    """Dates that read both day-first and month-first (01/02/2024: which month?)."""

    def __init__(self, formats: tuple[str, str], example: str) -> None:
        self.formats = formats
        super().__init__(
            f"dates such as {example!r} read both day-first and month-first; give "
            "--timestamp-format"
        )


@dataclass(frozen=True)
class EventRoles:
    customer_id: str
    timestamp: TimestampGuess
    amount: str | None
    order_id: str | None
    event_type: str | None
    attributes: tuple[str, ...]
    """Text columns left over with a few values: candidates only, until ``churn init``
    narrows them to those that describe the customer
    (:func:`churn.init.event_attributes.text_attributes`), the source's text ``attributes``."""
    notes: tuple[str, ...]
    blank_ids: int = 0
    """Rows of the sample without a customer id (guests, logged-out visits)."""
    cancel_flag: bool = False
    """The event type is a yes/no column named like a cancellation (``is_cancel``): its
    yes-like value marks a customer's cancellation."""
    placeholder_ids: tuple[str, ...] = ()
    """Values of the id column that stand for no customer (a guest checkout's ``0``): the
    source's ``missing_ids``."""
    measures: tuple[str, ...] = ()
    """Columns of numbers each event holds (logins, minutes, GB): the source's ``measures``."""
    quantity: str | None = None
    """Units of each line when ``amount`` is a unit price (Online Retail's ``Quantity`` beside
    ``UnitPrice``): the source maps ``quantity`` and ``unit_price``, so the spend is their
    product, not the price of one unit."""
    product_id: str | None = None
    """The product each event is of (a SKU, a stock code, an article): the distinct products
    and new products a customer buys are features."""
    credit_types: tuple[str, ...] = ()
    """Values of the event type whose rows carry the negative amounts (a credit note's
    ``Gutschrift``): returns, no purchase (:mod:`churn.data.credit_notes`)."""
    numeric_attributes: tuple[str, ...] = ()
    """Columns of numbers that describe the customer or their plan rather than the event (an
    auto-renew flag, a plan's length in days, seats): each customer keeps one value, customers
    differ (:func:`customer_number_columns`). Their latest value before a cutoff is a feature
    (``data.events.numeric_attributes``)."""
    covered_until: TimestampGuess | None = None
    """The date each row's payment covers the customer through (KKBox's
    ``membership_expire_date``, an invoice's ``period_end``): the source's ``covered_until``
    (:func:`churn.data.paid_periods.paid_period_column`)."""


@dataclass(frozen=True)
class SnapshotRoles:
    customer_id: str | None
    label: str
    positive: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    value: str | None
    notes: tuple[str, ...]
    filled: bool = False
    """The label is churned when it holds any value (a cancellation date; ``positive`` then
    unused): ``data.snapshot.churned_when: filled``."""


def filled_text(values: pd.Series) -> pd.Series:
    """The non-blank values of ``values``, trimmed, as text."""
    text = values.astype("string").str.strip()
    return text[text.notna() & (text != "")]


def numeric_share(values: pd.Series, decimal: str = ".") -> float:
    """Share of the non-blank values that read as numbers (:func:`parse_numbers`: grouped
    thousands and currency signs too) with the decimal mark ``decimal``."""
    filled = filled_text(values)
    if filled.empty:
        return 0.0
    return float(parse_numbers(filled, decimal)[0].notna().mean())


def is_numeric(values: pd.Series, decimal: str = ".") -> bool:
    return numeric_share(values, decimal) >= MIN_PARSED_SHARE


def plain_number_text(values: pd.Series, decimal: str) -> pd.Series:
    """``values`` (text) with its numbers rewritten as plain numbers (``1.234,50`` ->
    ``1234.5``) when they read as numbers with the decimal mark ``decimal`` (:func:`is_numeric`);
    a value that does not read, and a column that does not (a category's codes), stay as
    written."""
    if not is_numeric(values, decimal):
        return values
    parsed = parse_numbers(values, decimal)[0]
    read = parsed.notna()
    out = values.astype(object).copy()
    out[read] = parsed[read].map(lambda v: repr(float(v)))
    return out


def plain_numbers(sample: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """``sample`` (text cells) with each column's numbers written plainly
    (:func:`plain_number_text`), which is how the rest of the guessing reads them."""
    return sample.apply(lambda column: plain_number_text(column, decimal))


def decimal_mark(sample: pd.DataFrame) -> str:
    """',' when the sample's numbers are written with a decimal comma (``12,50``, ``1.234,5``)
    more often than with a decimal point, else '.'. A comma before exactly three digits
    (``1,234``) is a thousands separator in either reading and decides nothing."""
    text = (
        pd.concat([filled_text(sample[c]) for c in sample.columns]) if len(sample.columns) else None
    )
    if text is None or text.empty:
        return "."
    core = text.str.replace(rf"^[+-]?{CURRENCY}|{CURRENCY}$|\s", "", regex=True)
    comma = core.str.fullmatch(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),(?:\d{1,2}|\d{4,})").sum()
    point = core.str.fullmatch(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)\.(?:\d{1,2}|\d{4,})").sum()
    return "," if comma > point else "."


def _dates(filled: pd.Series, fmt: str) -> pd.Series:
    """``filled`` read with ``fmt``; missing where a value does not read."""
    text, readable = as_week_start(filled, fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(text, format=readable, errors="coerce")


def _parses(filled: pd.Series, fmt: str) -> float:
    return float(_dates(filled, fmt).notna().mean())


UNIX_SPAN_SECONDS = (631_152_000, 4_102_444_800)
"""Unix times are guessed only between 1990-01-01 and 2100-01-01: the ranges of seconds,
milliseconds, microseconds and nanoseconds then do not overlap, and an amount or a count
rarely falls in one."""


MAX_EVENT_TYPES = 50
MIN_ROWS_PER_EVENT_TYPE = 20
"""Rows per distinct value, on average, for a column named as the event that has more than
:data:`MAX_EVENT_TYPES` values (Amplitude's 80 event names) to be the event type."""
"""Most distinct values a column guessed as the event type may have (an app's pages: ~20-40)."""
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def unix_format(values: pd.Series) -> str | None:
    """``unix_s`` (``unix_ms``, ...) when the non-blank values are numbers of that unit since
    the epoch, between 1990 and 2100; else None."""
    numbers = pd.to_numeric(filled_text(values), errors="coerce")
    if numbers.empty or numbers.isna().mean() > 1 - MIN_PARSED_SHARE:
        return None
    low, high = UNIX_SPAN_SECONDS
    for name, unit in UNIX_FORMATS.items():
        scale = _PER_SECOND[unit]
        inside = numbers.between(low * scale, high * scale, inclusive="left")
        if inside.mean() >= MIN_PARSED_SHARE:
            return name
    return None


def yymmdd_format(filled: pd.Series) -> str | None:
    """``%y%m%d`` when the non-blank values are six-digit dates (950316: 16 March 1995), or
    dates of 2000-2009 whose leading zero a spreadsheet dropped (50316); else None. Asked of
    a column named like a time only: a random number reads as such a date about once in 27."""
    if not filled.str.fullmatch(r"\d{5,6}").all():
        return None
    padded = filled.str.zfill(YYMMDD_DIGITS)
    return YYMMDD if _parses(padded, YYMMDD) >= MIN_PARSED_SHARE else None


def timestamp_format(values: pd.Series, *, unix: bool = False) -> str | bool | None:
    """The strftime format that reads every non-blank value; None for ISO 8601 with a zone or a
    'T'; False when no format reads them. With ``unix`` (a column named like a time, or named
    as the timestamp), numbers of seconds, milliseconds, ... since 1970 give ``unix_s``,
    ``unix_ms``, .... Raises ValueError when day-first and month-first formats both read
    every value (01/02/2024: which month?)."""
    filled = filled_text(values)
    if filled.empty:
        return False
    if filled.str.fullmatch(r"[+-]?\d+(\.\d+)?").all() and not (filled.str.len().eq(8).all()):
        # plain numbers (an amount, a count) are not dates, YYYYMMDD, YYMMDD and unix times
        # aside
        return (unix_format(filled) or yymmdd_format(filled) or False) if unix else False
    readers = [f for f in TIMESTAMP_FORMATS if _parses(filled, f) >= MIN_PARSED_SHARE]
    if not readers:
        iso = pd.to_datetime(
            utc_names_as_offsets(filled), format="ISO8601", errors="coerce", utc=True
        )
        return None if iso.notna().mean() >= MIN_PARSED_SHARE else False
    first = readers[0]
    day_first, month_first = first.startswith("%d"), first.startswith("%m")
    if day_first or month_first:
        twin = first.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        if twin in readers:
            raise AmbiguousDates((first, twin), str(filled.iloc[0]))
    return first


def _candidates(columns: Sequence[str], pattern: re.Pattern[str]) -> list[str]:
    return [c for c in columns if pattern.search(str(c))]


_WHEN_WORDS = frozenset({"date", "time", "timestamp", "datetime", "dt", "ts", "day", "at"})
"""Words of a column name that make it a moment (``order_delivered_customer_date``), never an
id, whatever else the name holds."""


_ID_WORDS = frozenset({"id", "no", "nr", "num", "number", "key", "code", "ref", "uid", "uuid"})
"""Words that make a customer-named column its identifier (``user_id`` beside
``user_session``, ``customer_city``)."""


_CONTACT_WORDS = frozenset({"email", "mail", "name", "phone", "address", "description"})
"""Words of a customer-named column that make it how to reach or call the customer (Stripe's
``Customer Email``), not the key, when another customer-named column is there."""


def id_candidates(columns: Sequence[str]) -> list[str]:
    """Columns named like a customer id: a customer, user, account... word, and no date or
    time word; those with an id word (``user_id``, ``CustomerID``, ``household_key``) when
    any has one. A bare ``id`` (an export's own row key: Stripe's invoice ``id``) and contact
    columns (``Customer Email``) only when nothing else is named like the customer."""
    named = [
        c
        for c in columns
        if (_ID_NAME.search(str(c)) or set(name_words(c)) & _CUSTOMER_WORDS_ELSEWHERE)
        and not set(name_words(c)) & _WHEN_WORDS
    ]
    keys = [c for c in named if not set(name_words(c)) & _CONTACT_WORDS]
    named = keys or named
    customers = [c for c in named if c.strip().lower() != "id"]
    named = customers or named
    with_id = [c for c in named if named_as_id(c)]
    return with_id or named


def names_a_role(column: str) -> bool:
    """Whether a column's name reads as a customer, a time or money in any language init
    knows (a check that a header was decoded right)."""
    return any(p.search(column) for p in (_ID_NAME, _TIME_NAME, _AMOUNT_NAME))


NOT_GLUED_IDS = (
    *("paid", "valid", "android", "fluid", "hybrid", "rapid", "acid", "humid", "liquid"),
    *("solid", "said", "raid", "maid", "grid", "covid", "squid", "pyramid", "orchid", "vivid"),
    *("timid", "rigid", "stupid", "cupid", "candid", "splendid", "lucid", "avoid", "void"),
)
"""Endings of a name's last word that end in "id" and are words, no id glued on (``Amount
Paid``, ``prepaid``, ``is_valid``, ``Android``)."""


def glued_id(word: str) -> bool:
    """Whether one lower-case word of a name ends in an id glued on (``customerid``,
    ``visitorid``, ``itemid``, ``guid``) rather than being a word ending in "id" (``paid``)."""
    return len(word) > 2 and word.endswith("id") and not word.endswith(NOT_GLUED_IDS)


def named_as_id(column: str) -> bool:
    """Whether a column's name has an id word (``user_id``, ``CustomerID``, ``Account No``,
    ``visitorid``), not only a customer word (``Customer service calls``, ``Account length``:
    measures) or a word ending in "id" (``Amount Paid``, ``Prepaid``, ``Android``)."""
    words = name_words(column)
    return bool(set(words) & _ID_WORDS) or (bool(words) and glued_id(words[-1]))


MIN_ID_VALUES = 20
"""Fewest distinct values a column guessed as the id from its values must show in the sample."""


def _ids_by_values(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns that look like an opaque id by their values when none is named like one
    (KKBox's ``msno``): text, not numbers or dates, one token each (no blanks inside), many
    distinct values, and not named like an order's id. Those whose values repeat in the
    sample (a customer's several events) come first, and email addresses among them first of
    all (an order number repeats on each line of the order too)."""
    found = []
    for column in columns:
        filled = filled_text(sample[column])
        if (
            filled.nunique() < MIN_ID_VALUES
            or _ORDER_NAME.search(column)
            or filled.str.contains(r"\s").mean() > 1 - MIN_PARSED_SHARE
            or is_numeric(filled)
        ):
            continue
        try:
            if timestamp_format(filled) is not False:
                continue
        except ValueError:
            continue
        found.append(column)
    repeated = [c for c in found if _repeats(sample[c])]
    emails = [c for c in _email_columns(sample, columns) if c in repeated]
    return emails or repeated or found


MIN_ID_FILLED_SHARE = 0.5
"""Share of rows an id-named column must fill to be the customer id beside one that fills
more: a column blank on most rows (an id set only when a visitor signs in) is not the key."""
_EMAIL = re.compile(rf"^{EMAIL_ADDRESS}$")


def _written_as(values: pd.Series, pattern: re.Pattern[str]) -> bool:
    """Whether some values are filled and nearly all of those (:data:`MIN_PARSED_SHARE`) are
    written as ``pattern``: email addresses, order numbers, currency codes."""
    filled = filled_text(values)
    return bool(len(filled) and filled.str.match(pattern).mean() >= MIN_PARSED_SHARE)


def _repeats(values: pd.Series) -> bool:
    """Whether a filled value comes twice (blanks are no repeat)."""
    return bool(filled_text(values).duplicated().any())


def _filled_share(values: pd.Series) -> float:
    return len(filled_text(values)) / max(len(values), 1)


def _email_columns(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns whose filled values are email addresses and repeat: a buyer's address, the
    person's key of exports with no customer id (Shopify's orders)."""
    return [c for c in columns if _written_as(sample[c], _EMAIL) and _repeats(sample[c])]


_GAP_NAME = re.compile(r"since.?(prior|prev|last)|days?.?between|gap.?days|days?.?gap", re.I)
"""A column name of days between a customer's events, not of a date."""
_MEASURE_WORDS = frozenset(
    {"count", "counts", "cnt", "n", "nb", "qty", "quantity", "total", "sum", "amount", "value"}
    | {"avg", "mean", "average", "min", "max", "rate", "share", "pct", "percent"}
    | {"orders", "transactions", "invoices", "purchases", "receipts", "baskets"}
)
"""Words of a column name that make it a measure of orders (``TXN_COUNT``), not an order's id."""
_PRODUCT_NAME = re.compile(
    r"product|article|item|stock_?code|barcode|variant|artikel|produit|producto|prodotto"
    r"|(^|[^a-z])(sku|asin|isbn|upc|ean|gtin)([^a-z]|$)",
    re.I,
)
_NOT_PRODUCT_WORDS = frozenset(
    {"category", "categories", "class", "subclass", "group", "type", "brand", "dept"}
    | {"items", "products", "articles", "num", "number", "lines"}
    | {"department", "family", "line", "price", "cost", "name", "description", "desc", "title"}
    | {"url", "image", "img", "link", "rating", "review", "reviews", "size", "color", "colour"}
)
"""Words of a product-named column that make it something about the product (its category,
its price, its name), not which product it is."""
_ORDER_NUMBER = re.compile(r"^#\d+$")


ORDER_STATUS_WORDS = frozenset(
    {"completed", "complete", "processing", "pending", "cancelled", "canceled", "refunded"}
    | {"partially_refunded", "failed", "on_hold", "paid", "voided", "authorized", "fulfilled"}
    | {"shipped", "delivered", "returned", "declined", "expired", "draft", "unpaid"}
    | {"invoiced", "approved", "unavailable"}
)
"""Values of a shop's order or payment status (WooCommerce's Order Status, Shopify's Financial
Status, Olist's order_status)."""
_STATUS_NAME = re.compile(r"status|state", re.I)


def _order_statuses(sample: pd.DataFrame, columns: Sequence[str], taken: set[str]) -> list[str]:
    """Columns named like a status holding order statuses (two of :data:`ORDER_STATUS_WORDS` at
    least), payment statuses first (Shopify's Financial before its Fulfillment Status)."""
    found = []
    for column in columns:
        if column in taken or not _STATUS_NAME.search(column):
            continue
        words = {re.sub(r"[\s-]+", "_", v.strip().lower()) for v in filled_text(sample[column])}
        if len(words) <= MAX_EVENT_TYPES and len(words & ORDER_STATUS_WORDS) >= 2:
            found.append(column)
    return sorted(found, key=lambda c: not re.search(r"financ|payment", c, re.I))


_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def _currencies(sample: pd.DataFrame, columns: Sequence[str]) -> tuple[str, list[str]] | None:
    """A column named like a currency holding more than one ISO code (USD, EUR), and its
    codes, most frequent first; None when the amounts share one currency."""
    for column in columns:
        if "currency" not in str(column).lower():
            continue
        codes = filled_text(sample[column]).str.upper()
        if _written_as(codes, _CURRENCY_CODE) and codes.nunique() > 1:
            return column, [str(c) for c in codes.value_counts().index]
    return None


def _order_numbers(sample: pd.DataFrame, columns: Sequence[str], taken: set[str]) -> list[str]:
    """Columns not ``taken`` whose values are written as shops write order numbers (``#1001``)."""
    return [c for c in columns if c not in taken and _written_as(sample[c], _ORDER_NUMBER)]


def _require(role: str, found: list[str], flag: str, columns: Sequence[str]) -> str:
    if len(found) == 1:
        return found[0]
    if not found:
        raise RoleNotFound(
            f"no column looks like the {role}; the file has columns {list(columns)}. "
            f"Name it with {flag} COLUMN."
        )
    raise RoleNotFound(
        f"more than one column could be the {role}: {found}. Name it with {flag} COLUMN."
    )


def _has_time_of_day(guess: TimestampGuess) -> bool:
    fmt = guess.format
    return fmt is None or fmt in UNIX_FORMATS or "%H" in fmt or "%I" in fmt


def _finest(sample: pd.DataFrame, guesses: list[TimestampGuess]) -> list[str]:
    """The one column of ``guesses`` with a time of day when every other is the same days
    without it (GA4's ``event_timestamp`` beside its ``event_date``), else all of them."""
    timed = [g for g in guesses if _has_time_of_day(g)]
    if len(guesses) < 2 or len(timed) != 1 or any(g.twin for g in guesses):
        return [g.column for g in guesses]
    fine, _ = parse_timestamps(sample[timed[0].column], fmt=timed[0].format, timezone="UTC")
    for guess in guesses:
        if guess is timed[0]:
            continue
        days, _ = parse_timestamps(sample[guess.column], fmt=guess.format, timezone="UTC")
        # a day apart at most: the date may be written in the business's time zone
        close = (fine.dt.normalize() - days).abs() <= pd.Timedelta(days=1)
        if close[fine.notna() & days.notna()].mean() < MIN_PARSED_SHARE:
            return [g.column for g in guesses]
    return [timed[0].column]


def _first_step(sample: pd.DataFrame, guesses: list[TimestampGuess]) -> str | None:
    """The one column of ``guesses`` at or before every other on (nearly) every row where both
    are filled, and before each on some: when the event began, the others the later steps of
    it (Olist's ``order_purchase_timestamp`` before its ``order_approved_at``, ``Created at``
    before ``Paid at``, ``created_at`` before ``updated_at``). None when no one column is, or
    when they differ in whether they hold the time of day (a date of another moment)."""
    if len(guesses) < 2 or any(g.twin for g in guesses):
        return None
    if len({_has_time_of_day(g) for g in guesses}) > 1:
        return None
    parsed = {
        g.column: parse_timestamps(sample[g.column], fmt=g.format, timezone="UTC")[0]
        for g in guesses
    }
    for column, first in parsed.items():
        ahead = True
        for other, then in parsed.items():
            both = first.notna() & then.notna()
            if other == column or not both.any():
                continue
            earlier = first[both] <= then[both]
            if earlier.mean() < MIN_PARSED_SHARE or not (first[both] < then[both]).any():
                ahead = False
                break
        if ahead:
            return column
    return None


def _timestamp_columns(sample: pd.DataFrame) -> dict[str, TimestampGuess]:
    """The sample's columns that read as dates; one that reads both day-first and month-first
    keeps both formats for the whole column to decide."""
    out = {}
    for column in sample.columns:
        name = str(column)
        try:
            fmt = timestamp_format(sample[column], unix=bool(_TIME_NAME.search(name)))
        except AmbiguousDates as both:
            out[name] = TimestampGuess(name, *both.formats)
            continue
        if fmt is not False:
            out[name] = TimestampGuess(name, fmt if isinstance(fmt, str) else None)
    return out


def settle_dates(guess: TimestampGuess, values: pd.Series, where: str) -> TimestampGuess:
    """``guess`` with one format, decided on ``values`` (the whole column) when the sample
    read both day-first and month-first. Raises RoleNotFound naming ``--timestamp-format``
    when the whole column still reads both ways (or neither)."""
    if guess.twin is None or guess.format is None:
        return guess
    filled = filled_text(values)
    shares = {f: _parses(filled, f) for f in (guess.format, guess.twin)}
    best = max(shares, key=lambda f: shares[f])
    if shares[best] >= MIN_PARSED_SHARE and len(set(shares.values())) == 2:
        return TimestampGuess(guess.column, best)  # the values only one of them reads decide
    example = filled.iloc[0] if len(filled) else ""
    said = "both" if shares[best] >= MIN_PARSED_SHARE else "neither of"
    raise RoleNotFound(
        f"{where}: every date in column {guess.column!r} (such as {example!r}) reads {said} "
        f"day-first and month-first ({guess.format} and {guess.twin}). Give "
        "--timestamp-format, e.g. --timestamp-format '%m/%d/%Y'."
    )


def _read_as_dates(values: pd.Series, column: str) -> TimestampGuess:
    """The dates of a column named as the timestamp (``--timestamp``)."""
    try:
        fmt = timestamp_format(values, unix=True)
    except AmbiguousDates as both:
        return TimestampGuess(column, *both.formats)
    if fmt is False and reads_as_day_numbers(values):  # days numbered 1, 2, ...
        return TimestampGuess(column, day_number_format())
    if fmt is False and reads_as_excel_serials(values):  # a date cell saved as its number
        return TimestampGuess(column, day_number_format(EXCEL_ORIGIN))
    if fmt is False:
        examples = filled_text(values).head(3).tolist()
        raise RoleNotFound(
            f"--timestamp {column!r}: values such as {examples} do not read as dates (nor as "
            "day numbers: whole numbers spanning four weeks or more)"
        )
    return TimestampGuess(column, fmt if isinstance(fmt, str) else None)


def _given_format(values: pd.Series, column: str, fmt: str) -> TimestampGuess:
    """``--timestamp-format``, checked on the sample: a strftime format must read its dates."""
    if fmt in UNIX_FORMATS:
        return TimestampGuess(column, fmt)
    try:
        origin = day_number_origin(fmt)
    except ValueError as exc:
        raise RoleNotFound(f"--timestamp-format {exc}") from None
    if origin is not None:
        if not reads_as_day_numbers(values):
            raise RoleNotFound(
                f"--timestamp-format {fmt!r}: column {column!r} holds no day numbers (whole "
                f"numbers spanning {MIN_DAYS} days or more); values such as "
                f"{filled_text(values).head(3).tolist()}"
            )
        return TimestampGuess(column, fmt)
    try:
        check_strftime(fmt)
    except ValueError as exc:
        raise RoleNotFound(f"--timestamp-format {exc}") from None
    filled = filled_text(values)
    share = _parses(filled, fmt) if len(filled) else 1.0
    if share < MIN_PARSED_SHARE:
        unread = filled[_dates(filled, fmt).isna()]
        raise RoleNotFound(
            f"--timestamp-format {fmt!r} reads {share:.0%} of column {column!r}; values such as "
            f"{unread.head(3).tolist()} do not read with it"
        )
    return TimestampGuess(column, fmt)


NO_AMOUNT = "no amount column: expected values are skipped and outreach ranks by churn probability"


def infer_event_roles(
    sample: pd.DataFrame,
    *,
    customer_id: str | None = None,
    timestamp: str | None = None,
    amount: str | None = None,
    order_id: str | None = None,
    event_type: str | None = None,
    exclude: Sequence[str] = (),
    given_format: str | None = None,
) -> EventRoles:
    """Roles of an event log's columns; a role given by the caller is taken as it is (after
    checking the column exists). ``given_format``: the timestamp's format
    (``--timestamp-format``), else guessed; dates the sample reads both day-first and
    month-first keep both formats (:attr:`TimestampGuess.twin`) for :func:`settle_dates`."""
    columns = [str(c) for c in sample.columns]
    for flag, given in (
        ("--customer-id", customer_id),
        ("--timestamp", timestamp),
        ("--amount", amount),
        ("--order-id", order_id),
        ("--event-type", event_type),
    ):
        if given is not None and given not in columns:
            raise RoleNotFound(f"{flag} {given!r}: no such column; the file has {columns}")
    notes: list[str] = []
    open_columns = [c for c in columns if c not in exclude]

    if customer_id is None:
        named = id_candidates(open_columns)
        repeated = [c for c in named if _repeats(sample[c])]
        # a log's id is on (nearly) every row: GA4's user_id, set only for signed-in visitors,
        # yields to user_pseudo_id
        filled = [c for c in repeated if _filled_share(sample[c]) >= MIN_ID_FILLED_SHARE]
        emails = [] if repeated else _email_columns(sample, open_columns)
        if len(emails) == 1:  # Shopify's orders: a unique order `Id`, the buyer's `Email`
            customer_id = emails[0]
            notes.append(
                f"{customer_id!r} (email addresses, repeating) was taken for the customer id: "
                f"{named or 'no column'} named like one has a new value on every row; if the "
                "customer is another column, give --customer-id COLUMN"
            )
        elif named:
            customer_id = _require(
                "customer id", filled or repeated or named, "--customer-id", columns
            )
            if sparse := [c for c in repeated if filled and c not in filled]:
                notes.append(
                    f"{sparse} named like a customer id are blank on most rows, so "
                    f"{customer_id!r} was taken for it; if the customer is another column, "
                    "give --customer-id COLUMN"
                )
        else:
            by_values = _ids_by_values(sample, open_columns)
            customer_id = _require("customer id", by_values, "--customer-id", columns)
            notes.append(
                f"no column is named like a customer id: {customer_id!r} was taken for one by "
                "its values (many distinct codes, repeating); if it is not the customer, give "
                "--customer-id COLUMN"
            )
    dates = _timestamp_columns(sample[[c for c in open_columns if c != customer_id]])
    if timestamp is None:
        named = [c for c in dates if _TIME_NAME.search(c)] or list(dates)
        when = [
            c
            for c in named
            if not set(name_words(c)) & (_NOT_EVENT_TIME_WORDS | _RECORDED_TIME_WORDS)
        ]
        if not named:  # no dates: days numbered 1, 2, ... (Dunnhumby's DAY)?
            days = day_number_columns(sample, [c for c in open_columns if c != customer_id])
            dates.update({c: TimestampGuess(c, day_number_format()) for c in days})
            named = days
        if not named:  # Excel's serial dates (44927 for 2023-01-01), named like a time
            serials = [
                c
                for c in open_columns
                if c != customer_id and _TIME_NAME.search(c) and reads_as_excel_serials(sample[c])
            ]
            dates.update({c: TimestampGuess(c, day_number_format(EXCEL_ORIGIN)) for c in serials})
            named = when = [c for c in serials if not set(name_words(c)) & _NOT_EVENT_TIME_WORDS]
        found = _finest(sample, [dates[c] for c in when or named])
        recorded = [c for c in named if set(name_words(c)) & _RECORDED_TIME_WORDS]
        if when and recorded and len(found) == 1:
            notes.append(
                f"{found[0]!r} was taken for the timestamp: {recorded} are when a system sent, "
                "received, uploaded or loaded each row, or the device's clock before the tool "
                "corrected it; if one of them is when the event happened, give --timestamp"
            )
        if coarser := sorted(set(when or named) - set(found)) if len(found) == 1 else []:
            notes.append(
                f"{found[0]!r} was taken for the timestamp: {coarser} hold the same days "
                "without the time of day"
            )
        if (first := _first_step(sample, [dates[c] for c in found])) is not None:
            notes.append(
                f"{first!r} was taken for the timestamp, when each event began: "
                f"{[c for c in found if c != first]} come at or after it on nearly every row "
                "(later steps: approval, payment, an update); if another is when it happened, "
                "give --timestamp COLUMN"
            )
            found = [first]
        if not found and (gaps := [c for c in open_columns if _GAP_NAME.search(c)]):
            raise RoleNotFound(
                f"no column holds dates or times: {gaps} count(s) the days since a "
                "customer's previous event (Instacart's days_since_prior_order), which places "
                "each customer's events against each other but not in the calendar, so no "
                "cutoff can be set. churn needs when each event happened: export the date of "
                "each event (the order date) and name it with --timestamp COLUMN."
            )
        timestamp = _require("timestamp", found, "--timestamp", columns)
    if given_format is not None:
        ts = _given_format(sample[timestamp], timestamp, given_format)
    elif timestamp in dates:
        ts = dates[timestamp]
    else:
        ts = _read_as_dates(sample[timestamp], timestamp)
    taken = {customer_id, timestamp}
    covered = _covered_until(sample, dates, ts, [c for c in open_columns if c not in taken])
    if covered is not None:
        taken.add(covered.column)
        notes.append(
            f"{covered.column!r} (dates on or after {timestamp!r} on nearly every row) says until "
            "when each payment covers the customer: mapped as covered_until, so a customer "
            "paid up past a window's end is no churner and the days of cover left are a "
            "feature; if it is no paid period, remove it from the source's columns"
        )
    if (origin := day_number_origin(ts.format)) == EXCEL_ORIGIN:
        first = filled_text(sample[timestamp]).iloc[0]
        day = pd.Timestamp(EXCEL_ORIGIN) + pd.Timedelta(days=float(first))
        notes.append(
            f"{timestamp!r} holds dates as Excel saves a date cell as a number ({first} is "
            f"{day:%Y-%m-%d %H:%M}; timestamp_format: {ts.format}); if they are not dates, "
            "give --timestamp COLUMN"
        )
    elif origin is not None:
        numbers = pd.to_numeric(filled_text(sample[timestamp]), errors="coerce")
        notes.append(
            f"{timestamp!r} holds day numbers ({numbers.min():.0f} to {numbers.max():.0f} in the "
            f"first rows), not dates: day 1 is read as {origin + dt.timedelta(days=1)} "
            f"(timestamp_format: {ts.format}), so every date the pipeline writes counts from "
            "there; write the day before day 1 in the format if the extract says which it was"
        )

    quantity = None
    if amount is None:
        amount = _amount_column(sample, [c for c in open_columns if c not in taken])
        if amount is None:
            notes.append(NO_AMOUNT)
        elif _is_unit_price(amount):
            quantity = _quantity_column(sample, [c for c in open_columns if c not in taken])
    if amount is not None and (mixed := _currencies(sample, open_columns)):
        column, codes = mixed
        notes.append(
            f"{amount!r} is written in {len(codes)} currencies ({column!r}: "
            f"{', '.join(codes[:5])}{', ...' if len(codes) > 5 else ''}) and is added up as "
            "one: convert the amounts to one currency before trusting values and value at risk"
        )
    taken |= {amount or "", quantity or ""}
    if order_id is None:
        # a count of orders (TXN_COUNT, n_orders) or their value is no order's id
        orders = [
            c
            for c in _candidates(open_columns, _ORDER_NAME)
            if c not in taken and not set(name_words(c)) & _MEASURE_WORDS
        ]
        order_id = orders[0] if orders else None
    if order_id is None and len(numbered := _order_numbers(sample, open_columns, taken)) == 1:
        order_id = numbered[0]  # Shopify's `Name`: #1001 on each line of order 1001
        notes.append(
            f"{order_id!r} (#1001, #1002, ...) was taken for the order number: the lines of one "
            "order count as one purchase; if it is not, give --order-id COLUMN"
        )
    taken.add(order_id or "")
    if event_type is None:
        few = [
            c
            for c in _candidates(open_columns, _TYPE_NAME)
            if c not in taken
            and c not in dates
            and not is_numeric(sample[c])
            and (
                sample[c].nunique() <= MAX_EVENT_TYPES
                # an analytics tool's event names: many, each on many rows (not an event id)
                or (
                    "event" in name_words(c)
                    and not set(name_words(c)) & _ID_WORDS
                    and sample[c].nunique() <= len(sample) / MIN_ROWS_PER_EVENT_TYPE
                )
            )
        ]
        # the event's name before a kind of call (Segment's `event` before `type`: track, page)
        few.sort(key=lambda c: "event" not in name_words(c))
        # one value on every row tells no event from another (Stripe's `Payment Source Type`:
        # card): order statuses beside it are the type, else it stays the type
        one_value = [c for c in few if filled_text(sample[c]).nunique() < 2]
        event_type = next((c for c in few if c not in one_value), None)
        statuses = _order_statuses(sample, open_columns, taken) if event_type is None else []
        if event_type is None and not statuses and one_value:
            event_type = one_value[0]
        if event_type is None and statuses:
            event_type = statuses[0]  # a shop's order status: refunded, failed... are no sale
            notes.append(
                f"{event_type!r} (order statuses such as "
                f"{', '.join(map(repr, sorted(filled_text(sample[event_type]).unique())[:5]))}) "
                "is the event type: only completed or paid orders are purchases; give "
                "--event-type COLUMN for another"
            )
        if event_type is None:
            flags = [c for c in _cancel_flags(sample, open_columns) if c not in taken]
            event_type = flags[0] if flags else None
    credits: tuple[str, ...] = ()
    if amount is not None and event_type is None:
        text_columns = [
            c
            for c in open_columns
            if c not in taken and c not in dates and not is_numeric(sample[c])
        ]
        if (credit := credit_column(sample, amount, text_columns)) is not None:
            event_type, credits = credit
            notes.append(
                f"{event_type!r} is the event type: its {', '.join(map(repr, credits))} rows "
                f"carry the negative {amount!r} (credit notes, refunds), so they are returns, "
                "no purchase; give --event-type COLUMN for another"
            )
    elif amount is not None and event_type not in _cancel_flags(sample, [str(event_type)]):
        credits = credit_values(sample[event_type], negative_amounts(sample[amount]))
        if credits:
            notes.append(
                f"{event_type!r} {', '.join(map(repr, credits))} rows carry the negative "
                f"{amount!r} (credit notes, refunds): returns, no purchase"
            )
    taken.add(event_type or "")
    product_id = _product_column(sample, [c for c in open_columns if c not in taken])
    taken.add(product_id or "")
    attributes = tuple(
        c
        for c in open_columns
        if c not in taken and not is_numeric(sample[c]) and 1 < sample[c].nunique() <= 50
    )
    measures = measure_columns(
        sample,
        [c for c in open_columns if c not in taken | set(dates)],
        customers=sample[customer_id],
        times=_sample_times(sample[timestamp], ts),
    )
    roles_taken = {customer_id, timestamp, amount, order_id, event_type, *measures}
    for column, keys in json_object_columns(
        sample, [c for c in open_columns if c not in roles_taken]
    ).items():
        money = [k for k in keys if _is_money(k)]
        notes.append(
            f"{column!r} holds JSON objects (keys such as {', '.join(map(repr, keys))}): no "
            "field inside one is read; write any you need as a column of its own"
            + (f" (the amount: {money[0]!r}, then --amount)" if money and amount is None else "")
            + " and run init again"
        )
    numeric_attributes = customer_number_columns(
        sample,
        [c for c in open_columns if c not in taken | set(dates) | set(measures)],
        sample[customer_id],
    )
    balances = [
        c
        for c in open_columns
        if c not in roles_taken
        and c not in numeric_attributes
        and set(name_words(c)) & _BALANCE_WORDS
        and is_numeric(sample[c])
    ]
    if balances:
        notes.append(
            f"{', '.join(map(repr, balances))} left out: a balance after each event is a level, "
            "not an amount to add up over a window; the latest balance before a cutoff is no "
            "feature churn builds from an event log"
        )
        if event_type is not None and amount is not None:
            notes += _flow_notes(
                sample,
                event_type=event_type,
                amount=amount,
                balance=balances[0],
                customer_id=customer_id,
                ts=ts,
            )
    ids = filled_text(sample[customer_id])
    placeholders = placeholder_ids(ids)
    blank_ids = len(sample) - len(ids)
    if placeholders:
        on = int(ids.isin(placeholders).sum())
        blank_ids += on
        notes.append(
            f"{list(placeholders)} in {customer_id!r} stand for no customer ({on:,} of the first "
            f"{len(sample):,} rows, far more than any customer's: guests?): read as no id "
            "(missing_ids) and dropped (data.events.drop_missing_customer_id)"
            + "".join(
                f"; to keep the guests, key everyone by {email!r} with --customer-id"
                for email in _email_columns(sample, open_columns)[:1]
            )
        )
    elif blank_ids:
        notes.append(guests_note(blank_ids, len(sample)))
    return EventRoles(
        customer_id,
        ts,
        amount,
        order_id,
        event_type,
        attributes,
        tuple(notes),
        blank_ids,
        event_type in _cancel_flags(sample, [event_type] if event_type else []),
        placeholders,
        measures,
        quantity,
        product_id,
        credits,
        numeric_attributes,
        covered,
    )


def _covered_until(
    sample: pd.DataFrame,
    dates: dict[str, TimestampGuess],
    ts: TimestampGuess,
    columns: Sequence[str],
) -> TimestampGuess | None:
    """The date column among ``columns`` that ends each row's paid period
    (:func:`churn.data.paid_periods.paid_period_column`), read as its own dates; None when
    none does, the timestamp's format is still undecided, or the period's ends are ISO 8601
    beside a timestamp of another format (``covered_until_format`` cannot name ISO 8601)."""
    times = _sample_times(sample[ts.column], ts)
    if times is None:
        return None
    ends = {}
    for column in columns:
        if column in dates and (read := _sample_times(sample[column], dates[column])) is not None:
            ends[column] = read
    found = paid_period_column(times, ends, {c: name_words(c) for c in ends})
    if found is None or (dates[found.column].format is None and ts.format is not None):
        return None  # ISO 8601 beside a format: covered_until_format has no way to say so
    return dates[found.column]


def _flow_notes(
    sample: pd.DataFrame,
    *,
    event_type: str,
    amount: str,
    balance: str,
    customer_id: str,
    ts: TimestampGuess,
) -> list[str]:
    """A note when the running ``balance`` tells money in from money out among the event
    types (:func:`churn.data.money_flows.flow_sides`), both of which the amount adds up."""
    times = _sample_times(sample[ts.column], ts)
    if times is None:
        return []
    ins, outs = flow_sides(
        sample[event_type],
        parse_numbers(sample[amount])[0],
        parse_numbers(sample[balance])[0],
        sample[customer_id],
        times,
    )
    if not outs:
        return []
    return [
        f"{balance!r} rises by {amount!r} on {event_type!r} {', '.join(map(repr, ins))} rows "
        f"(money in) and falls by it on {', '.join(map(repr, outs))} rows (money out); both "
        "are added up as spend (the spend features and the value model), so a customer's "
        "value is the money that passes through the account, not what it earns you"
    ]


def guests_note(blank_ids: int, rows: int) -> str:
    """The note on ``blank_ids`` of a sample's ``rows`` without a customer id."""
    return (
        f"{blank_ids:,} of the first {rows:,} rows have no customer id (guests?): "
        "such rows are dropped (data.events.drop_missing_customer_id)"
    )


_QUANTITY_WORDS = frozenset({"quantity", "qty", "quantities", "units", "pieces", "menge"})


def _is_unit_price(amount: str) -> bool:
    """Whether an amount column's name says it is the price of one unit (``UnitPrice``,
    ``item_price``), not what the line came to (``total_price``, ``amount``)."""
    words = set(name_words(amount))
    return bool(words & {"price", "preis", "precio", "prix", "prijs"}) and not words & (
        _PAID_WORDS | {"line", "subtotal", "net", "gross"}
    )


def _quantity_column(sample: pd.DataFrame, columns: Sequence[str]) -> str | None:
    """The units of each line: a numeric column named like a quantity, the first one."""
    found = [
        c
        for c in columns
        if set(name_words(c)) & _QUANTITY_WORDS
        and not set(name_words(c)) & {"price", "amount", "total", "value"}
        and is_numeric(sample[c])
    ]
    return found[0] if found else None


MIN_PRODUCTS = 10
"""Fewest distinct values in the sample a product column needs (fewer: a kind of product)."""


def _product_column(sample: pd.DataFrame, columns: Sequence[str]) -> str | None:
    """The product of each event: a column named like one (a SKU, a stock code, an article)
    and not like something about it (its category, price or name), with many values (a big
    catalogue's first rows may not repeat one); one with an id word first (``product_id``
    before ``product``)."""
    found = []
    for column in _candidates(columns, _PRODUCT_NAME):
        filled = filled_text(sample[column])
        if (
            set(name_words(column)) & (_NOT_PRODUCT_WORDS | _MEASURE_WORDS)
            or filled.nunique() < MIN_PRODUCTS
        ):
            continue
        found.append(column)
    found.sort(
        key=lambda c: not (set(name_words(c)) & _ID_WORDS or re.search(r"(id|code)$", c, re.I))
    )
    return found[0] if found else None


MAX_MEASURES = 10
"""Measures init maps at most (the most often filled first): each adds six features."""
MAX_ID_LIKE_SHARE = 0.9
"""Share of distinct values among the filled whole numbers of a column above which it numbers
rows (a sequence, an id, a time in seconds) rather than measuring them, unless it is named in
a unit of measure (:data:`_UNIT_WORDS`) and its values run in no sequence
(:func:`_sequence_like`)."""
_UNIT_WORDS = frozenset(
    {"duration", "elapsed", "ms", "msec", "millis", "millisecond", "milliseconds", "sec"}
    | {"secs", "second", "seconds", "minute", "minutes", "mins", "hours", "bytes", "byte"}
    | {"kb", "mb", "gb", "kib", "mib", "gib", "kbytes", "mbytes"}
)
"""Words of a column's name that say it measures a length of time or a size (a track's
``duration_ms``, ``bytes`` transferred, ``session_seconds``): whole numbers nearly all different
are then still a measure, not an id, unless they run in a sequence."""
SEQUENCE_SHARE = 0.95
"""Share of a column's steps that must rise, in file order, for it to run as a sequence (a
row number, an auto-increment id, a log's times)."""
_UNIX_RANGES = ((9.46e8, 4.1e9), (9.46e11, 4.1e12))
"""Unix seconds and milliseconds from 1990 to 2100: times, not lengths of time."""


def _sequence_like(numbers: pd.Series) -> bool:
    """Whether whole numbers (in file order) run like ids rather than measure something: they
    rise from row to row (:data:`SEQUENCE_SHARE`), or half of the steps between their sorted
    distinct values are 1 (consecutive ids, shuffled), or they all read as unix times."""
    steps = numbers.diff().dropna()
    if len(steps) and float((steps > 0).mean()) >= SEQUENCE_SHARE:
        return True
    gaps = pd.Series(numbers.drop_duplicates().sort_values().to_numpy()).diff().dropna()
    if len(gaps) and float((gaps == 1).mean()) >= 0.5:
        return True
    return any(bool(numbers.between(low, high).all()) for low, high in _UNIX_RANGES)


_NOT_MEASURE_WORDS = frozenset(
    {
        *("price", "cost", "rate", "ratio", "pct", "percent", "share", "avg", "mean", "average"),
        *("lat", "lng", "lon", "latitude", "longitude", "zip", "postcode", "postal", "age"),
        *("year", "month", "week", "weekday", "dow", "hour", "day", "date", "time", "ts"),
        *("status", "code", "version", "level", "rank", "index", "idx", "seq", "sequence"),
        *("score", "rating", "flag", "is", "has", "position", "registration"),
        *("class", "subclass", "category", "categ", "cat", "group", "type", "segment", "brand"),
        *("store", "branch", "region", "dept", "department", "channel", "tier", "plan"),
        *("cohort", "bucket", "cluster", "cell", "tower", "site", "phone", "msisdn", "imsi"),
        *("imei", "mobile", "tel", "telephone", "caller", "callee", "dialled", "dialed"),
    }
)
_BALANCE_WORDS = frozenset({"balance", "saldo", "solde", "kontostand", "guthaben"})
"""Words of a numeric column's name that make it a level after each event (a bank
statement's running ``balance``, a wallet's, a credit's), no amount of usage: summed over a
window it counts the same money again on every row."""
"""Words of a numeric column's name that make it no amount of usage to add up: a price or
rate (a sum means nothing), a place, a time, a code, a position or a class (Ta-Feng's
``PRODUCT_SUBCLASS``, a store number, a call record's cell or the number dialled)."""


COUNT_PREFIXES = frozenset({"no", "nr", "num", "number", "n"})
"""Id words that, leading a name, count something (``num_25``, ``number_of_logins``,
``no_of_calls``); at its end they name a row (``account_num``)."""


def _past_count_word(words: Sequence[str]) -> set[str]:
    """A name's words without a leading :data:`COUNT_PREFIXES` word (``num_25``,
    ``number_of_seats``), which counts something rather than naming an id."""
    return set(words[1:] if words[:1] and words[0] in COUNT_PREFIXES else words)


def _varied_numbers(values: pd.Series) -> pd.Series | None:
    """A column's filled values (written-as-none left out) read as numbers, when every one
    reads and they take at least two values; None otherwise."""
    written = filled_text(values)
    numbers, unread = parse_numbers(written[~written_as_none(written)])
    return None if len(unread) or numbers.nunique() < 2 else numbers


MIN_CUSTOMERS_SEEN = 5
"""Customers with several rows in the sample that :func:`_per_customer` needs to judge."""
PER_CUSTOMER_SHARE = 0.9
"""Share of those customers a column must hold one value for (an attribute of the customer)
or never see fall (a running total) to be no measure."""


def measure_columns(
    sample: pd.DataFrame,
    columns: Sequence[str],
    *,
    customers: pd.Series | None = None,
    times: pd.Series | None = None,
) -> tuple[str, ...]:
    """Columns of ``columns`` (none of them the id, time, amount, order or type) that hold
    how much of something each event carries, to be summed per window: numbers on most rows,
    at least two values, every filled one a number or written as none
    (:data:`churn.data.parsing.NO_MEASURE`), not named as an id, a price, a time, a place or a
    code (:data:`_NOT_MEASURE_WORDS`; a leading count word is no id: ``num_25``), and not
    whole numbers nearly all different (a sequence or an id), unless named in a unit
    (:data:`_UNIT_WORDS`: ``duration_ms``) and running in no sequence (:func:`_sequence_like`).
    With the sample's ``customers`` (and event ``times``), not a number each customer keeps on
    every row (an account number, a card's last digits) nor one that only grows (a meter
    reading, a lifetime count): summed, they count the same thing again on every row. At most
    :data:`MAX_MEASURES`, the most often filled first."""
    found: list[tuple[float, str]] = []
    for column in columns:
        words = _past_count_word(name_words(column))
        unit = bool(words & _UNIT_WORDS)  # a watch time in ms is no time of day
        if words & (_ID_WORDS | _NOT_MEASURE_WORDS | _BALANCE_WORDS) - (
            {"time"} if unit else set()
        ):
            continue
        if not is_numeric(sample[column]) or _is_money(column):  # a subtotal, tax or refund
            continue
        numbers = _varied_numbers(sample[column])
        if numbers is None:  # a word ingest would refuse, or one value: no measure
            continue
        whole = bool((numbers == numbers.round()).all())
        if (
            whole
            and numbers.nunique() > MAX_ID_LIKE_SHARE * len(numbers)
            and (not unit or _sequence_like(numbers))
        ):
            continue
        if customers is not None and _per_customer(numbers, customers, times):
            continue
        found.append((_filled_share(sample[column]), column))
    found.sort(key=lambda item: -item[0])
    return tuple(column for _, column in found[:MAX_MEASURES])


_MONEY_WORDS = frozenset(
    {"shipping", "tax", "taxes", "vat", "fee", "fees", "refund", "refunded", "discount", "tip"}
    | {"tips", "last4", "digits"}
)
"""Words of a numeric column's name that make it money beside the amount (shipping, taxes,
fees, refunds) or a card's digits, never a usage to add up."""


def _is_money(column: str) -> bool:
    """Whether ``column`` is named like money (:data:`_AMOUNT_NAME`, not a count or a duration:
    Shopify's ``Subtotal``, GA4's ``ecommerce.purchase_revenue``) or a card's digits."""
    words = set(name_words(column))
    if words & _MONEY_WORDS:
        return True
    return bool(_AMOUNT_NAME.search(column)) and not words & _NOT_AMOUNT_WORDS


def _per_customer(numbers: pd.Series, customers: pd.Series, times: pd.Series | None) -> bool:
    """Whether ``numbers`` (a column's parsed values, indexed as the sample) describe the
    customer rather than each event: the same value, not 0, on every row of nine in ten of the
    customers seen on several rows with a value other than 0; or, in ``times`` order, never
    falling and rising for nine in ten of those seen on three rows or more."""
    if _constant_per_customer(numbers, customers):
        return True
    if times is None:
        return False
    frame = pd.DataFrame({"customer": customers.reindex(numbers.index), "value": numbers})
    seen = frame.groupby("customer", sort=False)["value"].size()
    frame["when"] = times.reindex(numbers.index)
    frame = frame.dropna(subset=["when"]).sort_values(["customer", "when"], kind="stable")
    three = seen[seen >= 3].index
    if len(three) < MIN_CUSTOMERS_SEEN:
        return False
    steps = frame["value"].diff().where(frame["customer"].eq(frame["customer"].shift()))
    falls = steps.lt(0).groupby(frame["customer"]).any().reindex(three, fill_value=False)
    rises = steps.gt(0).groupby(frame["customer"]).any().reindex(three, fill_value=False)
    return bool((~falls & rises).mean() >= PER_CUSTOMER_SHARE)


def _constant_per_customer(numbers: pd.Series, customers: pd.Series) -> bool:
    """Whether ``numbers`` (parsed values, indexed as the sample) hold the same value, not 0,
    on every row of nine in ten of the customers seen on several rows with a value other
    than 0 (at least :data:`MIN_CUSTOMERS_SEEN` of them)."""
    frame = pd.DataFrame({"customer": customers.reindex(numbers.index), "value": numbers})
    groups = frame.groupby("customer", sort=False)["value"]
    seen = groups.size()
    valued = frame["value"].ne(0).groupby(frame["customer"], sort=False).any()
    several = seen[(seen >= 2) & valued.reindex(seen.index)].index
    constant = groups.nunique().reindex(several) == 1
    return bool(len(several) >= MIN_CUSTOMERS_SEEN and constant.mean() >= PER_CUSTOMER_SHARE)


_NOT_ATTRIBUTE_WORDS = frozenset(
    {
        *("year", "month", "week", "weekday", "dow", "hour", "day", "date", "time", "ts"),
        *("lat", "lng", "lon", "latitude", "longitude", "zip", "postcode", "postal"),
        *("phone", "msisdn", "imsi", "imei", "mobile", "tel", "telephone", "cell", "tower"),
        *("last4", "digits", "seq", "sequence", "index", "idx"),
    }
)
"""Words of a numeric column's name that make it no attribute of the customer: a time, a
place or a phone (codes, not amounts), a card's digits or a row's position. Words of the
churn label or a cancellation (:data:`LABEL_NAME_WORDS`, :data:`CANCEL_FLAG_WORDS`: known
only once the customer has left) neither."""


def customer_number_columns(
    sample: pd.DataFrame, columns: Sequence[str], customers: pd.Series
) -> tuple[str, ...]:
    """Columns of ``columns`` (none of them the id, time, amount, order, type, product or a
    measure) of numbers that describe the customer or their plan rather than the event (an
    auto-renew flag, a plan's length, seats): every filled value a number, the same value on
    every row of nine in ten of the customers seen on several rows (:func:`_constant_per_customer`),
    at least two values between customers, not whole numbers nearly all different between
    customers (an account number), and not named as an id (a leading count word is none:
    ``number_of_seats``), a code, a time, a place, a phone, a card's digits, the churn label or
    a cancellation (:data:`_NOT_ATTRIBUTE_WORDS`). In the file's order."""
    found = []
    for column in columns:
        words = name_words(column)
        if (
            _past_count_word(words) & _ID_WORDS
            or set(words) & (_NOT_ATTRIBUTE_WORDS | LABEL_NAME_WORDS | CANCEL_FLAG_WORDS)
            or is_code_name(column)
            or not is_numeric(sample[column])
        ):
            continue
        numbers = _varied_numbers(sample[column])
        if numbers is None or not _constant_per_customer(numbers, customers):
            continue
        per_customer = numbers.groupby(customers.reindex(numbers.index), sort=False).first()
        whole = bool((numbers == numbers.round()).all())
        if per_customer.nunique() < 2 or (
            whole and per_customer.nunique() > MAX_ID_LIKE_SHARE * len(per_customer)
        ):
            continue
        found.append(column)
    return tuple(found)


def _sample_times(values: pd.Series, guess: TimestampGuess) -> pd.Series | None:
    """The sample's event times as :func:`parse_timestamps` reads them; None when the format is
    still undecided (dates read both day-first and month-first)."""
    if guess.twin is not None:
        return None
    try:
        times, _ = parse_timestamps(values, fmt=guess.format, timezone="UTC")
    except (ValueError, TypeError):
        return None
    return times


_PLACEHOLDER_WORDS = frozenset(
    {"guest", "unknown", "none", "null", "nan", "n/a", "na", "anonymous", "(not set)", "not set"}
    | {"undefined", "-", "--", "?", "no customer", "walk-in", "cash"}
)
_PLACEHOLDER_NUMBER = re.compile(r"^(0+(\.0+)?|-1(\.0+)?|0{8}-0{4}-0{4}-0{4}-0{12})$")
PLACEHOLDER_ROWS = 20
"""How many times the median customer's rows a placeholder id must cover (and at least this
many rows): a real customer 0 is an ordinary customer."""


def placeholder_ids(ids: pd.Series) -> tuple[str, ...]:
    """Values of an id column (filled, as text) that stand for no customer: written as none is
    (``0``, ``-1``, ``guest``, ``unknown``, ``(not set)``...) and on far more rows than a
    customer has (:data:`PLACEHOLDER_ROWS` times the median)."""
    counts = ids.value_counts()
    if len(counts) < 2:
        return ()
    least = max(PLACEHOLDER_ROWS, PLACEHOLDER_ROWS * float(counts.median()))
    return tuple(
        str(value)
        for value, n in counts.items()
        if n >= least
        and (
            str(value).strip().lower() in _PLACEHOLDER_WORDS
            or _PLACEHOLDER_NUMBER.match(str(value).strip())
        )
    )


CANCEL_FLAG_WORDS = frozenset(
    {
        "cancel",
        "cancelled",
        "canceled",
        "cancellation",
        "churn",
        "churned",
        "unsubscribe",
        "unsubscribed",
        "terminated",
        "termination",
        "deactivated",
    }
)
"""Words of a yes/no column's name that make its yes a customer's cancellation."""


def _cancel_flags(sample: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns named like a cancellation (:data:`CANCEL_FLAG_WORDS`: ``is_cancel``,
    ``churned``) whose values are yes/no words (``0``/``1``, ``true``/``false``)."""
    yes_no = {*POSITIVE_WORDS, *NEGATIVE_WORDS}
    return [
        c
        for c in columns
        if set(name_words(c)) & CANCEL_FLAG_WORDS
        and not (values := set(filled_text(sample[c]).map(label_word))) - yes_no
        and values
    ]


def yes_values(values: Sequence[str]) -> tuple[str, ...]:
    """The values of ``values`` that read as yes (``1``, ``True``, ``Y``), as written."""
    return tuple(v for v in values if label_word(v) in POSITIVE_WORDS)


LABEL_NAME_WORDS = frozenset(
    {"churn", "churned", "churner", "exited", "attrition", "attrited", "cancelled", "canceled"}
)
"""Words of a column name that mark it as the churn label when ``--label`` is not given."""

_NEGATION = frozenset({"not", "non", "no", "never"})


def label_word(value: str) -> str:
    """A label value as compared with the yes-like and no-like words: trimmed, case-folded,
    trailing full stops dropped ('True.' -> 'true'), and of several words the first unless it
    negates ('Attrited Customer' -> 'attrited'; 'Not churned' stays whole)."""
    folded = value.strip().casefold().rstrip(".!")
    words = folded.split()
    if len(words) > 1 and words[0] not in _NEGATION:
        return words[0]
    return folded


_STATUS_NAME_WORDS = frozenset({"status", "state", "stage", "outcome", "result"})
"""Words of a column name that make it a customer's status, a label when one of its values
says the customer left (Maven's ``Customer Status``: Stayed, Churned, Joined)."""
_LEAVING_WORDS = frozenset(POSITIVE_WORDS) - {"yes", "y", "true", "t", "1", "1.0"}
"""The yes-like label words that say a customer left, not merely yes."""
MAX_STATUS_VALUES = 10


def leaving_value(values: pd.Series) -> str | None:
    """The one value of a status column that says a customer left (``Churned``, ``Cancelled``,
    ``Closed``) among at most :data:`MAX_STATUS_VALUES` distinct values; None when there is
    no such value or more than one."""
    distinct = sorted(filled_text(values).unique().tolist())
    if not 2 <= len({v.casefold() for v in distinct}) <= MAX_STATUS_VALUES:
        return None
    leaving = {v.strip().casefold(): v for v in distinct if label_word(v) in _LEAVING_WORDS}
    return str(next(iter(leaving.values()))) if len(leaving) == 1 else None


def leaving_status(name: str, values: pd.Series) -> bool:
    """Whether a column is a customer's status with one value that says the customer left: a
    name with a status word (``status``, ``state``, ``stage``...) and a :func:`leaving_value`
    (a subscription's ``Status``: active, trialing, canceled)."""
    return bool(_STATUS_NAME_WORDS & set(name_words(name))) and leaving_value(values) is not None


def label_column(sample: pd.DataFrame) -> str:
    """The churn label of a snapshot when ``--label`` is not given: the one column whose name
    has a churn word (:data:`LABEL_NAME_WORDS`: ``Churn``, ``Exited``, ``Attrition_Flag``,
    ``Churn?``) and two distinct values; else the one status column (``Customer Status``) with
    one value that says a customer left (:func:`leaving_value`). Raises RoleNotFound naming
    the candidates otherwise."""
    named = [str(c) for c in sample.columns if LABEL_NAME_WORDS & set(name_words(str(c)))]
    two_valued = [c for c in named if filled_text(sample[c]).str.casefold().nunique() == 2]
    if len(two_valued) == 1 or (two_valued and _same_split(sample, two_valued)):
        return two_valued[0]  # several writing one split (Churn Label, Churn Value): the first
    statuses = [str(c) for c in sample.columns if leaving_status(str(c), sample[c])]
    if not two_valued and len(statuses) == 1:
        return statuses[0]
    # a label of who stayed (Retained, Renewed: yes/no), never a trait such as IsActiveMember
    stayed = [
        str(c)
        for c in sample.columns
        if set(name_words(str(c))) & _RETENTION_LABEL_WORDS
        and filled_text(sample[c]).str.casefold().nunique() == 2
        and all(label_word(v) in (*POSITIVE_WORDS, *NEGATIVE_WORDS) for v in filled_text(sample[c]))
    ]
    if not two_valued and not statuses and len(stayed) == 1:
        return stayed[0]
    found = (
        f"columns named like a churn label with two values: {two_valued}"
        if two_valued
        else f"no column is named like a churn label with two values (named so: {named})"
    )
    raise RoleNotFound(f"{found}. Give --label COLUMN.")


def _same_split(sample: pd.DataFrame, columns: Sequence[str]) -> bool:
    """True when every column of ``columns`` splits the rows as the first does (one value of
    each for one value of the other)."""
    first = sample[columns[0]].astype("string").str.strip().str.casefold()
    for column in columns[1:]:
        other = sample[column].astype("string").str.strip().str.casefold()
        pairs = pd.DataFrame({"a": first, "b": other}).dropna().drop_duplicates()
        if pairs["a"].duplicated().any() or pairs["b"].duplicated().any():
            return False
    return True


_NOT_AMOUNT_WORDS = frozenset(
    {
        *("id", "method", "type", "code", "days", "count", "num", "number", "flag", "is", "rate"),
        *("secs", "seconds", "sec", "minutes", "mins", "hours", "duration", "time", "length"),
        *("qty", "quantity", "items", "units", "views", "clicks", "sessions", "plays", "songs"),
    }
)
"""Words of a money-named column's name that say it is no amount (``payment_method_id``,
``payment_plan_days``, a listening log's ``total_secs``, a ``total_items``)."""
_PAID_WORDS = frozenset({"paid", "amount", "total", "revenue", "sales", "spend", "spent", "gmv"})
"""Words of an amount's name that say what was paid, preferred to a list price or a value."""
_OWED_WORDS = frozenset({"due", "owed", "remaining", "outstanding", "billed", "invoiced", "list"})
"""Words of an amount's name that say it was asked for, not paid (Stripe's ``Amount Due``
beside ``Amount Paid``)."""


def _amount_column(sample: pd.DataFrame, columns: Sequence[str]) -> str | None:
    """The amount of an event log: a numeric column named like money and not like an id or a
    count, what was paid (:data:`_PAID_WORDS`) before a price; in the file's order within."""
    found = [
        c
        for c in _candidates(columns, _AMOUNT_NAME)
        if not set(name_words(c)) & _NOT_AMOUNT_WORDS and is_numeric(sample[c])
    ]

    counts = {c for c in found if _counts_units(sample[c])}

    def rank(column: str) -> tuple[bool, bool, bool, bool]:
        words = set(name_words(column))
        return (
            column in counts,
            not words & _PAID_WORDS,
            bool(words & _OWED_WORDS),
            "paid" not in words,
        )

    found.sort(key=rank)
    return found[0] if found else None


COUNT_LIKE_MOST = 10
"""Nine in ten values of a column of whole numbers at most this: units of a line, not money."""


def _counts_units(values: pd.Series) -> bool:
    """Whether a money-named column holds whole numbers, nine in ten of them at most
    :data:`COUNT_LIKE_MOST` (Ta-Feng's ``AMOUNT``, the items of a line, beside its
    ``SALES_PRICE``): another money-named column is then the spend."""
    numbers = parse_numbers(filled_text(values))[0].dropna()
    if numbers.empty:
        return False
    whole = bool((numbers == numbers.round()).all()) and bool((numbers >= 0).all())
    return whole and float(numbers.quantile(0.9)) <= COUNT_LIKE_MOST


_STAY_LABEL_WORDS = frozenset(
    {"retained", "retention", "retain", "active", "stayed", "stay", "stays", "renewed"}
    | {"renewal", "renews", "loyal", "subscribed", "alive", "survived", "kept", "remained"}
)
"""Words of a label's name that make its yes the customers who stayed (``Retained``,
``is_active``): then its no-like value churned."""


_RETENTION_LABEL_WORDS = frozenset({"retained", "retention", "renewed", "stayed", "survived"})
"""Words of a column's name that make it a label of who stayed when no churn label is there;
not ``active``, which names a trait as often as a label (``IsActiveMember``)."""


def says_who_stayed(label: str) -> bool:
    """Whether a label's name says who stayed rather than who left."""
    return bool(set(name_words(label)) & _STAY_LABEL_WORDS)


def positive_label(values: pd.Series, given: str | None = None, *, name: str = "") -> str:
    """The label value meaning 'churned'. Two distinct values, one of them a yes-like word
    (case and blanks ignored), or ``given``; the no-like one when the label's ``name`` says who
    stayed (``Retained``: Yes stayed, No churned). Raises RoleNotFound naming the values
    otherwise."""
    filled = filled_text(values)
    distinct = sorted(filled.unique().tolist())
    if given is not None:
        matches = [v for v in distinct if v.strip().casefold() == given.strip().casefold()]
        if not matches:
            raise RoleNotFound(f"--positive {given!r} is not among the label's values {distinct}")
        return given
    folded = {v.strip().casefold() for v in distinct}
    if len(folded) > 2 and (leaving := leaving_value(filled)) is not None:
        return leaving  # a status: the value that says a customer left; the others stayed
    if len(folded) != 2:
        raise RoleNotFound(
            f"the label holds {len(folded)} distinct values ({distinct[:10]}); a churn label has "
            "two. Give --positive VALUE to name the value that means churned."
        )
    yes = [v for v in distinct if label_word(v) in POSITIVE_WORDS]
    no = [v for v in distinct if label_word(v) in NEGATIVE_WORDS]
    if says_who_stayed(name) and len({v.strip().casefold() for v in no}) == 1 and yes:
        return str(no[0])
    if len({v.strip().casefold() for v in yes}) == 1 and no:
        return str(yes[0])
    raise RoleNotFound(
        f"cannot tell which of the label's values {distinct} means churned. Give --positive VALUE."
    )


def name_words(column: str) -> list[str]:
    """``"MonthlyCharges"`` -> ``["monthly", "charges"]``, ``"Monthly Usage (GB)"`` ->
    ``["monthly", "usage", "gb"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", column)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)  # "HTTPServer": http, server
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def is_running_total(column: str) -> bool:
    """Whether a charge's name says it is a running total (``TotalCharges``), not a monthly
    charge."""
    return bool(set(name_words(column)) & _RUNNING_TOTAL_WORDS)


_CODE_NAME_WORDS = frozenset(
    {"zip", "zipcode", "postal", "postcode", "plz", "cep", "pin", "pincode", "fips"}
)
"""Words of a column's name that make its numbers codes of a place (a zip or postal code):
categories, never quantities to compare ("zip code prefix 2,188; typical 51,898.50")."""


def is_code_name(column: str) -> bool:
    """Whether a column's name says its numbers are a place's code (:data:`_CODE_NAME_WORDS`)."""
    return bool(set(name_words(column)) & _CODE_NAME_WORDS)


_CATEGORY_CODE_WORDS = frozenset(
    {"city", "region", "via", "code", "type", "channel", "method", "source", "zone", "area"}
    | {"district", "state", "province", "country", "segment", "category", "store", "branch"}
    | {"gender", "language", "lang"}
)
"""Words of a column's name that make a few whole numbers codes of a category (KKBox's
``city`` 1 to 22 and ``registered_via`` 3, 4, 7, 9, 13): numbered, not measured."""
MAX_CODE_VALUES = 50
"""Most distinct values of whole numbers named like a category (:data:`_CATEGORY_CODE_WORDS`)
to be read as its codes; more, and they are more likely a measure or an id."""


def is_code_column(column: str, values: pd.Series) -> bool:
    """Whether a numeric column holds codes, not quantities: named like a place's code
    (:func:`is_code_name`, any number of values), or named like a category
    (:data:`_CATEGORY_CODE_WORDS`) with whole numbers of at most :data:`MAX_CODE_VALUES` values.
    ``values``: the column's sample, as text."""
    if is_code_name(column):
        return True
    if not set(name_words(column)) & _CATEGORY_CODE_WORDS:
        return False
    written = filled_text(values)
    numbers, unread = parse_numbers(written[~written_as_none(written)])
    return (
        not len(unread)
        and bool(len(numbers))
        and bool((numbers == numbers.round()).all())
        and numbers.nunique() <= MAX_CODE_VALUES
    )


MAX_NEGATIVE_CHARGES = 0.05
"""The share of negative values a charge may hold (credits, as in Maven's Monthly Charge);
more, and the column is a balance or a difference, not what a customer pays."""

_PLAIN_CHARGE_WORDS = frozenset(
    set().union(*_CHARGE_WORDS)
    | _PER_MONTH_WORDS
    | {"total", "current", "plan", "subscription", "recurring", "customer", "account"}
)
"""Words of a charge's name that do not narrow it to a part of the bill: ``Monthly Charge``
is the whole, ``Avg Monthly Long Distance Charges`` a part (avg, long, distance)."""


def named_yearly(column: str) -> bool:
    """Whether a value's name makes it a yearly figure (``Annual Revenue``, ``ARR``)."""
    return bool(set(name_words(column)) & _PER_YEAR_WORDS)


def charge_candidates(sample: pd.DataFrame, numeric: Sequence[str]) -> list[str]:
    """Numeric columns that may hold what a customer pays, best first: a charge or fee before a
    revenue or amount before a balance; per month before a running total; the whole bill
    before a part of it (fewer words besides the charge's); never a usage, a count, a
    duration, a salary, or a column with more than :data:`MAX_NEGATIVE_CHARGES` negative
    values. In the file's order within a rank."""
    ranked = []
    for position, column in enumerate(numeric):
        words = set(name_words(column))
        strength = next((k for k, group in enumerate(_CHARGE_WORDS) if words & group), None)
        # a churn label's value (IBM Telco's Churn Value: 0 or 1) is no money
        if strength is None or words & (_NOT_CHARGE_WORDS | LABEL_NAME_WORDS):
            continue
        amounts = parse_numbers(filled_text(sample[column]))[0].dropna()  # "$1,299.00" too
        if amounts.empty or (amounts < 0).mean() > MAX_NEGATIVE_CHARGES:
            continue
        not_per_month = not words & _PER_MONTH_WORDS
        running = is_running_total(column)
        narrowed = len(words - _PLAIN_CHARGE_WORDS)
        ranked.append(((running, strength, not_per_month, narrowed, position), column))
    return [column for _, column in sorted(ranked)]


def infer_snapshot_roles(
    sample: pd.DataFrame,
    *,
    label: str,
    positive: str | None = None,
    customer_id: str | None = None,
    value: str | None = None,
    exclude: Sequence[str] = (),
    filled: bool = False,
) -> SnapshotRoles:
    """Roles of a snapshot's columns: every column other than the id and the label is an
    attribute (less ``exclude``), numeric when its values read as numbers. ``filled``: the
    label is a date or value present for churners only (no churned value to find)."""
    columns = [str(c) for c in sample.columns]
    for flag, given in (("--label", label), ("--customer-id", customer_id), ("--value", value)):
        if given is not None and given not in columns:
            raise RoleNotFound(f"{flag} {given!r}: no such column; the file has {columns}")
    unknown = sorted(set(exclude) - set(columns))
    if unknown:
        raise RoleNotFound(f"--exclude names no such column(s) {unknown}; the file has {columns}")
    notes: list[str] = []
    if customer_id is None:
        open_columns = [c for c in columns if c not in {label, *exclude}]

        def unique(found: list[str]) -> list[str]:
            return [
                c for c in found if filled_text(sample[c]).is_unique and sample[c].notna().all()
            ]

        named = id_candidates(open_columns)
        found = unique(named) if named else unique(_ids_by_values(sample, open_columns))
        customer_id = found[0] if len(found) == 1 else None
        if customer_id is None:
            notes.append("no unique customer id column: customers are numbered by row")
        elif not named:
            notes.append(
                f"no column is named like a customer id: {customer_id!r} was taken for one by "
                "its values (a distinct code on every row); if it is not the customer, give "
                "--customer-id COLUMN"
            )
    attributes = [c for c in columns if c not in {label, customer_id, *exclude}]
    positive_value = "" if filled else positive_label(sample[label], positive, name=label)
    if not filled and positive is None and says_who_stayed(label):
        notes.append(
            f"label {label!r} says who stayed, so its {positive_value!r} is a churner; if it "
            "is the other way round, give --positive VALUE"
        )
    others = sorted(
        {v for v in filled_text(sample[label]) if v.casefold() != positive_value.casefold()}
    )
    if not filled and len(others) > 1:
        notes.append(
            f"label {label!r}: {positive_value!r} is a churner; {', '.join(map(repr, others))} "
            "stayed (data.snapshot.positive_label)"
        )
    numeric = tuple(
        c for c in attributes if is_numeric(sample[c]) and not is_code_column(c, sample[c])
    )
    categorical = tuple(c for c in attributes if c not in numeric)
    if value is None:
        charges = charge_candidates(sample, numeric)
        value = charges[0] if charges else None
        if value is None:
            notes.append("no value column: outreach ranks by churn probability")
        elif len(charges) > 1:
            notes.append(f"value column {value!r}; other candidates: {charges[1:]}")
        if value is not None and named_yearly(value):
            notes.append(
                f"value column {value!r} is named as a yearly figure: each customer's value is "
                "a year of it, not a month's charge; check it is what the customer pays you, "
                "not the size of their own business (a CRM's Annual Revenue of an account), "
                "else give --value COLUMN, or --exclude it to rank by churn probability"
            )
    return SnapshotRoles(
        customer_id,
        label,
        positive_value,
        numeric,
        categorical,
        value,
        tuple(notes),
        filled,
    )
