"""The one query that builds every behaviour feature for every (customer, cutoff) pair:
``features_sql`` and the CTEs it is made of.

Every feature sees only events on days before its cutoff. The definitions are plain SQL
aggregates over per-customer sums of segments of days (cut at every cutoff and every window
start), in DuckDB's dialect restricted to what SQLGlot transpiles to Spark, so
``features_sql`` is the single source of truth for training, scoring and the Spark engine.
Which features exist, and the expression of each over the per-pair aggregates, is the
catalogue's (:mod:`churn.features.catalogue`).
"""

from __future__ import annotations

from collections.abc import Sequence

from churn.data.parsing import event_type_matches
from churn.engines.sql import day_of, quote_identifier, quote_literal
from churn.features.catalogue import FeatureSpec, feature_catalogue, slug


def _in(types: Sequence[str], column: str = "event_type") -> str:
    """Events of ``types`` (settings), however ingest spelt them (``event_type_matches``)."""
    literals = ", ".join(quote_literal(t) for t in event_type_matches(types))
    return f"{column} IN ({literals})" if types else "FALSE"


def _when(cond: str, value: str) -> str:
    """``value`` where ``cond`` holds, else NULL. Aggregates over it are written instead of
    ``FILTER (WHERE cond)``, which DuckDB 2.0 runs 1.8 times as slowly; the result is the same."""
    return f"CASE WHEN {cond} THEN {value} END"


def _count(expr: str = "*") -> str:
    """COUNT as DOUBLE: the pairs sum these counts, and DuckDB sums DOUBLE (exact for whole
    numbers below 2**53) faster and in less memory than integers, which it sums in 128 bits."""
    return f"CAST(COUNT({expr}) AS DOUBLE)"


def _sum_where(col: str, cond: str | None = None) -> str:
    """Sum of ``col`` over the rows where ``cond`` holds; 0 when there are none."""
    return f"COALESCE(SUM({col if cond is None else _when(cond, col)}), 0)"


def _window_offsets(spec: FeatureSpec) -> list[int]:
    """Days before a cutoff at which some feature window starts, and 0 for the cutoff itself."""
    s = spec.settings
    t = s.trend_window_days
    return sorted({0, *s.windows_days, t, 2 * t})


def _in_window(days: int) -> str:
    """A segment row of ``joined`` lies in the ``days`` days before the pair's cutoff."""
    return f"d.seg_end > d.cutoff_day - {days}"


def _pair_aggregates(spec: FeatureSpec) -> list[str]:
    """Aggregates over ``joined`` (one row per pair and segment of its customer that ends by
    its cutoff; one all-NULL row for a pair without history), one per feature input.

    Every window edge is a segment boundary, so a segment lies wholly inside or wholly outside
    each window, and the per-day definitions (age = cutoff - day, in days >= 1) become sums,
    minima and maxima of the segments' own. The gap mean and standard deviation come from the
    sums of the gaps and of their squares, whole numbers and so exact."""
    s = spec.settings
    windows = sorted(set(s.windows_days))
    longest = windows[-1]
    t = s.trend_window_days
    n_gaps = "SUM(d.n_gaps)"
    gap_sum = "SUM(d.gap_sum)"
    aggs = [
        "d.cutoff_day - MAX(d.last_act_day) AS r_last",
        "d.cutoff_day - MAX(d.last_day) AS r_last_any",
        "d.cutoff_day - MIN(d.first_act_day) AS r_first",
        f"{_sum_where('d.n_days')} AS n_days",
        f"{_sum_where('d.n_orders')} AS n_orders",
        f"{_sum_where('d.spend')} AS spend",
        f"{_sum_where('d.items')} AS items",
        f"CAST({gap_sum} AS DOUBLE) / NULLIF({n_gaps}, 0) AS gap_mean",
        f"SQRT(CAST({n_gaps} * SUM(d.gap_sum_sq) - {gap_sum} * {gap_sum} AS DOUBLE)"
        f" / NULLIF({n_gaps} * ({n_gaps} - 1), 0)) AS gap_std",
        "MAX(d.gap_max) AS gap_max",
        "ARG_MAX(d.gap_last, d.gap_last_day) FILTER (WHERE d.gap_last_day IS NOT NULL) AS gap_last",
        f"{_sum_where('d.n_new_products')} AS n_products",
        f"{_sum_where('d.n_new_products', _in_window(t))} AS n_new_products_{t}",
        f"{_sum_where('d.n_events', _in_window(longest))} AS n_events_{longest}",
    ]
    for w in sorted({*windows, t}):
        aggs += [
            f"{_sum_where('d.n_days', _in_window(w))} AS n_days_{w}",
            f"{_sum_where('d.n_orders', _in_window(w))} AS n_orders_{w}",
            f"{_sum_where('d.spend', _in_window(w))} AS spend_{w}",
        ]
    prev = f"{_in_window(2 * t)} AND NOT {_in_window(t)}"
    aggs += [
        f"{_sum_where('d.n_days', prev)} AS n_days_prev_{t}",
        f"{_sum_where('d.n_orders', prev)} AS n_orders_prev_{t}",
        f"{_sum_where('d.spend', prev)} AS spend_prev_{t}",
    ]
    for et in s.event_types:
        col = "d." + quote_identifier("n_type_" + slug(et))
        aggs.append(f"{_sum_where(col, _in_window(longest))} AS n_type_{slug(et)}")
    if s.return_event_types:
        aggs += [
            f"{_sum_where('d.n_returns')} AS n_returns",
            f"{_sum_where('d.n_returns', _in_window(longest))} AS n_returns_{longest}",
            f"{_sum_where('d.return_value')} AS return_value",
        ]
    for m in spec.event_measures:
        col, name = "d." + quote_identifier("m_" + slug(m)), "m_" + slug(m)
        aggs += [
            f"{_sum_where(col, _in_window(w))} AS {quote_identifier(f'{name}_{w}')}"
            for w in sorted({*windows, t})
        ]
        aggs.append(f"{_sum_where(col, prev)} AS {quote_identifier(f'{name}_prev_{t}')}")
    if spec.covered:
        aggs += [
            "MAX(d.cov_day) - d.cutoff_day AS cov_left",
            "ARG_MAX(d.cov_plan_days, d.cov_key) FILTER (WHERE d.cov_key IS NOT NULL)"
            " AS cov_plan_days",
        ]
    for attr in spec.event_attributes:
        col, ts = quote_identifier("attr_" + slug(attr)), quote_identifier("attr_ts_" + slug(attr))
        aggs.append(
            f"ARG_MAX(d.{col}, d.{ts}) FILTER (WHERE d.{ts} IS NOT NULL) AS attr_{slug(attr)}"
        )
    return aggs


