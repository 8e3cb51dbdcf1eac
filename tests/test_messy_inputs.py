"""Messy exports, second round (issue 18), driven through the CLI on the small shop project:
ids that look like numbers stay exact, spellings of one event type are one type, repeated
header names are refused, refunds-only amounts and daylight-saving gaps are accepted with a
logged count.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn.data.contract import canonical_churn_events, canonical_customers
from churn.data.parsing import parse_ids
from churn.settings import ChurnEventsSettings, CustomersSettings, SourceSettings
from tests._project import ORDERS, churn, make_project, params, write_params

PARQUET = "data/raw/shop/orders.parquet"
EVENTS = "data/interim/shop/canonical/events.parquet"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def orders(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / ORDERS, dtype=str)


def ingest(project: Path) -> pd.DataFrame:
    code, out = churn(project, "ingest")
    assert code == 0, out
    return pd.read_parquet(project / EVENTS)


def long_ids(frame: pd.DataFrame, n: int = 150) -> pd.DataFrame:
    """``frame`` with its customers renumbered by ``n`` distinct 17-digit ids, neighbours one
    apart (12345678901234567 and 12345678901234568 both occur), a float64 rounds them in pairs."""
    customers = frame["cust"].drop_duplicates().head(n).tolist()
    kept = frame[frame["cust"].isin(customers)].copy()
    ids = {c: str(12_345_678_901_234_567 + i) for i, c in enumerate(customers)}
    kept["cust"] = kept["cust"].map(ids)
    return kept


def use_parquet(project: Path, **events: object) -> None:
    values = params()
    values["data"]["events"]["sources"][0]["path"] = PARQUET
    values["data"]["events"].update(events)
    write_params(project, values)


# ---- ids stay exact strings ---------------------------------------------------------------------


def test_150_distinct_17_digit_ids_in_a_csv_are_150_customers(project: Path) -> None:
    frame = long_ids(orders(project))
    frame.to_csv(project / ORDERS, index=False)
    events = ingest(project)
    assert events["customer_id"].nunique() == 150
    assert set(events["customer_id"]) == set(frame["cust"])


def test_ids_with_leading_zeros_keep_them(project: Path) -> None:
    frame = orders(project)
    frame["cust"] = frame["cust"].str.replace("C", "00", regex=False)  # C0012 -> 000012
    frame.loc[frame.index[:5], "cust"] = "123"
    frame.loc[frame.index[5:10], "cust"] = "00123"
    frame.to_csv(project / ORDERS, index=False)
    ids = set(ingest(project)["customer_id"])
    assert {"123", "00123", "000012"} <= ids


def test_a_parquet_int64_id_column_with_missing_ids_stays_exact(project: Path) -> None:
    """pyarrow turns an integer column with a null into float64 unless told otherwise."""
    frame = long_ids(orders(project))
    ids = [int(v) for v in frame["cust"]]
    ids[0] = None  # type: ignore[call-overload]  # a guest checkout
    table = pa.table(
        {
            "order": frame["order"].tolist(),
            "cust": pa.array(ids, pa.int64()),
            "when": frame["when"].tolist(),
            "total": pa.array(frame["total"].astype(float)),
        }
    )
    pq.write_table(table, project / PARQUET)
    use_parquet(project, drop_missing_customer_id=True)
    events = ingest(project)
    assert events["customer_id"].nunique() == len(set(ids) - {None}) == 150
    assert "12345678901234567" in set(events["customer_id"])
    assert "12345678901234568" in set(events["customer_id"])


def test_a_parquet_float_id_column_is_read_when_exact_and_refused_beyond_2_to_the_53(
    project: Path,
) -> None:
    frame = orders(project)
    frame["cust"] = frame["cust"].str[1:].astype(float) + 1000.0  # C0012 -> 1012.0
    frame["total"] = frame["total"].astype(float)
    frame.to_parquet(project / PARQUET, index=False)
    use_parquet(project)
    assert "1012" in set(ingest(project)["customer_id"])

    frame.loc[3, "cust"] = 12_345_678_901_234_567.0
    frame.loc[4, "cust"] = 10.5
    frame.to_parquet(project / PARQUET, index=False)
    code, out = churn(project, "ingest")
    assert code == 3, out
    assert f"{PARQUET}: column 'cust': customer id stored as a floating-point number" in out
    assert "(2 rows; e.g. 1.2345678901234568e+16, 10.5)" in out
    assert "store the ids as text or integers" in out


def test_parse_ids_keeps_text_and_integers_exact() -> None:
    text, bad = parse_ids(pd.Series([" 00123 ", "123", "", None]))
    assert text.tolist()[:2] == ["00123", "123"] and text.iloc[2:].isna().all() and bad.empty
    ints, bad = parse_ids(pd.Series([12_345_678_901_234_567, 12_345_678_901_234_568]))
    assert ints.tolist() == ["12345678901234567", "12345678901234568"] and bad.empty
    floats, bad = parse_ids(pd.Series([13085.0, np.nan, 2.0**53]))
    assert floats.iloc[0] == "13085" and floats.iloc[1:].isna().all()
    assert bad.tolist() == [2.0**53]


# ---- repeated header names ----------------------------------------------------------------------


def test_a_repeated_header_name_in_a_csv_is_refused_naming_the_file_and_column(
    project: Path,
) -> None:
    lines = (project / ORDERS).read_text().splitlines()
    assert lines[0] == "order,cust,when,total"
    body = [f"{line},9.99" for line in lines[1:]]
    (project / ORDERS).write_text("\n".join(["order,cust,when,total,total", *body]) + "\n")
    code, out = churn(project, "ingest")
    assert code == 3, out
    assert f"error: {ORDERS}: the header names column(s) ['total'] more than once" in out
    assert "Rename or remove the repeated column(s)" in out
    assert not (project / "data/interim/shop/canonical").exists()


def test_a_repeated_column_name_in_a_parquet_file_is_refused(project: Path) -> None:
    frame = orders(project)
    table = pa.Table.from_arrays(
        [pa.array(frame[c]) for c in ("order", "cust", "when", "total")]
        + [pa.array(frame["cust"])],
        names=["order", "cust", "when", "total", "cust"],
    )
    pq.write_table(table, project / PARQUET)
    use_parquet(project)
    code, out = churn(project, "ingest")
    assert code == 3, out
    assert f"{PARQUET}: the header names column(s) ['cust'] more than once" in out


def test_columns_a_reader_would_rename_are_not_repeats(project: Path) -> None:
    """'total' and 'total.1' are two names (pandas would call a repeated 'total' 'total.1')."""
    frame = orders(project)
    frame["total.1"] = frame["total"]
    frame.to_csv(project / ORDERS, index=False)
    assert len(ingest(project)) == len(frame)


def test_headerless_files_are_not_checked_for_repeats(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="churn")
    frame = orders(project)
    frame.to_csv(project / ORDERS, index=False, header=False)
    values = params()
    source = values["data"]["events"]["sources"][0]
    source.update(header=False, column_names=["order", "cust", "when", "total"])
    write_params(project, values)
    assert len(ingest(project)) == len(frame)


# ---- spellings of one event type ----------------------------------------------------------------


def test_event_types_match_the_settings_after_trimming_and_case_folding(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same customers are eligible and churn alike whichever way the export spells the
    types; the spellings are named once in the log."""
    caplog.set_level(logging.INFO, logger="churn")
    code, out = churn(project, "ingest")
    assert code == 0, out
    code, out = churn(project, "labels")
    assert code == 0, out
    expected = pd.read_parquet(project / "data/interim/shop/labels.parquet")

    frame = orders(project)
    spellings = ["Purchase", "purchase", " PURCHASE", "purchase "]
    frame["kind"] = [spellings[i % 4] for i in range(len(frame))]
    frame.to_csv(project / ORDERS, index=False)
    values = params()
    values["data"]["events"]["sources"][0]["columns"]["event_type"] = "kind"
    values["labels"]["activity_event_types"] = ["PURCHASE"]
    write_params(project, values)
    caplog.clear()

    events = ingest(project)
    assert set(events["event_type"]) == {"purchase"}
    notes = [r.message for r in caplog.records if "case-folded" in r.message]
    assert notes == [
        "event types are compared trimmed and case-folded: "
        "['PURCHASE', 'Purchase', 'purchase'] read as 'purchase'"
    ]
    code, out = churn(project, "labels")
    assert code == 0, out
    pd.testing.assert_frame_equal(
        pd.read_parquet(project / "data/interim/shop/labels.parquet"), expected
    )


