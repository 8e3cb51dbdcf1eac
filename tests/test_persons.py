"""An order export whose customer id is new on every order, with a customers table naming the
person behind each id (Olist: ``customer_id`` and ``customer_unique_id``): ``churn init`` maps
``person_id`` from the table, and ``churn ingest`` keys every canonical table by the person, so
a person's second order is a return. Before, init stopped (nobody ever came back)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from churn.data.contract import canonical_events
from churn.data.persons import by_person, one_row_per_person, person_ids
from churn.settings import CustomersSettings, EventsSettings
from tests._project import run_stages
from tests.test_init import export, init, project, written
from tests.test_init_ids import orders
from tests.test_init_sizes import smallest_class


def _olist(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    log = orders(n, seed, per_order_ids=True)
    customers = pd.DataFrame(
        {
            "customer_id": log["customer_id"],
            "customer_unique_id": log["person"],
            "customer_state": ["SP", "RJ", "MG"] * (len(log) // 3) + ["SP"] * (len(log) % 3),
        }
    ).sample(frac=1, random_state=seed)
    return log.drop(columns="person"), customers


def test_ids_are_replaced_by_their_person_and_tables_keep_one_row_each() -> None:
    settings = CustomersSettings.model_validate(
        {
            "sources": [
                {
                    "path": "c.csv",
                    "columns": {"customer_id": "cid", "person_id": "who"},
                    "attributes": {"state": "st"},
                }
            ]
        }
    )
    raw = pd.DataFrame(
        {"cid": ["a", "b", "c"], "who": ["p1", "p1", "p2"], "st": ["SP", "RJ", "MG"]}
    )
    persons = person_ids([(settings.sources[0], raw)], settings)
    assert persons is not None
    assert dict(zip(persons["customer_id"], persons["person_id"], strict=True)) == {
        "a": "p1",
        "b": "p1",
        "c": "p2",
    }
    events = pd.DataFrame({"customer_id": ["a", "b", "zz"], "n": [1, 2, 3]})
    assert by_person(events, persons)["customer_id"].tolist() == ["p1", "p1", "zz"]
    table = pd.DataFrame({"customer_id": ["a", "b", "c"], "state": ["SP", "RJ", "MG"]})
    assert one_row_per_person(table, persons).to_dict("list") == {
        "customer_id": ["p1", "p2"],
        "state": ["RJ", "MG"],
    }


def test_the_in_memory_events_are_keyed_by_person() -> None:
    log, customers = _olist(30, 1)
    src = {
        "path": "orders.csv",
        "columns": {"customer_id": "customer_id", "timestamp": "order_purchase_timestamp"},
    }
    settings = EventsSettings.model_validate({"sources": [src]})
    persons = pd.DataFrame(
        {"customer_id": customers["customer_id"], "person_id": customers["customer_unique_id"]}
    )
    events, _ = canonical_events(
        [(settings.sources[0], log)], settings, now=dt.datetime(2030, 1, 1), persons=persons
    )
    assert set(events["customer_id"]) == set(customers["customer_unique_id"])
    assert events["customer_id"].is_monotonic_increasing


def test_an_olist_shaped_export_initialises_and_ingests_by_person(tmp_path: Path) -> None:
    log, customers = _olist(300, 2)
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "olist",
        "--events",
        str(export(tmp_path, log, "olist_orders_dataset.csv")),
        "--customers",
        str(export(tmp_path, customers, "olist_customers_dataset.csv")),
    )
    assert code == 0, out
    assert "read as the person in 'customer_unique_id'" in out
    source = written(root, "olist")["data"]["customers"]["sources"][0]
    assert source["columns"] == {"customer_id": "customer_id", "person_id": "customer_unique_id"}
    assert "customer_unique_id" not in source.get("attributes", {}).values()
    run_stages(root, ["ingest", "labels"], name="olist")
    canonical = root / "data/interim/olist/canonical"
    events = pd.read_parquet(canonical / "events.parquet")
    assert set(events["customer_id"]) == set(customers["customer_unique_id"])
    table = pd.read_parquet(canonical / "customers.parquet")
    assert table["customer_id"].is_unique
    assert set(table["customer_id"]) == set(customers["customer_unique_id"])
    labels = pd.read_parquet(root / "data/interim/olist/labels.parquet")
    assert labels["churned"].dropna().eq(False).any()  # some people came back


def test_cancellations_keyed_by_order_ids_are_sized_by_person(tmp_path: Path) -> None:
    """With a cancellations file written with the order-level ids, the ``train.min_class_rows``
    init writes equals the labels stage's smallest class (init keys the file by person, as
    ingest does; on this log the cancellations fall before the validation cutoff, so the check
    is of consistency, not of the mapping alone)."""
    log, customers = _olist(150, 11)
    person = log["customer_id"].map(
        dict(zip(customers["customer_id"], customers["customer_unique_id"], strict=True))
    )
    repeat = person.map(person.value_counts()) > 1
    # people who order again after cancelling once, the cancellation filed under the order's id
    first = log[repeat].assign(person=person[repeat]).sort_values("order_purchase_timestamp")
    gone = first.groupby("person").head(1).head(30)[["customer_id", "order_purchase_timestamp"]]
    gone = gone.rename(columns={"order_purchase_timestamp": "cancelled_at"})
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "olist",
        "--events",
        str(export(tmp_path, log, "orders.csv")),
        "--customers",
        str(export(tmp_path, customers, "customers.csv")),
        "--churn-events",
        str(export(tmp_path, gone, "cancellations.csv")),
    )
    assert code == 0, out
    run_stages(root, ["ingest", "labels"], name="olist")
    smallest = smallest_class(pd.read_parquet(root / "data/interim/olist/labels.parquet"))
    assert 0 < smallest < 20  # small enough that init sizes it
    assert written(root, "olist")["train"]["min_class_rows"] == smallest
