"""Numbers as spreadsheets, invoices and European exports write them: thousands grouped, a
decimal comma (``decimal: ','``), a currency sign or code, accounting negatives. Read exactly
where unambiguous, refused (named, with the setting to change) where not; ``churn init``
guesses the decimal mark from its sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from churn.data.contract import canonical_customers, canonical_events
from churn.data.inference import decimal_mark, is_numeric, plain_numbers
from churn.data.parsing import parse_numbers
from churn.data.snapshot import canonical_snapshot
from churn.errors import ContractViolation
from churn.settings import CustomersSettings, EventsSettings, SnapshotSettings, SourceSettings
from tests import messy
from tests.test_init import init, project, written

NOW = pd.Timestamp("2026-01-01")


@pytest.mark.parametrize(
    ("decimal", "text", "value"),
    [
        (".", "12", 12.0),
        (".", "1,234.50", 1234.5),
        (".", "1,234,567", 1234567.0),
        (".", "1'234.5", 1234.5),
        (".", "1 234.5", 1234.5),
        (".", "$12.50", 12.5),
        (".", "US$ 3", 3.0),
        (".", "12.50 USD", 12.5),
        (".", "-$3", -3.0),
        (".", "(12.50)", -12.5),
        (".", "12.50-", -12.5),
        (".", ".5", 0.5),
        (",", "1.234,50", 1234.5),
        (",", "1 234,50 €", 1234.5),
        (",", "12,5", 12.5),
        (",", "1.234", 1234.0),
        (",", "EUR 7", 7.0),
        (",", "(3,25)", -3.25),
        (",", "R$ 1.000,00", 1000.0),
    ],
)
def test_written_amounts_read(decimal: str, text: str, value: float) -> None:
    parsed, bad = parse_numbers(pd.Series([text]), decimal)
    assert parsed.iloc[0] == pytest.approx(value) and bad.empty


@pytest.mark.parametrize(
    ("decimal", "text"),
    [
        (".", "1,5"),  # a decimal comma: not a number with a decimal point
        (".", "12,34.5"),  # groups of three only
        (".", "ORD123"),  # an id is not an amount
        (".", "12 apples"),
        (",", "1.5"),  # a decimal point: not a number with a decimal comma
        (",", "1,234.5"),
    ],
)
def test_ambiguous_or_foreign_text_is_refused(decimal: str, text: str) -> None:
    parsed, bad = parse_numbers(pd.Series([text]), decimal)
    assert parsed.isna().all() and bad.tolist() == [text]


def test_the_decimal_mark_is_guessed_from_a_sample() -> None:
    comma = pd.DataFrame({"id": ["a", "b", "c"], "amount": ["12,50", "1.234,5", "€ 3,99"]})
    point = pd.DataFrame({"amount": ["12.50", "1,234.5", "$3.99"], "qty": ["1", "2", "3"]})
    grouped_only = pd.DataFrame({"n": ["1,234", "2,000", "7"]})  # decides nothing
    assert [decimal_mark(f) for f in (comma, point, grouped_only)] == [",", ".", "."]
    plain = plain_numbers(comma, ",")
    assert plain["amount"].tolist() == ["12.5", "1234.5", "3.99"]
    assert plain["id"].tolist() == ["a", "b", "c"] and is_numeric(plain["amount"])


def test_a_source_with_a_decimal_comma_reads_its_amounts_and_names_the_setting() -> None:
    frame = pd.DataFrame(
        {"cust": ["1", "2", "2"], "when": ["2024-01-02"] * 3, "total": ["1.234,50", "12,5 €", "7"]}
    )
    src = SourceSettings(
        path="orders.csv",
        columns={"customer_id": "cust", "timestamp": "when", "amount": "total"},
        decimal=",",
    )
    events, _ = canonical_events([(src, frame)], EventsSettings(sources=[src]), now=NOW)
    assert sorted(events["amount"]) == [7.0, 12.5, 1234.5]
    dotted = SourceSettings(path="orders.csv", columns=src.columns)
    with pytest.raises(
        ContractViolation, match=r"orders.csv.*'total'.*decimal mark '.'.*set decimal: ','.*1,5"
    ):
        canonical_events([(dotted, frame)], EventsSettings(sources=[dotted]), now=NOW)


def test_a_european_export_is_initialised_and_ingested(tmp_path: Path) -> None:
    log = messy.event_log(150, seed=8).events
    amounts = log["Total (EUR)"].to_numpy(copy=True)
    rng = np.random.default_rng(8)
    amounts[rng.random(len(amounts)) < 0.05] *= 1000  # some in the thousands
    log["Total (EUR)"] = [
        f"{a:,.2f} €".replace(",", " ").replace(".", ",") for a in amounts
    ]  # "1 234,50 €"
    root = project(tmp_path / "p")
    path = tmp_path / "orders.csv"
    log.to_csv(path, index=False, sep=";")
    code, out = init(root, "eu", "--events", str(path))
    assert code == 0, out
    source = written(root, "eu")["data"]["events"]["sources"][0]
    assert source["decimal"] == "," and source["columns"]["amount"] == "Total (EUR)"
    result = CliRunner().invoke(app, ["ingest", "eu", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    events = pd.read_parquet(root / "data/interim/eu/canonical/events.parquet")
    assert sorted(events["amount"]) == pytest.approx(sorted(np.round(amounts, 2)))


def _customers_source(path: str, decimal: str) -> SourceSettings:
    return SourceSettings(
        path=path,
        columns={"customer_id": "id"},
        attributes={"credit_limit": "Credit limit", "zone": "Zone"},
        decimal=decimal,
    )


def test_customer_attributes_read_with_each_sources_decimal_mark() -> None:
    """A customers export with a decimal comma beside one with a point: each attribute that
    reads as numbers is typed as floats from both, and a code column stays as written."""
    eu = pd.DataFrame(
        {"id": ["1", "2"], "Credit limit": ["1.234,50", "12,5"], "Zone": ["01,2", "03,4"]}
    )
    us = pd.DataFrame({"id": ["3"], "Credit limit": ["2,000.25"], "Zone": ["05,6"]})
    settings = CustomersSettings(
        sources=[_customers_source("eu.csv", ","), _customers_source("us.csv", ".")]
    )
    raws = [(settings.sources[0], eu), (settings.sources[1], us)]
    typed = canonical_customers(raws, settings, categorical=["zone"]).set_index("customer_id")
    assert typed["credit_limit"].to_dict() == {"1": 1234.5, "2": 12.5, "3": 2000.25}
    assert typed["zone"].to_dict() == {"1": "01,2", "2": "03,4", "3": "05,6"}


def test_a_snapshot_joins_customer_numbers_written_with_a_decimal_comma() -> None:
    customers = pd.DataFrame(
        {"id": ["1", "2", "3"], "Credit limit": ["1.234,50", "12,5", "7"], "Zone": ["a", "b", "a"]}
    )
    settings = CustomersSettings(sources=[_customers_source("customers.csv", ",")])
    table = canonical_customers([(settings.sources[0], customers)], settings)
    snapshot = SnapshotSettings(
        source=SourceSettings(path="snapshot.csv", columns={"customer_id": "id", "label": "Churn"})
    )
    raw = pd.DataFrame({"id": ["1", "2", "3"], "Churn": ["Yes", "No", "No"]})
    out = canonical_snapshot(raw, snapshot, table).set_index("customer_id")
    assert out["credit_limit"].to_dict() == {"1": 1234.5, "2": 12.5, "3": 7.0}
    assert out["zone"].to_dict() == {"1": "a", "2": "b", "3": "a"}
