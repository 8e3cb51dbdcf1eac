"""churn: customer behaviour in, at-risk customers with reasons and actions out."""

from churn.errors import (
    ChurnError,
    ConfigError,
    ContractViolation,
    InputDataError,
    LabelError,
    PipelineStateError,
    Problem,
)
from churn.features import (
    Feature,
    FeatureSpec,
    build_features,
    feature_catalogue,
    features_sql,
)
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
    "PipelineSettings",
    "PipelineStateError",
    "Problem",
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
