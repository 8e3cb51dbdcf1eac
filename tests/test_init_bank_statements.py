"""``churn init`` on a bank's transactions (the PKDD'99 Czech bank's ``trans.asc``: ``;``
separated, quoted text, dates as ``930101``, ``PRIJEM`` credits and ``VYDAJ`` withdrawals, the
account's ``balance`` after each one): the running balance is a level, not usage to add up."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.money_flows import flow_sides
from tests.test_init import export, init, project, written


def czech_bank_like(n_accounts: int = 120, seed: int = 21) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("1993-01-01")
    rows = []
    for account in range(1, n_accounts + 1):
        balance, day = 1000.0, float(rng.uniform(0, 300))
        last = day + float(rng.exponential(900))
        while day < min(last, 6 * 365):
            credit = bool(rng.random() < 0.45)
            amount = round(float(rng.gamma(2, 3000)), 1)
            balance += amount if credit else -amount
            rows.append(
                {
                    "trans_id": len(rows) + 1,
                    "account_id": account,
                    "date": int((start + pd.Timedelta(days=int(day))).strftime("%y%m%d")),
                    "type": "PRIJEM" if credit else "VYDAJ",
                    "operation": str(rng.choice(["VKLAD", "VYBER", "PREVOD NA JINOU BANKU"])),
                    "amount": amount,
                    "balance": round(balance, 1),
                    "k_symbol": str(rng.choice(["", "SIPO", "UROK", "POJISTNE"])),
                }
            )
            day += float(rng.exponential(8))
    return pd.DataFrame(rows)


def test_a_running_balance_is_no_measure_and_said_so(tmp_path: Path) -> None:
    log = czech_bank_like()
    path = export(tmp_path, log, "trans.asc", sep=";", quoting=csv.QUOTE_NONNUMERIC)
    root = project(tmp_path / "p")
    code, out = init(root, "bank", "--events", str(path))
    assert code == 0, out
    source = written(root, "bank")["data"]["events"]["sources"][0]
    assert source["columns"]["timestamp"] == "date"
    assert "balance" not in source.get("measures", [])
    assert "'balance' left out: a balance after each event is a level" in " ".join(out.split())


def test_a_customers_tables_one_bare_date_is_the_signup(tmp_path: Path) -> None:
    """The bank's ``account.asc``: ``account_id;district_id;frequency;date``, its ``date``
    (930101) the day the account was opened. Init mapped it as an attribute, read at ingest
    as the number 930101."""
    log = czech_bank_like()
    rng = np.random.default_rng(22)
    accounts = pd.DataFrame(
        {
            "account_id": range(1, 121),
            "district_id": rng.integers(1, 78, 120),
            "frequency": rng.choice(["POPLATEK MESICNE", "POPLATEK TYDNE"], 120),
            "date": [
                int((pd.Timestamp("1992-06-01") + pd.Timedelta(days=int(d))).strftime("%y%m%d"))
                for d in rng.integers(0, 200, 120)
            ],
        }
    )
    quoted = {"sep": ";", "quoting": csv.QUOTE_NONNUMERIC}
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "bank",
        "--events",
        str(export(tmp_path, log, "trans.asc", **quoted)),
        "--customers",
        str(export(tmp_path, accounts, "account.asc", **quoted)),
    )
    assert code == 0, out
    table = written(root, "bank")["data"]["customers"]["sources"][0]
    assert table["columns"]["signup_date"] == "date"
    assert table["timestamp_format"] == "%y%m%d"
    assert "date" not in table["attributes"].values()
    assert "'date' is the table's one date, taken for the day each customer signed up" in (
        " ".join(out.split())
    )


def test_money_in_and_out_are_told_by_the_balance() -> None:
    """Both kinds of rows carry a positive amount: the balance alone says which is which."""
    log = czech_bank_like()
    ins, outs = flow_sides(
        log["type"],
        log["amount"],
        log["balance"],
        log["account_id"],
        pd.to_datetime(log["date"].astype(str), format="%y%m%d"),
    )
    assert (ins, outs) == (("PRIJEM",), ("VYDAJ",))
    same = log.assign(balance=log["balance"].sample(frac=1, random_state=1).to_numpy())
    assert flow_sides(
        same["type"], same["amount"], same["balance"], same["account_id"], same["date"]
    ) == ((), ())


def test_init_says_both_ways_count_as_spend(tmp_path: Path) -> None:
    path = export(tmp_path, czech_bank_like(), "trans.asc", sep=";", quoting=csv.QUOTE_NONNUMERIC)
    root = project(tmp_path / "p")
    code, out = init(root, "bank", "--events", str(path))
    assert code == 0, out
    said = " ".join(out.split())
    assert "'balance' rises by 'amount' on 'type' 'PRIJEM' rows (money in)" in said
    assert "falls by it on 'VYDAJ' rows (money out)" in said
