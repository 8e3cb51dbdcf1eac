"""``churn init`` guesses ``labels.max_inactive_days`` from the log's own return gaps, so a log
that runs for years does not score customers gone for years (and count their obvious churn in
the test AUC)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.init.lapse import MIN_GAPS, lapse_days
from tests.test_init import export, init, project, written


def renewals(n: int, months: int, seed: int) -> pd.DataFrame:
    """Monthly renewals: each customer pays every 30 days from a random start until a random
    month, then stops for good."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        for k in range(int(rng.integers(1, months))):
            rows.append((f"u{i}", start + pd.Timedelta(days=30 * k, hours=int(rng.integers(24)))))
    return pd.DataFrame(rows, columns=["user_id", "paid_at"])


def test_monthly_renewals_lapse_after_the_horizon() -> None:
    log = renewals(200, 24, seed=1)
    lapse = lapse_days(log["user_id"], log["paid_at"], horizon_days=90)
    assert lapse is not None
    assert lapse.return_gap_days == pytest.approx(30, abs=1)
    assert lapse.days == 90  # 1.5 x 30 = 45, never under the horizon


def test_irregular_buyers_lapse_after_whole_months_past_their_long_gaps() -> None:
    rng = np.random.default_rng(2)
    ids = np.repeat(np.arange(300), 6)
    gaps = rng.exponential(40, len(ids))
    times = pd.Series(pd.Timestamp("2021-01-01") + pd.to_timedelta(gaps.cumsum() % 900, "D"))
    lapse = lapse_days(pd.Series(ids), times, horizon_days=30)
    assert lapse is not None and lapse.days % 30 == 0
    assert lapse.days >= 1.5 * lapse.return_gap_days > 30


def test_rows_without_a_customer_are_no_returns() -> None:
    """Guests' rows (a blank id) are not one customer returning every day."""
    log = renewals(200, 24, seed=1)
    guests = pd.DataFrame(  # one visit a year over a century, were they one customer
        {
            "user_id": ["", " "] * 50,
            "paid_at": pd.date_range("1950-01-01", periods=100, freq="365D"),
        }
    )
    both = pd.concat([log, guests], ignore_index=True)
    assert lapse_days(both["user_id"], both["paid_at"], 90) == lapse_days(
        log["user_id"], log["paid_at"], 90
    )


def test_too_few_returns_guess_nothing() -> None:
    log = renewals(MIN_GAPS // 4, 3, seed=3)
    assert lapse_days(log["user_id"], log["paid_at"], horizon_days=90) is None


def test_init_writes_the_guess_and_says_why(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    log = renewals(150, 30, seed=4).assign(amount=9.99)
    log["paid_at"] = log["paid_at"].dt.strftime("%Y-%m-%d %H:%M")
    code, out = init(root, "subs", "--events", str(export(tmp_path, log, "payments.csv")))
    assert code == 0, out
    assert written(root, "subs")["labels"]["max_inactive_days"] == 90
    assert written(root, "subs")["labels"]["horizon_days"] == 90  # renewals: not a frequent log
    assert "already lost" in out and "max_inactive_days" in out


def calls(n: int, days: int, seed: int) -> pd.DataFrame:
    """A call log: each subscriber calls every day or two from the start, and a third of them
    stop for good on a random day."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        last = int(rng.integers(days // 3, days)) if i % 3 == 0 else days
        day = 0
        while day < last:
            rows.append((f"4917{i:06d}", pd.Timestamp("2023-01-01") + pd.Timedelta(days=day)))
            day += int(rng.integers(1, 3))
    return pd.DataFrame(rows, columns=["msisdn", "call_start"])


def test_a_log_of_daily_returns_gets_a_month_as_its_horizon(tmp_path: Path) -> None:
    """At 90 days, customers who call every day or two and went quiet a month before the
    cutoff are nearly all churners: the model would find who has already left. A month of
    silence is the loss, said in the findings; a horizon given is kept."""
    root = project(tmp_path / "p")
    log = calls(120, 400, seed=5)
    log["call_start"] = log["call_start"].dt.strftime("%Y-%m-%d %H:%M")
    path = export(tmp_path, log, "cdr.csv")
    code, out = init(root, "calls", "--events", str(path))
    assert code == 0, out
    labels = written(root, "calls")["labels"]
    assert labels["horizon_days"] == 30
    assert labels["max_inactive_days"] == 30
    assert "99 % of returns came within 2 days" in " ".join(out.split())

    code, out = init(root, "calls90", "--events", str(path), "--horizon-days", "90")
    assert code == 0, out
    assert written(root, "calls90")["labels"]["horizon_days"] == 90
    assert written(root, "calls90")["labels"]["max_inactive_days"] == 90
