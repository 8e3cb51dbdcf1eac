"""Raw columns read as typed values: customer ids, timestamps, numbers and text.

Each parser takes one raw column (any dtype a CSV or parquet reader may give) and returns the
typed column; those that can fail also return the original values they could not read, for the
contract to report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.settings import UNIX_FORMATS, UnixUnit, day_number_origin, week_start_format

EXACT_FLOAT_LIMIT = 2**53
"""Beyond 2^53 (9,007,199,254,740,992) a float64 cannot hold every whole number: 17-digit ids
stored as floats have already lost their last digit, so two customers may share one value."""


def parse_ids(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Customer ids as exact text. Returns (ids, original values that cannot be exact ids).

    Text stays as it is ("00123" is not "123"), less surrounding blanks, except a whole number
    written with a decimal point (:func:`whole_number_ids`: '13085.0' -> '13085'); integers
    become their decimal digits, however long. Floats (a CSV of ids opened in a spreadsheet
    and saved as parquet, or an integer column with missing values) become their digits only
    when whole and below 2^53 (13085.0 -> '13085'); any other float is returned as bad: it may
    already be another customer's id.
    """
    if pd.api.types.is_float_dtype(values):
        present = values.dropna()
        exact = (present == np.floor(present)) & (present.abs() < EXACT_FLOAT_LIMIT)
        ids = pd.Series(None, index=values.index, dtype=object)
        good = present[exact]
        ids[good.index] = good.astype("int64").astype(str)
        return ids, present[~exact]
    return whole_number_ids(normalise_ids(values)), values.iloc[0:0]


WHOLE_NUMBER_WRITTEN = r"(\d+)\.0+"
"""An id written as a whole number with a decimal point and zeros only ('12697.0',
'12697.00'): how pandas writes a float column to CSV, an integer column with a blank cell
among its values (a guest's order) being read as floats. The digits are the id."""


def whole_number_ids(ids: pd.Series) -> pd.Series:
    """Ids (text, trimmed; missing as missing) with each one written as a whole number with a
    decimal point (:data:`WHOLE_NUMBER_WRITTEN`) as its digits: '12697.0' -> '12697', and
    '0012.0' -> '0012' (leading zeros are kept as written). Every other value stays as it is:
    'A12.0', '12.5', '1.2697E4', '-3.0'.

    The rule is per value, not per column: a value is read the same whatever else its column,
    its chunk of rows or its file holds. So every chunk of an events file read a chunk at a
    time, every file of a source and every table keyed by customer (events, customers, churn
    events, contacts, snapshot, person ids) reads '12697.0' as the '12697' another table
    writes, and their joins hold; a guest placeholder ('guest', '0.0') or one text id among
    float-written ones changes nothing; and it is what a column of floats (parquet, Excel) gets
    from :func:`parse_ids` already, value by value. '12' and '12.0' in one column are then one
    customer: the same number written two ways (files exported one as integers, one as floats).
    What it cannot tell is dotted codes ('3.0', '3.1'), where '3.0' is read as '3' (in every
    table alike, so joins still hold); :func:`fractional_ids` counts such values for a note."""
    text = ids.astype("string")
    written = text.str.fullmatch(WHOLE_NUMBER_WRITTEN).fillna(False).astype(bool)
    if not written.any():
        return ids
    digits = text[written].str.replace(r"\.0+$", "", regex=True)
    out = ids.astype(object).copy()
    out[written] = digits.astype(object)
    return out


def whole_number_written(values: pd.Series) -> pd.Series:
    """Where raw id ``values`` are text written as a whole number with a decimal point (what
    :func:`whole_number_ids` rewrites); a column of numbers never is (:func:`parse_ids` reads
    floats itself)."""
    if pd.api.types.is_numeric_dtype(values):
        return pd.Series(False, index=values.index)
    text = values.astype("string").str.strip()
    return text.str.fullmatch(WHOLE_NUMBER_WRITTEN).fillna(False).astype(bool)


