"""An uplift arm that borrows strength from the churn model: the action as a shift on its logit.

Churn depends far more on risk than on any action, and the churn model has already learned
risk from every customer, not only the few hundred in a control group. So this arm does not
learn risk again: it fits one logistic regression on an action's contacted rows and the
control rows,

    logit P(churn) = a + b * logit(risk) + e . z(x) + contacted * (c + d . z(x)),

where ``risk`` is the churn model's probability and ``z(x)`` the customer's features,
standardised (numeric) or one-hot (categorical), with an L2 penalty on ``d`` and ``e`` (``e``
corrects the churn model where these customers differ from the ones it learned on). The
action's effect lives on the log-odds scale (a shift that can depend on the customer), so a
customer's uplift is ``sigmoid(a + b l) - sigmoid(a + b l + c + d . z)``: largest where both
the shift and the risk it acts on are. Every coefficient is fitted by Newton's method on the
penalised log-likelihood (pure numpy: no booster to tune, the same data give the same model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EPS = 1e-6
CLIP_Z = 5.0
"""Standardised features are clipped to +-CLIP_Z so that one outlier cannot dominate a shift."""


def logit(probability: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probability, dtype="float64"), EPS, 1 - EPS)
    return np.asarray(np.log(p / (1 - p)))


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(v, -35, 35))))


@dataclass(frozen=True)
class Encoding:
    """How features become ``z``: each numeric column's mean and scale (missing -> mean), and
    each categorical column's one-hot levels (unseen and missing -> all zero)."""

    numeric: Mapping[str, tuple[float, float]]
    levels: Mapping[str, tuple[str, ...]]

    @classmethod
    def fit(cls, x: pd.DataFrame, *, max_levels: int = 20) -> Encoding:
        numeric: dict[str, tuple[float, float]] = {}
        levels: dict[str, tuple[str, ...]] = {}
        for name in x.columns:
            col = x[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                counts = col.astype(object).dropna().astype(str).value_counts()
                levels[str(name)] = tuple(str(v) for v in counts.index[:max_levels])
            else:
                values = col.to_numpy(dtype="float64")
                finite = values[np.isfinite(values)]
                if len(finite) == 0:
                    continue
                scale = float(finite.std())
                if scale > 0:
                    numeric[str(name)] = (float(finite.mean()), scale)
        return cls(numeric, levels)

    def __call__(self, x: pd.DataFrame) -> np.ndarray:
        parts: list[np.ndarray] = []
        for name, (mean, scale) in self.numeric.items():
            v = (x[name].to_numpy(dtype="float64") - mean) / scale
            parts.append(np.clip(np.nan_to_num(v, nan=0.0, posinf=CLIP_Z, neginf=-CLIP_Z), -5, 5))
        for name, cats in self.levels.items():
            text = x[name].astype(object).astype(str).to_numpy()
            parts.extend((text == c).astype("float64") for c in cats)
        if not parts:
            return np.zeros((len(x), 0))
        return np.column_stack(parts)

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(c) for c in self.levels.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "numeric": {k: list(v) for k, v in self.numeric.items()},
            "levels": {k: list(v) for k, v in self.levels.items()},
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Encoding:
        return cls(
            {str(k): (float(v[0]), float(v[1])) for k, v in record["numeric"].items()},
            {str(k): tuple(str(c) for c in v) for k, v in record["levels"].items()},
        )


def _newton(
    design: np.ndarray, y: np.ndarray, penalty: np.ndarray, *, iterations: int = 50
) -> np.ndarray:
    """Coefficients maximising the log-likelihood minus ``0.5 * sum(penalty * beta**2)``."""
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = _sigmoid(design @ beta)
        grad = design.T @ (y - p) - penalty * beta
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


@dataclass(frozen=True)
class ShiftArm:
    """One action's logistic shift on the churn model's logit (see the module docstring)."""

    intercept: float
    risk_slope: float
    shift: float
    shift_weights: tuple[float, ...]
    base_weights: tuple[float, ...]
    encoding: Encoding
    rows: int

    def effect_logit(self, x: pd.DataFrame) -> np.ndarray:
        """The action's change to each row's churn log-odds (negative: it keeps them)."""
        z = self.encoding(x)
        return np.asarray(self.shift + z @ np.asarray(self.shift_weights, dtype="float64"))

    def uplift(self, x: pd.DataFrame, risk_logit: np.ndarray) -> np.ndarray:
        z = self.encoding(x)
        base = (
            self.intercept
            + self.risk_slope * risk_logit
            + z @ np.asarray(self.base_weights, dtype="float64")
        )
        effect = self.shift + z @ np.asarray(self.shift_weights, dtype="float64")
        return np.asarray(_sigmoid(base) - _sigmoid(base + effect))

    def to_json(self) -> dict[str, Any]:
        return {
            "intercept": self.intercept,
            "risk_slope": self.risk_slope,
            "shift": self.shift,
            "shift_weights": list(self.shift_weights),
            "base_weights": list(self.base_weights),
            "encoding": self.encoding.to_json(),
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> ShiftArm:
        return cls(
            intercept=float(record["intercept"]),
            risk_slope=float(record["risk_slope"]),
            shift=float(record["shift"]),
            shift_weights=tuple(float(w) for w in record["shift_weights"]),
            base_weights=tuple(float(w) for w in record["base_weights"]),
            encoding=Encoding.from_json(record["encoding"]),
            rows=int(record["rows"]),
        )


def fit_shift_arm(
    x: pd.DataFrame,
    y: np.ndarray,
    risk_logit: np.ndarray,
    contacted: np.ndarray,
    control: np.ndarray,
    *,
    penalty: float,
    columns: Sequence[str] | None = None,
) -> ShiftArm:
    """The shift arm of the ``contacted`` rows against the ``control`` rows (boolean masks
    over ``x``, ``y`` (1 = churned) and ``risk_logit``). ``penalty``: the L2 penalty on each
    feature's share of the shift, in units of rows (larger: closer to one shift for all)."""
    rows = contacted | control
    xs = x.loc[rows, list(columns) if columns is not None else list(x.columns)]
    encoding = Encoding.fit(xs)
    z = encoding(xs)
    t = contacted[rows].astype("float64")
    k = z.shape[1]
    design = np.column_stack([np.ones(len(t)), risk_logit[rows], t, z * t[:, None], z])
    penalties = np.concatenate([np.zeros(3), np.full(2 * k, penalty)])
    beta = _newton(design, y[rows], penalties)
    return ShiftArm(
        intercept=float(beta[0]),
        risk_slope=float(beta[1]),
        shift=float(beta[2]),
        shift_weights=tuple(float(b) for b in beta[3 : 3 + k]),
        base_weights=tuple(float(b) for b in beta[3 + k :]),
        encoding=encoding,
        rows=int(contacted.sum()),
    )
