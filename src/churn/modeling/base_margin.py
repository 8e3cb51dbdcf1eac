"""The log-odds a booster starts from: a logistic regression on the log of a few trusted scores.

xgboost starts every row from one constant and needs many trees to rebuild a smooth score such
as the BG/NBD expected purchases; early stopping cuts it off first, so on retail the model
ranked customers worse than that score alone. Boosting *from* the score (xgboost's
``base_margin``) lets the trees learn only what the score misses: with zero trees the model
ranks exactly as the score does.

Each feature enters as ``log(x + LOG_EPSILON)``, a missing or negative value as 0. The fit is
stored as plain numbers in the model JSON, so scoring computes it from the same feature frame
as the booster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

LOG_EPSILON = 0.01
"""Added before the log, so a zero (no expected purchase) stays finite."""


def log_scores(features: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """(n_rows, len(names)) array of ``log(max(x, 0) + LOG_EPSILON)``, missing as 0."""
    x = features[list(names)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return np.asarray(np.log(np.clip(np.nan_to_num(x, nan=0.0), 0.0, None) + LOG_EPSILON))


@dataclass(frozen=True)
class BaseMargin:
    """Log-odds of churn ``intercept + sum(coefs * log(x + LOG_EPSILON))`` over ``features``
    (parallel tuples ``features`` and ``coefs``). ``centers`` are the training means of the
    logged features: the point SHAP attributions of this linear part are measured from."""

    features: tuple[str, ...]
    coefs: tuple[float, ...]
    intercept: float
    centers: tuple[float, ...] = ()

    def contributions(self, rows: pd.DataFrame) -> np.ndarray:
        """(n_rows, len(features)) exact SHAP values of the linear part: ``coef * (log x -
        center)``; they sum, with ``intercept + coefs . centers``, to ``self(rows)``."""
        centers = np.asarray(self.centers or [0.0] * len(self.features))
        return np.asarray((log_scores(rows, self.features) - centers) * np.asarray(self.coefs))

    @property
    def expected(self) -> float:
        """The linear part at the centers: its share of every customer's base value."""
        centers = np.asarray(self.centers or [0.0] * len(self.features))
        return float(self.intercept + centers @ np.asarray(self.coefs))

    def __call__(self, rows: pd.DataFrame) -> np.ndarray:
        """(n_rows,) log-odds for ``rows``, a frame holding every one of ``features``."""
        out = self.intercept + log_scores(rows, self.features) @ np.asarray(self.coefs)
        return np.asarray(out, dtype=float)

    @classmethod
    def fit(cls, rows: pd.DataFrame, y: np.ndarray, features: Sequence[str]) -> BaseMargin:
        """Logistic regression of the 0/1 outcomes ``y`` on the logged ``features`` of the
        training ``rows`` (essentially unpenalised: C is large)."""
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - slow import

        logged = log_scores(rows, features)
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(logged, y)
        return cls(
            tuple(features),
            tuple(map(float, lr.coef_[0])),
            float(lr.intercept_[0]),
            tuple(map(float, logged.mean(axis=0))),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "coefs": list(self.coefs),
            "intercept": self.intercept,
            "centers": list(self.centers),
            "log_epsilon": LOG_EPSILON,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> BaseMargin:
        """Inverse of ``to_dict``; ValueError when the record does not fit together."""
        if record.get("log_epsilon") != LOG_EPSILON:
            raise ValueError(
                f"base_margin log_epsilon is {record.get('log_epsilon')!r}, expected {LOG_EPSILON}"
            )
        features, coefs = list(record["features"]), list(record["coefs"])
        if not features or len(features) != len(coefs):
            raise ValueError("base_margin needs one coefficient per feature, and a feature")
        centers = list(record.get("centers") or [])
        if centers and len(centers) != len(features):
            raise ValueError("base_margin needs one center per feature")
        return cls(
            tuple(map(str, features)),
            tuple(map(float, coefs)),
            float(record["intercept"]),
            tuple(map(float, centers)),
        )
