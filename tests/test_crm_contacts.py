"""Contact fields of the customers table (issue 15 item 1): read apart from the attributes into
canonical/contact_fields.parquet, never reaching the features; joined into the CRM files as each
target's key, customers without it left out with a count, never a blank key."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from churn.crm.keys import contact_key, with_email_ids
from churn.crm.writers import TARGETS, crm_file, default_target, export_bytes
from churn.errors import ConfigError
from churn.settings import ExportTarget
from tests._project import churn, make_project, params, run_stages, write_params

CUSTOMERS = "data/raw/shop/customers.csv"


def customer_table() -> pd.DataFrame:
    ids = [f"C{c:04d}" for c in range(160)]
    return pd.DataFrame(
        {
            "cust": ids,
            "segment": ["a", "b"] * 80,
            "mail": [f"{i.lower()}@example.com" if n % 10 else "" for n, i in enumerate(ids)],
            "given": ["Ada"] * 160,
            "family": ["Lovelace"] * 160,
        }
    )


def contact_params(**contact_fields: str) -> dict[str, object]:
    values = params()
    values["data"]["customers"] = {  # type: ignore[index]
        "sources": [
            {
                "path": CUSTOMERS,
                "columns": {"customer_id": "cust"},
                "attributes": {"segment": "segment"},
                "contact_fields": contact_fields,
            }
        ]
    }
    values["features"]["categorical_attributes"] = ["segment"]  # type: ignore[index]
    return values


@pytest.fixture
def project(tmp_path: Path) -> Path:
    make_project(tmp_path)
    (tmp_path / CUSTOMERS).parent.mkdir(parents=True, exist_ok=True)
    customer_table().to_csv(tmp_path / CUSTOMERS, index=False)
    return tmp_path


def test_contact_fields_get_their_own_table_and_never_reach_the_features(project: Path) -> None:
    write_params(project, contact_params(email="mail", first_name="given", last_name="family"))
    run_stages(project, ("ingest", "labels", "features"))

    canonical = project / "data/interim/shop/canonical"
    contacts = pd.read_parquet(canonical / "contact_fields.parquet")
    assert list(contacts.columns) == ["customer_id", "email", "first_name", "last_name"]
    assert contacts.loc[contacts["customer_id"] == "C0001", "email"].item() == "c0001@example.com"
    assert contacts["email"].isna().sum() == 16  # blank cells are missing, not ""
    customers = pd.read_parquet(canonical / "customers.parquet")
    assert list(customers.columns) == ["customer_id", "segment"]
    features = pd.read_parquet(project / "data/interim/shop/features.parquet")
    seen = " ".join(features.columns).lower()
    assert not any(word in seen for word in ("email", "mail", "given", "family", "first_name"))
    assert not features.isin(["c0001@example.com", "Lovelace"]).any().any()


def test_a_column_both_attribute_and_contact_field_is_refused(project: Path) -> None:
    values = contact_params(email="mail")
    values["data"]["customers"]["sources"][0]["attributes"]["mail"] = "mail"  # type: ignore[index]
    write_params(project, values)
    code, out = churn(project, "ingest")
    assert code == 2, out
    assert "contact_fields ['email (mail)'] are also mapped as attributes" in out


def test_a_contact_column_missing_from_the_file_is_named(project: Path) -> None:
    write_params(project, contact_params(email="e_mail"))
    code, out = churn(project, "ingest")
    assert code == 3, out
    assert CUSTOMERS in out and "e_mail" in out and "contact_fields" in out


def scores(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "churn_probability": [0.9, 0.8, 0.7, 0.6][:n],
            "risk_percentile": [100.0, 90.0, 80.0, 70.0][:n],
            "risk_tier": ["High"] * n,
            "expected_value": [10.0] * n,
            "value_at_risk": [9.0] * n,
            "priority_rank": list(range(1, n + 1)),
            "in_outreach": [True] * n,
            "control_group": [False] * n,
            "outreach_status": ["contact"] * n,
            "reason_1_code": ["RECENCY"] * n,
            "reason_1_text": ["No purchase for 74 days"] * n,
            "recommended_action": ["win_back_offer"] * n,
            "model_name": "churn-shop",
            "model_version": "1",
            "cutoff": pd.to_datetime(["2024-05-01"] * n),
            "scored_at": "2026-11-23T15:06:48Z",
        }
    )


def contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C0", "C1", "C2"],  # C3 has no contact row at all
            "email": ["a@x.com", None, "c@x.com"],
            "last_name": ["Ng", "Okafor", None],
            "external_id": ["E0", "E1", "E2"],
        }
    ).astype("string")


def read_back(data: bytes, target: str) -> pd.DataFrame:
    encoding = "utf-8-sig" if target == "dynamics" else "utf-8"
    return pd.read_csv(io.BytesIO(data), encoding=encoding, dtype=str, keep_default_na=False)


def test_each_target_keys_on_its_own_contact_field() -> None:
    fields = ["email", "last_name", "external_id"]
    keys = {t: default_target(t, scores().columns, fields).columns[0].name for t in TARGETS}
    assert keys == {
        "salesforce": "External_ID__c",  # an External ID field to upsert on
        "hubspot": "email",  # HubSpot deduplicates contacts on Record ID or email
        "dynamics": "churn_externalid",  # an alternate key column
        "generic": "customer_id",
    }
    assert contact_key("salesforce", ["crm_id", "external_id"]) == "crm_id"
    salesforce = default_target("salesforce", contact_fields=["crm_id", "last_name"])
    assert [c.name for c in salesforce.columns[:1]] == ["Id"]


def test_customers_without_the_key_are_left_out_never_blank() -> None:
    fields = ["email", "last_name", "external_id"]
    hubspot = crm_file(
        scores(),
        "hubspot",
        default_target("hubspot", scores().columns, fields),
        contacts=contacts(),
    )
    assert hubspot.frame["email"].tolist() == ["a@x.com", "c@x.com"]
    assert hubspot.left_out == {"email": 2}
    assert hubspot.frame["lastname"].isna().tolist() == [False, True]  # an empty cell
    # Salesforce: an upsert on an External ID may create a Contact, which needs LastName
    salesforce = crm_file(
        scores(),
        "salesforce",
        default_target("salesforce", scores().columns, fields),
        contacts=contacts(),
    )
    assert salesforce.frame["External_ID__c"].tolist() == ["E0", "E1"]
    assert salesforce.left_out == {"External_ID__c": 1, "LastName": 1}
    back = read_back(export_bytes(salesforce.frame, "salesforce"), "salesforce")
    assert back["LastName"].tolist() == ["Ng", "Okafor"] and back["Email"].tolist() == [
        "a@x.com",
        "",
    ]


def test_configured_contact_columns_and_required_fields() -> None:
    settings = ExportTarget.model_validate(
        {
            "columns": [
                {"source": "contact.email", "name": "Email Address"},
                {"source": "churn_probability", "name": "Risk"},
                {"source": "contact.last_name", "name": "Surname"},
            ],
            "required": ["Email Address", "Surname"],
        }
    )
    built = crm_file(scores(), "generic", settings, contacts=contacts())
    assert built.frame["Email Address"].tolist() == ["a@x.com"]
    assert built.left_out == {"Email Address": 2, "Surname": 1}


def test_a_contact_source_without_contact_fields_is_refused() -> None:
    settings = ExportTarget.model_validate({"columns": [{"source": "contact.email", "name": "e"}]})
    with pytest.raises(ConfigError, match=r"contact field\(s\) \['email'\] are not mapped"):
        crm_file(scores(), "generic", settings)


def test_churn_export_joins_contacts_and_counts_the_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(tmp_path)
    scored = project / "data/scored/shop/scores.parquet"
    scored.parent.mkdir(parents=True)
    scores().to_parquet(scored, index=False)
    canonical = project / "data/interim/shop/canonical"
    canonical.mkdir(parents=True)
    contacts().to_parquet(canonical / "contact_fields.parquet", index=False)

    with caplog.at_level(logging.INFO, logger="churn"):
        code, out = churn(project, "export")

    assert code == 0, out
    exports = project / "data/exports/shop"
    hubspot = read_back((exports / "hubspot.csv").read_bytes(), "hubspot")
    assert hubspot.columns[0] == "email" and hubspot["email"].tolist() == ["a@x.com", "c@x.com"]
    summary = json.loads((exports / "summary.json").read_text())
    assert summary["targets"]["hubspot"]["left_out"] == {"email": 2}
    assert summary["contact_fields"] == ["email", "last_name", "external_id"]
    messages = [r.getMessage() for r in caplog.records]
    assert (
        "hubspot: 2 customer(s) to contact left out of the file: no email (the key the CRM "
        "matches on)" in messages
    )
    assert not any("keyed on the customer id" in m for m in messages)
    for target in TARGETS:  # the scores' customer id alone never leaves a row without a key
        assert (
            ""
            not in read_back((exports / f"{target}.csv").read_bytes(), target).iloc[:, 0].tolist()
        )


def test_without_contact_fields_the_customer_id_is_the_key_and_it_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(tmp_path)
    scored = project / "data/scored/shop/scores.parquet"
    scored.parent.mkdir(parents=True)
    scores().to_parquet(scored, index=False)
    with caplog.at_level(logging.INFO, logger="churn"):
        code, out = churn(project, "export")
    assert code == 0, out
    said = [r for r in caplog.records if "keyed on the customer id" in r.getMessage()]
    assert len(said) == 1
    back = read_back((project / "data/exports/shop/hubspot.csv").read_bytes(), "hubspot")
    assert back.columns[0] == "churn_customer_id" and len(back) == 4


def test_customer_ids_that_are_email_addresses_fill_the_email_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A log keyed by the buyer's address (Shopify's orders) has no customers table: the ids
    are the emails HubSpot and Dynamics match contacts on, so they fill the email field."""
    project = make_project(tmp_path)
    scored = project / "data/scored/shop/scores.parquet"
    scored.parent.mkdir(parents=True)
    emails = ["ana@shop.example", "bo.li+promo@mail.example", "cy@x.io", "dee@y.co.uk"]
    scores().assign(customer_id=emails).to_parquet(scored, index=False)
    with caplog.at_level(logging.INFO, logger="churn"):
        code, out = churn(project, "export")
    assert code == 0, out
    exports = project / "data/exports/shop"
    hubspot = read_back((exports / "hubspot.csv").read_bytes(), "hubspot")
    assert hubspot.columns[0] == "email" and hubspot["email"].tolist() == emails
    dynamics = read_back((exports / "dynamics.csv").read_bytes(), "dynamics")
    assert dynamics.columns[0] == "emailaddress1" and dynamics.iloc[:, 0].tolist() == emails
    salesforce = read_back((exports / "salesforce.csv").read_bytes(), "salesforce")
    assert salesforce["Email"].tolist() == emails  # beside the key, our customer id
    assert json.loads((exports / "summary.json").read_text())["contact_fields"] == ["email"]
    assert any("customer ids are email addresses" in r.getMessage() for r in caplog.records)


