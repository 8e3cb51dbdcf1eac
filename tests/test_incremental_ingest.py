"""Glob sources and the incremental ingest: a weekly job drops a new file beside last week's,
and ``churn ingest`` reads only that file, reusing the cleaned rows of the others from the
canonical folder's manifest, yet writes the same ``events.parquet`` as reading every file.

The files are messy the way weekly exports are: each re-exports the last orders of the one
before (``overlap_key``), one has a guest checkout, one a UTF-8 BOM and CRLF line ends, one a
line repeated exactly, and event types are spelt several ways."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churn.errors import ConfigError, InputDataError
from churn.io.manifest import MANIFEST, plan_ingest
from churn.io.paths import PipelinePaths
from churn.io.source_files import expand_sources, source_files
from churn.settings import SourceSettings, load_settings
from churn.stages import ingest
from tests._project import (
    ORDERS,
    churn,
    dvc,
    dvc_project,
    leftovers,
    make_project,
    orders,
    params,
    write_params,
)

NOW = dt.datetime(2026, 1, 1)
RAW = "data/raw/shop"
PATTERN = f"{RAW}/orders_*.csv"
OVERLAP = 5
"""Orders of the previous file each weekly file exports again."""


def weekly_orders(n_files: int = 6) -> dict[str, pd.DataFrame]:
    """The shop's orders cut by time into ``n_files`` drops named by their first day, each
    repeating the last ``OVERLAP`` orders of the one before; messy as described above."""
    frame = orders().sort_values("when", kind="stable").reset_index(drop=True)
    spellings = ["Purchase", " purchase", "PURCHASE", "purchase"]
    frame["kind"] = [spellings[i % len(spellings)] for i in range(len(frame))]
    bounds = [round(i * len(frame) / n_files) for i in range(n_files + 1)]
    files = {}
    for i in range(n_files):
        start = max(bounds[i] - (OVERLAP if i else 0), 0)
        part = frame.iloc[start : bounds[i + 1]]
        if i == 1:  # a guest checkout: no customer id
            part = pd.concat([part, part.iloc[[OVERLAP + 2]].assign(cust="", order="G000001")])
        if i == 3:  # a line exported twice
            part = pd.concat([part, part.iloc[[OVERLAP + 4]]])
        day = part["when"].iloc[OVERLAP if i else 0][:10]
        files[f"{RAW}/orders_{day}.csv"] = part
    return files


def write_file(root: Path, name: str, frame: pd.DataFrame, *, bom: bool = False) -> None:
    """Write one weekly file; ``bom``: as a spreadsheet saves it, with a BOM and CRLF."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if bom:
        frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    else:
        frame.to_csv(path, index=False)


def weekly_params(**events: Any) -> dict[str, Any]:
    values = params()
    source = values["data"]["events"]["sources"][0]
    source["path"] = PATTERN
    source["columns"]["event_type"] = "kind"
    values["data"]["events"] |= {
        "overlap_key": "order_id",
        "drop_missing_customer_id": True,
        **events,
    }
    return values


