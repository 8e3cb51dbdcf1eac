"""The feature catalogue: every behaviour feature's name, family, kind and one-line meaning, and
the SQL expression that computes it from the per-pair aggregates of :mod:`churn.features.sql`.

The catalogue is data: tables of templates, filled in for each window, event type and
attribute the settings name. Reason codes are built on the families; the catalogue decides
which features exist from settings alone, never from data, so training and scoring get the
same columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

from churn.engines.sql import quote_identifier
from churn.errors import PipelineStateError
from churn.settings import FeatureSettings


@dataclass(frozen=True)
class Feature:
    """One feature: its column name, family (used to group reasons), kind and meaning."""

    name: str
    family: str
    description: str
    kind: Literal["numeric", "categorical"] = "numeric"
    sql: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that decides which features exist. Built from settings, never from data,
    so training and scoring get the same columns; only the kind of a customer attribute
    follows the canonical customers table's column type, which ingest decided."""

    settings: FeatureSettings
    activity_event_types: tuple[str, ...]
    event_attributes: tuple[str, ...] = ()
    customer_attributes: tuple[str, ...] = ()
    has_signup_date: bool = False
    event_measures: tuple[str, ...] = ()
    """Numbers each event holds (``data.events.sources[].measures``), summed per window."""
    text_customer_attributes: tuple[str, ...] = ()
    """Customer attributes held as text (ingest found values that are not numbers):
    categories, like those of ``features.categorical_attributes``."""
    numeric_event_attributes: tuple[str, ...] = ()
    """Event attributes held as numbers (``data.events.numeric_attributes``): their latest
    value is a numeric feature; every other event attribute's a category."""
    covered: bool = False
    """The events hold ``covered_until`` (``data.events.covered``): the coverage features."""


def text_columns(frame: pd.DataFrame | None) -> frozenset[str]:
    """Columns of ``frame`` that do not hold numbers (text, or nothing at all)."""
    if frame is None:
        return frozenset()
    return frozenset(
        str(c)
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    )


ATTRIBUTE_FAMILY = "attribute"
"""The family of the features that are columns of the user's files (event and customer
attributes, a snapshot's columns); every other family churn computes from the events before
the cutoff."""


def slug(text: str) -> str:
    """``text`` (an event type, measure or attribute) as part of a column name: lower case,
    every run of characters but letters and digits turned into one ``_``, none at either end
    (``Data Used (MB)`` -> ``data_used_mb``)."""
    marked = "".join(ch if ch.isalnum() else "_" for ch in text.lower())
    return re.sub(r"_+", "_", marked).strip("_")


def _ratio(num: str, den: str) -> str:
    return f"CAST({num} AS DOUBLE) / NULLIF(CAST({den} AS DOUBLE), 0)"


def _trend(recent: str, before: str) -> str:
    """(recent - before) / (recent + before): -1 = stopped, 0 = steady, +1 = new; 0 if idle."""
    return f"COALESCE({_ratio(f'({recent}) - ({before})', f'({recent}) + ({before})')}, 0)"


_Template = tuple[str, str, str, str]
"""(name, family, description, SQL): ``str.format`` templates over the fields of each table."""

_HISTORY: tuple[_Template, ...] = (
    (
        "days_since_last_activity",
        "recency",
        "Days since the last qualifying activity (purchase or usage) before the cutoff",
        "r_last",
    ),
    (
        "days_since_last_event",
        "recency",
        "Days since the last event of any type before the cutoff",
        "r_last_any",
    ),
    (
        "days_since_first_activity",
        "tenure",
        "Days since the first qualifying activity (customer age)",
        "r_first",
    ),
    (
        "active_days_total",
        "frequency",
        "Distinct days with activity over the whole history",
        "n_days",
    ),
    ("orders_total", "frequency", "Orders (or activity events) over the whole history", "n_orders"),
    ("spend_total", "monetary", "Total spend over the whole history", "spend"),
    (
        "avg_order_value",
        "monetary",
        "Average spend per order over the whole history",
        _ratio("spend", "n_orders"),
    ),
    ("spend_per_active_day", "monetary", "Average spend per active day", _ratio("spend", "n_days")),
    ("items_total", "monetary", "Units bought over the whole history", "items"),
    ("items_per_order", "monetary", "Average units per order", _ratio("items", "n_orders")),
)
"""Whole-history features."""

