"""Point-in-time features per (customer, cutoff): the feature catalogue, the SQL that builds
behaviour features on the engine, and the features derived after it."""

from churn.features.build import (
    Feature,
    FeatureSpec,
    build_features,
    feature_catalogue,
    features_sql,
)

__all__ = ["Feature", "FeatureSpec", "build_features", "feature_catalogue", "features_sql"]
