"""The shapes DVC reads: backtest.json and segments.json are objects with a summary of scalars
beside their lists, and the curves are one CSV per series under the files dvc.yaml plots."""

from __future__ import annotations

import json
import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from churn import io
from churn.evaluation.segments import segment_metrics
from churn.evaluation.summaries import (
    backtest_file,
    backtest_folds,
    cross_validation_aucs,
    segments_file,
    segments_list,
)
from churn.reporting.evaluation_plots import plot_data
from churn.reporting.page import Figure, Note
from churn.reporting.plot_files import CURVES, dvc_plot_definitions
from churn.reporting.sections import _policies_table, model_section


def scalars_only(summary: dict[str, Any]) -> bool:
    return all(isinstance(v, int | float | str) for v in summary.values())


def fold(cutoff: str, auc: float | None, ece: float | None) -> dict[str, Any]:
    return {"test_cutoff": cutoff, "roc_auc": auc, "ece": ece, "baselines": {"x": {"roc_auc": 0.6}}}


def test_rolling_origin_folds_keep_every_number_beside_their_spread() -> None:
    folds = [
        fold("2020-03-01", 0.7, 0.05),
        fold("2020-06-01", 0.8, 0.01),
        fold("2020-09-01", 0.9, 0.03),
    ]
    written = backtest_file(folds)
    assert written["folds"] == folds
    assert written["summary"] == {
        "folds": 3,
        "roc_auc_mean": pytest.approx(0.8),
        "roc_auc_min": 0.7,
        "roc_auc_max": 0.9,
        "ece_mean": pytest.approx(0.03),
        "ece_min": 0.01,
        "ece_max": 0.05,
    }
    assert backtest_folds(written) == folds
    assert backtest_folds(folds) == folds  # a file of an earlier version: a bare list
    assert cross_validation_aucs(written) == []


def test_a_fold_without_a_figure_is_left_out_of_the_spread_not_counted_as_zero() -> None:
    folds = [fold("a", None, None), fold("b", math.nan, 0.2), fold("c", 0.6, math.inf)]
    summary = backtest_file(folds)["summary"]
    assert summary == {
        "folds": 3,
        "roc_auc_mean": 0.6,
        "roc_auc_min": 0.6,
        "roc_auc_max": 0.6,
        "ece_mean": 0.2,
        "ece_min": 0.2,
        "ece_max": 0.2,
    }
    assert backtest_file([]) == {"summary": {"folds": 0}, "folds": []}


def test_cross_validation_becomes_numbered_folds() -> None:
    written = backtest_file({"cross_validation_roc_auc": [0.84, 0.83, 0.86]})
    assert written["folds"] == [
        {"fold": 1, "roc_auc": 0.84},
        {"fold": 2, "roc_auc": 0.83},
        {"fold": 3, "roc_auc": 0.86},
    ]
    assert written["summary"]["folds"] == 3 and written["summary"]["roc_auc_min"] == 0.83
    assert "ece_mean" not in written["summary"]
    assert cross_validation_aucs(written) == [0.84, 0.83, 0.86]
    assert cross_validation_aucs({"cross_validation_roc_auc": [0.5]}) == [0.5]  # earlier file
    assert backtest_folds(written) == []
    with pytest.raises(TypeError, match="rolling-origin folds"):
        backtest_file(0.8)


def test_segments_name_the_worst_segment_and_keep_every_record() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    plan = pd.Series(rng.choice(["basic", "pro", "tiny"], 400, p=[0.6, 0.35, 0.05]))
    frame = segment_metrics(y, p, {"plan": plan, "région": pd.Series(["nord"] * 400)})
    written = segments_file(frame)
    pd.testing.assert_frame_equal(pd.DataFrame(segments_list(written)), frame)
    assert segments_list(frame.to_dict(orient="records"))[0] == written["segments"][0]
    finite = frame.dropna(subset=["roc_auc"])
    worst = finite.loc[finite["roc_auc"].idxmin()]
    assert written["summary"] == {
        "segments": len(frame),
        "worst_roc_auc": worst["roc_auc"],
        "worst_segment": f"{worst['segment']} = {worst['value']}",
    }


def test_segments_without_any_auc_have_no_worst() -> None:
    frame = segment_metrics([1, 0, 1], [0.9, 0.1, 0.8], {"x": ["a", "b", "a"]})
    assert frame["roc_auc"].isna().all()  # too few rows for an AUC
    assert segments_file(frame)["summary"] == {"segments": 2}


