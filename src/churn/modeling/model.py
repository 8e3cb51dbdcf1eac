"""The churn model artifact: an xgboost booster plus a probability calibrator (and, when the
booster was trained from one, the base margin it starts from), saved in xgboost's own format
(UBJSON) and plain JSON, never as a pickle.

``design_matrix`` is the one place a feature frame becomes model input, for training and
scoring alike: numeric features as float64, categorical features as pandas categories with the
categories seen in training (unseen values become missing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.special import expit

from churn.errors import PipelineStateError
from churn.modeling.base_margin import BaseMargin

BOOSTER_FILE = "booster.ubj"
META_FILE = "model.json"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Version 1 had no base margin; it loads as a model without one."""
PREDICT_BATCH_ROWS = 250_000
"""Rows scored per model matrix by :meth:`ChurnModel.margin` (about 100 MB at 50 features)."""
MODEL_FILES = (BOOSTER_FILE, META_FILE)
"""Everything a model folder holds that is ever read; any other file in it is ignored (and is
never unpickled: nothing here or in the pyfunc loads a pickle)."""

log = logging.getLogger("churn")


@dataclass(frozen=True)
class Calibrator:
    """Maps the booster's log-odds to calibrated probabilities.

    ``method`` 'isotonic': piecewise-linear interpolation through (x, y) breakpoints;
    'platt': sigmoid(a * margin + b) with ``x = [a]`` and ``y = [b]``; 'none': sigmoid(margin).
    """

    method: Literal["isotonic", "platt", "none"]
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        m = np.asarray(margin, dtype=float)
        if self.method == "isotonic":
            return np.asarray(np.interp(m, self.x, self.y), dtype=float)
        if self.method == "platt":
            return np.asarray(expit(self.x[0] * m + self.y[0]), dtype=float)
        return np.asarray(expit(m), dtype=float)

    @classmethod
    def fit(
        cls,
        method: Literal["auto", "isotonic", "platt", "none"],
        margin: np.ndarray,
        y: np.ndarray,
    ) -> Calibrator:
        """Fit on held-out margins and 0/1 outcomes (the validation cutoff); ``auto`` is
        :func:`calibration_method` of ``y``."""
        if method == "auto":
            method = calibration_method(y)
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression  # noqa: PLC0415 - slow import

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y)
            x = np.asarray(iso.X_thresholds_, dtype=float)
            steps = uncertain_ends(x, np.asarray(iso.y_thresholds_, dtype=float), margin)
            return cls("isotonic", tuple(map(float, x)), tuple(map(float, steps)))
        if method == "platt":
            from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

            lr = LogisticRegression(C=1e6).fit(np.asarray(margin).reshape(-1, 1), y)
            return cls("platt", (float(lr.coef_[0, 0]),), (float(lr.intercept_[0]),))
        return cls("none")


