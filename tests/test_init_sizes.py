"""``churn init`` on a small event log sizes ``train.min_class_rows`` from the labels the
written settings make (as it does for a small snapshot): the first ``churn run`` trains instead
of stopping in ``churn train`` after every stage before it, and the findings say how few."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn.init.plan import EventsPlan, sized_events
from churn.init.schedule import cutoff_plan
from churn.settings import TrainSettings, load_settings
from tests._project import run_stages
from tests.test_init import export, init, project, written
from tests.test_init_ids import orders, transactions

DEFAULT = TrainSettings.model_fields["min_class_rows"].default


def _plan() -> EventsPlan:
    cutoffs = cutoff_plan(dt.date(2020, 1, 1), dt.date(2021, 12, 31), 90)
    return EventsPlan("p", (), 90, cutoffs)


def test_enough_of_both_classes_keeps_the_default() -> None:
    plan = _plan()
    sized = sized_events(plan, {"train": (500, 900), "valid": (DEFAULT, 40), "test": (60, 70)})
    assert sized == plan


def test_the_smallest_class_of_any_split_sets_the_minimum_and_is_said() -> None:
    sized = sized_events(_plan(), {"train": (500, 900), "valid": (115, 3), "test": (80, 9)})
    assert sized.min_class_rows == 3
    assert any("validation cutoff labels 115 churners and 3 stayers" in n for n in sized.notes)
    assert any("noise" in n for n in sized.notes)


def test_a_split_with_one_class_is_said_and_not_papered_over() -> None:
    sized = sized_events(_plan(), {"train": (500, 900), "valid": (40, 30), "test": (86, 0)})
    assert sized.min_class_rows is None
    assert any("test cutoff" in n and "one class" in n for n in sized.notes)


def smallest_class(labels: pd.DataFrame) -> int:
    """The fewest churners or stayers of the training, validation and test cutoffs."""
    known = labels[labels["split"].isin(["train", "valid", "test"])].dropna(subset=["churned"])
    per_split = known.groupby("split")["churned"].agg(["sum", "count"])
    return int(pd.concat([per_split["sum"], per_split["count"] - per_split["sum"]]).min())


@pytest.mark.parametrize(
    ("name", "log"),
    [("shop", lambda: orders(150, 11)), ("members", lambda: transactions(40, 12))],
)
def test_the_minimum_written_is_what_the_labels_stage_makes(
    name: str, log: object, tmp_path: Path
) -> None:
    root = project(tmp_path / "p")
    frame = log()  # type: ignore[operator]
    code, out = init(root, name, "--events", str(export(tmp_path, frame, f"{name}.csv")))
    assert code == 0, out
    run_stages(root, ["ingest", "labels"], name=name)
    smallest = smallest_class(pd.read_parquet(root / "data/interim" / name / "labels.parquet"))
    assert 0 < smallest < DEFAULT  # small enough to matter
    assert written(root, name)["train"]["min_class_rows"] == smallest
    assert load_settings(root, name).train.min_class_rows == smallest
    assert "train.min_class_rows is set to" in out


def test_a_file_of_cancellations_is_counted_as_the_labels_stage_counts_it(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    log = orders(150, 11)
    last = log.groupby("customer_id", as_index=False)["order_purchase_timestamp"].max()
    gone = last.head(15).rename(columns={"order_purchase_timestamp": "cancelled_at"})
    code, out = init(
        root,
        "shop",
        "--events",
        str(export(tmp_path, log, "orders.csv")),
        "--churn-events",
        str(export(tmp_path, gone, "cancellations.csv")),
    )
    assert code == 0, out
    run_stages(root, ["ingest", "labels"], name="shop")
    smallest = smallest_class(pd.read_parquet(root / "data/interim/shop/labels.parquet"))
    assert 0 < smallest < DEFAULT
    assert written(root, "shop")["train"]["min_class_rows"] == smallest
