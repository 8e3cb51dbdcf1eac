"""Stage ``ingest``: raw inputs -> validated canonical tables in ``data/interim/<p>/canonical``.

Events are read, mapped and validated a chunk of rows at a time; the cleaned chunks wait in a
temporary folder, and DuckDB stacks, de-duplicates and sorts them out of core straight into
``events.parquet``. So memory stays bounded by the chunk size whatever the number of events.

A source's path may be a glob pattern (``churn.io.source_files``). Each events file's cleaned
chunks are kept in the canonical folder with a manifest (``churn.io.manifest``), so the next
ingest reads only the files it has not seen as they are now and stacks the kept chunks with
the new ones: the same ``events.parquet`` as reading every file again.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from churn import io
from churn.data.attribute_types import category_notes
from churn.data.contact_fields import CONTACT_FIELDS_TABLE, canonical_contact_fields
from churn.data.contract import (
    canonical_churn_events,
    canonical_contacts,
    canonical_customers,
    canonical_events_sql,
    churn_events_of_types,
    clean_event_chunk,
    cleaning_fingerprint,
    empty_events,
    event_warnings,
    kept_rows_sql,
    with_churn_events,
)
from churn.data.id_notes import written_id_notes
from churn.data.notes import SourceNotes, source_warnings, spelling_notes
from churn.data.persons import PERSONS_TABLE, by_person, one_row_per_person, person_ids
from churn.data.problems import Problems
from churn.data.snapshot import canonical_snapshot, snapshot_notes, snapshot_warnings
from churn.engines.sql import ParquetTable, duckdb_runner, duckdb_session, quote_literal
from churn.io.manifest import (
    CLEANED,
    MANIFEST,
    FileRecord,
    FoundFile,
    IngestPlan,
    cleaned_folder,
    file_identity,
    keep_file,
    manifest_document,
    plan_ingest,
    read_manifest,
)
from churn.io.paths import Output, PipelinePaths
from churn.io.progress import progress
from churn.io.source_files import SourceFile, expand_sources, source_files
from churn.settings import (
    CustomerSourceSettings,
    CustomersSettings,
    EventsSettings,
    PipelineSettings,
    SourceSettings,
)

PARAMS: tuple[str, ...] = ("data", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``features`` for DuckDB's memory limit."""

log = logging.getLogger("churn")

STAGING_PREFIX = ".ingest-parts-"
"""Folders under ``data/interim/<p>/`` where cleaned chunks wait for DuckDB; removed by the
run, or by the next ingest of the pipeline when a kill left one behind."""

CHUNK_ROWS = 2_000_000
"""Raw event rows mapped and validated at a time (about 1.5 GB of pandas working memory)."""


@dataclass(frozen=True)
class _Cleaned:
    """What reading one events file gave: counts, its part files and what it logged."""

    rows_read: int
    rows_kept: int
    missing_customer_id: int
    parts: tuple[str, ...]
    notes: SourceNotes


def _clean_files(
    root: Path,
    files: Sequence[tuple[SourceSettings, str]],
    events: EventsSettings,
    attributes: list[str],
    *,
    now: dt.datetime,
    parts: Path,
    chunk_rows: int,
) -> list[_Cleaned]:
    """Each ``(source, folder)`` of ``files``, chunk by chunk, cleaned into parquet parts under
    ``parts / folder`` (each with ``_row``, the rows' positions in the file). Raises
    ContractViolation naming every problem of every file once all are read."""
    problems = Problems()
    cleaned = []
    for src, folder in files:
        notes = SourceNotes()
        n_read, kept, missing, names = 0, 0, 0, []
        chunks = io.read_source_chunks(root, src, rows=chunk_rows)
        for raw in progress(chunks, f"reading {src.path}"):
            frame, n_missing = clean_event_chunk(
                raw, src, events, problems, now=now, attributes=attributes, notes=notes
            )
            missing += n_missing
            if frame is not None and not problems.items:
                names.append(f"part-{n_read:012d}.parquet")
                part = frame.assign(_row=np.arange(len(frame)) + n_read)
                io.write_parquet(part, parts / folder / names[-1])
                kept += len(part)
            n_read += len(raw)
        log.info("read %s: %s rows", src.path, f"{n_read:,}")
        _log_written_ids(
            [(notes.ids.note(src.path, src.columns["customer_id"]), notes.ids.doubtful)]
        )
        cleaned.append(_Cleaned(n_read, kept, missing, tuple(names), notes))
    problems.raise_if_any("Fix the source files or the column mapping in data.events.")
    return cleaned


