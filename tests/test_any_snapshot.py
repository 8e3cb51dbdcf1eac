"""A snapshot from any company's export, with nothing assumed from the bundled Telco file:
attributes taken from the file, anonymised names, no id column, labels spelled every way, a
customers table joined, no tenure, one reason per customer. The end-to-end runs drive the CLI
from ingest to export on generated exports (``tests/messy.py``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.crm.writers import default_target
from churn.data.snapshot import canonical_snapshot, label_text, snapshot_notes
from churn.errors import ContractViolation
from churn.evaluation.segments import MISSING_SEGMENT
from churn.modeling.training_data import FeatureColumns
from churn.reporting.evaluation_plots import test_segments as segments_of
from churn.scoring.reasons import attribute_catalogue, default_catalogue, reason_code, resolve
from churn.settings import SnapshotSettings, SourceSettings
from tests import messy
from tests._project import churn, write_params

N_ROWS = 600
STAGES = ("ingest", "labels", "features", "train", "register", "score", "export")
RAW = "data/raw/export/customers.csv"


# ---- the contract on in-memory frames ----------------------------------------------------------


def settings_for(data: messy.Snapshot, **extra: Any) -> SnapshotSettings:
    columns = {"label": data.label}
    if data.customer_id is not None:
        columns["customer_id"] = data.customer_id
    positive = data.positive if isinstance(data.positive, str) else str(data.positive)
    return SnapshotSettings(
        source=SourceSettings(path=RAW, columns=columns), positive_label=positive, **extra
    )


def as_read(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as ``churn ingest`` reads a CSV: every cell text."""
    return frame.astype(str).where(frame.notna())


def test_every_column_but_the_id_and_the_label_is_an_attribute_typed_by_its_values() -> None:
    data = messy.snapshot(200, seed=0, anonymised=True)
    out = canonical_snapshot(as_read(data.frame), settings_for(data))
    assert list(out.columns) == ["customer_id", "churned", "V1", "V2", "V3", "V4", "V5"]
    assert all(pd.api.types.is_float_dtype(out[c]) for c in ("V1", "V2", "V3", "V4"))
    assert out["V4"].isna().any()  # the blank cells
    assert set(out["V5"]) == {"basic", "plus", "premium"}
    assert out["customer_id"].str.len().eq(6).all()  # leading zeros kept


def test_exclude_drops_columns_and_names_unknown_ones() -> None:
    data = messy.snapshot(100, seed=0, surname=True)
    out = canonical_snapshot(as_read(data.frame), settings_for(data, exclude=["Surname"]))
    assert "Surname" not in out and "Monthly Usage (GB)" in out
    with pytest.raises(ContractViolation, match="exclude names no column"):
        canonical_snapshot(as_read(data.frame), settings_for(data, exclude=["Nickname"]))


def test_attribute_names_from_headers_lose_what_the_model_refuses() -> None:
    frame = pd.DataFrame(
        {"Churn": ["Yes", "No"], "Price [EUR]": ["1", "2"], "<30 days": ["a", "b"]}
    )
    settings = SnapshotSettings(source=SourceSettings(path=RAW, columns={"label": "Churn"}))
    out = canonical_snapshot(frame, settings)
    assert list(out.columns) == ["customer_id", "churned", "Price (EUR)", "lt 30 days"]
    mapped = settings.source.model_copy(update={"attributes": {"price [EUR]": "Price [EUR]"}})
    with pytest.raises(ContractViolation, match="attribute names cannot hold"):
        canonical_snapshot(frame, settings.model_copy(update={"source": mapped}))
    clash = frame.assign(**{"Price (EUR)": ["3", "4"]})
    with pytest.raises(ContractViolation, match="give one attribute name"):
        canonical_snapshot(clash, settings)


def test_without_an_id_column_customers_are_numbered_by_row() -> None:
    data = messy.snapshot(50, seed=0, id_style="none")
    out = canonical_snapshot(as_read(data.frame), settings_for(data))
    assert out["customer_id"].tolist() == [f"row_{i}" for i in range(1, 51)]