def test_event_type_settings_are_folded_too(project: Path) -> None:
    """A rule or default spelt in capitals gives the same types as the data's spelling."""
    values = params()
    values["data"]["events"]["default_event_type"] = "Purchase"
    values["data"]["events"]["event_type_rules"] = [
        {"column": "order_id", "startswith": "O00000", "event_type": "Return"}
    ]
    write_params(project, values)
    events = ingest(project)
    assert set(events["event_type"]) == {"purchase", "return"}


# ---- no positive amount -------------------------------------------------------------------------


def test_amounts_that_are_all_negative_are_kept_with_a_warning_naming_the_column(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = orders(project)
    frame["total"] = "-" + frame["total"]
    frame.to_csv(project / ORDERS, index=False)
    events = ingest(project)
    assert (events["amount"] < 0).all()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"{ORDERS}: column 'total' (amount): none of the {len(frame):,} amounts is positive"
        in r.message
        for r in warnings
    ), caplog.text


def test_mostly_positive_amounts_give_no_sign_warning(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ingest(project)
    assert "amounts is positive" not in caplog.text


# ---- daylight saving ----------------------------------------------------------------------------


def test_times_at_a_daylight_saving_change_are_read_by_the_documented_rule(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = orders(project)
    at_a_change = frame["when"].str.match(r"2023-(10-29|03-26) 01:")
    frame = frame[~at_a_change].reset_index(drop=True)  # keep only the three planted below
    frame.loc[0, ["cust", "when"]] = ["Z1", "2023-10-29 01:30"]  # shown twice in London
    frame.loc[1, ["cust", "when"]] = ["Z2", "2023-03-26 01:30"]  # skipped in London
    frame.loc[2, ["cust", "when"]] = ["Z3", "2023-10-29 01:30"]
    frame.to_csv(project / ORDERS, index=False)
    values = params()
    values["data"]["events"]["timezone"] = "Europe/London"
    write_params(project, values)

    events = ingest(project).set_index("customer_id")
    assert events.loc["Z1", "ts"] == pd.Timestamp("2023-10-29 00:30")  # 01:30 BST, the earlier
    assert events.loc["Z3", "ts"] == pd.Timestamp("2023-10-29 00:30")
    assert events.loc["Z2", "ts"] == pd.Timestamp("2023-03-26 01:00")  # 02:00 BST
    assert (
        f"{ORDERS}: column 'when': 3 local time(s) fell on a daylight-saving change in "
        "Europe/London: 2 shown twice when the clocks went back, read as the earlier instant; "
        "1 skipped when they went forward, moved to the first time that exists"
    ) in caplog.text


# ---- snapshot labels and the other tables -------------------------------------------------------


def test_snapshot_label_spellings_all_count_and_the_mapping_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="churn")
    spellings = ["Yes", "yes", " Yes", "YES", "No", "no ", "NO"]
    rows = 7 * 30
    frame = pd.DataFrame(
        {
            "AccountId": [str(12_345_678_901_234_567 + i) for i in range(rows)],
            "Churn": [spellings[i % 7] for i in range(rows)],
            "MonthlyFee": np.arange(rows, dtype=float),
        }
    )
    raw = tmp_path / "data/raw/subs/customers.csv"
    raw.parent.mkdir(parents=True)
    frame.to_csv(raw, index=False)
    values = {
        "data": {
            "kind": "snapshot",
            "snapshot": {
                "source": {
                    "path": "data/raw/subs/customers.csv",
                    "columns": {"customer_id": "AccountId", "label": "Churn"},
                },
                "positive_label": "Yes",
            },
        },
        "labels": {"snapshot_date": "2024-01-01"},
    }
    write_params(tmp_path, values, name="subs")

    code, out = churn(tmp_path, "ingest", name="subs")

    assert code == 0, out
    snapshot = pd.read_parquet(tmp_path / "data/interim/subs/canonical/snapshot.parquet")
    assert snapshot["customer_id"].nunique() == rows
    assert int(snapshot["churned"].sum()) == 4 * 30
    notes = [r.message for r in caplog.records if "counted as churned" in r.message]
    assert len(notes) == 1
    assert "['YES', 'Yes', 'yes'] counted as churned" in notes[0]
    assert "['NO', 'No', 'no '] as stayed" in notes[0]  # the log quotes them as found


def test_ids_of_the_customers_and_churn_events_tables_stay_exact() -> None:
    """The same id parsing for every table that names customers."""
    ids = pd.Series([12_345_678_901_234_567, 12_345_678_901_234_568, None], dtype="Int64")
    customers_src = SourceSettings(path="c.parquet", columns={"customer_id": "id"})
    customers = canonical_customers(
        [(customers_src, pd.DataFrame({"id": ids}).dropna())],
        CustomersSettings(sources=[customers_src]),
    )
    assert customers["customer_id"].tolist() == ["12345678901234567", "12345678901234568"]
    churn_src = SourceSettings(path="x.csv", columns={"customer_id": "id", "timestamp": "ts"})
    churns = canonical_churn_events(
        [(churn_src, pd.DataFrame({"id": ["00123", "123"], "ts": ["2024-01-01", "2024-01-02"]}))],
        ChurnEventsSettings(sources=[churn_src]),
    )
    assert churns["customer_id"].tolist() == ["00123", "123"]