def _found_files(
    root: Path,
    files: Sequence[SourceFile[SourceSettings]],
    events: EventsSettings,
    attributes: list[str],
) -> list[FoundFile]:
    """Each events file as it is now: size, sha256 and the fingerprint of its settings."""
    found = []
    for file in files:
        identity = file_identity(root / file.source.path)
        size, sha256 = identity if identity is not None else (None, None)
        fingerprint = cleaning_fingerprint(file.source, events, attributes)
        found.append(FoundFile(file.source.path, file.key, file.pattern, fingerprint, size, sha256))
    return found


def _events_records(
    settings: PipelineSettings,
    paths: PipelinePaths,
    files: Sequence[SourceFile[SourceSettings]],
    attributes: list[str],
    *,
    now: dt.datetime,
    parts: Path,
    chunk_rows: int,
    rebuild: bool,
) -> tuple[list[FileRecord], set[int]]:
    """One manifest record per events file, in order: the manifest's own for each file it holds
    as it is now, a new one for each file read (cleaned into ``parts``); and the positions of
    the files reused. Logs which were read and which reused, and each file's warnings."""
    events = settings.data.events
    assert events is not None
    root = paths.project_dir
    found = _found_files(root, files, events, attributes)
    recorded = [] if rebuild else read_manifest(paths.canonical)
    plan = plan_ingest(
        recorded,
        found,
        on_disk={r.path for r in recorded if (root / r.path).is_file()},
        lost={r.key for r in recorded if not _parts_present(paths.canonical / r.folder, r.parts)},
        manifest=str(paths.canonical / MANIFEST),
        rebuild_command=f"{paths.canonical.made_by} --rebuild",
    )
    for reason in plan.reasons:
        log.info("%s", reason)
    to_read = [
        (files[i].source, cleaned_folder(found[i].path, found[i].fingerprint)) for i in plan.read
    ]
    cleaned = dict(
        zip(
            plan.read,
            _clean_files(
                root, to_read, events, attributes, now=now, parts=parts, chunk_rows=chunk_rows
            ),
            strict=True,
        )
    )
    stamp = now.replace(microsecond=0).isoformat() + "Z"
    records = []
    for position, file in enumerate(found):
        if position in plan.reuse:
            records.append(plan.reuse[position])
            continue
        done = cleaned[position]
        assert file.size is not None and file.sha256 is not None  # else its reader raised
        records.append(
            FileRecord(
                path=file.path,
                pattern=file.pattern,
                size=file.size,
                sha256=file.sha256,
                fingerprint=file.fingerprint,
                rows_read=done.rows_read,
                rows_kept=done.rows_kept,
                missing_customer_id=done.missing_customer_id,
                ingested_at=stamp,
                parts=done.parts,
                warnings=tuple(source_warnings(files[position].source, done.notes, events)),
                spellings={k: sorted(v) for k, v in sorted(done.notes.spellings.items())},
            )
        )
    _log_files(records, plan, rebuild=rebuild)
    return records, set(plan.reuse)


def _parts_present(folder: Path, names: Sequence[str]) -> bool:
    """Whether every part file a record names is still in ``folder`` (a file without rows has
    none)."""
    return all((folder / name).is_file() for name in names)


