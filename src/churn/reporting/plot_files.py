"""The layout of ``reports/<p>/plots/`` and the DVC plot definitions that read it.

ROC, precision-recall and gains curves are written one CSV per series, ``<curve>/<series>.csv``
(``model`` and each baseline by name), because DVC draws one line per file: a single file
holding every model draws one zig-zag line. Calibration and the confusion pairs are the
model's alone, one file each. ``dvc.yaml`` defines one top-level plot per pipeline and curve,
``<p>_<curve>`` (e.g. ``retail_roc``), so ``dvc plots show retail_roc`` draws that pipeline's
ROC curves and nothing else; :func:`dvc_plot_definitions` is what it declares (and what
``churn init`` adds). No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CURVES",
    "MODEL_SERIES",
    "Curve",
    "curve_file",
    "dvc_plot_definitions",
    "plot_id",
]

MODEL_SERIES = "model"
"""The churn model's series name (its file: ``<curve>/model.csv``)."""


@dataclass(frozen=True)
class Curve:
    """One chart of ``churn train``: its name, the columns DVC puts on x and y, whether each
    model gets its own file, and DVC's template."""

    name: str
    x: str
    y: str
    per_series: bool
    template: str = "simple"


CURVES = (
    Curve("roc", "fpr", "tpr", per_series=True),
    Curve("precision_recall", "recall", "precision", per_series=True),
    Curve("gains", "share_contacted", "share_of_churners_caught", per_series=True),
    Curve("calibration", "mean_predicted", "observed_rate", per_series=False),
    Curve("confusion", "actual", "predicted", per_series=False, template="confusion"),
)


def curve_file(curve: Curve, series: str = MODEL_SERIES) -> str:
    """Path of a curve's CSV inside ``reports/<p>/plots/``: ``roc/bgnbd.csv``,
    ``calibration.csv``."""
    return f"{curve.name}/{series}.csv" if curve.per_series else f"{curve.name}.csv"


def plot_id(pipeline: str, curve: Curve) -> str:
    """The id of a pipeline's plot in dvc.yaml: ``retail_roc``."""
    return f"{pipeline}_{curve.name}"


def dvc_plot_definitions(pipeline: str, series: Sequence[str]) -> list[dict[str, Any]]:
    """The top-level ``plots:`` entries of dvc.yaml for ``pipeline``, one per curve.

    ``series``: the models drawn on the per-series curves, ``model`` first then each baseline
    (their CSV names). A series with no file (a baseline that could not be fitted) only makes
    DVC say it found no file for it; the other lines are drawn."""
    names = [MODEL_SERIES, *(s for s in series if s != MODEL_SERIES)]
    folder = f"reports/{pipeline}/plots"
    out: list[dict[str, Any]] = []
    for curve in CURVES:
        drawn = names if curve.per_series else [MODEL_SERIES]
        body = {
            "template": curve.template,
            "x": curve.x,
            "y": {f"{folder}/{curve_file(curve, s)}": curve.y for s in drawn},
        }
        out.append({plot_id(pipeline, curve): body})
    return out
