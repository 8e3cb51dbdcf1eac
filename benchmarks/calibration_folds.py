"""Calibrators compared on a pipeline's rolling-origin backtest folds, never on its test cutoff.

Each fold's booster is fitted once with the pipeline's recipe (``train.calibration: none``), and
the margins of every cutoff up to the fold's test cutoff are kept; only the calibrator varies.
A calibrator sees the labelled cutoffs the fold may know (training, purged, validation) and the
test cutoff's features, never its outcomes. Prints each calibrator's ECE per fold, its mean,
the folds where it beats the reference (Platt on ``--pool`` cutoffs) and the mean ROC AUC.
``oracle level`` gives each fold its own test churn level (the reference's slope, the level
fitted on the test outcomes): what is left when the level is known, not a usable calibrator.

    .venv/bin/python benchmarks/calibration_folds.py --pipeline retail --folds 10 \\
        --segment-feature days_since_first_activity --edges 90 365 \\
        --covariate active_days_30d bgnbd_expected_purchases_90d

Needs ``make run`` (or ``dvc repro``) first, for data/interim/<pipeline>/. Events pipelines only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from churn.evaluation.metrics import expected_calibration_error
from churn.modeling.backtest import fold_purged, rolling_origin_plan
from churn.modeling.leakage import screen_features
from churn.modeling.train import fit_model
from churn.modeling.training_data import feature_columns, labelled_rows, outcome, split_rows
from churn.settings import load_settings

KNOWN = ("train", "purged", "valid")
Calibrate = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]
"""(labelled rows the fold knows, test rows) -> test probabilities; both have ``margin``."""


def fold_margins(root: Path, pipeline: str, n_folds: int) -> list[tuple[str, pd.DataFrame]]:
    """Per fold (its test cutoff): the rows up to its test cutoff with the fold model's margin
    and a ``role`` (train, purged, valid, unlabelled: window still open at the test cutoff,
    test). Only cutoffs before the pipeline's test cutoff are used."""
    settings = load_settings(root, pipeline)
    ts = settings.train.model_copy(update={"calibration": "none", "calibration_cutoffs": 1})
    interim = root / "data" / "interim" / pipeline
    rows = labelled_rows(
        pd.read_parquet(interim / "features.parquet"), pd.read_parquet(interim / "labels.parquet")
    )
    catalogue = json.loads((interim / "feature_catalogue.json").read_text(encoding="utf-8"))
    columns = feature_columns(catalogue, ts.exclude_features)
    train = split_rows(rows, "train")
    columns = screen_features(train, outcome(train), columns, ts.leakage, seed=ts.seed).columns
    history = split_rows(rows, list(KNOWN))
    horizon = settings.labels.horizon_days
    plan = rolling_origin_plan(list(history["cutoff"].unique()), horizon, n_folds)
    out = []
    for fold in reversed(plan):
        cut = history["cutoff"]
        fit = fit_model(
            history[cut.isin(fold.train_cutoffs)].reset_index(drop=True),
            history[cut == fold.valid_cutoff].reset_index(drop=True),
            columns,
            ts,
            purged=fold_purged(history, fold),
        )
        upto = history[cut <= fold.test_cutoff].reset_index(drop=True)
        c = upto["cutoff"]
        role = np.select(
            [
                c.isin(fold.train_cutoffs),
                c < fold.valid_cutoff,
                c == fold.valid_cutoff,
                c == fold.test_cutoff,
            ],
            ["train", "purged", "valid", "test"],
            "unlabelled",
        )
        frame = upto.assign(margin=fit.model.margin(upto), role=role)
        out.append((fold.test_cutoff.date().isoformat(), frame))
        print(f"fold {out[-1][0]}: {fit.best_iteration + 1} trees", flush=True)
    return out


def latest(known: pd.DataFrame, k: int) -> pd.DataFrame:
    """The rows of the ``k`` latest labelled cutoffs (``train.calibration_cutoffs`` k)."""
    cuts = sorted(known["cutoff"].unique())[-k:]
    return known[known["cutoff"].isin(cuts)]


