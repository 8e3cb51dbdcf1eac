"""Context is never the reason to call: a snapshot attribute that says who or where a customer is
(State, Age, Gender) or how long they have been one (tenure) gives a reason that is not
actionable, so it comes after the reasons someone can act on, or after NO_SINGLE_DRIVER."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.scoring.context import is_context_attribute
from churn.scoring.explain import NO_SINGLE_DRIVER
from churn.scoring.reasons import attribute_catalogue, pipeline_catalogue, reason_code
from tests._project import churn
from tests.test_any_snapshot import end_to_end, no_tracking_uri  # noqa: F401 (its fixture)
from tests.test_init import export, init, project

TELCO = {
    "context": ["gender", "SeniorCitizen", "Partner", "Dependents", "tenure"],
    "actionable": [
        *("PhoneService", "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup"),
        *("DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies", "Contract"),
        *("PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges"),
    ],
}
ORANGE = {
    "context": ["State", "Account length", "Area code"],
    "actionable": [
        *("International plan", "Voice mail plan", "Number vmail messages"),
        *("Total day minutes", "Total day calls", "Total day charge", "Total eve minutes"),
        *("Total night charge", "Total intl minutes", "Total intl calls"),
        "Customer service calls",
    ],
}
MAVEN = {
    "context": [
        *("Gender", "Age", "Married", "Number of Dependents", "City", "Zip Code"),
        *("Latitude", "Longitude", "Tenure in Months"),
    ],
    "actionable": [
        *("Number of Referrals", "Offer", "Phone Service", "Avg Monthly Long Distance Charges"),
        *("Multiple Lines", "Internet Service", "Internet Type", "Avg Monthly GB Download"),
        *("Online Security", "Device Protection Plan", "Premium Tech Support", "Unlimited Data"),
        *("Contract", "Paperless Billing", "Payment Method", "Monthly Charge", "Total Charges"),
        *("Total Refunds", "Total Extra Data Charges", "Total Long Distance Charges"),
        "Total Revenue",
    ],
}
BANK_CHURNERS = {
    "context": [
        *("Customer_Age", "Gender", "Dependent_count", "Education_Level", "Marital_Status"),
        *("Income_Category", "Months_on_book"),
    ],
    "actionable": [
        *("Card_Category", "Total_Relationship_Count", "Months_Inactive_12_mon"),
        *("Contacts_Count_12_mon", "Credit_Limit", "Total_Revolving_Bal", "Avg_Open_To_Buy"),
        *("Total_Amt_Chng_Q4_Q1", "Total_Trans_Amt", "Total_Trans_Ct", "Avg_Utilization_Ratio"),
    ],
}
OTHERS = {  # Kaggle's bank churn, a marketing file, and names churn init writes
    "context": [
        *("Geography", "Tenure", "EstimatedSalary", "Kidhome", "Teenhome", "Year_Birth"),
        *("Long", "lat", "lng", "SignUpDate", "customer_since", "tenure_in_months"),
        "account_length",
    ],
    "actionable": [
        *("CreditScore", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember"),
        *("days_since_last_purchase", "tickets_created", "total_long_distance_charges"),
    ],
}
DATASETS = {
    "telco": TELCO,
    "orange": ORANGE,
    "maven": MAVEN,
    "bank_churners": BANK_CHURNERS,
    "others": OTHERS,
}


@pytest.mark.parametrize(
    ("name", "context"),
    [
        pytest.param(name, kind == "context", id=f"{dataset}-{name}")
        for dataset, columns in DATASETS.items()
        for kind, names in columns.items()
        for name in names
    ],
)
def test_who_or_where_a_customer_is_and_their_tenure_are_context(name: str, context: bool) -> None:
    assert is_context_attribute(name) is context


def records(names: list[str]) -> list[dict[str, str]]:
    return [{"name": n, "family": "attribute", "kind": "numeric", "description": n} for n in names]


def test_a_snapshots_context_attributes_give_reasons_nobody_can_act_on() -> None:
    names = ["State", "Contract", "months_active", "Monthly Charge"]
    spec = attribute_catalogue(records(names), names, context=["months_active"])
    actionable = {r.code: r.actionable for r in spec.reasons}
    assert actionable == {
        "STATE": False,
        "CONTRACT": True,
        "MONTHS_ACTIVE": False,  # the declared tenure attribute, whatever its name
        "MONTHLY_CHARGE": True,
    }


def test_a_users_own_catalogue_keeps_its_actionable_flags(tmp_path: Path) -> None:
    own = tmp_path / "reasons.yaml"
    own.write_text(
        'version: "mine-1"\nreasons:\n  - code: WHERE\n    features: [State]\n'
        "    actionable: true\n"
    )
    spec = pipeline_catalogue(records(["State"]), ["State"], own, context=["State"])
    assert [(r.code, r.actionable) for r in spec.reasons] == [("WHERE", True)]


# ---- end to end: churn init on a messy export, then every stage to the scores ------------------

CONTEXT_CODES = {reason_code(n) for n in ("State", "Age", "Tenure in Months")}


def telecom_export(n: int = 500, seed: int = 3) -> pd.DataFrame:
    """Subscribers whose churn follows where they live, their age and tenure as strongly as
    their contract, charge and service calls, so context would lead many customers' reasons."""
    rng = np.random.default_rng(seed)
    state = rng.choice(["MO", "TX", "NJ", "CA", "OH"], n)
    age = rng.integers(18, 80, n)
    tenure = rng.integers(1, 72, n)
    charge = rng.uniform(20, 110, n).round(2)
    calls = rng.poisson(1.5, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.5, 0.3, 0.2])
    risk = (
        1.6 * np.isin(state, ["MO", "NJ"])
        + 1.4 * (age < 30)
        + 1.4 * (tenure < 12)
        + 0.8 * (contract == "Month-to-month")
        + 0.02 * (charge - 65)
        + 0.5 * (calls >= 3)
        - 2.6
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-risk))
    return pd.DataFrame(
        {
            "Customer ID": [f"{i:05d}-ABCD" for i in range(n)],
            "State": state,
            "Age": age,
            "Tenure in Months": tenure,
            "Monthly Charge": charge,
            "Customer service calls": calls,
            "Contract": contract,
            "Churn": np.where(churned, "Yes", "No"),
        }
    )


