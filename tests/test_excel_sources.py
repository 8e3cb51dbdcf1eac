"""Excel workbooks as raw sources: one sheet, a named sheet, or every sheet stacked (one sheet
per year, as UCI's Online Retail II ships), read as text cells like a CSV; ``churn init``
chooses the sheets; what cannot be read is named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from churn.errors import InputDataError
from churn.init.sniff import file_format, read_column, read_sample
from churn.io.files import read_source_chunks
from churn.settings import SourceSettings
from tests import messy
from tests.test_init import init, project, written


def invoice_lines(n_customers: int, seed: int) -> pd.DataFrame:
    """Invoice lines with Excel's own types: datetimes, whole-number ids with gaps, prices."""
    log = messy.event_log(n_customers, seed=seed, date_format="%Y-%m-%d %H:%M:%S").events
    rng = np.random.default_rng(seed)
    ids = log["client ref"].astype(int).astype(float)
    ids[rng.random(len(ids)) < 0.03] = np.nan  # guests
    return pd.DataFrame(
        {
            "Invoice": [f"{540000 + i}" for i in range(len(log))],
            "InvoiceDate": pd.to_datetime(log["Order Date"]),
            "Price": log["Total (EUR)"],
            "Customer ID": ids,
        }
    ).sort_values("InvoiceDate", ignore_index=True)


def workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def by_year(lines: pd.DataFrame) -> dict[str, pd.DataFrame]:
    year = lines["InvoiceDate"].dt.year
    return {f"Year {y}": lines[year == y] for y in sorted(year.unique())}


def test_cells_read_as_a_csv_of_the_same_table_would(tmp_path: Path) -> None:
    lines = invoice_lines(30, seed=1)
    workbook(tmp_path / "w.xlsx", {"Sheet1": lines})
    source = SourceSettings(path="w.xlsx", columns={})
    chunks = list(read_source_chunks(tmp_path, source, rows=100))
    assert [c.index[0] for c in chunks] == list(range(0, len(lines), 100))
    read = pd.concat(chunks)
    assert read["InvoiceDate"].iloc[0] == lines["InvoiceDate"].iloc[0].strftime("%Y-%m-%d %H:%M:%S")
    guest = lines["Customer ID"].isna()
    assert read.loc[guest.to_numpy(), "Customer ID"].isna().all()
    assert read.loc[~guest.to_numpy(), "Customer ID"].str.fullmatch(r"\d+").all()  # no ".0"


def test_sheets_by_name_all_stacked_or_refused(tmp_path: Path) -> None:
    lines = invoice_lines(40, seed=2)
    sheets = by_year(lines)
    workbook(tmp_path / "w.xlsx", sheets)
    first, *_ = sheets
    read = {
        sheet: pd.concat(
            read_source_chunks(
                tmp_path, SourceSettings(path="w.xlsx", columns={}, sheet=sheet), rows=None
            )
        )
        for sheet in (None, first, "*")
    }
    assert len(read[None]) == len(read[first]) == len(sheets[first])
    assert len(read["*"]) == len(lines)
    with pytest.raises(
        InputDataError, match=r"w.xlsx: no sheet 'Totals'; the workbook has sheets \['Year"
    ):
        list(
            read_source_chunks(
                tmp_path, SourceSettings(path="w.xlsx", columns={}, sheet="Totals"), rows=None
            )
        )
    workbook(tmp_path / "odd.xlsx", {"a": lines.head(5), "b": lines.head(5).drop(columns="Price")})
    with pytest.raises(
        InputDataError, match=r"odd.xlsx: sheet 'b' has columns .* every sheet must share"
    ):
        list(
            read_source_chunks(
                tmp_path, SourceSettings(path="odd.xlsx", columns={}, sheet="*"), rows=None
            )
        )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "old.xls",
            b"\xd0\xcf\x11\xe0 not really",
            r"old.xls: an Excel 97-2003 workbook \(.xls\).*save it as .xlsx",
        ),
        ("fake.xlsx", b"a,b\n1,2\n", r"fake.xlsx: not a readable Excel workbook"),
    ],
)
def test_what_is_not_a_workbook_is_named(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputDataError, match=message):
        list(read_source_chunks(tmp_path, SourceSettings(path=name, columns={}), rows=None))


def test_sniffed_with_its_sheets(tmp_path: Path) -> None:
    lines = invoice_lines(30, seed=3)
    path = workbook(tmp_path / "export.xlsx", by_year(lines))
    fmt = file_format(path)
    assert (fmt.format, fmt.sheet, len(fmt.sheets)) == ("excel", "*", len(by_year(lines)))
    assert len(read_sample(path, fmt)) == len(lines)
    assert read_column(path, fmt, "Invoice").tolist() == lines["Invoice"].tolist()
    single = workbook(tmp_path / "two.xlsx", {"data": lines, "notes": pd.DataFrame({"x": [1]})})
    assert file_format(single).sheet is None  # different headers: the first sheet


