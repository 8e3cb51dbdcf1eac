"""Synthetic canonical events for benchmarks and reference tests: one year of a web shop.

Customers arrive through the year, some are there from the start; each has its own activity
rate (lognormal, so a few are very busy and many buy once or twice) and about a third stop
for good some weeks after they arrive (churn). Their sessions are visits (one line, a viewed
product), purchases (an order of one or more lines sharing ``order_id`` and ``ts``) and
returns (their own ``R`` order ids, negative quantity and amount). Everything is drawn with
vectorised numpy from one seed, so 10 million events take a few seconds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EVENT_TYPES = ("visit", "purchase", "return")
TYPE_SHARES = (0.55, 0.38, 0.07)
"""Share of sessions of each type in ``EVENT_TYPES``."""
CHANNELS = ("web", "app", "store")

_US_PER_DAY = 86_400 * 1_000_000


def _strings(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` followed by 0..n-1 zero-padded to ``width`` digits, as an Arrow string array."""
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(n)], type=pa.string())


def _counter(prefix: str, values: np.ndarray) -> pa.Array:
    """``prefix`` followed by each integer of ``values`` (vectorised, no Python loop)."""
    digits = pc.cast(pa.array(values), pa.string())
    return pc.binary_join_element_wise(prefix, digits, "")


def synthetic_events(
    n_events: int,
    *,
    seed: int = 0,
    start: dt.date = dt.date(2023, 1, 1),
    days: int = 365,
    events_per_customer: float = 100.0,
    n_products: int = 3_000,
    churn_fraction: float = 0.35,
    missing_order_fraction: float = 0.0,
) -> pd.DataFrame:
    """Exactly ``n_events`` canonical events of about ``n_events / events_per_customer``
    customers over ``days`` days from ``start``, sorted by ``ts``.

    Columns: ``customer_id`` (str, ``C0000042``), ``ts`` (datetime64[us], UTC naive),
    ``event_type`` (str: visit, purchase, return), ``amount`` (float, currency units; negative
    for returns, missing for visits), ``quantity`` (float, units; negative for returns, missing
    for visits), ``order_id`` (str ``O…`` for purchases, ``R…`` for returns, missing for visits
    and for a ``missing_order_fraction`` of purchases), ``product_id`` (str ``P00042``, from a
    catalogue of ``n_products`` with skewed popularity) and the attribute ``channel`` (str, the
    session's channel; missing for 5% of sessions). The same arguments give the same frame.
    """
    if n_events < 1:
        raise ValueError(f"The 'n_events' parameter must be a positive int. Got {n_events}.")
    rng = np.random.default_rng(seed)
    n_customers = max(1, round(n_events / events_per_customer))

    # Customers: arrival day, last active day (churners stop early), activity rate.
    arrival = np.where(rng.random(n_customers) < 0.3, 0.0, rng.uniform(0, days, n_customers))
    churns = rng.random(n_customers) < churn_fraction
    stop = np.where(churns, arrival + 1 + rng.exponential(90.0, n_customers), days)
    stop = np.minimum(stop, days)
    rate = rng.lognormal(0.0, 1.0, n_customers)
    weight = rate * (stop - arrival)
    preferred_channel = rng.integers(0, len(CHANNELS), n_customers)

    # Sessions: type, size in lines; draw enough to cover n_events lines, then cut.
    kind = np.empty(0, dtype=np.int8)
    lines = np.empty(0, dtype=np.int64)
    while lines.sum() < n_events:
        n_new = int((n_events - lines.sum()) / 1.6) + 16
        k = rng.choice(len(EVENT_TYPES), size=n_new, p=TYPE_SHARES).astype(np.int8)
        size = np.where(k == 1, rng.geometric(0.35, n_new), rng.geometric(0.75, n_new))
        size = np.where(k == 0, 1, size)
        kind, lines = np.concatenate([kind, k]), np.concatenate([lines, size])
    n_sessions = int(np.searchsorted(np.cumsum(lines), n_events) + 1)
    kind, lines = kind[:n_sessions], lines[:n_sessions]
    lines[-1] -= int(lines.sum()) - n_events

    customer = rng.choice(n_customers, size=n_sessions, p=weight / weight.sum())
    offset = arrival[customer] + rng.random(n_sessions) * (stop[customer] - arrival[customer])
    ts_us = (offset * _US_PER_DAY).astype(np.int64)
    order = np.argsort(ts_us, kind="stable")
    kind, lines, customer, ts_us = kind[order], lines[order], customer[order], ts_us[order]
    channel = np.where(
        rng.random(n_sessions) < 0.8, preferred_channel[customer],
        rng.integers(0, len(CHANNELS), n_sessions),
    )
    channel_missing = rng.random(n_sessions) < 0.05
    order_missing = (kind == 0) | ((kind == 1) & (rng.random(n_sessions) < missing_order_fraction))
    order_ids = pc.if_else(
        pa.array(kind == 2),
        _counter("R", np.arange(n_sessions)),
        _counter("O", np.arange(n_sessions)),
    )
    order_ids = pc.if_else(pa.array(order_missing), pa.scalar(None, pa.string()), order_ids)

    # Lines: repeat each session, then draw a product and a quantity per line.
    session = np.repeat(np.arange(n_sessions), lines)
    line_kind = kind[session]
    popularity = 1.0 / (np.arange(n_products) + 10.0) ** 1.1
    product = rng.choice(n_products, size=n_events, p=popularity / popularity.sum())
    unit_price = rng.lognormal(2.5, 0.9, n_products).round(2)
    quantity = (1 + rng.poisson(0.6, n_events)).astype(np.float64)
    quantity = np.where(line_kind == 2, -quantity, quantity)
    quantity = np.where(line_kind == 0, np.nan, quantity)
    amount = (unit_price[product] * quantity).round(2)

    session_idx = pa.array(session)
    epoch_us = int((pd.Timestamp(start) - pd.Timestamp("1970-01-01")) // pd.Timedelta("1us"))
    table = pa.table(
        {
            "customer_id": _strings("C", n_customers, 7).take(pa.array(customer[session])),
            "ts": pa.array(ts_us[session] + epoch_us, type=pa.timestamp("us")),
            "event_type": pa.array(EVENT_TYPES, type=pa.string()).take(pa.array(line_kind)),
            "amount": pa.array(amount),
            "quantity": pa.array(quantity),
            "order_id": order_ids.take(session_idx),
            "product_id": _strings("P", n_products, 5).take(pa.array(product)),
            "channel": pc.if_else(
                pa.array(channel_missing),
                pa.scalar(None, pa.string()),
                pa.array(CHANNELS, type=pa.string()).take(pa.array(channel)),
            ).take(session_idx),
        }
    )
    frame = table.to_pandas()
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    return frame
