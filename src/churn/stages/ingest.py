"""Stage ``ingest``: raw inputs -> validated canonical tables in ``data/interim/<p>/canonical``.

Events are read, mapped and validated a chunk of rows at a time; the cleaned chunks wait in a
temporary folder, and DuckDB stacks, de-duplicates and sorts them out of core straight into
``events.parquet``. So memory stays bounded by the chunk size whatever the number of events.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Sequence
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
    clean_event_chunk,
    empty_events,
    event_warnings,
    kept_rows_sql,
)
from churn.data.notes import SourceNotes, source_warnings, spelling_notes
from churn.data.problems import Problems
from churn.data.snapshot import canonical_snapshot, snapshot_notes, snapshot_warnings
from churn.engines.sql import ParquetTable, duckdb_session, quote_literal
from churn.io.paths import Output, PipelinePaths
from churn.io.progress import progress
from churn.settings import (
    CustomerSourceSettings,
    CustomersSettings,
    EventsSettings,
    PipelineSettings,
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


def _clean_chunks(
    root: Path,
    events: EventsSettings,
    attributes: list[str],
    *,
    now: dt.datetime,
    parts: Path,
    chunk_rows: int,
) -> dict[str, int]:
    """Every events source, chunk by chunk, cleaned into parquet parts under ``parts``.
    Raises ContractViolation naming every problem of every source once all are read."""
    problems = Problems()
    counts = {"rows": 0, "missing_customer_id": 0}
    notes = [SourceNotes() for _ in events.sources]
    for position, src in enumerate(events.sources):
        n_read = 0
        chunks = io.read_source_chunks(root, src, rows=chunk_rows)
        for raw in progress(chunks, f"reading {src.path}"):
            frame, missing = clean_event_chunk(
                raw, src, events, problems, now=now, attributes=attributes, notes=notes[position]
            )
            counts["missing_customer_id"] += missing
            if frame is not None and not problems.items:
                part = frame.assign(_source=position, _row=np.arange(len(frame)) + n_read)
                io.write_parquet(part, parts / f"part-{position:03d}-{n_read:012d}.parquet")
                counts["rows"] += len(part)
            n_read += len(raw)
        log.info("read %s: %s rows", src.path, f"{n_read:,}")
    problems.raise_if_any("Fix the source files or the column mapping in data.events.")
    for note in spelling_notes(notes):
        log.info("%s", note)
    for src, source_notes in zip(events.sources, notes, strict=True):
        for warning in source_warnings(src, source_notes, events):
            log.warning("%s", warning)
    return counts


def _write_events(
    settings: EventsSettings, attributes: list[str], parts: Path, dest: Output, memory_limit: str
) -> tuple[int, dict[str, int]]:
    """Stack, de-duplicate and sort the parts into ``dest``; rows written and rows dropped by
    each rule."""
    table = {"parts": ParquetTable(parts / "*.parquet")}
    with duckdb_session(table, memory_limit=memory_limit) as con:
        total = int(con.execute("SELECT COUNT(*) FROM parts").fetchall()[0][0])
        kept = int(con.execute(kept_rows_sql(settings)).fetchall()[0][0])
        con.execute(
            f"COPY ({canonical_events_sql(settings, attributes)}) TO {quote_literal(dest)} "
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
) -> dict[str, int]:
    """Validate every raw input and write the canonical tables. Nothing is written unless all
    inputs pass. ``now`` bounds timestamps: events after it are rejected as in the future.
    ``chunk_rows``: raw event rows validated at a time (the output does not depend on it)."""
    data = settings.data
    root = paths.project_dir
    _remove_staging_folders(paths.canonical.parent)
    tables: dict[str, pd.DataFrame] = {}
    if data.kind == "snapshot":
        assert data.snapshot is not None
        raw = io.read_source(root, data.snapshot.source)
        log.info("read %s: %s rows", data.snapshot.source.path, f"{len(raw):,}")
        customers = None
        if data.customers is not None:
            customer_files = [(s, io.read_source(root, s)) for s in data.customers.sources]
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
    parts = io.staging_folder(paths.canonical, STAGING_PREFIX)
    try:
        attributes = sorted({a for src in events.sources for a in src.attributes})
        dropped = _clean_chunks(
            root, events, attributes, now=now, parts=parts, chunk_rows=chunk_rows
        )
        if data.customers is not None:
            customer_files = [(s, io.read_source(root, s)) for s in data.customers.sources]
            listed = settings.features.categorical_attributes
            tables["customers"] = canonical_customers(
                customer_files, data.customers, categorical=listed
            )
            for note in category_notes(tables["customers"], listed):
                log.info("%s", note)
            tables |= _contact_table(customer_files, data.customers)
        if data.churn_events is not None:
            raws = [(s, io.read_source(root, s)) for s in data.churn_events.sources]
            tables["churn_events"] = canonical_churn_events(raws, data.churn_events)
        if data.contacts is not None:
            raws = [(s, io.read_source(root, s)) for s in data.contacts.sources]
            tables["contacts"] = canonical_contacts(raws, data.contacts)
        n_rows = dropped.pop("rows")
        counts = {"events": 0}

        def fill(folder: Path) -> None:
            dest = Output(folder / "events.parquet", made_by=paths.canonical.made_by)
            if n_rows == 0:  # every row dropped by a cleaning rule: labels will say so
                io.write_parquet(empty_events(attributes), dest)
            else:
                memory = settings.features.duckdb_memory_limit
                counts["events"], by_rule = _write_events(events, attributes, parts, dest, memory)
                dropped.update(by_rule)
            _write_tables(tables, folder)

        io.write_folder(paths.canonical, fill)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    for rule, n in dropped.items():
        if n:
            log.info("cleaning rule %s dropped %s rows", rule, f"{n:,}")
    for warning in event_warnings(ParquetTable(paths.table("events")), events):
        log.warning("%s", warning)
    counts |= {name: len(frame) for name, frame in tables.items()}
    log.info("wrote %s: %s", paths.canonical, counts)
    return counts


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
