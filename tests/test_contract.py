"""The input contract: mapping, cleaning rules, real-data quirks, and every problem at once."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandera import errors as pa_errors

from churn.data.contract import (
    canonical_churn_events,
    canonical_customers,
    canonical_events,
)
from churn.data.parsing import parse_timestamps
from churn.data.schemas import (
    churn_events_schema,
    customers_schema,
    events_schema,
    snapshot_schema,
)
from churn.data.snapshot import canonical_snapshot
from churn.errors import ContractViolation, Problem
from churn.settings import (
    ChurnEventsSettings,
    CustomersSettings,
    EventsSettings,
    SnapshotSettings,
    SourceSettings,
)

NOW = dt.datetime(2026, 1, 1)


def source(path: str = "sales.csv", **columns: str) -> SourceSettings:
    mapping = {
        "customer_id": "cust",
        "timestamp": "when",
        "order_id": "invoice",
        "quantity": "qty",
        "unit_price": "price",
    }
    return SourceSettings(path=path, columns={**mapping, **columns})


def raw(**cols: list[object]) -> pd.DataFrame:
    return pd.DataFrame(cols)


def retail_settings(*sources: SourceSettings, **kw: object) -> EventsSettings:
    return EventsSettings.model_validate(
        {
            "sources": list(sources),
            "event_type_rules": [{"column": "order_id", "startswith": "C", "event_type": "return"}],
            **kw,
        }
    )


def test_cancelled_invoices_become_returns_and_amount_is_derived() -> None:
    src = source()
    frame = raw(
        cust=["1", "1"],
        when=["2024-01-01 10:00", "2024-01-02 10:00"],
        invoice=["100", "C100"],
        qty=["2", "-2"],
        price=["3.5", "3.5"],
    )
    events, _ = canonical_events([(src, frame)], retail_settings(src), now=NOW)
    assert events["event_type"].tolist() == ["purchase", "return"]
    assert events["amount"].tolist() == [7.0, -7.0]


def test_overlapping_sources_count_each_order_once_but_keep_repeated_lines() -> None:
    first = source("year1.csv")
    second = source("year2.parquet", customer_id="CustomerID")
    a = raw(
        cust=["1", "1", "1"],
        when=["2024-01-01"] * 3,
        invoice=["100", "100", "101"],
        qty=["1"] * 3,
        price=["1"] * 3,
    )
    b = raw(
        CustomerID=["1", "1", "2"],
        when=["2024-01-01", "2024-01-01", "2024-02-01"],
        invoice=["101", "101", "102"],
        qty=["1"] * 3,
        price=["1"] * 3,
    )
    events, dropped = canonical_events(
        [(first, a), (second, b)], retail_settings(first, second, overlap_key="order_id"), now=NOW
    )
    assert events["order_id"].tolist() == ["100", "100", "101", "102"]
    assert dropped["overlapping_orders"] == 2


def test_guest_rows_are_dropped_only_when_configured() -> None:
    src = source()
    frame = raw(
        cust=["1", None, " "],
        when=["2024-01-01"] * 3,
        invoice=["1", "2", "3"],
        qty=["1"] * 3,
        price=["1"] * 3,
    )
    events, dropped = canonical_events(
        [(src, frame)], retail_settings(src, drop_missing_customer_id=True), now=NOW
    )
    assert len(events) == 1 and dropped["missing_customer_id"] == 2
    with pytest.raises(ContractViolation, match="customer id is missing"):
        canonical_events([(src, frame)], retail_settings(src), now=NOW)


def test_measures_are_read_as_numbers_with_the_source_s_decimal_mark() -> None:
    """A usage log's numbers (logins, GB stored) become canonical columns of doubles, blank or
    written as none (n/a, -, NULL) as missing; a source that lacks another source's measure
    gets missing values; a word where a number belongs is named with its column and line."""
    usage = SourceSettings(
        path="usage.csv",
        columns={"customer_id": "account", "timestamp": "day"},
        measures={"logins": "Logins", "storage_gb": "Storage (GB)"},
        decimal=",",
    )
    orders = SourceSettings(
        path="orders.csv",
        columns={"customer_id": "account", "timestamp": "day", "amount": "total"},
        measures={"seats": "seats"},
    )
    settings = EventsSettings(sources=[usage, orders])
    events, _ = canonical_events(
        [
            (
                usage,
                raw(
                    account=["A", "B"],
                    day=["2024-01-02"] * 2,
                    Logins=["3", None],
                    **{"Storage (GB)": ["1.234,5", "0,25"]},
                ),
            ),
            (orders, raw(account=["A"], day=["2024-01-03"], total=["10"], seats=["4"])),
        ],
        settings,
        now=NOW,
    )
    assert list(events.columns)[-3:] == ["logins", "seats", "storage_gb"]
    by_id = events.set_index(["customer_id", "ts"])
    assert by_id["storage_gb"].tolist()[:1] == [1234.5]
    assert events["logins"].isna().sum() == 2 and events["seats"].notna().sum() == 1
    assert str(events["logins"].dtype) == "float64"
    written_as_none = raw(
        account=["A", "A", "A"],
        day=["2024-01-02"] * 3,
        Logins=["n/a", " - ", "NULL"],
        **{"Storage (GB)": ["1", "#N/A", ""]},
    )
    none, _ = canonical_events([(usage, written_as_none)], EventsSettings(sources=[usage]), now=NOW)
    assert none["logins"].isna().all() and none["storage_gb"].notna().sum() == 1
    broken = raw(account=["A"], day=["2024-01-02"], Logins=["many"], **{"Storage (GB)": ["1"]})
    with pytest.raises(ContractViolation, match=r"usage.csv.*Logins"):
        canonical_events([(usage, broken)], EventsSettings(sources=[usage]), now=NOW)


def test_a_measure_may_not_take_an_attribute_s_or_a_canonical_column_s_name() -> None:
    with pytest.raises(ValueError, match=r"measures: \['amount'\] also name"):
        EventsSettings(
            sources=[
                SourceSettings(
                    path="u.csv",
                    columns={"customer_id": "a", "timestamp": "t"},
                    measures={"amount": "spent"},
                )
            ]
        )


def test_rows_without_a_timestamp_are_refused_by_row_or_dropped_when_configured() -> None:
    """A totals line at the end of an export (``Total,,123456.78``) is no event: it had been
    kept with no time and its total as one customer's amount."""
    src = source()
    frame = raw(
        cust=["1", "2", "Total", "3"],
        when=["2024-01-01", "2024-01-02", " ", None],
        invoice=["1", "2", None, "4"],
        qty=["1", "1", None, "1"],
        price=["5", "7", "123456.78", "2"],
    )
    with pytest.raises(ContractViolation, match=r"'when'.*timestamp is missing.*'row 4'.*'row 5'"):
        canonical_events([(src, frame)], retail_settings(src), now=NOW)
    events, _ = canonical_events(
        [(src, frame)], retail_settings(src, drop_missing_timestamp=True), now=NOW
    )
    assert events["customer_id"].tolist() == ["1", "2"]
    assert events["ts"].notna().all()


