"""``churn init`` on snapshots whose integer columns are not measurements: a row number
(Kaggle's bank churn ``RowNumber``, the ``Unnamed: 0`` pandas writes with its index) became a
model feature and a reason code ("Row number is 7421"); a numeric client code with no id word
(BankChurners' ``CLIENTNUM``) was a feature while customers were numbered row_1, row_2, ..., so
the CRM files could not be matched to anyone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.number_columns import numeric_codes, row_numbers
from tests.test_init import export, init, project, written


def _text(**columns: object) -> pd.DataFrame:
    """A sample as init reads one: every cell text."""
    return pd.DataFrame(columns).astype("string")


def test_consecutive_integers_in_file_order_are_row_numbers() -> None:
    n = 50
    sample = _text(
        from_one=np.arange(1, n + 1),
        from_zero=np.arange(n),
        later_chunk=np.arange(1001, 1001 + n),
        gapped=np.arange(0, 2 * n, 2),
        shuffled=np.random.default_rng(1).permutation(n),
        counts=np.random.default_rng(2).integers(0, 9, n),
        decimals=[f"{i}.5" for i in range(n)],
    )
    assert row_numbers(sample, list(sample.columns)) == ["from_one", "from_zero", "later_chunk"]


@pytest.mark.parametrize("name", ["Unnamed: 0", "index", "level_0"])
def test_the_index_pandas_writes_is_a_row_number_in_any_order(name: str) -> None:
    sample = _text(**{name: np.random.default_rng(3).permutation(40), "x": np.arange(40) % 7})
    assert row_numbers(sample, list(sample.columns)) == [name]


def test_a_few_rows_or_a_blank_make_no_row_number() -> None:
    assert row_numbers(_text(n=np.arange(1, 6)), ["n"]) == []
    blank = _text(n=np.arange(1, 41)).astype(object)
    blank.loc[7, "n"] = ""
    assert row_numbers(blank, ["n"]) == []


def test_a_numeric_code_is_one_width_and_distinct_on_every_row() -> None:
    rng = np.random.default_rng(4)
    n = 60
    code = rng.choice(np.arange(708_000_000, 829_000_000), n, replace=False)
    repeated = code.copy()
    repeated[5] = repeated[6]
    blank = code.astype(str).astype(object)
    blank[3] = ""
    sample = _text(
        CLIENTNUM=code,
        widths=rng.choice(np.arange(1, 10**7), n, replace=False),  # 1 to 7 digits
        salary=[f"{v:.2f}" for v in rng.uniform(1e4, 2e5, n)],
        repeated=repeated,
        blank=blank,
        short=rng.choice(np.arange(1000, 10000), n, replace=False),  # 4 digits
        row=np.arange(10_001, 10_001 + n),
    )
    assert numeric_codes(sample, list(sample.columns)) == ["CLIENTNUM"]


def _bank(n: int, seed: int) -> pd.DataFrame:
    """Kaggle's Churn_Modelling.csv: a row number, a named id, a surname, traits, Exited."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 92, n)
    active = rng.integers(0, 2, n)
    logit = -2.0 + 0.06 * (age - 38) - 0.9 * active
    return pd.DataFrame(
        {
            "RowNumber": np.arange(1, n + 1),
            "CustomerId": rng.choice(np.arange(15_565_701, 15_815_690), n, replace=False),
            "Surname": rng.choice(["Hargrave", "Hill", "Onio", "Boni", "Mitchell", "Chu"], n),
            "CreditScore": rng.integers(350, 851, n),
            "Geography": rng.choice(["France", "Spain", "Germany"], n),
            "Age": age,
            "Balance": np.where(rng.random(n) < 0.35, 0.0, rng.normal(1.2e5, 3e4, n)).round(2),
            "IsActiveMember": active,
            "Exited": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def test_a_row_number_is_left_out_of_the_attributes_and_said(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    code, out = init(root, "bank", "--snapshot", str(export(tmp_path, _bank(300, 1), "b.csv")))
    assert code == 0, out
    assert "left out 'RowNumber': row numbers" in out
    source = written(root, "bank")["data"]["snapshot"]["source"]
    assert source["columns"]["customer_id"] == "CustomerId"
    assert "RowNumber" not in source["attributes"].values()
    assert "Age" in source["attributes"].values()
    params = (root / "pipelines/bank/params.yaml").read_text(encoding="utf-8")
    assert "charge_feature: balance   # check: a balance, counted once" in params


def test_the_index_pandas_wrote_is_left_out(tmp_path: Path) -> None:
    frame = _bank(300, 2).drop(columns=["RowNumber"]).sample(frac=1, random_state=3)
    path = tmp_path / "with_index.csv"
    frame.to_csv(path)  # the index as an unnamed first column, shuffled
    root = project(tmp_path / "p")
    code, out = init(root, "bank", "--snapshot", str(path))
    assert code == 0, out
    assert "left out 'Unnamed: 0': row numbers" in out
    assert "Unnamed: 0" not in written(root, "bank")["data"]["snapshot"]["source"]["attributes"]


def test_a_row_number_named_as_the_id_stays_the_id(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, _bank(300, 4).drop(columns=["CustomerId"]), "b.csv")
    code, out = init(root, "bank", "--snapshot", str(path), "--customer-id", "RowNumber")
    assert code == 0, out
    assert "left out 'RowNumber'" not in out
    source = written(root, "bank")["data"]["snapshot"]["source"]
    assert source["columns"]["customer_id"] == "RowNumber"


def test_a_numeric_client_code_is_the_id_by_its_values(tmp_path: Path) -> None:
    """BankChurners: CLIENTNUM has no id word; the CRM files are keyed on it, not row_N."""
    frame = _bank(300, 5).drop(columns=["RowNumber", "CustomerId", "Surname"])
    rng = np.random.default_rng(6)
    frame.insert(0, "CLIENTNUM", rng.choice(np.arange(708_082_083, 828_343_083), 300))
    root = project(tmp_path / "p")
    code, out = init(root, "cards", "--snapshot", str(export(tmp_path, frame, "c.csv")))
    assert code == 0, out
    assert "'CLIENTNUM' was taken for one by its values" in out
    source = written(root, "cards")["data"]["snapshot"]["source"]
    assert source["columns"]["customer_id"] == "CLIENTNUM"
    assert "CLIENTNUM" not in source["attributes"].values()


def test_an_id_numbered_in_file_order_stays_the_id(tmp_path: Path) -> None:
    """Kaggle's E Commerce churn workbook: CustomerID 50001, 50002, ... in file order."""
    frame = _bank(300, 7).drop(columns=["RowNumber", "CustomerId", "Surname"])
    frame.insert(0, "CustomerID", np.arange(50_001, 50_301))
    root = project(tmp_path / "p")
    code, out = init(root, "ecom", "--snapshot", str(export(tmp_path, frame, "e.csv")))
    assert code == 0, out
    assert "row numbers" not in out
    assert written(root, "ecom")["data"]["snapshot"]["source"]["columns"]["customer_id"] == (
        "CustomerID"
    )


def _employees(n: int, seed: int) -> pd.DataFrame:
    """IBM's HR attrition export: an EmployeeNumber with gaps, constant columns, Attrition."""
    rng = np.random.default_rng(seed)
    overtime = rng.choice(["Yes", "No"], n, p=[0.3, 0.7])
    p = 1 / (1 + np.exp(-(-2.0 + 1.3 * (overtime == "Yes"))))
    return pd.DataFrame(
        {
            "Age": rng.integers(18, 61, n),
            "Attrition": np.where(rng.random(n) < p, "Yes", "No"),
            "EmployeeCount": 1,
            "EmployeeNumber": np.sort(rng.choice(np.arange(1, 2 * n), n, replace=False)),
            "Over18": "Y",
            "OverTime": overtime,
            "StandardHours": 80,
        }
    )


def test_a_key_named_column_distinct_on_every_row_is_the_id(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, _employees(400, seed=8), "hr.csv")
    code, out = init(root, "hr", "--snapshot", str(path))
    assert code == 0, out
    assert "'EmployeeNumber' was taken for one (named like a key" in out
    source = written(root, "hr")["data"]["snapshot"]["source"]
    assert source["columns"]["customer_id"] == "EmployeeNumber"


def test_columns_with_one_value_everywhere_are_left_out(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, _employees(400, seed=9), "hr.csv")
    code, out = init(root, "hr", "--snapshot", str(path))
    assert code == 0, out
    assert "left out 'EmployeeCount', 'Over18', 'StandardHours': one value on every row" in out
    attributes = written(root, "hr")["data"]["snapshot"]["source"]["attributes"]
    assert set(attributes.values()) == {"Age", "OverTime"}


def test_one_value_in_the_first_rows_of_a_larger_file_is_kept(tmp_path: Path) -> None:
    frame = _employees(6_000, seed=10)  # more rows than init's sample
    frame.loc[5_500:, "Over18"] = "N"  # the value changes after the sample
    root = project(tmp_path / "p")
    code, out = init(root, "hr", "--snapshot", str(export(tmp_path, frame, "hr.csv")))
    assert code == 0, out
    assert "one value on every row" not in out
    assert "Over18" in written(root, "hr")["data"]["snapshot"]["source"]["attributes"].values()


def test_a_customer_id_that_repeats_is_no_key_and_no_feature(tmp_path: Path) -> None:
    """Kaggle's playground bank churn (synthetic): a row ``id`` and a ``CustomerId`` drawn
    again and again. The repeating CustomerId had become a numeric feature."""
    bank = _bank(400, 2).rename(columns={"RowNumber": "id"})
    bank["id"] -= 1
    bank["CustomerId"] = np.random.default_rng(2).integers(15_565_701, 15_565_901, len(bank))
    root = project(tmp_path / "p")
    code, out = init(root, "pg", "--snapshot", str(export(tmp_path, bank, "train.csv")))
    assert code == 0, out
    assert "left out 'CustomerId': named like the customer id but repeating" in out
    source = written(root, "pg")["data"]["snapshot"]["source"]
    assert "customer_id" not in source["columns"]  # rows numbered
    assert {"CustomerId", "id"}.isdisjoint(source["attributes"].values())
    assert "Age" in source["attributes"].values()
