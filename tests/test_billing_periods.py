"""A charge is for a billing period: a yearly plan's price is twelve months' charge, and a
per-seat price is paid once per seat. `scoring.value.method: recurring` makes each charge
monthly by `charge_period_feature` and multiplies it by `charge_quantity_feature`; `churn init`
finds both beside the charge (Stripe's `Interval` and `Quantity`). Before, a yearly plan's
customer was worth twelve times too much, and a 40-seat account as much as a single seat."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from churn.data.billing_periods import months_of_periods, names_periods, period_months
from churn.errors import PipelineStateError
from churn.init.plan import billing_columns, charge_is_total
from churn.scoring.value import recurring_value
from churn.settings import ValueSettings
from tests._project import churn
from tests.test_init import export, init, project, written


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("month", 1.0),
        ("Monthly", 1.0),
        (" MONTHS ", 1.0),
        ("year", 12.0),
        ("Annual", 12.0),
        ("annually", 12.0),
        ("Yearly", 12.0),
        ("quarterly", 3.0),
        ("Semi-annual", 6.0),
        ("half_yearly", 6.0),
        ("3 months", 3.0),
        ("every 6 months", 6.0),
        ("2 years", 24.0),
        ("P1Y", 12.0),
        ("p3m", 3.0),
        ("week", 7 / (365.25 / 12)),
        ("Every 2 weeks", 14 / (365.25 / 12)),
        ("bi-weekly", 14 / (365.25 / 12)),
        ("daily", 1 / (365.25 / 12)),
    ],
)
def test_period_words_become_months(text: str, months: float) -> None:
    assert period_months(text) == pytest.approx(months)


@pytest.mark.parametrize(
    "text", [None, float("nan"), "", "  ", "one_time", "0 months", "gold", "12"]
)
def test_text_that_names_no_period_is_none(text: object) -> None:
    assert period_months(text) is None


def test_a_column_names_periods_when_nearly_all_its_filled_values_do() -> None:
    def column(*values: str | None) -> pd.Series:
        return pd.Series(values, dtype=object)

    assert names_periods(column("month", "year", None, "Month", ""))
    assert not names_periods(column("month", "gold", "silver", "year"))
    assert not names_periods(column(None, "", None))
    assert not names_periods(column("Pro", "Basic"))
    months = months_of_periods(pd.Series(["year", None, "quarterly", "gold"], dtype=object))
    np.testing.assert_array_equal(months.to_numpy(), [12.0, np.nan, 3.0, np.nan])


def _charges() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "amount": [120.0, 10.0, 30.0, None, 50.0],
            "interval": ["year", "month", "quarterly", "year", "fortnight-ish"],
            "seats": [2.0, 5.0, None, 3.0, 1.0],
        }
    )


def test_the_recurring_value_is_the_monthly_charge_of_every_unit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    value = ValueSettings(
        method="recurring",
        charge_feature="amount",
        charge_period_feature="interval",
        charge_quantity_feature="seats",
        months=3.0,
    )
    with caplog.at_level(logging.WARNING, logger="churn"):
        got = recurring_value(_charges(), value)
    # a: 120/year x 2 seats = 20 a month; b: 10 x 5; c: 30/quarter, seats missing: 1;
    # d: no charge; e: no period named: taken as monthly, and said
    np.testing.assert_allclose(got.to_numpy(), np.array([20.0, 50.0, 10.0, 0.0, 50.0]) * 3)
    assert "'interval': 1 of 5 rows name no billing period ('fortnight-ish' (1))" in caplog.text
    plain = ValueSettings(method="recurring", charge_feature="amount", months=3.0)
    np.testing.assert_allclose(recurring_value(_charges(), plain), [360.0, 30.0, 90.0, 0, 150])


def test_a_billing_column_that_is_not_a_feature_is_named() -> None:
    value = ValueSettings(
        method="recurring", charge_feature="amount", charge_period_feature="plan_interval"
    )
    with pytest.raises(PipelineStateError, match="charge_period_feature 'plan_interval' is not"):
        recurring_value(_charges(), value)


def test_billing_columns_belong_to_the_recurring_method() -> None:
    with pytest.raises(ValidationError, match="apply to method 'recurring' only"):
        ValueSettings(method="clv", charge_period_feature="interval")


def stripe_like_subscriptions(n: int, seed: int) -> pd.DataFrame:
    """One row per customer: a plan billed monthly or yearly, per seat, and whether they
    cancelled; the yearly ones and big teams churn less."""
    rng = np.random.default_rng(seed)
    interval = rng.choice(["month", "year"], n, p=[0.7, 0.3])
    seats = rng.choice([1, 1, 1, 5, 40], n)
    monthly_price = rng.choice([12.0, 29.0, 99.0], n)
    amount = np.where(interval == "year", monthly_price * 10, monthly_price)  # 2 months free
    risk = 0.45 - 0.25 * (interval == "year") - 0.1 * (seats > 1) + 0.1 * (monthly_price > 50)
    return pd.DataFrame(
        {
            "Customer ID": [f"cus_{i:06d}" for i in range(n)],
            "Region": rng.choice(["US", "EU", "APAC"], n),
            "Quantity": seats,
            "Interval": interval,
            "Amount": [f"{a:.2f}" for a in amount],
            "Churned": np.where(rng.random(n) < risk, "Yes", "No"),
        }
    )


@pytest.mark.slow
def test_init_finds_the_billing_period_and_seats_and_scoring_uses_them(tmp_path: Path) -> None:
    subscriptions = stripe_like_subscriptions(900, seed=5)
    root = project(tmp_path / "p")
    code, out = init(
        root, "subs", "--snapshot", str(export(tmp_path, subscriptions, "subscriptions.csv"))
    )
    assert code == 0, out
    said = " ".join(out.split())
    assert "billing period" in said and "Interval" in said
    value = written(root, "subs")["scoring"]["value"]
    assert value["method"] == "recurring"
    assert value["charge_feature"] == "amount"
    assert value["charge_period_feature"] == "interval"
    assert value["charge_quantity_feature"] == "quantity"

    for stage in ("ingest", "labels", "features", "train"):
        code, out = churn(root, stage, name="subs")
        assert code == 0, f"churn {stage}: {out}"
    code, out = churn(root, "score", "--model", str(root / "models/subs"), name="subs")
    assert code == 0, out
    scores = pd.read_parquet(root / "data/scored/subs/scores.parquet")
    rows = subscriptions.set_index("Customer ID").loc[scores["customer_id"]]
    monthly = rows["Amount"].astype(float) / np.where(rows["Interval"] == "year", 12, 1)
    expected = monthly * rows["Quantity"] * value.get("months", 1.0)
    np.testing.assert_allclose(scores["expected_value"].to_numpy(), expected.to_numpy())
    yearly = (rows["Interval"] == "year").to_numpy()
    assert yearly.any() and (~yearly).any()


def test_a_charge_that_already_counts_the_seats_is_not_multiplied_by_them() -> None:
    """An accounts table's `mrr` is the plan's price times its `seats` (99 a seat, 3 seats:
    297): init had made `seats` the charge's quantity, so a 9-seat account was worth 81 seats
    of its price. A price per seat beside them (Stripe's `Amount`, `Quantity`) still is."""
    rng = np.random.default_rng(12)
    price = rng.choice([29.0, 99.0, 499.0], 200)
    seats = rng.integers(1, 10, 200)
    accounts = pd.DataFrame(
        {"plan": price.astype(str), "seats": seats.astype(str), "mrr": (price * seats).astype(str)}
    )
    assert charge_is_total(accounts["mrr"], accounts["seats"])
    assert billing_columns(accounts, [], ["seats"], charge="mrr") == (None, None)
    per_seat = accounts.assign(mrr=price.astype(str))
    assert not charge_is_total(per_seat["mrr"], per_seat["seats"])
    assert billing_columns(per_seat, [], ["seats"], charge="mrr") == (None, "seats")
    single = accounts.assign(seats="1")  # one seat everywhere: nothing to tell
    assert not charge_is_total(single["mrr"], single["seats"])
