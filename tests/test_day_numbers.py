"""Timestamps written as day numbers (Dunnhumby's ``DAY``: 1, 2, ... 711): ``churn init``
stopped with "no column looks like the timestamp". They are read with ``timestamp_format:
days_since_YYYY-MM-DD``; a gap between orders (Instacart's ``days_since_prior_order``) or an
hour of the day is no day number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from churn.data.day_numbers import (
    day_number_columns,
    reads_as_day_numbers,
    reads_as_excel_serials,
)
from churn.data.inference import infer_event_roles
from churn.data.parsing import parse_timestamps
from churn.settings import SourceSettings
from tests._project import run_stages
from tests.test_init import export, init, project, written


def test_day_numbers_read_as_days_after_the_date() -> None:
    values = pd.Series(["1", "2", " 711 ", "", None, "1.5", "x", "0"])
    parsed, bad = parse_timestamps(values, fmt="days_since_2019-12-31", timezone="UTC")
    assert parsed.iloc[0] == pd.Timestamp("2020-01-01")
    assert parsed.iloc[1] == pd.Timestamp("2020-01-02")
    assert parsed.iloc[2] == pd.Timestamp("2021-12-11")
    assert parsed.iloc[7] == pd.Timestamp("2019-12-31")
    assert parsed.iloc[3:5].isna().all()  # blanks: no timestamp, not an unreadable one
    assert parsed.iloc[5] == pd.Timestamp("2020-01-01 12:00")  # a fraction: the time of day
    assert bad.tolist() == ["x"]


def test_a_day_number_is_midnight_in_the_data_time_zone() -> None:
    parsed, _ = parse_timestamps(
        pd.Series([1]), fmt="days_since_2023-12-31", timezone="Europe/Berlin"
    )
    assert parsed.iloc[0] == pd.Timestamp("2023-12-31 23:00")  # 2024-01-01 00:00 in Berlin


@pytest.mark.parametrize("fmt", ["days_since_2019-13-01", "days_since_", "days_since_yesterday"])
def test_a_day_number_format_must_name_a_date(fmt: str) -> None:
    with pytest.raises(ValidationError, match="days_since_YYYY-MM-DD"):
        SourceSettings(path="x.csv", columns={"customer_id": "c"}, timestamp_format=fmt)


def test_only_a_column_named_as_the_day_reads_as_day_numbers() -> None:
    rng = np.random.default_rng(1)
    n = 200
    sample = pd.DataFrame(
        {
            "DAY": rng.integers(1, 712, n),
            "day_number": rng.integers(0, 90, n),
            "days_since_prior_order": rng.integers(0, 31, n),
            "order_hour_of_day": rng.integers(0, 24, n),
            "WEEK_NO": rng.integers(1, 103, n),
            "day": rng.integers(1, 8, n),  # a weekday: spans less than four weeks
        }
    ).astype("string")
    assert day_number_columns(sample, list(sample.columns)) == ["DAY", "day_number"]
    assert not reads_as_day_numbers(pd.Series(["1", "2.5", "40"]))
    assert not reads_as_day_numbers(pd.Series(["1430611443", "1430611500"]))  # unix seconds


def _transactions(households: int, seed: int) -> pd.DataFrame:
    """Dunnhumby's transaction_data: household_key, BASKET_ID, DAY, SALES_VALUE, ..."""
    rng = np.random.default_rng(seed)
    rows = []
    for household in range(1, households + 1):
        stop = rng.uniform(150, 700) if rng.random() < 0.3 else 712
        day = int(rng.integers(1, 40))
        while day < stop:
            basket = int(rng.integers(26_984_851_472, 42_305_362_535))
            for _ in range(int(rng.integers(1, 4))):
                rows.append(
                    {
                        "household_key": household,
                        "BASKET_ID": basket,
                        "DAY": day,
                        "PRODUCT_ID": int(rng.integers(25_671, 18_316_298)),
                        "QUANTITY": int(rng.integers(1, 4)),
                        "SALES_VALUE": round(float(rng.lognormal(0.8, 0.7)), 2),
                        "TRANS_TIME": f"{int(rng.integers(6, 23)):02d}{int(rng.integers(60)):02d}",
                        "WEEK_NO": (day - 1) // 7 + 1,
                    }
                )
            day += 1 + int(rng.exponential(12))
    return pd.DataFrame(rows)