def test_float_customer_ids_become_integers_as_text() -> None:
    src = source()
    frame = raw(
        cust=[13085.0, 12346.0],
        when=["2024-01-01"] * 2,
        invoice=["1", "2"],
        qty=[1, 1],
        price=[1.0, 1.0],
    )
    events, _ = canonical_events([(src, frame)], retail_settings(src), now=NOW)
    assert sorted(events["customer_id"]) == ["12346", "13085"]


def test_every_problem_in_every_source_is_reported_at_once() -> None:
    good = source("a.csv")
    bad = source("b.csv")
    a = raw(cust=["1"], when=["2024-13-45"], invoice=["1"], qty=["x"], price=["1"])
    b = raw(cust=["2"], invoice=["1"], qty=["1"], price=["1"])  # no 'when' column
    with pytest.raises(ContractViolation) as err:
        canonical_events([(good, a), (bad, b)], retail_settings(good, bad), now=NOW)
    problems = err.value.problems
    assert {(p.source, p.column) for p in problems} == {
        ("a.csv", "when"),
        ("a.csv", "qty"),
        ("b.csv", "when"),
    }
    text = str(err.value)
    assert "3 problem(s)" in text and "'2024-13-45'" in text and "'x'" in text
    assert "the file has columns ['cust', 'invoice', 'qty', 'price']" in text


