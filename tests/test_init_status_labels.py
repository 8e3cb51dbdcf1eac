"""A snapshot whose label is a customer's status with more than two values (Maven's telecom
churn: ``Customer Status`` of Stayed, Churned and Joined): ``churn init`` stopped, finding no
column named like a churn label, and ``--label`` then failed on three values. The one value
that says a customer left is the churned value; every other value stayed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import label_column, leaving_value
from tests._project import run_stages
from tests.test_init import export, init, project, written


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Stayed", "Churned", "Joined", "Stayed"], "Churned"),
        (["active", "Cancelled", "active"], "Cancelled"),
        (["Active", "Closed", "Cancelled"], None),  # two ways of leaving: say which
        (["Active", "Paused", "Trial"], None),  # nobody left
        ([f"stage {k}" for k in range(12)] + ["Churned"], None),  # too many values
    ],
)
def test_the_one_value_that_says_a_customer_left(values: list[str], expected: str | None) -> None:
    assert leaving_value(pd.Series(values)) == expected


def test_a_churn_named_column_wins_over_a_status() -> None:
    sample = pd.DataFrame(
        {"Status": ["Active", "Churned", "Active"], "Churn": ["No", "Yes", "No"]}
    ).astype("string")
    assert label_column(sample) == "Churn"


def _telecom(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["Month-to-Month", "One Year", "Two Year"], n)
    tenure = rng.integers(1, 73, n)
    p = 1 / (1 + np.exp(-(-2.0 + 1.8 * (contract == "Month-to-Month") - 0.02 * tenure)))
    status = np.where(rng.random(n) < p, "Churned", np.where(tenure < 4, "Joined", "Stayed"))
    return pd.DataFrame(
        {
            "Customer ID": [f"{i:04d}-X{i % 97:03d}" for i in range(n)],
            "Tenure in Months": tenure,
            "Contract": contract,
            "Monthly Charge": rng.uniform(18, 119, n).round(2),
            "Customer Status": status,
        }
    )


def test_a_status_with_three_values_is_the_label(tmp_path: Path) -> None:
    frame = _telecom(400, seed=1)
    root = project(tmp_path / "p")
    code, out = init(root, "maven", "--snapshot", str(export(tmp_path, frame, "t.csv")))
    assert code == 0, out
    assert "'Churned' is a churner; 'Joined', 'Stayed' stayed" in out
    snapshot = written(root, "maven")["data"]["snapshot"]
    assert snapshot["source"]["columns"]["label"] == "Customer Status"
    assert snapshot["positive_label"] == "Churned"
    run_stages(root, ["ingest"], name="maven")
    table = pd.read_parquet(root / "data/interim/maven/canonical/snapshot.parquet")
    assert int(table["churned"].sum()) == int((frame["Customer Status"] == "Churned").sum())
