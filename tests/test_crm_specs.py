"""Each CRM's import rules (issue 15 item 2), checked against the files as written. The rule each
test checks is quoted from the CRM's own documentation in its docstring."""

from __future__ import annotations

import io
import re
from xml.etree import ElementTree

import pandas as pd

from churn.crm.definitions import dynamics_definitions, field_specs, salesforce_definitions
from churn.crm.fields import action_options
from churn.crm.writers import crm_file, default_target, export_bytes
from churn.settings import ExportTarget, PlaybookSettings

SF = "{http://soap.sforce.com/2006/04/metadata}"
PLAYBOOK = PlaybookSettings.model_validate(
    {"rules": [{"action": "win_back_offer"}, {"action": "service_call"}]}
)


def scores() -> pd.DataFrame:
    n = 3
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "churn_probability": [0.0496, 0.5, 0.91234],
            "risk_percentile": [60.0, 75.5, 100.0],
            "risk_tier": ["Medium", "Medium", "High"],
            "expected_value": [120.456, 80.0, None],
            "value_at_risk": [5.95, 40.0, None],
            "priority_rank": [3, 2, 1],
            "in_outreach": [True] * n,
            "control_group": [False] * n,
            "outreach_status": ["contact"] * n,
            "reason_1_code": ["RECENCY", "RETURNS", None],
            "reason_1_text": ["x" * 300, "Returned 3 of 4 orders", None],
            "reason_2_code": [None] * n,
            "reason_2_text": [None] * n,
            "reason_3_code": [None] * n,
            "reason_3_text": [None] * n,
            "recommended_action": ["win_back_offer", "service_call", "none"],
            "model_name": "churn-x",
            "model_version": "3",
            "cutoff": pd.to_datetime(["2024-05-01"] * n),
            "scored_at": "2026-11-23T15:06:48Z",
        }
    )


def contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "crm_id": ["003A", "003B", "003C"],
            "email": ["a@x.com", "b@x.com", None],
            "last_name": ["Ng", None, "Roy"],
        }
    ).astype("string")


def written(target: str, settings: ExportTarget | None = None) -> tuple[bytes, pd.DataFrame]:
    settings = settings or default_target(target, scores().columns)  # type: ignore[arg-type]
    data = export_bytes(crm_file(scores(), target, settings).frame, target)  # type: ignore[arg-type]
    encoding = "utf-8-sig" if target == "dynamics" else "utf-8"
    back = pd.read_csv(io.BytesIO(data), encoding=encoding, dtype=str, keep_default_na=False)
    return data, back


def test_salesforce_lines_end_with_lf() -> None:
    """Bulk API 2.0, "Prepare CSV Files": "Bulk API 2.0 supports two line-ending formats:
    linefeed (LF) and carriage-return plus linefeed (CRLF) ... The default line ending, if not
    specified, is LF." A job created without lineEnding reads the file as written."""
    data, back = written("salesforce")
    assert b"\r\n" not in data and data.count(b"\n") == len(back) + 1


def test_salesforce_empty_churn_fields_are_written_as_na_so_updates_clear_them() -> None:
    """Bulk API 2.0, "Valid CSV Record Rows": "Empty field values are ignored when you update
    records. To set a field value to null, use a field value of #N/A." Last week's reasons must
    not survive an update, so every empty churn field is #N/A (the key never is)."""
    _, back = written("salesforce")
    assert back["Churn_Reason_2_Text__c"].tolist() == ["#N/A"] * 3
    assert back["Churn_Reason_1_Code__c"].tolist() == ["RECENCY", "RETURNS", "#N/A"]
    assert back["Churn_Expected_Value__c"].tolist() == ["120.46", "80", "#N/A"]
    assert "#N/A" not in back["Churn_Customer_ID__c"].tolist()


def test_salesforce_contact_fields_are_never_cleared() -> None:
    """Our customers table lacking a last name must not erase the one Salesforce holds: only
    churn fields get #N/A; and with the record Id as key (an update, never a create), no
    LastName is required."""
    settings = default_target("salesforce", scores().columns, ["crm_id", "email", "last_name"])
    built = crm_file(scores(), "salesforce", settings, contacts=contacts())
    back = pd.read_csv(io.BytesIO(export_bytes(built.frame, "salesforce")), dtype=str).fillna("")
    assert back.columns[0] == "Id" and back["Id"].tolist() == ["003A", "003B", "003C"]
    assert back["LastName"].tolist() == ["Ng", "", "Roy"] and built.left_out == {}
    assert back["Email"].tolist() == ["a@x.com", "b@x.com", ""]


