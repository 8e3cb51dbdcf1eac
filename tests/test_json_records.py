"""JSON exports (one object per line, or an array of objects) as raw sources: read as text
cells like a CSV, nested objects flattened, types that change from row to row accepted,
guessed by ``churn init`` and ingested to the same canonical events as the CSV."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from churn.errors import InputDataError
from churn.init.sniff import file_format, read_column, read_sample
from churn.io.files import auto_format, read_source_chunks
from churn.io.json_records import json_record_chunks, json_sample
from churn.settings import SourceSettings
from tests import messy
from tests.test_init import init, project, written

RECORDS = [
    {"id": 12345678901234567, "when": "2024-01-01", "amount": 3, "page": {"name": "Home"}},
    {"id": "00x", "when": "2024-01-02", "amount": 3.5, "page": {"name": "Cart", "n": 2}},
    {"id": 7, "when": None, "ok": True, "tags": ["a", "b"], "note": 'é, "quoted"'},
]


def write_lines(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def test_lines_become_text_cells_with_every_key_of_the_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "e.jsonl", RECORDS)
    chunks = list(json_record_chunks(path, name="e.jsonl", rows=2))
    assert [len(c) for c in chunks] == [2, 1]
    assert [list(c.index) for c in chunks] == [[0, 1], [2]]
    columns = ["id", "when", "amount", "page.name", "page.n", "ok", "tags", "note"]
    assert all(list(c.columns) == columns for c in chunks)  # "ok" first seen in row 2
    whole = pd.concat(chunks)
    assert whole["id"].tolist() == ["12345678901234567", "00x", "7"]  # every digit kept
    assert whole["amount"].tolist() == ["3", "3.5", None]
    assert whole["page.n"].tolist() == [None, "2", None]
    assert whole.loc[2, "ok"] == "true" and whole.loc[2, "tags"] == '["a", "b"]'
    assert whole.loc[2, "note"] == 'é, "quoted"' and whole.loc[2, "when"] is None


def test_an_array_of_objects_reads_as_lines_do(tmp_path: Path) -> None:
    lines = pd.concat(json_record_chunks(write_lines(tmp_path / "a.jsonl", RECORDS), name="a"))
    array = tmp_path / "a.json"
    array.write_text(json.dumps(RECORDS, indent=2))
    pd.testing.assert_frame_equal(pd.concat(json_record_chunks(array, name="a", rows=1)), lines)


@pytest.mark.parametrize("indent", [None, 2])
def test_an_apis_answer_wrapping_its_records_reads_as_lines_do(
    tmp_path: Path, indent: int | None
) -> None:
    """``{"orders": [...], "next_page": ...}``: before, one record with an ``orders`` column."""
    lines = pd.concat(json_record_chunks(write_lines(tmp_path / "a.jsonl", RECORDS), name="a"))
    answer = tmp_path / "orders.json"
    answer.write_text(json.dumps({"orders": RECORDS, "next_page": None}, indent=indent))
    pd.testing.assert_frame_equal(pd.concat(json_record_chunks(answer, name="a", rows=2)), lines)
    pd.testing.assert_frame_equal(json_sample(answer, name="a", rows=2), lines.head(2))


def test_one_object_without_a_list_of_records_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"id": 1, "tags": ["a"], "page": {"name": "Home"}}, indent=2))
    (record,) = json_record_chunks(path, name="one.json")
    assert record.to_dict("records") == [{"id": "1", "tags": '["a"]', "page.name": "Home"}]


def test_gzipped_lines_and_the_formats_auto_chooses(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in RECORDS)
    assert len(next(json_record_chunks(path, name="e"))) == 3
    assert [auto_format(p) for p in ("a.json", "b.JSONL", "c.ndjson.gz", "d.csv", "e.pq")] == [
        "json",
        "json",
        "json",
        "csv",
        "parquet",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}\n{"a": 2,}\n', r"bad.jsonl line 2: not valid JSON"),
        ('{"a": 1}\n\n[1, 2]\n', r"bad.jsonl line 3: expected a JSON object.*list"),
        ('[{"a": 1}, 3]', r"bad.jsonl: item 1 of the array is int"),
        ("a,b\n1,2\n", r"bad.jsonl: expected JSON records.*starts with 'a'"),
        ("  \n", r"bad.jsonl: expected JSON records.*nothing: it is empty"),
    ],
)
def test_what_is_not_json_records_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(InputDataError, match=message):
        list(json_record_chunks(path, name="bad.jsonl", rows=1))


def test_a_source_reads_json_and_names_a_bad_encoding(tmp_path: Path) -> None:
    write_lines(tmp_path / "e.json", RECORDS)
    source = SourceSettings(path="e.json", columns={})
    assert len(pd.concat(read_source_chunks(tmp_path, source, rows=2))) == 3
    (tmp_path / "l.json").write_bytes('{"name": "Zoë"}\n'.encode("latin-1"))
    with pytest.raises(InputDataError, match=r"l.json: cannot be decoded as utf-8.*encoding"):
        list(read_source_chunks(tmp_path, SourceSettings(path="l.json", columns={}), rows=2))


def test_json_lines_under_another_name_are_sniffed(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "export.txt", RECORDS)
    fmt = file_format(path)
    assert fmt.format == "json"
    assert read_sample(path, fmt)["page.name"].tolist() == ["Home", "Cart", ""]
    assert read_column(path, fmt, "id").tolist() == ["12345678901234567", "00x", "7"]


def app_log(n_customers: int, seed: int) -> pd.DataFrame:
    """A web app's event log as analytics tools export it: unix milliseconds, nested user."""
    log = messy.event_log(n_customers, seed=seed, date_format="%Y-%m-%d %H:%M:%S").events
    stamps = pd.to_datetime(log["Order Date"])
    return pd.DataFrame(
        {
            "ts": (stamps - pd.Timestamp(0)) // pd.Timedelta(1, unit="ms"),
            "user": log["client ref"],
            "revenue": log["Total (EUR)"],
        }
    )


