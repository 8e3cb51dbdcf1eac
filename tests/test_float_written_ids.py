"""Customer ids written as floats ('17850.0', blanks for guests: a Kaggle copy of UCI Online
Retail saved by pandas or a spreadsheet) are read as the whole numbers they are ('17850') in
every table keyed by customer, so scores, CRM files and contacts log carry ids a CRM matches,
and a customers table or a cancellations file written without the '.0' still joins."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.contract import canonical_events, customer_ids
from churn.data.id_notes import WrittenIds, written_id_notes
from churn.data.parsing import parse_ids, whole_number_ids
from churn.data.problems import Problems
from churn.settings import EventsSettings, SourceSettings
from tests import messy
from tests._project import churn, write_params
from tests.test_init import export, init, project, written

# ---- the rule, value by value ------------------------------------------------------------------


def text(*values: object) -> pd.Series:
    return pd.Series(values, dtype=object)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("12697.0", "12697"),
        ("12697.00", "12697"),
        (" 17850.0 ", "17850"),  # trimmed first, as every id is
        ("0012.0", "0012"),  # leading zeros kept as written
        ("0.0", "0"),
        ("12697", "12697"),
        ("12.5", "12.5"),  # not a whole number
        ("12.50", "12.50"),
        ("A1.0", "A1.0"),  # a code, not a number
        ("A12.0", "A12.0"),
        ("1.2697E4", "1.2697E4"),
        ("-3.0", "-3.0"),
        ("12697.", "12697."),
        (".0", ".0"),
        ("12.0.0", "12.0.0"),
    ],
)
def test_a_whole_number_written_with_a_point_and_zeros_is_read_as_its_digits(
    written: str, read: str
) -> None:
    ids, bad = parse_ids(text(written))
    assert ids.tolist() == [read] and bad.empty


def test_blanks_stay_missing_and_other_values_keep_their_place() -> None:
    ids, _ = parse_ids(text("17850.0", "", None, "  ", "12697.0", np.nan))
    assert ids.tolist()[0] == "17850" and ids.tolist()[4] == "12697"
    assert ids.isna().tolist() == [False, True, True, True, False, True]


def test_the_rule_is_per_value_so_a_mixed_column_reads_one_number_as_one_id() -> None:
    """'12' and '12.0' are one number written two ways (two exports stacked); a text id, a
    fraction or a guest beside them changes nothing for the others."""
    mixed = text("12", "12.0", "A7", "12.5", "guest", "0012.0", "13.000")
    assert parse_ids(mixed)[0].tolist() == ["12", "12", "A7", "12.5", "guest", "0012", "13"]


def test_the_text_rule_gives_the_ids_a_column_of_floats_gives() -> None:
    """What a parquet or Excel column of floats reads as, a CSV of the same floats does."""
    floats = pd.Series([17850.0, np.nan, 12697.0, 13085.0])
    as_csv = floats.map(lambda v: "" if np.isnan(v) else repr(v))
    assert parse_ids(as_csv)[0].tolist() == parse_ids(floats)[0].tolist()


def test_whole_number_ids_leaves_a_column_without_any_untouched() -> None:
    ids = text("A1", None, "0012")
    assert whole_number_ids(ids) is ids


def source(path: str = "orders.csv", **extra: object) -> SourceSettings:
    return SourceSettings.model_validate(
        {"path": path, "columns": {"customer_id": "CustomerID", "timestamp": "t"}, **extra}
    )


def test_a_guest_id_in_missing_ids_is_missing_however_the_zero_is_written() -> None:
    for listed in (["0"], ["0.0"]):
        ids = customer_ids(
            text("0.0", "0", "17850.0", "00"), source(missing_ids=listed), Problems()
        )
        assert ids.isna().tolist() == [True, True, False, False]  # '00' is another code
        assert ids.tolist()[2:] == ["17850", "00"]


def orders(ids: list[str]) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "CustomerID": ids,
            "t": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
        }
    )


def test_chunks_of_one_file_read_an_id_alike_whatever_else_each_holds() -> None:
    """An events file is cleaned a chunk at a time: a chunk of only '12697.0' and a chunk with
    a text id beside it must read '12697.0' alike, or the customer splits in two."""
    settings = EventsSettings.model_validate(
        {"sources": [source().model_dump()], "drop_missing_customer_id": True}
    )
    now = dt.datetime(2025, 1, 1)
    raw = orders(["12697.0", "17850.0", "", "12697.0", "A7", "12697.0", "17850.0"])
    whole, _ = canonical_events([(source(), raw)], settings, now=now)
    chunks = [(source(), raw.iloc[:3]), (source(), raw.iloc[3:])]
    split, _ = canonical_events(chunks, settings, now=now)
    assert sorted(whole["customer_id"]) == sorted(split["customer_id"])
    assert whole["customer_id"].value_counts().to_dict() == {"12697": 3, "17850": 2, "A7": 1}


def test_the_note_names_the_file_the_column_and_a_value_as_written() -> None:
    counts = WrittenIds()
    counts.count(text("17850.0", "", "12697.0"))
    counts.count(text("13085.0"))
    note = counts.note("data/raw/shop/orders.csv", "CustomerID")
    assert note is not None and not counts.doubtful
    assert "data/raw/shop/orders.csv: column 'CustomerID': 3 id(s)" in note
    assert "'17850.0'" in note and "'17850'" in note
    assert WrittenIds().note("x.csv", "id") is None


def test_fractions_beside_rewritten_ids_make_the_note_a_doubt() -> None:
    counts = WrittenIds()
    counts.count(text("3.0", "3.1", "4.0"))
    assert counts.doubtful
    assert "dotted codes" in (counts.note("a.csv", "id") or "")


def test_notes_cover_the_person_id_of_a_customers_source() -> None:
    src = SourceSettings.model_validate(
        {"path": "c.csv", "columns": {"customer_id": "cid", "person_id": "pid"}}
    )
    raw = pd.DataFrame({"cid": ["A1", "A2"], "pid": ["7.0", "8.0"]})
    notes = written_id_notes([(src, raw)])
    assert len(notes) == 1 and "column 'pid'" in notes[0][0]


# ---- end to end: churn init, then every stage to the CRM files ---------------------------------

DIGITS = re.compile(r"^\d+$")
OFFSET = 12_000  # ids like UCI Online Retail's 12346..18287


def float_written(ids: pd.Series, *, blanks: float, rng: np.random.Generator) -> pd.Series:
    """Ids as pandas writes an integer column with missing values: floats, blank cells."""
    out = ids.astype(int).add(OFFSET).astype(float)
    out[rng.random(len(out)) < blanks] = np.nan
    return out


def whole(ids: pd.Series) -> pd.Series:
    return ids.astype(int).add(OFFSET)


def id_columns(folder: Path) -> dict[str, pd.Series]:
    """The customer id column of every CSV file the export wrote, by file name."""
    found = {}
    for path in sorted(folder.rglob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        named = [c for c in frame.columns if "customer_id" in c.lower()]
        if named:
            found[path.name] = frame[named[0]]
    return found


@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
@pytest.mark.parametrize("floats_in", ["events", "customers"])
def test_float_written_ids_reach_the_crm_as_whole_numbers_and_join(
    tmp_path: Path, floats_in: str, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(5)
    log = messy.event_log(150, seed=2, customers_table=True)
    assert log.customers is not None
    events, customers = log.events.copy(), log.customers.copy()
    if floats_in == "events":  # UCI Online Retail: the orders' CustomerID, with guests
        events["client ref"] = float_written(events["client ref"], blanks=0.05, rng=rng)
        customers["client ref"] = whole(customers["client ref"])
    else:  # a CRM's accounts saved through a spreadsheet, orders from the shop
        events["client ref"] = whole(events["client ref"])
        customers["client ref"] = float_written(customers["client ref"], blanks=0.0, rng=rng)
    # cancellations written as floats either way: they join orders written with or without
    gone = events.dropna().groupby("client ref", as_index=False)["Order Date"].max().head(40)
    gone = gone.rename(columns={"Order Date": "cancelled on"}).astype({"client ref": float})
    files = {
        "--events": export(tmp_path, events, "orders.csv"),
        "--customers": export(tmp_path, customers, "customers.csv"),
        "--churn-events": export(tmp_path, gone, "cancellations.csv"),
    }
    floats_file = files["--events" if floats_in == "events" else "--customers"]
    assert ".0," in floats_file.read_text().splitlines()[1] + ","  # written as the bug report's

    root = project(tmp_path / "p")
    code, out = init(root, "shop", *[str(v) for kv in files.items() for v in kv])
    assert code == 0, out
    assert ".0'" not in out  # no note of init's counts '12697.0' apart from '12697'
    params = written(root, "shop")  # the model's search and backtest have tests of their own
    params["train"] |= {"search": {"enabled": False}, "backtest_cutoffs": 0, "threads": 1}
    write_params(root, params)
    with caplog.at_level(logging.INFO, logger="churn"):
        for stage in ("ingest", "labels", "features", "train"):
            code, out = churn(root, stage)
            assert code == 0, f"churn {stage}: {out}"
    said = [r.getMessage() for r in caplog.records if "decimal point" in r.getMessage()]
    named = "orders.csv" if floats_in == "events" else "customers.csv"
    assert len(said) == 2 and named in said[0] and "'client ref'" in said[0], said
    assert "cancellations.csv" in said[1]
    levels = {r.levelno for r in caplog.records if "decimal point" in r.getMessage()}
    assert levels == {logging.INFO}
    code, out = churn(root, "score", "--model", str(root / "models/shop"))
    assert code == 0, out
    code, out = churn(root, "export")
    assert code == 0, out

    canonical = root / "data/interim/shop/canonical"
    table = {n: pd.read_parquet(canonical / f"{n}.parquet") for n in ("events", "customers")}
    table["churn_events"] = pd.read_parquet(canonical / "churn_events.parquet")
    for name, frame in table.items():
        assert frame["customer_id"].str.fullmatch(DIGITS).all(), name
    assert set(table["churn_events"]["customer_id"]) <= set(table["events"]["customer_id"])
    assert set(table["events"]["customer_id"]) <= set(table["customers"]["customer_id"])
    features = pd.read_parquet(root / "data/interim/shop/features.parquet", columns=["segment"])
    assert features["segment"].notna().mean() > 0.99  # the customers' attributes joined

    scores = pd.read_parquet(root / "data/scored/shop/scores.parquet")
    assert len(scores) and scores["customer_id"].str.fullmatch(DIGITS).all()
    crm = id_columns(root / "data/exports/shop")
    assert {"salesforce.csv", "hubspot.csv", "generic.csv", "contacts_log.csv"} <= set(crm)
    for name, ids in crm.items():
        assert ids.str.fullmatch(DIGITS).all(), (name, ids[~ids.str.fullmatch(DIGITS)].head())
    assert set(crm["salesforce.csv"]) <= set(customers["client ref"].astype(int).astype(str))
