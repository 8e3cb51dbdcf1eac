"""CSV exports whose header is not on the first line: a report's title and date, ``#``
comment lines (web analytics exports), blank lines. ``churn init`` finds the header and writes
``skip_rows``; ``churn ingest`` reads from it. Before, init stopped: "Expected 1 fields in
line 4, saw 3"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.init.sniff import file_format, preamble_lines, read_sample
from tests import messy
from tests._project import run_stages
from tests.test_init import init, project, written

BODY = "id;when;total\n" + "".join(f"{i};2024-01-0{1 + i % 9};{i}.5\n" for i in range(30))


@pytest.mark.parametrize(
    ("preamble", "expected"),
    [
        ("", 0),
        ("Sales report\nGenerated 2024-01-05 by ERP\n\n", 3),
        ("# ----------\n# Shop analytics\n# 20240101-20240131\n# ----------\n\n", 5),
        ("Orders; all stores\n", 1),  # one separator: still fewer fields than the header
        # a title Excel saved as CSV, padded to the table's width: as many fields, one filled
        ("Sales report;;\nGenerated 03.06.2024;;\n", 2),
        ("Sales report;;\n\n;;\n", 3),
    ],
)
def test_the_header_is_found_after_the_preamble(preamble: str, expected: int) -> None:
    assert preamble_lines(preamble + BODY) == expected


def test_decimal_commas_in_a_semicolon_file_are_no_preamble() -> None:
    """``;``-separated rows with ``48,66`` split into two fields on commas too: the separator
    that splits them into more fields wins, and its header is the first line."""
    text = "client;when;total\n" + "".join(f"{i};2024-01-01;{i},66 €\n" for i in range(30))
    assert preamble_lines(text) == 0
    assert preamble_lines("Report\n" + text) == 1


def test_a_header_with_one_blank_name_is_still_the_header() -> None:
    """pandas writes its index with a blank name: the header fills all fields but one."""
    assert preamble_lines(";when;total\n" + BODY.split("\n", 1)[1]) == 0


def test_padded_title_lines_above_a_meter_reading_export_are_skipped(tmp_path: Path) -> None:
    """A utility's readings, ``;`` and decimal commas, two title lines padded with ``;`` to the
    table's width: the first title was taken for the header, the columns came out as
    ``Unnamed: 1``, ``Unnamed: 2``..., the amount and the measures were lost and the second
    title read as a row without a customer ("a totals line?")."""
    rng = np.random.default_rng(5)
    lines = ["Export Ablesungen Stadtwerke;;;;", "Erstellt am 03.06.2024;;;;"]
    lines.append("Vertragskonto;Ablesedatum;Ablesegrund;Verbrauch (kWh);Betrag (EUR)")
    for k in range(60):
        for month in range(1, 13):
            kwh = rng.uniform(100, 400)
            kwh_text, euros = f"{kwh:.1f}".replace(".", ","), f"{kwh * 0.35:.2f}".replace(".", ",")
            lines.append(f"{700000 + k};28.{month:02d}.2023;Turnusablesung;{kwh_text};{euros}")
    path = tmp_path / "zaehlerstaende.csv"
    path.write_text("\n".join(lines) + "\n", encoding="cp1252")
    fmt = file_format(path)
    assert fmt.skip_rows == 2
    assert list(read_sample(path, fmt).columns)[:2] == ["Vertragskonto", "Ablesedatum"]
    root = project(tmp_path / "p")
    code, out = init(root, "strom", "--events", str(path), "--customer-id", "Vertragskonto")
    assert code == 0, out
    source = written(root, "strom")["data"]["events"]["sources"][0]
    assert source["skip_rows"] == 2
    assert source["columns"]["timestamp"] == "Ablesedatum"
    assert source["columns"]["amount"] == "Betrag (EUR)"
    assert "totals line" not in out


def test_a_file_whose_rows_vary_keeps_its_first_line() -> None:
    ragged = "a,b,c\n1,2\n3,4,5,6\n7\n8,9,10\n"
    assert preamble_lines(ragged) == 0


def _reads_after_the_title(path: Path, log: pd.DataFrame, unit: str, tmp_path: Path) -> None:
    """``path`` (``log`` below 3 title lines or rows) is sniffed, initialised and ingested
    from its header."""
    fmt = file_format(path)
    assert fmt.skip_rows == 3
    assert list(read_sample(path, fmt).columns) == list(log.columns)
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(path))
    assert code == 0, out
    assert f"header after 3 {unit}(s)" in out
    assert written(root, "shop")["data"]["events"]["sources"][0]["skip_rows"] == 3
    run_stages(root, ["ingest"], name="shop")
    events = pd.read_parquet(root / "data/interim/shop/canonical/events.parquet")
    assert len(events) == len(log)


def test_a_report_with_a_title_initialises_and_ingests(tmp_path: Path) -> None:
    log = messy.event_log(200, seed=41).events
    (tmp_path / "export").mkdir()
    path = tmp_path / "export" / "orders.csv"
    path.write_text("Orders report\nPeriod: 2022-2023\n\n" + log.to_csv(index=False))
    _reads_after_the_title(path, log, "line", tmp_path)


def test_a_workbook_with_title_rows_initialises_and_ingests(tmp_path: Path) -> None:
    log = messy.event_log(150, seed=42).events
    (tmp_path / "export").mkdir()
    path = tmp_path / "export" / "orders.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["Orders report"], ["Period: 2022-2023"]]).to_excel(
            writer, sheet_name="Orders", index=False, header=False
        )
        log.to_excel(writer, sheet_name="Orders", index=False, startrow=3)
    _reads_after_the_title(path, log, "row", tmp_path)
