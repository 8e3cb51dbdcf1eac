"""Churn probabilities on Spark: the registered champion as an MLflow ``spark_udf``.

The UDF runs the same pyfunc the pandas path loads (``churn.tracking.ChurnPyfunc``: xgboost
booster plus calibrator) inside the Spark executors' Python workers, one Arrow batch at a time,
so each executor needs this package installed (``pip install 'churn[spark]'``). Only the
probability is computed there; reasons, value at risk and the outreach list stay with
``churn score``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import Model

from churn.tracking.pyfunc import PROBABILITY_COLUMN
from churn.tracking.registry import champion_uri, local_model

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class SparkChampion:
    """The champion as a Spark UDF: ``udf(struct(*feature_names))`` is its probability."""

    udf: Any
    version: str
    feature_names: tuple[str, ...]


def spark_champion(
    session: SparkSession, client: MlflowClient, model_name: str, version: str | None = None
) -> SparkChampion:
    """The champion of ``model_name`` in ``client``'s registry (or its ``version``, e.g. the
    champion the caller already loaded) as a UDF on ``session``.

    The model is downloaded through ``client`` (not MLflow's global tracking URI) and handed
    to Spark, which ships it to the executors. Raises TrackingError when there is no champion.
    """
    from mlflow.pyfunc import spark_udf  # noqa: PLC0415 - imported by churn.tracking.pyfunc first

    if version is None:
        uri, version = champion_uri(client, model_name)
    else:
        uri = f"models:/{model_name}/{version}"
    with local_model(client, uri) as folder:
        signature = Model.load(str(folder)).signature
        names = tuple(signature.inputs.input_names()) if signature is not None else ()
        # env_manager="local": the executors run this environment's packages, not a fresh one
        udf = spark_udf(session, str(folder), result_type="double", env_manager="local")
    return SparkChampion(udf, version, names)


def spark_probabilities(
    features: DataFrame, champion: SparkChampion, keys: tuple[str, ...] = ("customer_id",)
) -> DataFrame:
    """``keys`` and ``churn_probability`` (calibrated, in [0, 1]) for each row of the feature
    DataFrame ``features``, which holds the model's feature columns (numeric as double,
    categorical as string) like the pandas feature frame."""
    from pyspark.sql.functions import struct  # noqa: PLC0415 - optional dependency

    probability = champion.udf(struct(*champion.feature_names)).alias(PROBABILITY_COLUMN)
    return features.select(*keys, probability)


ROW_COLUMN = "_row"


def champion_probabilities(
    session: SparkSession, champion: SparkChampion, features: pd.DataFrame
) -> np.ndarray:
    """(n_rows,) calibrated churn probabilities of the rows of the pandas feature frame
    ``features``, computed in the Spark executors (:func:`spark_probabilities`), in the
    frame's row order. Only the model's columns are sent to Spark, through Arrow."""
    from churn.engines.spark import spark_dataframe  # noqa: PLC0415 - needs pyspark

    frame = features.reset_index(drop=True)[list(champion.feature_names)]
    frame[ROW_COLUMN] = np.arange(len(frame), dtype="int64")
    scored = spark_probabilities(spark_dataframe(session, frame), champion, keys=(ROW_COLUMN,))
    result = scored.toArrow().to_pandas().sort_values(ROW_COLUMN)
    if not np.array_equal(result[ROW_COLUMN].to_numpy(), frame[ROW_COLUMN].to_numpy()):
        raise RuntimeError(f"Spark returned {len(result)} probabilities for {len(frame)} rows")
    return np.asarray(result[PROBABILITY_COLUMN].to_numpy(), dtype="float64")
