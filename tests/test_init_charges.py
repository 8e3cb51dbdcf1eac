"""An events log without amounts beside a customers table with a monthly charge (a CRM's
accounts with MonthlyCharge): `churn init` values each customer at that charge over the
horizon, so value at risk is not 0 for everyone and the list is not ranked by probability
alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests._project import churn
from tests.test_init import export, init, project, written


def accounts_and_usage(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    accounts = pd.DataFrame(
        {
            "AccountId": [f"ACC-{i:05d}" for i in range(n)],
            "Region": rng.choice(["NA", "EMEA", "APAC"], n),
            "MonthlyCharge": [f"${c:,.2f}" for c in rng.choice([49.5, 199.0, 1299.0], n)],
            "TotalCharges": [f"{c:.2f}" for c in rng.uniform(100, 20000, n)],
        }
    )
    days = pd.date_range("2023-01-01", "2024-12-31", freq="D")
    rows = []
    for i in range(n):
        stop = len(days) if i % 3 else int(rng.integers(200, len(days)))
        seen = days[:stop][rng.random(stop) < 0.15]  # about once a week, irregular
        rows += [(f"ACC-{i:05d}", d.strftime("%Y-%m-%d"), int(rng.integers(1, 9))) for d in seen]
    usage = pd.DataFrame(rows, columns=["AccountId", "Date", "Logins"])
    return accounts, usage


def init_crm(
    tmp_path: Path, root: Path, usage: pd.DataFrame, customers: pd.DataFrame
) -> tuple[int, str]:
    """`churn init crm` on the usage log and the customers table, exported as a user's."""
    events = export(tmp_path, usage, "usage.csv")
    return init(
        root,
        "crm",
        "--events",
        str(events),
        "--customers",
        str(export(tmp_path, customers, "accounts.csv")),
    )


@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_a_monthly_charge_of_the_customers_table_is_the_value(tmp_path: Path) -> None:
    accounts, usage = accounts_and_usage(240, seed=11)
    root = project(tmp_path / "p")
    code, out = init_crm(tmp_path, root, usage, accounts)
    assert code == 0, out
    params = written(root, "crm")
    value = params["scoring"]["value"]
    horizon = params["labels"]["horizon_days"]
    assert value == {
        "method": "recurring",
        "charge_feature": "monthly_charge",  # never the running TotalCharges
        "months": round(horizon / 30, 1),
    }
    assert "outreach" not in params["scoring"]  # ranked by value at risk, not probability
    said = " ".join(out.split())
    assert "value is their 'MonthlyCharge'" in said and "expected values are skipped" not in said

    for stage in ("ingest", "labels", "features", "train"):
        code, out = churn(root, stage, name="crm")
        assert code == 0, f"churn {stage}: {out}"
    code, out = churn(root, "score", "--model", str(root / "models/crm"), name="crm")
    assert code == 0, out
    scores = pd.read_parquet(root / "data/scored/crm/scores.parquet")
    charge = accounts.set_index("AccountId")["MonthlyCharge"].str.replace(r"[$,]", "", regex=True)
    expected = scores["customer_id"].map(charge.astype(float)) * value["months"]
    assert np.allclose(scores["expected_value"], expected)


def test_a_customers_table_of_contracts_is_refused_at_init_not_at_ingest(tmp_path: Path) -> None:
    """One row per subscription (a plan switch starts a new one): ingest stopped on the
    repeated ids after init had written the params."""
    accounts, usage = accounts_and_usage(60, seed=12)
    contracts = pd.concat([accounts, accounts.head(9).assign(MonthlyCharge="$10.00")])
    root = project(tmp_path / "p")
    code, out = init_crm(tmp_path, root, usage, contracts)
    assert code == 2, out
    said = " ".join(out.split())
    assert "'AccountId' repeats 9 customer id(s)" in said and "one row per customer" in said
    assert not (root / "pipelines/crm/params.yaml").exists()