def test_future_timestamps_are_rejected() -> None:
    src = source()
    frame = raw(cust=["1"], when=["2031-01-01"], invoice=["1"], qty=["1"], price=["1"])
    with pytest.raises(ContractViolation, match="not in the future"):
        canonical_events([(src, frame)], retail_settings(src), now=NOW)


def test_compact_dates_like_cdnow() -> None:
    ts, bad = parse_timestamps(pd.Series(["19970101", "19980630"]), fmt="%Y%m%d", timezone="UTC")
    assert ts.tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1998-06-30")]
    assert bad.empty


def test_six_digit_dates_like_a_bank_s_and_their_dropped_leading_zero() -> None:
    values = pd.Series([950316, 981231, 50316, None], dtype="Int64")  # 2005-03-16 lost its 0
    ts, bad = parse_timestamps(values, fmt="%y%m%d", timezone="UTC")
    assert ts.iloc[:3].tolist() == [
        pd.Timestamp("1995-03-16"),
        pd.Timestamp("1998-12-31"),
        pd.Timestamp("2005-03-16"),
    ]
    assert pd.isna(ts.iloc[3]) and bad.empty


def test_time_zones_are_converted_to_utc() -> None:
    local, _ = parse_timestamps(pd.Series(["2024-07-01 00:30"]), fmt=None, timezone="Europe/London")
    assert local.iloc[0] == pd.Timestamp("2024-06-30 23:30")
    mixed, bad = parse_timestamps(
        pd.Series(["2024-07-01T00:30:00+02:00", "2024-07-01T00:30:00-05:00"]),
        fmt=None,
        timezone="UTC",
    )
    assert mixed.tolist() == [pd.Timestamp("2024-06-30 22:30"), pd.Timestamp("2024-07-01 05:30")]
    assert bad.empty
    aware = pd.Series(pd.to_datetime(["2024-01-01 12:00"]).tz_localize("America/New_York"))
    utc, _ = parse_timestamps(aware, fmt=None, timezone="UTC")
    assert utc.iloc[0] == pd.Timestamp("2024-01-01 17:00")


def test_telco_blank_total_charges_become_missing() -> None:
    settings = SnapshotSettings(
        source=SourceSettings(
            path="telco.csv",
            columns={"customer_id": "id", "label": "Churn"},
            attributes={"total": "TotalCharges", "contract": "Contract"},
        ),
        numeric_attributes=["total"],
    )
    frame = raw(
        id=["a", "b"],
        Churn=["Yes", "No"],
        TotalCharges=[" ", "29.85"],
        Contract=["Month-to-month", "Two year"],
    )
    out = canonical_snapshot(frame, settings)
    assert np.isnan(out["total"].iloc[0]) and out["total"].iloc[1] == 29.85
    assert out["churned"].tolist() == [True, False]


def test_snapshot_with_one_class_is_refused() -> None:
    settings = SnapshotSettings(
        source=SourceSettings(path="t.csv", columns={"customer_id": "id", "label": "Churn"}),
    )
    with pytest.raises(ContractViolation, match="two classes"):
        canonical_snapshot(raw(id=["a", "b"], Churn=["No", "No"]), settings)


def test_customers_with_missing_or_repeated_ids_are_refused_with_rows_and_values() -> None:
    src = SourceSettings(path="crm.csv", columns={"customer_id": "id"}, attributes={"plan": "p"})
    frame = raw(id=["a", None, "b", "a", " ", "a"], p=["x"] * 6)
    with pytest.raises(ContractViolation) as err:
        canonical_customers([(src, frame)], CustomersSettings(sources=[src]))
    assert err.value.problems == (
        Problem("crm.csv", "id", "customer id is missing", 2, ("row 3", "row 6")),
        Problem("crm.csv", "id", "customer id is not unique", 3, ("a",)),
    )
    assert "Fix the customers table" in str(err.value)


