"""The description of a training run (MLflow's ``mlflow.note.content``, shown on the run's page):
what the model predicts, which rows it learnt, was stopped and was tested on, where its data
came from, and what it scored. Pure text from settings and counts."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from churn.settings import (
    DataSettings,
    EventLabelSettings,
    PipelineSettings,
    SnapshotLabelSettings,
    SourceSettings,
)

CONTEXTS = ("training", "validation", "test")
"""The roles rows play in a training, as MLflow dataset contexts."""

_ROLES = {
    "training": "the trees are grown on them",
    "validation": "early stopping and calibration",
    "test": "the figures below",
}


@dataclass(frozen=True)
class Split:
    """The rows of one context: how many, how many churned, at which cutoffs (ISO dates)."""

    context: str
    rows: int
    churned: int
    cutoffs: tuple[str, ...]

    @classmethod
    def of(cls, context: str, rows: pd.DataFrame, y: np.ndarray) -> Split:
        """``rows`` with a ``cutoff`` column, ``y`` their 0/1 outcomes."""
        cutoffs = sorted({pd.Timestamp(c).date().isoformat() for c in rows["cutoff"].unique()})
        return cls(context, len(rows), int(np.asarray(y).sum()), tuple(cutoffs))

    def line(self) -> str:
        if len(self.cutoffs) == 1:
            when = f"at the cutoff {self.cutoffs[0]}"
        elif self.cutoffs:
            when = f"at {len(self.cutoffs)} cutoffs, {self.cutoffs[0]} to {self.cutoffs[-1]}"
        else:
            when = "at no cutoff"
        role = _ROLES.get(self.context, "")
        return f"- {self.context}: {self.rows:,} rows ({self.churned:,} churned) {when}" + (
            f": {role}" if role else ""
        )


def data_sources(data: DataSettings) -> list[str]:
    """``"<path> (<table>)"`` for every raw file ``data`` names, in settings order."""
    return [
        f"{source.path} ({table})"
        for table in type(data).model_fields
        for source in _sources(getattr(data, table))
    ]


def _sources(value: object) -> Iterator[SourceSettings]:
    if isinstance(value, SourceSettings):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _sources(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _sources(item)


def prediction(settings: PipelineSettings) -> str:
    """What the model's probability is the probability of, from the label settings."""
    labels = settings.labels
    if isinstance(labels, SnapshotLabelSettings):
        snapshot = settings.data.snapshot
        if snapshot is not None and snapshot.churned_when == "filled":
            return (
                f"the probability that a customer's label in the snapshot of "
                f"{labels.snapshot_date.isoformat()} holds a value (a cancellation date; "
                "data.snapshot.churned_when: filled)"
            )
        positive = snapshot.positive_label if snapshot else "?"
        return (
            f"the probability that a customer's label in the snapshot of "
            f"{labels.snapshot_date.isoformat()} is {positive!r} (data.snapshot.positive_label)"
        )
    assert isinstance(labels, EventLabelSettings)
    types = ", ".join(labels.activity_event_types)
    window = f"the {labels.horizon_days} days after the cutoff"
    churned = {
        "inactivity": f"no activity of type {types} in {window}",
        "explicit": f"a churn event in {window}",
        "either": f"a churn event, or no activity of type {types}, in {window}",
    }[labels.churn_definition]
    eligible = (
        f"active within {labels.max_inactive_days} days before a cutoff"
        if labels.max_inactive_days is not None
        else "with activity before a cutoff"
    )
    return f"the probability that a customer {eligible} churns: {churned}"


def describe(
    settings: PipelineSettings,
    *,
    command: str,
    experiment: str | None,
    inputs: Mapping[str, str],
    splits: Sequence[Split] = (),
    n_features: int | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> str:
    """Markdown for the run's page. ``inputs``: file (relative path) -> MD5 of the files the
    rows were read from; ``splits``, ``n_features`` and ``metrics`` (``metrics.json``) once
    known, so a run that failed early still says what it was doing."""
    where = f" in DVC experiment `{experiment}`" if experiment else ""
    lines = [
        f"Churn model of pipeline **{settings.name}** ({settings.data.kind} data), trained by "
        f"`{command}`{where}.",
        "",
        f"**Predicts** {prediction(settings)}.",
    ]
    if splits:
        lines += ["", "**Rows** (one per customer and cutoff):", *(s.line() for s in splits)]
    sources = data_sources(settings.data)
    files = ", ".join(f"{path} (md5 {digest})" for path, digest in inputs.items())
    features = f"; {n_features} model features" if n_features is not None else ""
    lines += ["", f"**Data**: {', '.join(sources) or 'no raw file'} -> {files}{features}."]
    if metrics:
        lines += ["", f"**Result**: {_result(metrics)}."]
    return "\n".join(lines)


def _result(metrics: Mapping[str, Any]) -> str:
    parts = []
    if _finite(auc := metrics.get("roc_auc")):
        parts.append(f"test ROC AUC {auc:.3f}")
    if _finite(ece := metrics.get("ece")):
        parts.append(f"ECE {ece:.3f}")
    baselines = metrics.get("baselines") or {}
    scored = {
        name: figures["roc_auc"]
        for name, figures in baselines.items()
        if isinstance(figures, Mapping) and _finite(figures.get("roc_auc"))
    }
    if scored:
        parts.append("baselines " + ", ".join(f"{n} {auc:.3f}" for n, auc in scored.items()))
    training = metrics.get("training") or {}
    if isinstance(training.get("best_iteration"), int):
        parts.append(
            f"best boosting round {training['best_iteration'] + 1} (the validation curve is "
            "the `curve.*` metrics)"
        )
    return "; ".join(parts) or "no test figure"


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
