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
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EVENT_TYPES = ("visit", "purchase", "return")
TYPE_SHARES = (0.55, 0.38, 0.07)
"""Share of sessions of each type in ``EVENT_TYPES``."""
CHANNELS = ("web", "app", "store")

_US_PER_DAY = 86_400 * 1_000_000


def _pick(dictionary: pa.Array, codes: np.ndarray) -> pa.Array:
    """``dictionary[codes]`` as a plain large_string array (pandas' own string storage)."""
    indices = pa.array(codes.astype(np.int32))
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string())


def _names(prefix: str, n: int, width: int, *, first: int = 0) -> pa.Array:
    """``prefix`` followed by first..first+n-1 zero-padded to ``width`` digits."""
    return pa.array(
        [f"{prefix}{i:0{width}d}" for i in range(first, first + n)], type=pa.large_string()
    )


def _popular(rng: np.random.Generator, n_items: int, size: int) -> np.ndarray:
    """``size`` draws of 0..n_items-1 with probability ~ 1 / (k + 10) ** 1.1 (inverse CDF of
    the continuous power law, far faster than ``rng.choice`` with weights)."""
    a, b, e = 10.0, n_items + 10.0, -0.1
    x = (a**e + rng.random(size) * (b**e - a**e)) ** (1 / e)
    return np.minimum(x - a, n_items - 1).astype(np.int64)


def synthetic_table(
    n_events: int,
    *,
    seed: int = 0,
    start: dt.date = dt.date(2023, 1, 1),
    days: int = 365,
    events_per_customer: float = 100.0,
    n_products: int = 3_000,
    churn_fraction: float = 0.35,
    missing_order_fraction: float = 0.0,
    first_customer: int = 0,
) -> pa.Table:
    """Exactly ``n_events`` canonical events of about ``n_events / events_per_customer``
    customers over ``days`` days from ``start``, sorted by ``ts``.

    Columns: ``customer_id`` (str, ``C0000042``), ``ts`` (datetime64[us], UTC naive),
    ``event_type`` (str: visit, purchase, return), ``amount`` (float, currency units; negative
    for returns, missing for visits), ``quantity`` (float, units; negative for returns, missing
    for visits), ``order_id`` (str ``O…`` for purchases, ``R…`` for returns, missing for visits
    and for a ``missing_order_fraction`` of purchases), ``product_id`` (str ``P00042``, from a
    catalogue of ``n_products`` with skewed popularity) and the attribute ``channel`` (str, the
    session's channel; missing for 5% of sessions). The same arguments give the same frame.
    Customer ids start at ``first_customer``, so shards drawn with other seeds can be stacked
    into one larger population. Returned as an Arrow table (``synthetic_events``: as pandas).
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

    # Sessions go to customers in proportion to rate x active span, at a uniform time in it;
    # types and sizes are i.i.d., so they need no reordering when sessions are sorted by time.
    per_customer = rng.multinomial(n_sessions, weight / weight.sum())
    customer = np.repeat(np.arange(n_customers), per_customer)
    offset = arrival[customer] + rng.random(n_sessions) * (stop[customer] - arrival[customer])
    ts_us = (offset * _US_PER_DAY).astype(np.int64)
    order = np.argsort(ts_us)
    customer, ts_us = customer[order], ts_us[order]
    channel = np.where(
        rng.random(n_sessions) < 0.8,
        preferred_channel[customer],
        rng.integers(0, len(CHANNELS), n_sessions),
    )
    channel_missing = rng.random(n_sessions) < 0.05
    order_missing = (kind == 0) | ((kind == 1) & (rng.random(n_sessions) < missing_order_fraction))
    digits = pc.cast(pa.array(np.arange(n_sessions)), pa.large_string())
    prefix = _pick(pa.array(["O", "R"], type=pa.large_string()), (kind == 2).astype(np.int8))
    order_ids = pc.binary_join_element_wise(prefix, digits, pa.scalar("", pa.large_string()))
    order_ids = pc.if_else(pa.array(order_missing), pa.scalar(None, pa.large_string()), order_ids)
    channel_names = pa.array(CHANNELS, type=pa.large_string())
    channels = pc.if_else(
        pa.array(channel_missing), pa.scalar(None, pa.large_string()), _pick(channel_names, channel)
    )

    # Lines: repeat each session, then draw a product and a quantity per line.
    session = np.repeat(np.arange(n_sessions, dtype=np.int32), lines)
    line_kind = kind[session]
    product = _popular(rng, n_products, n_events)
    unit_price = rng.lognormal(2.5, 0.9, n_products).round(2)
    quantity = (1 + rng.poisson(0.6, n_events)).astype(np.float64)
    quantity = np.where(line_kind == 2, -quantity, quantity)
    quantity[line_kind == 0] = np.nan
    amount = (unit_price[product] * quantity).round(2)

    session_idx = pa.array(session)
    epoch_us = int((pd.Timestamp(start) - pd.Timestamp("1970-01-01")) // pd.Timedelta("1us"))
    table = pa.table(
        {
            "customer_id": _pick(
                _names("C", n_customers, 7, first=first_customer), customer[session]
            ),
            "ts": pa.array(ts_us[session] + epoch_us, type=pa.timestamp("us")),
            "event_type": _pick(pa.array(EVENT_TYPES, type=pa.large_string()), line_kind),
            "amount": pa.array(amount, from_pandas=True),
            "quantity": pa.array(quantity, from_pandas=True),
            "order_id": order_ids.take(session_idx),
            "product_id": _pick(_names("P", n_products, 5), product),
            "channel": channels.take(session_idx),
        }
    )
    return table


def synthetic_events(n_events: int, **kwargs: Any) -> pd.DataFrame:
    """``synthetic_table`` as a pandas frame (same arguments)."""
    return synthetic_table(n_events, **kwargs).to_pandas()  # strings stay in Arrow memory