def _log_files(records: Sequence[FileRecord], plan: IngestPlan, *, rebuild: bool) -> None:
    """Which files were read and which reused, then (as a full read logs them) the event type
    spellings of all files and each file's warnings."""
    read = [records[i].path for i in plan.read]
    shown = ", ".join(read[:10]) + (f" and {len(read) - 10} more" if len(read) > 10 else "")
    reused = [records[i] for i in sorted(plan.reuse)]
    if rebuild:
        log.info("--rebuild: the manifest is ignored; read %s file(s): %s", len(read), shown)
    else:
        rows = sum(r.rows_kept for r in reused)
        log.info(
            "reused %s file(s) already ingested (%s rows); read %s",
            len(reused),
            f"{rows:,}",
            f"{len(read)} file(s): {shown}" if read else "no file",
        )
    notes = [SourceNotes(spellings={k: set(v) for k, v in r.spellings.items()}) for r in records]
    for note in spelling_notes(notes):
        log.info("%s", note)
    for record in records:
        for warning in record.warnings:
            log.warning("%s", warning)


PART_FILE = "_part_file"
"""Column DuckDB adds to the stacked parts naming each row's part file (dropped again)."""


def _write_events(
    settings: EventsSettings,
    attributes: list[str],
    sources: Sequence[tuple[Path, Sequence[str]]],
    dest: Output,
    memory_limit: str,
    *,
    persons: pd.DataFrame | None = None,
) -> tuple[int, dict[str, int]]:
    """Stack, de-duplicate and sort the part files of every source file (its folder and part
    names, in order: its position is ``_source``) into ``dest``; rows written and rows dropped
    by each rule. ``persons``: each customer id's person (:mod:`churn.data.persons`).

    All parts are read by one ``read_parquet``, as one list of files, whatever files were read
    by this run or kept from an earlier one: DuckDB's output (its column types and nullability
    too) then depends only on the rows, so an incremental ingest, or one read in other chunks,
    writes the same bytes as a full one."""
    files = [
        (folder / name, position)
        for position, (folder, names) in enumerate(sources)
        for name in names
    ]
    positions = pd.DataFrame(
        {PART_FILE: [str(path) for path, _ in files], "_source": [p for _, p in files]}
    )
    listed = ", ".join(quote_literal(path) for path, _ in files)
    tables = {"part_sources": positions}
    if persons is not None:
        tables[PERSONS_TABLE] = persons
    with duckdb_session(tables, memory_limit=memory_limit) as con:
        con.execute(
            f"CREATE VIEW parts AS SELECT p.* EXCLUDE ({PART_FILE}), s._source "
            f"FROM read_parquet([{listed}], filename = {quote_literal(PART_FILE)}) AS p "
            f"JOIN part_sources AS s ON p.{PART_FILE} = s.{PART_FILE}"
        )
        total = int(con.execute("SELECT COUNT(*) FROM parts").fetchall()[0][0])
        kept = int(con.execute(kept_rows_sql(settings)).fetchall()[0][0])
        # DuckDB writes a column its statistics say has no missing value as `required`, and
        # has such statistics for one part file but not for several: without them the bytes
        # (which DVC hashes) would depend on how many parts the raw rows were read in
        con.execute("SET disabled_optimizers = 'statistics_propagation'")
        con.execute(
            f"COPY ({canonical_events_sql(settings, attributes, persons=persons is not None)})"
            f" TO {quote_literal(dest)} "
            "(FORMAT parquet, ROW_GROUP_SIZE 1000000)"
        )
    written = io.require_parquet(dest)
    return written, {"overlapping_orders": total - kept, "duplicate_events": kept - written}