def _calendar_sql(spec: FeatureSpec) -> str:
    """CTEs ``boundaries`` (every cutoff, and every cutoff minus a window length, in days) and
    ``calendar``: each day from the first event to the last boundary with ``seg_end``, the
    first boundary after it. Days on or after the last boundary are before no cutoff."""
    offsets = ", ".join(f"({o})" for o in _window_offsets(spec))
    return f"""
    boundaries AS (
        SELECT DISTINCT c.cutoff_day - o.days AS boundary
        FROM (SELECT DISTINCT cutoff_day FROM pairs) AS c
        CROSS JOIN (VALUES {offsets}) AS o(days)
    ),
    calendar AS (
        SELECT cal.day, MIN(b.boundary) AS seg_end
        FROM (SELECT UNNEST(GENERATE_SERIES(
                (SELECT {day_of("MIN(ts)")} FROM events),
                (SELECT MAX(boundary) - 1 FROM boundaries))) AS day) AS cal
        JOIN boundaries AS b ON b.boundary > cal.day
        GROUP BY cal.day
    )"""


def _dated_events(where: str = "TRUE") -> str:
    """Events (``where`` holds) with their ``day`` and ``seg_end``, as a subquery. Written out
    in each pass that reads it: a CTE read several times would be materialised by DuckDB."""
    return f"""(SELECT c.seg_end, c.day, e.*
              FROM events AS e JOIN calendar AS c ON c.day = {day_of("e.ts")}
              WHERE {where})"""


def _event_sums_sql(spec: FeatureSpec) -> str:
    """CTE ``event_sums``: per customer and segment, event counts, spend, items, returned
    value, the sum of each measure, the last day with an event and the latest value (and
    time) of each attribute."""
    s = spec.settings
    act = _in(spec.activity_event_types)
    ret = _in(s.return_event_types)
    type_counts = "".join(
        f",\n            {_count(_when(_in([et], 'e.event_type'), '1'))}"
        f" AS {quote_identifier('n_type_' + slug(et))}"
        for et in s.event_types
    )
    measure_sums = "".join(
        f",\n            SUM(e.{quote_identifier(m)}) AS {quote_identifier('m_' + slug(m))}"
        for m in spec.event_measures
    )
    latest_attrs = "".join(
        f",\n            ARG_MAX(e.{a}, e.ts) FILTER (WHERE e.{a} IS NOT NULL)"
        f" AS {quote_identifier('attr_' + slug(attr))}"
        f",\n            MAX({_when(f'e.{a} IS NOT NULL', 'e.ts')})"
        f" AS {quote_identifier('attr_ts_' + slug(attr))}"
        for attr, a in ((attr, quote_identifier(attr)) for attr in spec.event_attributes)
    )
    per_event = type_counts + measure_sums + latest_attrs + _coverage_sums(spec)
    return f"""
    event_sums AS (
        SELECT e.customer_id, e.seg_end,
            {_count()} AS n_events,
            MAX(e.day) AS last_day,
            SUM({_when(act, "e.amount")}) AS spend,
            SUM({_when(act, "e.quantity")}) AS items,
            SUM({_when(ret, "ABS(e.amount)")}) AS return_value{per_event}
        FROM {_dated_events()} AS e
        GROUP BY e.customer_id, e.seg_end
    )"""


