"""`churn init` on snapshots shaped like public churn datasets a new user tries first (Orange
Telecom's churn-bigml, Maven's telecom_customer_churn, Kaggle's E Commerce and Customer
Personality files): measures named after the customer are features, hours are no money, the
whole monthly bill is the value even with a few credits, and a service's yes/no is no
personal data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import charge_candidates, named_as_id
from churn.data.personal_columns import personal_columns
from churn.scoring.value import recurring_value
from churn.settings import ValueSettings, load_settings
from tests._project import churn
from tests.test_init import export, init, project, written

N = 600


def orange_like(seed: int) -> pd.DataFrame:
    """No customer id at all; 'Account length' and 'Customer service calls' are measures."""
    rng = np.random.default_rng(seed)
    calls = rng.poisson(1.5, N)
    return pd.DataFrame(
        {
            "State": rng.choice(["KS", "OH", "NJ", "MO", "TX"], N),
            "Account length": rng.integers(1, 240, N),
            "Area code": rng.choice([408, 415, 510], N),
            "International plan": rng.choice(["No", "Yes"], N, p=[0.9, 0.1]),
            "Total day minutes": rng.normal(180, 50, N).round(1),
            "Total day charge": rng.normal(30, 8, N).round(2),
            "Customer service calls": calls,
            "Churn": np.where(rng.random(N) < 0.08 + 0.12 * (calls >= 4), "True", "False"),
        }
    )


def test_measures_named_after_the_customer_stay_features_without_an_id(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    code, out = init(root, "orange", "--snapshot", str(export(tmp_path, orange_like(1), "o.csv")))
    assert code == 0, out
    attributes = written(root, "orange")["data"]["snapshot"]["source"]["attributes"]
    assert "Customer service calls" in attributes.values()
    assert "Account length" in attributes.values()
    assert "named like the customer id but repeating" not in " ".join(out.split())


@pytest.mark.parametrize(
    ("column", "is_id"),
    [
        ("CustomerID", True),
        ("customer_id", True),
        ("Account No", True),
        ("user_key", True),
        ("Customer service calls", False),
        ("Account length", False),
        ("Customer Satisfaction", False),
        ("Account Balance", False),
    ],
)
def test_an_id_is_named_with_an_id_word(column: str, is_id: bool) -> None:
    assert named_as_id(column) is is_id


def test_hours_and_durations_are_no_money() -> None:
    rng = np.random.default_rng(2)
    sample = pd.DataFrame(
        {
            "HourSpendOnApp": rng.integers(0, 6, 50).astype(str),
            "Session Time Spend": rng.integers(0, 600, 50).astype(str),
            "CashbackAmount": rng.uniform(100, 300, 50).round(2).astype(str),
        }
    )
    assert charge_candidates(sample, list(sample.columns)) == []


def maven_like(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    monthly = rng.uniform(18, 119, N).round(2)
    monthly[rng.random(N) < 0.015] *= -0.1  # a few credits, as in the real file
    phone = rng.choice(["Yes", "No"], N, p=[0.9, 0.1])
    long_distance = np.where(phone == "Yes", rng.uniform(1, 50, N).round(2), np.nan)
    return pd.DataFrame(
        {
            "Customer ID": [f"{i:04d}-{c}" for i, c in enumerate(rng.choice(list("ABCDE"), N))],
            "Phone Service": phone,
            "Avg Monthly Long Distance Charges": long_distance,
            "Number of Addresses": rng.integers(1, 6, N),
            "Contract": rng.choice(["Month-to-Month", "One Year", "Two Year"], N),
            "Monthly Charge": monthly,
            "Total Charges": (monthly * rng.integers(1, 72, N)).round(2),
            "Phone Number": [f"+1-555-{rng.integers(1000, 9999)}" for _ in range(N)],
            "Customer Status": rng.choice(["Stayed", "Churned", "Joined"], N, p=[0.6, 0.3, 0.1]),
        }
    )


def test_the_whole_monthly_bill_is_the_value_despite_a_few_credits(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    snapshot = export(tmp_path, maven_like(3), "telecom_customer_churn.csv")
    code, out = init(root, "maven", "--snapshot", str(snapshot))
    assert code == 0, out
    params = written(root, "maven")
    assert params["scoring"]["value"]["charge_feature"] == "monthly_charge"
    attributes = params["data"]["snapshot"]["source"]["attributes"].values()
    # a service's yes/no and a count named after addresses are features; a phone number not
    assert {"Phone Service", "Number of Addresses"} <= set(attributes)
    assert "Phone Number" not in attributes


def test_a_phone_or_address_word_is_personal_only_with_many_values() -> None:
    rng = np.random.default_rng(4)
    sample = pd.DataFrame(
        {
            "PhoneService": rng.choice(["Yes", "No"], 200),
            "NumberOfAddress": rng.integers(1, 12, 200).astype(str),
            "Mobile": [f"07{rng.integers(100000000, 999999999)}" for _ in range(200)],
            "Billing Address": [f"{i} High Street" for i in range(200)],
        }
    )
    assert personal_columns(list(sample.columns), sample) == ["Mobile", "Billing Address"]


def test_a_negative_charge_is_worth_nothing_not_less(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame({"monthly_charge": [50.0, -4.5, 20.0]})
    value = ValueSettings(method="recurring", charge_feature="monthly_charge", months=12)
    with caplog.at_level(logging.WARNING, logger="churn"):
        got = recurring_value(frame, value)
    assert got.tolist() == [600.0, 0.0, 240.0]
    assert "negative for 1 of 3 customers" in caplog.text


def test_a_value_column_left_out_as_constant_is_not_also_named_the_value(tmp_path: Path) -> None:
    """Customer Personality's Z_Revenue is 11 on every row: left out, and never "value column
    'Z_Revenue'" beside "value: none found"."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "ID": range(N),
            "Income": rng.uniform(20000, 90000, N).round(0),
            "Recency": rng.integers(0, 99, N),
            "Z_CostContact": 3,
            "Z_Revenue": 11,
            "Response": rng.choice([0, 1], N, p=[0.85, 0.15]),
        }
    )
    root = project(tmp_path / "p")
    snapshot = export(tmp_path, frame, "marketing_campaign.csv", sep="\t")
    code, out = init(root, "mkt", "--snapshot", str(snapshot), "--label", "Response")
    assert code == 0, out
    said = " ".join(out.split())
    assert "value column 'Z_Revenue'" not in said and "value column 'Z_CostContact'" not in said
    assert "value" not in written(root, "mkt").get("scoring", {})