def test_written_files_are_objects_dvc_reads_numbers_from(tmp_path: Any) -> None:
    """DVC reads no number from a JSON list: the files are objects, the summary scalars (NaN
    written as null, which DVC skips)."""
    frame = segment_metrics([1, 0] * 50, np.linspace(0, 1, 100), {"s": ["a"] * 100})
    io.write_json(backtest_file([fold("a", math.nan, 0.1)]), tmp_path / "backtest.json")
    io.write_json(segments_file(frame), tmp_path / "segments.json")
    for name in ("backtest.json", "segments.json"):
        loaded = json.loads((tmp_path / name).read_text())
        assert isinstance(loaded, dict) and scalars_only(loaded["summary"]), name


def test_plot_data_writes_one_file_per_series_of_each_curve() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    model = np.clip(y * 0.4 + rng.random(300) * 0.6, 0, 1)
    baselines = {"recency": rng.random(300), "odd name-1": rng.random(300)}
    tables = plot_data(y, model, 0.5, baselines)
    assert set(tables) == {
        *(
            f"{c}/{s}.csv"
            for c in ("roc", "precision_recall", "gains")
            for s in ["model", *baselines]
        ),
        "calibration.csv",
        "confusion.csv",
    }
    assert "model" not in tables["roc/model.csv"]  # one series per file: no series column
    assert len(tables["confusion.csv"]) == 300
    # the model's own curve is what it was when every series shared one file
    assert tables["roc/model.csv"]["tpr"].iloc[-1] == 1.0


def test_dvc_plot_definitions_name_the_pipeline_and_each_series_file() -> None:
    defs = dvc_plot_definitions("shop", ["model", "recency", "bgnbd"])
    ids = [next(iter(d)) for d in defs]
    assert ids == [f"shop_{c.name}" for c in CURVES]
    roc = defs[0]["shop_roc"]
    assert roc == {
        "template": "simple",
        "x": "fpr",
        "y": {
            "reports/shop/plots/roc/model.csv": "tpr",
            "reports/shop/plots/roc/recency.csv": "tpr",
            "reports/shop/plots/roc/bgnbd.csv": "tpr",
        },
    }
    confusion = defs[-1]["shop_confusion"]
    assert confusion["template"] == "confusion"
    assert confusion["y"] == {"reports/shop/plots/confusion.csv": "predicted"}
    # the model is always drawn, first, even when the list leaves it out
    assert list(dvc_plot_definitions("shop", ["tenure"])[0]["shop_roc"]["y"]) == [
        "reports/shop/plots/roc/model.csv",
        "reports/shop/plots/roc/tenure.csv",
    ]


def model_metrics() -> dict[str, Any]:
    figures = {"roc_auc": 0.8, "pr_auc": 0.7, "brier": 0.2, "ece": 0.05, "lift_top_decile": 2.0}
    return {
        **figures,
        "n_test": 500,
        "positive_rate": 0.3,
        "baselines": {"x": figures},
        "training": {"test_cutoff": "2021-01-01"},
    }


@pytest.mark.parametrize("shape", ["object", "list of an earlier version"])
def test_the_report_draws_the_backtest_folds_of_either_shape(shape: str) -> None:
    folds = [fold("2020-06-01", 0.78, 0.02), fold("2020-09-01", 0.79, 0.03)]
    backtest = backtest_file(folds) if shape == "object" else folds
    items = model_section(model_metrics(), {}, backtest).items
    assert sum(isinstance(i, Figure) for i in items) == 1
    plt.close("all")


def test_the_report_lists_the_cross_validation_folds() -> None:
    backtest = backtest_file({"cross_validation_roc_auc": [0.84, 0.83, 0.86]})
    notes = [
        i.text for i in model_section(model_metrics(), {}, backtest).items if isinstance(i, Note)
    ]
    assert "ROC AUC of the 3 cross-validation folds: 0.840, 0.830, 0.860." in notes
    assert not any(isinstance(i, Figure) for i in model_section(model_metrics(), {}, None).items)


def test_a_policy_figure_scoring_could_not_compute_is_an_empty_cell() -> None:
    """scoring.json writes a sum it could not compute as null: the report shows an empty cell
    where it used to stop on ``round(None)``."""
    policy = {
        "chosen": True,
        "customers": 5,
        "mean_churn_probability": 0.4,
        "value_at_risk": None,
        "expected_value_saved": 12.4,
        "expected_value_saved_sd": None,
    }
    table = _policies_table({"churn_probability": policy})
    assert table["value at risk"].isna().all() and table["sd"].isna().all()
    assert table["expected value saved"].iloc[0] == 12
