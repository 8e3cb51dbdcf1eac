"""Stage ``monitor``: is the model still fit for today's customers?

* ``drift.json``: the scored population (``data/scored/<p>/features.parquet``) against the
  population the champion was trained on (the train and valid rows of ``features.parquet``):
  PSI per feature and of the score, missing values, unseen categories.
* ``realised.json``: every scored list in ``data/scored/<p>/history/`` whose label window has
  passed, evaluated against what the customers then did.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

import pandas as pd

from churn import io
from churn.data.event_summaries import event_span
from churn.engines import Table, sql_runner
from churn.evaluation import metrics as evaluation_metrics
from churn.io.paths import PipelinePaths
from churn.labels import build_labels, observed_until
from churn.modeling.model import ChurnModel
from churn.monitoring.drift import population_drift, training_rows
from churn.settings import EventLabelSettings, PipelineSettings
from churn.stages._canonical import events_table, labels_and_features, read_canonical
from churn.tracking.loading import load_scoring_model
from churn.tracking.store import Tracker

PARAMS: tuple[str, ...] = ("labels", "features", "monitoring")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")

_HISTORY = re.compile(r"^scores_(\d{4}-\d{2}-\d{2})\.parquet$")


def realised(settings: PipelineSettings, paths: PipelinePaths) -> dict[str, Any]:
    """Each history list whose outcome is known, scored against that outcome."""
    labs = settings.labels
    if not isinstance(labs, EventLabelSettings):
        return {
            "evaluated": [],
            "note": "a snapshot has no later outcome to compare its scores with",
        }
    events = events_table(settings, paths)
    data_end = observed_until(
        event_span(events, sql_runner(settings.features)), labs.last_day_of_data
    )
    horizon = dt.timedelta(days=labs.horizon_days)
    history = paths.scores_history("x").parent
    evaluated, waiting = [], []
    for file in sorted(history.glob("scores_*.parquet")) if history.is_dir() else []:
        match = _HISTORY.match(file.name)
        if match is None:
            continue
        cutoff = dt.date.fromisoformat(match[1])
        if cutoff + horizon > data_end:
            waiting.append(
                {"cutoff": cutoff.isoformat(), "known_from": (cutoff + horizon).isoformat()}
            )
            continue
        evaluated.append(_evaluate_list(pd.read_parquet(file), cutoff, events, settings, paths))
    return {"evaluated": evaluated, "not_yet_known": waiting}


def _evaluate_list(
    scores: pd.DataFrame,
    cutoff: dt.date,
    events: Table,
    settings: PipelineSettings,
    paths: PipelinePaths,
) -> dict[str, Any]:
    labs = settings.labels
    assert isinstance(labs, EventLabelSettings)
    table = pd.DataFrame({"cutoff": [cutoff], "split": ["realised"], "observed": [True]})
    outcome = build_labels(
        events,
        table,
        labs,
        read_canonical(paths, "churn_events", required=False),
        run_sql=sql_runner(settings.features),
    )[["customer_id", "churned"]]
    joined = scores.merge(outcome, on="customer_id", how="inner")
    y = joined["churned"].astype(bool).to_numpy().astype(int)
    metrics = evaluation_metrics.binary_metrics(y, joined["churn_probability"].to_numpy())
    contact = joined[joined["in_outreach"]]
    rest = joined[~joined["in_outreach"]]
    return {
        "cutoff": cutoff.isoformat(),
        "model": f"{scores['model_name'].iloc[0]} v{scores['model_version'].iloc[0]}",
        "scored": len(scores),
        "with_outcome": len(joined),
        **metrics,
        "churn_rate_outreach": float(contact["churned"].mean()) if len(contact) else None,
        "churn_rate_rest": float(rest["churned"].mean()) if len(rest) else None,
    }


def run(settings: PipelineSettings, paths: PipelinePaths, tracker: Tracker) -> dict[str, Any]:
    """Write drift.json and realised.json."""
    scores = io.read_parquet(paths.scores, stage_hint=f"churn score {paths.name}")
    current = io.read_parquet(paths.scored_features, stage_hint=f"churn score {paths.name}")
    current = current.merge(scores[["customer_id", "churn_probability"]], on="customer_id")
    if _registered(scores):
        model = load_scoring_model(paths, None, tracker=tracker).model
    else:  # scored with `churn score --model <folder>`: that folder, as the list names it
        model = ChurnModel.load(Path(str(scores["model_name"].iloc[0])))
    drift = population_drift(
        model,
        training_rows(*labels_and_features(paths)),
        current,
        catalogue=io.read_json(paths.catalogue, stage_hint=f"churn features {paths.name}"),
        settings=settings.monitoring,
        current_probability=current["churn_probability"].to_numpy(),
    )
    io.write_json(drift, paths.drift)
    log.info(
        "wrote %s: score PSI %.3f, %s feature(s) over %.2f: %s",
        paths.drift,
        drift["score_psi"],
        len(drift["flagged_features"]),
        settings.monitoring.psi_threshold,
        drift["flagged_features"][:5],
    )
    outcome = realised(settings, paths)
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
    return {"drift": drift, "realised": outcome}


def _registered(scores: pd.DataFrame) -> bool:
    return bool(len(scores)) and str(scores["model_version"].iloc[0]) != "local"
