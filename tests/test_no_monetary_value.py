"""Without a monetary value (a log of visits, no amount column), the list ranks by churn
probability and no value-based playbook rule fires on tied zeros."""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import pytest

from churn.modeling.model import ChurnModel
from churn.scoring.playbook import recommend
from churn.scoring.ranking import (
    has_monetary_value,
    priority_column,
    rank_customers,
    value_percentiles,
)
from churn.settings import PlaybookSettings, ScoringSettings

SETTINGS = ScoringSettings.model_validate(
    {
        "outreach": {
            "priority": "value_at_risk",
            "top_k": 2,
            "top_percent": None,
            "control_percent": 0,
        }
    }
)
IDS = pd.Series(["1", "10", "100", "2", "3"])
P = np.array([0.1, 0.2, 0.3, 0.9, 0.8])


def _ranked(value: list[float]) -> pd.DataFrame:
    features = pd.DataFrame({"customer_id": IDS})
    no_model = cast(ChurnModel, None)  # probabilities are given: the model is not asked
    return rank_customers(no_model, features, pd.Series(value), SETTINGS, probabilities=P)


@pytest.mark.parametrize(
    ("value", "expected"),
    [([0.0, 0.0], False), ([np.nan, 0.0], False), ([0.0, 3.5], True), ([], False)],
)
def test_has_monetary_value(value: list[float], expected: bool) -> None:
    assert has_monetary_value(pd.Series(value, dtype="float64")) is expected


def test_without_value_the_riskiest_customers_come_first_not_the_first_ids() -> None:
    ranked = _ranked([0.0] * 5).sort_values("priority_rank")
    assert ranked["customer_id"].tolist()[:2] == ["2", "3"]
    assert ranked.loc[ranked["in_outreach"], "customer_id"].tolist() == ["2", "3"]


def test_with_value_the_list_still_ranks_by_value_at_risk() -> None:
    ranked = _ranked([1000.0, 1.0, 1.0, 1.0, 1.0]).sort_values("priority_rank")
    assert ranked["customer_id"].iloc[0] == "1"  # 0.1 x 1000 beats 0.9 x 1


def test_the_fallback_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    assert priority_column(pd.Series([0.0, 0.0]), SETTINGS) == "churn_probability"
    assert sum("monetary value" in r.getMessage() for r in caplog.records) == 1
    by_p = SETTINGS.model_copy(
        update={"outreach": SETTINGS.outreach.model_copy(update={"priority": "churn_probability"})}
    )
    assert priority_column(pd.Series([0.0, 0.0]), by_p) == "churn_probability"


def test_value_rules_do_not_fire_on_tied_zeros() -> None:
    playbook = PlaybookSettings.model_validate(
        {
            "rules": [
                {"action": "loyalty_reward", "reasons": [], "min_value_percentile": 90},
                {"action": "re_engagement_message", "reasons": []},
            ],
            "default_action": "feedback_request",
        }
    )
    pct = value_percentiles(pd.Series([0.0] * 4))
    assert pct.tolist() == [0.0] * 4
    actions = recommend(pd.Series(["A"] * 4), np.full(4, 0.5), pct, playbook)
    assert set(actions) == {"re_engagement_message"}
    real = value_percentiles(pd.Series([1.0, 2.0, 3.0, 4.0]))
    assert real.tolist() == [25.0, 50.0, 75.0, 100.0]
