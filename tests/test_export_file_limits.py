"""A list longer than its CRM imports in one file is written in parts (`export.file_limits`):
each part has the header (and Dynamics' byte-order mark), none passes the limit, together they
hold the whole file's rows in order, the dated copy stays whole, and a later export that fits
in one file removes the parts it no longer writes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from churn.stages import export as export_stage
from tests._project import churn, make_project, params, write_params
from tests.test_bounded_list_reads import EXPORTS, big_list, write_list

LIMITS = {"hubspot": {"rows": 25}, "dynamics": {"megabytes": 0.004}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path)
    write_params(root, {**params(), "export": {"file_limits": LIMITS}})
    return root


def rows_of(data: bytes, encoding: str = "utf-8") -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), encoding=encoding, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("batch_rows", [7, 100_000])
def test_a_long_list_is_written_in_parts_within_each_crm_limit(
    project: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    monkeypatch.setattr(export_stage, "BATCH_ROWS", batch_rows)
    write_list(project, big_list())  # 108 customers to contact
    code, out = churn(project, "export")
    assert code == 0, out
    exports = project / EXPORTS
    summary = json.loads((exports / "summary.json").read_text())["targets"]

    hubspot = summary["hubspot"]["files"]
    assert hubspot == [f"hubspot_part{i}.csv" for i in range(1, 6)]
    assert not (exports / "hubspot.csv").exists()
    parts = [rows_of((exports / name).read_bytes()) for name in hubspot]
    assert [len(p) for p in parts] == [25, 25, 25, 25, 8]
    whole = rows_of((exports / "history/hubspot_2024-05-01.csv").read_bytes())
    assert pd.concat(parts, ignore_index=True).equals(whole)  # in order, nothing lost
    assert summary["hubspot"]["delta_files"] == [f"hubspot_delta_part{i}.csv" for i in range(1, 6)]
    assert all(f"25 rows -> {exports}/hubspot_part{i}.csv" in out for i in range(1, 5)), out
    assert f"8 rows -> {exports}/hubspot_part5.csv" in out and "hubspot.csv" not in out

    dynamics = [exports / name for name in summary["dynamics"]["files"]]
    assert len(dynamics) > 1
    for path in dynamics:
        data = path.read_bytes()
        assert len(data) <= 4_000 and data.startswith(b"\xef\xbb\xbfcustomer_id,")
    together = pd.concat([rows_of(p.read_bytes(), "utf-8-sig") for p in dynamics])
    assert len(together) == len(whole)

    assert summary["salesforce"]["files"] == ["salesforce.csv"]  # within its 100 MB


def test_a_list_that_fits_again_removes_the_parts_of_the_longer_one(project: Path) -> None:
    write_list(project, big_list())
    assert churn(project, "export")[0] == 0
    exports = project / EXPORTS
    assert (exports / "hubspot_part5.csv").is_file()

    write_params(project, {**params(), "export": {"file_limits": {"hubspot": {"rows": 1000}}}})
    code, out = churn(project, "export")
    assert code == 0, out
    assert sorted(p.name for p in exports.glob("hubspot*.csv")) == [
        "hubspot.csv",
        "hubspot_delta.csv",
    ]
    assert len(rows_of((exports / "hubspot.csv").read_bytes())) == 108
