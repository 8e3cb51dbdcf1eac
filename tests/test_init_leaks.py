"""``churn init`` leaves out, on a snapshot, the columns that look like the label in disguise
(a churn score or reason known only after a customer left), by the leak screen ``churn train``
would stop on, so the first ``churn run`` trains; the params say what was left out and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.inference import charge_candidates, infer_snapshot_roles
from churn.settings import load_settings
from tests import messy
from tests.test_init import export, init, project, written


def test_leaks_are_left_out_and_named(tmp_path: Path) -> None:
    snap = messy.snapshot(600, seed=3, leak=True)
    churned = snap.frame[snap.label] == snap.positive
    frame = snap.frame.assign(**{"Churn Value": np.where(churned, 1, 0)})  # the label's twin
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "acc",
        "--snapshot",
        str(export(tmp_path, frame, "accounts.csv")),
        "--label",
        snap.label,
    )
    assert code == 0, out
    leaks = {*snap.leaks, "Churn Value"}
    attributes = set(written(root, "acc")["data"]["snapshot"]["source"]["attributes"].values())
    assert not leaks & attributes
    assert attributes == set(frame.columns) - leaks - {snap.label, snap.customer_id}
    text = (root / "pipelines/acc/params.yaml").read_text()
    for column in leaks:
        assert f"# left out, the label in disguise: {column!r}" in text
    assert "'churn_reason' is missing exactly for one class" in text
    assert "they look like the label in disguise" in out
    settings = load_settings(root, "acc")
    assert settings.data.snapshot is not None
    assert settings.data.snapshot.numeric_attributes  # the honest numbers stay numbers


def test_an_honest_snapshot_keeps_every_attribute(tmp_path: Path) -> None:
    snap = messy.snapshot(600, seed=4)
    root = project(tmp_path / "p")
    path = export(tmp_path, snap.frame, "a.csv")
    code, out = init(root, "acc", "--snapshot", str(path), "--label", snap.label)
    assert code == 0, out
    attributes = set(written(root, "acc")["data"]["snapshot"]["source"]["attributes"].values())
    assert attributes == set(snap.frame.columns) - {snap.label, snap.customer_id}
    assert "label in disguise" not in out + (root / "pipelines/acc/params.yaml").read_text()


def test_a_churn_flag_in_a_customers_table_is_no_feature(tmp_path: Path) -> None:
    """KKBox's members file beside its transactions: `is_churn` (and a cancellation date) had
    become attributes, features of every cutoff holding the outcome itself."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2023-01-01", "2024-06-30", freq="D")
    orders = pd.DataFrame(
        {
            "msno": [f"m{i % 60:03d}" for i in range(900)],
            "transaction_date": rng.choice(days, 900).astype("datetime64[ns]"),
            "actual_amount_paid": rng.uniform(5, 30, 900).round(2),
        }
    )
    orders["transaction_date"] = orders["transaction_date"].dt.strftime("%Y-%m-%d")
    members = pd.DataFrame(
        {
            "msno": [f"m{i:03d}" for i in range(60)],
            "city": rng.choice(["1", "4", "13"], 60),
            "is_churn": rng.choice(["0", "1"], 60),
            "cancellation_date": ["2024-05-01" if i % 4 == 0 else "" for i in range(60)],
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "kk",
        "--events",
        str(export(tmp_path, orders, "transactions.csv")),
        "--customers",
        str(export(tmp_path, members, "members.csv")),
    )
    assert code == 0, out
    attributes = written(root, "kk")["data"]["customers"]["sources"][0]["attributes"]
    assert "city" in attributes.values()
    assert {"is_churn", "cancellation_date"}.isdisjoint(attributes.values())
    assert "left out 'is_churn', 'cancellation_date': named like a churn label" in " ".join(
        out.split()
    )


def test_a_churn_labels_value_is_no_candidate_for_the_customers_value() -> None:
    """IBM Telco v11's `Churn Value` (0 or 1) was listed among the value's candidates."""
    sample = pd.DataFrame(
        {
            "Monthly Charges": ["70.5", "20.1", "99.9"],
            "Churn Value": ["1", "0", "1"],
            "Total Charges": ["700", "2000", "90"],
        }
    )
    assert charge_candidates(sample, list(sample.columns)) == ["Monthly Charges", "Total Charges"]


def test_a_charge_written_as_an_invoice_writes_it_is_the_value() -> None:
    """A CRM export's MonthlyCharge as "$1,299.00" reads as a number everywhere else, so the
    value guess must read it too (it found no value column)."""
    sample = pd.DataFrame(
        {
            "AccountId": ["A1", "A2", "A3"],
            "MonthlyCharge": ["$1,299.00", "$49.50", "$2,100.00"],
            "Region": ["NA", "EMEA", "APAC"],
            "Churned": ["yes", "no", "no"],
        }
    )
    assert charge_candidates(sample, ["MonthlyCharge"]) == ["MonthlyCharge"]
    assert infer_snapshot_roles(sample, label="Churned").value == "MonthlyCharge"


def test_a_zip_code_is_a_category_not_a_number() -> None:
    """Olist's customer_zip_code_prefix averaged as a number: "2,188; typical 51,898.50"."""
    sample = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "customer_zip_code_prefix": ["01151", "02188", "51898", "13056"],
            "PIN_CODE": ["105", "115", "221", "105"],
            "tenure": ["3", "12", "40", "7"],
            "churned": ["yes", "no", "no", "yes"],
        }
    )
    roles = infer_snapshot_roles(sample, label="churned", customer_id="customer_id")
    assert roles.numeric == ("tenure",)
    assert set(roles.categorical) == {"customer_zip_code_prefix", "PIN_CODE"}


