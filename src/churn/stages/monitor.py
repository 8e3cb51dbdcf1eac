"""Stage ``monitor``: is the model still fit for today's customers?

* ``drift.json``: the scored population (``data/scored/<p>/features.parquet``) against the
  population the champion was trained on (the train and valid rows of ``features.parquet``):
  PSI per feature and of the score, missing values, unseen categories.
* ``realised.json``: every scored list in ``data/scored/<p>/history/`` whose label window has
  passed, evaluated against what the customers then did.
* ``campaigns.json``: every past contact (``data.contacts``) whose label window has passed:
  contacted against control, overall, per action and per action and risk tier, with
  intervals, and the playbook's priors updated by it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from churn import io
from churn.campaigns.measured import campaign_effects
from churn.io.canonical import CanonicalFiles
from churn.io.customer_sample import CustomerSample, customer_sample, sample_rows
from churn.io.files import read_parquet_rows
from churn.io.paths import Output, PipelinePaths
from churn.kinds import kind_of
from churn.modeling.model import ChurnModel
from churn.monitoring.drift import population_drift
from churn.settings import PipelineSettings
from churn.stages._populations import training_population
from churn.tracking.loading import load_scoring_model
from churn.tracking.store import Tracker

PARAMS: tuple[str, ...] = (
    "engine",
    "data",
    "labels",
    "features",
    "playbook",
    "monitoring",
    "train",
)
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``train`` for ``train.driver_customers``: drift, realised performance and past contacts are
measured on the customers of its sample."""

log = logging.getLogger("churn")

_HISTORY = re.compile(r"^scores_(\d{4}-\d{2}-\d{2})\.parquet$")


def _rows(path: Output, sample: CustomerSample | None) -> pd.DataFrame:
    """The rows of the parquet output ``path``, or those of the ``sample``'s customers alone."""
    if sample is None:
        return io.read_parquet(path)
    return read_parquet_rows(path, sample_rows(path, sample))


def _lists(
    paths: PipelinePaths, sample: CustomerSample | None
) -> dict[dt.date, Callable[[], pd.DataFrame]]:
    """Every list in ``history/`` by its cutoff, in order, each read only when asked for (the
    ``sample``'s customers of it, if given)."""
    files = sorted(paths.history.glob("scores_*.parquet")) if paths.history.is_dir() else []
    matches = ((file, _HISTORY.match(file.name)) for file in files)
    return {
        dt.date.fromisoformat(m[1]): partial(_rows, paths.scores_history(m[1]), sample)
        for file, m in matches
        if m is not None
    }


def run(settings: PipelineSettings, paths: PipelinePaths, tracker: Tracker) -> dict[str, Any]:
    """Write drift.json, realised.json and campaigns.json, on the customers of
    ``train.driver_customers``' sample when the labels hold more (each file then says so,
    ``driver_sample``)."""
    sample = customer_sample(paths.labels, settings.train.driver_customers)
    scores = _rows(paths.scores, sample)
    current = _rows(paths.scored_features, sample)
    current = current.merge(scores[["customer_id", "churn_probability"]], on="customer_id")
    if _registered(scores):
        model = load_scoring_model(paths, None, tracker=tracker).model
    else:  # scored with `churn score --model <folder>`: that folder, as the list names it
        model = ChurnModel.load(Path(str(scores["model_name"].iloc[0])))
    drift = population_drift(
        model,
        training_population(paths, settings.features, sample),
        current,
        catalogue=io.read_json(paths.catalogue),
        settings=settings.monitoring,
        current_probability=current["churn_probability"].to_numpy(),
    )
    if sample is not None:
        drift["driver_sample"] = sample.summary()
    io.write_json(drift, paths.drift)
    log.info(
        "wrote %s: score PSI %.3f, %s feature(s) over %.2f: %s",
        paths.drift,
        drift["score_psi"],
        len(drift["flagged_features"]),
        settings.monitoring.psi_threshold,
        drift["flagged_features"][:5],
    )
    outcome = kind_of(settings).realised(
        CanonicalFiles(paths, settings.features), _lists(paths, sample)
    )
    if sample is not None:
        outcome["driver_sample"] = sample.summary()
    io.write_json(outcome, paths.realised)
    for item in outcome["evaluated"]:
        log.info(
            "realised at %s (%s): ROC AUC %.3f, ECE %.3f on %s customers",
            item["cutoff"],
            item["model"],
            item["roc_auc"],
            item["ece"],
            f"{item['with_outcome']:,}",
        )
    contacts = kind_of(settings).contact_outcomes(CanonicalFiles(paths, settings.features), sample)
    campaigns: dict[str, Any] = (
        {"note": "no contact history (data.contacts)"}
        if contacts is None
        else campaign_effects(contacts, _lists(paths, sample), settings.playbook)
    )
    if contacts is not None and sample is not None:
        campaigns["driver_sample"] = sample.summary()
    io.write_json(campaigns, paths.campaigns)
    for row in campaigns.get("by_action", []):
        log.info(
            "%s: churn %s contacted vs %s control, effect %s",
            row["action"],
            _rate(row["churn_rate_contacted"]),
            _rate(row["churn_rate_control"]),
            "not measurable"
            if not row["measurable"]
            else f"{row['effect']:+.3f} ({row['effect_low']:+.3f} to {row['effect_high']:+.3f})",
        )
    return {"drift": drift, "realised": outcome, "campaigns": campaigns}


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _registered(scores: pd.DataFrame) -> bool:
    return bool(len(scores)) and str(scores["model_version"].iloc[0]) != "local"
