"""The xgboost booster trained on Spark (``xgboost.spark``), for training sets that outgrow
the driver.

It takes the parameters of :func:`churn.train.booster_params` and stops early on the
validation cutoff as :func:`churn.train.fit_booster` does; with one worker and the same rows
it grows the same trees. Scope: numeric features, optionally a base-margin column; the
calibrator, categorical features and the rest of ``churn train`` still run on the driver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import xgboost as xgb

from churn.errors import TrainingError
from churn.settings import TrainSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LABEL_COLUMN = "_churned"
VALID_COLUMN = "_is_valid"
SPARK_MANAGED_PARAMS = ("nthread", "objective")
"""Set by xgboost.spark itself: threads from spark.task.cpus, objective from the label."""


def spark_booster(
    rows: DataFrame,
    numeric_features: Sequence[str],
    params: Mapping[str, Any],
    settings: TrainSettings,
    *,
    num_workers: int = 1,
    base_margin_column: str | None = None,
) -> tuple[xgb.Booster, int]:
    """A booster trained on the ``train`` rows of ``rows``, early stopping on its ``valid``
    rows; returns it cut at its best iteration, and that iteration.

    ``rows``: a Spark DataFrame with the ``numeric_features`` (double), ``churned`` (bool,
    no missing values) and ``split`` (rows of other splits are ignored), and the base margin
    column when given. ``num_workers``: Spark tasks that train together (at most the cores).
    """
    from xgboost.spark import SparkXGBClassifier  # noqa: PLC0415 - needs pyspark

    missing = [c for c in [*numeric_features, "churned", "split"] if c not in rows.columns]
    if missing:
        raise TrainingError(f"the Spark training rows lack column(s) {missing}.")
    used = rows.where("split IN ('train', 'valid')").selectExpr(
        *numeric_features,
        f"CAST(churned AS INT) AS {LABEL_COLUMN}",
        f"split = 'valid' AS {VALID_COLUMN}",
        *([base_margin_column] if base_margin_column else []),
    )
    booster_params = {k: v for k, v in params.items() if k not in SPARK_MANAGED_PARAMS}
    classifier = SparkXGBClassifier(
        features_col=list(numeric_features),
        label_col=LABEL_COLUMN,
        validation_indicator_col=VALID_COLUMN,
        base_margin_col=base_margin_column,
        num_workers=num_workers,
        n_estimators=settings.max_rounds,
        early_stopping_rounds=settings.early_stopping_rounds,
        verbose=False,
        **booster_params,
    )
    booster: xgb.Booster = classifier.fit(used).get_booster()
    best = int(booster.best_iteration)
    return booster[: best + 1], best
