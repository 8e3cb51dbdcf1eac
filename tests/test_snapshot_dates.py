"""Dates in a snapshot (a last login, a signup) become the days from them to the snapshot
date: ``churn init`` finds them and writes ``date_attributes``, ingest reads them with the
source's ``timestamp_format``, and the features count days before the cutoff, so a reason reads
"Days since last login is 87". Before, a date was a category, or left out as an identifier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.snapshot import canonical_snapshot
from churn.errors import ContractViolation
from churn.features.snapshot import days_before, snapshot_features
from churn.init.plan import date_columns
from churn.settings import SnapshotSettings
from tests._project import run_stages
from tests.test_init import export, init, project, written

SNAPSHOT_DAY = pd.Timestamp("2024-06-30")


def logins(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days_ago = rng.exponential(20, n).astype(int)
    churned = rng.random(n) < 1 / (1 + np.exp(2.5 - 0.06 * days_ago))
    return pd.DataFrame(
        {
            "AccountID": [f"A{i}" for i in range(n)],
            "Plan": rng.choice(["basic", "pro"], n),
            "LastLogin": (SNAPSHOT_DAY - pd.to_timedelta(days_ago, "D")).strftime("%d/%m/%Y"),
            "Churned": np.where(churned, "Yes", "No"),
        }
    )


def test_date_columns_share_one_format() -> None:
    sample = pd.DataFrame(
        {
            "a": ["31/01/2024", "15/02/2024"],
            "b": ["2024-01-31", "2024-02-15"],  # another format: left as it is
            "c": ["01/02/2024", "28/02/2024"],
            "plan": ["x", "y"],
        }
    )
    assert date_columns(sample, ["a", "b", "c", "plan"]) == (["a", "c"], "%d/%m/%Y")
    assert date_columns(sample, ["b"]) == (["b"], "%Y-%m-%d")
    assert date_columns(sample, ["plan"]) == ([], None)


def test_days_before_the_cutoff() -> None:
    epoch_days = pd.Series([(pd.Timestamp("2024-06-20") - pd.Timestamp("1970-01-01")).days, None])
    cutoff = pd.Series([SNAPSHOT_DAY, SNAPSHOT_DAY])
    assert days_before(epoch_days.astype(float), cutoff).tolist()[0] == 10.0
    assert np.isnan(days_before(epoch_days.astype(float), cutoff).tolist()[1])


def _settings() -> SnapshotSettings:
    return SnapshotSettings.model_validate(
        {
            "source": {
                "path": "s.csv",
                "columns": {"customer_id": "AccountID", "label": "Churned"},
                "attributes": {"days_since_last_login": "LastLogin", "plan": "Plan"},
                "timestamp_format": "%d/%m/%Y",
            },
            "date_attributes": ["days_since_last_login"],
        }
    )


def test_a_date_attribute_is_read_and_counted_back_from_the_cutoff() -> None:
    raw = logins(50, 1)
    table = canonical_snapshot(raw, _settings())
    pairs = pd.DataFrame({"customer_id": table["customer_id"], "cutoff": SNAPSHOT_DAY})
    features = snapshot_features(table, pairs, ["days_since_last_login"])
    expected = (SNAPSHOT_DAY - pd.to_datetime(raw["LastLogin"], format="%d/%m/%Y")).dt.days
    assert features["days_since_last_login"].tolist() == expected.astype(float).tolist()


def test_a_date_that_does_not_read_is_refused_by_row() -> None:
    raw = logins(10, 2)
    raw.loc[3, "LastLogin"] = "yesterday"
    with pytest.raises(ContractViolation, match=r"'LastLogin'.*expected a date.*'yesterday'"):
        canonical_snapshot(raw, _settings())


def test_a_snapshot_with_a_last_login_initialises_and_explains_in_days(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, logins(800, 3), "accounts.csv")
    code, out = init(root, "accounts", "--snapshot", str(path))
    assert code == 0, out
    snapshot = written(root, "accounts")["data"]["snapshot"]
    assert snapshot["date_attributes"] == ["days_since_last_login"]
    assert snapshot["source"]["timestamp_format"] == "%d/%m/%Y"
    assert snapshot["source"]["attributes"]["days_since_last_login"] == "LastLogin"
    run_stages(root, ["ingest"], name="accounts")
    table = pd.read_parquet(root / "data/interim/accounts/canonical/snapshot.parquet")
    assert table["days_since_last_login"].dtype == float
    assert dt.date(1970, 1, 1) + dt.timedelta(days=table["days_since_last_login"].max()) <= (
        SNAPSHOT_DAY.date()
    )