def test_a_log_of_day_numbers_initialises_and_ingests(tmp_path: Path) -> None:
    log = _transactions(120, seed=2)
    root = project(tmp_path / "p")
    code, out = init(root, "dunn", "--events", str(export(tmp_path, log, "transaction_data.csv")))
    assert code == 0, out
    assert "'DAY' holds day numbers" in out and "day 1 is read as 2000-01-01" in out
    source = written(root, "dunn")["data"]["events"]["sources"][0]
    assert source["columns"]["timestamp"] == "DAY"
    assert source["timestamp_format"] == "days_since_1999-12-31"
    run_stages(root, ["ingest"], name="dunn")
    events = pd.read_parquet(root / "data/interim/dunn/canonical/events.parquet")
    assert len(events) == len(log)
    days = (events["ts"] - pd.Timestamp("1999-12-31")).dt.days
    assert sorted(days.unique()) == sorted(log["DAY"].unique())


def test_a_given_origin_is_kept(tmp_path: Path) -> None:
    log = _transactions(60, seed=3)
    root = project(tmp_path / "p")
    path = export(tmp_path, log, "t.csv")
    code, out = init(
        root, "dunn", "--events", str(path), "--timestamp-format", "days_since_2019-06-30"
    )
    assert code == 0, out
    source = written(root, "dunn")["data"]["events"]["sources"][0]
    assert source["timestamp_format"] == "days_since_2019-06-30"
    assert "day 1 is read as 2019-07-01" in out


def test_a_gap_between_orders_is_no_timestamp(tmp_path: Path) -> None:
    """Instacart's orders.csv: no date, only the order's number, weekday, hour and the days
    since the customer's previous order. No cutoff can be placed: init stops and says why."""
    rng = np.random.default_rng(4)
    n = 300
    orders = pd.DataFrame(
        {
            "order_id": rng.choice(np.arange(1, 10**6), n, replace=False),
            "user_id": rng.integers(1, 40, n),
            "eval_set": "prior",
            "order_number": rng.integers(1, 60, n),
            "order_dow": rng.integers(0, 7, n),
            "order_hour_of_day": rng.integers(0, 24, n),
            "days_since_prior_order": rng.integers(0, 31, n).astype(float),
        }
    )
    root = project(tmp_path / "p")
    code, out = init(root, "insta", "--events", str(export(tmp_path, orders, "orders.csv")))
    assert code == 2, out
    said = " ".join(out.split())
    assert "['days_since_prior_order'] count(s) the days since a customer's previous" in said
    assert "not in the calendar" in said and "--timestamp" in said
    assert not (root / "pipelines" / "insta").exists()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["44927", "44958", "45291"], True),  # 2023-01-01 to 2023-12-31
        (["44927.75", "45000.5"], True),  # with the time of day
        (["12", "300"], False),  # day numbers, not serials
        (["44927", "44930"], False),  # four days: a count more likely
        (["1700000000"], False),  # a unix time
    ],
)
def test_excel_serial_dates_are_told_by_their_range(values: list[str], expected: bool) -> None:
    assert reads_as_excel_serials(pd.Series(values)) is expected


def test_dates_excel_saved_as_numbers_read_as_the_days_they_are(tmp_path: Path) -> None:
    """A sheet's date column saved to CSV in the General format: 44927 for 2023-01-01. Init
    stopped ("no column looks like the timestamp")."""
    rng = np.random.default_rng(8)
    n = 400
    days = rng.uniform(44_927, 45_291, n).round(4)  # 2023, with times of day
    orders = pd.DataFrame(
        {
            "Customer Code": [f"K{i % 50:03d}" for i in range(n)],
            "Order Date": [f"{d:.4f}" for d in days],
            "Sales": rng.uniform(5, 90, n).round(2),
        }
    )
    roles = infer_event_roles(orders.astype(str))
    assert (roles.timestamp.column, roles.timestamp.format) == (
        "Order Date",
        "days_since_1899-12-30",
    )
    parsed, bad = parse_timestamps(orders["Order Date"], fmt=roles.timestamp.format, timezone="UTC")
    assert bad.empty
    expected = pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D")
    assert (parsed - expected).abs().max() < pd.Timedelta(seconds=1)
    assert parsed.min() >= pd.Timestamp("2023-01-01") and parsed.max() < pd.Timestamp("2024-01-01")
    root = project(tmp_path / "p")
    code, out = init(root, "sheet", "--events", str(export(tmp_path, orders, "orders.csv")))
    assert code == 0, out
    assert "holds dates as Excel saves a date cell as a number" in " ".join(out.split())
    source = written(root, "sheet")["data"]["events"]["sources"][0]
    assert source["timestamp_format"] == "days_since_1899-12-30"