def test_a_json_app_log_is_initialised_and_ingested_like_its_csv(tmp_path: Path) -> None:
    frame = app_log(120, seed=4)
    rng = np.random.default_rng(0)
    records = [
        {
            "ts": int(r.ts),
            "user": {"id": r.user, "plan": rng.choice(["free", "pro"])},
            "revenue": float(r.revenue),
        }
        for r in frame.itertuples()
    ]
    root = project(tmp_path / "p")
    events = write_lines(tmp_path / "events.jsonl", records)
    code, out = init(root, "app", "--events", str(events), "--customer-id", "user.id")
    assert code == 0, out
    source = written(root, "app")["data"]["events"]["sources"][0]
    assert source["columns"]["timestamp"] == "ts" and source["timestamp_format"] == "unix_ms"
    assert "format" not in source  # .jsonl: auto reads it as JSON
    assert "json records" in out
    # the plan each event carries describes the customer: a text event attribute (the CSV
    # below has none, so it is compared without it)
    attributes = source["attributes"]
    assert list(attributes.values()) == ["user.plan"]

    flat = pd.DataFrame(
        {"user": frame["user"], "ts": frame["ts"].astype(str), "revenue": frame["revenue"]}
    )
    (root / "data/raw/csv").mkdir(parents=True)
    flat.to_csv(root / "data/raw/csv/events.csv", index=False)
    csv_params = written(root, "app")
    csv_params["data"]["events"]["sources"][0] = {
        "path": "data/raw/csv/events.csv",
        "columns": {"customer_id": "user", "timestamp": "ts", "amount": "revenue"},
        "timestamp_format": "unix_ms",
    }
    (root / "pipelines/csv").mkdir()
    (root / "pipelines/csv/params.yaml").write_text(json.dumps(csv_params))
    for name in ("app", "csv"):
        result = CliRunner().invoke(app, ["ingest", name, "--project-dir", str(root)])
        assert result.exit_code == 0, result.output
    read = [
        pd.read_parquet(root / f"data/interim/{n}/canonical/events.parquet") for n in ("app", "csv")
    ]
    assert len(read[0]) == len(frame)
    (plan,) = attributes
    assert set(read[0][plan]) == {"free", "pro"}
    pd.testing.assert_frame_equal(read[0].drop(columns=[plan]), read[1])


def test_a_sample_reads_only_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text('{"a": 1}\n{"a": 2, "b": "x"}\n{"a": 3}\nnot json\n')
    sample = json_sample(path, name="big.jsonl", rows=3)
    assert sample.to_dict("list") == {"a": ["1", "2", "3"], "b": [None, "x", None]}
    with pytest.raises(InputDataError, match=r"big.jsonl line 4: not valid JSON"):
        list(json_record_chunks(path, name="big.jsonl", columns=["a"]))


def test_rows_without_a_customer_are_dropped_when_init_saw_some(tmp_path: Path) -> None:
    frame = app_log(40, seed=6)
    records = [{"userId": r.user, "ts": int(r.ts)} for r in frame.itertuples()]
    for record in records[1::9]:
        record["userId"] = ""  # a logged-out visit
    root = project(tmp_path / "p")
    code, out = init(root, "app", "--events", str(write_lines(tmp_path / "log.json", records)))
    assert code == 0, out
    assert written(root, "app")["data"]["events"]["drop_missing_customer_id"] is True
    assert "have no customer id (guests?)" in out
    result = CliRunner().invoke(app, ["ingest", "app", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    events = pd.read_parquet(root / "data/interim/app/canonical/events.parquet")
    assert len(events) == len(records) - len(records[1::9])
