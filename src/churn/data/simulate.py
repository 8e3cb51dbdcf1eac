"""A subscription business simulated month by month, with churn driven by known causes.

Customers sign up over the whole period on one of three plans, log in and use features at their
own rate (which may start to decline), open support tickets (some never resolved), are billed
monthly (some payments fail and are retried), see their price rise (an introductory discount
ending, a list-price rise rolled out over months) and change plan. At the start of every month
each subscriber cancels in that month with probability

    hazard = logistic(intercept + sum of weight_k * x_k)

over the drivers ``x_k`` (:data:`DRIVERS`), each known at the month's start from what happened
before it. Cancellations fall in the first 28 days of a month, so a 28-day label window from the
first of the month holds exactly that month's cancellations.

:func:`simulate` is pure (a seeded numpy Generator; frames out). The tables follow the input
contract; the truth (every subscriber-month's hazard and driver terms, and the dominant driver of
each churner) is returned beside them, for tests, never as model input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churn.validation import must_be

DRIVERS = (
    "declining_usage",
    "unresolved_tickets",
    "payment_failures",
    "price_rise",
    "short_tenure",
)
"""What raises the monthly hazard, each x_k known at the month's start:

* ``declining_usage``: 1 - the customer's usage rate last month / their usual rate (0 to 1);
* ``unresolved_tickets``: support tickets opened in the last 3 months and never resolved (<= 3);
* ``payment_failures``: failed payments in the last 3 months (<= 3);
* ``price_rise``: 1 if the customer's price rose in the last 3 months, else 0;
* ``short_tenure``: exp(-months since signup / 3), 1 at signup fading to 0.
"""

PLANS = ("basic", "standard", "premium")
LIST_PRICES = np.array([[9.99, 19.99, 39.99], [10.99, 21.99, 43.99]])
"""Monthly list price per plan, before and after the list-price rise."""
CANCEL_DAYS = 28
"""Cancellations fall in the first this-many days of a month (see the module docstring)."""
_SECONDS_PER_DAY = 86_400
_Present = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Customers present in a month (sorted indices), and when each is there: [begin, end) seconds."""


@dataclass(frozen=True)
class DriverWeights:
    """Log-odds weights of the monthly churn hazard: ``intercept`` plus one per driver."""

    intercept: float = -4.2
    declining_usage: float = 3.0
    unresolved_tickets: float = 1.0
    payment_failures: float = 1.0
    price_rise: float = 1.4
    short_tenure: float = 1.6

    def __post_init__(self) -> None:
        negative = [d for d in DRIVERS if getattr(self, d) < 0]
        if negative:
            raise ValueError(must_be("driver weights", ">= 0 (they raise the hazard)", negative))


@dataclass(frozen=True)
class SimulationSettings:
    """Size, period, seed and behaviour of the simulated business."""

    customers: int = 3000
    months: int = 24
    start: dt.date = dt.date(2023, 1, 1)
    seed: int = 42
    weights: DriverWeights = field(default_factory=DriverWeights)
    plan_shares: tuple[float, float, float] = (0.5, 0.35, 0.15)
    logins_per_month: tuple[float, float, float] = (6.0, 9.0, 12.0)
    """Mean usual login rate per plan; each customer's own rate is gamma distributed."""
    decline_start: float = 0.05
    """Monthly chance that a subscriber's usage starts to decline (it then falls every month)."""
    tickets_per_month: float = 0.12
    resolved_share: float = 0.65
    payment_failure_rate: float = 0.05
    intro_discount_share: float = 0.3
    """Share of signups paying half price for their first 3 months."""
    list_rise_month: int | None = 12
    """Month (from 0) the list prices rise; subscribers are moved over the next 6 months."""
    plan_change_rate: float = 0.02

    def __post_init__(self) -> None:
        problems = []
        if self.customers < 1:
            problems.append(must_be("customers", "a positive int", self.customers))
        if self.months < 2:
            problems.append(must_be("months", "at least 2", self.months))
        if self.start.day != 1:
            problems.append(must_be("start", "the first of a month", self.start.isoformat()))
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Simulation:
    """The contract tables and the truth behind them.

    * ``events``: customer_id, timestamp, event_type (login, feature_use, support_ticket,
      ticket_resolved, payment, payment_failure, price_rise, plan_change), amount (payments:
      the charge; price rises: the increase), plan and monthly_price (on billing events);
    * ``customers``: customer_id, signup_date, signup_plan, signup_price, channel;
    * ``churn_events``: customer_id, cancelled_at;
    * ``hazard``: one row per subscriber-month: customer_id, month, tenure_months, each driver's
      ``x_<driver>`` and weighted ``term_<driver>``, logit, hazard, cancelled;
    * ``churners``: customer_id, cancelled_at, month, hazard, dominant_driver (the largest
      weighted term), dominant_term, runner_up_term.
    """

    events: pd.DataFrame
    customers: pd.DataFrame
    churn_events: pd.DataFrame
    hazard: pd.DataFrame
    churners: pd.DataFrame


