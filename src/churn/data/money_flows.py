"""Money in and money out of a bank statement, told by its running balance.

A bank's transactions are written with positive amounts both ways and a column saying which
(the PKDD'99 Czech bank's ``type``: ``PRIJEM`` credits, ``VYDAJ`` withdrawals; ``CREDIT``,
``DEBIT`` elsewhere), in any language. The balance after each row says it in numbers: from one
row of a customer to the next it rises by the amount of money in and falls by the amount of
money out. Pure: a sample's columns in, the values of the type on each side out."""

from __future__ import annotations

import pandas as pd

MIN_FLOW_ROWS = 5
"""Fewest rows of a type, following another row of the same customer, to tell its side."""
MIN_FLOW_SHARE = 0.9
"""Share of those rows whose balance moves by the amount, in one direction, to tell its side."""


def flow_sides(
    types: pd.Series,
    amounts: pd.Series,
    balances: pd.Series,
    customers: pd.Series,
    times: pd.Series,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(types of money in, types of money out): each value of ``types`` whose rows, after
    another row of the same customer (in time, then file order), move ``balances`` up (down)
    by their ``amounts`` on :data:`MIN_FLOW_SHARE` of :data:`MIN_FLOW_ROWS` or more. Both
    empty unless some type goes each way. ``amounts`` and ``balances`` as numbers, ``times``
    parsed; all on the same index."""
    rows = pd.DataFrame(
        {
            "type": types.astype("string").str.strip(),
            "amount": amounts,
            "balance": balances,
            "customer": customers.astype("string").str.strip(),
            "time": times,
            "order": range(len(types)),
        }
    ).dropna()
    rows = rows.sort_values(["customer", "time", "order"])
    change = rows.groupby("customer")["balance"].diff()
    amount = rows["amount"].abs()
    close = (amount * 0.01).clip(lower=0.01)
    rows = rows.assign(up=(change - amount).abs() <= close, down=(change + amount).abs() <= close)[
        change.notna() & amount.gt(0)
    ]
    sides = rows.groupby("type")[["up", "down"]].agg(["mean", "size"])
    ins, outs = [], []
    for value, row in sides.iterrows():
        if row[("up", "size")] < MIN_FLOW_ROWS:
            continue
        if row[("up", "mean")] >= MIN_FLOW_SHARE:
            ins.append(str(value))
        elif row[("down", "mean")] >= MIN_FLOW_SHARE:
            outs.append(str(value))
    return (tuple(ins), tuple(outs)) if ins and outs else ((), ())
