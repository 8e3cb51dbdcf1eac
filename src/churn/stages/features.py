"""Stage ``features``: canonical tables + labels -> ``features.parquet`` and the catalogue."""

from __future__ import annotations

import logging

import pandas as pd

from churn import io
from churn.data.event_summaries import daily_totals
from churn.engines import Table, sql_runner
from churn.features import (
    Feature,
    FeatureSpec,
    build_features,
    catalogue_records,
    feature_catalogue,
    snapshot_catalogue,
    snapshot_features,
)
from churn.features.derived import add_derived_features, derived_catalogue
from churn.io.paths import PipelinePaths
from churn.settings import EventLabelSettings, PipelineSettings
from churn.stages._canonical import events_table, read_canonical, require_canonical

PARAMS: tuple[str, ...] = ("data", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")


def feature_spec(settings: PipelineSettings) -> FeatureSpec:
    """The feature spec of an event pipeline, from its settings alone (never from data), so
    training and scoring always build the same columns."""
    data, labs = settings.data, settings.labels
    assert isinstance(labs, EventLabelSettings) and data.events is not None
    customer_sources = data.customers.sources if data.customers is not None else []
    return FeatureSpec(
        settings=settings.features,
        activity_event_types=tuple(labs.activity_event_types),
        event_attributes=tuple(sorted({a for s in data.events.sources for a in s.attributes})),
        customer_attributes=tuple(sorted({a for s in customer_sources for a in s.attributes})),
        has_signup_date=any("signup_date" in s.columns for s in customer_sources),
    )


def event_features(
    settings: PipelineSettings,
    events: Table,
    pairs: pd.DataFrame,
    customers: pd.DataFrame | None,
) -> pd.DataFrame:
    """Features of an event pipeline for each (customer_id, cutoff) in ``pairs``: the SQL pass
    on ``features.engine`` (DuckDB or Spark), then the derived columns on pandas. The one
    feature path of training (all labelled cutoffs) and scoring (today's customers).
    ``events``: the canonical events, a frame or the parquet file the engine scans."""
    labs = settings.labels
    assert isinstance(labs, EventLabelSettings)
    fs = settings.features
    run_sql = sql_runner(fs)
    base = build_features(events, pairs, feature_spec(settings), customers, run_sql=run_sql)
    return add_derived_features(
        base,
        daily_totals(events, labs.activity_event_types, run_sql) if fs.bgnbd else None,
        calendar=fs.calendar,
        bgnbd=fs.bgnbd,
        horizon_days=labs.horizon_days,
    )


def catalogue(
    settings: PipelineSettings, snapshot_columns: list[str] | None = None
) -> list[Feature]:
    """Every feature of the pipeline with its family and description."""
    if settings.data.kind == "snapshot":
        assert settings.data.snapshot is not None and snapshot_columns is not None
        return snapshot_catalogue(snapshot_columns, settings.data.snapshot.numeric_attributes)
    labs = settings.labels
    assert isinstance(labs, EventLabelSettings)
    fs = settings.features
    return feature_catalogue(feature_spec(settings)) + derived_catalogue(
        calendar=fs.calendar, bgnbd=fs.bgnbd, horizon_days=labs.horizon_days
    )


def run(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame:
    """Build features for every labelled (customer, cutoff) pair; write them and the catalogue."""
    labels = io.read_parquet(paths.labels, stage_hint=f"churn labels {paths.name}")
    if settings.data.kind == "snapshot":
        out = snapshot_features(require_canonical(paths, "snapshot"), labels)
        records = catalogue(
            settings, [c for c in out.columns if c not in ("customer_id", "cutoff")]
        )
    else:
        out = event_features(
            settings,
            events_table(settings, paths),
            labels,
            read_canonical(paths, "customers", required=False),
        )
        records = catalogue(settings)
    io.write_parquet(out, paths.features)
    io.write_json(catalogue_records(records), paths.catalogue)
    log.info("wrote %s: %s rows x %s features", paths.features, f"{len(out):,}", len(records))
    return out
