"""The promotion gate's rules, each stated with its numbers: the paired ROC AUC rule, the
calibration rules on the test cutoff and the backtest folds, and what a reason says when the
comparison falls back on the test cutoff. Pure: :func:`churn.tracking.registry.promote`
applies them and moves the aliases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from churn.evaluation.metrics import calibration_noise
from churn.evaluation.paired import AucDifference
from churn.settings import RegistrySettings


def backtest_calibration(
    folds: pd.DataFrame | None,
    metrics_fn: Callable[[np.ndarray, np.ndarray], Mapping[str, float]],
) -> dict[str, Any]:
    """The challenger's ECE on each backtest fold with both outcomes, their mean and the mean
    fold size; empty without fold predictions."""
    if folds is None or folds.empty:
        return {}
    per_fold = {}
    sizes = []
    for name, rows in folds.groupby("fold", sort=False):
        y = rows["churned"].to_numpy(dtype=int)
        if len(np.unique(y)) != 2:
            continue
        per_fold[str(name)] = float(metrics_fn(y, rows["probability"].to_numpy(float))["ece"])
        sizes.append(len(rows))
    if not per_fold:
        return {}
    return {
        "backtest_ece": float(np.mean(list(per_fold.values()))),
        "ece_per_fold": per_fold,
        "rows_per_fold": round(float(np.mean(sizes))),
    }


def no_pairing_reason(
    challenger: pd.DataFrame | None,
    champion: pd.DataFrame | None,
    version: str,
    left_out: list[str],
) -> str:
    """Why the comparison falls back on the test cutoff."""
    if challenger is None or challenger.empty:
        return "the challenger has no backtest fold predictions"
    if champion is None:
        return (
            f"champion v{version} has no backtest fold predictions (trained before they were kept)"
        )
    return f"no backtest fold of the challenger can be paired with champion v{version}'s: " + (
        "; ".join(left_out) if left_out else "the champion has none"
    )


def auc_rule(
    difference: AucDifference,
    comparison: Mapping[str, Any],
    settings: RegistrySettings,
    *,
    recalibrates: bool = False,
) -> tuple[str, bool]:
    """The comparison rule stated with its numbers, and whether the challenger passes it:
    ROC AUC difference >= margin and the interval's lower end >= -margin. ``recalibrates``
    (the champion fails its calibration rule on the test rows, :func:`champion_ece_rule`):
    the interval's lower end >= -margin alone, a challenger that ranks no worse replaces a
    champion whose probabilities no longer hold."""
    margin = settings.auc_margin
    if comparison["basis"] == "backtest folds":
        where = f"on {len(difference.folds)} backtest fold(s) ({', '.join(difference.folds)}"
        where += f"; {difference.n_customers:,} customers, paired)"
        if comparison.get("left_out"):
            where += f", leaving out {'; '.join(comparison['left_out'])}"
    else:
        where = (
            f"on the test cutoff ({difference.n_customers:,} customers, paired), because "
            f"{comparison['why']}"
        )
    not_worse = difference.low >= -margin
    better = not_worse and (recalibrates or difference.difference >= margin)
    verdict = "passes" if better else "fails"
    rule = (
        f"challenger - champion ROC AUC {difference.difference:+.4f} "
        f"({difference.challenger_auc:.4f} vs {difference.champion_auc:.4f}; "
        f"{difference.confidence:.0%} interval {difference.low:+.4f} to {difference.high:+.4f}) "
        f"{where} {verdict} the rule: "
    )
    if recalibrates:
        rule += f"interval low >= -{margin:g} (ranks no worse than a miscalibrated champion)"
    else:
        rule += f"difference >= margin {margin:g} and interval low >= -{margin:g}"
    return rule, better


def champion_ece_rule(
    champion: str, metrics: Mapping[str, float], settings: RegistrySettings
) -> tuple[str, bool]:
    """The champion's calibration on today's test rows, stated with its numbers, and whether
    it still holds. When it does not, :func:`auc_rule` lets a challenger that ranks no worse
    replace it: a champion whose 30 % means 45 % misleads every list it scores."""
    rule, holds = _ece_rule(metrics["ece"], int(metrics.get("n_test", 0)), "test rows", settings)
    return f"champion v{champion} {rule}" + (
        "" if holds else ": its probabilities no longer hold"
    ), holds


def report_of_test_cutoff(challenger: Mapping[str, float], champion: Mapping[str, float]) -> str:
    """The test cutoff's ROC AUCs, a report beside the rules."""
    if not champion:
        return f" (test cutoff, a report: challenger ROC AUC {challenger['roc_auc']:.4f})"
    return (
        f" (test cutoff, a report: challenger ROC AUC {challenger['roc_auc']:.4f}, champion "
        f"{champion['roc_auc']:.4f})"
    )


def first_version_rules(
    challenger: Mapping[str, float], calibration: Mapping[str, Any], settings: RegistrySettings
) -> tuple[list[str], list[str]]:
    """(failed rules, passed rules) of a first version: no champion to beat, but its
    probabilities must still be calibrated within ``max_ece``, on the test cutoff and on its
    backtest folds (a leak never gets this far: ``churn train`` stops on it)."""
    failures: list[str] = []
    passes: list[str] = []
    for rule, calibrated in ece_rules(challenger, calibration, settings):
        (passes if calibrated else failures).append(rule)
    return failures, passes


def ece_rules(
    metrics: Mapping[str, float], calibration: Mapping[str, Any], settings: RegistrySettings
) -> list[tuple[str, bool]]:
    """The calibration rules, test cutoff first, then the backtest folds' mean ECE when there
    are fold predictions."""
    rules = [_ece_rule(metrics["ece"], int(metrics.get("n_test", 0)), "test rows", settings)]
    if calibration:
        rule, ok = _ece_rule(
            calibration["backtest_ece"],
            int(calibration["rows_per_fold"]),
            "rows per fold",
            settings,
        )
        n = len(calibration["ece_per_fold"])
        rules.append((f"backtest {rule} (mean of {n} fold(s))", ok))
    return rules


def _ece_rule(ece: float, n: int, rows: str, settings: RegistrySettings) -> tuple[str, bool]:
    """The calibration rule stated with its numbers, and whether it holds: ECE within
    ``max_ece`` plus the ECE a calibrated model shows by chance on ``n`` rows."""
    noise = calibration_noise(n) if n > 0 else 0.0
    allowed = settings.max_ece + noise
    sign = "<=" if ece <= allowed else ">"
    rule = f"ECE {ece:.4f} {sign} max_ece {settings.max_ece:g}"
    if n > 0:
        rule += f" + {noise:.3f} sampling noise of {n:,} {rows}"
    return rule, ece <= allowed
