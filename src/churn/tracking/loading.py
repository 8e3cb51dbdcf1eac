"""The model a scoring run uses: a model folder given by path, or the registry's champion, and
(``scoring.engine: spark``) its probabilities computed in Spark executors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from churn.io.paths import PipelinePaths
from churn.modeling.model import ChurnModel
from churn.scoring.ranking import ModelIdentity
from churn.settings import PipelineSettings
from churn.tracking import registry
from churn.tracking.pyfunc import churn_model_of
from churn.tracking.store import Tracker

log = logging.getLogger("churn")


@dataclass(frozen=True)
class LoadedModel:
    model: ChurnModel
    identity: ModelIdentity
    run_id: str | None
    """The MLflow run that trained it (None for a model folder given by path)."""


def load_scoring_model(
    paths: PipelinePaths,
    model_path: Path | None,
    *,
    tracker: Tracker,
    version: str | None = None,
) -> LoadedModel:
    """The model folder at ``model_path`` (``tracker`` is not touched), else version
    ``version`` of ``churn-<p>`` (a DVC experiment's own model), else
    ``models:/churn-<p>@champion`` from ``tracker``'s registry."""
    if model_path is not None:
        model = ChurnModel.load(model_path)
        return LoadedModel(model, ModelIdentity(str(model_path), "local"), None)
    client = tracker.client
    name = registry.model_name(paths.name)
    if version is None:
        pyfunc, version = registry.load_champion(client, name)
    else:
        pyfunc = registry.load_model(client, f"models:/{name}/{version}")
    run_id = str(client.get_model_version(name, version).run_id)
    return LoadedModel(churn_model_of(pyfunc), ModelIdentity(name, version), run_id)


def spark_probabilities_of(
    settings: PipelineSettings, loaded: LoadedModel, *, tracker: Tracker
) -> Callable[[pd.DataFrame], np.ndarray]:
    """``scoring.engine: spark``: a function from a feature frame to the churn probabilities
    of ``loaded`` (the registered champion in ``tracker``'s registry), computed by its MLflow
    ``spark_udf`` in the Spark executors (:mod:`churn.scoring.spark_scoring`)."""
    from churn.engines.spark import spark_session  # noqa: PLC0415 - optional dependency
    from churn.scoring.spark_scoring import champion_probabilities, spark_champion  # noqa: PLC0415

    session = spark_session(settings.features.spark, setting="scoring.engine")
    # the version loaded for reasons, even if the champion alias moves meanwhile
    champion = spark_champion(
        session, tracker.client, loaded.identity.name, loaded.identity.version
    )
    log.info("churn probabilities on Spark (%s)", session.sparkContext.master)
    return lambda features: champion_probabilities(session, champion, features)
