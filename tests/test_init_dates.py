"""``churn init`` on dates and spans the bundled data never shows: a log whose first rows read
both day-first and month-first (the whole column decides, or ``--timestamp-format`` does), and
a log too short for the default 90-day horizon (the longest horizon that fits is taken and
said, as a grocery's four months of receipts need)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn.data.inference import RoleNotFound, infer_event_roles, timestamp_format
from churn.data.parsing import parse_timestamps
from churn.errors import ConfigError
from churn.init.schedule import (
    HORIZONS,
    MAX_STEPPED_CUTOFFS,
    MIN_FITTED_CUTOFFS,
    fitted_cutoffs,
    horizon_plan,
)
from churn.settings import SourceSettings, load_settings
from tests import messy
from tests._project import run_stages
from tests.test_init import export, init, project, written


def _month_first(log: pd.DataFrame, column: str, *, ambiguous_rows: int) -> pd.DataFrame:
    """``log`` sorted by time with ``column`` written month-first without zero padding
    (``11/1/2000``), its first ``ambiguous_rows`` rows on days 1 to 12 only."""
    times = pd.to_datetime(log[column])
    log = log.assign(_t=times).sort_values("_t", kind="stable").reset_index(drop=True)
    early = log.index < ambiguous_rows
    log.loc[early, "_t"] = log.loc[early, "_t"].map(lambda t: t.replace(day=min(t.day, 12)))
    log[column] = [f"{t.month}/{t.day}/{t.year}" for t in log["_t"]]
    return log.drop(columns="_t")


def test_dates_ambiguous_in_the_sample_are_decided_by_the_whole_column(tmp_path: Path) -> None:
    log = messy.event_log(400, seed=21).events
    when = next(c for c in log.columns if "date" in c.lower())
    written_log = _month_first(log, when, ambiguous_rows=len(log) - 50)  # the sample: all <= 12
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(export(tmp_path, written_log, "shop.csv")))
    assert code == 0, out
    source = written(root, "shop")["data"]["events"]["sources"][0]
    assert source["timestamp_format"] == "%m/%d/%Y"


def test_dates_ambiguous_everywhere_name_the_flag_and_it_works(tmp_path: Path) -> None:
    log = messy.event_log(300, seed=22).events
    when = next(c for c in log.columns if "date" in c.lower())
    every_row = _month_first(log, when, ambiguous_rows=len(log))
    path = export(tmp_path, every_row, "shop.csv")
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(path))
    assert code == 2, out
    assert f"column {when!r}" in out and "--timestamp-format" in out
    assert not (root / "pipelines" / "shop").exists()
    code, out = init(root, "shop", "--events", str(path), "--timestamp-format", "%m/%d/%Y")
    assert code == 0, out
    assert written(root, "shop")["data"]["events"]["sources"][0]["timestamp_format"] == ("%m/%d/%Y")


def test_a_format_that_does_not_read_the_dates_is_refused(tmp_path: Path) -> None:
    log = messy.event_log(100, seed=23).events
    root = project(tmp_path / "p")
    path = export(tmp_path, log, "shop.csv")
    code, out = init(root, "shop", "--events", str(path), "--timestamp-format", "%d.%m.%Y")
    assert code == 2, out
    assert "--timestamp-format '%d.%m.%Y' reads 0%" in out


def test_the_longest_horizon_the_span_holds_is_taken() -> None:
    first = dt.date(2000, 11, 1)
    assert horizon_plan(first, dt.date(2002, 12, 31), None)[0] == HORIZONS[0]
    horizon, plan = horizon_plan(first, dt.date(2001, 2, 28), None)  # a grocery's 4 months
    assert horizon < HORIZONS[0] and plan.train_cutoffs
    assert plan.test_cutoff + dt.timedelta(days=horizon - 1) == dt.date(2001, 2, 28)
    with pytest.raises(ConfigError, match="too short for a 90-day horizon"):
        horizon_plan(first, dt.date(2001, 2, 28), 90)
    with pytest.raises(ConfigError, match="too short"):
        horizon_plan(first, dt.date(2000, 11, 20), None)


def test_a_short_log_gets_a_shorter_horizon_and_says_so(tmp_path: Path) -> None:
    log = messy.event_log(500, seed=24, days=150).events
    root = project(tmp_path / "p")
    code, out = init(root, "grocery", "--events", str(export(tmp_path, log, "receipts.csv")))
    assert code == 0, out
    horizon = load_settings(root, "grocery").labels.horizon_days  # type: ignore[union-attr]
    assert horizon in HORIZONS and horizon < 90
    assert f"{horizon} days  (the data is too short for 90 days" in out
    code, out = init(
        root, "given", "--events", str(export(tmp_path, log, "r2.csv")), "--horizon-days", "90"
    )
    assert code != 0 and "--horizon-days" in out


def test_a_totals_line_is_dropped_and_said(tmp_path: Path) -> None:
    log = messy.event_log(200, seed=25).events
    amount = next(c for c in log.columns if "total" in c.lower())
    totals = pd.DataFrame({log.columns[0]: ["Total"], amount: ["99999.99"]})
    root = project(tmp_path / "p")
    path = export(tmp_path, pd.concat([log, totals], ignore_index=True), "orders.csv")
    code, out = init(root, "shop", "--events", str(path))
    assert code == 0, out
    assert "1 row(s) have no timestamp" in out
    assert written(root, "shop")["data"]["events"]["drop_missing_timestamp"] is True
    run_stages(root, ["ingest"], name="shop")
    events = pd.read_parquet(root / "data/interim/shop/canonical/events.parquet")
    assert len(events) == len(log) and "Total" not in set(events["customer_id"])


def test_horizons_under_a_month_step_a_horizon_at_a_time() -> None:
    """Sparkify's two months held no 14-day training cutoff on monthly steps, and Ta-Feng's
    120 days missed a 30-day horizon by a day."""
    _, plan = horizon_plan(dt.date(2018, 10, 1), dt.date(2018, 12, 2), 14)
    assert plan.step == "every 14 days"
    gaps = {(b - a).days for a, b in zip(plan.train_cutoffs, plan.train_cutoffs[1:], strict=False)}
    assert gaps == {14}
    assert plan.train_cutoffs[-1] + dt.timedelta(days=14) == plan.test_cutoff
    assert plan.train_cutoffs[0] >= dt.date(2018, 10, 1) + dt.timedelta(days=14)
    _, plan = horizon_plan(dt.date(2000, 11, 1), dt.date(2001, 2, 28), 30)
    assert plan.step == "every 30 days" and len(plan.train_cutoffs) == 2
    _, plan = horizon_plan(dt.date(2020, 1, 1), dt.date(2023, 12, 31), 60)
    assert plan.step == "monthly"


@pytest.mark.parametrize(
    ("first", "last", "horizon"),
    [
        (dt.date(2009, 12, 1), dt.date(2011, 12, 9), 90),  # two years of retail
        (dt.date(2010, 12, 1), dt.date(2011, 12, 9), 60),  # Online Retail's one year
        (dt.date(2000, 11, 1), dt.date(2001, 2, 28), 14),  # Ta-Feng's four months
        (dt.date(2018, 10, 1), dt.date(2018, 12, 2), 7),  # Sparkify's two
    ],
)
def test_the_horizon_chosen_leaves_two_training_cutoffs(
    first: dt.date, last: dt.date, horizon: int
) -> None:
    chosen, plan = horizon_plan(first, last, None)
    assert chosen == horizon
    assert fitted_cutoffs(plan, chosen) >= MIN_FITTED_CUTOFFS
    longer = [h for h in HORIZONS if h > chosen]
    for h in longer:  # each longer one fits no plan, or one with a single training cutoff
        try:
            _, other = horizon_plan(first, last, h)
        except ConfigError:
            continue
        assert fitted_cutoffs(other, h) < MIN_FITTED_CUTOFFS


def test_a_log_that_holds_one_training_cutoff_at_most_still_gets_a_horizon() -> None:
    chosen, plan = horizon_plan(dt.date(2024, 1, 1), dt.date(2024, 1, 29), None)
    assert chosen == 7 and fitted_cutoffs(plan, 7) == 1


def test_a_short_horizon_on_years_of_data_keeps_the_latest_cutoffs() -> None:
    _, plan = horizon_plan(dt.date(2020, 1, 1), dt.date(2023, 12, 31), 7)
    assert len(plan.train_cutoffs) == MAX_STEPPED_CUTOFFS
    assert plan.train_cutoffs[-1] == plan.test_cutoff - dt.timedelta(days=7)


def test_guests_rows_are_dropped_and_do_not_extend_the_data(tmp_path: Path) -> None:
    """Sparkify: logged-out visits have an empty userId, none among the first rows, and the
    latest of them came after the last known customer's event. Init wrote no
    drop_missing_customer_id (ingest stopped), and took the guests' last day for the data's, so
    the test cutoff it chose was one the labels stage refused."""
    log = messy.event_log(800, seed=31, amount=False).events  # more rows than the sample
    id_column, time_column = log.columns[0], log.columns[1]
    last = pd.to_datetime(log[time_column]).max()
    guests = pd.DataFrame(
        {
            id_column: [""] * 5,
            time_column: [
                (last + pd.Timedelta(days=d)).strftime("%Y-%m-%d %H:%M") for d in range(1, 6)
            ],
        }
    )
    root = project(tmp_path / "p")
    path = export(tmp_path, pd.concat([log, guests], ignore_index=True), "log.csv")
    code, out = init(root, "music", "--events", str(path))
    assert code == 0, out
    assert "5 row(s) have no customer id (guests?), none among the first rows" in out
    assert "the labels stage will stop" not in out
    events = written(root, "music")["data"]["events"]
    assert events["drop_missing_customer_id"] is True
    labels = written(root, "music")["labels"]
    assert f"last day {last.date()}" in (root / "pipelines/music/params.yaml").read_text()
    assert dt.date.fromisoformat(labels["test_cutoff"]) <= last.date()
    run_stages(root, ["ingest", "labels"], name="music")


@pytest.mark.parametrize(
    ("written_as", "expected_format"),
    [
        (["Jan 5, 2023", "Feb 17, 2023"], "%b %d, %Y"),
        (["Jan 5, 2023 3:04 PM", "Feb 17, 2023 11:04 AM"], "%b %d, %Y %I:%M %p"),
        (["1/5/2023 2:04:05 PM", "2/17/2023 11:04:05 AM"], "%m/%d/%Y %I:%M:%S %p"),
        (["5/1/2023 2:04 PM", "17/2/2023 11:04 AM"], "%d/%m/%Y %I:%M %p"),
        (["1/5/23", "2/17/23"], "%m/%d/%y"),
        (["5 Jan 2023", "17 Feb 2023"], "%d %b %Y"),
        (["05-Jan-23", "17-Feb-23"], "%d-%b-%y"),
        (["Thursday, January 5, 2023", "Friday, February 17, 2023"], "%A, %B %d, %Y"),
    ],
)
def test_dates_as_reports_write_them_read_as_the_days_they_name(
    written_as: list[str], expected_format: str
) -> None:
    """Month names, 12-hour clocks and two-digit years (Excel, Salesforce and PayPal reports):
    each had read as no date at all, so init found no timestamp."""
    values = pd.Series(written_as * 3)
    assert timestamp_format(values) == expected_format
    parsed, bad = parse_timestamps(values, fmt=expected_format, timezone="UTC")
    assert bad.empty
    assert parsed.dt.strftime("%Y-%m-%d").tolist()[:2] == ["2023-01-05", "2023-02-17"]
    assert parsed.iloc[1].hour == (11 if "%I" in expected_format else 0)


def test_weeks_written_as_iso_weeks_read_as_their_monday(tmp_path: Path) -> None:
    """``2024-W05`` (a weekly usage export) reads with --timestamp-format '%G-W%V' as the
    Monday of that ISO week, in init and in ingest; Python reads no week without a day."""
    parsed, bad = parse_timestamps(
        pd.Series(["2024-W05", "2023-W52", "2021-W01", "", "W5"]), fmt="%G-W%V", timezone="UTC"
    )
    assert parsed.iloc[:3].dt.date.tolist() == [
        dt.date(2024, 1, 29),
        dt.date(2023, 12, 25),
        dt.date(2021, 1, 4),
    ]
    assert bad.tolist() == ["W5"]  # the blank is no timestamp, not an unreadable one

    weeks = pd.date_range("2022-01-03", "2024-06-24", freq="7D")
    rows = [
        {"AccountId": f"A{a:04d}", "Week": w.strftime("%G-W%V"), "Logins": 3}
        for a in range(150)
        for w in weeks[: 40 + a % 90]  # accounts go quiet one after another
    ]
    root = project(tmp_path / "p")
    path = export(tmp_path, pd.DataFrame(rows), "usage_weekly.csv")
    code, out = init(root, "weekly", "--events", str(path))  # the weeks are found as dates
    assert code == 0, out
    assert written(root, "weekly")["data"]["events"]["sources"][0]["timestamp_format"] == ("%G-W%V")
    run_stages(root, ("ingest",), name="weekly")
    canonical = pd.read_parquet(root / "data/interim/weekly/canonical/events.parquet")
    assert canonical["ts"].min() == pd.Timestamp("2022-01-03")  # a Monday, week 1 of 2022


@pytest.mark.parametrize("fmt", ["%Q-%m", "%G-%m-%d"])
def test_a_format_python_cannot_read_is_refused_with_its_reason(tmp_path: Path, fmt: str) -> None:
    root = project(tmp_path / "p")
    log = pd.DataFrame({"customer_id": ["a", "b"] * 30, "ts": ["2024-01-05"] * 60})
    code, out = init(
        root, "bad", "--events", str(export(tmp_path, log, "e.csv")), "--timestamp-format", fmt
    )
    assert code == 2, out
    assert "Traceback" not in out and "no strftime format that reads dates" in out
    source = {"path": "x.csv", "columns": {"customer_id": "a", "timestamp": "b"}}
    with pytest.raises(ValueError, match="no strftime format that reads dates"):
        SourceSettings.model_validate({**source, "timestamp_format": fmt})


@pytest.mark.parametrize(
    ("days", "windows", "trend"),
    [
        (120, [7, 14, 30], 14),  # four months, a 14-day horizon: Ta-Feng's, Retail Rocket's
        (365, [7, 14, 30, 90], 60),  # a year: its middle training cutoff has 154 days before
        (1100, None, None),  # three years: the defaults fit
    ],
)
def test_a_short_log_gets_windows_no_longer_than_its_history(
    days: int, windows: list[int] | None, trend: int | None
) -> None:
    """A 365-day count on four months of data is the total at every cutoff, and a 90-day trend
    compares with days before the data: constant at 1 in training, drifting at scoring. The
    windows fit the history of the middle training cutoff, the trend half of it."""
    first = dt.date(2000, 11, 1)
    _, plan = horizon_plan(first, first + dt.timedelta(days=days - 1), None)
    assert plan.feature_windows == (None if windows is None else (windows, trend))
    history = plan.history_days
    assert history is not None
    if windows is not None:
        assert max(windows) <= history and 2 * (trend or 0) <= history


def _orders_with_steps(n: int = 300) -> pd.DataFrame:
    """Olist's orders: when each was placed, approved (minutes to a day later) and delivered."""
    placed = pd.Timestamp("2017-01-01") + pd.to_timedelta(
        [(k * 7919) % (600 * 24 * 60) for k in range(n)], unit="min"
    )
    approved = placed + pd.to_timedelta([(k * 37) % 1500 + 5 for k in range(n)], unit="min")
    return pd.DataFrame(
        {
            "order_id": [f"{k:032x}" for k in range(n)],
            "customer_id": [f"c{k % 70:03d}" for k in range(n)],
            "order_status": "delivered",
            "order_purchase_timestamp": placed.strftime("%Y-%m-%d %H:%M:%S"),
            "order_approved_at": approved.strftime("%Y-%m-%d %H:%M:%S"),
            "order_delivered_customer_date": (approved + pd.Timedelta(days=9)).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        }
    )


def test_the_first_step_of_an_order_is_its_timestamp() -> None:
    """Olist's orders: `order_purchase_timestamp` and `order_approved_at` both read as times
    named like one, and init stopped asking which; the approval always comes after."""
    roles = infer_event_roles(_orders_with_steps())
    assert roles.timestamp.column == "order_purchase_timestamp"
    assert any("['order_approved_at'] come at or after it" in note for note in roles.notes)
    # written in the other order, the same
    sample = _orders_with_steps()
    sample = sample[["order_approved_at", *[c for c in sample if c != "order_approved_at"]]]
    assert infer_event_roles(sample).timestamp.column == "order_purchase_timestamp"


def test_times_that_cross_still_ask_which() -> None:
    sample = _orders_with_steps()
    swapped = sample.index % 2 == 0  # neither is always first
    sample.loc[swapped, ["order_purchase_timestamp", "order_approved_at"]] = sample.loc[
        swapped, ["order_approved_at", "order_purchase_timestamp"]
    ].to_numpy()
    with pytest.raises(RoleNotFound, match="more than one column could be the timestamp"):
        infer_event_roles(sample)
