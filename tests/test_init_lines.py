"""``churn init`` on invoice lines (UCI Online Retail's shape): the spend of a line is its
units times the unit price, and the product of each line is mapped, so that the value model
and the product features read what was bought."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

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
