"""A KKBox-shaped subscription log (``transactions.csv``: msno, payment_method_id,
payment_plan_days, plan_list_price, actual_amount_paid, is_auto_renew, transaction_date,
membership_expire_date, is_cancel; dates as 20170331 integers) goes from ``churn init`` to a
scored list with each payment's paid period used: ``membership_expire_date`` is mapped as
``covered_until``, and a member still paid up is neither labelled churned nor told "No
purchase for 379 days"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import infer_event_roles
from churn.data.paid_periods import paid_period_column
from tests._project import run_stages
from tests.test_init import export, init, project, written

END = pd.Timestamp("2017-03-31")
PLANS = {30: 149, 90: 447, 180: 894, 410: 1788}
"""KKBox's plan lengths in days and their list prices."""


def kkbox_transactions(n: int, seed: int) -> pd.DataFrame:
    """Payments of ``n`` members from 2015 to 2017-03-31, shuffled: each keeps one plan (most
    monthly, a fifth on a 410-day plan) and auto-renew flag; renewals come a day or two before
    the paid period ends (late by up to two weeks without auto-renew); a leaver stops paying,
    and two in five of them write a cancellation row whose expiry is the day before it."""
    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789+/")
    rows = []
    for _ in range(n):
        member = "".join(rng.choice(letters, 24)) + "="
        plan = int(rng.choice(list(PLANS), p=[0.6, 0.1, 0.1, 0.2]))
        auto = int(rng.random() < 0.6)
        method = int(rng.choice([36, 38, 39, 40, 41]))
        t = pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(rng.integers(0, 640)))
        while t <= END:
            expire = t + pd.Timedelta(days=plan)
            rows.append((member, method, plan, PLANS[plan], PLANS[plan], auto, t, expire, 0))
            if rng.random() < ((0.04 if auto else 0.12) if plan == 30 else 0.25):
                day = t + pd.Timedelta(days=int(rng.integers(1, plan)))
                if rng.random() < 0.4 and day <= END:
                    before = day - pd.Timedelta(days=1)
                    rows.append((member, method, plan, PLANS[plan], 0, auto, day, before, 1))
                break
            late = 0 if auto else int(rng.integers(0, 15))
            t = expire - pd.Timedelta(days=int(rng.integers(0, 3)) - late)
    frame = pd.DataFrame(
        rows,
        columns=[
            "msno",
            "payment_method_id",
            "payment_plan_days",
            "plan_list_price",
            "actual_amount_paid",
            "is_auto_renew",
            "transaction_date",
            "membership_expire_date",
            "is_cancel",
        ],
    )
    for column in ("transaction_date", "membership_expire_date"):
        frame[column] = frame[column].dt.strftime("%Y%m%d").astype(int)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_a_membership_s_expiry_is_its_paid_period_and_a_delivery_date_is_not() -> None:
    log = kkbox_transactions(200, seed=1)
    roles = infer_event_roles(log.astype(str).head(5000))
    assert roles.timestamp.column == "transaction_date"
    assert roles.covered_until is not None
    assert (roles.covered_until.column, roles.covered_until.format) == (
        "membership_expire_date",
        "%Y%m%d",
    )
    assert any("'membership_expire_date'" in n and "covered_until" in n for n in roles.notes)

    times = pd.Series(pd.date_range("2024-01-01", periods=50, freq="D"))
    later = times + pd.Timedelta(days=30)
    words = {"delivered_date": ["delivered", "date"], "trial_end": ["trial", "end"]}
    # named like no paid period's end, or like a trial's: never
    assert paid_period_column(times, dict.fromkeys(words, later), words) is None
    # an end before the row's own date on a tenth of the rows: no paid period
    mixed = later.where(times.index % 10 != 0, times - pd.Timedelta(days=5))
    assert (
        paid_period_column(times, {"period_end": mixed}, {"period_end": ["period", "end"]}) is None
    )
    found = paid_period_column(times, {"period_end": later}, {"period_end": ["period", "end"]})
    assert found is not None and found.column == "period_end"


# MLflow compares the input example's columns with a range, which pandas 3 deprecates.
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_a_kkbox_log_goes_from_init_to_a_list_that_reads_paid_up_members_right(
    tmp_path: Path,
) -> None:
    log = kkbox_transactions(800, seed=1)
    root = project(tmp_path)
    code, output = init(root, "kk", "--events", str(export(tmp_path, log, "transactions.csv")))
    assert code == 0, output
    assert "'membership_expire_date'" in output and "covered_until" in output
    source = written(root, "kk")["data"]["events"]["sources"][0]
    assert source["columns"]["covered_until"] == "membership_expire_date"
    assert "covered_until_format" not in source  # read as the timestamp is: %Y%m%d

    run_stages(root, ["ingest", "labels", "features", "train", "register", "score"], name="kk")
    events = pd.read_parquet(root / "data/interim/kk/canonical/events.parquet")
    assert (
        events["covered_until"].dtype == "datetime64[us]" and events["covered_until"].notna().all()
    )

    # labels: no member paid up through a window's end is a churner, unless they cancelled
    labels = pd.read_parquet(root / "data/interim/kk/labels.parquet")
    paid = events[events["event_type"] == "0"]
    cancelled = events.loc[events["event_type"] == "1", ["customer_id", "ts"]]
    horizon = pd.Timedelta(days=written(root, "kk")["labels"]["horizon_days"])
    known = labels[labels["churned"].notna()]
    window_end = known[["customer_id", "cutoff"]].assign(end=known["cutoff"] + horizon)
    covering = window_end.merge(paid, on="customer_id")
    covering = covering[
        (covering["ts"] < covering["end"]) & (covering["covered_until"] >= covering["end"])
    ]
    covered = known.set_index(["customer_id", "cutoff"]).index.isin(
        covering.set_index(["customer_id", "cutoff"]).index.unique()
    )
    quit_in_window = window_end.merge(cancelled, on="customer_id")
    quit_in_window = quit_in_window[
        (quit_in_window["ts"] >= quit_in_window["cutoff"])
        & (quit_in_window["ts"] < quit_in_window["end"])
    ]
    said = known.set_index(["customer_id", "cutoff"]).index.isin(
        quit_in_window.set_index(["customer_id", "cutoff"]).index.unique()
    )
    assert covered.sum() > 100
    assert not known["churned"][covered & ~said].astype(bool).any()

    # the list: a member paid up at the cutoff is not told how long ago they last paid
    scores = pd.read_parquet(root / "data/scored/kk/scores.parquet")
    features = pd.read_parquet(root / "data/scored/kk/features.parquet")
    listed = scores.merge(features, on="customer_id", suffixes=("", "_feature"))
    explained = listed[listed["reason_1_code"].notna()]
    paid_up = explained[explained["coverage_days_left"] > 0]
    lapsed = explained[explained["coverage_days_left"] < 0]
    assert len(paid_up) > 10 and len(lapsed) > 10
    codes = paid_up.filter(regex=r"^reason_\d_code$")
    assert not codes.eq("RECENCY").any().any()
    texts = paid_up.filter(regex=r"^reason_\d_text$").stack().astype(str)
    assert not texts.str.startswith("No purchase for").any(), texts.head()
    said_lapsed = lapsed.filter(regex=r"^reason_\d_text$").stack().astype(str)
    assert said_lapsed.str.match(r"Paid period ended \d+ days before the cutoff").any()