def test_a_workbook_of_yearly_sheets_is_initialised_and_ingested_like_its_csv(
    tmp_path: Path,
) -> None:
    lines = invoice_lines(120, seed=4)
    root = project(tmp_path / "p")
    book = workbook(tmp_path / "online_retail.xlsx", by_year(lines))
    code, out = init(root, "retail", "--events", str(book))
    assert code == 0, out
    source = written(root, "retail")["data"]["events"]["sources"][0]
    assert source["sheet"] == "*" and "excel, every sheet" in out
    assert written(root, "retail")["data"]["events"]["drop_missing_customer_id"] is True

    (root / "data/raw/csv").mkdir(parents=True)
    lines.assign(**{"Customer ID": lines["Customer ID"].astype("Int64")}).to_csv(
        root / "data/raw/csv/lines.csv", index=False
    )
    params = written(root, "retail")
    params["data"]["events"]["sources"][0] = {
        "path": "data/raw/csv/lines.csv",
        "columns": source["columns"],
        **(
            {"timestamp_format": source["timestamp_format"]} if "timestamp_format" in source else {}
        ),
    }
    (root / "pipelines/csv").mkdir()
    (root / "pipelines/csv/params.yaml").write_text(json.dumps(params))
    for name in ("retail", "csv"):
        result = CliRunner().invoke(app, ["ingest", name, "--project-dir", str(root)])
        assert result.exit_code == 0, result.output
    read = [
        pd.read_parquet(root / f"data/interim/{n}/canonical/events.parquet")
        for n in ("retail", "csv")
    ]
    assert len(read[0]) == int(lines["Customer ID"].notna().sum())
    pd.testing.assert_frame_equal(read[0], read[1])


def customers_of(lines: pd.DataFrame, seed: int) -> pd.DataFrame:
    ids = lines["Customer ID"].dropna().unique()
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Customer ID": ids,
            "Segment": rng.choice(["Retail", "Wholesale", "Online"], len(ids)),
            "Country": rng.choice(["UK", "DE", "FR", "NL"], len(ids)),
        }
    )


def test_one_workbook_as_the_events_and_the_customers_reads_a_sheet_each(
    tmp_path: Path,
) -> None:
    """A Transactions and a Customers sheet (and a notes sheet) in one workbook, given to both
    --events and --customers: the events read the largest sheet, the customers the other one
    keyed by the customer id, from one copy of the file. Before, init refused the file as two
    inputs "both named" the same."""
    lines = invoice_lines(120, seed=6)
    customers = customers_of(lines, seed=6)
    notes = pd.DataFrame({"Note": ["exported from the ERP", "prices in EUR"]})
    book = workbook(
        tmp_path / "export.xlsx",
        {"Notes": notes, "Transactions": lines, "Customers": customers},
    )
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(book), "--customers", str(book))
    assert code == 0, out
    params = written(root, "shop")["data"]
    events, table = params["events"]["sources"][0], params["customers"]["sources"][0]
    assert events["path"] == table["path"] == "data/raw/shop/export.xlsx"
    assert (events["sheet"], table["sheet"]) == ("Transactions", "Customers")
    assert set(table["attributes"].values()) == {"Segment", "Country"}
    assert "sheet 'Customers'" in " ".join(out.split())
    result = CliRunner().invoke(app, ["ingest", "shop", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    read = pd.read_parquet(root / "data/interim/shop/canonical/customers.parquet")
    assert len(read) == len(customers)


def test_one_csv_as_the_events_and_the_customers_is_refused_plainly(tmp_path: Path) -> None:
    lines = invoice_lines(40, seed=7)
    path = tmp_path / "lines.csv"
    lines.to_csv(path, index=False)
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(path), "--customers", str(path))
    assert code != 0
    said = " ".join(out.split())
    assert "is given as both the events and the customers table: a csv file holds one table" in said
    assert not (root / "pipelines/shop").exists()


def test_a_workbook_whose_events_read_every_sheet_leaves_none_for_the_customers(
    tmp_path: Path,
) -> None:
    lines = invoice_lines(60, seed=8)
    book = workbook(tmp_path / "years.xlsx", by_year(lines))
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(book), "--customers", str(book))
    assert code != 0
    said = " ".join(out.split())
    assert (
        "given as both the events and the customers table, but the events read every sheet" in said
    )
