"""Customer-lifetime-value baselines: the BG/NBD purchase model and the Gamma-Gamma spend model.

* ``BetaGeoModel``: BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way",
  Marketing Science 24(2)). While alive a customer buys as a Poisson process with rate
  ``lambda ~ Gamma(r, alpha)``; after each purchase they drop out with probability
  ``p ~ Beta(a, b)``.
* ``GammaGammaModel``: the Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005,
  "RFM and CLV: Using Iso-value Curves", JMR 42(4); Fader & Hardie 2013, "The Gamma-Gamma Model
  of Monetary Value"). Spend per transaction ``~ Gamma(p, nu)`` with ``nu ~ Gamma(q, v)``.
* ``rfm_summary``: the per-customer ``(x, t_x, T, mean repeat spend)`` both models take.

Both models are fitted by maximum likelihood over log-parameters with L-BFGS-B; every
likelihood and prediction is vectorised over customers and computed in logs. Per-customer
inputs are 1-D array-likes of equal length ``n_customers``; frequency, recency and T must use
the same time unit (``rfm_summary`` uses weeks by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from churn.validation import check_int, check_real, positions, problems_error

FloatArray = NDArray[np.float64]

MIN_CUSTOMERS_TO_FIT = 10
"""Fewest customers (for Gamma-Gamma: customers with repeat purchases) a model is fitted on."""

RFM_COLUMNS = ("customer_id", "frequency", "recency", "T", "mean_repeat_spend")

_LOG_PARAM_BOUND = 30.0  # exp(+-30): far outside any plausible value; keeps exp() finite
SIGNIFICANT_DIGITS = 4
"""Fitted parameters are rounded to this many significant digits. The optimiser stops within
about 1e-5 of the optimum, at a point that depends on the order its sums were added in and on
the last bits of vectorised log and exp (which differ between CPUs). churn's BG/NBD features
and base margins feed xgboost's splits, so unrounded parameters made a model, and its figures,
differ from one machine to the next. Four digits are far finer than any parameter's standard
error, and rounding makes such a difference rare (it needs a value near a rounding boundary)."""


# --------------------------------------------------------------------------- input checks


def _as_vector(name: str, values: ArrayLike, problems: list[str]) -> FloatArray | None:
    """``values`` as a 1-D float array, or None (with a problem recorded) if it cannot be."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        found = getattr(values, "dtype", type(values).__name__)
        problems.append(f"'{name}' must be a 1-D array of numbers; got values of type {found}.")
        return None
    if arr.ndim != 1:
        problems.append(f"'{name}' must be a 1-D array; got an array of shape {arr.shape}.")
        return None
    bad = ~np.isfinite(arr)
    if bad.any():
        problems.append(f"'{name}' must be finite; found NaN or inf for {positions(bad)}.")
        return None
    return arr


def _equal_lengths(arrays: dict[str, FloatArray], problems: list[str]) -> bool:
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}={n:,}" for name, n in lengths.items())
        problems.append(f"{', '.join(lengths)} must have one value per customer; got {shown}.")
        return False
    return True


def _check_frequency(x: FloatArray, problems: list[str]) -> None:
    negative = x < 0
    if negative.any():
        problems.append(
            f"'frequency' must be >= 0; found negative values for {positions(negative)}."
        )
    fractional = x != np.floor(x)
    if fractional.any():
        problems.append(
            "'frequency' must be a whole number of repeat purchases; found fractions for "
            f"{positions(fractional)}."
        )