def test_email_ids_join_the_mapped_contact_fields_and_leave_a_mapped_email_alone() -> None:
    ids = pd.Series(
        ["a@x.com", "b@x.com", "not an address", None] + [f"u{i}@x.com" for i in range(20)]
    )
    names = pd.DataFrame({"customer_id": ["a@x.com"], "last_name": ["Ng"]}).astype("string")
    joined = with_email_ids(ids, names)
    assert joined is not None and set(joined.columns) == {"customer_id", "last_name", "email"}
    by_id = joined.set_index("customer_id")
    assert by_id.loc["a@x.com", "last_name"] == "Ng" and by_id.loc["b@x.com", "email"] == "b@x.com"
    assert pd.isna(by_id.loc["not an address", "email"])  # no address: no email, left out
    mapped = contacts()
    assert with_email_ids(ids, mapped) is mapped
    assert with_email_ids(pd.Series(["C1", "C2", "x@y.com"]), None) is None  # ids, not emails
    assert with_email_ids(pd.Series([], dtype="string"), None) is None


def test_the_id_column_may_also_be_the_external_id_the_crm_holds(project: Path) -> None:
    write_params(project, contact_params(external_id="cust", last_name="family"))
    code, out = churn(project, "ingest")
    assert code == 0, out
    contacts = pd.read_parquet(project / "data/interim/shop/canonical/contact_fields.parquet")
    assert (contacts["external_id"] == contacts["customer_id"]).all() and len(contacts) == 160
