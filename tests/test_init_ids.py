"""``churn init`` on event logs whose customer is not where the bundled data puts it: a date
column named after the customer (Olist's ``order_delivered_customer_date``), an opaque id with
no id word (KKBox's ``msno``), ids that are new on every order (nobody can return, so everyone
would churn), and a yes/no cancellation flag (``is_cancel``) that marks churn events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import RoleNotFound, infer_event_roles
from churn.init.lapse import returns
from tests.test_init import export, init, project, written


def _token(rng: np.random.Generator, length: int = 22) -> str:
    alphabet = list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    return "".join(rng.choice(alphabet, length)) + "="


def orders(n: int, seed: int, *, per_order_ids: bool = False) -> pd.DataFrame:
    """Olist-shaped orders: hex order ids, a customer id (one per person, or a new one per
    order), the purchase time and delivery dates whose names hold the word customer."""
    rng = np.random.default_rng(seed)
    people = [f"{rng.integers(16**12):012x}" for _ in range(n)]
    rows = []
    for person in people:
        t = pd.Timestamp("2017-01-01") + pd.Timedelta(days=float(rng.uniform(0, 500)))
        for _ in range(1 + int(rng.poisson(1.2))):
            customer = f"{rng.integers(16**12):012x}" if per_order_ids else person
            rows.append(
                {
                    "order_id": f"{rng.integers(16**15):015x}",
                    "customer_id": customer,
                    "person": person,
                    "order_status": rng.choice(["delivered", "shipped"]),
                    "order_purchase_timestamp": t.strftime("%Y-%m-%d %H:%M:%S"),
                    "order_delivered_customer_date": (t + pd.Timedelta(days=8)).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    ),
                    "order_estimated_delivery_date": (t + pd.Timedelta(days=20)).strftime(
                        "%Y-%m-%d 00:00:00"
                    ),
                }
            )
            t += pd.Timedelta(days=float(rng.exponential(60)))
    return pd.DataFrame(rows).drop(columns=[] if per_order_ids else ["person"])


def transactions(n: int, seed: int, *, cancel_values: tuple[str, str] = ("0", "1")) -> pd.DataFrame:
    """KKBox-shaped payments: an opaque member code with no id word, plan and price numbers,
    YYYYMMDD dates, and an ``is_cancel`` flag on some members' last payment."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        member = _token(rng)
        day = pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        months = 1 + int(rng.integers(0, 18))
        cancels = rng.random() < 0.3
        for k in range(months):
            rows.append(
                {
                    "msno": member,
                    "payment_method_id": int(rng.choice([36, 38, 39, 41])),
                    "payment_plan_days": 30,
                    "plan_list_price": 149,
                    "actual_amount_paid": 149,
                    "transaction_date": day.strftime("%Y%m%d"),
                    "membership_expire_date": (day + pd.Timedelta(days=30)).strftime("%Y%m%d"),
                    "is_cancel": cancel_values[int(cancels and k == months - 1)],
                }
            )
            day += pd.Timedelta(days=30)
    return pd.DataFrame(rows).sort_values("transaction_date", kind="stable")


def test_a_date_named_after_the_customer_is_not_the_id() -> None:
    roles = infer_event_roles(orders(50, 1))
    assert roles.customer_id == "customer_id"
    assert roles.timestamp.column == "order_purchase_timestamp"


def test_an_opaque_id_without_an_id_word_is_taken_from_its_values_and_said() -> None:
    roles = infer_event_roles(transactions(60, 2).astype(str))
    assert roles.customer_id == "msno"
    assert any("'msno' was taken for one by its values" in note for note in roles.notes)
    assert roles.timestamp.column == "transaction_date"
    assert roles.amount == "actual_amount_paid"


