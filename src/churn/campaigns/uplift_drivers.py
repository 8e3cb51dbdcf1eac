"""An uplift arm that knows which driver an action fixes: the ``driver_shift`` learner.

The playbook says which reasons each action answers (a service call answers support problems),
and the churn model's reason codes say how much of each customer's risk comes from each reason
(TreeSHAP contributions summed per reason, :mod:`churn.scoring.explain`). So an action is
fitted as a shift on the churn model's log-odds with two numbers only,

    logit P(churn | control, x)      = a + l(x)
    logit P(churn | action a, x)     = a + l(x) - (c_a + theta_a * d_a(x)),

where ``l`` is the logit of the churn model's probability, ``a`` a common correction of it on
these contacts, and ``d_a(x) >= 0`` the customer's *driver risk* for the action: the sum, over
the reasons the playbook maps to it, of each reason's contribution when it raises risk (the
same per-reason sums the reason codes rank). ``theta_a >= 0`` is the share of that risk the
action removes; ``c_a`` a constant shift (the effect of being contacted at all). An action
whose reasons name no model feature (or that has none, as the default action) keeps ``c_a``.

Why so few parameters: a control group holds a few hundred customers per campaign and the
average effect of an action is often under a point, so a learner free to find its own
heterogeneity (boosters, a shift per feature) mostly learns noise; here the heterogeneity comes
from the churn model and the playbook, and the control group only has to fit two numbers.

Fitted by Newton's method on the log-likelihood of the action's contacted rows and every
control row, with an L2 penalty (in rows) pulling ``c_a`` towards the pooled shift of every
contact and ``theta_a`` towards its prior: the playbook's prior effect of the action (the share
of the churn risk it removes, read as the share of its reasons' log-odds), or 0. An action with
few rows stays close to its prior. Pure numpy, deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from churn.scoring.explain import Contributions
from churn.scoring.reasons import ReasonCatalogue
from churn.settings import PlaybookSettings

DriverReasons = Mapping[str, tuple[str, ...]]
"""One action's drivers: reason code -> the churn model's features that reason sums."""


def playbook_drivers(
    playbook: PlaybookSettings, catalogue: ReasonCatalogue
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per playbook action (rules in order, then the default action), the reasons its rules
    answer that the resolved ``catalogue`` ties to model features: reason code -> features. An
    action without any (the default action, a rule without reasons, reasons no model feature
    belongs to) maps to an empty dict: a constant shift."""
    features = {r.code: r.features for r in catalogue.reasons}
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for rule in playbook.rules:
        mine = out.setdefault(rule.action, {})
        for code in rule.reasons:
            if features.get(code):
                mine[code] = tuple(features[code])
    out.setdefault(playbook.default_action, {})
    return out


def playbook_slopes(playbook: PlaybookSettings) -> dict[str, float]:
    """Per rule action, the prior of its driver slope: the playbook's prior ``effect`` (the
    share of the churn risk it removes), read as the share of its reasons' log-odds it removes
    (the first rule's when an action has several)."""
    out: dict[str, float] = {}
    for rule in playbook.rules:
        out.setdefault(rule.action, float(rule.effect))
    return out


def driver_risk(contributions: Contributions, reasons: DriverReasons) -> np.ndarray:
    """Per row, the log-odds of churn risk coming from ``reasons``: each reason's summed
    contributions where positive (a reason that lowers a customer's risk gives nothing to
    remove), added up. Zero for every row when ``reasons`` is empty. Raises ValueError naming
    a feature the contributions lack."""
    position = {name: i for i, name in enumerate(contributions.features)}
    total = np.zeros(contributions.values.shape[0])
    for code, names in reasons.items():
        missing = [n for n in names if n not in position]
        if missing:
            raise ValueError(
                f"reason {code}: feature(s) {missing} are not among the churn model's "
                f"{len(position)} features; expected some of {sorted(position)[:10]}."
            )
        summed = contributions.values[:, [position[n] for n in names]].sum(axis=1)
        total += np.clip(summed, 0.0, None)
    return total


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(v, -35, 35))))