def test_a_customer_in_two_sources_keeps_the_row_of_the_last() -> None:
    first = SourceSettings(path="a.csv", columns={"customer_id": "id"}, attributes={"plan": "p"})
    second = first.model_copy(update={"path": "b.csv"})
    settings = CustomersSettings(sources=[first, second])
    out = canonical_customers(
        [(first, raw(id=["1", "2"], p=["old", "x"])), (second, raw(id=[1.0], p=["new"]))],
        settings,
    )
    assert out.set_index("customer_id")["plan"].to_dict() == {"1": "new", "2": "x"}


def test_churn_events_without_a_customer_id_are_refused_by_row() -> None:
    src = SourceSettings(path="cancel.csv", columns={"customer_id": "id", "timestamp": "at"})
    frame = raw(id=["a", "", "a"], at=["2024-01-01", "2024-02-01", "not a date"])
    with pytest.raises(ContractViolation) as err:
        canonical_churn_events([(src, frame)], ChurnEventsSettings(sources=[src]))
    assert err.value.problems == (
        Problem("cancel.csv", "at", "unparseable timestamp", 1, ("not a date",)),
        Problem("cancel.csv", "id", "customer id is missing", 1, ("row 3",)),
    )


def test_snapshot_rows_need_one_unique_customer_id_each() -> None:
    settings = SnapshotSettings(
        source=SourceSettings(path="t.csv", columns={"customer_id": "id", "label": "Churn"}),
    )
    frame = raw(id=["a", "b", "b", None], Churn=["Yes", "No", "No", None])
    with pytest.raises(ContractViolation) as err:
        canonical_snapshot(frame, settings)
    assert [(p.column, p.rule, p.n_rows, tuple(p.examples)) for p in err.value.problems] == [
        ("Churn", "label is missing", 1, ("row 5",)),
        ("id", "customer id is missing", 1, ("row 5",)),
        ("id", "customer id is not unique", 2, ("b",)),
    ]


def test_every_canonical_table_matches_its_schema() -> None:
    """The schemas describe what the mapping produces, so they refuse only bad data."""
    src = source().model_copy(update={"attributes": {"country": "land"}})
    frame = raw(
        cust=[1.0, 2.0],
        when=["2024-01-01", "2024-01-02"],
        invoice=["1", None],
        qty=["1", None],
        price=[1.5, 2.0],
        land=["UK", None],
    )
    events, _ = canonical_events([(src, frame)], retail_settings(src), now=NOW)
    events_schema(NOW, ["country"]).validate(events)

    crm = SourceSettings(
        path="crm.csv",
        columns={"customer_id": "id", "signup_date": "since"},
        attributes={"plan": "p"},
    )
    customers = canonical_customers(
        [(crm, raw(id=[7, 8], since=["2023-05-01", None], p=[1, None]))],
        CustomersSettings(sources=[crm]),
    )
    customers_schema(["plan"], signup_date=True).validate(customers)

    cancel = SourceSettings(path="c.csv", columns={"customer_id": "id", "timestamp": "at"})
    churn_events = canonical_churn_events(
        [(cancel, raw(id=["7"], at=["2024-03-01"]))], ChurnEventsSettings(sources=[cancel])
    )
    churn_events_schema().validate(churn_events)

    telco = SnapshotSettings(
        source=SourceSettings(
            path="t.csv",
            columns={"customer_id": "id", "label": "Churn"},
            attributes={"total": "T", "senior": "S"},
        ),
        numeric_attributes=["total"],
    )
    snapshot = canonical_snapshot(
        raw(id=["a", "b"], Churn=["Yes", "No"], T=[" ", "1.5"], S=[0, 1]), telco
    )
    snapshot_schema(["total", "senior"], numeric=["total"]).validate(snapshot)


def test_the_schemas_refuse_what_the_mapping_never_produces() -> None:
    """A number among text ids, a repeated key, a missing key: each a failure pandera reports."""
    frame = pd.DataFrame({"customer_id": pd.Series(["a", 7, "a", None], dtype=object)})
    with pytest.raises(pa_errors.SchemaErrors) as err:
        customers_schema([], signup_date=False).validate(frame, lazy=True)
    failed = set(err.value.failure_cases["check"])
    assert failed == {"text", "not_nullable", "field_uniqueness"}
