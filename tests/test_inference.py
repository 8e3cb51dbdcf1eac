"""Roles guessed from samples of files shaped as real exports are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import (
    RoleNotFound,
    infer_event_roles,
    infer_snapshot_roles,
    positive_label,
    timestamp_format,
)
from tests import messy


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype("string").fillna("")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-01-05 10:00:00", "2024-02-11 23:59:01"], "%Y-%m-%d %H:%M:%S"),
        (["2024-01-05", "2024-02-11"], "%Y-%m-%d"),
        (["13/01/2024 10:00", "28/02/2024 09:15"], "%d/%m/%Y %H:%M"),
        (["01/13/2024", "02/28/2024"], "%m/%d/%Y"),
        (["19970101", "19971231"], "%Y%m%d"),
        (["2024-01-05T10:00:00+01:00", "2024-02-11T23:59:01Z"], None),
        (["12.5", "3"], False),
        (["abc", "def"], False),
    ],
)
def test_timestamp_formats(values: list[str], expected: str | bool | None) -> None:
    assert timestamp_format(pd.Series(values)) == expected


def test_six_digit_dates_are_dates_only_in_a_column_named_like_a_time(tmp_path: Path) -> None:
    """A bank's transactions (the PKDD'99 Czech bank's shape): ``date`` written 930101."""
    dates = ["930101", "950316", "981231", "50316"]  # the last: 2005, its leading zero lost
    assert timestamp_format(pd.Series(dates), unix=True) == "%y%m%d"
    assert timestamp_format(pd.Series(dates)) is False  # an amount or a count: no date
    assert timestamp_format(pd.Series(["931301", "950316"]), unix=True) is False  # month 13
    log = pd.DataFrame(
        {
            "trans_id": range(8),
            "account_id": [1, 2, 3, 4] * 2,
            "date": [930101, 930105, 930212, 940330, 950316, 960101, 970707, 981231],
            "type": ["PRIJEM", "VYDAJ"] * 4,
            "amount": [700.0, 120.5, 90.0, 3000.0, 12.0, 55.5, 80.0, 640.0],
        }
    )
    roles = infer_event_roles(_text(log))
    assert (roles.customer_id, roles.timestamp.column) == ("account_id", "date")
    assert roles.timestamp.format == "%y%m%d"


def test_dates_that_read_both_ways_are_refused() -> None:
    with pytest.raises(ValueError, match="day-first and month-first"):
        timestamp_format(pd.Series(["01/02/2024", "03/04/2024"]))


def test_an_invoice_log() -> None:
    sample = _text(
        pd.DataFrame(
            {
                "Invoice": ["536365", "536365", "C536379", "536380"],
                "StockCode": ["85123A", "71053", "D", "22728"],
                "InvoiceDate": ["2010-12-01 08:26:00"] * 2 + ["2010-12-01 09:41:00"] * 2,
                "Price": ["2.55", "3.39", "27.5", "3.75"],
                "Customer ID": ["17850", "17850", "14527", "17850"],
                "Country": ["United Kingdom", "United Kingdom", "France", "United Kingdom"],
            }
        )
    )
    roles = infer_event_roles(sample)
    assert roles.customer_id == "Customer ID"
    assert roles.timestamp.column == "InvoiceDate"
    assert roles.timestamp.format == "%Y-%m-%d %H:%M:%S"
    assert roles.amount == "Price"
    assert roles.order_id == "Invoice"
    assert "Country" in roles.attributes


def test_a_log_with_only_customer_and_date_says_there_is_no_amount() -> None:
    sample = _text(pd.DataFrame({"user_id": ["1", "2", "1"], "day": ["2024-01-01"] * 3}))
    roles = infer_event_roles(sample)
    assert (roles.customer_id, roles.timestamp.column, roles.amount) == ("user_id", "day", None)
    assert any("no amount" in note for note in roles.notes)


def test_ambiguous_ids_name_the_candidates() -> None:
    sample = _text(
        pd.DataFrame(
            {"customer_id": ["1", "1"], "account_id": ["a", "a"], "date": ["2024-01-01"] * 2}
        )
    )
    with pytest.raises(RoleNotFound, match=r"customer_id.*account_id|--customer-id") as err:
        infer_event_roles(sample)
    assert err.value.exit_code == 2
    assert infer_event_roles(sample, customer_id="account_id").customer_id == "account_id"