def uncertain_ends(x: np.ndarray, y: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Isotonic breakpoints ``(x, y)`` fitted on ``margin`` with their end steps moved off 0 and
    1: a lowest step whose n calibration rows held no churner says the churn rate there is
    under about 1/n, not that it is 0, so it becomes 0.5 / (n + 1), and a highest step of
    churners only (n + 0.5) / (n + 1) (the rule of adding half a churner and half a stayer);
    never past the next step, so the map stays monotone. A CRM showed 45 of cdnow's customers
    as "0.0 % likely to churn", and more than a quarter of a game's players. Steps inside the
    range are class means of their rows, and stay as they are."""
    y = y.copy()
    if len(y) < 2:
        return y
    m = np.asarray(margin, dtype=float)
    if y[0] == 0.0:
        last = int(np.flatnonzero(y == 0.0)[-1])  # the step's two ends, or more breakpoints
        n = int(np.sum(m <= x[last]))
        y[: last + 1] = min(0.5 / (n + 1), y[last + 1]) if last + 1 < len(y) else 0.5 / (n + 1)
    if y[-1] == 1.0:
        first = int(np.flatnonzero(y == 1.0)[0])
        n = int(np.sum(m >= x[first]))
        top = (n + 0.5) / (n + 1)
        y[first:] = max(top, y[first - 1]) if first > 0 else top
    return y


ISOTONIC_MIN_ROWS = 1_000
ISOTONIC_MIN_CLASS_ROWS = 50


def calibration_method(y: np.ndarray) -> Literal["isotonic", "platt"]:
    """``calibration: auto``: isotonic where the held-out outcomes ``y`` hold at least
    :data:`ISOTONIC_MIN_ROWS` rows and :data:`ISOTONIC_MIN_CLASS_ROWS` of each class, else
    Platt. Isotonic regression on 110 rows with 12 churners (a small bank's validation month)
    is a staircase of five steps: probabilities of exactly 0 and 1 for 51 of 87 customers
    scored, which a CRM shows as "certain to stay" and "certain to leave"; Platt's two
    parameters cannot overfit so."""
    n, churners = len(y), int(np.sum(y))
    if n >= ISOTONIC_MIN_ROWS and min(churners, n - churners) >= ISOTONIC_MIN_CLASS_ROWS:
        return "isotonic"
    log.info(
        "calibration auto: Platt, since the calibration rows (%s, %s churners) are too few for "
        "isotonic regression (%s rows and %s of each class)",
        f"{n:,}",
        f"{churners:,}",
        f"{ISOTONIC_MIN_ROWS:,}",
        ISOTONIC_MIN_CLASS_ROWS,
    )
    return "platt"


UNREADABLE_MODEL = (
    json.JSONDecodeError,
    UnicodeDecodeError,
    KeyError,
    TypeError,
    AttributeError,
    ValueError,
    xgb.core.XGBoostError,
)
"""What reading a corrupted model folder, or one from another version, raises."""


@dataclass(frozen=True)
class ChurnModel:
    """A trained churn model: feature frame in, calibrated churn probability out."""

    booster: xgb.Booster
    calibrator: Calibrator
    numeric_features: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    base_margin: BaseMargin | None = None

    @property
    def feature_names(self) -> list[str]:
        return [*self.numeric_features, *self.categories]

    def matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        return design_matrix(features, self.numeric_features, self.categories)

    def margin(self, features: pd.DataFrame, *, batch_rows: int = PREDICT_BATCH_ROWS) -> np.ndarray:
        """Uncalibrated log-odds of churn, one per row (the base margin plus the trees),
        ``batch_rows`` rows at a time: a row's margin depends on that row alone, so only a
        batch's model matrix is ever held, whatever the number of rows."""
        if len(features) <= batch_rows:
            return self._margin(features)
        parts = [
            self._margin(features.iloc[start : start + batch_rows])
            for start in range(0, len(features), batch_rows)
        ]
        return np.concatenate(parts)

    def _margin(self, features: pd.DataFrame) -> np.ndarray:
        dm = xgb.DMatrix(self.matrix(features), enable_categorical=True)
        if self.base_margin is not None:
            dm.set_base_margin(self.base_margin(features))
        return np.asarray(self.booster.predict(dm, output_margin=True), dtype=float)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability in [0, 1], one per row of ``features``."""
        return np.asarray(np.clip(self.calibrator(self.margin(features)), 0.0, 1.0), dtype=float)

    def save(self, folder: Path) -> None:
        """Write the booster (UBJSON) and the metadata and calibrator (JSON) into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        meta = {
            "format_version": FORMAT_VERSION,
            "numeric_features": list(self.numeric_features),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "calibrator": {
                "method": self.calibrator.method,
                "x": list(self.calibrator.x),
                "y": list(self.calibrator.y),
            },
            "metadata": dict(self.metadata),
            "base_margin": None if self.base_margin is None else self.base_margin.to_dict(),
        }
        text = json.dumps(meta, indent=2, default=str) + "\n"
        (folder / META_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ChurnModel:
        """Read a model written by ``save``; a clear error if the folder is not one."""
        meta_path, booster_path = folder / META_FILE, folder / BOOSTER_FILE
        if not meta_path.is_file() or not booster_path.is_file():
            raise PipelineStateError(
                f"{folder}: not a churn model folder (expected {META_FILE} and {BOOSTER_FILE})."
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format_version") not in READABLE_VERSIONS:
                raise ValueError(
                    f"format_version {meta.get('format_version')!r}, expected one of "
                    f"{READABLE_VERSIONS}"
                )
            cal = meta["calibrator"]
            if cal["method"] not in ("isotonic", "platt", "none"):
                raise ValueError(f"unknown calibrator method {cal['method']!r}")
            expected = {"isotonic": None, "platt": 1, "none": 0}[cal["method"]]
            if (expected is not None and len(cal["x"]) != expected) or len(cal["x"]) != len(
                cal["y"]
            ):
                raise ValueError("calibrator breakpoints do not match its method")
            booster = xgb.Booster()
            booster.load_model(booster_path)
            return cls(
                booster=booster,
                calibrator=Calibrator(cal["method"], tuple(cal["x"]), tuple(cal["y"])),
                numeric_features=tuple(meta["numeric_features"]),
                categories={k: tuple(v) for k, v in meta["categories"].items()},
                metadata=meta.get("metadata", {}),
                base_margin=_base_margin(meta.get("base_margin")),
            )
        except UNREADABLE_MODEL as exc:
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PipelineStateError(
                f"{folder}: expected a model written by `churn train` ({META_FILE} and "
                f"{BOOSTER_FILE}), found corrupted files or files from another version "
                f"({detail}). Retrain with `churn train` or load another model version."
            ) from exc


def _base_margin(record: Any) -> BaseMargin | None:
    if record is None:
        return None
    if not isinstance(record, dict):
        raise ValueError(f"base_margin must be an object or null, got {type(record).__name__}")
    return BaseMargin.from_dict(record)


def design_matrix(
    features: pd.DataFrame,
    numeric: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """Model input from a feature frame: numeric columns as float64, categorical columns as
    categories fixed at training time (values never seen in training become missing).

    Raises PipelineStateError naming any missing feature column.
    """
    missing = [c for c in [*numeric, *categories] if c not in features.columns]
    if missing:
        raise PipelineStateError(
            f"feature frame lacks column(s) {missing} that the model was trained on. Rebuild "
            "features with the same params as training (`churn features`)."
        )
    out = pd.DataFrame(index=features.index)
    for name in numeric:
        values = features[name]
        if values.dtype != np.dtype("float64"):  # a float64 column is shared, not copied
            values = pd.to_numeric(values, errors="coerce").astype("float64")
        out[name] = values
    for name, cats in categories.items():
        values = features[name].astype(object)
        known = values.where(values.isin(list(cats)))  # unseen categories become missing
        out[name] = pd.Categorical(known, categories=list(cats))
    return out
