"""A customers export whose churn is a cancellation date, blank while the customer stays
(``cancel_date``, ``Canceled At``), and no yes/no label: ``churn init`` stopped with "no
column is named like a churn label with two values", and ``--label cancel_date`` failed on its
hundreds of values. ``data.snapshot.churned_when: filled`` reads a value as churned and a
blank as stayed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests._project import run_stages
from tests.test_init import export, init, project, written


def _accounts(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    tickets = rng.poisson(1.2, n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.6 * tickets)))
    cancel = [
        (s + pd.Timedelta(days=int(rng.integers(30, 600)))).strftime("%Y-%m-%d") if c else ""
        for s, c in zip(signup, churned, strict=True)
    ]
    return pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "signup_date": signup.strftime("%Y-%m-%d"),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "monthly_fee": rng.choice([9.0, 29.0, 99.0], n),
            "support_tickets": tickets,
            "cancel_date": cancel,
        }
    )


@pytest.mark.parametrize("given", [False, True])
def test_a_cancellation_date_is_the_label(tmp_path: Path, given: bool) -> None:
    accounts = _accounts(400, seed=1)
    root = project(tmp_path / "p")
    flags = ["--label", "cancel_date"] if given else []
    code, out = init(
        root, "accts", "--snapshot", str(export(tmp_path, accounts, "accounts.csv")), *flags
    )
    assert code == 0, out
    snapshot = written(root, "accts")["data"]["snapshot"]
    assert snapshot["source"]["columns"]["label"] == "cancel_date"
    assert snapshot["churned_when"] == "filled"
    assert "positive_label" not in snapshot
    assert "cancel_date" not in snapshot["source"]["attributes"].values()
    run_stages(root, ["ingest"], name="accts")
    table = pd.read_parquet(root / "data/interim/accts/canonical/snapshot.parquet")
    expected = accounts.set_index("account_id")["cancel_date"] != ""
    got = table.set_index("customer_id")["churned"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )


def test_a_cancellation_date_nobody_has_splits_nothing(tmp_path: Path) -> None:
    accounts = _accounts(200, seed=2)
    root = project(tmp_path / "p")
    code, out = init(root, "accts", "--snapshot", str(export(tmp_path, accounts, "a.csv")))
    assert code == 0, out
    accounts["cancel_date"] = ""  # the next export: nobody has cancelled
    export(tmp_path, accounts, "a.csv")
    (root / "data/raw/accts/a.csv").write_bytes((tmp_path / "export/a.csv").read_bytes())
    from tests._project import churn  # noqa: PLC0415

    code, out = churn(root, "ingest", name="accts")
    assert code == 3, out
    assert "cancel_date" in out and "churned_when 'filled'" in out


def test_every_yes_no_label_still_needs_its_churned_value(tmp_path: Path) -> None:
    accounts = _accounts(300, seed=3)
    accounts["Churn"] = np.where(accounts.pop("cancel_date") != "", "Yes", "No")
    root = project(tmp_path / "p")
    code, out = init(root, "accts", "--snapshot", str(export(tmp_path, accounts, "a.csv")))
    assert code == 0, out
    params = yaml.safe_load((root / "pipelines/accts/params.yaml").read_text(encoding="utf-8"))
    assert params["data"]["snapshot"].get("churned_when", "equals") == "equals"
    assert params["data"]["snapshot"]["source"]["columns"]["label"] == "Churn"


def test_a_label_that_is_no_column_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, _accounts(100, seed=4), "a.csv")
    code, out = init(root, "accts", "--snapshot", str(path), "--label", "nope")
    assert code == 2, out
    assert "--label 'nope': no such column" in out
    assert not (root / "pipelines" / "accts").exists()
    assert not (root / "data" / "raw" / "accts").exists()


@pytest.mark.parametrize(
    ("file_date", "expected"),
    [
        # a public dataset downloaded years after the export: dated by its own latest date
        ("2026-12-01", "latest"),
        # an export of this week: the file's date is the day it describes
        ("latest+5", "file"),
    ],
)
def test_a_snapshot_long_older_than_its_file_is_dated_by_its_latest_date(
    tmp_path: Path, file_date: str, expected: str
) -> None:
    accounts = _accounts(300, seed=8)
    path = export(tmp_path, accounts, "accounts.csv")
    latest = max(
        pd.to_datetime(accounts["signup_date"]).max(),
        pd.to_datetime(accounts["cancel_date"].replace("", None)).max(),
    ).date()
    when = (
        pd.Timestamp(latest) + pd.Timedelta(days=5)
        if file_date == "latest+5"
        else pd.Timestamp(file_date)
    )
    os.utime(path, (when.timestamp(), when.timestamp()))
    root = project(tmp_path)
    code, output = init(root, "accounts", "--snapshot", str(path))
    assert code == 0, output
    dated = written(root, "accounts")["labels"]["snapshot_date"]
    if expected == "latest":
        assert dated == latest.isoformat()
        assert f"its latest date; the file is dated {when.date()}" in output
    else:
        assert dated == when.date().isoformat()
        assert "(file date" in output