def weekly_project(root: Path, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """A project whose events source is ``PATTERN``, holding the weekly files ``names`` (all
    by default); returns every weekly file, written or not."""
    make_project(root)
    (root / ORDERS).unlink()
    files = weekly_orders()
    for name in names if names is not None else files:
        write_file(root, name, files[name], bom=name == min(files))
    write_params(root, weekly_params())
    return files


def run_ingest(root: Path, *, rebuild: bool = False) -> pd.DataFrame:
    paths = PipelinePaths(root, "shop")
    ingest.run(load_settings(root, "shop"), paths, now=NOW, rebuild=rebuild)
    return pd.read_parquet(paths.table("events"))


def files_read(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The raw files the ingest read, from its ``read <file>: <n> rows`` log lines."""
    lines = [re.fullmatch(r"read (\S+): [\d,]+ rows", r.getMessage()) for r in caplog.records]
    return [m.group(1) for m in lines if m]


def events_bytes(root: Path) -> bytes:
    return (root / "data/interim/shop/canonical/events.parquet").read_bytes()


def canonical_files(root: Path) -> dict[str, bytes]:
    folder = root / "data/interim/shop/canonical"
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="churn")
    return caplog


# ---- glob sources --------------------------------------------------------------------------


def test_a_pattern_expands_to_its_files_in_sorted_order_each_with_the_mapping(
    tmp_path: Path,
) -> None:
    for name in ("b.csv", "a.csv", "a.txt", "sub/c.csv", "sub/deeper/d.csv", ".hidden.csv"):
        (tmp_path / "raw" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "raw" / name).write_text("x\n1\n")
    (tmp_path / "raw/folder.csv").mkdir()  # a folder named like a file is no file
    source = SourceSettings(path="raw/*.csv", columns={"customer_id": "x"}, separator=";")

    flat = source_files(tmp_path, [source], key="data.events.sources")
    assert [f.source.path for f in flat] == ["raw/a.csv", "raw/b.csv"]
    assert {f.pattern for f in flat} == {"raw/*.csv"}
    assert {f.key for f in flat} == {"data.events.sources[0]"}
    assert all(f.source.separator == ";" and f.source.columns == source.columns for f in flat)

    deep = source.model_copy(update={"path": "raw/**/*.csv"})
    plain = source.model_copy(update={"path": "raw/not_there_yet.csv"})
    expanded = expand_sources(tmp_path, [plain, deep], key="data.customers.sources")
    assert [s.path for s in expanded] == [
        "raw/not_there_yet.csv",  # a plain path stays as written: its reader names it if missing
        "raw/a.csv",
        "raw/b.csv",
        "raw/sub/c.csv",
        "raw/sub/deeper/d.csv",
    ]


def test_a_pattern_matching_no_file_is_refused_naming_the_key_pattern_and_folder(
    tmp_path: Path,
) -> None:
    source = SourceSettings(path="raw/orders_*.csv", columns={"customer_id": "x"})
    with pytest.raises(ConfigError) as err:
        source_files(tmp_path, [source, source], key="data.contacts.sources")
    assert "data.contacts.sources[0].path: the pattern 'raw/orders_*.csv' matches no file" in str(
        err.value
    )
    assert str(tmp_path) in str(err.value)

    weekly_project(tmp_path)
    values = weekly_params()
    values["data"]["events"]["sources"].append(
        {**values["data"]["events"]["sources"][0], "path": f"{RAW}/returns_*.csv"}
    )
    write_params(tmp_path, values)
    code, out = churn(tmp_path, "ingest")
    assert code == ConfigError.exit_code == 2, out
    assert f"data.events.sources[1].path: the pattern '{RAW}/returns_*.csv' matches no file" in out
    assert f"in {tmp_path}" in out
    assert not (tmp_path / "data/interim/shop/canonical").exists()


def test_weekly_files_under_a_pattern_are_ingested_like_the_same_files_listed_one_by_one(
    tmp_path: Path,
) -> None:
    files = weekly_project(tmp_path / "glob")
    globbed = run_ingest(tmp_path / "glob")

    listed = weekly_project(tmp_path / "listed")
    values = weekly_params()
    source = values["data"]["events"]["sources"][0]
    values["data"]["events"]["sources"] = [{**source, "path": name} for name in sorted(listed)]
    write_params(tmp_path / "listed", values)
    pd.testing.assert_frame_equal(run_ingest(tmp_path / "listed"), globbed)

    every_order = pd.concat(files.values())
    kept = every_order[every_order["cust"] != ""]
    assert len(globbed) == kept["order"].nunique() + 1  # the line exported twice is kept
    assert set(globbed["event_type"]) == {"purchase"}


# ---- the manifest: only new files are read ---------------------------------------------------


def test_a_second_ingest_reads_only_the_new_files_and_writes_what_a_rebuild_writes(
    tmp_path: Path, log: pytest.LogCaptureFixture
) -> None:
    project = tmp_path / "weekly"
    files = weekly_project(project)
    names = sorted(files)
    # the first ingest sees weeks 0, 1, 3 and 4; week 2 arrives late (it sorts between files
    # already ingested, so every later file's place changes) and week 5 is the new week
    for name in (names[2], names[5]):
        (project / name).unlink()
    run_ingest(project)
    assert files_read(log) == [names[0], names[1], names[3], names[4]]
    manifest = (project / "data/interim/shop/canonical" / MANIFEST).read_text()
    assert names[0] in manifest and "sha256" in manifest

    log.clear()
    for name in (names[2], names[5]):
        write_file(project, name, files[name])
    incremental = run_ingest(project)
    assert files_read(log) == [names[2], names[5]]
    rows = sum(len(files[n]) for n in (names[0], names[1], names[3], names[4])) - 1  # the guest
    assert f"reused 4 file(s) already ingested ({rows:,} rows); read 2 file(s): " in log.text
    assert f"{names[2]}, {names[5]}" in log.text
    assert "event types are compared trimmed and case-folded" in log.text  # of every file

    fresh = tmp_path / "fresh"  # the same raw files, never ingested
    shutil.copytree(project / "data/raw", fresh / "data/raw")
    shutil.copytree(project / "pipelines", fresh / "pipelines")
    full = run_ingest(fresh)
    pd.testing.assert_frame_equal(incremental, full)
    assert events_bytes(project) == events_bytes(fresh)

    log.clear()
    rebuilt = run_ingest(project, rebuild=True)
    assert files_read(log) == names
    pd.testing.assert_frame_equal(rebuilt, full)
    assert events_bytes(project) == events_bytes(fresh)

    # overlap_key across files, incrementally: each order once, from the earliest file
    assert incremental["order_id"].nunique() == len(incremental) - 1  # the repeated line
    assert "cleaning rule overlapping_orders dropped 25 rows" in log.text  # 5 files x 5 orders

    log.clear()
    assert run_ingest(project).equals(full)  # nothing new: nothing read
    assert files_read(log) == []
    assert "read no file" in log.text


def test_a_changed_or_removed_weekly_file_is_refused_and_nothing_written_changes(
    tmp_path: Path,
) -> None:
    files = weekly_project(tmp_path)
    names = sorted(files)
    assert churn(tmp_path, "ingest")[0] == 0
    recorded = {n: (tmp_path / n).stat().st_size for n in names}
    before = canonical_files(tmp_path)

    changed = files[names[1]].copy()
    changed.loc[changed.index[OVERLAP + 3], "total"] = 999.99  # a corrected export
    write_file(tmp_path, names[1], changed)
    (tmp_path / names[4]).unlink()
    code, out = churn(tmp_path, "ingest")
    assert code == 3, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    assert f"{names[1]}: changed since it was ingested" in out
    assert f"recorded {recorded[names[1]]:,} bytes, sha256 " in out
    assert f"found {(tmp_path / names[1]).stat().st_size:,} bytes" in out
    assert "ingested 2" in out  # the date it was ingested
    assert f"{names[4]}: gone; " in out and f"matched by '{PATTERN}'" in out
    assert "data/interim/shop/canonical/manifest.json recorded" in out
    assert "`churn ingest shop --rebuild`" in out
    assert canonical_files(tmp_path) == before
    assert leftovers(tmp_path) == []

    code, out = churn(tmp_path, "ingest", "--rebuild")
    assert code == 0, out
    events = pd.read_parquet(tmp_path / "data/interim/shop/canonical/events.parquet")
    assert 999.99 in set(events["amount"])
    gone = (
        set(files[names[4]]["order"])
        - set(files[names[3]]["order"])
        - set(files[names[5]]["order"])
    )
    assert not gone & set(events["order_id"])
    assert churn(tmp_path, "ingest")[0] == 0  # the new manifest holds the files as they are


def test_a_weekly_file_no_longer_matched_is_refused_while_a_plain_source_may_change(
    tmp_path: Path, log: pytest.LogCaptureFixture
) -> None:
    files = weekly_project(tmp_path)
    names = sorted(files)
    extra = f"{RAW}/returns.csv"  # a plain source: a full export replaced in place
    returns = files[names[2]].head(10).assign(order=lambda f: "R" + f["order"], kind="Return")
    returns.to_csv(tmp_path / extra, index=False)
    values = weekly_params()
    values["data"]["events"]["sources"].append({**values["data"]["events"]["sources"][0]})
    values["data"]["events"]["sources"][1]["path"] = extra
    write_params(tmp_path, values)
    run_ingest(tmp_path)

    log.clear()
    returns.head(6).to_csv(tmp_path / extra, index=False)
    events = run_ingest(tmp_path)
    assert files_read(log) == [extra]
    assert f"{extra}: changed since it was ingested (" in log.text
    assert (events["event_type"] == "return").sum() == 6

    values["data"]["events"]["sources"][0]["path"] = f"{RAW}/orders_2024-*.csv"
    write_params(tmp_path, values)
    with pytest.raises(
        InputDataError, match=r"not matched by data\.events\.sources any more"
    ) as err:
        run_ingest(tmp_path)
    assert names[0] in str(err.value) and "--rebuild" in str(err.value)


def test_a_changed_mapping_reads_that_source_again_and_a_stacking_rule_reads_nothing(
    tmp_path: Path, log: pytest.LogCaptureFixture
) -> None:
    files = weekly_project(tmp_path)
    names = sorted(files)
    run_ingest(tmp_path)

    log.clear()
    write_params(tmp_path, weekly_params(drop_duplicate_events=True))
    deduplicated = run_ingest(tmp_path)
    assert files_read(log) == []  # overlap and duplicates are settled over the kept rows
    assert "cleaning rule duplicate_events dropped 1 rows" in log.text

    log.clear()
    values = weekly_params(drop_duplicate_events=True)
    values["data"]["events"]["sources"][0]["attributes"] = {"channel": "kind"}
    write_params(tmp_path, values)
    with_attribute = run_ingest(tmp_path)
    assert files_read(log) == names
    assert "the settings of data.events.sources[0] (or the cleaning code) changed" in log.text
    assert "channel" in with_attribute.columns
    pd.testing.assert_frame_equal(with_attribute.drop(columns="channel"), deduplicated)


def test_kept_rows_gone_are_read_again_and_an_unreadable_manifest_is_refused(
    tmp_path: Path, log: pytest.LogCaptureFixture
) -> None:
    files = weekly_project(tmp_path)
    names = sorted(files)
    full = run_ingest(tmp_path)
    canonical = tmp_path / "data/interim/shop/canonical"
    next(canonical.glob("events_by_file/*/part-*.parquet")).unlink()  # one file's kept rows

    log.clear()
    pd.testing.assert_frame_equal(run_ingest(tmp_path), full)
    assert len(files_read(log)) == 1 and files_read(log)[0] in names
    assert "its cleaned rows are missing from the canonical folder; read again" in log.text

    (canonical / MANIFEST).write_text('{"format": 1, "files": [{"path": 3}]}')
    code, out = churn(tmp_path, "ingest")
    assert code == 5, out
    assert "manifest.json: expected the manifest written by `churn ingest shop`" in out
    assert "`churn ingest shop --rebuild`" in out
    assert churn(tmp_path, "ingest", "--rebuild")[0] == 0


def test_a_kill_after_the_new_rows_were_staged_keeps_the_manifest_with_its_events(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    """Killed while the new canonical folder is being filled (the new file's rows moved in,
    events.parquet written, the customers table half written), the old folder, its manifest
    and its cleaned rows stay together; the next ingest reads the new file again."""
    files = weekly_project(tmp_path)
    names = sorted(files)
    customers = pd.DataFrame({"cust": sorted(set(orders()["cust"])), "tier": "gold"})
    customers.to_csv(tmp_path / f"{RAW}/customers.csv", index=False)
    values = weekly_params()
    values["data"]["customers"] = {
        "sources": [
            {
                "path": f"{RAW}/customers.csv",
                "columns": {"customer_id": "cust"},
                "attributes": {"tier": "tier"},
            }
        ]
    }
    write_params(tmp_path, values)
    (tmp_path / names[5]).unlink()
    assert churn(tmp_path, "ingest")[0] == 0
    before = canonical_files(tmp_path)

    write_file(tmp_path, names[5], files[names[5]])
    children.append(start_paused(tmp_path, "parquet:customers.parquet", "ingest", "shop"))
    children[-1].kill()
    children[-1].wait()
    assert canonical_files(tmp_path) == before

    code, out = churn(tmp_path, "ingest")
    assert code == 0, out
    assert leftovers(tmp_path) == []
    fresh = tmp_path / "fresh"
    shutil.copytree(tmp_path / "data/raw", fresh / "data/raw")
    shutil.copytree(tmp_path / "pipelines", fresh / "pipelines")
    assert churn(fresh, "ingest")[0] == 0
    assert events_bytes(tmp_path) == events_bytes(fresh)


def test_dvc_repro_of_ingest_after_a_new_weekly_file_reads_only_that_file(tmp_path: Path) -> None:
    """The canonical folder is a persistent DVC output, so under `dvc repro` the manifest and
    the kept rows survive to the next run of the stage."""
    files = weekly_project(tmp_path)
    names = sorted(files)
    (tmp_path / names[5]).unlink()
    dvc_project(tmp_path)
    assert "reused 0 file(s) already ingested" in dvc(tmp_path, "repro", "ingest@shop")
    write_file(tmp_path, names[5], files[names[5]])
    out = dvc(tmp_path, "repro", "ingest@shop")
    rows = sum(len(files[n]) for n in names[:5]) - 1  # the guest checkout
    assert f"reused 5 file(s) already ingested ({rows:,} rows); read 1 file(s): {names[5]}" in out
    assert [
        line for line in out.splitlines() if re.search(r"INFO read \S+: [\d,]+ rows", line)
    ] == [line for line in out.splitlines() if f"INFO read {names[5]}: " in line]


def test_the_plan_reuses_only_the_same_file_read_the_same_way() -> None:
    from churn.io.manifest import FileRecord, FoundFile  # noqa: PLC0415

    def record(path: str, sha: str, fingerprint: str = "f1", pattern: str | None = "p") -> Any:
        return FileRecord(path, pattern, 10, sha, fingerprint, 3, 3, 0, "2026-01-01T00:00:00Z", ())

    def found(path: str, sha: str, fingerprint: str = "f1", pattern: str | None = "p") -> Any:
        return FoundFile(path, "data.events.sources[0]", pattern, fingerprint, 10, sha)

    records = [record("a", "s1"), record("b", "s2"), record("c", "s3", pattern=None)]
    plan = plan_ingest(
        records,
        [
            found("a", "s1"),
            found("b", "s2", "f2"),
            found("c", "s9", pattern=None),
            found("d", "s4"),
        ],
        on_disk={"a", "b", "c"},
        manifest="m.json",
        rebuild_command="churn ingest x --rebuild",
    )
    assert plan.reuse == {0: records[0]}
    assert plan.read == [1, 2, 3]
    assert len(plan.reasons) == 2  # b: settings changed; c: a plain file replaced; d is new

    lost = plan_ingest(
        records[:1],
        [found("a", "s1")],
        on_disk={"a"},
        lost={("a", "f1")},
        manifest="m.json",
        rebuild_command="r",
    )
    assert lost.read == [0] and "missing from the canonical folder" in lost.reasons[0]


# ---- a child process killed mid-write ----------------------------------------------------------

PAUSED_RUN = Path(__file__).with_name("_paused_run.py")


def start_paused(project: Path, where: str, *args: str) -> subprocess.Popen[str]:
    """``churn <args>`` in a child that stops for good at ``where``; returns once it has."""
    from tests._project import subprocess_env  # noqa: PLC0415

    marker = project / "paused.marker"
    proc = subprocess.Popen(
        [sys.executable, str(PAUSED_RUN), str(marker), where, *args, "--project-dir", str(project)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120  # generous: only a hang waits this long
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"the child never reached {where} (exit {proc.returncode}):\n{out}")
        time.sleep(0.05)
    marker.unlink()
    return proc


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