_PER_WINDOW: tuple[_Template, ...] = (
    ("active_days_{w}d", "frequency", "Distinct active days in the last {w} days", "n_days_{w}"),
    ("orders_{w}d", "frequency", "Orders in the last {w} days", "n_orders_{w}"),
    ("spend_{w}d", "monetary", "Spend in the last {w} days", "spend_{w}"),
)
"""For each window ``w`` (days)."""

_RHYTHM: tuple[_Template, ...] = (
    (
        "avg_order_value_{longest}d",
        "monetary",
        "Average spend per order in the last {longest} days",
        _ratio("spend_{longest}", "n_orders_{longest}"),
    ),
    ("gap_mean_days", "interpurchase", "Mean days between consecutive active days", "gap_mean"),
    (
        "gap_std_days",
        "interpurchase",
        "Standard deviation of days between consecutive active days",
        "gap_std",
    ),
    ("gap_max_days", "interpurchase", "Longest gap between consecutive active days", "gap_max"),
    ("gap_last_days", "interpurchase", "Gap that ended at the most recent active day", "gap_last"),
    (
        "overdue_ratio",
        "recency",
        "Days since last activity divided by the customer's mean gap (>1: overdue)",
        _ratio("r_last", "gap_mean"),
    ),
    (
        "orders_trend_{t}d",
        "trend",
        "Orders in the last {t} days vs the {t} before: -1 stopped, 0 steady, +1 new",
        _trend("n_orders_{t}", "n_orders_prev_{t}"),
    ),
    (
        "spend_trend_{t}d",
        "trend",
        "Spend in the last {t} days vs the {t} before, from -1 to +1",
        _trend("spend_{t}", "spend_prev_{t}"),
    ),
    (
        "active_days_trend_{t}d",
        "trend",
        "Active days in the last {t} days vs the {t} before, from -1 to +1",
        _trend("n_days_{t}", "n_days_prev_{t}"),
    ),
)
"""Spend in the longest window ``longest``, the gaps between active days and the trends over
the trend window ``t``."""

_PER_EVENT_TYPE: tuple[_Template, ...] = (
    (
        "events_{slug}_{longest}d",
        "event_mix",
        "Events of type {et!r} in the last {longest} days",
        "n_type_{slug}",
    ),
    (
        "share_{slug}_{longest}d",
        "event_mix",
        "Share of all events in the last {longest} days that are {et!r}",
        _ratio("n_type_{slug}", "n_events_{longest}"),
    ),
)
"""For each event type ``et`` of ``features.event_types`` (``slug`` its column-name form)."""

_RETURNS: tuple[_Template, ...] = (
    ("returns_total", "returns", "Returned or cancelled orders over the history", "n_returns"),
    (
        "returns_{longest}d",
        "returns",
        "Returned or cancelled orders in the last {longest} days",
        "n_returns_{longest}",
    ),
    (
        "return_value_share",
        "returns",
        "Value returned or cancelled as a share of value bought",
        _ratio("return_value", "spend"),
    ),
)
"""When ``features.return_event_types`` names any."""

_DIVERSITY: tuple[_Template, ...] = (
    ("products_total", "diversity", "Distinct products bought over the history", "n_products"),
    (
        "new_products_{t}d",
        "diversity",
        "Products bought for the first time in the last {t} days",
        "n_new_products_{t}",
    ),
)

_PER_MEASURE: tuple[_Template, ...] = (
    (
        "{slug}_per_active_day_{longest}d",
        "frequency",
        "Mean {m} per active day in the last {longest} days",
        _ratio("m_{slug}_{longest}", "n_days_{longest}"),
    ),
    (
        "{slug}_trend_{t}d",
        "trend",
        "Sum of {m} in the last {t} days vs the {t} before, from -1 to +1",
        _trend("m_{slug}_{t}", "m_{slug}_prev_{t}"),
    ),
)
"""For each measure ``m`` of the events (``slug`` its column-name form), after its sum in each
window (``_PER_MEASURE_WINDOW``)."""