def test_a_given_column_that_does_not_exist_is_named() -> None:
    sample = _text(pd.DataFrame({"cust": ["1"], "date": ["2024-01-01"]}))
    with pytest.raises(RoleNotFound, match="--timestamp 'when'"):
        infer_event_roles(sample, timestamp="when")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Yes", "No", "No"], "Yes"),
        (["yes", "no"], "yes"),
        (["True", "False"], "True"),
        (["1.0", "0.0", "0.0"], "1.0"),
        (["1", "0"], "1"),
        (["Churned", "Stayed"], "Churned"),
    ],
)
def test_positive_label_spellings(values: list[str], expected: str) -> None:
    assert positive_label(pd.Series(values)) == expected


def test_an_unclear_label_asks_for_positive() -> None:
    with pytest.raises(RoleNotFound, match="--positive"):
        positive_label(pd.Series(["A", "B"]))
    assert positive_label(pd.Series(["A", "B"]), "b") == "b"
    with pytest.raises(RoleNotFound, match="not among"):
        positive_label(pd.Series(["A", "B"]), "C")


def test_a_bank_snapshot() -> None:
    sample = _text(
        pd.DataFrame(
            {
                "RowNumber": ["1", "2", "3"],
                "CustomerId": ["15634602", "15647311", "15619304"],
                "Surname": ["Hargrave", "Hill", "Onio"],
                "Geography": ["France", "Spain", "France"],
                "Balance": ["0", "83807.86", "159660.8"],
                "Exited": ["1", "0", "1"],
            }
        )
    )
    roles = infer_snapshot_roles(sample, label="Exited", exclude=["RowNumber"])
    assert roles.customer_id == "CustomerId"
    assert roles.positive == "1"
    assert roles.numeric == ("Balance",)
    assert roles.categorical == ("Surname", "Geography")
    assert roles.value == "Balance"


def test_a_snapshot_without_an_id_is_numbered_by_row() -> None:
    sample = _text(pd.DataFrame({"plan": ["a", "b"], "churn": ["yes", "no"]}))
    roles = infer_snapshot_roles(sample, label="churn")
    assert roles.customer_id is None
    assert any("numbered by row" in note for note in roles.notes)


# ---- the messy shapes of tests/messy.py, as a CSV reader would hand them over -------------------


def _as_read(frame: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("spelling", sorted(messy.LABEL_SPELLINGS))
@pytest.mark.parametrize("id_style", ["leading_zeros", "numeric", "none"])
def test_snapshots_of_every_shape(spelling: str, id_style: str, tmp_path: Path) -> None:
    data = messy.snapshot(300, seed=1, spelling=spelling, id_style=id_style, surname=True)
    roles = infer_snapshot_roles(_as_read(data.frame, tmp_path), label=data.label)
    assert roles.customer_id == data.customer_id
    assert roles.positive == str(data.positive)
    assert "Surname" in roles.categorical
    assert "MonthlyFee" in roles.numeric  # blanks in a numeric column keep it numeric


def test_an_anonymised_snapshot(tmp_path: Path) -> None:
    data = messy.snapshot(300, anonymised=True, spelling="1.0/0.0")
    roles = infer_snapshot_roles(_as_read(data.frame, tmp_path), label=data.label)
    assert roles.numeric == ("V1", "V2", "V3", "V4")
    assert roles.categorical == ("V5",)


@pytest.mark.parametrize("fmt", ["%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Y%m%d"])
@pytest.mark.parametrize("amount", [True, False])
def test_event_logs_of_every_shape(fmt: str, amount: bool, tmp_path: Path) -> None:
    log = messy.event_log(60, amount=amount, date_format=fmt)
    roles = infer_event_roles(_as_read(log.events, tmp_path))
    assert (roles.customer_id, roles.timestamp.column) == (log.customer_id, log.timestamp)
    assert roles.timestamp.format == fmt
    assert roles.amount == log.amount


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        # a usage per month is not a charge; the fee is, wherever it stands
        ({"Monthly Usage (GB)": "12.5", "support_tickets": "2", "MonthlyFee": "30"}, "MonthlyFee"),
        # per month before a running total, whatever the order
        ({"TotalCharges": "1200.5", "MonthlyCharges": "70.3"}, "MonthlyCharges"),
        # a salary is the customer's money, not the business's
        ({"EstimatedSalary": "101348.88", "Balance": "83807.86"}, "Balance"),
        ({"arpu_eur": "19.9", "plan_price": "25"}, "arpu_eur"),
        # a refund-signed or anonymised column is no value
        ({"charge_delta": "-4.5", "V14": "0.3"}, None),
        ({"minutes_monthly": "320", "calls": "12"}, None),
    ],
)
def test_the_value_column_is_a_charge_not_a_usage(
    columns: dict[str, str], expected: str | None
) -> None:
    sample = _text(pd.DataFrame({**{c: [v, v] for c, v in columns.items()}, "churn": ["1", "0"]}))
    roles = infer_snapshot_roles(sample, label="churn")
    assert roles.value == expected