def test_salesforce_probability_is_a_number_field_and_percentile_a_percent_field() -> None:
    """Salesforce Percent fields take 0 to 100 ("a probability of 0.0496 in a Percent field
    reads as 0.05 %"): the probability (0 to 1) is declared a Number(18, 4) field, the
    percentile (0 to 100) a Percent field, and the values written fit what each declares."""
    _, back = written("salesforce")
    files = salesforce_definitions(
        field_specs("salesforce", default_target("salesforce"), action_options(PLAYBOOK))
    )
    probability = ElementTree.fromstring(
        files["salesforce/objects/Contact/fields/Churn_Probability__c.field-meta.xml"]
    )
    assert probability.findtext(f"{SF}type") == "Number"
    assert probability.findtext(f"{SF}scale") == "4"
    assert back["Churn_Probability__c"].tolist() == ["0.0496", "0.5", "0.9123"]
    percentile = ElementTree.fromstring(
        files["salesforce/objects/Contact/fields/Churn_Risk_Percentile__c.field-meta.xml"]
    )
    assert percentile.findtext(f"{SF}type") == "Percent"
    assert all(0 <= float(v) <= 100 for v in back["Churn_Risk_Percentile__c"])


def test_salesforce_datetimes_are_iso_8601_with_a_zone() -> None:
    """Bulk API 2.0, "Valid Date Format in Records": dateTime fields use
    yyyy-MM-ddTHH:mm:ss.SSS+/-HH:mm or yyyy-MM-ddTHH:mm:ss.SSSZ; date fields yyyy-MM-dd."""
    _, back = written("salesforce")
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", v)
        for v in back["Churn_Scored_At__c"]
    )
    assert set(back["Churn_Cutoff_Date__c"]) == {"2024-05-01"}


def test_hubspot_keys_on_record_id_or_email() -> None:
    """HubSpot, "Set up import files": contacts are deduplicated on Record ID or email, so the
    key is hs_object_id when the CRM id is mapped, else email."""
    record = default_target("hubspot", None, ["crm_id", "email"])
    assert [c.name for c in record.columns[:1]] == ["hs_object_id"]
    assert "email" in [c.name for c in record.columns]
    assert default_target("hubspot", None, ["email"]).columns[0].name == "email"


def test_hubspot_dates_are_plain_utc_dates() -> None:
    """HubSpot, "How should timestamps be formatted": "Date properties will only store the
    date, and must be set to midnight UTC for the date you want." The file holds the UTC date
    (YYYY-MM-DD, which the import reads as that day), never a time of day."""
    _, back = written("hubspot")
    assert set(back["churn_scored_at"]) == {"2026-11-23"}
    assert set(back["churn_cutoff"]) == {"2024-05-01"}
    for value in back["churn_scored_at"]:
        stamp = pd.Timestamp(value, tz="UTC")
        assert stamp == stamp.normalize()  # midnight UTC


def test_dynamics_file_has_a_bom_and_an_alternate_key() -> None:
    """Dynamics 365 Data Import reads UTF-8 files marked by a byte-order mark; rows update an
    existing contact through an alternate key (or contactid), declared in the column list."""
    data, _ = written("dynamics")
    assert data.startswith(b"\xef\xbb\xbf")
    settings = default_target("dynamics", scores().columns, ["email"])
    files = dynamics_definitions(
        field_specs("dynamics", settings, action_options(PLAYBOOK)), "dynamics.csv"
    )
    columns = pd.read_csv(io.BytesIO(files["dynamics/columns.csv"]), encoding="utf-8-sig")
    keys = columns[columns["alternate_key"]]
    assert keys["logical_name"].tolist() == ["emailaddress1"]


def test_dynamics_choices_map_every_label_to_an_option_value() -> None:
    """Dynamics, "Create data maps for import": each list value in the source column must be
    mapped to a valid option value of the target column (PicklistMapping)."""
    _, back = written("dynamics")
    files = dynamics_definitions(
        field_specs("dynamics", default_target("dynamics"), action_options(PLAYBOOK)),
        "dynamics.csv",
    )
    tree = ElementTree.fromstring(files["dynamics/datamap.xml"])
    maps = {
        a.findtext("SourceAttributeName"): {
            p.findtext("SourceValue"): int(p.findtext("TargetValue") or "")
            for p in a.iter("PicklistMap")
        }
        for a in tree.iter("AttributeMap")
    }
    for column in ("risk_tier", "recommended_action", "outreach_status", "control_group"):
        assert set(back[column]) <= set(maps[column]), column
    assert maps["risk_tier"] == {"High": 100_000_000, "Medium": 100_000_001, "Low": 100_000_002}


def test_text_is_cut_to_its_declared_length_and_counted() -> None:
    """Salesforce Text fields hold at most 255 characters (and a longer value fails the row);
    every target cuts text to the declared length and counts the cells it cut."""
    built = crm_file(scores(), "salesforce", default_target("salesforce", scores().columns))
    assert built.truncated == {"Churn_Reason_1_Text__c": 1}
    assert built.frame["Churn_Reason_1_Text__c"].str.len().max() == 255
    short = ExportTarget.model_validate(
        {
            "columns": [
                {"source": "customer_id", "name": "id"},
                {"source": "reason_1_text", "name": "why", "max_length": 10},
            ]
        }
    )
    cut = crm_file(scores(), "generic", short)
    assert cut.frame["why"].fillna("").tolist() == ["x" * 10, "Returned 3", ""]
    assert cut.truncated == {"why": 2}
