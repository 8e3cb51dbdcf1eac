"""Who is scored: today's customers with their features and what each is worth, and the
labelled customers their reasons are compared with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from churn.errors import ConfigError
from churn.scoring.explain import Reference
from churn.scoring.value import recurring_value
from churn.settings import ValueSettings


@dataclass(frozen=True)
class Population:
    """Today's customers: one feature row each, at ``cutoff``, and what each is worth."""

    cutoff: dt.date
    features: pd.DataFrame
    expected_value: pd.Series


def recurring_expected_value(value: ValueSettings, features: pd.DataFrame) -> pd.Series:
    """``scoring.value.method: recurring``: monthly charge x months per row of ``features``."""
    return recurring_value(features, value)


def clv_needs_events(pipeline: str) -> ConfigError:
    """The error for ``scoring.value.method: clv`` on a pipeline without purchase events."""
    return ConfigError(
        f"pipelines/{pipeline}/params.yaml: scoring.value.method 'clv' needs purchase "
        "events; for a snapshot set method: recurring and charge_feature (the monthly charge)."
    )


def latest_labelled_cutoff(labels: pd.DataFrame) -> pd.Timestamp | None:
    """The latest cutoff with a known outcome in ``labels`` (``churn labels``' table); None
    when no row has one."""
    latest = labels.loc[labels["churned"].notna(), "cutoff"].max()
    return None if pd.isna(latest) else pd.Timestamp(latest)


def latest_labelled_reference(
    labels: pd.DataFrame, features: pd.DataFrame, columns: list[str]
) -> Reference:
    """Typical values and churn rates of the customers at the latest labelled cutoff.
    ``labels``, ``features``: the tables of ``churn labels`` and ``churn features``; the
    feature rows of other cutoffs are not used (the caller need not read them)."""
    known = labels[labels["churned"].notna()]
    latest = known[known["cutoff"] == known["cutoff"].max()][["customer_id", "cutoff", "churned"]]
    return Reference.from_labelled(features.merge(latest, on=["customer_id", "cutoff"]), columns)
