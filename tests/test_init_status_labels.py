"""A snapshot whose label is a customer's status with more than two values (Maven's telecom
churn: ``Customer Status`` of Stayed, Churned and Joined): ``churn init`` stopped, finding no
column named like a churn label, and ``--label`` then failed on three values. The one value
that says a customer left is the churned value; every other value stayed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import label_column, leaving_value, positive_label
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


def _retention(n: int, seed: int, label: str, stayed: str, left: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 60, n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(1 - tenure / 15)))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "tenure_months": tenure,
            "plan": rng.choice(["basic", "pro"], n),
            label: np.where(churned, left, stayed),
        }
    )


@pytest.mark.parametrize(
    ("label", "stayed", "left", "flags"),
    [
        ("Retained", "Yes", "No", []),  # found by its name, no churn label beside it
        ("renewed", "True", "False", []),
        ("is_active", "1", "0", ["--label", "is_active"]),  # named: a trait as often
    ],
)
def test_a_label_of_who_stayed_churns_its_no(
    tmp_path: Path, label: str, stayed: str, left: str, flags: list[str]
) -> None:
    """`--label Retained` had taken Yes as churned: the model learnt who stays and the
    at-risk list was the most loyal customers."""
    frame = _retention(400, 5, label, stayed, left)
    root = project(tmp_path / "p")
    code, out = init(root, "r", "--snapshot", str(export(tmp_path, frame, "r.csv")), *flags)
    assert code == 0, out
    snapshot = written(root, "r")["data"]["snapshot"]
    assert snapshot["source"]["columns"]["label"] == label
    assert str(snapshot["positive_label"]) == left
    assert f"label {label!r} says who stayed, so its {left!r} is a churner" in " ".join(out.split())


def test_an_active_member_flag_beside_a_churn_label_stays_a_trait() -> None:
    frame = _retention(200, 6, "Exited", "0", "1")
    frame["IsActiveMember"] = np.random.default_rng(1).choice(["0", "1"], len(frame))
    assert label_column(frame.astype(str)) == "Exited"
    assert positive_label(frame["Exited"].astype(str), name="Exited") == "1"
