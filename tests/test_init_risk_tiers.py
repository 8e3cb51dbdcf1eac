"""Logs where most customers churn (CDNOW's one-time buyers: 86 % at the test cutoff): the
default risk tiers by percentile call the lower half Low though most of them will leave, and a
CRM admin reads the tier as the risk. Init then tiers by probability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.settings import PipelineSettings
from tests.test_init import export, init, project, written


def _orders(n: int, repeat_share: float, seed: int) -> pd.DataFrame:
    """Orders over two years; ``repeat_share`` of the customers keep buying every few weeks,
    the others buy once or twice."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01")
    rows = []
    for c in range(n):
        first = int(rng.integers(0, 600))
        days = [first]
        if rng.random() < repeat_share:
            while days[-1] < 730:
                days.append(days[-1] + int(rng.integers(5, 40)))
        elif rng.random() < 0.5:
            days.append(first + int(rng.integers(1, 30)))
        for d in days:
            if d < 730:
                rows.append(
                    {
                        "customer_id": f"C{c:05d}",
                        "order_date": (start + pd.Timedelta(days=d)).strftime("%Y-%m-%d"),
                        "total": f"{rng.uniform(5, 80):.2f}",
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("repeat_share", "by_probability"), [(0.02, True), (0.8, False)])
def test_init_tiers_risk_by_probability_when_most_customers_churn(
    tmp_path: Path, repeat_share: float, by_probability: bool
) -> None:
    root = project(tmp_path)
    path = export(tmp_path, _orders(400, repeat_share, seed=3), "orders.csv")
    code, output = init(root, "shop", "--events", str(path))
    assert code == 0, output
    params = written(root, "shop")
    tiers = PipelineSettings.model_validate({"name": "shop", **params}).scoring.risk_tiers
    assert (tiers.method == "probability") is by_probability
    assert ("risk tiers are by probability" in output) is by_probability