def _logistic(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    return LogisticRegression(C=1e6, max_iter=1000).fit(x, y)


def platt(k: int) -> Calibrate:
    def fit(known: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        rows = latest(known, k)
        model = _logistic(rows[["margin"]].to_numpy(), outcome(rows))
        return np.asarray(model.predict_proba(test[["margin"]].to_numpy())[:, 1])

    return fit


def isotonic(k: int) -> Calibrate:
    def fit(known: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        rows = latest(known, k)
        iso = IsotonicRegression(out_of_bounds="clip").fit(rows["margin"], outcome(rows))
        return np.asarray(iso.predict(test["margin"]))

    return fit


def _beta_inputs(margin: np.ndarray) -> np.ndarray:
    p = np.clip(expit(margin), 1e-6, 1 - 1e-6)
    return np.column_stack([np.log(p), -np.log(1 - p)])


def beta(k: int) -> Calibrate:
    """Beta calibration (Kull et al. 2017): logistic on log p and -log(1 - p)."""

    def fit(known: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        rows = latest(known, k)
        model = _logistic(_beta_inputs(rows["margin"].to_numpy()), outcome(rows))
        return np.asarray(model.predict_proba(_beta_inputs(test["margin"].to_numpy()))[:, 1])

    return fit


def venn_abers(k: int, grid: int = 400) -> Calibrate:
    """Inductive Venn-Abers (Vovk et al.): isotonic fits with the scored point added as 0 and
    as 1, merged as p1 / (1 - p0 + p1); evaluated on a grid of margins and interpolated."""

    def fit(known: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        rows = latest(known, k)
        x, y = rows["margin"].to_numpy(), outcome(rows)
        points = np.unique(np.quantile(test["margin"], np.linspace(0, 1, grid)))
        merged = np.empty(len(points))
        for i, v in enumerate(points):
            xs = np.append(x, v)
            iso = IsotonicRegression(out_of_bounds="clip")
            p0 = iso.fit(xs, np.append(y, 0)).predict([v])[0]
            p1 = iso.fit(xs, np.append(y, 1)).predict([v])[0]
            merged[i] = p1 / (1 - p0 + p1)
        return np.asarray(np.interp(test["margin"], points, merged))

    return fit


def _offset(score: np.ndarray, y: np.ndarray) -> float:
    """The level o with sum(sigmoid(score + o)) = sum(y) (Newton steps)."""
    o = 0.0
    for _ in range(50):
        p = expit(score + o)
        o += float((y - p).sum() / max(float((p * (1 - p)).sum()), 1e-9))
    return o


def population_covariate(feature: str, stat: str, k: int) -> Calibrate:
    """Platt on the ``k`` latest cutoffs, its level moved by c x (z_test - z_pool), where z is a
    statistic of the cutoff's whole population (``mean`` of ``feature``, or ``share`` > 0) and
    c the slope of every labelled cutoff's own level (Platt slope fixed) on its z."""

    def z(frame: pd.DataFrame) -> float:
        values = frame[feature]
        return float(values.mean() if stat == "mean" else (values > 0).mean())

    def fit(known: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        rows = latest(known, k)
        ref = _logistic(rows[["margin"]].to_numpy(), outcome(rows))
        a, b = float(ref.coef_[0, 0]), float(ref.intercept_[0])
        groups = [g for _, g in known.groupby("cutoff")]
        zs = np.array([z(g) for g in groups])
        levels = np.array([_offset(a * g["margin"].to_numpy(), outcome(g)) for g in groups])
        slope = float(np.polyfit(zs, levels, 1)[0]) if len(groups) > 2 and zs.std() > 0 else 0.0
        zref = float(np.mean([z(g) for _, g in rows.groupby("cutoff")]))
        return np.asarray(expit(a * test["margin"].to_numpy() + b + slope * (z(test) - zref)))

    return fit


def segment_offsets(feature: str, edges: Sequence[float], k: int) -> Calibrate:
    """One Platt slope, one level per segment of ``feature`` cut at ``edges`` (missing values
    in the lowest segment), fitted on the ``k`` latest cutoffs."""

    def design(frame: pd.DataFrame, segments: list[int]) -> np.ndarray:
        seg = np.digitize(frame[feature].fillna(-np.inf), edges)
        dummies = [(seg == s).astype(float) for s in segments[1:]]
        return np.column_stack([frame["margin"].to_numpy(), *dummies])

    def fit(known: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        rows = latest(known, k)
        segments = sorted(set(np.digitize(rows[feature].fillna(-np.inf), edges).tolist()))
        model = _logistic(design(rows, segments), outcome(rows))
        return np.asarray(model.predict_proba(design(test, segments))[:, 1])

    return fit


def oracle_level(k: int) -> Calibrate:
    def fit(known: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        rows = latest(known, k)
        a = float(_logistic(rows[["margin"]].to_numpy(), outcome(rows)).coef_[0, 0])
        score = a * test["margin"].to_numpy()
        return np.asarray(expit(score + _offset(score, outcome(test))))

    return fit


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pipeline", default="retail")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--pool", type=int, default=2, help="reference: Platt on this many")
    parser.add_argument("--segment-feature", default=None)
    parser.add_argument("--edges", type=float, nargs="*", default=[])
    parser.add_argument("--covariate", nargs="*", default=[], help="features for z")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    folds = fold_margins(root, args.pipeline, args.folds)
    pools = sorted({1, args.pool})
    candidates: dict[str, Calibrate] = {f"platt, {args.pool} (reference)": platt(args.pool)}
    for k in pools:
        if k != args.pool:
            candidates[f"platt, {k}"] = platt(k)
        candidates[f"isotonic, {k}"] = isotonic(k)
        candidates[f"beta, {k}"] = beta(k)
        candidates[f"venn-abers, {k}"] = venn_abers(k)
        for feature in args.covariate:
            for stat in ("mean", "share"):
                name = f"population {stat} of {feature}, {k}"
                candidates[name] = population_covariate(feature, stat, k)
        if args.segment_feature:
            name = f"level per {args.segment_feature} segment {args.edges}, {k}"
            candidates[name] = segment_offsets(args.segment_feature, args.edges, k)
    candidates["oracle level (not usable)"] = oracle_level(args.pool)
    reference: list[float] = []
    print("folds:", " ".join(name for name, _ in folds))
    for name, calibrate in candidates.items():
        eces, aucs = [], []
        for _, frame in folds:
            known = frame[frame["role"].isin(KNOWN)]
            test = frame[frame["role"] == "test"]
            p = calibrate(known, test)
            eces.append(expected_calibration_error(outcome(test), p))
            aucs.append(float(roc_auc_score(outcome(test), p)))
        reference = reference or eces  # the first candidate is the reference
        better = sum(e < r - 1e-4 for e, r in zip(eces, reference, strict=False))
        print(
            f"{name:58s} ECE {np.mean(eces):.4f} (lower on {better}/{len(folds)}) "
            f"AUC {np.mean(aucs):.4f} | " + " ".join(f"{e:.3f}" for e in eces),
            flush=True,
        )


if __name__ == "__main__":
    main()