_PER_MEASURE_WINDOW: tuple[_Template, ...] = (
    ("{slug}_{w}d", "frequency", "Sum of {m} in the last {w} days", "m_{slug}_{w}"),
)

COVERAGE_FAMILY = "coverage"
"""The family of the features read from ``covered_until``: how long a customer is paid up."""

_COVERAGE: tuple[_Template, ...] = (
    (
        "coverage_days_left",
        COVERAGE_FAMILY,
        "Days the paid period runs on after the cutoff, by the payments before it (negative: "
        "days since it ended)",
        "cov_left",
    ),
    (
        "coverage_plan_days",
        COVERAGE_FAMILY,
        "Days the latest payment before the cutoff paid for (its covered_until minus its day)",
        "cov_plan_days",
    ),
)
"""When the events hold ``covered_until``; from the activity events before the cutoff."""

_SIGNUP: tuple[_Template, ...] = (
    (
        "days_since_signup",
        "tenure",
        "Days since the customer signed up",
        "agg.cutoff_day - cu.signup_day",
    ),
)
"""When the customers table has a signup date."""


def _filled(templates: Sequence[_Template], **fields: object) -> list[Feature]:
    return [
        Feature(name.format(**fields), family, text.format(**fields), sql=sql.format(**fields))
        for name, family, text, sql in templates
    ]


def feature_catalogue(spec: FeatureSpec) -> list[Feature]:
    """Every feature with the SQL expression that computes it from the per-pair aggregates, in
    column order: whole history, each window, rhythm and trends, each event type, returns,
    each measure, diversity, coverage, signup, then event and customer attributes. Raises
    ``PipelineStateError`` if two features share a name."""
    s = spec.settings
    windows = sorted(set(s.windows_days))
    longest, t = windows[-1], s.trend_window_days
    features = _filled(_HISTORY)
    for w in windows:
        features += _filled(_PER_WINDOW, w=w)
    features += _filled(_RHYTHM, longest=longest, t=t)
    for et in s.event_types:
        features += _filled(_PER_EVENT_TYPE, et=et, slug=slug(et), longest=longest)
    if s.return_event_types:
        features += _filled(_RETURNS, longest=longest)
    for m in spec.event_measures:
        for w in windows:
            features += _filled(_PER_MEASURE_WINDOW, m=m, slug=slug(m), w=w)
        features += _filled(_PER_MEASURE, m=m, slug=slug(m), longest=longest, t=t)
    features += _filled(_DIVERSITY, t=t)
    if spec.covered:
        features += _filled(_COVERAGE)
    if spec.has_signup_date:
        features += _filled(_SIGNUP)
    features += [
        Feature(
            attr,
            ATTRIBUTE_FAMILY,
            f"Latest {attr} seen before the cutoff",
            kind="numeric" if attr in spec.numeric_event_attributes else "categorical",
            sql=f"attr_{slug(attr)}",
        )
        for attr in spec.event_attributes
    ]
    features += [
        Feature(
            attr,
            ATTRIBUTE_FAMILY,
            f"Customer attribute {attr}",
            kind=(
                "categorical"
                if attr in s.categorical_attributes or attr in spec.text_customer_attributes
                else "numeric"
            ),
            sql=f"cu.{quote_identifier(attr)}",
        )
        for attr in spec.customer_attributes
    ]
    names = [x.name for x in features]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PipelineStateError(
            f"Feature names collide: {dupes}; rename those attributes or measures."
        )
    return features


def catalogue_records(catalogue: Sequence[Feature]) -> list[dict[str, str]]:
    """The catalogue as written to ``feature_catalogue.json``: name, family, description and
    kind of each feature (its SQL left out)."""
    return [{k: v for k, v in asdict(f).items() if k != "sql"} for f in catalogue]
