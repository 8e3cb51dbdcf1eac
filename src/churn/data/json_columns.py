"""Text columns that hold JSON objects: an analytics export's ``properties`` (Mixpanel,
Amplitude's ``event_properties``), a webhook's ``payload``. churn reads no field inside one, so
an amount or a plan written there is lost unless it is a column of its own; init says so.
Pure: a sample in, column names and keys out."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import pandas as pd

MIN_OBJECT_SHARE = 0.9
"""Share of a column's filled values that must be JSON objects for it to hold them."""
MAX_KEYS = 8
"""Keys named per column, the most frequent first."""


def _object_keys(text: str) -> list[str] | None:
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return [str(k) for k in value] if isinstance(value, dict) else None


def json_object_columns(sample: pd.DataFrame, columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The ``columns`` of ``sample`` whose filled values are nearly all (:data:`MIN_OBJECT_SHARE`)
    JSON objects, each with its keys, the most frequent first (at most :data:`MAX_KEYS`)."""
    found: dict[str, tuple[str, ...]] = {}
    for column in columns:
        text = sample[column].dropna().astype(str).str.strip()
        text = text[text != ""]
        if text.empty or not text.str.startswith("{").mean() >= MIN_OBJECT_SHARE:
            continue
        keys = [_object_keys(t) for t in text]
        objects = [k for k in keys if k is not None]
        if len(objects) < MIN_OBJECT_SHARE * len(text):
            continue
        counts = Counter(key for k in objects for key in k)
        found[column] = tuple(k for k, _ in counts.most_common(MAX_KEYS))
    return found
