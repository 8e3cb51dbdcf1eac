"""`churn export` and `churn report` never hold the whole scored list (issue 17): export reads
the rows it writes (the outreach slice) a batch at a time, and a few columns of the rest; the
report reads four columns of every customer and the first rows to contact. What they write
is what reading the whole list gave."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn import io as churn_io
from churn.errors import InputDataError
from churn.stages import export as export_stage
from churn.stages import report as report_stage
from tests._project import churn, leftovers, make_project, run_stages

SCORES = "data/scored/shop/scores.parquet"
EXPORTS = "data/exports/shop"
N, REACHED = 3000, 120


def big_list(ids: list[str] | None = None) -> pd.DataFrame:
    """A scored list of N customers, the first REACHED of them in the outreach slice (every
    tenth of those held out); one customer outside it holds an action no playbook has."""
    rng = np.random.default_rng(3)
    p = np.sort(rng.uniform(size=N))[::-1]
    reached = np.arange(N) < REACHED
    control = reached & (np.arange(N) % 10 == 9)
    action = np.where(reached, "win_back_offer", "none").astype(object)
    action[REACHED + 5] = "legacy_offer"
    return pd.DataFrame(
        {
            "customer_id": ids or [f"C{i:05d}" for i in range(N)],
            "churn_probability": p,
            "risk_percentile": np.linspace(100, 0, N),
            "risk_tier": np.where(reached, "High", "Low"),
            "expected_value": rng.uniform(0, 100, N),
            "value_at_risk": rng.uniform(0, 50, N),
            "priority_rank": np.arange(1, N + 1),
            "in_outreach": reached,
            "control_group": control,
            "outreach_status": np.where(control, "control: do not contact", "contact"),
            "reason_1_code": "RECENCY",
            "reason_1_text": "No purchase for 74 days",
            "recommended_action": action,
            "planned_action": action,
            "model_name": "churn-shop",
            "model_version": "1",
            "cutoff": pd.Timestamp("2024-05-01"),
            "scored_at": "2026-11-23T15:06:48Z",
        }
    )


def write_list(project: Path, frame: pd.DataFrame) -> None:
    path = project / SCORES
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False, row_group_size=500)


def spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[tuple[str, int]]:
    """Record (file name, rows returned) of every call of ``module.name``."""
    calls: list[tuple[str, int]] = []
    real: Callable[..., pd.DataFrame] = getattr(module, name)

    def recorded(path: Any, *args: Any, **kwargs: Any) -> pd.DataFrame:
        frame = real(path, *args, **kwargs)
        calls.append((Path(path).name, len(frame)))
        return frame

    monkeypatch.setattr(module, name, recorded)
    return calls


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def test_export_reads_the_outreach_rows_a_batch_at_a_time(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_list(project, big_list())
    monkeypatch.setattr(export_stage, "BATCH_ROWS", 50)
    whole = spy(monkeypatch, churn_io, "read_parquet")
    batches = spy_batches(monkeypatch)
    code, out = churn(project, "export")
    assert code == 0, out
    assert not whole  # the list is never read whole
    assert batches == [50, 50, 20]  # the slice only, 50 rows at a time

    exports = project / EXPORTS
    hubspot = pd.read_csv(exports / "hubspot.csv", dtype=str)
    assert len(hubspot) == REACHED - REACHED // 10  # the control group is never sent
    control = pd.read_csv(exports / "control_group.csv", dtype=str)
    assert len(control) == REACHED // 10
    # an action held only outside the slice is still declared: every value the scores hold is
    declared = " ".join(p.read_text() for p in exports.rglob("*") if p.suffix in {".json", ".csv"})
    assert "legacy_offer" in declared


def spy_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows of each batch of the list that export reads."""
    sizes: list[int] = []
    real = export_stage.parquet_row_batches

    def recorded(*args: Any, **kwargs: Any) -> Iterator[pd.DataFrame]:
        for frame in real(*args, **kwargs):
            sizes.append(len(frame))
            yield frame

    monkeypatch.setattr(export_stage, "parquet_row_batches", recorded)
    return sizes