def test_a_call_detail_record_log() -> None:
    """A telco's call records: the subscriber is the MSISDN (a phone number, so numeric),
    each call's CHARGE is the amount, and neither the cell nor the number dialled is a
    measure to add up."""
    rng = np.random.default_rng(8)
    n = 400
    log = pd.DataFrame(
        {
            "MSISDN": rng.choice([f"4479{i:08d}" for i in range(60)], n),
            "CALL_START": pd.date_range("2024-01-01", periods=n, freq="37min").strftime(
                "%d/%m/%Y %H:%M:%S"
            ),
            "CALL_TYPE": rng.choice(["VOICE", "SMS", "DATA"], n),
            "DURATION_SEC": rng.integers(0, 900, n),
            "DATA_MB": rng.exponential(40, n).round(2),
            "CELL_ID": rng.integers(1, 500, n),
            "CALLED_NUMBER": rng.choice([f"4420{i:08d}" for i in range(90)], n),
            "CHARGE": rng.exponential(0.3, n).round(2),
        }
    )
    roles = infer_event_roles(_text(log))
    assert roles.customer_id == "MSISDN"
    assert roles.amount == "CHARGE"
    assert roles.measures == ("DURATION_SEC", "DATA_MB")


def test_an_invoice_line_log_s_spend_is_units_times_unit_price_and_its_product_is_mapped() -> None:
    """UCI Online Retail's shape: ``UnitPrice`` is the price of one unit, so the spend of a
    line is ``Quantity`` x ``UnitPrice``, not the price alone; ``StockCode`` is the product."""
    rng = np.random.default_rng(2)
    n = 300
    log = pd.DataFrame(
        {
            "InvoiceNo": [str(536365 + i // 4) for i in range(n)],
            "StockCode": rng.choice([f"{85000 + i}A" for i in range(40)], n),
            "Description": rng.choice(["WHITE HANGING HEART", "CREAM CUPID", "LANTERN"], n),
            "Quantity": rng.integers(1, 24, n),
            "InvoiceDate": pd.date_range("2010-12-01 08:26", periods=n, freq="h").strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "UnitPrice": rng.choice([2.55, 3.39, 0.85, 7.65], n),
            "CustomerID": rng.choice([f"{17850 + i}.0" for i in range(50)], n),
            "Country": "United Kingdom",
        }
    )
    roles = infer_event_roles(_text(log))
    assert (roles.amount, roles.quantity) == ("UnitPrice", "Quantity")
    assert roles.product_id == "StockCode"
    assert "Quantity" not in roles.measures
    # a line total beside the units is the amount itself; a category is no product
    totals = log.assign(LineTotal=log["Quantity"] * log["UnitPrice"]).drop(columns="UnitPrice")
    totals["product_category"] = rng.choice([f"cat{i}" for i in range(30)], n)
    roles = infer_event_roles(_text(totals))
    assert (roles.amount, roles.quantity) == ("LineTotal", None)
    assert roles.product_id == "StockCode"


def test_an_analytics_export_is_timed_by_its_events_not_its_users_first_visit() -> None:
    """GA4's BigQuery export: every row carries the user's first visit beside the event's
    time, both in unix microseconds."""
    rng = np.random.default_rng(2)
    first = 1_704_067_200_000_000 + rng.integers(0, 10**12, 40)
    when = first + rng.integers(0, 10**11, 40)
    sample = _text(
        pd.DataFrame(
            {
                "event_date": pd.to_datetime(when, unit="us").strftime("%Y%m%d"),
                "event_timestamp": when,
                "event_name": rng.choice(["session_start", "page_view", "purchase"], 40),
                "user_pseudo_id": [f"{i % 9}.17040" for i in range(40)],
                "user_first_touch_timestamp": first,
            }
        )
    )
    roles = infer_event_roles(sample)
    assert (roles.customer_id, roles.timestamp.column) == ("user_pseudo_id", "event_timestamp")


def test_a_session_log_in_unix_milliseconds_with_money_named_by_its_currency() -> None:
    """A mobile game's sessions: ``session_start`` in epoch milliseconds, in-app purchases
    in ``iap_usd`` (mostly 0)."""
    rng = np.random.default_rng(3)
    sample = _text(
        pd.DataFrame(
            {
                "player_id": [f"p{i % 11}" for i in range(60)],
                "session_start": 1_704_067_200_000 + rng.integers(0, 10**10, 60),
                "session_length_s": rng.integers(30, 3000, 60),
                "iap_usd": np.where(rng.uniform(size=60) < 0.8, 0.0, 4.99),
            }
        )
    )
    roles = infer_event_roles(sample)
    assert (roles.customer_id, roles.timestamp.column) == ("player_id", "session_start")
    assert roles.timestamp.format is not None and "unix" in roles.timestamp.format
    assert roles.amount == "iap_usd"


def test_measures_are_what_each_event_carries_not_what_the_customer_keeps() -> None:
    """A usage log's numbers to sum per window: plays by share listened (KKBox's ``num_25``:
    a leading count word is no id) and seconds, and a sparse purchase; not the contract
    account every row repeats, a card's last digits, nor a meter reading that only grows
    (each summed counts the same thing again on every row)."""
    rng = np.random.default_rng(4)
    rows = []
    for c in range(30):
        day, meter = pd.Timestamp("2024-01-01"), float(rng.integers(1000, 5000))
        for _ in range(int(rng.integers(3, 8))):
            day += pd.Timedelta(days=int(rng.integers(1, 20)))
            meter += float(rng.integers(50, 400))
            rows.append(
                {
                    "msno": f"u{c:03d}",
                    "date": day.strftime("%Y-%m-%d"),
                    "num_25": int(rng.integers(0, 30)),
                    "total_secs": round(float(rng.uniform(100, 9000)), 1),
                    "purchase_usd": 4.99 if rng.uniform() < 0.1 else 0.0,
                    "Vertragskonto": 400_000_000_000 + c * 7919,
                    "Card Last4": 1000 + (c * 37) % 9000,
                    "Zaehlerstand": meter,
                }
            )
    roles = infer_event_roles(_text(pd.DataFrame(rows)), amount="purchase_usd")
    assert set(roles.measures) == {"num_25", "total_secs"}


def test_a_type_column_of_one_value_gives_way_to_the_payment_status() -> None:
    """Stripe's payments export: `Payment Source Type` is `card` on every row, the `Status`
    tells paid from failed and refunded payments."""
    n = 40
    sample = _text(
        pd.DataFrame(
            {
                "id": [f"ch_{i:04d}" for i in range(n)],
                "Created (UTC)": [
                    f"2023-{1 + i % 12:02d}-{1 + i % 27:02d} 06:35" for i in range(n)
                ],
                "Amount": ["19.00"] * n,
                "Status": ["Paid"] * (n - 6) + ["Failed"] * 4 + ["Refunded"] * 2,
                "Customer ID": [f"cus_{i % 9}" for i in range(n)],
                "Payment Source Type": ["card"] * n,
            }
        )
    )
    roles = infer_event_roles(sample)
    assert roles.event_type == "Status"
    alone = sample.drop(columns=["Status"])
    assert infer_event_roles(alone).event_type == "Payment Source Type"  # nothing better


def test_money_beside_the_amount_is_no_usage_measure() -> None:
    """Shopify's orders export: the subtotal, shipping, taxes and refunds are money, not a
    usage to sum per window; the units of a line are."""
    n = 40
    sample = _text(
        pd.DataFrame(
            {
                "Name": [f"#{1001 + i}" for i in range(n)],
                "Email": [f"c{i % 8}@shop.com" for i in range(n)],
                "Created at": [
                    f"2024-{1 + i % 12:02d}-{1 + i % 27:02d} 10:11:12 -0500" for i in range(n)
                ],
                "Total": [f"{20 + i * 1.5:.2f}" for i in range(n)],
                "Subtotal": [f"{18 + i * 1.5:.2f}" for i in range(n)],
                "Shipping": [f"{(i % 3) * 4.99:.2f}" for i in range(n)],
                "Taxes": [f"{1.2 + i * 0.1:.2f}" for i in range(n)],
                "Refunded Amount": [f"{20 if i % 9 == 0 else 0:.2f}" for i in range(n)],
                "Lineitem quantity": [str(1 + (i * 7) % 5) for i in range(n)],
            }
        )
    )
    roles = infer_event_roles(sample)
    assert roles.amount == "Total"
    assert roles.measures == ("Lineitem quantity",)