@dataclass
class _Book:
    """Per-customer state and the event columns collected so far."""

    n: int
    months: int
    cancelled_month: np.ndarray = field(init=False)
    cancel_seconds: np.ndarray = field(init=False)
    usage: np.ndarray = field(init=False)
    declining: np.ndarray = field(init=False)
    unresolved: np.ndarray = field(init=False)
    failures: np.ndarray = field(init=False)
    rises: np.ndarray = field(init=False)
    columns: dict[str, list[np.ndarray]] = field(init=False)

    def __post_init__(self) -> None:
        self.cancelled_month = np.full(self.n, -1)
        self.cancel_seconds = np.full(self.n, np.nan)
        self.usage = np.ones(self.n)
        self.declining = np.zeros(self.n, dtype=bool)
        self.unresolved = np.zeros((self.n, self.months))
        self.failures = np.zeros((self.n, self.months))
        self.rises = np.zeros((self.n, self.months))
        self.columns = {k: [] for k in ("who", "seconds", "type", "amount", "plan", "price")}

    def add(
        self,
        who: np.ndarray,
        seconds: np.ndarray,
        event_type: str,
        *,
        amount: np.ndarray | None = None,
        plan: np.ndarray | None = None,
        price: np.ndarray | None = None,
    ) -> None:
        """Events of one type: customer indices, seconds since the start of the period."""
        k = len(who)
        self.columns["who"].append(who)
        self.columns["seconds"].append(seconds)
        self.columns["type"].append(np.full(k, event_type, dtype=object))
        self.columns["amount"].append(np.full(k, np.nan) if amount is None else amount)
        self.columns["plan"].append(np.full(k, -1) if plan is None else plan)
        self.columns["price"].append(np.full(k, np.nan) if price is None else price)


@dataclass(frozen=True)
class _Customers:
    signup_month: np.ndarray
    signup_seconds: np.ndarray
    billing_day: np.ndarray
    plan: np.ndarray
    channel: np.ndarray
    intro: np.ndarray
    rollout_month: np.ndarray
    login_rate: np.ndarray
    feature_rate: np.ndarray
    ticket_rate: np.ndarray
    failure_rate: np.ndarray


@dataclass(frozen=True)
class _World:
    """Everything one month's steps read or update."""

    settings: SimulationSettings
    rng: np.random.Generator
    starts: np.ndarray
    c: _Customers
    book: _Book
    plan: np.ndarray
    """Each customer's current plan (changes during the run)."""


def _month_starts(settings: SimulationSettings) -> np.ndarray:
    """Seconds from the period's start to the first of each month, and to the end (months + 1)."""
    start = pd.Timestamp(settings.start)
    firsts = [start + pd.DateOffset(months=m) for m in range(settings.months + 1)]
    return np.array([(f - start).total_seconds() for f in firsts])


