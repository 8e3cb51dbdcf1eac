"""Generated datasets shaped like real company exports rather than like the bundled data:
anonymised or oddly named columns, labels spelled every way, ids with leading zeros or none at
all, a surname column, a planted leak, event logs without amounts, one-time buyers, a second
table to join. Each generator is seeded and returns plain frames; tests write them as files.

The churn signal is real but moderate (what a model should find, with a ROC AUC well below 1),
so a leak stands out and an honest model does not look like one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LABEL_SPELLINGS: dict[str, tuple[object, object]] = {
    "Yes/No": ("Yes", "No"),
    "yes/no": ("yes", "no"),
    "True/False": (True, False),
    "1.0/0.0": (1.0, 0.0),
    "'1'/'0'": ("1", "0"),
    "Churned/Stayed": ("Churned", "Stayed"),
}


@dataclass(frozen=True)
class Snapshot:
    """A snapshot export: one row per customer, a label column and attributes."""

    frame: pd.DataFrame
    label: str
    positive: object
    customer_id: str | None
    leaks: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Other tables of the same export (e.g. a demographics table keyed by customer id)."""


def _risk(rng: np.random.Generator, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Latent drivers and a churn outcome that depends on them, at about a 25 % rate."""
    drivers = {
        "usage": rng.gamma(2.0, 10.0, n),
        "tickets": rng.poisson(1.0, n).astype(float),
        "tenure": rng.integers(1, 72, n).astype(float),
        "charge": rng.normal(60, 20, n).clip(10, None),
        "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2]),
    }
    logit = (
        -1.2
        - 0.04 * drivers["usage"]
        + 0.5 * drivers["tickets"]
        - 0.03 * drivers["tenure"]
        + 0.015 * (drivers["charge"] - 60)
        + np.where(drivers["plan"] == "basic", 0.5, 0.0)
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    return churned, drivers


def snapshot(
    n: int = 1500,
    *,
    seed: int = 0,
    spelling: str = "Yes/No",
    anonymised: bool = False,
    id_style: str = "leading_zeros",
    surname: bool = False,
    leak: bool = False,
    blanks: bool = True,
    extra_table: bool = False,
) -> Snapshot:
    """A subscriber snapshot. ``id_style``: 'leading_zeros' ("000123"), 'numeric' (17-digit
    integers), or 'none' (no id column). ``anonymised`` names the attributes V1..Vn."""
    rng = np.random.default_rng(seed)
    churned, d = _risk(rng, n)
    yes, no = LABEL_SPELLINGS[spelling]
    names = (
        {"usage": "V1", "tickets": "V2", "tenure": "V3", "charge": "V4", "plan": "V5"}
        if anonymised
        else {
            "usage": "Monthly Usage (GB)",
            "tickets": "support_tickets",
            "tenure": "TenureYears" if seed % 2 else "months_active",
            "charge": "MonthlyFee",
            "plan": "Plan Type",
        }
    )
    frame = pd.DataFrame({names[k]: v for k, v in d.items()})
    if names["tenure"] == "TenureYears":
        frame[names["tenure"]] = (d["tenure"] / 12).round(1)
    if blanks:  # a few blank cells, as spreadsheets export them
        cells = rng.random(n) < 0.02
        frame[names["charge"]] = frame[names["charge"]].round(2).astype(object)
        frame.loc[cells, names["charge"]] = ""
    id_column = None
    if id_style == "leading_zeros":
        id_column = "Customer Number"
        frame.insert(0, id_column, [f"{i:06d}" for i in rng.permutation(n) + 1])
    elif id_style == "numeric":
        id_column = "AccountId"
        frame.insert(0, id_column, 10**16 + rng.choice(10**15, n, replace=False))
    leaks: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    if surname:
        pool = [
            f"{a}{b}"
            for a in ("Ha", "Mo", "Li", "Sa", "Ko", "Be", "Da")
            for b in ("rgrave", "ore", "nton", "lvi", "walski", "cker", "vies", "rtin", "ng")
        ]
        frame["Surname"] = [f"{pool[i % len(pool)]}{i // len(pool)}" for i in rng.integers(0, n, n)]
        identifiers = ("Surname",)
    label = "Churn" if not anonymised else "target"
    frame[label] = np.where(churned, yes, no)
    if leak:  # the label's twin, a vendor score and a reason blank for everyone who stayed
        frame["Churn Score"] = np.where(churned, rng.integers(70, 100, n), rng.integers(0, 60, n))
        frame["Churn Reason"] = np.where(churned, rng.choice(["Price", "Competitor"], n), "")
        leaks = ("Churn Score", "Churn Reason")
    extra = {}
    if extra_table and id_column is not None:
        extra["demographics"] = pd.DataFrame(
            {id_column: frame[id_column], "Region": rng.choice(["N", "S", "E", "W"], n)}
        )
    return Snapshot(frame, label, yes, id_column, leaks, identifiers, extra)


@dataclass(frozen=True)
class EventLog:
    """An event export: one row per event, and optionally a customers table."""

    events: pd.DataFrame
    customer_id: str
    timestamp: str
    amount: str | None
    customers: pd.DataFrame | None = None


def event_log(
    n_customers: int = 400,
    *,
    seed: int = 0,
    amount: bool = True,
    one_time_share: float = 0.3,
    customers_table: bool = False,
    date_format: str = "%Y-%m-%d %H:%M",
    start: str = "2022-01-01",
    days: int = 730,
) -> EventLog:
    """Purchases over ``days`` from ``start``: each customer buys at their own rate until they
    lapse; ``one_time_share`` of them buy once and never again (an export's long tail)."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start)
    rows = []
    for c in range(n_customers):
        cid = f"{c + 1:05d}"
        first = float(rng.integers(0, days - 60))
        if rng.random() < one_time_share:
            rows.append((cid, first, rng.gamma(2, 15)))
            continue
        life = rng.exponential(days / 2)
        gap = rng.uniform(7, 60)
        day = first
        while day <= min(days - 1, first + life):
            rows.append((cid, day, rng.gamma(2, 15)))
            day += rng.exponential(gap)
    frame = pd.DataFrame(rows, columns=["client ref", "day", "spend"])
    stamps = origin + pd.to_timedelta(frame["day"], unit="D")
    events = pd.DataFrame(
        {"client ref": frame["client ref"], "Order Date": stamps.dt.strftime(date_format)}
    )
    if amount:
        events["Total (EUR)"] = frame["spend"].round(2)
    customers = None
    if customers_table:
        ids = events["client ref"].drop_duplicates()
        customers = pd.DataFrame(
            {"client ref": ids, "segment": rng.choice(["retail", "trade"], len(ids))}
        )
    return EventLog(
        events.sample(frac=1.0, random_state=seed).reset_index(drop=True),
        "client ref",
        "Order Date",
        "Total (EUR)" if amount else None,
        customers,
    )