def _coverage_sums(spec: FeatureSpec) -> str:
    """Columns of ``event_sums`` when the events hold ``covered_until``: per customer and
    segment, the latest day an activity event covers (``cov_day``) and the days the latest
    of those payments paid for (``cov_plan_days``), latest by day then by the day it covers
    (``cov_key``, which decides between payments of one day alike on every engine)."""
    if not spec.covered:
        return ""
    paid = f"{_in(spec.activity_event_types, 'e.event_type')} AND e.covered_until IS NOT NULL"
    cover = day_of("e.covered_until")
    key = f"CAST(e.day AS BIGINT) * {COVERED_DAY_SPAN} + {cover}"
    return f""",
            MAX({_when(paid, cover)}) AS cov_day,
            ARG_MAX({cover} - e.day, {key}) FILTER (WHERE {paid}) AS cov_plan_days,
            MAX({_when(paid, key)}) AS cov_key"""


COVERED_DAY_SPAN = 1_000_000
"""Days since 1970 of a covered_until are below this (until the year 4707), so the day of a
payment times it plus the day it covers orders payments by both."""


def _activity_sql(spec: FeatureSpec) -> str:
    """CTE ``activity``: per customer and segment, the active days (with qualifying activity),
    the first and last of them, and the count, sum, sum of squares, maximum and latest of the
    gaps (in days) that end on them, each gap running from the previous active day."""
    active = _dated_events(_in(spec.activity_event_types))
    return f"""
    active_days AS (
        SELECT customer_id, seg_end, day,
            day - LAG(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap
        FROM (SELECT DISTINCT e.customer_id, e.seg_end, e.day FROM {active} AS e) AS a
    ),
    activity AS (
        SELECT customer_id, seg_end,
            {_count()} AS n_days,
            MIN(day) AS first_act_day,
            MAX(day) AS last_act_day,
            {_count("gap")} AS n_gaps,
            CAST(SUM(gap) AS DOUBLE) AS gap_sum,
            CAST(SUM(gap * gap) AS DOUBLE) AS gap_sum_sq,
            MAX(gap) AS gap_max,
            ARG_MAX(gap, day) FILTER (WHERE gap IS NOT NULL) AS gap_last,
            MAX({_when("gap IS NOT NULL", "day")}) AS gap_last_day
        FROM active_days
        GROUP BY customer_id, seg_end
    )"""


def _orders_sql(spec: FeatureSpec) -> str:
    """CTE ``orders``: per customer and segment, distinct orders with qualifying activity and
    distinct returns. An order is its order_id on one day; an event without one is its own."""
    act = _in(spec.activity_event_types)
    ret = _in(spec.settings.return_event_types)
    order_key = "COALESCE(e.order_id, CAST(e.ts AS VARCHAR))"
    return f"""
    orders AS (
        SELECT customer_id, seg_end,
            {_count(_when("has_act = 1", "1"))} AS n_orders,
            {_count(_when("has_ret = 1", "1"))} AS n_returns
        FROM (SELECT e.customer_id, e.seg_end, e.day, {order_key} AS order_key,
                MAX(CASE WHEN {act} THEN 1 ELSE 0 END) AS has_act,
                MAX(CASE WHEN {ret} THEN 1 ELSE 0 END) AS has_ret
              FROM {_dated_events(f"{act} OR {ret}")} AS e
              GROUP BY e.customer_id, e.seg_end, e.day, {order_key}) AS b
        GROUP BY customer_id, seg_end
    )"""


def _new_products_sql(spec: FeatureSpec) -> str:
    """CTE ``new_products``: per customer and segment, products bought for the first time."""
    return f"""
    new_products AS (
        SELECT fp.customer_id, c.seg_end, {_count()} AS n_new_products
        FROM (SELECT customer_id, product_id, MIN(ts) AS ts FROM events
              WHERE product_id IS NOT NULL AND {_in(spec.activity_event_types)}
              GROUP BY customer_id, product_id) AS fp
        JOIN calendar AS c ON c.day = {day_of("fp.ts")}
        GROUP BY fp.customer_id, c.seg_end
    )"""


