"""Each pipeline stage as a function: read through ``io``, compute with the pure core, write
through ``io``. The CLI (and tests) call these; nothing below them knows about files."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from churn import io
from churn.contract import (
    canonical_churn_events,
    canonical_customers,
    canonical_events,
    canonical_snapshot,
)
from churn.errors import ConfigError, PipelineStateError
from churn.features import (
    FeatureSpec,
    build_features,
    catalogue_records,
    feature_catalogue,
    snapshot_catalogue,
    snapshot_features,
)
from churn.labels import build_labels, cutoff_table, observed_until, snapshot_labels
from churn.paths import PipelinePaths
from churn.settings import EventLabelSettings, PipelineSettings, SnapshotLabelSettings

log = logging.getLogger("churn")


def _write_folder_atomically(tables: dict[str, pd.DataFrame], dest: Path) -> None:
    """Write every table into a fresh folder, then swap it in place of ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name, frame in tables.items():
            io.write_parquet(frame, staging / f"{name}.parquet")
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            dest.rename(old)
        staging.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ingest(settings: PipelineSettings, paths: PipelinePaths, *, now: dt.datetime) -> dict[str, int]:
    """Validate every raw input and write the canonical tables. Nothing is written unless all
    inputs pass."""
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
        tables["events"] = events
        if data.customers is not None:
            raws = [(s, io.read_source(root, s)) for s in data.customers.sources]
            tables["customers"] = canonical_customers(raws, data.customers)
        if data.churn_events is not None:
            raws = [(s, io.read_source(root, s)) for s in data.churn_events.sources]
            tables["churn_events"] = canonical_churn_events(raws, data.churn_events)
    _write_folder_atomically(tables, paths.canonical)
    counts = {name: len(frame) for name, frame in tables.items()}
    log.info("wrote %s: %s", paths.canonical, counts)
    return counts


def _read_table(paths: PipelinePaths, name: str, *, required: bool = True) -> pd.DataFrame | None:
    path = paths.table(name)
    if not path.is_file():
        if required:
            raise PipelineStateError(f"{path}: not found. Run `churn ingest {paths.name}` first.")
        return None
    return pd.read_parquet(path)


def labels(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame:
    """Build point-in-time labels for every cutoff and write them."""
    if isinstance(settings.labels, SnapshotLabelSettings):
        snapshot = _read_table(paths, "snapshot")
        assert snapshot is not None
        out = snapshot_labels(snapshot, settings.labels)
    else:
        events = _read_table(paths, "events")
        assert events is not None
        churns = _read_table(paths, "churn_events", required=False)
        cutoffs = cutoff_table(settings.labels, observed_until(events))
        out = build_labels(events, cutoffs, settings.labels, churns,
                           threads=settings.features.duckdb_threads)
    io.write_parquet(out, paths.labels)
    log.info("wrote %s: %s rows; %s", paths.labels, f"{len(out):,}", label_summary(out))
    return out


def label_summary(labels: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per split: rows and churn rate among labelled rows."""
    out = {}
    for split, group in labels.groupby("split", sort=False):
        known = group["churned"].dropna()
        out[str(split)] = {
            "rows": len(group),
            "cutoffs": int(group["cutoff"].nunique()),
            "churn_rate": round(float(known.mean()), 4) if len(known) else float("nan"),
        }
    return out


def feature_spec(settings: PipelineSettings, customers: pd.DataFrame | None) -> FeatureSpec:
    data, labs = settings.data, settings.labels
    if not isinstance(labs, EventLabelSettings) or data.events is None:
        raise ConfigError("feature_spec is for event pipelines")
    customer_attrs: tuple[str, ...] = ()
    if data.customers is not None:
        customer_attrs = tuple(sorted({a for s in data.customers.sources for a in s.attributes}))
    has_signup = data.customers is not None and any(
        "signup_date" in s.columns for s in data.customers.sources
    )
    return FeatureSpec(
        settings=settings.features,
        activity_event_types=tuple(labs.activity_event_types),
        event_attributes=tuple(sorted({a for s in data.events.sources for a in s.attributes})),
        customer_attributes=customer_attrs,
        has_signup_date=has_signup and customers is not None,
    )


def features(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame:
    """Build features for every labelled (customer, cutoff) pair and write them with the
    feature catalogue."""
    labs = io.read_parquet(paths.labels, stage_hint=f"churn labels {paths.name}")
    if settings.data.kind == "snapshot":
        snapshot = _read_table(paths, "snapshot")
        assert snapshot is not None and settings.data.snapshot is not None
        out = snapshot_features(snapshot, labs)
        catalogue = snapshot_catalogue(
            [c for c in out.columns if c not in ("customer_id", "cutoff")],
            settings.data.snapshot.numeric_attributes,
        )
    else:
        events = _read_table(paths, "events")
        assert events is not None
        customers = _read_table(paths, "customers", required=False)
        spec = feature_spec(settings, customers)
        out = build_features(events, labs, spec, customers,
                             threads=settings.features.duckdb_threads)
        catalogue = feature_catalogue(spec)
    io.write_parquet(out, paths.features)
    io.write_json(catalogue_records(catalogue), paths.catalogue)
    log.info("wrote %s: %s rows x %s features", paths.features, f"{len(out):,}", len(catalogue))
    return out
