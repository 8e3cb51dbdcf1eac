"""`churn train` says when its test figures cannot be trusted, in its log, in metrics.json and
in report.html's model section: a planted leak the screen lets through (two columns that each
separate the labels less than max_single_feature_auc, together almost perfectly) is named; a
tiny test set gets its counts and interval; a healthy run gets neither."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests import messy
from tests._project import churn, write_params

pytestmark = pytest.mark.slow

NAME = "bank"
RAW = "data/raw/bank/customers.csv"
LEAKS = ("Retention Desk Outcome", "Closure Code")


def _snake(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")


def _trained(root: Path, n: int, *, leak: bool = False) -> tuple[dict[str, Any], str]:
    """A messy snapshot of ``n`` customers (with the planted columns when ``leak``) through
    `churn train`: metrics.json and the output."""
    data = messy.snapshot(n, seed=2)
    if leak:  # recorded after the churn, noisily: each alone below the screen's 0.98
        rng = np.random.default_rng(5)
        churned = (data.frame[data.label] == data.positive).to_numpy()
        for column in LEAKS:
            data.frame[column] = np.round(rng.normal(0.0, 1.0, n) + 2.0 * churned, 3)
    raw = root / RAW
    raw.parent.mkdir(parents=True, exist_ok=True)
    data.frame.to_csv(raw, index=False)
    attributes = [c for c in data.frame.columns if c not in (data.label, data.customer_id)]
    assert data.customer_id is not None
    write_params(
        root,
        {
            "data": {
                "kind": "snapshot",
                "snapshot": {
                    "source": {
                        "path": RAW,
                        "columns": {"customer_id": data.customer_id, "label": data.label},
                        "attributes": {_snake(c): c for c in attributes},
                    },
                    "positive_label": str(data.positive),
                    "numeric_attributes": [_snake(c) for c in attributes if c != "Plan Type"],
                },
            },
            "labels": {"snapshot_date": "2024-01-01"},
            "train": {"max_rounds": 30, "min_class_rows": 5, "threads": 1},
        },
        NAME,
    )
    for stage in ("ingest", "labels", "features", "train"):
        code, out = churn(root, stage, name=NAME)
        assert code == 0, f"churn {stage}: {out}"
    return json.loads((root / "reports" / NAME / "metrics.json").read_text()), out


def _about(warnings: list[str], words: str) -> list[str]:
    return [w for w in warnings if words in w]


def test_a_leak_the_screen_lets_through_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics, _ = _trained(tmp_path, 3000, leak=True)
    assert metrics["roc_auc"] >= 0.95
    (said,) = _about(metrics["warnings"], "higher than churn models reach")
    for column in map(_snake, LEAKS):
        assert f"'{column}'" in said
    assert "train.exclude_features: ['retention_desk_outcome', 'closure_code']" in said
    assert said in caplog.text  # the log says it too
    assert not _about(metrics["warnings"], "rests on")  # 600 test customers, 74 churners


def test_a_tiny_test_set_reads_as_what_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics, _ = _trained(tmp_path, 250)
    churners = round(metrics["n_test"] * metrics["positive_rate"])
    interval = metrics["roc_auc_interval"]
    assert interval["method"] == "DeLong"
    assert interval["low"] < metrics["roc_auc"] < interval["high"]
    (said,) = _about(metrics["warnings"], "rests on")
    assert f"{churners} churners" in said
    assert f"95% interval {interval['low']:.3f} to {interval['high']:.3f}" in said
    assert said in caplog.text
    assert "cross-validation folds" in said  # the snapshot's folds, more customers


def test_a_healthy_run_gets_neither_warning(tmp_path: Path) -> None:
    metrics, _ = _trained(tmp_path, 3000)
    assert metrics["roc_auc"] < 0.9
    assert not _about(metrics["warnings"], "higher than churn models reach")
    assert not _about(metrics["warnings"], "rests on")
    assert metrics["roc_auc_interval"]["high"] - metrics["roc_auc_interval"]["low"] < 0.15