def fractional_ids(values: pd.Series) -> int:
    """How many raw id ``values`` are text written as a number with a fraction ('3.1'): beside
    ids rewritten by :func:`whole_number_ids`, a sign that the ids are dotted codes."""
    if pd.api.types.is_numeric_dtype(values):
        return 0
    text = values.astype("string").str.strip()
    return int(text.str.fullmatch(r"\d+\.\d*[1-9]\d*").fillna(False).sum())


def normalise_ids(values: pd.Series) -> pd.Series:
    """Ids (or other codes) as text. Numeric ids stored as floats (13085.0) become '13085'."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            return values.astype("Int64").astype("string").astype(object).where(values.notna())
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("string").astype(object).where(values.notna())
    text = values.astype("string").str.strip()
    return text.astype(object).where(text.notna() & (text != ""))


@dataclass
class ClockChanges:
    """How many local times fell on a daylight-saving change, counted while parsing."""

    ambiguous: int = 0
    """Times the clocks show twice (going back): read as the earlier instant (summer time)."""
    nonexistent: int = 0
    """Times the clocks skip (going forward): moved to the first time that exists (in
    Europe/London, 2023-03-26 01:30 becomes 02:00 BST)."""


YYMMDD = "%y%m%d"
"""Six-digit dates (950316), as some banks' exports write them."""
YYMMDD_DIGITS = 6


