"""churn: customer behaviour in, at-risk customers with reasons and actions out.

The commands (``churn --help``) run the pipeline; the names below are the library surface a
notebook or another tool builds on. Everything else lives in the subpackages along the
pipeline's path: ``data``, ``engines``, ``features``, ``modeling``, ``evaluation``, ``scoring``,
``monitoring``, ``crm``, ``reporting``, ``tracking``, ``io`` and ``stages``.

Only the error classes load with the package; the other names load on first use, so that a
stage importing ``churn.<subpackage>`` pulls in exactly what it uses (and ``dvc.yaml`` can say
so).
"""

import importlib as _importlib
import typing as _typing

from churn.errors import (
    ChurnError,
    ConfigError,
    ContractViolation,
    InputDataError,
    LabelError,
    OutputWriteError,
    PipelineBusyError,
    PipelineStateError,
    Problem,
    TrackingError,
    TrainingError,
)

if _typing.TYPE_CHECKING:
    from churn.features import (
        Feature,
        FeatureSpec,
        build_features,
        feature_catalogue,
        features_sql,
    )
    from churn.labels import build_labels, cutoff_table, observed_until, snapshot_labels
    from churn.settings import PipelineSettings, load_settings

_LAZY = {
    "Feature": "churn.features",
    "FeatureSpec": "churn.features",
    "build_features": "churn.features",
    "feature_catalogue": "churn.features",
    "features_sql": "churn.features",
    "build_labels": "churn.labels",
    "cutoff_table": "churn.labels",
    "observed_until": "churn.labels",
    "snapshot_labels": "churn.labels",
    "PipelineSettings": "churn.settings",
    "load_settings": "churn.settings",
}

__all__ = [
    "ChurnError",
    "ConfigError",
    "ContractViolation",
    "Feature",
    "FeatureSpec",
    "InputDataError",
    "LabelError",
    "OutputWriteError",
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


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'churn' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
