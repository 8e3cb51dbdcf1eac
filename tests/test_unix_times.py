"""Timestamps written as numbers since the epoch (``timestamp_format: unix_s`` ... ``unix_ns``):
guessed by ``churn init`` for a time-named column, parsed as UTC instants, refused when the
unit is unknown, reported by value when a cell is not a number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.data.contract import canonical_events
from churn.data.inference import infer_event_roles, timestamp_format, unix_format
from churn.data.parsing import parse_timestamps
from churn.errors import ContractViolation
from churn.settings import EventsSettings, SourceSettings

NOW = pd.Timestamp("2026-01-01")
INSTANTS = pd.Series(pd.to_datetime(["2023-04-06 21:47:00.123", "1999-12-31 23:59:59.5"]))


def since_epoch(unit: str) -> pd.Series:
    return (INSTANTS - pd.Timestamp(0)) // pd.Timedelta(1, unit=unit)


@pytest.mark.parametrize(
    ("unit", "name"), [("s", "unix_s"), ("ms", "unix_ms"), ("us", "unix_us"), ("ns", "unix_ns")]
)
def test_each_unit_is_guessed_from_the_size_of_the_numbers(unit: str, name: str) -> None:
    numbers = since_epoch(unit)
    assert unix_format(numbers.astype(str)) == name
    assert timestamp_format(numbers.astype(str), unix=True) == name


def test_numbers_are_times_only_where_the_column_is_named_like_one() -> None:
    ids = pd.Series(["1680817620", "1690817620", "1700817620"])  # as likely an order number
    assert timestamp_format(ids) is False
    assert timestamp_format(ids, unix=True) == "unix_s"


@pytest.mark.parametrize(
    "values",
    [
        ["12.5", "3"],
        ["20", "40", "19"],
        ["100000", "250000"],
        ["99999999999999999999"],
        ["-1680817620"],
    ],
)
def test_amounts_counts_and_odd_numbers_are_not_unix_times(values: list[str]) -> None:
    assert unix_format(pd.Series(values)) is None
    assert timestamp_format(pd.Series(values), unix=True) is False


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_parsed_as_utc_instants_whatever_the_timezone(unit: str) -> None:
    numbers = since_epoch(unit)
    for values in (numbers, numbers.astype(str), numbers.astype("Int64")):
        parsed, bad = parse_timestamps(values, fmt=f"unix_{unit}", timezone="Asia/Kolkata")
        expected = INSTANTS.dt.floor({"s": "s", "ms": "ms"}.get(unit, "us"))
        assert parsed.tolist() == expected.tolist()
        assert str(parsed.dtype) == "datetime64[us]" and bad.empty


def test_fractional_seconds_blanks_and_bad_cells() -> None:
    values = pd.Series(["1680817620.25", "", None, " 1680817621 ", "yesterday", "1e999"])
    parsed, bad = parse_timestamps(values, fmt="unix_s", timezone="UTC")
    assert parsed.iloc[0] == pd.Timestamp("2023-04-06 21:47:00.25")
    assert parsed.iloc[3] == pd.Timestamp("2023-04-06 21:47:01")
    assert parsed.iloc[[1, 2]].isna().all()
    assert bad.tolist() == ["yesterday", "1e999"]


def test_an_unknown_unix_unit_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'unix_min' is no unix time format.*unix_ms"):
        SourceSettings(path="e.csv", columns={}, timestamp_format="unix_min")


def test_an_event_log_in_milliseconds_goes_through_the_contract() -> None:
    rng = np.random.default_rng(3)
    ms = rng.integers(1_600_000_000_000, 1_700_000_000_000, 50)
    frame = pd.DataFrame(
        {
            "user": rng.choice(["a", "b", "c"], 50),
            "ts": ms.astype(str),
            "page": rng.choice(["Home", "NextSong"], 50),
        }
    )
    roles = infer_event_roles(frame)
    assert (roles.timestamp.column, roles.timestamp.format) == ("ts", "unix_ms")
    src = SourceSettings(
        path="log.csv",
        columns={"customer_id": "user", "timestamp": "ts", "event_type": "page"},
        timestamp_format="unix_ms",
    )
    settings = EventsSettings(sources=[src], timezone="America/Los_Angeles")
    events, _ = canonical_events([(src, frame)], settings, now=NOW)
    expected = pd.to_datetime(pd.Series(ms), unit="ms").sort_values().tolist()
    assert sorted(events["ts"].tolist()) == expected
    frame.loc[7, "ts"] = "n/a"
    with pytest.raises(
        ContractViolation, match=r"log.csv.*'ts'.*unparseable timestamp \(format unix_ms\).*n/a"
    ):
        canonical_events([(src, frame)], settings, now=NOW)
