"""Which labelled rows the probability calibrator is fitted on.

By default the calibrator sees the validation cutoff alone, so it carries that cutoff's churn
level into every later prediction. Where the level moves from one cutoff to the next (a
season, a one-off month), ``train.calibration_cutoffs`` pools the validation cutoff with the
latest cutoffs before it, so one unusual month weighs less. What is gained (a level closer to
the next cutoff's) and lost (older levels where churn trends) differs by dataset: choose the
number on the rolling-origin backtests, never on the test cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

CUTOFF = "cutoff"


def calibration_rows(
    valid: pd.DataFrame, earlier: Sequence[pd.DataFrame], cutoffs: int
) -> pd.DataFrame:
    """The rows to fit the calibrator on: ``valid`` and the rows of the ``cutoffs - 1`` latest
    cutoffs before the validation cutoff found in ``earlier`` (purged and training rows).

    ``valid`` and each frame of ``earlier`` are labelled feature rows with a ``cutoff`` column;
    frames without one (or ``cutoffs`` 1, or no earlier cutoff) give ``valid`` unchanged.
    Fewer earlier cutoffs than asked for pools what there is. Inputs are never modified."""
    frames = [f for f in earlier if len(f) and CUTOFF in f.columns]
    if cutoffs <= 1 or CUTOFF not in valid.columns or not len(valid) or not frames:
        return valid
    pool = pd.concat(frames, ignore_index=True)
    before: pd.DataFrame = pool[pool[CUTOFF] < valid[CUTOFF].min()]
    latest = sorted(before[CUTOFF].unique())[-(cutoffs - 1) :]
    if not latest:
        return valid
    pooled: pd.DataFrame = pd.concat(
        [valid, before[before[CUTOFF].isin(latest)]], ignore_index=True
    )
    return pooled


def calibration_cutoff_dates(rows: pd.DataFrame) -> list[str]:
    """The distinct cutoffs of ``rows``, latest first, as ISO dates (for the model metadata)."""
    if CUTOFF not in rows.columns:
        return []
    return [pd.Timestamp(c).date().isoformat() for c in sorted(rows[CUTOFF].unique())[::-1]]
