"""The names ``import churn`` promises. A change here is a change of the public API: make it on
purpose, and say so in CHANGELOG.md."""

from __future__ import annotations

import inspect

import churn
from churn import errors

PUBLIC = [
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


def test_all_is_pinned() -> None:
    assert churn.__all__ == PUBLIC


def test_every_exported_name_exists() -> None:
    missing = [name for name in churn.__all__ if not hasattr(churn, name)]
    assert not missing


def test_every_error_class_is_exported() -> None:
    error_classes = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, churn.ChurnError)
    }
    assert error_classes <= set(churn.__all__), sorted(error_classes - set(churn.__all__))


def test_no_private_names_leak() -> None:
    public = {name for name in dir(churn) if not name.startswith("_")}
    subpackages = {name for name in public if inspect.ismodule(getattr(churn, name))}
    assert public - subpackages == set(churn.__all__)


def test_registered_models_find_their_pyfunc() -> None:
    # every registered model's code imports this path: it must survive any reorganisation
    from churn.tracking import ChurnPyfunc  # noqa: PLC0415

    assert ChurnPyfunc.__name__ == "ChurnPyfunc"
