"""The churn model trained on Spark (``train.engine: spark``): the booster is fitted by
``xgboost.spark`` in Spark tasks, everything around it as
:func:`churn.modeling.train.fit_model` does.

Same parameters (:func:`churn.modeling.train.booster_params`), the same base margin fitted on the
training rows, categorical features as the codes of the categories seen in training (what
xgboost makes of a pandas category column, so the trees split on the same values), early
stopping on the validation cutoff, then the calibrator fitted on the validation cutoff on the
driver. With one worker the training rows keep their order, so xgboost grows the same trees as
``churn train`` on one machine, row sampling included.

In ``churn train`` the executors read the training and validation rows from ``labels.parquet``
and ``features.parquet`` themselves (:func:`parquet_training_rows`) and turn them into the
model's input with the very function the driver would use (:func:`training_frame`, applied to
each Arrow batch): the driver fits the base margin and reads the categories and class counts,
then lets its rows go, and hands none to Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xgboost as xgb

from churn.engines.spark import parquet_dataframe, quote_spark_identifier
from churn.errors import TrainingError
from churn.modeling.base_margin import BaseMargin
from churn.modeling.model import Calibrator, ChurnModel, design_matrix
from churn.modeling.train import FitResult, _categories, base_margin_for, booster_params
from churn.modeling.training_data import KEYS, FeatureColumns, TrainingRows, outcome
from churn.settings import TrainSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FEATURES_COLUMN = "_features"
LABEL_COLUMN = "_churned"
VALID_COLUMN = "_is_valid"
BASE_MARGIN_COLUMN = "_base_margin"
ORDER_COLUMN = "_order"
"""The labelled rows' position in ``labels.parquet``: with one worker xgboost reads the
training rows in that order, then the validation rows, as :func:`churn.modeling.train.fit_model`
stacks them."""
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
    ``split`` (rows of other splits are ignored), the base margin column when given, and
    optionally ``ORDER_COLUMN``. ``num_workers``: Spark tasks that train together (at most the
    cores); with one, the training rows then the validation rows, each in ``ORDER_COLUMN``'s
    order or else the DataFrame's.
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
        *([ORDER_COLUMN] if ORDER_COLUMN in rows.columns and num_workers == 1 else []),
    )
    if num_workers == 1:
        # one partition in the rows' order: xgboost.spark then does not repartition (which
        # shuffles), so row sampling draws the rows it draws on one machine. Barrier tasks
        # refuse a coalesce, hence a shuffle into one partition, sorted back into order: the
        # training rows, then the validation rows, each by their place in the labels when
        # the rows carry it, else the DataFrame's order.
        if ORDER_COLUMN not in used.columns:
            used = used.withColumn(ORDER_COLUMN, monotonically_increasing_id())
        used = (
            used.repartition(1).sortWithinPartitions(VALID_COLUMN, ORDER_COLUMN).drop(ORDER_COLUMN)
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


SparkRows = Callable[[Mapping[str, Sequence[str]], BaseMargin | None], "DataFrame"]
"""Given the training categories and base margin, the :func:`training_frame` rows as a Spark
DataFrame (:func:`parquet_training_rows` bound to its files)."""


def parquet_training_rows(
    session: SparkSession,
    files: tuple[Path, Path],
    columns: FeatureColumns,
    categories: Mapping[str, Sequence[str]],
    base: BaseMargin | None,
) -> DataFrame:
    """The training and validation rows as :func:`spark_booster` reads them, built by the
    executors: they read ``files``, ``labels.parquet`` and ``features.parquet`` (at a path
    every executor sees), join them on customer and cutoff, and apply :func:`training_frame` to each
    Arrow batch (``mapInPandas``), so the codes of the categories and the base margin are the
    driver's to the bit. Each row carries its place in the labels as ``ORDER_COLUMN``. Nothing
    is collected: a lazy DataFrame."""
    from pyspark.sql.functions import monotonically_increasing_id  # noqa: PLC0415
    from pyspark.sql.types import (  # noqa: PLC0415 - needs pyspark
        BooleanType,
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    labels, features = files
    cats = {name: tuple(values) for name, values in categories.items()}
    # the base margin's features are numeric model features (base_margin_for), but need not be
    wanted = list(dict.fromkeys([*columns.all, *(base.features if base else ())]))
    labelled = (
        parquet_dataframe(session, labels)
        .select(*KEYS, "churned", "split")
        .withColumn(ORDER_COLUMN, monotonically_increasing_id())  # the file's order
        .where("split IN ('train', 'valid')")
    )
    rows = parquet_dataframe(session, features).select(
        *(quote_spark_identifier(c) for c in [*KEYS, *wanted])
    )
    joined = labelled.join(rows, on=KEYS).drop(*KEYS)
    fields = [StructField(name, DoubleType()) for name in [*columns.numeric, *cats]]
    fields += [StructField("churned", BooleanType()), StructField("split", StringType())]
    if base is not None:
        fields.append(StructField(BASE_MARGIN_COLUMN, DoubleType()))
    fields.append(StructField(ORDER_COLUMN, LongType()))

    def batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            out = training_frame(frame, columns, cats, base)
            out[ORDER_COLUMN] = frame[ORDER_COLUMN].to_numpy()
            yield out

    built: DataFrame = joined.mapInPandas(batches, StructType(fields))
    return built


def spark_fit_model(
    session: SparkSession,
    train: pd.DataFrame | TrainingRows,
    valid: pd.DataFrame,
    columns: FeatureColumns,
    settings: TrainSettings,
    *,
    num_workers: int = 1,
    overrides: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    spark_rows: SparkRows | None = None,
) -> FitResult:
    """:func:`churn.modeling.train.fit_model` with the booster fitted on Spark: train on
    ``train``, stop early and calibrate on ``valid``; the same model artifact, parameters and
    metadata.

    ``spark_rows``: the same rows built by the executors (:func:`parquet_training_rows`); the
    driver then only fits the base margin and reads the categories and class counts of
    ``train``, lets go of it when it can be read again (:class:`TrainingRows`), and hands
    Spark no row. Without it, ``train`` and ``valid`` are handed over through Arrow."""
    from churn.engines.spark import spark_dataframe  # noqa: PLC0415 - needs pyspark

    held = train if isinstance(train, TrainingRows) else TrainingRows(train)
    params = booster_params(settings, outcome(held.frame), overrides)
    base = base_margin_for(held.frame, columns, settings)
    cats = _categories(held.frame, columns)
    if spark_rows is not None:
        held.let_go()
        rows = spark_rows(cats, base)
    else:
        stacked = pd.concat(
            [held.frame.assign(split="train"), valid.assign(split="valid")], ignore_index=True
        )
        rows = spark_dataframe(session, training_frame(stacked, columns, cats, base))
    booster, best, loss = spark_booster(
        rows,
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