@dataclass(frozen=True)
class DriverArm:
    """One action's shift (see the module docstring): ``intercept`` a, ``shift`` c,
    ``slope`` theta on the driver risk of ``reasons``; ``rows`` contacted rows fitted on."""

    intercept: float
    shift: float
    slope: float
    reasons: Mapping[str, tuple[str, ...]]
    rows: int

    def effect_logit(self, driver: np.ndarray) -> np.ndarray:
        """The action's change to each row's churn log-odds (negative: it keeps them)."""
        return np.asarray(-(self.shift + self.slope * np.asarray(driver, dtype="float64")))

    def uplift(self, risk_logit: np.ndarray, driver: np.ndarray) -> np.ndarray:
        """Churn probability removed per row: P(churn | control) - P(churn | contacted)."""
        base = self.intercept + np.asarray(risk_logit, dtype="float64")
        return np.asarray(_sigmoid(base) - _sigmoid(base + self.effect_logit(driver)))

    def to_json(self) -> dict[str, object]:
        return {
            "intercept": self.intercept,
            "shift": self.shift,
            "slope": self.slope,
            "reasons": {code: list(names) for code, names in self.reasons.items()},
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, object]) -> DriverArm:
        reasons = record["reasons"]
        if not isinstance(reasons, Mapping):
            raise TypeError(f"driver arm reasons: expected a mapping, found {type(reasons)}")
        return cls(
            intercept=float(record["intercept"]),  # type: ignore[arg-type]
            shift=float(record["shift"]),  # type: ignore[arg-type]
            slope=float(record["slope"]),  # type: ignore[arg-type]
            reasons={str(k): tuple(str(n) for n in v) for k, v in reasons.items()},
            rows=int(record["rows"]),  # type: ignore[call-overload]
        )


def _newton(
    design: np.ndarray,
    offset: np.ndarray,
    y: np.ndarray,
    penalty: np.ndarray,
    centre: np.ndarray,
    *,
    iterations: int = 100,
) -> np.ndarray:
    """Coefficients maximising the log-likelihood of ``y`` under logit = offset + design @ b,
    minus ``0.5 * sum(penalty * (b - centre) ** 2)`` (concave: Newton converges)."""
    beta = centre.astype("float64").copy()
    for _ in range(iterations):
        p = _sigmoid(offset + design @ beta)
        grad = design.T @ (y - p) - penalty * (beta - centre)
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta


def fit_driver_arm(
    risk_logit: np.ndarray,
    driver: np.ndarray,
    y: np.ndarray,
    contacted: np.ndarray,
    control: np.ndarray,
    *,
    reasons: DriverReasons,
    penalty: float,
    prior_shift: float = 0.0,
    prior_slope: float = 0.0,
) -> DriverArm:
    """The arm of the ``contacted`` rows against the ``control`` rows (boolean masks over the
    arrays; ``y`` 1 = churned, ``driver`` from :func:`driver_risk` with ``reasons``).
    ``penalty``: L2 penalty in rows pulling the shift towards ``prior_shift`` and the slope
    towards ``prior_slope`` (>= 0). The slope is kept >= 0 (an action does not add the risk it
    is meant to remove): when the unconstrained optimum has it below 0, it is 0 and the rest
    refitted (the objective is concave, so that is the constrained optimum). Without driver risk on
    these rows (no reasons, or none raising risk) the slope is 0."""
    rows = contacted | control
    t = contacted[rows].astype("float64")
    d = np.asarray(driver, dtype="float64")[rows]
    offset = np.asarray(risk_logit, dtype="float64")[rows]
    target = np.asarray(y, dtype="float64")[rows]
    intercept, shift, slope = 0.0, prior_shift, 0.0
    if reasons and np.any(d[t > 0] > 0):
        design = np.column_stack([np.ones(len(t)), -t, -t * d])
        beta = _newton(
            design,
            offset,
            target,
            np.array([0.0, penalty, penalty]),
            np.array([0.0, prior_shift, max(prior_slope, 0.0)]),
        )
        intercept, shift, slope = (float(b) for b in beta)
    if slope <= 0.0:
        beta = _newton(
            np.column_stack([np.ones(len(t)), -t]),
            offset,
            target,
            np.array([0.0, penalty]),
            np.array([0.0, prior_shift]),
        )
        intercept, shift, slope = float(beta[0]), float(beta[1]), 0.0
    return DriverArm(intercept, shift, slope, dict(reasons), int(contacted.sum()))