def _purchase_history(
    where: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated ``(x, t_x, T)``; raises one ValueError listing every problem found."""
    problems: list[str] = []
    x = _as_vector("frequency", frequency, problems)
    t_x = _as_vector("recency", recency, problems)
    age = _as_vector("T", T, problems)
    if x is None or t_x is None or age is None:
        raise problems_error(where, problems, ValueError)
    if not _equal_lengths({"frequency": x, "recency": t_x, "T": age}, problems):
        raise problems_error(where, problems, ValueError)
    _check_frequency(x, problems)
    for name, arr in (("recency", t_x), ("T", age)):
        if (arr < 0).any():
            problems.append(
                f"'{name}' must be >= 0; found negative values for {positions(arr < 0)}."
            )
    late = t_x > age
    if late.any():
        problems.append(
            "'recency' must be <= 'T' (the last purchase happens within the customer's "
            f"observed age); found recency > T for {positions(late)}."
        )
    orphan = (x == 0) & (t_x != 0)
    if orphan.any():
        problems.append(
            "'recency' must be 0 where 'frequency' is 0 (no repeat purchase, so the last "
            f"purchase is the first); found recency != 0 for {positions(orphan)}."
        )
    if problems:
        raise problems_error(where, problems, ValueError)
    return x, t_x, age


def _future_period(where: str, t: ArrayLike, n_customers: int) -> FloatArray:
    """``t`` broadcast to shape (n_customers,); raises ValueError unless finite and >= 0."""
    try:
        horizon = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        horizon = None
    if horizon is not None and horizon.ndim == 0:
        horizon = np.full(n_customers, float(horizon))
    if horizon is None or horizon.shape != (n_customers,):
        problem = (
            f"'t' must be a number or an array of {n_customers:,} numbers (one per customer); "
            f"got {t!r:.60}."
        )
    elif not (np.isfinite(horizon) & (horizon >= 0)).all():
        bad = ~(np.isfinite(horizon) & (horizon >= 0))
        problem = f"'t' must be finite and >= 0; found other values for {positions(bad)}."
    else:
        return horizon
    raise problems_error(where, [problem], ValueError)


def _check_settings(model: str, max_iter: int, tol: float) -> None:
    check_int("max_iter", max_iter, of=model)
    check_real("tol", tol, low=0.0, high=1.0, closed=False, expected="a float in (0, 1)", of=model)


def _not_fitted(model: object, attribute: str) -> None:
    if not hasattr(model, attribute):
        name = type(model).__name__
        raise ValueError(
            f"This {name} is not fitted yet: expected '{attribute}' to be set by "
            f"{name}.fit(...). Call fit before predicting."
        )


# --------------------------------------------------------------------------- optimisation


def _maximise_log_likelihood(
    mean_log_likelihood: Callable[[FloatArray], float],
    start: FloatArray,
    *,
    model: str,
    max_iter: int,
    tol: float,
) -> FloatArray:
    """The log-parameters maximising ``mean_log_likelihood`` (a function of log-parameters).

    Raises RuntimeError if the optimiser stops without converging or ends on the search bound
    (a parameter running off to 0 or infinity: the model does not suit the data).
    """

    def objective(log_params: FloatArray) -> float:
        value = -mean_log_likelihood(log_params)
        return value if np.isfinite(value) else 1e300

    result = optimize.minimize(
        objective,
        start,
        method="L-BFGS-B",
        bounds=[(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * len(start),
        options={"maxiter": max_iter, "ftol": tol, "gtol": tol * 1e2},
    )
    log_params = np.asarray(result.x, dtype=np.float64)
    # L-BFGS-B often ends with an "abnormal line search" at the optimum itself, when no step can
    # improve the objective any further; trust a small gradient over the status flag.
    grad = optimize.approx_fprime(log_params, objective, 1e-7)
    converged = bool(result.success) or float(np.max(np.abs(grad))) < 1e-4
    if not converged:
        raise RuntimeError(
            f"{model}.fit did not converge after {result.nit} iterations ({result.message}); "
            f"expected a maximum of the likelihood. Raise max_iter (now {max_iter}) or check "
            "that the inputs are in the intended time unit."
        )
    if np.any(np.abs(log_params) >= _LOG_PARAM_BOUND - 1e-6):
        raise RuntimeError(
            f"{model}.fit: a parameter ran off to 0 or infinity (log-parameters "
            f"{np.round(log_params, 2).tolist()}); the model does not fit these data."
        )
    return log_params


def _rounded(log_params: FloatArray) -> list[float]:
    """The parameters of ``log_params``, rounded to :data:`SIGNIFICANT_DIGITS`."""
    return [float(f"{p:.{SIGNIFICANT_DIGITS}g}") for p in np.exp(log_params)]


# --------------------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(
    x: FloatArray, t_x: FloatArray, T: FloatArray, *, r: float, alpha: float, a: float, b: float
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6), shape (n,).

    ``L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
    + [x > 0] B(a+1, b+x-1)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+t_x)^(r+x))``,
    summed in log space with ``logaddexp``. Inputs are not validated.
    """
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    still_alive = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1); only defined (and needed) where x > 0
    safe_denominator = np.where(repeat, b + x - 1, 1.0)
    dropped_out = np.where(
        repeat,
        np.log(a) - np.log(safe_denominator) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return np.asarray(common + np.logaddexp(still_alive, dropped_out), dtype=np.float64)


class BetaGeoModel:
    """BG/NBD model of repeat purchasing in a non-contractual setting.

    Parameters
    ----------
    max_iter : int, default 1000
        Most L-BFGS-B iterations in ``fit``.
    tol : float, default 1e-12
        Relative tolerance on the mean log-likelihood at which ``fit`` stops.

    Attributes
    ----------
    r_, alpha_ : float
        Shape and rate of the Gamma distribution of purchase rates (``alpha_`` is in the time
        unit of the inputs: the mean rate is ``r_ / alpha_`` purchases per unit).
    a_, b_ : float
        Parameters of the Beta distribution of drop-out probabilities after a purchase.
    log_likelihood_ : float
        Total log-likelihood of the training customers at the fitted parameters.
    n_customers_ : int
        Number of customers ``fit`` saw.
    """

    def __init__(self, *, max_iter: int = 1000, tol: float = 1e-12) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Self:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat purchases ``x`` in the calibration period (whole numbers >= 0).
        recency : array-like of shape (n_customers,)
            Time ``t_x`` from the first to the last purchase (0 where ``x`` is 0), <= T.
        T : array-like of shape (n_customers,)
            Time from the first purchase to the end of the calibration period, same unit.

        Returns
        -------
        self
        """
        _check_settings(type(self).__name__, self.max_iter, self.tol)
        x, t_x, age = _purchase_history("BetaGeoModel.fit", frequency, recency, T)
        n_repeaters = int((x > 0).sum())
        if len(x) < MIN_CUSTOMERS_TO_FIT or n_repeaters == 0:
            raise ValueError(
                f"BetaGeoModel.fit needs at least {MIN_CUSTOMERS_TO_FIT} customers, at least one "
                f"with frequency > 0; got {len(x):,} customers, {n_repeaters:,} with repeat "
                "purchases."
            )

        def mean_ll(log_params: FloatArray) -> float:
            r, alpha, a, b = np.exp(log_params)
            return float(np.mean(bgnbd_log_likelihood(x, t_x, age, r=r, alpha=alpha, a=a, b=b)))

        # start with alpha on the scale of the observation period, the rest at 1
        start = np.array([0.0, np.log(max(float(np.mean(age)), 1e-3)), 0.0, 0.0])
        log_params = _maximise_log_likelihood(
            mean_ll, start, model="BetaGeoModel", max_iter=self.max_iter, tol=self.tol
        )
        self.r_, self.alpha_, self.a_, self.b_ = _rounded(log_params)
        self.log_likelihood_ = float(
            bgnbd_log_likelihood(
                x, t_x, age, r=self.r_, alpha=self.alpha_, a=self.a_, b=self.b_
            ).sum()
        )
        self.n_customers_ = len(x)
        return self

    def _log_odds_dead(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """log of ``[x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)``; -inf where x = 0."""
        repeat = x > 0
        safe_denominator = np.where(repeat, self.b_ + x - 1, 1.0)
        log_odds = (
            np.log(self.a_)
            - np.log(safe_denominator)
            + (self.r_ + x) * (np.log(self.alpha_ + T) - np.log(self.alpha_ + t_x))
        )
        return np.where(repeat, log_odds, -np.inf)

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(customer still alive at T | x, t_x, T) (Fader, Hardie & Lee 2005, eq. 12).

        Parameters as in ``fit``. Returns an array of shape (n_customers,) in [0, 1]; exactly 1
        where frequency is 0 (in BG/NBD a customer can only drop out right after a purchase).
        """
        _not_fitted(self, "r_")
        x, t_x, age = _purchase_history("BetaGeoModel.probability_alive", frequency, recency, T)
        return np.asarray(special.expit(-self._log_odds_dead(x, t_x, age)), dtype=np.float64)

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in the next ``t`` time units given ``(x, t_x, T)`` (eq. 10).

        Parameters
        ----------
        t : float or array-like of shape (n_customers,)
            Length of the future period, same unit as ``T``; >= 0.
        frequency, recency, T : array-like of shape (n_customers,)
            As in ``fit``.

        Returns
        -------
        ndarray of shape (n_customers,)
            ``E[Y(t) | x, t_x, T]``, >= 0.

        Notes
        -----
        Eq. 10's ``((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)`` with
        ``z = t/(alpha+T+t)`` is evaluated through Euler's transformation as
        ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose parameters do not grow with ``x``,
        so the series stays small and accurate for heavy buyers. Undefined at exactly a = 1.

        When a and b are so large that the transformed product overflows (a fit whose dropout
        is nearly the same for everyone: a = 17,620, b = 1,645,000 on a bank's accounts), the
        product takes its limit for a, b -> infinity at p = a / (a + b),
        ``((alpha+T)/(alpha+T+p t))^(r+x)``: 2F1(A, B; C; z) tends to (1 - z B/C)^(-A) as B
        and C grow. At a = 17,620 the two agree to 2e-5 where both are finite.
        """
        _not_fitted(self, "r_")
        where = "BetaGeoModel.expected_purchases"
        x, t_x, age = _purchase_history(where, frequency, recency, T)
        horizon = _future_period(where, t, len(x))
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        z = horizon / (alpha + age + horizon)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            tail = np.exp((a - 1) * np.log1p(-z)) * special.hyp2f1(
                a + b - 1 - r, a - 1, a + b + x - 1, z
            )
        p = a / (a + b)
        limit = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + p * horizon)))
        tail = np.where(np.isfinite(tail), tail, limit)
        numerator = (a + b + x - 1) / (a - 1) * (1 - tail)
        return np.asarray(
            numerator * special.expit(-self._log_odds_dead(x, t_x, age)), dtype=np.float64
        )


# --------------------------------------------------------------------------- Gamma-Gamma


def gamma_gamma_log_likelihood(
    x: FloatArray, mean_spend: FloatArray, *, p: float, q: float, v: float
) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of mean spend, shape (n,) (Fader & Hardie 2013).

    ``f(zbar | x) = Gamma(px+q) / (Gamma(px) Gamma(q)) v^q zbar^(px-1) x^(px) / (v+x zbar)^(px+q)``
    for customers with ``x > 0`` transactions of mean value ``zbar > 0``. Inputs are not
    validated.
    """
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(mean_spend)
        + px * np.log(x)
        - (px + q) * np.log(v + x * mean_spend),
        dtype=np.float64,
    )


def _spend_history(
    where: str, frequency: ArrayLike, mean_spend: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Validated ``(x, zbar)``; ``zbar`` may be NaN where ``x`` is 0 and must be > 0 elsewhere."""
    problems: list[str] = []
    x = _as_vector("frequency", frequency, problems)
    try:
        zbar = np.asarray(mean_spend, dtype=np.float64)
    except (TypeError, ValueError):
        found = getattr(mean_spend, "dtype", type(mean_spend).__name__)
        problems.append(f"'mean_spend' must be a 1-D array of numbers; got values of type {found}.")
        zbar = None
    if zbar is not None and zbar.ndim != 1:
        problems.append(f"'mean_spend' must be a 1-D array; got an array of shape {zbar.shape}.")
        zbar = None
    if x is None or zbar is None:
        raise problems_error(where, problems, ValueError)
    if not _equal_lengths({"frequency": x, "mean_spend": zbar}, problems):
        raise problems_error(where, problems, ValueError)
    _check_frequency(x, problems)
    bad = (x > 0) & ~(np.isfinite(zbar) & (zbar > 0))
    if bad.any():
        problems.append(
            "'mean_spend' must be a finite amount > 0 where 'frequency' > 0 (the Gamma-Gamma "
            f"model has no zero or negative spend); found other values for {positions(bad)}."
        )
    if problems:
        raise problems_error(where, problems, ValueError)
    return x, zbar


class GammaGammaModel:
    """Gamma-Gamma model of the mean spend per repeat transaction.

    A customer's transaction values are ``Gamma(p, nu)``, with ``nu ~ Gamma(q, v)`` across
    customers, so the mean transaction value ``p nu^-1`` has population mean ``p v / (q - 1)``.
    Spend is assumed independent of purchase frequency (check that before trusting CLV).

    Parameters
    ----------
    max_iter : int, default 1000
        Most L-BFGS-B iterations in ``fit``.
    tol : float, default 1e-12
        Relative tolerance on the mean log-likelihood at which ``fit`` stops.

    Attributes
    ----------
    p_, q_ : float
        Shape parameters (dimensionless).
    v_ : float
        Scale parameter, in the currency of ``mean_spend``.
    log_likelihood_ : float
        Total log-likelihood of the customers with repeat purchases at the fitted parameters.
    n_customers_ : int
        Number of customers with frequency > 0 the model was fitted on.
    """

    def __init__(self, *, max_iter: int = 1000, tol: float = 1e-12) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, frequency: ArrayLike, mean_spend: ArrayLike) -> Self:
        """Fit by maximum likelihood on the customers with frequency > 0.

        Parameters
        ----------
        frequency : array-like of shape (n_customers,)
            Repeat transactions ``x`` (whole numbers >= 0); rows with 0 are ignored.
        mean_spend : array-like of shape (n_customers,)
            Mean value of those repeat transactions (currency, > 0); NaN allowed where x is 0.

        Returns
        -------
        self
        """
        _check_settings(type(self).__name__, self.max_iter, self.tol)
        x, zbar = _spend_history("GammaGammaModel.fit", frequency, mean_spend)
        repeat = x > 0
        x, zbar = x[repeat], zbar[repeat]
        if len(x) < MIN_CUSTOMERS_TO_FIT:
            raise ValueError(
                f"GammaGammaModel.fit needs at least {MIN_CUSTOMERS_TO_FIT} customers with "
                f"frequency > 0; got {len(x):,}."
            )

        def mean_ll(log_params: FloatArray) -> float:
            p, q, v = np.exp(log_params)
            return float(np.mean(gamma_gamma_log_likelihood(x, zbar, p=p, q=q, v=v)))

        start = np.array([0.0, 0.0, np.log(float(np.mean(zbar)))])
        log_params = _maximise_log_likelihood(
            mean_ll, start, model="GammaGammaModel", max_iter=self.max_iter, tol=self.tol
        )
        self.p_, self.q_, self.v_ = _rounded(log_params)
        self.log_likelihood_ = float(
            gamma_gamma_log_likelihood(x, zbar, p=self.p_, q=self.q_, v=self.v_).sum()
        )
        self.n_customers_ = len(x)
        return self

    def conditional_expected_spend(self, frequency: ArrayLike, mean_spend: ArrayLike) -> FloatArray:
        """Expected value of a customer's future transactions given ``(x, zbar)``.

        ``E[Z | x, zbar] = p (v + x zbar) / (p x + q - 1)``: a weighted average of the
        population mean ``p v / (q - 1)`` and the customer's own ``zbar``, which gets more
        weight the more transactions it rests on.

        Parameters
        ----------
        frequency, mean_spend : array-like of shape (n_customers,)
            As in ``fit``; where frequency is 0, mean_spend is ignored.

        Returns
        -------
        ndarray of shape (n_customers,)
            Expected spend per transaction, in the currency of ``mean_spend``; inf where the
            mean does not exist (``p x + q <= 1``, e.g. a customer without repeats if q <= 1).
        """
        _not_fitted(self, "p_")
        x, zbar = _spend_history(
            "GammaGammaModel.conditional_expected_spend", frequency, mean_spend
        )
        own = np.where(x > 0, x * zbar, 0.0)
        denominator = self.p_ * x + self.q_ - 1
        safe = np.where(denominator > 0, denominator, 1.0)
        return np.where(denominator > 0, self.p_ * (self.v_ + own) / safe, np.inf)


# --------------------------------------------------------------------------- RFM summary


def rfm_summary(
    events: pd.DataFrame, cutoff: pd.Timestamp, *, time_unit_days: float = 7.0
) -> pd.DataFrame:
    """Per-customer ``(x, t_x, T, mean repeat spend)`` from purchase events before ``cutoff``.

    Parameters
    ----------
    events : DataFrame
        Canonical events with at least ``customer_id``, ``ts`` (datetime64, no time zone) and
        ``amount`` (float, may be missing). The caller passes purchase events only: every row
        counts as a purchase. Rows at or after ``cutoff`` are ignored.
    cutoff : Timestamp
        Start of the first day not observed (midnight, no time zone).
    time_unit_days : float, default 7.0
        Length of the time unit of ``recency`` and ``T`` in days (7: weeks).

    Returns
    -------
    DataFrame
        One row per customer with a purchase before ``cutoff``, sorted by ``customer_id``:
        ``customer_id``; ``frequency`` (int64, purchase days - 1); ``recency`` and ``T``
        (float64, in units); ``mean_repeat_spend`` (float64, NaN where frequency is 0 or a
        repeat day has a missing amount).

    Notes
    -----
    Time is counted in whole days (``ts`` floored to the day), and all purchases on one day
    merge into one transaction whose value is the day's total spend, as in Fader, Hardie & Lee
    (2005). A purchase day counts as complete at its end, and observation stops at the cutoff
    (the end of the last day before it), so

    * ``recency = (last purchase day - first purchase day) / time_unit_days``
    * ``T = (cutoff - 1 day - first purchase day) / time_unit_days``

    A customer whose only purchase is on the day before the cutoff has ``T = 0``. This is the
    convention of the published CDNOW summaries: a customer first buying on 1997-01-01 has
    ``T = 272 / 7 = 38.86`` weeks at a 1997-10-01 cutoff.
    """
    problems: list[str] = []
    missing = [c for c in ("customer_id", "ts", "amount") if c not in events.columns]
    if missing:
        problems.append(
            f"'events' must have columns customer_id, ts and amount; missing {missing} "
            f"(found {list(events.columns)})."
        )
    else:
        ts_dtype = events["ts"].dtype
        if not isinstance(ts_dtype, np.dtype) or ts_dtype.kind != "M":
            problems.append(
                f"'events.ts' must be datetime64 without a time zone; got dtype {ts_dtype}. "
                "Parse it with pd.to_datetime (and tz_localize(None) after converting to UTC)."
            )
        if not pd.api.types.is_numeric_dtype(events["amount"]):
            problems.append(f"'events.amount' must be numeric; got dtype {events['amount'].dtype}.")
    cut = pd.Timestamp(cutoff)
    if cut.tzinfo is not None or cut != cut.normalize():
        problems.append(f"'cutoff' must be a midnight Timestamp without a time zone; got {cut}.")
    if not (isinstance(time_unit_days, int | float) and 0 < time_unit_days < np.inf):
        problems.append(f"'time_unit_days' must be a positive number; got {time_unit_days!r}.")
    if problems:
        raise problems_error("rfm_summary", problems, ValueError)

    before = events.loc[events["ts"] < cut, ["customer_id", "ts", "amount"]]
    daily = (
        before.assign(day=before["ts"].dt.floor("D"), unknown=before["amount"].isna())
        .groupby(["customer_id", "day"], sort=True, observed=True)
        .agg(spend=("amount", "sum"), unknown=("unknown", "any"))
        .reset_index()
    )
    daily["spend"] = daily["spend"].where(~daily["unknown"])
    is_repeat = daily.groupby("customer_id", observed=True).cumcount() > 0
    per_customer = daily.groupby("customer_id", sort=True, observed=True)
    first, last = per_customer["day"].min(), per_customer["day"].max()
    repeats = daily[is_repeat].groupby("customer_id", observed=True)
    repeat_spend = repeats["spend"].mean().where(~repeats["unknown"].any())

    summary = pd.DataFrame(
        {
            "frequency": (per_customer.size() - 1).astype("int64"),
            "recency": (last - first).dt.days / time_unit_days,
            "T": (cut - pd.Timedelta(days=1) - first).dt.days / time_unit_days,
            "mean_repeat_spend": repeat_spend.reindex(first.index).astype("float64"),
        }
    )
    return summary.rename_axis("customer_id").reset_index()[list(RFM_COLUMNS)]
