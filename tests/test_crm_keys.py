"""CRM keys round-trip: a key that is a signed number or a phone number reaches the import file
exactly as the scores hold it, in every target, while cells a spreadsheet would run as a
formula are still neutralised (and keys that look like formulas are named in the log)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
import pytest

from churn.crm.writers import TARGETS, crm_frame, default_target, export_bytes, neutralise
from tests._project import churn, make_project

KEYS = ["-123", "-0.5", "+33 612", "=1+1", "@SUM(A1)", "00123"]
PLAIN = ["-123", "-0.5", "+33 612", "00123"]
FORMULAS = ["=1+1", "@SUM(A1)"]


def scores() -> pd.DataFrame:
    n = len(KEYS)
    return pd.DataFrame(
        {
            "customer_id": KEYS,
            "churn_probability": [0.9] * n,
            "risk_percentile": [99.0] * n,
            "risk_tier": ["High"] * n,
            "expected_value": [10.0] * n,
            "value_at_risk": [9.0] * n,
            "priority_rank": list(range(1, n + 1)),
            "in_outreach": [True] * n,
            "control_group": [False] * n,
            "outreach_status": ["contact"] * n,
            "reason_1_code": ["RECENCY"] * n,
            "reason_1_text": ["-5 purchases", "-0.5", "+1 trend", "=HYPERLINK(x)", "ok", "@x"],
            "recommended_action": ["win_back_offer"] * n,
            "planned_action": ["win_back_offer"] * n,
            "model_name": "churn-shop",
            "model_version": "1",
            "cutoff": pd.to_datetime(["2024-05-01"] * n),
            "scored_at": "2026-11-23T15:06:48Z",
        }
    )


def read_back(data: bytes, target: str) -> pd.DataFrame:
    encoding = "utf-8-sig" if target == "dynamics" else "utf-8"
    return pd.read_csv(io.BytesIO(data), encoding=encoding, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("target", TARGETS)
def test_number_and_phone_keys_round_trip_exactly_in_every_target(target: str) -> None:
    settings = default_target(target, scores().columns)  # type: ignore[arg-type]
    back = read_back(export_bytes(crm_frame(scores(), target, settings), target), target)  # type: ignore[arg-type]
    keys = dict(zip(KEYS, back.iloc[:, 0], strict=True))
    assert {k: keys[k] for k in PLAIN} == {k: k for k in PLAIN}
    assert {k: keys[k] for k in FORMULAS} == {k: "'" + k for k in FORMULAS}
    texts = back[next(c for c in back.columns if "reason_1_text" in c.lower())].tolist()
    assert texts == ["'-5 purchases", "-0.5", "'+1 trend", "'=HYPERLINK(x)", "ok", "'@x"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("-123", "-123"), ("-0.5", "-0.5"), ("+1e3", "+1e3"), ("+33 612", "'+33 612"), ("-", "'-")],
)
def test_plain_numbers_are_not_neutralised_in_any_column(cell: str, expected: str) -> None:
    assert neutralise(pd.Series([cell])).iloc[0] == expected


def test_churn_export_keeps_the_keys_and_names_the_formula_like_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(tmp_path)
    scored = project / "data/scored/shop/scores.parquet"
    scored.parent.mkdir(parents=True)
    scores().to_parquet(scored, index=False)

    code, out = churn(project, "export")

    assert code == 0, out
    for target in TARGETS:
        data = (project / f"data/exports/shop/{target}.csv").read_bytes()
        keys = read_back(data, target).iloc[:, 0].tolist()
        assert keys == [k if k in PLAIN else "'" + k for k in KEYS], target
    logged = read_back((project / "data/exports/shop/contacts_log.csv").read_bytes(), "generic")
    assert logged["customer_id"].tolist() == [k if k in PLAIN else "'" + k for k in KEYS]
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(TARGETS)
    assert (
        "salesforce: 2 key(s) in column 'Churn_Customer_ID__c' start like a spreadsheet"
        in (warnings[0])
    )
    assert "e.g. '=1+1', '@SUM(A1)'" in warnings[0]
