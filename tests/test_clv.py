"""BG/NBD, Gamma-Gamma and the RFM summary: published CDNOW figures, then invariants.

Published figures: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way",
Marketing Science 24(2), sec. 7 (BG/NBD on the 2,357-customer CDNOW sample, 39-week
calibration period); Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value"
(same customers, the 946 with repeat purchases).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from churn.modeling.clv import (
    RFM_COLUMNS,
    SIGNIFICANT_DIGITS,
    BetaGeoModel,
    GammaGammaModel,
    bgnbd_log_likelihood,
    rfm_summary,
)

CDNOW_SAMPLE = Path(__file__).parents[1] / "data/raw/cdnow/CDNOW_sample.txt"
CALIBRATION_END = pd.Timestamp("1997-10-01")  # first day of the holdout period
HOLDOUT_WEEKS = 39.0


def read_cdnow_sample(path: Path) -> pd.DataFrame:
    """The CDNOW sample as canonical purchase events (one row per purchase record)."""
    raw = pd.read_csv(
        path,
        header=None,
        sep=r"\s+",
        names=["master_id", "sample_id", "date", "n_cds", "dollars"],
        dtype={"master_id": str, "date": str},
    )
    return pd.DataFrame(
        {
            "customer_id": raw["sample_id"].map("{:04d}".format),
            "ts": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[us]"),
            "event_type": "purchase",
            "amount": raw["dollars"].astype("float64"),
        }
    )


@pytest.fixture(scope="module")
def cdnow_events() -> pd.DataFrame:
    return read_cdnow_sample(CDNOW_SAMPLE)


@pytest.fixture(scope="module")
def cdnow_rfm(cdnow_events: pd.DataFrame) -> pd.DataFrame:
    return rfm_summary(cdnow_events, CALIBRATION_END, time_unit_days=7.0)


@pytest.fixture(scope="module")
def bgnbd(cdnow_rfm: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])


@pytest.fixture(scope="module")
def gamma_gamma(cdnow_rfm: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(cdnow_rfm["frequency"], cdnow_rfm["mean_repeat_spend"])


# --------------------------------------------------------------------------- published CDNOW


def test_cdnow_sample_file_is_the_published_one(cdnow_events: pd.DataFrame) -> None:
    assert len(cdnow_events) == 6_919
    assert cdnow_events["customer_id"].nunique() == 2_357


def test_rfm_summary_reproduces_the_published_cdnow_summary(cdnow_rfm: pd.DataFrame) -> None:
    # Rows and column totals of the published summary (lifetimes' cdnow_customers_summary*.csv:
    # x, t_x and T in weeks to 2 decimals, zbar = mean repeat spend, 0 when x = 0).
    published = pd.DataFrame(
        [
            ("0001", 2, 30.43, 38.86, 22.35),
            ("0002", 1, 1.71, 38.86, 11.77),
            ("0003", 0, 0.00, 38.86, np.nan),
            ("0100", 1, 23.86, 38.29, 26.22),
            ("0157", 29, 37.71, 38.00, 26.26),
            ("1000", 4, 24.43, 33.57, 16.26),
            ("1516", 26, 30.86, 31.00, 39.97),
            ("2357", 0, 0.00, 27.00, np.nan),
        ],
        columns=list(RFM_COLUMNS),
    ).set_index("customer_id")
    ours = cdnow_rfm.set_index("customer_id")

    assert list(cdnow_rfm.columns) == list(RFM_COLUMNS)
    assert len(cdnow_rfm) == 2_357
    assert cdnow_rfm["frequency"].sum() == 2_457
    assert (cdnow_rfm["frequency"] == 0).sum() == 1_411
    assert cdnow_rfm["mean_repeat_spend"].notna().sum() == 946
    # every published value is ours rounded to 0.01 week, so the rounded totals agree exactly
    assert ours["recency"].round(2).sum() == pytest.approx(16_135.52, abs=1e-6)
    assert ours["T"].round(2).sum() == pytest.approx(77_111.21, abs=1e-6)
    assert ours["T"].max() == pytest.approx(272 / 7)  # 38.86: 1997-01-01 to 1997-09-30
    assert ours["mean_repeat_spend"].sum() == pytest.approx(33_184.31, abs=946 * 0.005)
    rows = ours.loc[published.index]
    assert (rows["frequency"] == published["frequency"]).all()
    for column in ("recency", "T", "mean_repeat_spend"):
        np.testing.assert_allclose(rows[column], published[column], atol=0.005 + 1e-9)


def test_bgnbd_reproduces_the_published_cdnow_fit(bgnbd: BetaGeoModel) -> None:
    fitted = (bgnbd.r_, bgnbd.alpha_, bgnbd.a_, bgnbd.b_)
    assert [round(v, 3) for v in fitted] == [0.243, 4.414, 0.793, 2.426]
    assert round(bgnbd.log_likelihood_, 1) == -9_582.4
    assert bgnbd.n_customers_ == 2_357


def test_bgnbd_predicts_the_published_holdout_mean_for_zero_repeat_customers(
    bgnbd: BetaGeoModel, cdnow_rfm: pd.DataFrame, cdnow_events: pd.DataFrame
) -> None:
    zero = cdnow_rfm[cdnow_rfm["frequency"] == 0]
    predicted = bgnbd.expected_purchases(
        HOLDOUT_WEEKS, zero["frequency"], zero["recency"], zero["T"]
    )
    assert round(float(predicted.mean()), 2) == 0.23  # published: 0.23 (BG/NBD)

    # actual: 334 purchase days in the 39-week holdout by these 1,411 customers (0.24)
    holdout = cdnow_events[cdnow_events["ts"] >= CALIBRATION_END]
    days = holdout.assign(day=holdout["ts"].dt.floor("D"))[["customer_id", "day"]]
    actual = days.drop_duplicates()["customer_id"].isin(zero["customer_id"]).sum()
    assert actual == 334
    assert abs(predicted.mean() - actual / len(zero)) < 0.02


def test_gamma_gamma_reproduces_the_published_cdnow_fit(gamma_gamma: GammaGammaModel) -> None:
    fitted = (gamma_gamma.p_, gamma_gamma.q_, gamma_gamma.v_)
    assert [round(v, 2) for v in fitted] == [6.25, 3.74, 15.44]
    assert gamma_gamma.n_customers_ == 946


# --------------------------------------------------------------------------- BG/NBD invariants

X = np.array([0, 0, 1, 1, 3, 3, 10, 30])
T_X = np.array([0.0, 0.0, 0.5, 30.0, 2.0, 35.0, 20.0, 38.0])
AGE = np.array([0.0, 38.0, 38.0, 38.0, 38.0, 38.0, 38.0, 38.0])


def test_probability_alive_is_a_probability_and_one_without_repeats(
    bgnbd: BetaGeoModel,
) -> None:
    p_alive = bgnbd.probability_alive(X, T_X, AGE)
    assert p_alive.shape == (len(X),)
    assert ((p_alive >= 0) & (p_alive <= 1)).all()
    np.testing.assert_array_equal(p_alive[X == 0], 1.0)
    assert (p_alive[X > 0] < 1).all()


def test_a_recent_last_purchase_means_more_alive_and_more_purchases(bgnbd: BetaGeoModel) -> None:
    recency = np.array([1.0, 10.0, 20.0, 37.0])
    x, age = np.full(4, 3), np.full(4, 38.0)
    assert (np.diff(bgnbd.probability_alive(x, recency, age)) > 0).all()
    assert (np.diff(bgnbd.expected_purchases(10.0, x, recency, age)) > 0).all()


def test_expected_purchases_start_at_zero_and_grow_with_t(bgnbd: BetaGeoModel) -> None:
    np.testing.assert_allclose(bgnbd.expected_purchases(0.0, X, T_X, AGE), 0.0, atol=1e-12)
    curves = np.array([bgnbd.expected_purchases(t, X, T_X, AGE) for t in (1, 5, 20, 52, 500)])
    assert (curves > 0).all()
    assert (np.diff(curves, axis=0) > 0).all()


def test_expected_purchases_per_customer_t_matches_scalar_t(bgnbd: BetaGeoModel) -> None:
    t = np.linspace(1.0, 50.0, len(X))
    each = [
        bgnbd.expected_purchases(t[i], X[i : i + 1], T_X[i : i + 1], AGE[i : i + 1])
        for i in range(len(X))
    ]
    np.testing.assert_allclose(bgnbd.expected_purchases(t, X, T_X, AGE), np.concatenate(each))


def test_expected_purchases_match_eq_10_and_eq_9_as_written(bgnbd: BetaGeoModel) -> None:
    r, alpha, a, b = bgnbd.r_, bgnbd.alpha_, bgnbd.a_, bgnbd.b_
    t = 39.0
    # eq. 10 term by term (fine for moderate x; the module uses Euler's transformation)
    ratio = (alpha + AGE) / (alpha + AGE + t)
    tail = ratio ** (r + X) * special.hyp2f1(r + X, b + X, a + b + X - 1, t / (alpha + AGE + t))
    odds_dead = np.where(X > 0, a / (b + X - 1) * ((alpha + AGE) / (alpha + T_X)) ** (r + X), 0)
    eq10 = (a + b + X - 1) / (a - 1) * (1 - tail) / (1 + odds_dead)
    np.testing.assert_allclose(bgnbd.expected_purchases(t, X, T_X, AGE), eq10, rtol=1e-10)
    # a customer seen for no time at all (x = t_x = T = 0) is a new customer: eq. 9, E[X(t)]
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    eq9 = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)
    assert bgnbd.expected_purchases(t, [0], [0.0], [0.0])[0] == pytest.approx(eq9, rel=1e-10)


def test_heavy_buyers_get_finite_predictions(bgnbd: BetaGeoModel) -> None:
    # eq. 10 as written gives 0 * inf = NaN from x of a few thousand; the module must not
    x, age = np.array([200, 1_000, 5_000, 50_000]), np.full(4, 52.0)
    predicted = bgnbd.expected_purchases(52.0, x, age, age)
    assert np.isfinite(predicted).all()
    assert (np.diff(predicted) > 0).all()
    # a heavy buyer who stops buying is soon judged dead
    assert bgnbd.probability_alive([1_000], [40.0], [52.0])[0] < 1e-6


def simulate_bgnbd(
    rng: np.random.Generator,
    T: np.ndarray,
    horizon: float,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, purchases in (T, T + horizon]) drawn from the BG/NBD story, one per customer."""
    n = len(T)
    rate, p_drop = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    now, alive = np.zeros(n), np.ones(n, dtype=bool)
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(1 / rate[idx])  # the next repeat purchase
        seen, later = now[idx] <= T[idx], (now[idx] > T[idx]) & (now[idx] <= T[idx] + horizon)
        x[idx[seen]] += 1
        t_x[idx[seen]] = now[idx[seen]]
        future[idx[later]] += 1
        alive[idx[now[idx] > T[idx] + horizon]] = False
        alive[idx[rng.random(len(idx)) < p_drop[idx]]] = False  # drop out after a purchase
    return x, t_x, future


