"""A model that a baseline beats on the test cutoff is said so: in `churn train`'s log and in
`churn summary` (the promotion gate compares versions, never baselines)."""

from __future__ import annotations

from churn.cli import _summary_line
from churn.stages.train import trails_baselines


def metrics(model: float, **baselines: float) -> dict[str, object]:
    return {
        "roc_auc": model,
        "ece": 0.02,
        "n_test": 6245,
        "positive_rate": 0.9,
        "baselines": {n: {"roc_auc": auc} for n, auc in baselines.items()},
    }


def test_a_model_behind_a_baseline_is_warned_with_the_figures() -> None:
    said = trails_baselines(metrics(0.865, recency=0.85, logistic_rfm=0.870, bgnbd=0.873))
    assert said is not None
    assert "0.865 trails baseline(s) bgnbd 0.873, logistic_rfm 0.870 on 6,245" in said
    assert "recency" not in said
    line = _summary_line("olist", metrics(0.865, recency=0.85, bgnbd=0.873))
    assert line.endswith("; TRAILS bgnbd")


def test_a_model_ahead_of_every_baseline_is_not() -> None:
    assert trails_baselines(metrics(0.772, recency=0.708, logistic_rfm=0.751)) is None
    assert trails_baselines(metrics(0.772)) is None
    assert "TRAILS" not in _summary_line("retail", metrics(0.772, recency=0.708))