@pytest.mark.parametrize("spelling", list(messy.LABEL_SPELLINGS))
def test_every_label_spelling_counts_its_churners(spelling: str) -> None:
    data = messy.snapshot(200, seed=3, spelling=spelling)
    out = canonical_snapshot(as_read(data.frame), settings_for(data))
    truth = data.frame[data.label] == data.positive
    assert out["churned"].tolist() == truth.tolist()
    assert 0 < out["churned"].sum() < len(out)


def test_labels_match_after_trimming_and_case_folding_and_the_mapping_is_told() -> None:
    data = messy.snapshot(8, seed=0)
    frame = data.frame.assign(Churn=["Yes", "yes", " Yes", "YES", "No", "no ", "NO", "No"])
    settings = settings_for(data)
    out = canonical_snapshot(as_read(frame), settings)
    assert out["churned"].tolist() == [True] * 4 + [False] * 4
    (note,) = [n for n in snapshot_notes(frame, settings) if n.startswith("label")]
    assert "[' Yes', 'YES', 'Yes', 'yes'] counted as churned" in note
    assert [label_text(v) for v in (True, 1.0, "1", " 1.0 ", "TRUE")] == [
        "true",
        "1",
        "1",
        "1",
        "true",
    ]
    with pytest.raises(ContractViolation, match="two classes"):
        canonical_snapshot(as_read(frame), settings.model_copy(update={"positive_label": "Y"}))


def test_a_customers_table_adds_its_attributes_by_customer_id() -> None:
    data = messy.snapshot(60, seed=0, extra_table=True)
    customers = (
        data.extra["demographics"]
        .rename(columns={"Customer Number": "customer_id"})
        .iloc[10:]  # ten customers the table lacks
        .astype(str)
    )
    out = canonical_snapshot(as_read(data.frame), settings_for(data), customers)
    assert out["Region"].isna().sum() == 10
    joined = out.dropna(subset=["Region"]).set_index("customer_id")["Region"]
    assert joined.to_dict() == customers.set_index("customer_id")["Region"].to_dict()
    without_ids = messy.snapshot(60, seed=0, id_style="none")
    with pytest.raises(ContractViolation, match="joined by customer_id"):
        canonical_snapshot(as_read(without_ids.frame), settings_for(without_ids), customers)


def test_the_tenure_role_must_name_a_numeric_attribute() -> None:
    data = messy.snapshot(40, seed=0)
    with pytest.raises(ContractViolation, match="tenure_attribute must be an attribute"):
        canonical_snapshot(as_read(data.frame), settings_for(data, tenure_attribute="tenure"))
    with pytest.raises(ContractViolation, match="tenure_attribute must be numeric"):
        canonical_snapshot(as_read(data.frame), settings_for(data, tenure_attribute="Plan Type"))


def test_tenure_segments_use_the_declared_role_and_survive_negative_values() -> None:
    rng = np.random.default_rng(0)
    test = pd.DataFrame(
        {"months_active": np.r_[-3.0, np.nan, rng.integers(0, 72, 98)], "churned": [1, 0] * 50}
    )
    columns = FeatureColumns(numeric=("months_active",), categorical=())
    p = rng.random(100)
    bands = segments_of(test, p, columns, tenure=("months_active", 30.4))
    assert set(bands["segment"]) == {"tenure"}
    missing = bands[bands["value"] == MISSING_SEGMENT]
    assert int(missing["n"].iloc[0]) == 2
    assert segments_of(test, p, columns).empty  # no role: no tenure bands


# ---- reasons and exports -----------------------------------------------------------------------


def test_reason_codes_come_from_attribute_names() -> None:
    assert reason_code("MonthlyFee") == "MONTHLY_FEE"
    assert reason_code("Monthly Usage (GB)") == "MONTHLY_USAGE_GB"
    assert reason_code("V14") == "V14"
    assert reason_code("2nd line") == "ATTRIBUTE_2ND_LINE"


