"""Stage ``features``: canonical tables + labels -> ``features.parquet`` and the catalogue."""

from __future__ import annotations

import logging

import pandas as pd

from churn import io
from churn.derived_features import add_derived_features, derived_catalogue
from churn.features import (
    FeatureSpec,
    build_features,
    catalogue_records,
    feature_catalogue,
    snapshot_catalogue,
    snapshot_features,
)
from churn.paths import PipelinePaths
from churn.settings import EventLabelSettings, PipelineSettings
from churn.stages._canonical import read_canonical, require_canonical

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


def run(settings: PipelineSettings, paths: PipelinePaths) -> pd.DataFrame:
    """Build features for every labelled (customer, cutoff) pair; write them and the catalogue."""
    labels = io.read_parquet(paths.labels, stage_hint=f"churn labels {paths.name}")
    if settings.data.kind == "snapshot":
        assert settings.data.snapshot is not None
        out = snapshot_features(require_canonical(paths, "snapshot"), labels)
        catalogue = snapshot_catalogue(
            [c for c in out.columns if c not in ("customer_id", "cutoff")],
            settings.data.snapshot.numeric_attributes,
        )
    else:
        spec = feature_spec(settings)
        events = require_canonical(paths, "events")
        labs = settings.labels
        assert isinstance(labs, EventLabelSettings)
        base = build_features(
            events,
            labels,
            spec,
            read_canonical(paths, "customers", required=False),
            threads=settings.features.duckdb_threads,
        )
        fs = settings.features
        out = add_derived_features(
            base,
            events[events["event_type"].isin(labs.activity_event_types)],
            calendar=fs.calendar,
            bgnbd=fs.bgnbd,
            horizon_days=labs.horizon_days,
        )
        catalogue = feature_catalogue(spec) + derived_catalogue(
            calendar=fs.calendar, bgnbd=fs.bgnbd, horizon_days=labs.horizon_days
        )
    io.write_parquet(out, paths.features)
    io.write_json(catalogue_records(catalogue), paths.catalogue)
    log.info("wrote %s: %s rows x %s features", paths.features, f"{len(out):,}", len(catalogue))
    return out
