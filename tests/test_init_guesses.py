"""``churn init --snapshot`` without ``--label``: the churn label found by its name and its two
values, and the churned value read however exports write it (``True.``, ``Attrited
Customer``), so public snapshots initialise with one command or say which flag to give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import RoleNotFound, infer_event_roles, label_column, positive_label
from churn.init.sniff import file_format
from tests.test_excel_sources import workbook
from tests.test_init import export, init, project, written


def snapshot(n: int, seed: int, label: str, values: tuple[str, str]) -> pd.DataFrame:
    """A snapshot whose ``label`` column holds ``values`` (churned, stayed), driven by calls."""
    rng = np.random.default_rng(seed)
    calls = rng.poisson(1.5, n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(calls - 3.0)))
    return pd.DataFrame(
        {
            "Account": [f"A{i:05d}" for i in range(n)],
            "State": rng.choice(["KS", "OH", "NJ"], n),
            "Service Calls": calls,
            label: np.where(churned, values[0], values[1]),
        }
    )


@pytest.mark.parametrize(
    ("values", "churned"),
    [
        (["False.", "True."], "True."),
        (["Existing Customer", "Attrited Customer"], "Attrited Customer"),
        (["no", "YES"], "YES"),
        (["0", "1"], "1"),
    ],
)
def test_the_churned_value_is_read_as_exports_write_it(values: list[str], churned: str) -> None:
    assert positive_label(pd.Series(values * 3)) == churned


def test_a_negated_value_is_not_taken_for_churned() -> None:
    with pytest.raises(RoleNotFound, match="--positive"):
        positive_label(pd.Series(["Churned", "Not churned"]))


@pytest.mark.parametrize(
    ("columns", "found"),
    [
        ({"Churn?": ["True.", "False."], "Calls": ["1", "2"]}, "Churn?"),
        ({"Attrition_Flag": ["Attrited Customer", "Existing Customer"]}, "Attrition_Flag"),
        ({"Exited": ["1", "0"], "Tenure": ["3", "4"]}, "Exited"),
        (  # several columns writing one split: the first
            {"Churn Label": ["Yes", "No"], "Churn Value": ["1", "0"], "Churn Score": ["80", "20"]},
            "Churn Label",
        ),
    ],
)
def test_the_label_is_found_by_name_and_two_values(columns: dict, found: str) -> None:
    assert label_column(pd.DataFrame(columns)) == found


def test_two_different_labels_or_none_name_the_flag() -> None:
    two = pd.DataFrame({"Churn": ["Yes", "No", "No"], "Exited": ["1", "1", "0"]})
    with pytest.raises(RoleNotFound, match=r"\['Churn', 'Exited'\].*--label"):
        label_column(two)
    with pytest.raises(RoleNotFound, match=r"no column is named like a churn label.*--label"):
        label_column(pd.DataFrame({"Status": ["a", "b", "a"], "Churn Score": ["1", "2", "3"]}))


def test_a_snapshot_initialises_without_label_and_the_guess_is_said(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, snapshot(300, 4, "Churn?", ("True.", "False.")), "calls.csv")
    code, out = init(root, "calls", "--snapshot", str(path))
    assert code == 0, out
    assert "Churn?  (guessed)" in out and "True.  (guessed)" in out
    snap = written(root, "calls")["data"]["snapshot"]
    assert snap["source"]["columns"]["label"] == "Churn?"
    assert snap["positive_label"] == "True."


def test_a_snapshot_without_a_label_like_column_names_the_flag(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    path = export(tmp_path, snapshot(50, 5, "Outcome", ("Gone", "Here")), "s.csv")
    code, out = init(root, "s", "--snapshot", str(path))
    assert code != 0
    assert "s.csv" in out and "Give --label COLUMN" in out


def test_a_workbook_with_a_data_dictionary_first_reads_its_data_sheet(tmp_path: Path) -> None:
    """Kaggle-style workbooks put a data dictionary sheet before the data: init takes the
    sheet with the most rows, names it in the params, and does not take a cashback for a
    charge."""
    data = snapshot(200, 6, "Churn", ("1", "0")).assign(CashbackAmount=12.5)
    glossary = pd.DataFrame({"Variable": ["Churn", "Account"], "Meaning": ["flag", "id"]})
    path = workbook(tmp_path / "E Commerce.xlsx", {"Data Dict": glossary, "E Comm": data})
    assert file_format(path).sheet == "E Comm"
    root = project(tmp_path / "p")
    code, out = init(root, "ecom", "--snapshot", str(path))
    assert code == 0, out
    snap = written(root, "ecom")["data"]["snapshot"]
    assert snap["source"]["sheet"] == "E Comm"
    assert snap["source"]["columns"]["label"] == "Churn" and snap["positive_label"] == "1"
    assert "value" not in snap["source"]["columns"]


def test_a_subscription_log_takes_the_payment_date_and_the_amount_paid() -> None:
    """A music service's transactions (KKBox's shape): dates as 20150101 integers, a
    membership expiry beside the transaction date, and a payment method id, a list price and
    the amount actually paid among the money-named columns."""
    sample = pd.DataFrame(
        {
            "msno": ["a", "b", "a", "c"],
            "payment_method_id": ["41", "38", "41", "39"],
            "payment_plan_days": ["30", "30", "30", "7"],
            "plan_list_price": ["149", "149", "149", "35"],
            "actual_amount_paid": ["149", "0", "149", "35"],
            "transaction_date": ["20150101", "20150203", "20150201", "20160115"],
            "membership_expire_date": ["20150131", "20150305", "20150303", "20160122"],
        }
    )
    roles = infer_event_roles(sample, customer_id="msno")
    assert roles.timestamp.column == "transaction_date"
    assert roles.timestamp.format == "%Y%m%d"
    assert roles.amount == "actual_amount_paid"


def test_a_listening_log_has_no_amount() -> None:
    """KKBox's user_logs: ``total_secs`` is time listened and ``num_25`` a count of songs;
    neither is money, so the log has no amount rather than seconds summed as spend."""
    sample = pd.DataFrame(
        {
            "msno": ["a", "b", "a", "c"],
            "date": ["20150101", "20150101", "20150102", "20150102"],
            "num_25": ["3", "0", "12", "1"],
            "num_unq": ["20", "3", "41", "7"],
            "total_secs": ["6321.5", "801.2", "11234.9", "1500.0"],
        }
    )
    roles = infer_event_roles(sample, customer_id="msno")
    assert roles.timestamp.column == "date"
    assert roles.amount is None


def test_an_expiry_alone_is_still_the_timestamp() -> None:
    sample = pd.DataFrame({"user_id": ["1", "1", "2"], "expiry": ["2024-01-01"] * 3})
    assert infer_event_roles(sample).timestamp.column == "expiry"
