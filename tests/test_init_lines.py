"""``churn init`` on invoice lines (UCI Online Retail's shape): the spend of a line is its
units times the unit price, and the product of each line is mapped, so that the value model
and the product features read what was bought."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn.init.event_kinds import return_prefix
from tests.test_init import export, init, project, written


def _lines(n_customers: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        day = pd.Timestamp("2010-12-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
        while day < pd.Timestamp("2011-12-09"):
            invoice = f"{536365 + len(rows)}"
            for _ in range(int(rng.integers(1, 5))):
                rows.append(
                    {
                        "InvoiceNo": invoice,
                        "StockCode": f"{85000 + int(rng.integers(0, 60))}A",
                        "Quantity": int(rng.integers(1, 24)),
                        "InvoiceDate": day.strftime("%Y-%m-%d %H:%M:%S"),
                        "UnitPrice": float(rng.choice([2.55, 3.39, 0.85, 7.65])),
                        "CustomerID": f"{17850 + c}",
                    }
                )
            day += pd.Timedelta(days=int(rng.exponential(40)) + 1)
    return pd.DataFrame(rows)


def test_init_maps_units_unit_price_and_product(tmp_path: Path) -> None:
    root = project(tmp_path)
    code, output = init(root, "lines", "--events", str(export(tmp_path, _lines(80, 1), "l.csv")))
    assert code == 0, output
    assert "Quantity x UnitPrice" in output
    columns = written(root, "lines")["data"]["events"]["sources"][0]["columns"]
    assert columns["quantity"] == "Quantity" and columns["unit_price"] == "UnitPrice"
    assert "amount" not in columns
    assert columns["product_id"] == "StockCode"


def test_a_cancelled_invoice_s_lines_are_returns(tmp_path: Path) -> None:
    """Online Retail writes a cancellation as an invoice "C536379" whose lines have negative
    units. Init writes the rule that makes them returns: they are no purchase, they feed the
    return features, and spend is net of them."""
    lines = _lines(80, 2)
    cancelled = lines.sample(frac=0.05, random_state=3).index
    lines.loc[cancelled, "InvoiceNo"] = "C" + lines.loc[cancelled, "InvoiceNo"]
    lines.loc[cancelled, "Quantity"] = -lines.loc[cancelled, "Quantity"]
    root = project(tmp_path)
    code, output = init(root, "lines", "--events", str(export(tmp_path, lines, "l.csv")))
    assert code == 0, output
    assert "lines of an order id starting with 'C' are returns" in output
    params = written(root, "lines")
    assert params["data"]["events"]["event_type_rules"] == [
        {"column": "order_id", "startswith": "C", "event_type": "return"}
    ]
    assert params["labels"]["activity_event_types"] == ["purchase"]
    assert params["features"]["return_event_types"] == ["return"]


def test_no_rule_without_a_prefix_that_only_negative_lines_carry() -> None:
    ids = pd.Series(["536365", "C536366", "C536367", "C536368", "536369", "536370"])
    units = pd.Series([6, -1, -2, -3, 4, 5])
    assert return_prefix(ids, units) == "C"
    assert return_prefix(ids, units.abs()) is None  # no negative line: nothing to tell from
    mixed = pd.Series(["C1", "C2", "C3", "C4", "C5", "C6"])  # every invoice starts with C
    assert return_prefix(mixed, units) is None


def test_a_money_named_count_of_items_is_not_the_spend() -> None:
    """Ta-Feng's lines: AMOUNT is how many items (whole numbers, mostly 1 to 3), SALES_PRICE
    what the line cost. The spend is SALES_PRICE, whichever comes first in the file."""
    from churn.data.inference import infer_event_roles  # noqa: PLC0415

    rng = np.random.default_rng(8)
    n = 400
    items = rng.choice([1, 1, 1, 1, 2, 2, 2, 3, 4, 12], n)
    sample = pd.DataFrame(
        {
            "TRANSACTION_DT": [f"11/{1 + i % 28}/2000" for i in range(n)],
            "CUSTOMER_ID": [f"{rng.integers(10**7):08d}" for _ in range(n)],
            "AGE_GROUP": rng.choice(["<25", "25-29", "30-34"], n),
            "PIN_CODE": rng.choice(["105", "115", "221"], n),
            "PRODUCT_SUBCLASS": rng.integers(100000, 110000, n).astype(str),
            "PRODUCT_ID": rng.integers(4710000000000, 4719999999999, n).astype(str),
            "AMOUNT": items.astype(str),
            "ASSET": (items * rng.integers(20, 300, n)).astype(str),
            "SALES_PRICE": (items * rng.integers(25, 400, n)).astype(str),
        }
    )
    assert infer_event_roles(sample).amount == "SALES_PRICE"
    cheap = sample.assign(AMOUNT=(items * 3.5).astype(str))  # money after all: not whole
    assert infer_event_roles(cheap).amount == "AMOUNT"
