"""``churn init --snapshot`` on snapshots stacked, a row per customer per month (a
telecom's monthly usage with a churned-next-month flag): the repeating subscriber number was
no id, rows were numbered, and one subscriber's months fell on both sides of the random
split. Init now stops and gives the command that reads the file as an events log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.test_init import export, init, project
from tests.test_snapshot_cancel_dates import _accounts


def _panel(n: int, seed: int) -> pd.DataFrame:
    """Monthly snapshots stacked: a row per subscriber per month until they leave."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        minutes = rng.normal(300, 80)
        for month in pd.date_range("2023-01-01", "2023-12-01", freq="MS"):
            minutes = max(0.0, minutes * rng.uniform(0.8, 1.1))
            left = rng.random() < (0.3 if minutes < 200 else 0.03)
            rows.append(
                {
                    "msisdn": f"9{i:09d}",
                    "month": month.strftime("%Y-%m"),
                    "voice_minutes": f"{minutes:.1f}",
                    "recharge_amount": f"{rng.uniform(5, 50):.2f}",
                    "churn_next_month": str(int(left)),
                }
            )
            if left:
                break
    return pd.DataFrame(rows)


def test_snapshots_stacked_by_month_stop_init_and_say_how_to_read_them(tmp_path: Path) -> None:
    """Before, the repeating msisdn was no id, rows were numbered, and one subscriber's months
    fell on both sides of the random split."""
    root = project(tmp_path)
    path = export(tmp_path, _panel(120, seed=3), "usage.csv")
    code, output = init(root, "usage", "--snapshot", str(path))
    assert code == 2
    assert "'msisdn' repeats, once per 'month': the file is snapshots stacked" in output
    assert (
        f"churn init usage --events {path} --customer-id msisdn --timestamp month "
        "--exclude churn_next_month" in " ".join(output.split())
    )
    assert not (root / "pipelines" / "usage").exists()
    # the command it gives reads the file
    code, output = init(
        root,
        "usage",
        "--events",
        str(path),
        "--customer-id",
        "msisdn",
        "--timestamp",
        "month",
        "--exclude",
        "churn_next_month",
    )
    assert code == 0, output


def test_customers_sharing_a_postcode_and_signup_month_are_no_panel(tmp_path: Path) -> None:
    accounts = _accounts(200, seed=9)
    accounts["postcode"] = [f"{10000 + i % 40}" for i in range(len(accounts))]
    accounts["signup_date"] = pd.to_datetime(accounts["signup_date"]).dt.strftime("%Y-%m")
    root = project(tmp_path)
    code, output = init(root, "accounts", "--snapshot", str(export(tmp_path, accounts, "a.csv")))
    assert code == 0, output
