"""Point-in-time features per (customer, cutoff): the feature catalogue (:mod:`.catalogue`), the
SQL that builds behaviour features on the engine (:mod:`.sql`, run by :mod:`.build`), the
features derived after it (:mod:`.derived`) and those of snapshot pipelines (:mod:`.snapshot`)."""

from churn.features.build import build_features
from churn.features.catalogue import Feature, FeatureSpec, catalogue_records, feature_catalogue
from churn.features.snapshot import snapshot_catalogue, snapshot_features
from churn.features.sql import features_sql

__all__ = [
    "Feature",
    "FeatureSpec",
    "build_features",
    "catalogue_records",
    "feature_catalogue",
    "features_sql",
    "snapshot_catalogue",
    "snapshot_features",
]