def test_a_snapshot_gets_one_reason_per_attribute_and_events_keep_the_built_in_catalogue() -> None:
    records = [
        {"name": "V14", "family": "attribute", "kind": "numeric", "description": "V14"},
        {"name": "plan type", "family": "attribute", "kind": "categorical", "description": "x"},
        {"name": "Plan_Type", "family": "attribute", "kind": "categorical", "description": "x"},
    ]
    names = [r["name"] for r in records]
    spec = default_catalogue(records, names)
    assert [r.code for r in spec.reasons] == ["V14", "PLAN_TYPE", "PLAN_TYPE_2"]
    assert resolve(spec, records, names).codes == ["V14", "PLAN_TYPE", "PLAN_TYPE_2"]
    assert spec.reasons[0].text.startswith("Attribute {feature} is {value}")
    behaviour = [*records, {"name": "frequency_90d", "family": "frequency", "description": "x"}]
    built_in = default_catalogue(behaviour, [r["name"] for r in behaviour])
    assert "RECENCY" in [r.code for r in built_in.reasons]
    assert len(attribute_catalogue(records, names).reasons) == 3


def test_default_exports_write_only_the_reason_columns_the_scores_have() -> None:
    available = ["customer_id", "reason_1_code", "reason_1_text", "churn_probability"]
    sources = [c.source for c in default_target("salesforce", available).columns]
    assert "reason_1_code" in sources and "reason_2_code" not in sources
    assert "reason_3_text" in [c.source for c in default_target("generic").columns]


# ---- end to end through the CLI ----------------------------------------------------------------


def write_project(
    root: Path,
    data: messy.Snapshot,
    *,
    snapshot: Mapping[str, Any] | None = None,
    scoring: Mapping[str, Any] | None = None,
    customers: Mapping[str, Any] | None = None,
    charge: str = "MonthlyFee",
) -> Path:
    (root / RAW).parent.mkdir(parents=True, exist_ok=True)
    data.frame.to_csv(root / RAW, index=False)
    columns = {"label": data.label}
    if data.customer_id is not None:
        columns["customer_id"] = data.customer_id
    params: dict[str, Any] = {
        "data": {
            "kind": "snapshot",
            "snapshot": {
                "source": {"path": RAW, "columns": columns},
                "positive_label": str(data.positive),
                **(snapshot or {}),
            },
        },
        "labels": {"snapshot_date": "2025-01-01", "n_folds": 3, "seed": 1},
        "features": {},
        "train": {"max_rounds": 60, "early_stopping_rounds": 10, "threads": 1, "min_class_rows": 5},
        "scoring": {
            "value": {"method": "recurring", "charge_feature": charge, "months": 12},
            **(scoring or {}),
        },
    }
    if customers is not None:
        params["data"]["customers"] = customers
    write_params(root, params, name="export")
    return root


def run_all(root: Path, caplog: pytest.LogCaptureFixture) -> str:
    """Every stage from ingest to export; the log of the run."""
    with caplog.at_level(logging.INFO, logger="churn"):
        for stage in STAGES:
            code, out = churn(root, stage, name="export")
            assert code == 0, f"churn {stage}: {out}"
    return caplog.text


def scores_of(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "data/scored/export/scores.parquet")


def reports_of(root: Path, name: str) -> Any:
    return json.loads((root / "reports/export" / name).read_text())


def end_to_end[F: Callable[..., None]](test: F) -> F:
    """Slow, on a project-local MLflow store; MLflow's SQL store and input-example code raise
    these deprecations (see test_tracking)."""
    for mark in (
        pytest.mark.slow,
        pytest.mark.usefixtures("no_tracking_uri"),
        pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
        pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
    ):
        test = mark(test)
    return test


