"""Stage ``ingest``: raw inputs -> validated canonical tables in ``data/interim/<p>/canonical``."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from churn import io
from churn.contract import (
    canonical_churn_events,
    canonical_customers,
    canonical_events,
    canonical_snapshot,
    event_warnings,
)
from churn.paths import PipelinePaths
from churn.settings import PipelineSettings

log = logging.getLogger("churn")


def run(settings: PipelineSettings, paths: PipelinePaths, *, now: dt.datetime) -> dict[str, int]:
    """Validate every raw input and write the canonical tables. Nothing is written unless all
    inputs pass. ``now`` bounds timestamps: events after it are rejected as in the future."""
    data = settings.data
    root = paths.project_dir
    tables: dict[str, pd.DataFrame] = {}
    if data.kind == "snapshot":
        assert data.snapshot is not None
        raw = io.read_source(root, data.snapshot.source)
        log.info("read %s: %s rows", data.snapshot.source.path, f"{len(raw):,}")
        tables["snapshot"] = canonical_snapshot(raw, data.snapshot)
    else:
        assert data.events is not None
        raws = []
        for src in data.events.sources:
            raw = io.read_source(root, src)
            log.info("read %s: %s rows", src.path, f"{len(raw):,}")
            raws.append((src, raw))
        events, dropped = canonical_events(raws, data.events, now=now)
        for rule, n in dropped.items():
            if n:
                log.info("cleaning rule %s dropped %s rows", rule, f"{n:,}")
        for warning in event_warnings(events, data.events):
            log.warning("%s", warning)
        tables["events"] = events
        if data.customers is not None:
            raws = [(s, io.read_source(root, s)) for s in data.customers.sources]
            tables["customers"] = canonical_customers(raws, data.customers)
        if data.churn_events is not None:
            raws = [(s, io.read_source(root, s)) for s in data.churn_events.sources]
            tables["churn_events"] = canonical_churn_events(raws, data.churn_events)

    def fill(folder: Path) -> None:
        for name, frame in tables.items():
            io.write_parquet(frame, folder / f"{name}.parquet")

    io.write_folder(paths.canonical, fill)
    counts = {name: len(frame) for name, frame in tables.items()}
    log.info("wrote %s: %s", paths.canonical, counts)
    return counts
