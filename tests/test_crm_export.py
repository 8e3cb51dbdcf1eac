"""CRM import files: each target's conventions, only configured columns, no formula injection."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from churn.crm.writers import (
    TARGETS,
    control_frame,
    crm_frame,
    default_target,
    export_bytes,
    neutralise,
)
from churn.errors import ConfigError
from churn.settings import ExportTarget


def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "=cmd|' /C calc'!A0", "ctrl", "c3"],
            "churn_probability": [0.912345, 0.5, 0.4, 0.1],
            "risk_percentile": [100.0, 75.0, 50.0, 25.0],
            "risk_tier": pd.Categorical(["High", "Medium", "Medium", "Low"]),
            "expected_value": [120.456, 80.0, 50.0, 10.0],
            "value_at_risk": [109.9, 40.0, 20.0, 1.0],
            "priority_rank": [1, 2, 3, 4],
            "in_outreach": [True, True, True, False],
            "control_group": [False, False, True, False],
            "outreach_status": [
                "contact",
                "contact",
                "control: do not contact",
                "not in outreach",
            ],
            "reason_1_code": ["RECENCY", "RETURNS", "RECENCY", None],
            "reason_1_text": ["No purchase for 74 days", "-5% spend; @everyone", "=x", None],
            "reason_2_code": [None, None, None, None],
            "reason_2_text": ["+1 trend", "\tTab", None, None],
            "reason_3_code": [None, None, None, None],
            "reason_3_text": ["\rCR", None, None, None],
            "recommended_action": ["win_back_offer", "service_call", "none", "none"],
            "model_name": "churn-x",
            "model_version": "3",
            "cutoff": pd.to_datetime(["2024-05-01"] * 4),
            "scored_at": "2026-11-23T15:06:48Z",
            "secret_attribute": ["a", "b", "c", "d"],
        }
    )


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("No purchase for 74 days", "No purchase for 74 days"),
        ("a=b", "a=b"),
    ],
)
def test_formula_cells_are_neutralised(cell: str, expected: str) -> None:
    assert neutralise(pd.Series([cell])).iloc[0] == expected


def read_back(data: bytes, target: str) -> pd.DataFrame:
    encoding = "utf-8-sig" if target == "dynamics" else "utf-8"
    return pd.read_csv(io.BytesIO(data), encoding=encoding, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("target", TARGETS)
def test_export_reads_back_with_the_configured_columns_only(target: str) -> None:
    settings = default_target(target)  # type: ignore[arg-type]
    frame = crm_frame(scores(), target, settings)  # type: ignore[arg-type]
    data = export_bytes(frame, target)  # type: ignore[arg-type]
    back = read_back(data, target)
    assert list(back.columns) == [c.name for c in settings.columns]
    assert len(back) == 2  # the customers to contact: the control row is never among them
    assert "secret_attribute" not in back.columns and "b" not in back.to_numpy()
    assert not any(v[:4] == "=cmd" for v in back.to_numpy().ravel())
    assert data.startswith(b"\xef\xbb\xbf") == (target == "dynamics")
    key = settings.columns[0].name
    assert back[key].tolist() == ["c1", "'=cmd|' /C calc'!A0"]


def test_salesforce_uses_custom_field_names_and_its_datetime_format() -> None:
    back = read_back(
        export_bytes(crm_frame(scores(), "salesforce", default_target("salesforce")), "salesforce"),
        "salesforce",
    )
    assert all(c.endswith("__c") for c in back.columns)
    assert back.columns[0] == "Churn_Customer_ID__c"
    assert back["Churn_Scored_At__c"].tolist() == ["2026-11-23T15:06:48.000Z"] * 2
    assert back["Churn_Cutoff_Date__c"].tolist() == ["2024-05-01"] * 2
    assert back["Churn_Control_Group__c"].tolist() == ["false", "false"]
    assert back["Churn_Probability__c"].tolist() == ["0.9123", "0.5"]


def test_hubspot_uses_snake_case_properties_and_plain_dates() -> None:
    back = read_back(
        export_bytes(crm_frame(scores(), "hubspot", default_target("hubspot")), "hubspot"),
        "hubspot",
    )
    assert all(c == c.lower() and " " not in c for c in back.columns)
    assert back["churn_scored_at"].tolist() == ["2026-11-23"] * 2
    assert back["churn_reason_1_text"].tolist() == [
        "No purchase for 74 days",
        "'-5% spend; @everyone",
    ]


def test_configured_columns_and_rows_replace_the_defaults() -> None:
    settings = ExportTarget.model_validate(
        {
            "columns": [
                {"source": "customer_id", "name": "email"},
                {"source": "churn_probability", "name": "risk"},
            ],
            "only_outreach": False,
        }
    )
    frame = crm_frame(scores(), "generic", settings)
    assert list(frame.columns) == ["email", "risk"] and len(frame) == 4


def test_unknown_source_column_and_repeated_names_are_refused() -> None:
    bad = ExportTarget.model_validate({"columns": [{"source": "phone", "name": "Phone"}]})
    with pytest.raises(
        ConfigError, match=r"export.targets.generic.columns: source column\(s\) \['phone'\]"
    ):
        crm_frame(scores(), "generic", bad)
    twice = ExportTarget.model_validate(
        {"columns": [{"source": "customer_id", "name": "x"}, {"source": "risk_tier", "name": "x"}]}
    )
    with pytest.raises(ConfigError, match=r"field names repeat: \['x'\]"):
        crm_frame(scores(), "generic", twice)


def test_control_rows_leave_only_in_the_control_file() -> None:
    for target in TARGETS:
        frame = crm_frame(scores(), target, default_target(target))
        assert "ctrl" not in frame.iloc[:, 0].tolist(), target
    control = read_back(export_bytes(control_frame(scores()), "generic"), "generic")
    assert control["customer_id"].tolist() == ["ctrl"]
    assert "recommended_action" not in control.columns  # nothing in it suggests an action
    assert control["risk_tier"].tolist() == ["Medium"] and control["cutoff"].tolist() == [
        "2024-05-01"
    ]
    everyone = crm_frame(
        scores(),
        "generic",
        ExportTarget.model_validate(
            {**default_target("generic").model_dump(), "only_outreach": False}
        ),
    )
    flagged = everyone[everyone["customer_id"] == "ctrl"].iloc[0]
    assert (flagged["control_group"], flagged["recommended_action"]) == ("true", "none")