def messy_list(cutoff: str, seed: int) -> pd.DataFrame:
    """A list whose files exercise every per-row rule: ids a spreadsheet would run, customers
    without a contact, a reason too long for its field, an action outside the playbook."""
    rng = np.random.default_rng(seed)
    frame = big_list([f"=C{i}" if i % 37 == 0 else f"C{i:05d}" for i in range(N)])
    frame["in_outreach"] = rng.uniform(size=N) < 0.3
    frame["control_group"] = frame["in_outreach"] & (rng.uniform(size=N) < 0.1)
    frame["recommended_action"] = np.where(
        frame["in_outreach"], rng.choice(["win_back_offer", "service_call", "x"], N), "none"
    )
    frame["planned_action"] = frame["recommended_action"]
    frame["reason_1_text"] = np.where(rng.uniform(size=N) < 0.05, "long " * 80, "short")
    frame.loc[rng.uniform(size=N) < 0.05, "expected_value"] = np.nan
    frame["cutoff"] = pd.Timestamp(cutoff)
    return frame


def write_contacts(project: Path) -> None:
    """Contact fields for most customers: some without an email, some not in the table."""
    ids = [f"=C{i}" if i % 37 == 0 else f"C{i:05d}" for i in range(0, N, 1) if i % 11]
    emails = [None if i % 5 == 0 else f"{c.lower()}@example.com" for i, c in enumerate(ids)]
    table = pd.DataFrame({"customer_id": ids, "email": emails, "last_name": "Ng"})
    path = project / "data/interim/shop/canonical/contact_fields.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.astype("string").to_parquet(path, index=False)


def test_export_writes_the_same_files_whatever_the_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trees = []
    for batch_rows in (40, 100_000):
        project = make_project(tmp_path / str(batch_rows))
        write_contacts(project)
        monkeypatch.setattr(export_stage, "BATCH_ROWS", batch_rows)
        for cutoff, seed in (("2024-04-01", 1), ("2024-05-01", 2)):  # the second has a delta
            write_list(project, messy_list(cutoff, seed))
            code, out = churn(project, "export")
            assert code == 0, out
        exports = project / EXPORTS
        trees.append({p.relative_to(exports): p.read_bytes() for p in exports.rglob("*.*")})
    small, whole = trees
    assert small.keys() == whole.keys()
    assert [p for p in small if small[p] != whole[p]] == []
    summary = json.loads(whole[Path("summary.json")])["targets"]["hubspot"]
    assert summary["delta"]["entered"] and summary["delta"]["left"] and summary["delta"]["changed"]
    assert summary["left_out"] and summary["truncated"] and summary["neutralised_keys"]