def reasons_after_the_first(scores: pd.DataFrame) -> pd.DataFrame:
    """``code`` and ``actionable`` of every reason 2 and 3 of ``scores``."""
    parts = [
        scores[[f"reason_{k}_code", f"reason_{k}_actionable"]].set_axis(
            ["code", "actionable"], axis=1
        )
        for k in (2, 3)
    ]
    return pd.concat(parts).dropna(subset=["code"])


@end_to_end
def test_context_attributes_never_lead_an_explained_customers_reasons(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, telecom_export(), "telecom.csv")
    code, out = init(root, "telecom", "--snapshot", str(path), "--label", "Churn")
    assert code == 0, out
    for stage in ("ingest", "labels", "features", "train", "register"):
        code, out = churn(root, stage, name="telecom")
        assert code == 0, f"churn {stage}: {out}"
    code, out = churn(root, "score", "--explain-all", name="telecom")
    assert code == 0, f"churn score: {out}"
    scores = pd.read_parquet(root / "data/scored/telecom/scores.parquet")
    explained = scores[scores["reason_1_code"].notna()]
    assert len(explained) > 100
    first = explained["reason_1_code"]
    assert (explained["reason_1_actionable"].astype(bool) | (first == NO_SINGLE_DRIVER)).all()
    assert not first.isin(CONTEXT_CODES).any()
    later = reasons_after_the_first(explained)
    context = later[later["code"].isin(CONTEXT_CODES)]
    assert len(context) > 0, "the data makes context risk-raising: it should show up after"
    assert not context["actionable"].astype(bool).any()
    assert later.loc[~later["code"].isin(CONTEXT_CODES), "actionable"].astype(bool).all()