def run(
    settings: PipelineSettings,
    paths: PipelinePaths,
    *,
    now: dt.datetime,
    chunk_rows: int = CHUNK_ROWS,
    rebuild: bool = False,
) -> dict[str, int]:
    """Validate every raw input and write the canonical tables. Nothing is written unless all
    inputs pass. ``now`` bounds timestamps: events after it are rejected as in the future.
    ``chunk_rows``: raw event rows validated at a time (the output does not depend on it).

    Events files the canonical folder's manifest holds as they are now are not read again:
    their cleaned rows are reused (``rebuild``: read every file). The canonical events are
    the same either way."""
    data = settings.data
    root = paths.project_dir
    _remove_staging_folders(paths.canonical.parent)
    customer_sources = (
        expand_sources(root, data.customers.sources, key="data.customers.sources")
        if data.customers is not None
        else []
    )
    tables: dict[str, pd.DataFrame] = {}
    if data.kind == "snapshot":
        assert data.snapshot is not None
        raw = io.read_source(root, data.snapshot.source)
        log.info("read %s: %s rows", data.snapshot.source.path, f"{len(raw):,}")
        _log_written_ids(written_id_notes([(data.snapshot.source, raw)]))
        customers = None
        if data.customers is not None:
            customer_files = [(s, io.read_source(root, s)) for s in customer_sources]
            _log_written_ids(written_id_notes(customer_files))
            customers = canonical_customers(customer_files, data.customers)
            tables |= _contact_table(customer_files, data.customers)
        tables["snapshot"] = canonical_snapshot(raw, data.snapshot, customers)
        for warning in snapshot_warnings(data.snapshot):
            log.warning("%s", warning)
        for note in snapshot_notes(raw, data.snapshot):
            log.info("%s", note)
        if customers is not None:
            log.info("joined the attributes of data.customers by customer_id")
        io.write_folder(paths.canonical, lambda folder: _write_tables(tables, folder))
        counts = {name: len(frame) for name, frame in tables.items()}
        log.info("wrote %s: %s", paths.canonical, counts)
        return counts

    events = data.events
    assert events is not None
    files = source_files(root, events.sources, key="data.events.sources")
    churn_sources = (
        expand_sources(root, data.churn_events.sources, key="data.churn_events.sources")
        if data.churn_events is not None
        else []
    )
    contact_sources = (
        expand_sources(root, data.contacts.sources, key="data.contacts.sources")
        if data.contacts is not None
        else []
    )
    parts = io.staging_folder(paths.canonical, STAGING_PREFIX)
    try:
        attributes = sorted({a for src in events.sources for a in src.attributes})
        records, reused = _events_records(
            settings,
            paths,
            files,
            attributes,
            now=now,
            parts=parts,
            chunk_rows=chunk_rows,
            rebuild=rebuild,
        )
        persons = None
        if data.customers is not None:
            customer_files = [(s, io.read_source(root, s)) for s in customer_sources]
            _log_written_ids(written_id_notes(customer_files))
            listed = settings.features.categorical_attributes
            persons = person_ids(customer_files, data.customers)
            tables["customers"] = one_row_per_person(
                canonical_customers(customer_files, data.customers, categorical=listed), persons
            )
            for note in category_notes(tables["customers"], listed):
                log.info("%s", note)
            tables |= {
                name: one_row_per_person(table, persons)
                for name, table in _contact_table(customer_files, data.customers).items()
            }
            if persons is not None:
                log.info(
                    "customer ids read as their person's (data.customers person_id): %s ids "
                    "of %s people",
                    f"{len(persons):,}",
                    f"{persons['person_id'].nunique():,}",
                )
        if data.churn_events is not None:
            raws = [(s, io.read_source(root, s)) for s in churn_sources]
            _log_written_ids(written_id_notes(raws))
            tables["churn_events"] = by_person(
                canonical_churn_events(raws, data.churn_events), persons
            )
        if data.contacts is not None:
            raws = [(s, io.read_source(root, s)) for s in contact_sources]
            _log_written_ids(written_id_notes(raws))
            tables["contacts"] = canonical_contacts(raws, data.contacts)
        dropped = {"missing_customer_id": sum(r.missing_customer_id for r in records)}
        n_rows = sum(r.rows_kept for r in records)
        counts = {"events": 0}

        def fill(folder: Path) -> None:
            placed: set[str] = set()
            for position, record in enumerate(records):
                if record.folder in placed:
                    continue
                placed.add(record.folder)
                if position in reused:
                    for name in record.parts:
                        keep_file(
                            paths.canonical / record.folder / name, folder / record.folder / name
                        )
                elif (parts / record.folder).is_dir():
                    (folder / CLEANED).mkdir(exist_ok=True)
                    (parts / record.folder).rename(folder / record.folder)
            dest = Output(folder / "events.parquet", made_by=paths.canonical.made_by)
            if n_rows == 0:  # every row dropped by a cleaning rule: labels will say so
                io.write_parquet(
                    empty_events(attributes, events.measure_names, covered=events.covered), dest
                )
            else:
                memory = settings.features.duckdb_memory_limit
                stacked = [(folder / r.folder, r.parts) for r in records]
                counts["events"], by_rule = _write_events(
                    events, attributes, stacked, dest, memory, persons=persons
                )
                dropped.update(by_rule)
                stacked_rows = (
                    counts["events"] + by_rule["overlapping_orders"] + by_rule["duplicate_events"]
                )
                if stacked_rows != n_rows:  # a part file DuckDB did not match to its source
                    raise RuntimeError(
                        f"stacked {stacked_rows:,} cleaned rows, expected {n_rows:,}"
                    )
            if events.churn_event_types:
                typed = churn_events_of_types(
                    ParquetTable(dest),
                    events.churn_event_types,
                    duckdb_runner(memory_limit=settings.features.duckdb_memory_limit),
                )
                log.log(
                    logging.INFO if len(typed) else logging.WARNING,
                    "%s churn events from event types %s%s",
                    f"{len(typed):,}",
                    events.churn_event_types,
                    ""
                    if len(typed)
                    else ": no event has one; check data.events."
                    "churn_event_types against the event types the log reports",
                )
                given = [tables["churn_events"]] if "churn_events" in tables else []
                tables["churn_events"] = with_churn_events([*given, typed])
            _write_tables(tables, folder)
            io.write_json(manifest_document(records), folder / MANIFEST)

        io.write_folder(paths.canonical, fill)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    for rule, n in dropped.items():
        if n:
            log.info("cleaning rule %s dropped %s rows", rule, f"{n:,}")
    # on the configured memory limit: at 30M events its DISTINCT over every column is one of
    # the stage's two large DuckDB queries
    run_sql = duckdb_runner(memory_limit=settings.features.duckdb_memory_limit)
    for warning in event_warnings(ParquetTable(paths.table("events")), events, run_sql):
        log.warning("%s", warning)
    counts |= {name: len(frame) for name, frame in tables.items()}
    log.info("wrote %s: %s", paths.canonical, counts)
    return counts