@pytest.fixture
def no_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@end_to_end
def test_an_anonymised_snapshot_with_nothing_listed_runs_to_the_crm_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = messy.snapshot(N_ROWS, seed=0, anonymised=True)
    root = write_project(tmp_path, data, charge="V4")
    log = run_all(root, caplog)
    assert "data.snapshot.tenure_attribute is not set" in log
    metrics = reports_of(root, "metrics.json")
    assert set(metrics["baselines"]) == {"logistic_onehot"}
    assert "tenure" not in {s["segment"] for s in reports_of(root, "segments.json")["segments"]}
    catalogue = json.loads((root / "data/interim/export/feature_catalogue.json").read_text())
    assert {f["name"]: f["kind"] for f in catalogue} == {
        "V1": "numeric",
        "V2": "numeric",
        "V3": "numeric",
        "V4": "numeric",
        "V5": "categorical",
    }
    scores = scores_of(root)
    codes = pd.concat([scores[f"reason_{k}_code"] for k in (1, 2, 3)]).dropna()
    codes = codes[codes != "NO_SINGLE_DRIVER"]  # an outreach customer no attribute explains
    assert set(codes) <= {"V1", "V2", "V3", "V4", "V5"} and codes.nunique() > 1
    texts = scores.loc[scores["reason_1_code"] != "NO_SINGLE_DRIVER", "reason_1_text"].dropna()
    assert texts.str.startswith("Attribute V").all()
    assert texts.str.contains("typical for customers who stay|churned at").all()
    export = pd.read_csv(root / "data/exports/export/generic.csv", dtype=str)
    assert {"reason_1_code", "reason_3_text"} <= set(export.columns)
    assert export["customer_id"].str.len().eq(6).all()


@end_to_end
def test_a_snapshot_without_ids_with_one_reason_and_a_tenure_role(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = messy.snapshot(N_ROWS, seed=0, id_style="none", spelling="yes/no")
    root = write_project(
        tmp_path,
        data,
        snapshot={"tenure_attribute": "months_active", "tenure_unit": "months"},
        scoring={"n_reasons": 1},
    )
    log = run_all(root, caplog)
    assert log.count("customers are numbered by row") == 1
    assert "counted as churned" in log
    assert "tenure" in reports_of(root, "metrics.json")["baselines"]
    assert "tenure" in {s["segment"] for s in reports_of(root, "segments.json")["segments"]}
    scores = scores_of(root)
    assert scores["customer_id"].str.match(r"^row_\d+$").all()
    assert "reason_1_code" in scores and "reason_2_code" not in scores
    assert (
        scores["reason_1_code"]
        .dropna()
        .isin(
            [
                "MONTHLY_USAGE_GB",
                "SUPPORT_TICKETS",
                "MONTHS_ACTIVE",
                "MONTHLY_FEE",
                "PLAN_TYPE",
                "NO_SINGLE_DRIVER",  # no attribute someone can act on explains the customer
            ]
        )
        .all()
    )
    for target in ("salesforce", "hubspot", "dynamics", "generic"):
        header = (root / f"data/exports/export/{target}.csv").read_text(encoding="utf-8-sig")
        first = header.splitlines()[0].lower()
        assert "reason_1" in first and "reason_2" not in first, target


@end_to_end
def test_a_snapshot_joined_to_a_customers_table_in_years_and_true_false_labels(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = messy.snapshot(N_ROWS, seed=1, extra_table=True, spelling="True/False")
    demographics = tmp_path / "data/raw/export/demographics.csv"
    demographics.parent.mkdir(parents=True)
    data.extra["demographics"].iloc[20:].to_csv(demographics, index=False)
    customers = {
        "sources": [
            {
                "path": "data/raw/export/demographics.csv",
                "columns": {"customer_id": "Customer Number"},
                "attributes": {"region": "Region"},
            }
        ]
    }
    root = write_project(
        tmp_path,
        data,
        snapshot={"tenure_attribute": "TenureYears", "tenure_unit": "years"},
        customers=customers,
    )
    run_all(root, caplog)
    snapshot = pd.read_parquet(root / "data/interim/export/canonical/snapshot.parquet")
    assert snapshot["region"].isna().sum() == 20
    assert snapshot["churned"].sum() == (data.frame[data.label] == True).sum()  # noqa: E712
    catalogue = json.loads((root / "data/interim/export/feature_catalogue.json").read_text())
    assert {"region", "TenureYears", "Monthly Usage (GB)"} <= {f["name"] for f in catalogue}
    scores = scores_of(root)
    assert len(scores) == int((~snapshot["churned"]).sum())
    assert "tenure" in reports_of(root, "metrics.json")["baselines"]
