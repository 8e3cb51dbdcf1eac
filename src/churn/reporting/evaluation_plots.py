"""What ``churn train`` shows of the model on the test cutoff: per-segment metrics, the curves
as tables for DVC plots, and the same curves as figures, baselines beside the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn.evaluation import curves, segments
from churn.modeling.training_data import FeatureColumns, outcome
from churn.reporting import evaluation_figures as figures
from churn.reporting.plot_files import CURVES, MODEL_SERIES, curve_file


def test_segments(
    test: pd.DataFrame,
    p: np.ndarray,
    columns: FeatureColumns,
    *,
    tenure: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """Metrics of the test rows per tenure band and per top category of each categorical.

    Tenure is ``days_since_first_activity`` (events), else ``tenure``: the column holding it
    and the days in one of its units (a snapshot's declared tenure attribute); without either
    there are no tenure bands. Negative tenures fall in the missing band.
    """
    groups: dict[str, pd.Series] = {}
    if "days_since_first_activity" in test:
        groups["tenure"] = segments.tenure_bands(test["days_since_first_activity"])
    elif tenure is not None and tenure[0] in test:
        days = pd.to_numeric(test[tenure[0]], errors="coerce") * tenure[1]
        groups["tenure"] = segments.tenure_bands(days.where(days >= 0))
    for name in columns.categorical:
        groups[name] = segments.top_categories(test[name])
    return segments.segment_metrics(outcome(test), p, groups)


def plot_data(
    y_test: np.ndarray, p_test: np.ndarray, threshold: float, baselines: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    """The evaluation curves as tables for DVC plots, by path inside ``reports/<p>/plots/``
    (:mod:`churn.reporting.plot_files`): ROC, precision-recall and gains one file per series
    (``roc/model.csv``, ``roc/<baseline>.csv``, ...), calibration and the confusion pairs at
    ``threshold`` of the model alone."""
    series = {MODEL_SERIES: p_test, **baselines}
    per_series = {
        "roc": curves.roc_curve_frame,
        "precision_recall": curves.pr_curve_frame,
        "gains": curves.gains_frame,
    }
    model_only = {
        "calibration": curves.calibration_frame(y_test, p_test),
        "confusion": pd.DataFrame(
            {
                "actual": np.where(y_test == 1, "churn", "stay"),
                "predicted": np.where(p_test >= threshold, "churn", "stay"),
            }
        ),
    }
    out: dict[str, pd.DataFrame] = {}
    for curve in CURVES:
        if curve.per_series:
            for name, p in series.items():
                out[curve_file(curve, name)] = per_series[curve.name](y_test, p)
        else:
            out[curve_file(curve)] = model_only[curve.name]
    return out


def evaluation_figures(
    y: np.ndarray, p: np.ndarray, baselines: dict[str, np.ndarray], metrics: dict[str, Any]
) -> dict[str, Any]:
    """The evaluation charts as matplotlib figures, baselines beside the model."""
    label = f"churn model (AUC {metrics['roc_auc']:.3f})"
    named = {f"{n} (AUC {metrics['baselines'][n]['roc_auc']:.3f})": b for n, b in baselines.items()}
    return {
        "roc": figures.roc_figure(
            curves.roc_curve_frame(y, p),
            label=label,
            baselines={n: curves.roc_curve_frame(y, b) for n, b in named.items()},
        ),
        "precision_recall": figures.pr_figure(
            curves.pr_curve_frame(y, p),
            label=label,
            baselines={n: curves.pr_curve_frame(y, b) for n, b in named.items()},
        ),
        "calibration": figures.calibration_figure(
            curves.calibration_frame(y, p), label=f"churn model (ECE {metrics['ece']:.3f})"
        ),
        "gains": figures.gains_figure(
            curves.gains_frame(y, p),
            label=label,
            baselines={n: curves.gains_frame(y, b) for n, b in named.items()},
        ),
    }