def _draw_customers(
    settings: SimulationSettings, rng: np.random.Generator, starts: np.ndarray
) -> _Customers:
    n, months = settings.customers, settings.months
    signup_month = np.sort(rng.integers(0, months - 1, n))
    month_length = starts[signup_month + 1] - starts[signup_month]
    signup_seconds = starts[signup_month] + rng.random(n) * month_length
    day = ((signup_seconds - starts[signup_month]) // _SECONDS_PER_DAY).astype(int)
    plan = rng.choice(3, size=n, p=np.asarray(settings.plan_shares) / sum(settings.plan_shares))
    rise = settings.list_rise_month
    rollout = (
        np.full(n, months + 1)
        if rise is None
        else np.where(signup_month >= rise, signup_month, rise + rng.integers(0, 6, n))
    )
    login_rate = rng.gamma(2.0, np.asarray(settings.logins_per_month)[plan] / 2.0)
    return _Customers(
        signup_month=signup_month,
        signup_seconds=signup_seconds,
        billing_day=np.minimum(day, CANCEL_DAYS - 1),
        plan=plan,
        channel=rng.choice(np.array(["web", "app", "partner"]), size=n, p=[0.5, 0.35, 0.15]),
        intro=rng.random(n) < settings.intro_discount_share,
        rollout_month=rollout,
        login_rate=login_rate,
        feature_rate=login_rate * rng.uniform(0.3, 0.8, n),
        ticket_rate=rng.gamma(1.0, settings.tickets_per_month, n),
        failure_rate=rng.beta(1.0, 1.0 / settings.payment_failure_rate - 1.0, n),
    )


def _price(c: _Customers, plan: np.ndarray, month: int | np.ndarray) -> np.ndarray:
    """Monthly price of each customer on ``plan`` in ``month`` (one, or one per customer): the
    list price, halved during an introductory discount."""
    risen = (month >= c.rollout_month).astype(int)
    discount = np.where(c.intro & (month - c.signup_month < 3), 0.5, 1.0)
    return np.asarray(np.round(LIST_PRICES[risen, plan] * discount, 2), dtype="float64")


def _driver_values(
    book: _Book, c: _Customers, who: np.ndarray, month: int
) -> dict[str, np.ndarray]:
    last3 = slice(max(month - 3, 0), month)
    return {
        "declining_usage": 1.0 - book.usage[who],
        "unresolved_tickets": np.minimum(book.unresolved[who, last3].sum(axis=1), 3),
        "payment_failures": np.minimum(book.failures[who, last3].sum(axis=1), 3),
        "price_rise": (book.rises[who, last3].sum(axis=1) > 0).astype(float),
        "short_tenure": np.exp(-(month - c.signup_month[who]) / 3.0),
    }


def _hazard_rows(world: _World, who: np.ndarray, month: int) -> pd.DataFrame:
    """The month's hazard of each subscriber in ``who``; draws who cancels this month."""
    w, book, c, rng = world.settings.weights, world.book, world.c, world.rng
    x = _driver_values(book, c, who, month)
    terms = {d: getattr(w, d) * x[d] for d in DRIVERS}
    logit = w.intercept + sum(terms.values())
    hazard = 1.0 / (1.0 + np.exp(-logit))
    cancelled = rng.random(len(who)) < hazard
    book.cancelled_month[who[cancelled]] = month
    return pd.DataFrame(
        {
            "who": who,
            "month": month,
            "tenure_months": month - c.signup_month[who],
            **{f"x_{d}": x[d] for d in DRIVERS},
            **{f"term_{d}": terms[d] for d in DRIVERS},
            "logit": logit,
            "hazard": hazard,
            "cancelled": cancelled,
        }
    )


def _spread(
    who: np.ndarray,
    counts: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``counts[i]`` uniform times in ``[begin[i], end[i])`` for each customer ``who[i]``."""
    idx = np.repeat(np.arange(len(who)), counts)
    seconds = begin[idx] + rng.random(len(idx)) * (end[idx] - begin[idx])
    return who[idx], seconds


def _usage_and_tickets(world: _World, present: _Present, month: int) -> None:
    """Logins, feature use and support tickets (some resolved within days) in the month."""
    settings, book, c, rng = world.settings, world.book, world.c, world.rng
    who, begin, end = present
    month_share = (end - begin) / (30.4 * _SECONDS_PER_DAY)
    for event_type, rate in (("login", c.login_rate), ("feature_use", c.feature_rate)):
        counts = rng.poisson(rate[who] * book.usage[who] * month_share)
        book.add(*_spread(who, counts, begin, end, rng), event_type)
    opened_by = np.maximum(end - 4 * _SECONDS_PER_DAY, begin)
    counts = rng.poisson(c.ticket_rate[who] * month_share)
    ticket_who, opened = _spread(who, counts, begin, opened_by, rng)
    book.add(ticket_who, opened, "support_ticket")
    resolved_at = opened + rng.uniform(0.2, 3.5, len(opened)) * _SECONDS_PER_DAY
    resolved = (rng.random(len(opened)) < settings.resolved_share) & (
        resolved_at < np.repeat(end, counts)
    )
    book.add(ticket_who[resolved], resolved_at[resolved], "ticket_resolved")
    np.add.at(book.unresolved[:, month], ticket_who[~resolved], 1.0)


def _billing(world: _World, present: _Present, month: int) -> None:
    """Signup charges, monthly charges on the billing day (a failed one is retried 3 days
    later), and price rises, announced on the billing day they take effect."""
    book, c, plan, starts, rng = world.book, world.c, world.plan, world.starts, world.rng
    who, _, end = present
    price = _price(c, plan, month)
    new = who[c.signup_month[who] == month]
    book.add(
        new, c.signup_seconds[new], "payment", amount=price[new], plan=plan[new], price=price[new]
    )
    due = starts[month] + (c.billing_day[who] + rng.uniform(0.2, 0.8, len(who))) * _SECONDS_PER_DAY
    billable = (c.signup_month[who] < month) & (due < end)
    billed, due, end = who[billable], due[billable], end[billable]
    charge, before = price[billed], _price(c, plan, month - 1)[billed]
    rose = charge > before
    book.add(
        billed[rose],
        due[rose] - 60.0,
        "price_rise",
        amount=(charge - before)[rose],
        plan=plan[billed[rose]],
        price=charge[rose],
    )
    book.rises[billed[rose], month] = 1.0
    failed = rng.random(len(billed)) < c.failure_rate[billed]
    book.add(
        billed[failed],
        due[failed],
        "payment_failure",
        plan=plan[billed[failed]],
        price=charge[failed],
    )
    book.failures[billed[failed], month] = 1.0
    paid_at = due + np.where(failed, 3 * _SECONDS_PER_DAY, 0.0)
    paid = paid_at < end
    book.add(
        billed[paid],
        paid_at[paid],
        "payment",
        amount=charge[paid],
        plan=plan[billed[paid]],
        price=charge[paid],
    )


def _plan_changes(world: _World, present: _Present, month: int) -> None:
    """Some subscribers move to another plan during the month; the new price applies from the
    next bill (a change the customer chose, not a price rise)."""
    settings, book, c, plan, rng = world.settings, world.book, world.c, world.plan, world.rng
    who, begin, end = present
    moving = (rng.random(len(who)) < settings.plan_change_rate) & (c.signup_month[who] < month)
    movers = who[moving]
    plan[movers] = (plan[movers] + rng.integers(1, 3, len(movers))) % 3
    seconds = begin[moving] + rng.random(len(movers)) * (end[moving] - begin[moving])
    book.add(
        movers,
        seconds,
        "plan_change",
        plan=plan[movers],
        price=_price(c, plan, month + 1)[movers],
    )


def _update_usage(world: _World, who: np.ndarray) -> None:
    """Usage of current subscribers may start to decline; declining usage falls every month."""
    settings, book, rng = world.settings, world.book, world.rng
    starting = ~book.declining[who] & (rng.random(len(who)) < settings.decline_start)
    book.declining[who[starting]] = True
    falling = who[book.declining[who]]
    book.usage[falling] = np.maximum(
        book.usage[falling] * rng.uniform(0.55, 0.85, len(falling)), 0.02
    )


def simulate(settings: SimulationSettings) -> Simulation:
    """Simulate ``settings.customers`` customers over ``settings.months`` months (seeded): the
    same settings give the same frames."""
    rng = np.random.default_rng(settings.seed)
    starts = _month_starts(settings)
    c = _draw_customers(settings, rng, starts)
    world = _World(
        settings, rng, starts, c, _Book(settings.customers, settings.months), c.plan.copy()
    )
    hazard_frames = [_month(world, month) for month in range(settings.months)]
    return _assemble(world, [h for h in hazard_frames if not h.empty])


def _month(world: _World, month: int) -> pd.DataFrame:
    """One month: who cancels (from the hazard at its start), then everyone's events in it.
    Returns the month's hazard rows."""
    c, book, starts = world.c, world.book, world.starts
    subscribers = np.flatnonzero((c.signup_month < month) & (book.cancelled_month < 0))
    hazard = _hazard_rows(world, subscribers, month)
    quitting = subscribers[book.cancelled_month[subscribers] == month]
    book.cancel_seconds[quitting] = starts[month] + world.rng.random(len(quitting)) * (
        CANCEL_DAYS * _SECONDS_PER_DAY
    )
    who = np.flatnonzero(
        (c.signup_month <= month) & ((book.cancelled_month < 0) | (book.cancelled_month == month))
    )
    begin = np.maximum(starts[month], c.signup_seconds[who])
    end = np.where(np.isnan(book.cancel_seconds[who]), starts[month + 1], book.cancel_seconds[who])
    present = (who, begin, end)
    _update_usage(world, who[c.signup_month[who] < month])
    _usage_and_tickets(world, present, month)
    _billing(world, present, month)
    _plan_changes(world, present, month)
    return hazard


def _customer_ids(n: int) -> np.ndarray:
    return np.array([f"S{i:05d}" for i in range(n)], dtype=object)


def _timestamps(settings: SimulationSettings, seconds: np.ndarray) -> pd.Series:
    """Seconds since the period's start as timestamps rounded to the second."""
    offsets = pd.to_timedelta(np.round(seconds), unit="s")
    return pd.Series(pd.Timestamp(settings.start) + offsets).astype("datetime64[us]")


def _events_frame(settings: SimulationSettings, book: _Book, ids: np.ndarray) -> pd.DataFrame:
    cols = {k: np.concatenate(v) for k, v in book.columns.items()}
    plan_names = np.array([*PLANS, None], dtype=object)
    events = pd.DataFrame(
        {
            "customer_id": ids[cols["who"].astype(int)],
            "timestamp": _timestamps(settings, cols["seconds"]),
            "event_type": cols["type"],
            "amount": cols["amount"],
            "plan": plan_names[cols["plan"].astype(int)],
            "monthly_price": cols["price"],
        }
    )
    return events.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)


def _dominant(hazard: pd.DataFrame) -> pd.DataFrame:
    terms = hazard[[f"term_{d}" for d in DRIVERS]].to_numpy()
    order = np.argsort(-terms, axis=1, kind="stable")
    return pd.DataFrame(
        {
            "dominant_driver": np.asarray(DRIVERS, dtype=object)[order[:, 0]],
            "dominant_term": np.take_along_axis(terms, order[:, :1], axis=1)[:, 0],
            "runner_up_term": np.take_along_axis(terms, order[:, 1:2], axis=1)[:, 0],
        },
        index=hazard.index,
    )


def _assemble(world: _World, hazard_frames: list[pd.DataFrame]) -> Simulation:
    settings, book, c = world.settings, world.book, world.c
    ids = _customer_ids(settings.customers)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": _timestamps(settings, c.signup_seconds).dt.floor("D"),
            "signup_plan": np.asarray(PLANS, dtype=object)[c.plan],
            "signup_price": _price(c, c.plan, c.signup_month),
            "channel": c.channel,
        }
    )
    gone = np.flatnonzero(~np.isnan(book.cancel_seconds))
    churn_events = pd.DataFrame(
        {"customer_id": ids[gone], "cancelled_at": _timestamps(settings, book.cancel_seconds[gone])}
    )
    hazard = pd.concat(hazard_frames, ignore_index=True)
    month_firsts = pd.Series(
        [pd.Timestamp(settings.start) + pd.DateOffset(months=m) for m in range(settings.months)]
    ).astype("datetime64[us]")
    hazard.insert(0, "customer_id", ids[hazard.pop("who").to_numpy()])
    hazard.insert(1, "month", month_firsts.to_numpy()[hazard.pop("month").to_numpy()])
    quit_rows = hazard[hazard["cancelled"]]
    churners = pd.concat(
        [quit_rows[["customer_id", "month", "hazard"]], _dominant(quit_rows)], axis=1
    ).merge(churn_events, on="customer_id", validate="one_to_one")
    return Simulation(
        events=_events_frame(settings, book, ids),
        customers=customers,
        churn_events=churn_events,
        hazard=hazard,
        churners=churners[["customer_id", "cancelled_at", "month", "hazard", *_dominant_cols()]],
    )


def _dominant_cols() -> list[str]:
    return ["dominant_driver", "dominant_term", "runner_up_term"]


def write_tables(
    result: Simulation,
    folder: Path,
    write: Callable[[pd.DataFrame, Path], None],
    suffix: str,
) -> None:
    """Write the contract tables into ``folder`` and the truth into ``folder/truth``, each with
    ``write`` (e.g. churn.io.write_parquet) as ``<table>.<suffix>``."""
    tables = {
        "events": result.events,
        "customers": result.customers,
        "churn_events": result.churn_events,
        "truth/hazard": result.hazard,
        "truth/churners": result.churners,
    }
    for name, frame in tables.items():
        write(frame, folder / f"{name}.{suffix}")