def test_an_export_failing_after_its_first_batches_leaves_the_previous_one(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_list(project, big_list())
    assert churn(project, "export")[0] == 0
    exports = project / EXPORTS
    before = {p: p.read_bytes() for p in exports.rglob("*") if p.is_file()}
    monkeypatch.setattr(export_stage, "BATCH_ROWS", 50)
    real, calls = export_stage.control_frame, []

    def failing(scores: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(scores))
        if len(calls) == 2:  # the CRM files have had a batch appended already
            raise InputDataError("the second batch cannot be written")
        return real(scores)

    monkeypatch.setattr(export_stage, "control_frame", failing)
    write_list(project, big_list([f"D{i:05d}" for i in range(N)]))
    code, out = churn(project, "export")
    assert code == InputDataError.exit_code and "the second batch" in out, out
    assert {p: p.read_bytes() for p in exports.rglob("*") if p.is_file()} == before
    assert leftovers(project) == []


def test_export_decides_email_keys_on_the_whole_list(project: Path) -> None:
    ids = [f"c{i}@example.com" if i < REACHED else f"C{i:05d}" for i in range(N)]
    write_list(project, big_list(ids))  # the slice's ids are addresses, 4 % of all are
    code, out = churn(project, "export")
    assert code == 0, out
    hubspot = pd.read_csv(project / EXPORTS / "hubspot.csv", dtype=str)
    assert "email" not in hubspot.columns  # keyed on the customer id, as for the whole list

    write_list(project, big_list([f"c{i}@example.com" for i in range(N)]))
    code, out = churn(project, "export")
    assert code == 0, out
    hubspot = pd.read_csv(project / EXPORTS / "hubspot.csv", dtype=str)
    assert hubspot["email"].str.endswith("@example.com").all()


def test_a_list_with_a_customer_without_id_is_refused_wherever_that_row_is(
    project: Path,
) -> None:
    frame = big_list()
    frame.loc[N - 1, "customer_id"] = None  # far outside the outreach slice
    write_list(project, frame)
    code, out = churn(project, "export")
    assert code == 5, out
    assert "1 row(s) have no customer_id" in out and "scores.parquet" in out
    assert not (project / EXPORTS).exists()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_report_reads_four_columns_a_batch_at_a_time_and_the_first_rows_to_contact(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_stages(project, ("ingest", "labels", "features", "train"))
    code, out = churn(project, "score", "--model", str(project / "models/shop"))
    assert code == 0, out
    scores = pd.read_parquet(project / SCORES)
    reads = spy(monkeypatch, churn_io, "read_parquet")
    rows = spy(monkeypatch, report_stage, "read_parquet_rows")
    batches: list[tuple[str, list[str]]] = []
    real = report_stage.parquet_column_batches

    def batched(path: Any, columns: list[str], **kwargs: Any) -> Iterator[pd.DataFrame]:
        batches.append((Path(path).name, columns))
        return real(path, columns, **kwargs)

    monkeypatch.setattr(report_stage, "parquet_column_batches", batched)
    code, out = churn(project, "report")
    assert code == 0, out

    assert not [r for r in reads if r[0] == "scores.parquet"]  # never read whole
    # the four columns once, then each value column alone for its histogram and, in a few
    # passes more, its exact median (churn.reporting.order_statistics)
    assert batches[0] == (
        "scores.parquet",
        ["churn_probability", "risk_tier", "expected_value", "value_at_risk"],
    )
    later = batches[1:]
    assert {columns[0] for _, columns in later} == {"expected_value", "value_at_risk"}
    assert all(name == "scores.parquet" and len(columns) == 1 for name, columns in later)
    assert len(later) <= 2 * 3  # per measure: histogram, count and span, gathering
    to_contact = int((scores["in_outreach"] & ~scores["control_group"]).sum())
    assert sorted(rows) == sorted([("scores.parquet", 1), ("scores.parquet", min(15, to_contact))])
    page = (project / "reports/shop/report.html").read_text(encoding="utf-8")
    first = scores[scores["in_outreach"] & ~scores["control_group"]].head(15)
    shown = [html.escape(str(c)) for c in first["customer_id"]]
    at = [page.index(f"<td>{c}</td>") for c in shown]
    assert at == sorted(at)  # the same customers, in list order
    assert f"{len(scores):,}" in page  # customers scored: the whole list


def test_a_list_without_monetary_value_leaves_the_value_fields_empty(project: Path) -> None:
    """A log of visits has no amount: every value is 0, which a CRM would show as "worth
    nothing". The files leave the value fields empty (Salesforce: #N/A, which clears them)."""
    frame = big_list().assign(expected_value=0.0, value_at_risk=0.0)
    write_list(project, frame)
    code, out = churn(project, "export")
    assert code == 0, out
    exports = project / EXPORTS
    hubspot = pd.read_csv(exports / "hubspot.csv", dtype=str, keep_default_na=False)
    assert set(hubspot["churn_expected_value"]) == set(hubspot["churn_value_at_risk"]) == {""}
    salesforce = pd.read_csv(exports / "salesforce.csv", dtype=str, keep_default_na=False)
    assert set(salesforce["Churn_Expected_Value__c"]) == {"#N/A"}
    control = pd.read_csv(exports / "control_group.csv", dtype=str, keep_default_na=False)
    assert set(control["expected_value"]) == {""}

    frame.loc[N - 1, "expected_value"] = 5.0  # one customer, far outside the slice, has value
    write_list(project, frame)
    assert churn(project, "export")[0] == 0
    hubspot = pd.read_csv(exports / "hubspot.csv", dtype=str, keep_default_na=False)
    assert set(hubspot["churn_expected_value"]) == {"0"}  # a value, known to be 0