def test_a_status_that_says_who_left_in_a_customers_table_is_no_feature(tmp_path: Path) -> None:
    """A SaaS accounts table beside its usage log: `status` (active or canceled, as of the
    export) had become an attribute, by far the model's strongest feature at every cutoff."""
    rng = np.random.default_rng(8)
    days = pd.date_range("2023-01-01", "2024-06-30", freq="D")
    usage = pd.DataFrame(
        {
            "user_id": [f"u{i % 60:03d}" for i in range(900)],
            "occurred_at": rng.choice(days, 900).astype("datetime64[ns]"),
            "event_name": rng.choice(["login", "export"], 900),
        }
    )
    usage["occurred_at"] = usage["occurred_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    accounts = pd.DataFrame(
        {
            "account_id": [f"u{i:03d}" for i in range(60)],
            "plan": rng.choice(["starter", "team"], 60),
            "subscription_status": ["canceled" if i % 3 == 0 else "active" for i in range(60)],
            "region_state": rng.choice(["CA", "NY", "TX"], 60),
            "ended_at": ["2024-05-01" if i % 3 == 0 else "" for i in range(60)],
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "saas",
        "--events",
        str(export(tmp_path, usage, "usage.csv")),
        "--customers",
        str(export(tmp_path, accounts, "accounts.csv")),
    )
    assert code == 0, out
    attributes = written(root, "saas")["data"]["customers"]["sources"][0]["attributes"]
    assert {"plan", "region_state"} <= set(attributes.values())  # a state of no leaving value
    assert "subscription_status" not in attributes.values()
    said = " ".join(out.split())
    assert "left out 'subscription_status'" in said
    assert "a status with a value that says a customer left" in said


def test_a_left_out_cancellation_date_points_to_churn_events(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    days = pd.date_range("2023-01-01", "2024-06-30", freq="D")
    usage = pd.DataFrame(
        {
            "user_id": [f"u{i % 60:03d}" for i in range(900)],
            "occurred_at": rng.choice(days, 900).astype("datetime64[ns]"),
        }
    )
    usage["occurred_at"] = usage["occurred_at"].dt.strftime("%Y-%m-%d")
    accounts = pd.DataFrame(
        {
            "user_id": [f"u{i:03d}" for i in range(60)],
            "canceled_at": ["2024-05-01" if i % 3 == 0 else "" for i in range(60)],
        }
    )
    root = project(tmp_path / "p")
    table = export(tmp_path, accounts, "accounts.csv")
    code, out = init(
        root,
        "saas",
        "--events",
        str(export(tmp_path, usage, "usage.csv")),
        "--customers",
        str(table),
    )
    assert code == 0, out
    said = " ".join(out.split())
    assert "--churn-events data/raw/saas/accounts.csv reads the dates of 'canceled_at'" in said
