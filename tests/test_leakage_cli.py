"""churn train stops on the label in disguise (exit 6, columns named) and leaves identifiers
out, on snapshots shaped like real exports (tests/messy.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from churn.modeling.model import ChurnModel
from tests import messy
from tests._project import churn, write_params

NAME = "bank"
RAW = "data/raw/bank/customers.csv"


def _snake(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")


def _project(root: Path, data: messy.Snapshot, train: dict[str, Any] | None = None) -> Path:
    raw = root / RAW
    raw.parent.mkdir(parents=True, exist_ok=True)
    data.frame.to_csv(raw, index=False)
    attributes = [c for c in data.frame.columns if c not in (data.label, data.customer_id)]
    numeric = [c for c in attributes if c not in ("Plan Type", "Surname", "Churn Reason")]
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
                    "numeric_attributes": [_snake(c) for c in numeric],
                },
            },
            "labels": {"snapshot_date": "2024-01-01"},
            "train": {"max_rounds": 30, "min_class_rows": 5, "threads": 1, **(train or {})},
        },
        NAME,
    )
    return root


def _train(root: Path) -> tuple[int, str]:
    for stage in ("ingest", "labels", "features"):
        code, out = churn(root, stage, name=NAME)
        assert code == 0, f"churn {stage}: {out}"
    return churn(root, "train", name=NAME)


@pytest.mark.slow
def test_a_planted_leak_stops_training_with_the_columns_named(tmp_path: Path) -> None:
    code, out = _train(_project(tmp_path, messy.snapshot(800, seed=2, leak=True)))
    assert code == 6, out
    assert "'churn_score'" in out
    assert "'churn_reason'" in out
    assert "single-feature ROC AUC" in out
    assert "train.exclude_features" in out
    assert "train.leakage.allow" in out
    assert not (tmp_path / "models" / NAME).exists(), "nothing is written when the guard stops"


@pytest.mark.slow
def test_excluding_the_leaks_trains_an_honest_model_without_the_surname(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = messy.snapshot(800, seed=2, leak=True, surname=True)
    root = _project(tmp_path, data, {"exclude_features": ["churn_score", "churn_reason"]})
    code, out = _train(root)
    assert code == 0, out
    model = ChurnModel.load(root / "models" / NAME)
    assert "surname" not in model.feature_names
    assert "monthlyfee" in model.feature_names
    assert any("left out 'surname'" in r.getMessage() for r in caplog.records)
