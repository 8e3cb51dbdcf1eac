"""``churn init --snapshot`` on a subscriptions export (Stripe's, Chargebee's): one row per
subscription, ``Canceled At`` blank while it lasts, and dates of two more kinds:

- dates ahead of the export (a period's end, a trial's end, the next renewal): a yearly plan's
  ``Current Period End`` is a year after it, and the snapshot was dated by it, a year late,
  so every "days since" was a year too long;
- dates the renewals move forward (``Current Period Start``): a churner's stopped at its
  cancellation, so days since it said how long ago a customer had left (test ROC AUC 0.999,
  each under the leak screen's 0.98 alone).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.test_init import export, init, project, written

EXPORTED = pd.Timestamp("2024-06-30")


def _subscriptions(n: int, seed: int) -> pd.DataFrame:
    """Monthly and yearly plans whose renewals move the current period until a cancellation."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        yearly = rng.random() < 0.3
        period = pd.Timedelta(days=365 if yearly else 30)
        created = EXPORTED - pd.Timedelta(days=int(rng.integers(40, 700)))
        seats = int(rng.choice([1, 2, 5]))
        life = pd.Timedelta(days=float(rng.exponential(300 if seats > 1 else 150)))
        cancel = created + life if created + life < EXPORTED else None
        stop = cancel if cancel is not None else EXPORTED
        start = created + period * int((stop - created) / period)
        trial_end = created + pd.Timedelta(days=14)
        when = "%Y-%m-%d %H:%M"
        rows.append(
            {
                "id": f"sub_{i:08d}",
                "Customer ID": f"cus_{rng.integers(16**10):010x}",
                "Plan": "yearly" if yearly else "monthly",
                "Quantity": seats,
                "Amount": f"{(290.0 if yearly else 29.0) * seats:.2f}",
                "Created (UTC)": created.strftime(when),
                "Current Period Start (UTC)": start.strftime(when),
                "Current Period End (UTC)": (start + period).strftime(when),
                "Trial End (UTC)": trial_end.strftime(when),
                "Canceled At (UTC)": cancel.strftime(when) if cancel is not None else "",
            }
        )
    return pd.DataFrame(rows)


def test_a_subscription_export_is_dated_by_its_past(tmp_path: Path) -> None:
    subscriptions = _subscriptions(600, seed=3)
    root = project(tmp_path / "p")
    code, out = init(
        root, "subs", "--snapshot", str(export(tmp_path, subscriptions, "subscriptions.csv"))
    )
    assert code == 0, out
    params = written(root, "subs")
    snapshot = params["data"]["snapshot"]
    assert snapshot["churned_when"] == "filled"
    latest_past = max(
        pd.to_datetime(subscriptions[c]).max()
        for c in ("Created (UTC)", "Current Period Start (UTC)", "Canceled At (UTC)")
    )
    assert pd.Timestamp(params["labels"]["snapshot_date"]) == latest_past.normalize()
    assert pd.Timestamp(params["labels"]["snapshot_date"]) <= EXPORTED


def test_dates_renewals_move_are_left_out_beside_a_cancellation_date(tmp_path: Path) -> None:
    subscriptions = _subscriptions(600, seed=5)
    root = project(tmp_path / "p")
    code, out = init(root, "subs", "--snapshot", str(export(tmp_path, subscriptions, "s.csv")))
    assert code == 0, out
    source = written(root, "subs")["data"]["snapshot"]["source"]
    kept = set(source["attributes"].values())
    assert {"Created (UTC)", "Trial End (UTC)", "Plan", "Quantity"} <= kept
    assert not kept & {"Current Period Start (UTC)", "Current Period End (UTC)"}
    said = " ".join(out.split())
    assert "'Current Period Start (UTC)', 'Current Period End (UTC)': a date renewals move" in said
    assert (
        "# left out, the label in disguise: 'Current Period Start (UTC)'"
        in (root / "pipelines/subs/params.yaml").read_text()
    )


def test_a_moving_date_stays_when_the_label_is_no_cancellation_date(tmp_path: Path) -> None:
    """A yes/no label may be churn ahead of the snapshot: a last renewal is then no leak."""
    subscriptions = _subscriptions(400, seed=4)
    subscriptions["Churn"] = np.where(subscriptions.pop("Canceled At (UTC)") != "", "Yes", "No")
    root = project(tmp_path / "p")
    code, out = init(root, "subs", "--snapshot", str(export(tmp_path, subscriptions, "s.csv")))
    assert code == 0, out
    attributes = written(root, "subs")["data"]["snapshot"]["source"]["attributes"]
    assert "Current Period Start (UTC)" in attributes.values()
