"""``churn init`` keeps people's contact data and identifiers out of the model: an email, names
and CRM ids become ``contact_fields`` (they reach the CRM files, keyed as each CRM wants, and
nothing else), a phone, a full name or a column of nearly all-different text is left out. Before,
they were model features: the CRM files had no email to key on, and a surname could be a
reason code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.personal_columns import contact_columns, identifier_columns, personal_columns
from tests._project import run_stages
from tests.test_init import export, init, project, written


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("Email", "email"),
        ("E-mail", "email"),
        ("email_address", "email"),
        ("EmailAddress", "email"),
        ("FirstName", "first_name"),
        ("First Name", "first_name"),
        ("Surname", "last_name"),
        ("last_name", "last_name"),
        ("Company", "company"),
        ("hs_object_id", "crm_id"),
        ("Salesforce ID", "crm_id"),
        ("external_id", "external_id"),
    ],
)
def test_contact_fields_are_found_by_name(column: str, field: str) -> None:
    assert contact_columns(["Tenure", column, "Plan"]) == {field: column}


def test_only_the_first_column_of_a_field_is_taken() -> None:
    assert contact_columns(["Email", "email_address"]) == {"email": "Email"}


@pytest.mark.parametrize("column", ["Phone", "Mobile Number", "Full Name", "name", "Address"])
def test_personal_data_without_a_field_is_found(column: str) -> None:
    assert personal_columns(["Tenure", column]) == [column]


def test_text_with_nearly_every_value_different_is_an_identifier() -> None:
    rng = np.random.default_rng(1)
    n = 300
    sample = pd.DataFrame(
        {
            "ticket": [f"T-{i}" for i in rng.permutation(n)],
            "city": rng.choice(["Lyon", "Paris", "Nice", "Lille"], n),
            "balance": rng.uniform(0, 100, n).round(2).astype(str),  # numbers: not an id
        }
    )
    assert identifier_columns(sample, list(sample.columns)) == ["ticket"]


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    charges = rng.uniform(20, 120, n).round(2)
    churned = rng.random(n) < 1 / (1 + np.exp(1 + 0.04 * tenure - 0.02 * (charges - 70)))
    return pd.DataFrame(
        {
            "CustomerID": [f"C{i:05d}" for i in range(n)],
            "First Name": rng.choice(["Anna", "Ben", "Chloe", "David", "Emma"], n),
            "Surname": [f"Name{i}" for i in rng.integers(0, 900, n)],
            "Email": [f"user{i}@example.com" for i in range(n)],
            "Phone": [f"+44 7{rng.integers(10**8, 10**9)}" for _ in range(n)],
            "Tenure": tenure,
            "MonthlyCharges": charges,
            "Plan": rng.choice(["basic", "plus", "pro"], n),
            "Churn": np.where(churned, "Yes", "No"),
        }
    )


def test_a_snapshot_maps_its_contacts_through_a_customers_source(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, people(600, 2), "subscribers.csv")
    code, out = init(root, "subs", "--snapshot", str(path))
    assert code == 0, out
    data = written(root, "subs")["data"]
    assert set(data["snapshot"]["source"]["attributes"].values()) == {
        "Tenure",
        "MonthlyCharges",
        "Plan",
    }
    customers = data["customers"]["sources"][0]
    assert customers["path"] == data["snapshot"]["source"]["path"]
    assert customers["columns"] == {"customer_id": "CustomerID"}
    assert customers["contact_fields"] == {
        "first_name": "First Name",
        "last_name": "Surname",
        "email": "Email",
    }
    assert "'Phone'" in out and "never features" in out
    run_stages(root, ["ingest"], name="subs")
    contacts = pd.read_parquet(root / "data/interim/subs/canonical/contact_fields.parquet")
    assert contacts.loc[contacts["customer_id"] == "C00007", "email"].item() == "user7@example.com"
    snapshot = pd.read_parquet(root / "data/interim/subs/canonical/snapshot.parquet")
    assert not {"email", "surname", "phone", "first_name"} & set(snapshot.columns)


def test_an_event_logs_customers_table_maps_contacts_not_attributes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    folks = people(200, 3).drop(columns="Churn")
    orders = pd.DataFrame(
        {
            "CustomerID": rng.choice(folks["CustomerID"], 3000),
            "order_date": (
                pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, 3000), "D")
            ).strftime("%Y-%m-%d"),
            "amount": rng.gamma(2, 20, 3000).round(2),
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "shop",
        "--events",
        str(export(tmp_path, orders, "orders.csv")),
        "--customers",
        str(export(tmp_path, folks, "customers.csv")),
    )
    assert code == 0, out
    customers = written(root, "shop")["data"]["customers"]["sources"][0]
    assert customers["contact_fields"]["email"] == "Email"
    assert set(customers["attributes"].values()) == {"Tenure", "MonthlyCharges", "Plan"}
    assert "contact fields first_name, last_name, email" in out