def test_two_opaque_codes_name_both_and_the_flag() -> None:
    rng = np.random.default_rng(3)
    log = transactions(60, 3).astype(str)
    devices = [_token(rng, 16) for _ in range(len(log) // 3)]
    log["device"] = [devices[i % len(devices)] for i in range(len(log))]  # each seen thrice
    with pytest.raises(RoleNotFound, match=r"'msno', 'device'.*--customer-id"):
        infer_event_roles(log)


@pytest.mark.parametrize("column", ["city", "note"])
def test_words_and_few_values_are_no_id(column: str) -> None:
    """A city (few values) or free text (blanks inside) is never guessed as the id."""
    rng = np.random.default_rng(4)
    n = 200
    log = pd.DataFrame(
        {
            "city": rng.choice(["Lyon", "Paris", "Nice"], n),
            "note": [f"called about bill {i}" for i in rng.integers(0, 50, n)],
            "when": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        }
    )
    with pytest.raises(RoleNotFound, match="no column looks like the customer id"):
        infer_event_roles(log[[column, "when"]])


def test_who_came_back_counts_people_on_two_days() -> None:
    log = orders(100, 5)
    times = pd.to_datetime(log["order_purchase_timestamp"])
    came = returns(log["customer_id"], times, 90)
    per_person = log.assign(day=times.dt.floor("D")).groupby("customer_id")["day"].nunique()
    assert came.customers == len(per_person)
    assert came.returning == int((per_person > 1).sum()) > 0


def test_ids_new_on_every_order_stop_init_and_write_nothing(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    before = (root / "dvc.yaml").read_text(encoding="utf-8")
    log = orders(300, 6, per_order_ids=True).drop(columns="person")
    path = export(tmp_path, log, "olist_orders_dataset.csv")
    code, out = init(root, "olist", "--events", str(path))
    assert code == 2, out
    assert "none of the" in out and "'customer_id'" in out and "--customer-id" in out
    assert "--customers FILE" in " ".join(out.split())  # the table init keys people by
    assert not (root / "pipelines" / "olist").exists()
    assert (root / "dvc.yaml").read_text(encoding="utf-8") == before


def test_people_who_return_initialise(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, orders(300, 6), "olist_orders_dataset.csv")
    code, out = init(root, "olist", "--events", str(path))
    assert code == 0, out
    columns = written(root, "olist")["data"]["events"]["sources"][0]["columns"]
    assert columns["customer_id"] == "customer_id"
    assert columns["timestamp"] == "order_purchase_timestamp"


def test_few_returning_customers_are_warned_of(tmp_path: Path) -> None:
    once = orders(400, 7, per_order_ids=True).drop(columns="person")
    again = orders(3, 8)  # a handful of people who come back
    root = project(tmp_path / "p")
    path = export(tmp_path, pd.concat([once, again], ignore_index=True), "orders.csv")
    code, out = init(root, "few", "--events", str(path))
    assert code == 0, out
    assert "almost everyone will read as churned" in out


@pytest.mark.parametrize("values", [("0", "1"), ("False", "True"), ("N", "Y")])
def test_a_cancellation_flag_marks_churn_events(values: tuple[str, str], tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, transactions(80, 9, cancel_values=values), "transactions.csv")
    code, out = init(root, "kk", "--events", str(path))
    assert code == 0, out
    params = written(root, "kk")
    assert params["data"]["events"]["sources"][0]["columns"]["event_type"] == "is_cancel"
    assert params["data"]["events"]["churn_event_types"] == [values[1]]
    assert "a cancellation flag" in out and f"'is_cancel' is {values[1]}" in out


def test_a_flag_of_other_values_is_no_cancellation(tmp_path: Path) -> None:
    log = transactions(80, 10)
    log["is_cancel"] = np.random.default_rng(10).integers(0, 4, len(log)).astype(str)
    roles = infer_event_roles(log.astype(str))
    assert roles.event_type is None and not roles.cancel_flag


def test_a_label_file_keyed_by_an_opaque_code_joins_its_members_table(tmp_path: Path) -> None:
    """KKBox's train.csv (msno, is_churn) with members.csv: the code is the id by its values,
    and a snapshot holding no attribute of its own takes them all from the customers table."""
    rng = np.random.default_rng(13)
    n = 400
    ids = [_token(rng) for _ in range(n)]
    via = rng.choice([3, 4, 7, 9], n)
    churned = (rng.random(n) < np.where(via == 7, 0.5, 0.1)).astype(int)
    labels = pd.DataFrame({"msno": ids, "is_churn": churned})
    registered = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), "D")
    members = pd.DataFrame(
        {
            "msno": ids,
            "city": rng.integers(1, 22, n),
            "registered_via": via,
            "registration_init_time": registered.strftime("%Y%m%d"),
        }
    ).sample(frac=1, random_state=1)
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "kk",
        "--snapshot",
        str(export(tmp_path, labels, "train.csv")),
        "--customers",
        str(export(tmp_path, members, "members.csv")),
    )
    assert code == 0, out
    assert "'msno' was taken for one by its values" in out
    data = written(root, "kk")["data"]
    assert data["snapshot"]["source"]["columns"]["customer_id"] == "msno"
    assert data["snapshot"]["source"]["attributes"] == {}
    customers = data["customers"]["sources"][0]
    assert customers["columns"] == {
        "customer_id": "msno",
        "signup_date": "registration_init_time",
    }


def test_a_usage_log_beside_flagged_payments_counts_as_activity(tmp_path: Path) -> None:
    """KKBox's transactions (with is_cancel) and user_logs (no event type): the usage rows
    take the default type, and it keeps a customer as the payments do."""
    payments = transactions(60, 14)
    usage = payments[["msno", "transaction_date"]].rename(columns={"transaction_date": "date"})
    usage = usage.assign(num_25=3, total_secs=1234.5)
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "kk",
        "--events",
        str(export(tmp_path, payments, "transactions.csv")),
        "--events",
        str(export(tmp_path, usage, "user_logs.csv")),
    )
    assert code == 0, out
    params = written(root, "kk")
    assert params["data"]["events"]["churn_event_types"] == ["1"]
    assert params["labels"]["activity_event_types"] == ["0", "purchase"]
    assert "amount" not in params["data"]["events"]["sources"][1]["columns"]