def test_a_log_without_a_header_line_is_refused_plainly(tmp_path: Path) -> None:
    """Last.fm-1K's listening log has no header: its first row would name the columns
    (`user_000001`, `2009-05-04T23:08:57Z`) and be lost."""
    rng = np.random.default_rng(6)
    times = pd.Timestamp("2009-01-01") + pd.to_timedelta(rng.integers(0, 10**7, 300), "s")
    log = pd.DataFrame(
        {
            "user": [f"user_{i:06d}" for i in rng.integers(1, 40, 300)],
            "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "artist_id": "f1b1cf71-bd35-4e99-8624-24a6e15f133a",
            "artist": rng.choice(["Deep Dish", "Boards of Canada"], 300),
        }
    )
    path = tmp_path / "userid-timestamp-artid-artname.tsv"
    log.to_csv(path, sep="\t", header=False, index=False)
    root = project(tmp_path / "p")
    code, out = init(root, "lfm", "--events", str(path))
    assert code != 0
    said = " ".join(out.split())
    assert "the first line holds data, not column names" in said
    assert "seems to have no header line" in said and path.name in said
    assert not (root / "pipelines/lfm").exists()


def test_a_customers_table_keyed_by_another_id_name_joins(tmp_path: Path) -> None:
    """Last.fm's listening log says `userid`, its profiles `#id`: the profiles' one column
    named like an id is the key (before: "no column 'userid'. Give it the events' column
    name")."""
    rng = np.random.default_rng(7)
    users = [f"user_{i:06d}" for i in range(60)]
    times = pd.Timestamp("2009-01-01") + pd.to_timedelta(rng.integers(0, 3 * 10**7, 3000), "s")
    log = pd.DataFrame(
        {
            "userid": rng.choice(users, 3000),
            "timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "artist": rng.choice(["Deep Dish", "Boards of Canada", "Air"], 3000),
        }
    )
    profiles = pd.DataFrame(
        {
            "#id": users,
            "gender": rng.choice(["m", "f", ""], 60),
            "country": rng.choice(["United Kingdom", "Japan", "Brazil"], 60),
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "lfm",
        "--events",
        str(export(tmp_path, log, "listens.tsv", sep="\t")),
        "--customers",
        str(export(tmp_path, profiles, "userid-profile.tsv", sep="\t")),
    )
    assert code == 0, out
    table = written(root, "lfm")["data"]["customers"]["sources"][0]
    assert table["columns"]["customer_id"] == "#id"
    assert set(table["attributes"].values()) == {"gender", "country"}


def test_a_word_ending_in_id_is_no_id_beside_the_customers_key(tmp_path: Path) -> None:
    """A profiles table keyed `user_id` beside the log's `userid`, with a `Prepaid` flag and an
    `Android` one: before, any name ending in "id" was named like an id, so init stopped with
    "more than one named like an id (['user_id', 'Prepaid', 'Android'])". Glued ids
    (`visitorid`) still are."""
    rng = np.random.default_rng(8)
    users = [f"u{i:05d}" for i in range(60)]
    times = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 3 * 10**7, 3000), "s")
    log = pd.DataFrame(
        {
            "userid": rng.choice(users, 3000),
            "timestamp": times.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": rng.gamma(2.0, 12.0, 3000).round(2),
        }
    )
    profiles = pd.DataFrame(
        {
            "user_id": users,
            "Prepaid": rng.choice(["yes", "no"], 60),
            "Android": rng.choice([0, 1], 60),
            "plan": rng.choice(["basic", "plus"], 60),
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "app",
        "--events",
        str(export(tmp_path, log, "events.csv")),
        "--customers",
        str(export(tmp_path, profiles, "profiles.csv")),
    )
    assert code == 0, out
    table = written(root, "app")["data"]["customers"]["sources"][0]
    assert table["columns"]["customer_id"] == "user_id"
    assert {"Prepaid", "plan"} <= set(table["attributes"].values())
    assert [named_as_id(c) for c in ("visitorid", "itemid", "CustomerID", "Amount Paid")] == [
        True,
        True,
        True,
        False,
    ]


def test_a_subscriptions_table_read_as_a_log_churns_on_its_cancellations(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A Chargebee-like export: one row per subscription start, with its cancellations in a
    second file. Nobody "comes back" within the horizon, so churn on inactivity would call
    everyone a churner and train would stop; init counts the cancellations only."""
    rng = np.random.default_rng(8)
    n = 500
    started = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 500, n), "D")
    starts = pd.DataFrame(
        {
            "customer.id": [f"cus_{i:05d}" for i in range(n)],
            "subscription.started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subscription.plan_amount": rng.choice([19.0, 49.0, 99.0], n),
        }
    )
    cancelled = rng.random(n) < 0.45
    ends = started[cancelled] + pd.to_timedelta(rng.integers(30, 400, cancelled.sum()), "D")
    cancellations = pd.DataFrame(
        {
            "customer.id": starts["customer.id"][cancelled].to_numpy(),
            "cancelled_at": ends.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "subs",
        "--events",
        str(export(tmp_path, starts, "subscriptions.csv")),
        "--churn-events",
        str(export(tmp_path, cancellations, "cancellations.csv")),
    )
    assert code == 0, out
    assert written(root, "subs")["labels"]["churn_definition"] == "explicit"
    assert "so churn is the cancellations only" in " ".join(out.split())
    # nobody bought twice: the gaps between purchases are missing in every training row, left
    # out with a warning instead of stopping train
    with caplog.at_level(logging.WARNING, logger="churn"):
        for stage in ("ingest", "labels", "features", "train"):
            code, out = churn(root, stage, name="subs")
            assert code == 0, f"churn {stage}: {out}"
    assert "'gap_mean_days'" in caplog.text and "missing in every training row" in caplog.text
    model = json.loads((root / "models/subs/model.json").read_text(encoding="utf-8"))
    assert "gap_mean_days" not in json.dumps(model.get("feature_names", model))


def test_a_customers_table_keyed_otherwise_is_said(tmp_path: Path) -> None:
    """A customers table whose ids are not the events' (another key, or ids written another
    way) would join nobody and leave every attribute missing: init says so, naming a few."""
    rng = np.random.default_rng(9)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 600, 4000), "D")
    log = pd.DataFrame(
        {
            "CustomerID": [f"C{i:04d}" for i in rng.integers(0, 200, 4000)],
            "OrderDate": days.strftime("%Y-%m-%d"),
            "Amount": rng.gamma(2, 30, 4000).round(2),
        }
    )
    table = pd.DataFrame(
        {
            "CustomerID": [f"CUST-{i:06d}" for i in range(200)],  # the CRM's own key
            "Segment": rng.choice(["Retail", "SMB"], 200),
        }
    )
    root = project(tmp_path / "p")
    events = str(export(tmp_path, log, "orders.csv"))
    code, out = init(
        root, "shop", "--events", events, "--customers", str(export(tmp_path, table, "c.csv"))
    )
    assert code == 0, out
    said = " ".join(out.split())
    assert "only 0 of the first 200 customer ids in column 'CustomerID' are among the events'" in (
        said
    )
    assert "'CUST-000000'" in said
    # keyed alike: no word
    table["CustomerID"] = [f"C{i:04d}" for i in range(200)]
    code, out = init(
        root, "shop2", "--events", events, "--customers", str(export(tmp_path, table, "c2.csv"))
    )
    assert code == 0, out
    assert "are among the events' ids" not in " ".join(out.split())


def test_a_value_of_nothing_for_many_customers_does_not_rank_the_list(tmp_path: Path) -> None:
    """Kaggle's Churn_Modelling: `Balance` is the value and 0 for about a third of the bank's
    customers, who, ranked by expected value saved, were never contacted (none of the 36 %
    in a generated copy's outreach list, whatever their churn probability)."""
    rng = np.random.default_rng(21)
    n = 600
    frame = pd.DataFrame(
        {
            "CustomerId": rng.choice(np.arange(15_565_701, 15_815_690), n, replace=False),
            "Age": rng.integers(18, 80, n),
            "Geography": rng.choice(["France", "Spain", "Germany"], n),
            "Balance": np.where(rng.random(n) < 0.35, 0.0, rng.normal(120_000, 30_000, n).round(2)),
            "Exited": rng.choice([0, 1], n, p=[0.8, 0.2]),
        }
    )
    root = project(tmp_path / "p")
    code, out = init(root, "bank", "--snapshot", str(export(tmp_path, frame, "Churn.csv")))
    assert code == 0, out
    scoring = written(root, "bank")["scoring"]
    assert scoring["value"]["charge_feature"] == "balance"
    assert scoring["outreach"]["priority"] == "churn_probability"
    assert "of the customers have 'Balance' 0 or blank" in " ".join(out.split())
    settings = load_settings(root, "bank")
    assert settings.scoring.outreach.priority == "churn_probability"

    some = frame.assign(Balance=np.where(np.arange(n) < 30, 0.0, frame["Balance"] + 1))
    code, out = init(
        root, "bank2", "--snapshot", str(export(tmp_path, some, "Churn2.csv")), "--force"
    )
    assert code == 0, out
    assert "outreach" not in written(root, "bank2")["scoring"]


def test_kkbox_members_codes_are_categories_and_odd_ages_are_said(tmp_path: Path) -> None:
    """KKBox's members beside its transactions: `city` (1 to 22) and `registered_via` (3, 4,
    7, 9, 13) are codes written as whole numbers, and were read as quantities (city 13 more
    than city 4); `bd` holds ages of 0, -7000 and 2016 among real ones, read without a word."""
    rng = np.random.default_rng(8)
    n = 300
    days = pd.date_range("2023-01-01", "2024-06-30", freq="D")
    orders = pd.DataFrame(
        {
            "msno": [f"m{i % n:04d}" for i in range(3000)],
            "transaction_date": pd.Series(rng.choice(days, 3000)).dt.strftime("%Y-%m-%d"),
            "actual_amount_paid": rng.uniform(5, 30, 3000).round(2),
        }
    )
    ages = rng.integers(16, 60, n)
    ages[:40] = 0
    ages[40:42] = [-7000, 2016]
    members = pd.DataFrame(
        {
            "msno": [f"m{i:04d}" for i in range(n)],
            "city": rng.choice([1, 4, 5, 13, 15, 22], n),
            "registered_via": rng.choice([3, 4, 7, 9, 13], n),
            "bd": ages,
            "gender": rng.choice(["male", "female", ""], n),
            "payment_plan_days": rng.choice([30, 90, 410], n),  # a quantity: a number
        }
    )
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "kk",
        "--events",
        str(export(tmp_path, orders, "transactions.csv")),
        "--customers",
        str(export(tmp_path, members, "members.csv")),
    )
    assert code == 0, out
    params = written(root, "kk")
    assert set(params["features"]["categorical_attributes"]) == {
        "city",
        "registered_via",
        "gender",
    }
    said = " ".join(out.split())
    assert "'bd' holds ages outside 1 to 110 on 42 of 300 sampled rows (-7000, 0, 2016)" in said


def crm_accounts_like(seed: int) -> pd.DataFrame:
    """A HubSpot/Salesforce accounts report: the account's own yearly revenue written with $
    and commas, a status label with an 'At Risk' value, US dates."""
    rng = np.random.default_rng(seed)
    since = pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 2500, N), "D")
    return pd.DataFrame(
        {
            "Account ID": [f"001{rng.integers(10**11, 10**12):012d}AA{i:03d}" for i in range(N)],
            "Industry": rng.choice(["Technology", "Healthcare", "Retail", ""], N),
            "Annual Revenue": [f"${r:,.0f}" for r in rng.lognormal(15, 1.5, N)],
            "Number of Employees": [f"{int(e):,}" for e in rng.lognormal(4, 1.5, N)],
            "Customer Since": since.strftime("%m/%d/%Y"),
            "Status": rng.choice(["Active", "Churned", "At Risk"], N, p=[0.65, 0.2, 0.15]),
        }
    )