def parse_timestamps(
    values: pd.Series,
    *,
    fmt: str | None,
    timezone: str,
    clock_changes: ClockChanges | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Parse to UTC-naive timestamps. Returns (parsed, unparseable original values).

    Values without a UTC offset are wall-clock times in ``timezone``; one that is ambiguous or
    does not exist at a daylight-saving change is read by the rule of :class:`ClockChanges`
    and counted in ``clock_changes``."""
    changes = clock_changes if clock_changes is not None else ClockChanges()
    if fmt in UNIX_FORMATS:
        return _unix_instants(values, UNIX_FORMATS[fmt])
    if (origin := day_number_origin(fmt)) is not None:
        return _day_numbers(values, origin, timezone, changes)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.astype("datetime64[us]"), values.iloc[0:0]
    if pd.api.types.is_datetime64_dtype(values):
        parsed = _wall_clock_to_utc(values, timezone, changes)
        return parsed, values[parsed.isna() & values.notna()]
    text = values.astype("string").str.strip()
    text = text.mask(text == "")  # blank: no timestamp, not an unreadable one
    if fmt == YYMMDD:  # 50316 is 2005-03-16 written as a number, its leading zero dropped
        text = text.str.zfill(YYMMDD_DIGITS)
    if fmt is None:
        text = utc_names_as_offsets(text)
    else:
        text, fmt = as_week_start(text, fmt)
    try:
        parsed = _local_to_utc(text, fmt=fmt, timezone=timezone, changes=changes)
    except (ValueError, TypeError):
        # some values carry a UTC offset and some do not (or offsets differ): values with an
        # offset are instants, values without one are read in ``timezone``
        with_offset = text.str.contains(_ISO_OFFSET, regex=True).fillna(False).astype(bool)
        parsed = pd.concat(
            [
                _instants(text[with_offset], fmt=fmt),
                _mixed(text[~with_offset], fmt, timezone, changes),
            ]
        ).reindex(text.index)
    bad = values[parsed.isna() & text.notna()]
    return parsed.astype("datetime64[us]"), bad


def as_week_start(text: pd.Series, fmt: str) -> tuple[pd.Series, str]:
    """``text`` and ``fmt`` as the parser reads them: a week without a day (``2024-W05`` as
    ``%G-W%V``) read as its Monday (:func:`churn.settings.week_start_format`)."""
    week = week_start_format(fmt)
    return (text, fmt) if week is None else (text + " 1", week)


def _unix_instants(values: pd.Series, unit: UnixUnit) -> tuple[pd.Series, pd.Series]:
    """Numbers of ``unit`` since the epoch as UTC-naive instants: they name an instant, so no
    time zone applies. Returns (parsed, original values that are not such numbers)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers, present = values, values.notna()
    else:
        text = values.astype("string").str.strip()
        numbers = pd.to_numeric(text, errors="coerce")
        present = text.notna() & (text != "")
    if pd.api.types.is_integer_dtype(numbers.dtype) and numbers.isna().any():
        numbers = numbers.astype("float64")  # to_datetime takes no nullable integers
    parsed = pd.to_datetime(numbers, unit=unit, errors="coerce").astype("datetime64[us]")
    return parsed, values[parsed.isna() & present]


def _day_numbers(
    values: pd.Series, origin: dt.date, timezone: str, changes: ClockChanges
) -> tuple[pd.Series, pd.Series]:
    """Numbers of days after ``origin`` as that day in ``timezone``, in UTC: a whole number is
    its midnight (a day number names a day, as a date without a time does), a fraction the
    time of day (Excel's serial 44927.75 is 2023-01-01 18:00). Returns (parsed, original
    values that are not numbers)."""
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    numbers = pd.to_numeric(text.where(present), errors="coerce")
    # to the microsecond, as the canonical timestamps are: a float day is not exact
    micros = (numbers * 86_400_000_000).round()
    naive = pd.Timestamp(origin) + pd.to_timedelta(micros, unit="us")
    parsed = _wall_clock_to_utc(naive.astype("datetime64[us]"), timezone, changes)
    return parsed, values[parsed.isna() & present]


def utc_names_as_offsets(text: pd.Series) -> pd.Series:
    """ISO 8601 times whose zone is written as a name (``2019-10-01 00:00:00 UTC``, as some
    analytics exports write it) with the offset ISO 8601 reads (``+00:00``)."""
    return text.str.replace(r"(?<=\d)\s*(?:UTC|GMT)$", "+00:00", regex=True)


_ISO_OFFSET = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
"""The end of a time that carries a UTC offset ('...10:00+02:00', '...10:00:00 +0200', 'Z')."""


def _wall_clock_to_utc(naive: pd.Series, timezone: str, changes: ClockChanges) -> pd.Series:
    """Naive wall-clock times in ``timezone`` as UTC-naive instants (microseconds). A time the
    clocks show twice is the earlier instant; a time they skip is moved forward to the first
    time that exists; both are counted in ``changes``."""
    local = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    odd = local.isna() & naive.notna()
    if odd.any():
        shifted = naive[odd].dt.tz_localize(
            timezone, ambiguous=np.ones(int(odd.sum()), dtype=bool), nonexistent="shift_forward"
        )
        # only the times the clocks show twice stay missing without a rule for them
        repeated = naive[odd].dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        changes.ambiguous += int(repeated.isna().sum())
        changes.nonexistent += int(repeated.notna().sum())
        local = local.where(~odd, shifted.reindex(local.index))
    utc: pd.Series = local.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return utc


def _local_to_utc(
    text: pd.Series, *, fmt: str | None, timezone: str, changes: ClockChanges
) -> pd.Series:
    """UTC-naive timestamps when every value has the same offset or none has one (then read in
    ``timezone``). Raises ValueError when offsets differ or only some values have one."""
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return _wall_clock_to_utc(parsed, timezone, changes)


def _instants(text: pd.Series, *, fmt: str | None) -> pd.Series:
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


def _mixed(text: pd.Series, fmt: str | None, timezone: str, changes: ClockChanges) -> pd.Series:
    try:
        return _local_to_utc(text, fmt=fmt, timezone=timezone, changes=changes)
    except (ValueError, TypeError):  # an offset the pattern does not know: read as instants
        return _instants(text, fmt=fmt)


CURRENCY = (
    r"(?:R\$|US\$|[$€£¥₹₽₩₺₫₪₦₴₱฿¢]|USD|EUR|GBP|JPY|CHF|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF"
    r"|INR|BRL|MXN|ZAR|CNY|RUB|TRY|KRW|SGD|HKD|kr|zł)"
)
"""Currency signs and ISO codes a written amount may carry before or after it."""
_WRITTEN = {
    ".": r"[+-]?(?:\d{1,3}(?:[,']\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+",
    ",": r"[+-]?(?:\d{1,3}(?:[.']\d{3})+|\d+)(?:,\d+)?|[+-]?,\d+",
}
"""A number as written with each decimal mark: the other mark or an apostrophe may group the
thousands, in groups of three only (so 1,5 is no number when the mark is '.')."""


NO_MEASURE = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "\u2014", "#n/a", "?"})
"""How exports write a missing number (lower case, trimmed): in a measure's column they are
no value, not an error; the measure counts 0 there, as on a blank cell."""


