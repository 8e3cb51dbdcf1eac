"""churn: customer behaviour in, at-risk customers with reasons and actions out.

The commands (``churn --help``) run the pipeline; the names below are the library surface a
notebook or another tool builds on. Everything else lives in the subpackages along the
pipeline's path: ``data``, ``engines``, ``features``, ``modeling``, ``evaluation``, ``scoring``,
``monitoring``, ``crm``, ``reporting``, ``tracking``, ``io`` and ``stages``.
"""

from churn.errors import (
    ChurnError,
    ConfigError,
    ContractViolation,
    InputDataError,
    LabelError,
    PipelineBusyError,
    PipelineStateError,
    Problem,
    TrackingError,
    TrainingError,
)
from churn.features import Feature, FeatureSpec, build_features, feature_catalogue, features_sql
from churn.labels import build_labels, cutoff_table, observed_until, snapshot_labels
from churn.settings import PipelineSettings, load_settings

__all__ = [
    "ChurnError",
    "ConfigError",
    "ContractViolation",
    "Feature",
    "FeatureSpec",
    "InputDataError",
    "LabelError",
    "PipelineBusyError",
    "PipelineSettings",
    "PipelineStateError",
    "Problem",
    "TrackingError",
    "TrainingError",
    "build_features",
    "build_labels",
    "cutoff_table",
    "feature_catalogue",
    "features_sql",
    "load_settings",
    "observed_until",
    "snapshot_labels",
]
__version__ = "0.1.0"