def test_a_yearly_named_value_is_said_to_be_checked(tmp_path: Path) -> None:
    """A CRM's Annual Revenue is the account's size more often than what it pays: init took it
    for "the monthly charge at stake" without a word."""
    root = project(tmp_path / "p")
    snapshot = export(tmp_path, crm_accounts_like(9), "accounts.csv")
    code, out = init(root, "crm", "--snapshot", str(snapshot))
    assert code == 0, out
    assert written(root, "crm")["scoring"]["value"]["charge_feature"] == "annual_revenue"
    said = " ".join(out.split())
    assert "'Annual Revenue' is named as a yearly figure" in said
    assert "not the size of their own business" in said
    text = (root / "pipelines/crm/params.yaml").read_text(encoding="utf-8")
    assert "the monthly charge at stake" not in text


def test_a_big5_export_with_a_chinese_header_is_read(tmp_path: Path) -> None:
    """Ta-Feng's original files (D11, D12, D01, D02): Big5, ``;``, a header in Chinese. Read
    as Windows-1252 the header was mojibake and init stopped: no column looks like the
    customer id, naming columns no flag could type."""
    rng = np.random.default_rng(10)
    n = 600
    days = pd.Timestamp("2000-11-01") + pd.to_timedelta(rng.integers(0, 120, n), "D")
    items = rng.choice([1, 1, 1, 1, 2, 3], n)
    log = pd.DataFrame(
        {
            "交易日期": days.strftime("%Y-%m-%d 00:00:00"),
            "顧客編號": [f"{c:08d}" for c in rng.integers(1_000_000, 1_000_080, n)],
            "年齡層級": rng.choice(list("ABCDEFGHIJK"), n),
            "居住區域": rng.choice(["105", "106", "115", "221", "Unknown"], n),
            "商品分類": rng.integers(100101, 130315, n),
            "數量": items,
            "銷售價格": items * rng.integers(20, 400, n),
        }
    )
    path = export(tmp_path, log, "D11", sep=";", encoding="big5")
    root = project(tmp_path / "p")
    code, out = init(root, "tafeng", "--events", str(path))
    assert code == 0, out
    source = written(root, "tafeng")["data"]["events"]["sources"][0]
    assert source["encoding"] == "big5"
    assert source["columns"] == {
        "customer_id": "顧客編號",
        "timestamp": "交易日期",
        "amount": "銷售價格",
    }
    assert source["attributes"]["年齡層級"] == "年齡層級"  # not "x"
