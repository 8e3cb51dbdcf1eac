"""Shared builders of tiny hand-made inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.features import FeatureSpec
from churn.settings import CutoffSchedule, EventLabelSettings, FeatureSettings


def events_frame(rows: list[tuple[str, str, str, float]], **extra: list[object]) -> pd.DataFrame:
    """Canonical events from (customer_id, timestamp, event_type, amount) tuples."""
    frame = pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": pd.to_datetime([r[1] for r in rows], format="ISO8601").astype("datetime64[us]"),
            "event_type": [r[2] for r in rows],
            "amount": [float(r[3]) for r in rows],
            "quantity": 1.0,
            "order_id": [f"o{i}" for i in range(len(rows))],
            "product_id": None,
        }
    )
    for name, values in extra.items():
        frame[name] = values
    return frame


def label_settings(**overrides: object) -> EventLabelSettings:
    base: dict[str, object] = {
        "activity_event_types": ["purchase"],
        "horizon_days": 30,
        "train_cutoffs": CutoffSchedule(start="2024-01-01", end="2024-03-01"),
        "test_cutoff": "2024-04-01",
    }
    return EventLabelSettings.model_validate({**base, **overrides})


@pytest.fixture
def spec() -> FeatureSpec:
    return FeatureSpec(
        settings=FeatureSettings(
            windows_days=[7, 30],
            trend_window_days=7,
            event_types=["purchase", "return"],
            return_event_types=["return"],
        ),
        activity_event_types=("purchase",),
    )
