"""Features of a snapshot pipeline (one row of attributes per customer, no events): the
attribute columns themselves, keyed like event features, and their catalogue."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churn.features.catalogue import ATTRIBUTE_FAMILY, Feature


def snapshot_catalogue(columns: Sequence[str], numeric: Sequence[str]) -> list[Feature]:
    """One ``attribute`` feature per snapshot column, numeric if ``numeric`` names it, else
    categorical."""
    return [
        Feature(
            c,
            ATTRIBUTE_FAMILY,
            f"Snapshot attribute {c}",
            kind="numeric" if c in numeric else "categorical",
        )
        for c in columns
    ]


def snapshot_features(
    snapshot: pd.DataFrame, labels: pd.DataFrame, dates: Sequence[str] = ()
) -> pd.DataFrame:
    """Features of a snapshot pipeline: the attribute columns, keyed like event features;
    ``dates`` (attributes held as days since 1970) become days before the cutoff."""
    attrs = [c for c in snapshot.columns if c not in ("customer_id", "churned")]
    keyed = labels[["customer_id", "cutoff"]].merge(
        snapshot[["customer_id", *attrs]], on="customer_id", how="left", validate="one_to_one"
    )
    return keyed.assign(**{d: days_before(keyed[d], keyed["cutoff"]) for d in dates})


def days_before(epoch_days: pd.Series, cutoff: pd.Series) -> pd.Series:
    """Days from a date (as days since 1970-01-01) to the cutoff: how long ago it was."""
    cutoff_days = (pd.to_datetime(cutoff) - pd.Timestamp("1970-01-01")).dt.total_seconds()
    return (cutoff_days / 86_400 - epoch_days).astype(float)
