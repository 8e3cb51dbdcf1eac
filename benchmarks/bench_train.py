"""Training overhead of the pipeline against calling ``xgboost.train`` directly.

Both fit the same data with the same parameters and the same number of rounds (early
stopping off). The direct call gets its DMatrix objects ready-made, so the difference is
everything ``churn.modeling.train.fit_model`` adds: building the design matrix and categories, the
evaluation set, cutting the booster and fitting the calibrator.

    .venv/bin/python benchmarks/bench_train.py --pipeline retail --rounds 300 --repeats 3

Needs ``make run`` (or ``dvc repro``) first, for data/interim/<pipeline>/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import xgboost as xgb

from churn.modeling.model import design_matrix
from churn.modeling.train import booster_params, fit_model
from churn.modeling.training_data import feature_columns, labelled_rows, outcome, split_rows
from churn.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="retail")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    root = Path(__file__).resolve().parents[1]
    interim = root / "data" / "interim" / args.pipeline
    settings = load_settings(root, args.pipeline)
    # a fixed number of rounds: early stopping would otherwise stop both runs at different times
    train_settings = settings.train.model_copy(
        update={"max_rounds": args.rounds, "early_stopping_rounds": args.rounds + 1}
    )
    import pandas as pd  # noqa: PLC0415

    rows = labelled_rows(
        pd.read_parquet(interim / "features.parquet"), pd.read_parquet(interim / "labels.parquet")
    )
    columns = feature_columns(json.loads((interim / "feature_catalogue.json").read_text()))
    train, valid = split_rows(rows, "train"), split_rows(rows, "valid")
    params = booster_params(train_settings, outcome(train))

    # the direct call gets its matrices ready-made: only xgboost.train is timed
    cats = {c: tuple(sorted(train[c].dropna().astype(str).unique())) for c in columns.categorical}
    dtrain = xgb.DMatrix(
        design_matrix(train, columns.numeric, cats), label=outcome(train), enable_categorical=True
    )
    dvalid = xgb.DMatrix(
        design_matrix(valid, columns.numeric, cats), label=outcome(valid), enable_categorical=True
    )

    def direct() -> None:
        xgb.train(
            params,
            dtrain,
            num_boost_round=args.rounds,
            evals=[(dvalid, "valid")],
            verbose_eval=False,
        )

    def pipeline() -> None:
        fit_model(train, valid, columns, train_settings)

    timings: dict[str, list[float]] = {"xgboost.train": [], "churn fit_model": []}
    for _ in range(args.repeats):
        for name, fn in (("xgboost.train", direct), ("churn fit_model", pipeline)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    base = statistics.median(timings["xgboost.train"])
    print(
        f"{args.pipeline}: {len(train):,} training rows x {len(columns.all)} features, "
        f"{args.rounds} rounds, median of {args.repeats}"
    )
    for name, values in timings.items():
        med = statistics.median(values)
        print(f"  {name:<16} {med:6.2f} s   x{med / base:.2f}")


if __name__ == "__main__":
    main()