def _segments_sql(spec: FeatureSpec) -> str:
    """CTEs up to ``segments``: one row per customer of ``pairs`` (keyed by ``cid``) and
    segment of days with events, holding that segment's sums.

    A segment runs from one boundary to the next (``_calendar_sql``). Events are summed per
    segment in four narrow passes (``event_sums``, ``activity``, ``orders``, ``new_products``),
    since one pass holding COUNT(DISTINCT) states is slower and needs more memory; strings are
    grouped as they are, which is cheaper than joining ten million events to ``cid``. On Spark
    ``cid`` is customer_id itself (:func:`churn.engines.spark.distributed_keys` rewrites this
    CTE's ``ROW_NUMBER() OVER (ORDER BY customer_id)``, a one-partition step there)."""
    sums = (_calendar_sql, _event_sums_sql, _activity_sql, _orders_sql, _new_products_sql)
    return f"""
    customer_keys AS (
        SELECT customer_id, ROW_NUMBER() OVER (ORDER BY customer_id) AS cid
        FROM (SELECT DISTINCT customer_id FROM pairs) AS k
    ),{",".join(cte(spec) for cte in sums)},
    segments AS (
        SELECT k.cid, es.*, a.n_days, a.first_act_day, a.last_act_day, a.n_gaps, a.gap_sum,
            a.gap_sum_sq, a.gap_max, a.gap_last, a.gap_last_day, o.n_orders, o.n_returns,
            np.n_new_products
        FROM event_sums AS es
        JOIN customer_keys AS k ON k.customer_id = es.customer_id
        LEFT JOIN activity AS a ON a.customer_id = es.customer_id AND a.seg_end = es.seg_end
        LEFT JOIN orders AS o ON o.customer_id = es.customer_id AND o.seg_end = es.seg_end
        LEFT JOIN new_products AS np
            ON np.customer_id = es.customer_id AND np.seg_end = es.seg_end
        -- not needed for the result: a customer's segments arriving together lets the pair
        -- aggregation finish each pair at once, in a fifth less memory at 10M events
        ORDER BY k.cid
    )"""


def features_sql(spec: FeatureSpec) -> str:
    """The one query that computes every feature for every row of ``pairs``.

    Reads tables ``events`` (canonical) and ``pairs`` (customer_id, cutoff_day) and, when the
    spec has customer attributes or a signup date, ``customers``.

    Events are summed per customer and segment of days (``_segments_sql``); each pair then
    aggregates the segments that end by its cutoff: 5.1 million pair-segment rows at 10M
    events where per-day rows were 23.6 million. Customers are keyed by a small integer
    (``customer_keys.cid``) from the segments on, which makes those joins, groups and sorts
    cheaper.
    """
    catalogue = feature_catalogue(spec)
    outer = ",\n        ".join(
        # numbers are rounded to 9 decimals: parallel sums differ in the last bits from run to
        # run, and identical inputs must give byte-identical features (DVC hashes them)
        (
            f"CAST({x.sql} AS VARCHAR)"
            if x.kind == "categorical"
            else f"ROUND(CAST({x.sql} AS DOUBLE), 9)"
        )
        + f" AS {quote_identifier(x.name)}"
        for x in catalogue
    )
    customers_join = (
        "LEFT JOIN cust AS cu ON cu.customer_id = k.customer_id"
        if spec.customer_attributes or spec.has_signup_date
        else ""
    )
    cust_cte = ""
    if customers_join:
        cust_attrs = "".join(f", {quote_identifier(a)}" for a in spec.customer_attributes)
        signup = f", {day_of('signup_date')} AS signup_day" if spec.has_signup_date else ""
        cust_cte = f""",
    cust AS (SELECT customer_id{signup}{cust_attrs} FROM customers)"""
    return f"""
    WITH {_segments_sql(spec).strip()}{cust_cte},
    joined AS (
        SELECT k.cid AS pair_cid, p.cutoff_day, d.*
        FROM pairs AS p JOIN customer_keys AS k ON k.customer_id = p.customer_id
        LEFT JOIN segments AS d ON d.cid = k.cid AND d.seg_end <= p.cutoff_day
    ),
    agg AS (
        SELECT d.pair_cid AS cid, d.cutoff_day,
            {",\n            ".join(_pair_aggregates(spec))}
        FROM joined AS d
        GROUP BY d.pair_cid, d.cutoff_day
    )
    SELECT k.customer_id, agg.cutoff_day,
        {outer}
    FROM agg AS agg JOIN customer_keys AS k ON k.cid = agg.cid {customers_join}
    ORDER BY agg.cutoff_day, agg.cid
    """