def written_as_none(values: pd.Series) -> pd.Series:
    """Where text ``values`` are written as no number (:data:`NO_MEASURE`); a column of
    numbers never is."""
    if pd.api.types.is_numeric_dtype(values):
        return pd.Series(False, index=values.index)
    spelt = values.astype("string").str.strip().str.lower()
    return spelt.isin(NO_MEASURE).fillna(False).astype(bool)


EMAIL_ADDRESS = r"[^@\s]+@[^@\s]+\.[^@\s]+"
"""A value written as an email address (something@host.domain), as a regex to match whole."""


def parse_numbers(values: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    """Floats. Returns (parsed, original values that are not numbers); blanks become NaN.

    Besides plain numbers, amounts as spreadsheets and invoices write them are read:
    thousands grouped (``1,234.50``; with ``decimal`` ',': ``1.234,50``, ``1 234,50``), a
    currency sign or code before or after (``$12``, ``12,50 €``, ``EUR 7``), and negatives in
    parentheses or with a trailing minus (``(12.50)``, ``12.50-``)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), values.iloc[0:0]
    text = values.astype("string").str.strip()
    if decimal == ".":
        parsed = pd.to_numeric(text, errors="coerce").astype("float64")
        written = parsed.isna() & text.notna()
        if written.any():
            parsed[written] = _written_numbers(text[written], decimal)
    else:  # '1.5' would read as a plain number, which with this mark it is not
        parsed = _written_numbers(text, decimal)
    return parsed, values[parsed.isna() & text.notna()]


def _written_numbers(text: pd.Series, decimal: str) -> pd.Series:
    t = text.str.replace(r"[\s\u00a0\u202f]", "", regex=True)
    negative = t.str.fullmatch(r"\(.*\)").fillna(False) | t.str.fullmatch(r".*\d-").fillna(False)
    t = t.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.replace(r"(?<=\d)-$", "", regex=True)
    t = t.str.replace(rf"^([+-]?){CURRENCY}", r"\1", regex=True)
    t = t.str.replace(rf"{CURRENCY}\.?$", "", regex=True)
    valid = t.str.fullmatch(_WRITTEN[decimal]).fillna(False).astype(bool)
    grouping = r"[,']" if decimal == "." else r"[.']"
    plain = t.str.replace(grouping, "", regex=True)
    if decimal != ".":
        plain = plain.str.replace(decimal, ".", regex=False)
    numbers = pd.to_numeric(plain.where(valid), errors="coerce").astype("float64")
    return numbers.where(~negative.astype(bool), -numbers)


def event_type_key(name: str) -> str:
    """An event type as events and settings are compared: trimmed and case-folded, so
    'Purchase', ' PURCHASE' and 'purchase' are one type."""
    return name.strip().casefold()


def event_type_matches(types: Iterable[str]) -> list[str]:
    """The values of a canonical ``event_type`` column that mean ``types`` (event types named
    in the settings): each as ingest writes it (:func:`event_type_key`) and as written, for
    canonical tables not made by this ingest (an earlier version, or built by hand)."""
    return list(dict.fromkeys(v for t in types for v in (event_type_key(t), t)))


def clean_text(values: pd.Series) -> pd.Series:
    """Text (object dtype) without surrounding blanks; blanks become missing. Whole floats
    lose their '.0', as ids do."""
    if pd.api.types.is_float_dtype(values):
        return normalise_ids(values)
    text = values.astype("string").str.strip()
    return text.astype(object).where(text.notna() & (text != ""))
