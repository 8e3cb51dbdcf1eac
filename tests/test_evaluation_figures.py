"""Evaluation figures drawn from the curve frames: titles, labels, legends, and the column check
that names the frame builder."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from churn.evaluation import curves
from churn.reporting import evaluation_figures


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """5,000 customers whose outcomes are drawn from their (calibrated) probabilities."""
    rng = np.random.default_rng(7)
    p = rng.uniform(size=5_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    return y, p


def test_figures_have_titles_and_axis_labels(sample: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = sample
    baseline = np.clip(p + np.random.default_rng(2).normal(0, 0.3, p.size), 0, 1)
    figures = [
        evaluation_figures.roc_figure(
            curves.roc_curve_frame(y, p), baselines={"noisy": curves.roc_curve_frame(y, baseline)}
        ),
        evaluation_figures.pr_figure(curves.pr_curve_frame(y, p)),
        evaluation_figures.calibration_figure(curves.calibration_frame(y, p)),
        evaluation_figures.gains_figure(curves.gains_frame(y, p)),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        fig.savefig(io.BytesIO(), format="png", dpi=40)  # renders without warnings
    labels = [t.get_text() for t in figures[0].axes[0].get_legend().get_texts()]
    assert labels[:2] == ["churn model", "noisy"]


def test_figure_names_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"missing \['tpr'\].*roc_curve_frame"):
        evaluation_figures.roc_figure(pd.DataFrame({"fpr": [0.0, 1.0]}))
