"""Field definitions shipped with each export (issue 15 item 3): `churn export` writes them beside
the files; parsed here, they declare every exported column with a type, and every value an
enumeration field holds is one of its declared options."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

from churn.crm.keys import STANDARD_FIELDS
from tests._project import churn, make_project, params, write_params
from tests.test_crm_specs import contacts, scores

SF = "{http://soap.sforce.com/2006/04/metadata}"
ENUMERATIONS = ("risk_tier", "outreach_status", "recommended_action")


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A project whose scores and contact fields are exported by `churn export`."""
    project = make_project(tmp_path)
    values = params()
    values["playbook"] = {"rules": [{"action": "win_back_offer"}, {"action": "service_call"}]}
    write_params(project, values)
    scored = project / "data/scored/shop/scores.parquet"
    scored.parent.mkdir(parents=True)
    scores().to_parquet(scored, index=False)
    canonical = project / "data/interim/shop/canonical"
    canonical.mkdir(parents=True)
    contacts().drop(columns="crm_id").to_parquet(canonical / "contact_fields.parquet")
    code, out = churn(project, "export")
    assert code == 0, out
    return project / "data/exports/shop"


def header_and_rows(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_salesforce_fields_are_deployable_metadata_for_every_column(exports: Path) -> None:
    rows = header_and_rows(exports / "salesforce.csv")
    folder = exports / "salesforce/objects/Contact/fields"
    declared = {}
    for path in folder.glob("*.field-meta.xml"):
        tree = ElementTree.fromstring(path.read_bytes())
        assert tree.tag == f"{SF}CustomField"
        declared[tree.findtext(f"{SF}fullName")] = tree
        assert path.name == f"{tree.findtext(f'{SF}fullName')}.field-meta.xml"
    for column in rows.columns:
        assert column in declared or column in STANDARD_FIELDS["salesforce"], column
        if column in declared:
            assert declared[column].findtext(f"{SF}type"), column
    package = ElementTree.fromstring((exports / "salesforce/package.xml").read_bytes())
    members = {m.text for m in package.iter(f"{SF}members")}
    assert members == {f"Contact.{name}" for name in declared}
    assert package.findtext(f"{SF}types/{SF}name") == "CustomField"
    for column in ("Churn_Risk_Tier__c", "Churn_Recommended_Action__c", "Churn_Outreach_Status__c"):
        options = {v.findtext(f"{SF}fullName") for v in declared[column].iter(f"{SF}value")}
        assert set(rows[column]) - {"#N/A"} <= options, column
    key = declared["Churn_Customer_ID__c"]
    assert (key.findtext(f"{SF}externalId"), key.findtext(f"{SF}unique")) == ("true", "true")


def test_hubspot_properties_are_what_its_properties_api_creates(exports: Path) -> None:
    rows = header_and_rows(exports / "hubspot.csv")
    batch = json.loads((exports / "hubspot/properties.json").read_text())
    group = json.loads((exports / "hubspot/property_group.json").read_text())
    properties = {p["name"]: p for p in batch["inputs"]}
    assert rows.columns[0] == "email"  # the key HubSpot deduplicates contacts on
    for column in rows.columns:
        assert column in properties or column in STANDARD_FIELDS["hubspot"], column
    for prop in properties.values():
        assert {"name", "label", "type", "fieldType", "groupName"} <= set(prop)
        assert prop["groupName"] == group["name"]
        if prop["type"] in ("enumeration", "bool"):
            assert prop["options"], prop["name"]
    for source in ENUMERATIONS:
        prop = properties[f"churn_{source}"]
        assert prop["type"] == "enumeration"
        values = {o["value"] for o in prop["options"]}
        assert set(rows[f"churn_{source}"]) - {""} <= values, source
    assert properties["churn_cutoff"]["type"] == "date"
    assert properties["churn_scored_at"]["type"] == "date"


def test_dynamics_columns_and_data_map_cover_every_column(exports: Path) -> None:
    rows = header_and_rows(exports / "dynamics.csv")
    columns = pd.read_csv(
        io.BytesIO((exports / "dynamics/columns.csv").read_bytes()), encoding="utf-8-sig"
    )
    listed = columns.set_index("source_column")
    assert list(columns["source_column"]) == list(rows.columns)
    assert listed["type"].notna().all()
    assert listed.loc["emailaddress1", "alternate_key"]
    tree = ElementTree.fromstring((exports / "dynamics/datamap.xml").read_bytes())
    mapped = {a.findtext("SourceAttributeName") for a in tree.iter("AttributeMap")}
    assert mapped == set(rows.columns)
    for source in ENUMERATIONS:
        options = dict(o.split("=") for o in listed.loc[source, "options"].split("; "))
        assert set(rows[source]) - {""} <= set(options), source


def test_actions_the_playbook_no_longer_has_are_declared_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(tmp_path)  # the default playbook has no win_back_offer
    scored = project / "data/scored/shop/scores.parquet"
    scored.parent.mkdir(parents=True)
    scores().to_parquet(scored, index=False)
    with caplog.at_level(logging.INFO, logger="churn"):
        code, out = churn(project, "export", "--target", "hubspot")
    assert code == 0, out
    batch = json.loads((project / "data/exports/shop/hubspot/properties.json").read_text())
    action = next(p for p in batch["inputs"] if p["name"] == "churn_recommended_action")
    values = [o["value"] for o in action["options"]]
    assert values == ["feedback_request", "none", "service_call", "win_back_offer"]
    said = [r.getMessage() for r in caplog.records]
    assert any("action(s) ['service_call', 'win_back_offer'] that the playbook" in m for m in said)
