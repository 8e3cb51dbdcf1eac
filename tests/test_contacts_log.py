"""contacts_log.csv: the live list's outreach slice in the shape of data.contacts, read back
through the contacts contract; the control rows' planned action never reaches a CRM file."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from churn.crm.contacts_log import LOG_COLUMNS, LOG_MAPPING, action_costs, contacts_log
from churn.crm.writers import TARGETS, crm_frame, default_target, export_bytes
from churn.data.contract import canonical_contacts
from churn.io import read_source
from churn.settings import ContactsSettings, ExportTarget, PlaybookSettings, SourceSettings

PLAYBOOK = PlaybookSettings.model_validate(
    {
        "rules": [
            {"action": "service_call", "reasons": ["RETURNS"], "cost": 12.5},
            {"action": "call_now", "cost": 3.0},
            {"action": "service_call", "cost": 99.0},  # a second rule of the same action
        ],
        "default_action": "feedback_request",
        "default_cost": 0.25,
    }
)


def scores() -> pd.DataFrame:
    """Five customers: three contacted, one control (its would-be action kept), one outside."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "-c2+1", "ctrl", "c4", "out"],
            "churn_probability": [0.9, 0.8, 0.7, 0.6, 0.1],
            "risk_percentile": [100.0, 80.0, 60.0, 40.0, 20.0],
            "risk_tier": pd.Categorical(["High", "High", "Medium", "Medium", "Low"]),
            "expected_value": [10.0, 20.0, 30.0, 40.0, 50.0],
            "value_at_risk": [9.0, 16.0, 21.0, 24.0, 5.0],
            "priority_rank": [1, 2, 3, 4, 5],
            "in_outreach": [True, True, True, True, False],
            "control_group": [False, False, True, False, False],
            "outreach_status": [
                "contact",
                "contact",
                "control: do not contact",
                "contact",
                "not in outreach",
            ],
            "reason_1_code": ["RETURNS", "RECENCY", "RETURNS", None, None],
            "reason_1_text": ["x", "y", "z", None, None],
            "recommended_action": ["service_call", "call_now", "none", "feedback_request", "none"],
            "planned_action": [
                "service_call",
                "call_now",
                "service_call",
                "feedback_request",
                "none",
            ],
            "model_name": "churn-x",
            "model_version": "3",
            "cutoff": pd.to_datetime(["2024-05-01"] * 5),
            "scored_at": "2024-05-02T08:00:00Z",
        }
    )


def test_the_log_holds_the_whole_slice_with_each_rows_planned_action_and_cost() -> None:
    log = contacts_log(scores(), PLAYBOOK)
    assert tuple(log.columns) == LOG_COLUMNS
    assert log["customer_id"].tolist() == ["c1", "'-c2+1", "ctrl", "c4"]  # no one outside
    assert log["action"].tolist() == [
        "service_call",
        "call_now",
        "service_call",  # the control row's would-be action
        "feedback_request",
    ]
    assert log["group"].tolist() == ["contacted", "contacted", "control", "contacted"]
    assert log["cost"].tolist() == [12.5, 3.0, 0.0, 0.25]  # control costs nothing
    assert (log["contacted_at"] == "2024-05-01").all()
    assert (log["channel"] == "").all()
    assert action_costs(PLAYBOOK)["service_call"] == 12.5  # the first rule of the action


def test_an_action_the_playbook_no_longer_has_gets_an_empty_cost_and_no_formula() -> None:
    # scores made with another playbook, or edited by hand in a spreadsheet
    old = scores().assign(planned_action=["retired_offer", "service_call", "x", "=1+2", "none"])
    log = contacts_log(old, PLAYBOOK)
    assert pd.isna(log["cost"].iloc[0]) and log["cost"].iloc[1] == 12.5
    assert log["cost"].iloc[2] == 0.0  # control
    assert log["action"].iloc[3] == "'=1+2"  # neutralised like the CRM files


def test_the_log_reads_back_as_contacts_through_the_contract(tmp_path: Path) -> None:
    (tmp_path / "contacts_log.csv").write_bytes(
        export_bytes(contacts_log(scores(), PLAYBOOK), "generic")
    )
    source = SourceSettings(path="contacts_log.csv", columns=LOG_MAPPING)
    settings = ContactsSettings(sources=[source])
    contacts = canonical_contacts([(source, read_source(tmp_path, source))], settings)
    assert list(contacts.columns) == ["customer_id", "ts", "action", "control", "channel", "cost"]
    by_id = contacts.set_index("customer_id")
    assert sorted(by_id.index) == sorted(["c1", "'-c2+1", "ctrl", "c4"])
    assert by_id["control"].to_dict() == {
        "c1": False,
        "'-c2+1": False,
        "ctrl": True,
        "c4": False,
    }
    assert by_id.loc["ctrl", "action"] == "service_call"
    assert by_id.loc["c1", "cost"] == 12.5 and by_id.loc["ctrl", "cost"] == 0.0
    assert (contacts["ts"] == pd.Timestamp("2024-05-01")).all()
    assert contacts["channel"].isna().all()


def test_no_default_crm_file_carries_the_planned_action() -> None:
    s = scores()
    for target in TARGETS:
        columns = default_target(target, s.columns)
        assert "planned_action" not in [c.source for c in columns.columns], target
        data = export_bytes(crm_frame(s, target, columns), target)
        assert b"planned" not in data.lower(), target
        assert b"ctrl" not in data, target  # nor the control row itself


def test_a_configured_planned_action_column_is_empty_on_control_rows() -> None:
    wanted = ExportTarget.model_validate(
        {
            "columns": [
                {"source": "customer_id", "name": "id"},
                {"source": "planned_action", "name": "planned"},
            ],
            "include_control": True,
        }
    )
    frame = crm_frame(scores(), "generic", wanted)
    back = pd.read_csv(io.BytesIO(export_bytes(frame, "generic")), dtype=str)
    planned = back.set_index("id")["planned"]
    assert pd.isna(planned["ctrl"])  # no CRM workflow may pick an action for a control row
    assert planned["c1"] == "service_call"
