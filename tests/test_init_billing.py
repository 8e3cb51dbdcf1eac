"""``churn init`` on a billing system's exports (Stripe-shaped): invoices as the events and the
subscriptions table as the cancellations. Init took the invoice's own ``id`` for the customer
(nobody came back, everyone churned), ``Amount Due`` for what was paid, and the subscription's
``Created`` date for its cancellation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import id_candidates, infer_event_roles
from tests._project import run_stages
from tests.test_init import export, init, project, written


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["id", "Customer", "Customer Email", "Amount Due"], ["Customer"]),
        (["id", "customer_name", "plan"], ["id"]),  # a customers table keyed by a bare id
        (["Customer Email", "Plan"], ["Customer Email"]),  # the only one: still a candidate
        (["id", "user_id", "user_email"], ["user_id"]),
    ],
)
def test_a_bare_id_and_contact_columns_yield_to_a_customer_column(
    columns: list[str], expected: list[str]
) -> None:
    assert id_candidates(columns) == expected


def test_what_was_paid_is_the_amount_not_what_was_due() -> None:
    sample = pd.DataFrame(
        {
            "Customer": ["a", "b", "a"],
            "Date (UTC)": ["2024-01-01 10:00", "2024-01-02 11:00", "2024-02-01 10:00"],
            "Amount Due": ["29.0", "9.0", "29.0"],
            "Amount Paid": ["29.0", "0.0", "29.0"],
        }
    )
    assert infer_event_roles(sample).amount == "Amount Paid"


def _billing(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly invoices per customer until some cancel; one subscription row per customer with
    ``Created`` and ``Canceled At`` (blank while active)."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2024-06-30")
    invoices, subscriptions = [], []
    for i in range(n):
        customer = f"cus_{i:05d}{rng.integers(10**6):06d}"
        created = pd.Timestamp("2022-01-01") + pd.Timedelta(days=float(rng.uniform(0, 700)))
        t, canceled = created, None
        while t < end:
            invoices.append(
                {
                    "id": f"in_{len(invoices):08d}",
                    "Customer": customer,
                    "Customer Email": f"user{i}@example.com",
                    "Amount Due": 29.0,
                    "Amount Paid": 29.0 if rng.random() > 0.05 else 0.0,
                    "Date (UTC)": t.strftime("%Y-%m-%d %H:%M"),
                }
            )
            if rng.random() < 0.05:
                canceled = t + pd.Timedelta(days=float(rng.uniform(1, 29)))
                break
            t += pd.DateOffset(months=1)
        ended = canceled is not None and canceled < end
        subscriptions.append(
            {
                "id": f"sub_{i:06d}",
                "Customer ID": customer,
                "Customer Email": f"user{i}@example.com",
                "Status": "canceled" if ended else "active",
                "Created (UTC)": created.strftime("%Y-%m-%d %H:%M"),
                "Current Period End (UTC)": (t + pd.DateOffset(months=1)).strftime(
                    "%Y-%m-%d %H:%M"
                ),
                "Canceled At (UTC)": canceled.strftime("%Y-%m-%d %H:%M") if ended else "",
            }
        )
    return pd.DataFrame(invoices).sort_values("Date (UTC)"), pd.DataFrame(subscriptions)


def test_invoices_and_subscriptions_initialise_on_the_customer_and_the_cancellation(
    tmp_path: Path,
) -> None:
    invoices, subscriptions = _billing(300, seed=1)
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "stripe",
        "--events",
        str(export(tmp_path, invoices, "invoices.csv")),
        "--churn-events",
        str(export(tmp_path, subscriptions, "subscriptions.csv")),
    )
    assert code == 0, out
    data = written(root, "stripe")["data"]
    columns = data["events"]["sources"][0]["columns"]
    assert columns["customer_id"] == "Customer"
    assert columns["amount"] == "Amount Paid"
    churn_source = data["churn_events"]["sources"][0]
    assert churn_source["columns"] == {
        "customer_id": "Customer ID",
        "timestamp": "Canceled At (UTC)",
    }
    run_stages(root, ["ingest"], name="stripe")
    churn_events = pd.read_parquet(root / "data/interim/stripe/canonical/churn_events.parquet")
    cancelled = subscriptions[subscriptions["Canceled At (UTC)"] != ""]
    assert len(churn_events) == len(cancelled)  # the active subscriptions are no cancellation
    assert set(churn_events["customer_id"]) == set(cancelled["Customer ID"])
