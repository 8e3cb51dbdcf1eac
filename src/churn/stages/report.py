"""Stage ``report``: everything a retention analyst wants on Monday morning, in one HTML page,
``reports/<p>/report.html``: business metrics, the model against its baselines, what the
outreach list says, drift and realised performance."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from churn import io
from churn.engines import ParquetTable, sql_runner
from churn.io.canonical import CanonicalFiles
from churn.io.files import parquet_column_batches, positions_where, read_parquet_rows
from churn.io.paths import Output, PipelinePaths
from churn.kinds import kind_of
from churn.reporting.campaign_sections import campaigns_section
from churn.reporting.list_values import list_values
from churn.reporting.page import render_html
from churn.reporting.sections import (
    PLOTS,
    TOP_COLUMNS,
    TOP_ROWS,
    business_section,
    model_section,
    monitoring_section,
    outreach_section,
)
from churn.settings import PipelineSettings

PARAMS: tuple[str, ...] = ("engine", "labels", "features")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")


def _png(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _json_if_written(path: Output) -> Any:
    return io.read_json(path) if path.is_file() else None


LIST_COLUMNS = ["cutoff", "model_name", "model_version"]
"""What the page says of the whole list, read from its first row."""


def _first_to_contact(paths: PipelinePaths) -> pd.DataFrame:
    """The first :data:`~churn.reporting.sections.TOP_ROWS` customers to contact (the outreach
    slice less its control group) in list order, with the columns the page shows."""
    rows = positions_where(
        paths.scores,
        lambda s: s["in_outreach"].astype(bool) & ~s["control_group"].astype(bool),
        ["in_outreach", "control_group"],
        most=TOP_ROWS,
    )
    return read_parquet_rows(paths.scores, rows, TOP_COLUMNS)


def run(settings: PipelineSettings, paths: PipelinePaths, *, now: dt.datetime) -> dict[str, Any]:
    """Build reports/<p>/report.html from the outputs of the earlier stages."""
    values = list_values(partial(parquet_column_batches, paths.scores))
    # the labels and events are aggregated by the engine where they lie: only the churn rate
    # per cutoff, cohort counts and repeat purchases reach memory
    io.require_parquet(paths.labels)
    activity = kind_of(settings).activity(CanonicalFiles(paths, settings.features))
    retention = business_section(
        ParquetTable(paths.labels), values, activity, run_sql=sql_runner(settings.features)
    )
    metrics = io.read_json(paths.metrics)
    pngs = {name: _png(paths.plots / f"{name}.png") for name, _ in PLOTS}
    plots = {name: png for name, png in pngs.items() if png is not None}
    model = model_section(metrics, plots, _json_if_written(paths.backtest))
    beeswarm, bar = paths.shap_plots
    outreach = outreach_section(
        io.read_json(paths.scoring_summary), _first_to_contact(paths), (_png(beeswarm), _png(bar))
    )
    monitoring = monitoring_section(
        _json_if_written(paths.drift), _json_if_written(paths.realised), paths.name
    )
    campaigns = campaigns_section(
        _json_if_written(paths.campaigns),
        _json_if_written(paths.uplift_report),
        io.read_json(paths.scoring_summary),
    )
    sections = [retention, model, outreach, campaigns, monitoring]
    first = read_parquet_rows(paths.scores, [0] if values.customers else [], LIST_COLUMNS)
    cutoff = pd.Timestamp(first["cutoff"].iloc[0]).date() if len(first) else "-"
    by = "-"
    if len(first):
        by = f"{first['model_name'].iloc[0]} v{first['model_version'].iloc[0]}"
    text = render_html(
        f"Churn report: {paths.name}",
        f"Customers scored at {cutoff} by {by}; page built {now:%Y-%m-%d %H:%M} UTC.",
        sections,
    )
    plt.close("all")
    io.write_bytes(text.encode("utf-8"), paths.report)
    log.info("wrote %s (%s KB)", paths.report, f"{len(text) // 1024:,}")
    return {"path": str(paths.report), "sections": [s.title for s in sections]}
