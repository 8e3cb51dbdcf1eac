"""Control rows kept out of contact files unless asked for (issue 15 item 5), and deltas with
dated copies (item 4): who entered, left or changed action since the previous list, leavers'
churn fields cleared by each CRM's convention."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from churn.crm.deltas import export_delta, leaver_values
from churn.crm.writers import TARGETS, crm_file, default_target
from churn.settings import ExportTarget
from tests._project import churn, make_project


def scores(cutoff: str, rows: dict[str, tuple[str, bool, bool]]) -> pd.DataFrame:
    """``rows``: customer -> (action, in_outreach, control_group)."""
    ids = list(rows)
    n = len(ids)
    action = [rows[c][0] for c in ids]
    outreach = [rows[c][1] for c in ids]
    control = [rows[c][2] for c in ids]
    status = [
        "control: do not contact" if k else "contact" if o else "not in outreach"
        for o, k in zip(outreach, control, strict=True)
    ]
    return pd.DataFrame(
        {
            "customer_id": ids,
            "churn_probability": [0.9 - 0.1 * i for i in range(n)],
            "risk_percentile": [100.0 - i for i in range(n)],
            "risk_tier": ["High"] * n,
            "expected_value": [10.0] * n,
            "value_at_risk": [9.0] * n,
            "priority_rank": list(range(1, n + 1)),
            "in_outreach": outreach,
            "control_group": control,
            "outreach_status": status,
            "reason_1_code": ["RECENCY"] * n,
            "reason_1_text": ["No purchase for 74 days"] * n,
            "recommended_action": [
                "none" if k else a for a, k in zip(action, control, strict=True)
            ],
            "model_name": "churn-shop",
            "model_version": "1",
            "cutoff": pd.to_datetime([cutoff] * n),
            "scored_at": f"{cutoff}T06:00:00Z",
        }
    )


FIRST = {
    "stay": ("win_back_offer", True, False),
    "switch": ("win_back_offer", True, False),
    "leave": ("service_call", True, False),
    "held": ("service_call", True, True),
}
SECOND = {
    "stay": ("win_back_offer", True, False),
    "switch": ("service_call", True, False),
    "new": ("win_back_offer", True, False),
    "leave": ("service_call", False, False),
    "held": ("service_call", True, True),
}


def test_control_rows_stay_out_unless_included_then_have_no_action() -> None:
    first = scores("2024-05-01", FIRST)
    for target in TARGETS:
        default = crm_file(first, target, default_target(target, first.columns)).frame
        assert len(default) == 3, target  # the default: only_outreach without control rows
    settings = ExportTarget.model_validate(
        {**default_target("generic", first.columns).model_dump(), "include_control": True}
    )
    frame = crm_file(first, "generic", settings).frame
    held = frame[frame["customer_id"] == "held"].iloc[0]
    assert pd.isna(held["recommended_action"]) and held["outreach_status"] == "control"
    assert held["control_group"] == "true" and len(frame) == 4
    contact = frame[frame["customer_id"] == "stay"].iloc[0]
    assert contact["outreach_status"] == "contact"


def test_salesforce_control_rows_clear_the_action_with_na() -> None:
    first = scores("2024-05-01", FIRST)
    settings = ExportTarget.model_validate(
        {**default_target("salesforce", first.columns).model_dump(), "include_control": True}
    )
    frame = crm_file(first, "salesforce", settings).frame
    held = frame[frame["Churn_Customer_ID__c"] == "held"].iloc[0]
    assert held["Churn_Recommended_Action__c"] == "#N/A"
    assert held["Churn_Outreach_Status__c"] == "control"


def frame(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["key", "action", "status", "flag", "email"])


def test_delta_has_entrants_changes_and_cleared_leavers() -> None:
    before = frame(
        [["a", "x", "contact", "true", "a@x"], ["b", "x", "contact", "true", "b@x"],
         ["c", "y", "contact", "true", "c@x"]]
    )  # fmt: skip
    after = frame(
        [["a", "x", "contact", "true", "a@x"], ["b", "y", "contact", "true", "b@x"],
         ["d", "x", "contact", "true", "d@x"]]
    )  # fmt: skip
    hold = leaver_values(
        {"action": "enumeration", "status": "enumeration", "flag": "boolean"},
        status="status",
        clear="#N/A",
    )
    delta = export_delta(after, before, action="action", leavers_hold=hold)
    assert (delta.entered, delta.left, delta.changed) == (1, 1, 1)
    assert delta.frame.values.tolist() == [
        ["b", "y", "contact", "true", "b@x"],
        ["d", "x", "contact", "true", "d@x"],
        ["c", "#N/A", "not in outreach", "false", "c@x"],  # contact fields kept, never cleared
    ]
    first = export_delta(after, None, action="action", leavers_hold=hold)
    assert (first.entered, first.left, len(first.frame)) == (3, 0, 3)


def read(path: Path, target: str) -> pd.DataFrame:
    encoding = "utf-8-sig" if target == "dynamics" else "utf-8"
    return pd.read_csv(
        io.BytesIO(path.read_bytes()), encoding=encoding, dtype=str, keep_default_na=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def export_list(project: Path, frame: pd.DataFrame) -> Path:
    scored = project / "data/scored/shop/scores.parquet"
    scored.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(scored, index=False)
    code, out = churn(project, "export")
    assert code == 0, out
    return project / "data/exports/shop"


def test_weekly_exports_keep_dated_copies_and_write_the_delta(project: Path) -> None:
    exports = export_list(project, scores("2024-05-01", FIRST))
    assert len(read(exports / "salesforce_delta.csv", "salesforce")) == 3  # all entered
    exports = export_list(project, scores("2024-05-08", SECOND))

    history = sorted(p.name for p in (exports / "history").glob("salesforce*"))
    assert history == [
        "salesforce_2024-05-01.csv",
        "salesforce_2024-05-08.csv",
        "salesforce_delta_2024-05-01.csv",
        "salesforce_delta_2024-05-08.csv",
    ]
    assert (exports / "salesforce.csv").read_bytes() == (
        exports / "history/salesforce_2024-05-08.csv"
    ).read_bytes()
    sf = read(exports / "salesforce_delta.csv", "salesforce").set_index("Churn_Customer_ID__c")
    assert sorted(sf.index) == ["leave", "new", "switch"]
    assert sf.loc["switch", "Churn_Recommended_Action__c"] == "service_call"
    leaver = sf.loc["leave"]
    assert leaver["Churn_Outreach_Status__c"] == "not in outreach"
    assert leaver["Churn_Probability__c"] == "#N/A" and leaver["Churn_Reason_1_Text__c"] == "#N/A"
    assert leaver["Churn_Control_Group__c"] == "false"
    hs = read(exports / "hubspot_delta.csv", "hubspot").set_index("churn_customer_id")
    assert hs.loc["leave", "churn_probability"] == ""  # HubSpot and Dynamics: empty cells
    assert hs.loc["leave", "churn_outreach_status"] == "not in outreach"
    summary = json.loads((exports / "summary.json").read_text())
    assert summary["targets"]["dynamics"]["delta"] == {"entered": 1, "left": 1, "changed": 1}

    again = export_list(project, scores("2024-05-08", SECOND))  # the same list exported twice
    assert read(again / "salesforce_delta.csv", "salesforce").equals(sf.reset_index())
