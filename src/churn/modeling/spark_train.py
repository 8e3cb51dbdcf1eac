"""The churn model trained on Spark (``train.engine: spark``): the booster is fitted by
``xgboost.spark`` in Spark tasks, everything around it as
:func:`churn.modeling.train.fit_model` does.

Same parameters (:func:`churn.modeling.train.booster_params`), the same base margin fitted on the
training rows, categorical features as the codes of the categories seen in training (what
xgboost makes of a pandas category column, so the trees split on the same values), early
stopping on the validation cutoff, then the calibrator fitted on the validation cutoff on the
driver. With one worker the training rows keep their order, so xgboost grows the same trees as
``churn train`` on one machine, row sampling included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xgboost as xgb

from churn.engines.spark import quote_spark_identifier
from churn.errors import TrainingError
from churn.modeling.base_margin import BaseMargin
from churn.modeling.model import Calibrator, ChurnModel, design_matrix
from churn.modeling.train import FitResult, _categories, base_margin_for, booster_params
from churn.modeling.training_data import FeatureColumns, outcome
from churn.settings import TrainSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FEATURES_COLUMN = "_features"
LABEL_COLUMN = "_churned"
VALID_COLUMN = "_is_valid"
BASE_MARGIN_COLUMN = "_base_margin"
ORDER_COLUMN = "_order"
SPARK_MANAGED_PARAMS = ("nthread", "objective")
"""Set by xgboost.spark itself: threads from spark.task.cpus, objective from the label."""


def spark_booster(
    rows: DataFrame,
    numeric_features: Sequence[str],
    params: Mapping[str, Any],
    settings: TrainSettings,
    *,
    categorical_features: Sequence[str] = (),
    num_workers: int = 1,
    base_margin_column: str | None = None,
) -> tuple[xgb.Booster, int, float]:
    """A booster trained on the ``train`` rows of ``rows``, early stopping on its ``valid``
    rows; returns it cut at its best iteration, that iteration and the validation log loss
    there.

    ``rows``: a Spark DataFrame with the ``numeric_features`` (double), the
    ``categorical_features`` as category codes (double: 0, 1, ... in the order of the training
    categories, missing for none or unseen), ``churned`` (bool, no missing values) and
    ``split`` (rows of other splits are ignored), and the base margin column when given.
    ``num_workers``: Spark tasks that train together (at most the cores); with one, the rows
    are trained on in the DataFrame's order.
    """
    from pyspark.sql.functions import monotonically_increasing_id  # noqa: PLC0415
    from xgboost.spark import SparkXGBClassifier  # noqa: PLC0415 - needs pyspark

    features = [*numeric_features, *categorical_features]
    missing = [c for c in [*features, "churned", "split"] if c not in rows.columns]
    if missing:
        raise TrainingError(f"the Spark training rows lack column(s) {missing}.")
    # one array column, missing values as NaN: with a list of feature columns xgboost.spark
    # 3.4 fails on an Arrow batch holding no validation (or no training) rows, and
    # validation rows come together at the end of a churn training table
    values = ", ".join(
        f"COALESCE(CAST({quote_spark_identifier(c)} AS DOUBLE), DOUBLE('NaN'))" for c in features
    )
    used = rows.where("split IN ('train', 'valid')").selectExpr(
        f"ARRAY({values}) AS {FEATURES_COLUMN}",
        f"CAST(churned AS INT) AS {LABEL_COLUMN}",
        f"split = 'valid' AS {VALID_COLUMN}",
        *([base_margin_column] if base_margin_column else []),
    )
    if num_workers == 1:
        # one partition in the DataFrame's order: xgboost.spark then does not repartition
        # (which shuffles), so row sampling draws the rows it draws on one machine. Barrier
        # tasks refuse a coalesce, hence a shuffle into one partition, sorted back into order.
        used = (
            used.withColumn(ORDER_COLUMN, monotonically_increasing_id())
            .repartition(1)
            .sortWithinPartitions(ORDER_COLUMN)
            .drop(ORDER_COLUMN)
        )
    booster_params = {k: v for k, v in params.items() if k not in SPARK_MANAGED_PARAMS}
    classifier = SparkXGBClassifier(
        features_col=FEATURES_COLUMN,
        label_col=LABEL_COLUMN,
        validation_indicator_col=VALID_COLUMN,
        base_margin_col=base_margin_column,
        num_workers=num_workers,
        n_estimators=settings.max_rounds,
        early_stopping_rounds=settings.early_stopping_rounds,
        feature_names=features,
        # what a pandas frame of float64 and category columns gives xgboost locally
        feature_types=[*(["float"] * len(numeric_features)), *(["c"] * len(categorical_features))],
        verbose=False,
        **booster_params,
    )
    fitted = classifier.fit(used)
    booster: xgb.Booster = fitted.get_booster()
    best = int(booster.best_iteration)
    history = fitted.training_summary.validation_objective_history
    return booster[: best + 1], best, float(history["logloss"][best])


def training_frame(
    rows: pd.DataFrame,
    columns: FeatureColumns,
    categories: Mapping[str, Sequence[str]],
    base: BaseMargin | None,
) -> pd.DataFrame:
    """What :func:`spark_booster` reads, from the labelled feature rows (``split`` and
    ``churned`` set): the model features (:func:`churn.modeling.model.design_matrix`, categories as
    codes), ``churned``, ``split`` and, with ``base``, its log-odds as ``_base_margin``."""
    matrix = design_matrix(rows, columns.numeric, categories)
    for name in categories:
        codes = matrix[name].cat.codes.to_numpy()
        matrix[name] = np.where(codes < 0, np.nan, codes.astype("float64"))
    matrix["churned"] = outcome(rows).astype(bool)
    matrix["split"] = rows["split"].astype(str).to_numpy()
    if base is not None:
        matrix[BASE_MARGIN_COLUMN] = base(rows)
    return matrix.reset_index(drop=True)


def spark_fit_model(
    session: SparkSession,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    columns: FeatureColumns,
    settings: TrainSettings,
    *,
    num_workers: int = 1,
    overrides: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> FitResult:
    """:func:`churn.modeling.train.fit_model` with the booster fitted on Spark: train on
    ``train``, stop early and calibrate on ``valid``; the same model artifact, parameters and
    metadata."""
    from churn.engines.spark import spark_dataframe  # noqa: PLC0415 - needs pyspark

    params = booster_params(settings, outcome(train), overrides)
    base = base_margin_for(train, columns, settings)
    cats = _categories(train, columns)
    rows = pd.concat([train.assign(split="train"), valid.assign(split="valid")], ignore_index=True)
    booster, best, loss = spark_booster(
        spark_dataframe(session, training_frame(rows, columns, cats, base)),
        columns.numeric,
        params,
        settings,
        categorical_features=tuple(cats),
        num_workers=num_workers,
        base_margin_column=None if base is None else BASE_MARGIN_COLUMN,
    )
    uncalibrated = ChurnModel(
        booster=booster,
        calibrator=Calibrator("none"),
        numeric_features=columns.numeric,
        categories=cats,
        metadata={**(metadata or {}), "params": params, "best_iteration": best},
        base_margin=base,
    )
    calibrator = Calibrator.fit(settings.calibration, uncalibrated.margin(valid), outcome(valid))
    return FitResult(replace(uncalibrated, calibrator=calibrator), params, best, loss)