def _log_written_ids(notes: Sequence[tuple[str | None, bool]]) -> None:
    """Log each line saying ids written as '12697.0' were read as '12697' (a warning when the
    column also holds fractions: dotted codes?); None: nothing to say."""
    for line, doubtful in notes:
        if line is not None:
            log.log(logging.WARNING if doubtful else logging.INFO, "%s", line)


def _remove_staging_folders(folder: Path) -> None:
    """Remove the staging folders a killed ingest left in ``folder``. Only an ingest holding
    the pipeline's lock (the CLI takes it) may call this: another one would use them."""
    if not folder.is_dir():
        return
    for stale in sorted(folder.glob(f"{STAGING_PREFIX}*")):
        shutil.rmtree(stale, ignore_errors=True)
        log.warning("a previous ingest was interrupted: removed %s", stale)


def _contact_table(
    files: Sequence[tuple[CustomerSourceSettings, pd.DataFrame]], customers: CustomersSettings
) -> dict[str, pd.DataFrame]:
    """``{"contact_fields": table}`` when a customers source maps contact fields, else {}:
    a table apart from the customers' attributes, read by the export stage only."""
    contacts = canonical_contact_fields(files, customers)
    return {} if contacts is None else {CONTACT_FIELDS_TABLE: contacts}


def _write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    for name, frame in tables.items():
        io.write_parquet(frame, folder / f"{name}.parquet")