def test_fit_and_predictions_agree_with_data_simulated_from_the_model() -> None:
    true = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(20050401)
    T = rng.uniform(20.0, 40.0, 20_000)
    x, t_x, future = simulate_bgnbd(rng, T, 39.0, **true)

    model = BetaGeoModel().fit(x, t_x, T)
    # a and b (r and alpha) trade off against each other; their means are what is identified
    assert model.r_ / model.alpha_ == pytest.approx(0.5 / 6.0, rel=0.05)
    assert model.a_ / (model.a_ + model.b_) == pytest.approx(0.8 / 3.3, rel=0.05)
    # likelihood-ratio statistic against the truth: below the 0.999 quantile of chi2(4)
    at_truth = bgnbd_log_likelihood(x, t_x, T, **true).sum()
    assert 0 <= 2 * (model.log_likelihood_ - at_truth) < 18.47
    model.r_, model.alpha_, model.a_, model.b_ = true.values()
    predicted = model.expected_purchases(39.0, x, t_x, T)
    assert predicted.mean() == pytest.approx(future.mean(), rel=0.05)
    for k in (0, 1, 2):  # conditional on the calibration history, not just on average
        group = x == k
        assert predicted[group].mean() == pytest.approx(future[group].mean(), rel=0.1), k


def test_log_likelihood_sums_to_the_fitted_value(
    bgnbd: BetaGeoModel, cdnow_rfm: pd.DataFrame
) -> None:
    x, t_x, age = (cdnow_rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    per_customer = bgnbd_log_likelihood(
        x, t_x, age, r=bgnbd.r_, alpha=bgnbd.alpha_, a=bgnbd.a_, b=bgnbd.b_
    )
    assert per_customer.shape == (2_357,)
    assert (per_customer <= 0).all()
    assert per_customer.sum() == pytest.approx(bgnbd.log_likelihood_)


def test_the_fit_does_not_depend_on_the_order_its_sums_are_added_in(
    cdnow_rfm: pd.DataFrame,
) -> None:
    """Shuffled customers change the order of every sum, as another CPU's vector units do; the
    fitted parameters (rounded to SIGNIFICANT_DIGITS) must not change, or a model built on them
    would differ from one machine to the next."""
    shuffled = cdnow_rfm.sample(frac=1.0, random_state=3)
    fits = [BetaGeoModel().fit(f["frequency"], f["recency"], f["T"]) for f in (cdnow_rfm, shuffled)]
    params = [(m.r_, m.alpha_, m.a_, m.b_) for m in fits]
    assert params[0] == params[1]
    assert all(float(f"{p:.{SIGNIFICANT_DIGITS}g}") == p for p in params[0])
    repeat = cdnow_rfm[cdnow_rfm["frequency"] > 0]
    spends = [
        GammaGammaModel().fit(f["frequency"], f["mean_repeat_spend"])
        for f in (repeat, repeat.sample(frac=1.0, random_state=3))
    ]
    first, second = ((m.p_, m.q_, m.v_) for m in spends)
    assert first == second


def test_fit_returns_self_and_leaves_inputs_alone(cdnow_rfm: pd.DataFrame) -> None:
    before = cdnow_rfm.copy()
    model = BetaGeoModel(max_iter=500)
    assert model.fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"]) is model
    assert model.max_iter == 500
    pd.testing.assert_frame_equal(cdnow_rfm, before)


# --------------------------------------------------------------------------- Gamma-Gamma


def test_conditional_spend_shrinks_own_mean_towards_the_population_mean(
    gamma_gamma: GammaGammaModel,
) -> None:
    p, q, v = gamma_gamma.p_, gamma_gamma.q_, gamma_gamma.v_
    population = p * v / (q - 1)
    x = np.array([0, 1, 1, 5, 50])
    zbar = np.array([np.nan, 10.0, 100.0, 100.0, 100.0])
    spend = gamma_gamma.conditional_expected_spend(x, zbar)
    assert spend[0] == pytest.approx(population)
    for own, expected in zip(zbar[1:], spend[1:], strict=True):
        assert min(own, population) < expected < max(own, population)
    # the more transactions behind zbar, the closer the estimate is to it
    assert abs(spend[4] - 100) < abs(spend[3] - 100) < abs(spend[2] - 100)


# --------------------------------------------------------------------------- input validation


def test_invalid_histories_are_reported_together(bgnbd: BetaGeoModel) -> None:
    with pytest.raises(ValueError, match=r"4 problem\(s\)") as info:
        bgnbd.probability_alive([-1, 0, 2.5], [0.0, 4.0, 9.0], [5.0, 5.0, 5.0])
    message = str(info.value)
    assert "'frequency' must be >= 0" in message
    assert "'frequency' must be a whole number" in message
    assert "'recency' must be <= 'T'" in message
    assert "'recency' must be 0 where 'frequency' is 0" in message
    assert "positions [1]" in message


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "expected"),
    [
        ([1, 2], [1.0, 2.0], [3.0], r"one value per customer; got frequency=2, recency=2, T=1"),
        ([1], [4.0], [3.0], r"'recency' must be <= 'T'"),
        ([1], [-1.0], [3.0], r"'recency' must be >= 0"),
        ([1], [1.0], [np.nan], r"'T' must be finite"),
        ([[1]], [1.0], [3.0], r"'frequency' must be a 1-D array"),
        (["a"], [1.0], [3.0], r"'frequency' must be a 1-D array of numbers"),
    ],
)
def test_bad_histories_name_the_argument(
    bgnbd: BetaGeoModel, frequency: object, recency: object, T: object, expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        bgnbd.expected_purchases(1.0, frequency, recency, T)  # type: ignore[arg-type]


@pytest.mark.parametrize("t", [-1.0, np.inf, [1.0, 2.0], "soon"])
def test_bad_future_period_is_rejected(bgnbd: BetaGeoModel, t: object) -> None:
    with pytest.raises(ValueError, match=r"'t' must be"):
        bgnbd.expected_purchases(t, [1, 2, 0], [1.0, 2.0, 0.0], [3.0, 3.0, 3.0])  # type: ignore[arg-type]


def test_too_few_customers_to_fit() -> None:
    with pytest.raises(ValueError, match=r"at least 10 customers.*got 3 customers, 1 with repeat"):
        BetaGeoModel().fit([0, 0, 2], [0.0, 0.0, 3.0], [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match=r"got 12 customers, 0 with repeat purchases"):
        BetaGeoModel().fit(np.zeros(12), np.zeros(12), np.full(12, 5.0))
    with pytest.raises(ValueError, match=r"at least 10 customers with frequency > 0; got 2"):
        GammaGammaModel().fit([0, 1, 3], [np.nan, 10.0, 20.0])


def test_bad_settings_and_unfitted_models_are_reported() -> None:
    with pytest.raises(
        ValueError, match=r"'max_iter' parameter of BetaGeoModel must be a positive"
    ):
        BetaGeoModel(max_iter=0).fit([1] * 10, [1.0] * 10, [2.0] * 10)
    with pytest.raises(ValueError, match=r"'tol' parameter of GammaGammaModel"):
        GammaGammaModel(tol=-1.0).fit([1] * 10, [1.0] * 10)
    with pytest.raises(ValueError, match=r"BetaGeoModel is not fitted yet"):
        BetaGeoModel().probability_alive([0], [0.0], [1.0])
    with pytest.raises(ValueError, match=r"GammaGammaModel is not fitted yet"):
        GammaGammaModel().conditional_expected_spend([1], [1.0])


def test_gamma_gamma_needs_positive_spend_where_there_are_repeats(
    gamma_gamma: GammaGammaModel,
) -> None:
    with pytest.raises(
        ValueError, match=r"'mean_spend' must be a finite amount > 0.*positions \[1, 2\]"
    ):
        gamma_gamma.conditional_expected_spend([0, 1, 2], [np.nan, 0.0, np.nan])


# --------------------------------------------------------------------------- rfm_summary


def events(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": pd.to_datetime([r[1] for r in rows]).astype("datetime64[us]"),
            "event_type": "purchase",
            "amount": [r[2] for r in rows],
        }
    )


def test_rfm_summary_merges_days_and_follows_the_documented_convention() -> None:
    frame = events(
        ("a", "2024-01-01 09:00", 10.0),
        ("a", "2024-01-01 18:30", 5.0),  # same day: one transaction of 15
        ("a", "2024-01-08 12:00", 20.0),
        ("a", "2024-01-15 23:59", 40.0),
        ("a", "2024-01-29 00:00", 99.0),  # at the cutoff: not seen
        ("b", "2024-01-28 08:00", 7.0),  # only purchase on the day before the cutoff
        ("c", "2024-01-03 10:00", 3.0),
        ("c", "2024-01-10 10:00", np.nan),  # repeat day with an unknown amount
        ("d", "2024-02-01 10:00", 1.0),  # after the cutoff only: not a customer yet
    )
    before = frame.copy()
    summary = rfm_summary(frame, pd.Timestamp("2024-01-29"), time_unit_days=7.0)
    pd.testing.assert_frame_equal(frame, before)

    assert list(summary.columns) == list(RFM_COLUMNS)
    assert summary["customer_id"].tolist() == ["a", "b", "c"]
    row = summary.set_index("customer_id")
    assert row.loc["a", "frequency"] == 2
    assert row.loc["a", "recency"] == pytest.approx(14 / 7)
    assert row.loc["a", "T"] == pytest.approx(27 / 7)  # 2024-01-01 .. 2024-01-28
    assert row.loc["a", "mean_repeat_spend"] == pytest.approx(30.0)
    assert (row.loc["b", "frequency"], row.loc["b", "recency"], row.loc["b", "T"]) == (0, 0, 0)
    assert row.loc["c", "frequency"] == 1
    assert row["mean_repeat_spend"].isna().tolist() == [False, True, True]
    assert summary["frequency"].dtype == np.int64


def test_rfm_summary_time_unit_and_empty_result() -> None:
    frame = events(("a", "2024-01-01", 1.0), ("a", "2024-01-11", 2.0))
    in_days = rfm_summary(frame, pd.Timestamp("2024-01-21"), time_unit_days=1.0)
    assert (in_days.loc[0, "recency"], in_days.loc[0, "T"]) == (10.0, 19.0)
    nobody = rfm_summary(frame, pd.Timestamp("2024-01-01"))
    assert nobody.empty
    assert list(nobody.columns) == list(RFM_COLUMNS)


def test_rfm_summary_reports_every_input_problem() -> None:
    frame = events(("a", "2024-01-01", 1.0)).drop(columns="amount")
    with pytest.raises(ValueError, match=r"3 problem\(s\)") as info:
        rfm_summary(frame, pd.Timestamp("2024-01-21 12:00"), time_unit_days=0)
    message = str(info.value)
    assert "missing ['amount']" in message
    assert "'cutoff' must be a midnight Timestamp" in message
    assert "'time_unit_days' must be a positive number" in message

    text_ts = events(("a", "2024-01-01", 1.0)).astype({"ts": str})
    with pytest.raises(ValueError, match=r"'events.ts' must be datetime64"):
        rfm_summary(text_ts, pd.Timestamp("2024-01-21"))


def test_a_fit_with_nearly_the_same_dropout_for_everyone_predicts_finite_purchases() -> None:
    """A bank's accounts: a BG/NBD fit with a = 17,620 and b = 1,645,000 (dropout 1 % after
    every transaction, for everyone) overflowed eq. 10 into -inf expected purchases, which
    became -inf customer values on the CRM list. The limit for a, b -> infinity stands in."""
    rng = np.random.default_rng(3)
    T = rng.uniform(140, 310, 3_000)
    r, alpha, a, b = 57.0, 75.0, 17_620.0, 1_645_000.0
    x, t_x, future = simulate_bgnbd(rng, T, 90 / 7, r=r, alpha=alpha, a=a, b=b)
    model = BetaGeoModel()
    model.r_, model.alpha_, model.a_, model.b_ = r, alpha, a, b
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        predicted = model.expected_purchases(90 / 7, x, t_x, T)
    assert np.isfinite(predicted).all() and (predicted >= 0).all()
    # the model's own story: predictions match what the simulated customers went on to do
    assert predicted.mean() == pytest.approx(future.mean(), rel=0.05)
