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

From ``campaigns.start_month`` on, the business also runs a retention campaign at the start of
every month: a random share of the subscribers is drawn, a random share of them is held out as a
control group, and every audience member is given one action (:data:`ACTIONS`) drawn uniformly
(the control group's is the action it would have had). A contact changes that month's log-odds
by :func:`contact_effects`: each action fixes one driver, so it helps those whose risk comes
from that driver and does little for the others, and a few customers react badly to any
contact. Cancellations are drawn from the hazard with the contact's effect. An action that
removes a cause the business records (a service call resolves the open tickets, billing help
clears the failed payments, a loyalty discount offsets the price rise) removes the same share
of it for the later months too (:func:`fixed_shares`), so its effect outlasts the contact
month. The truth records the contact month's effect: the pipeline's 28-day label window from
the campaign's day is that month.

What the campaigns do, by kind of customer (:func:`effect_segments` names them in the truth):
*persuadables*, whose risk comes from a cause an action removes and who still use the service,
lose a large share of their churn probability (several points, up to tens); *lost causes*,
whose usage has collapsed, gain next to nothing from any action; *sure things*, with no cause
to remove and a low hazard, gain a fraction of a point; and a few customers (``backlash_share``)
react badly to any contact. Over a random audience the average effect is under a point, as a
campaign sent to everyone is in practice; among the customers an action is meant for it is the
few points to tens of points that retention programmes report.

:func:`simulate` is pure (a seeded numpy Generator; frames out). The tables follow the input
contract; the truth (every subscriber-month's hazard and driver terms, the dominant driver of
each churner, and every campaign's churn probability with and without each action for every
subscriber) is returned beside them, for tests, never as model input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
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
class Action:
    """A retention action of the simulated campaigns: the driver it fixes (None: none, only the
    general effect of being contacted), what one contact costs, and how it is sent."""

    driver: str | None
    cost: float
    channel: str


ACTIONS = {
    "service_call": Action("unresolved_tickets", 10.0, "phone"),
    "billing_help": Action("payment_failures", 3.0, "email"),
    "loyalty_discount": Action("price_rise", 5.0, "email"),
    "re_engagement_message": Action("declining_usage", 1.0, "email"),
    "onboarding_call": Action("short_tenure", 10.0, "phone"),
    "feedback_request": Action(None, 1.0, "email"),
}
"""The actions of the bundled subscription playbook (its rules and its default action)."""
LASTING_CAUSES = ("service_call", "billing_help", "loyalty_discount")
"""Actions that remove a recorded cause (open tickets, failed payments, a price rise), so their
effect lasts beyond the contact month (:func:`fixed_shares`). An onboarding call and a message
act on the contact month only: tenure cannot be removed, and usage recovers on its own or not."""


@dataclass(frozen=True)
class ActionStrengths:
    """Share of its driver's weighted term each action takes off the contact month's log-odds
    (for a customer who still uses the service; see ``CampaignSettings.reach_power``), and,
    for a recorded cause (tickets, failed payments, a price rise), the share of that cause it
    removes for good (:func:`fixed_shares`).

    Why these sizes: a service call that reaches the customer resolves most open tickets (first
    contact resolution in support centres is typically 70-75 %); helping a customer update a
    failed payment method recovers most involuntary churn (dunning programmes recover 50-80 %
    of failed payments); a loyalty discount offsets most but not all of a price rise (the rise
    also told the customer to compare); an onboarding call helps a new subscriber get started,
    but part of early churn is customers finding the service is not for them; a message does
    little for declining usage."""

    service_call: float = 0.7
    billing_help: float = 0.75
    loyalty_discount: float = 0.6
    re_engagement_message: float = 0.3
    onboarding_call: float = 0.4

    def __post_init__(self) -> None:
        bad = {a: v for a, v in vars(self).items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(must_be("action strengths", "between 0 and 1", bad))


@dataclass(frozen=True)
class CampaignSettings:
    """The monthly retention campaigns and the true effects of their actions (log-odds)."""

    start_month: int | None = 3
    """First month (from 0) with a campaign; None: no campaigns."""
    audience_share: float = 0.4
    """Share of the month's subscribers drawn into its campaign (at random: a test programme
    run to learn what each action does, so its audience does not depend on risk)."""
    control_share: float = 0.3
    """Share of each audience held out (not contacted): a test meant to measure effects
    holds out a large share (half would be the most informative for a given audience; the
    business keeps most of it contacted)."""
    strengths: ActionStrengths = field(default_factory=ActionStrengths)
    general_effect: float = 0.05
    """Log-odds every contact takes off, whatever the action."""
    backlash_share: float = 0.05
    """Share of customers (a trait fixed per customer) whom any contact pushes away."""
    backlash: float = 0.5
    """Log-odds a contact adds for them, instead of any benefit."""
    reach_power: float = 3.0
    """A contact's benefit is scaled by the customer's usage against their usual, to this power:
    those who have stopped using the service are lost causes whatever the action."""

    def __post_init__(self) -> None:
        problems = []
        if self.start_month is not None and self.start_month < 0:
            problems.append(must_be("campaigns.start_month", "None or >= 0", self.start_month))
        for name in ("audience_share", "control_share", "backlash_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                problems.append(must_be(f"campaigns.{name}", "between 0 and 1", value))
        for name in ("general_effect", "backlash", "reach_power"):
            if getattr(self, name) < 0:
                problems.append(must_be(f"campaigns.{name}", ">= 0", getattr(self, name)))
        if problems:
            raise ValueError("; ".join(problems))


def _reach(x: Mapping[str, np.ndarray], campaigns: CampaignSettings) -> np.ndarray:
    return np.asarray((1.0 - x["declining_usage"]) ** campaigns.reach_power)


def fixed_shares(
    x: Mapping[str, np.ndarray], campaigns: CampaignSettings, reacts_badly: np.ndarray
) -> dict[str, np.ndarray]:
    """Per action that removes a recorded cause (:data:`LASTING_CAUSES`): the share of that
    cause (open tickets, failed payments, the price rise) a contact removes for the months
    after the contact month too, one value per customer: ``strength_a * reach``, 0 where
    ``reacts_badly``. The same share as the contact month's log-odds change takes off the
    driver's term, so the effect in later months is the one the contact month shows."""
    reach = _reach(x, campaigns)
    return {
        name: np.where(reacts_badly, 0.0, getattr(campaigns.strengths, name) * reach)
        for name in LASTING_CAUSES
    }


def contact_effects(
    x: Mapping[str, np.ndarray],
    weights: DriverWeights,
    campaigns: CampaignSettings,
    reacts_badly: np.ndarray,
) -> dict[str, np.ndarray]:
    """Each action's change to the log-odds of the contact month's hazard, one value per
    customer: ``-(strength_a * weight_k * x_k + general_effect) * reach`` for the driver ``k``
    the action fixes, or ``+backlash`` where ``reacts_badly``. ``reach`` is the customer's usage
    against their usual to the power ``reach_power`` (``(1 - x_declining_usage) ** p``): a
    customer who has stopped using the service is a lost cause whatever the action. ``x`` holds
    each driver's values (as :data:`DRIVERS`), all of one length with ``reacts_badly``."""
    reach = _reach(x, campaigns)
    shifts = {}
    for name, action in ACTIONS.items():
        fixed = (
            0.0
            if action.driver is None
            else getattr(campaigns.strengths, name)
            * getattr(weights, action.driver)
            * x[action.driver]
        )
        benefit = (fixed + campaigns.general_effect) * reach
        shifts[name] = np.where(reacts_badly, campaigns.backlash, -benefit)
    return shifts


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
    campaigns: CampaignSettings = field(default_factory=CampaignSettings)

    def __post_init__(self) -> None:
        problems = []
        if self.customers < 1:
            problems.append(must_be("customers", "a positive int", self.customers))
        if self.months < 2:
            problems.append(must_be("months", "at least 2", self.months))
        if self.start.day != 1:
            problems.append(must_be("start", "the first of a month", self.start.isoformat()))
        first = self.campaigns.start_month
        if first is not None and first >= self.months:
            problems.append(
                must_be("campaigns.start_month", f"None or below months ({self.months})", first)
            )
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Simulation:
    """The contract tables and the truth behind them.

    * ``events``: customer_id, timestamp, event_type (login, feature_use, support_ticket,
      ticket_resolved, payment, payment_failure, price_rise, plan_change), amount (payments:
      the charge; price rises: the increase), plan and monthly_price (on billing events);
    * ``customers``: customer_id, signup_date, signup_plan, signup_price, channel, and the
      fields a CRM matches on (never model inputs): email (a few missing), first_name, last_name;
    * ``churn_events``: customer_id, cancelled_at;
    * ``contacts``: one row per campaign audience member: customer_id, contacted_at (the
      campaign month's first day), action, group (``contacted`` or ``control``: the action it
      would have had), channel, cost (0 for the control group);
    * ``hazard``: one row per subscriber-month: customer_id, month, tenure_months, each driver's
      ``x_<driver>`` and weighted ``term_<driver>``, logit, hazard (without contact),
      contact_action (None unless contacted that month), contact_term (its log-odds change),
      realised_hazard (the hazard cancellations were drawn from), cancelled;
    * ``churners``: customer_id, cancelled_at, month, hazard, dominant_driver (the largest
      weighted term), dominant_term, runner_up_term;
    * ``campaign_truth``: for every subscriber at the start of every campaign month and every
      action: customer_id, campaign_date, action, p_no_contact and p_contact (the month's churn
      probability without and with that action), true_effect (their difference: negative for
      those who react badly), in_audience, control, assigned (the action the audience member was
      given, or would have been).
    """

    events: pd.DataFrame
    customers: pd.DataFrame
    churn_events: pd.DataFrame
    contacts: pd.DataFrame
    hazard: pd.DataFrame
    churners: pd.DataFrame
    campaign_truth: pd.DataFrame


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
    campaign_rng: np.random.Generator
    """Campaign draws only, so the business's own draws do not depend on the campaigns."""
    reacts_badly: np.ndarray
    """Per customer: any contact raises their hazard."""


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
        # 1 after a rise (a discount that offsets part of it leaves the rest)
        "price_rise": np.minimum(book.rises[who, last3].sum(axis=1), 1.0),
        "short_tenure": np.exp(-(month - c.signup_month[who]) / 3.0),
    }


def _logistic(logit: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


def _hazard_rows(
    world: _World, who: np.ndarray, month: int
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The month's hazard of each subscriber in ``who``, and the truth of the month's campaign
    (None without one); draws who cancels this month."""
    w, book, c, rng = world.settings.weights, world.book, world.c, world.rng
    x = _driver_values(book, c, who, month)
    terms = {d: getattr(w, d) * x[d] for d in DRIVERS}
    logit = w.intercept + sum(terms.values())
    hazard = _logistic(logit)
    first = world.settings.campaigns.start_month
    truth, contact_action, contact_term = (
        None,
        np.full(len(who), None, dtype=object),
        np.zeros(len(who)),
    )
    if first is not None and month >= first:
        truth, contact_action, contact_term = _campaign(world, who, month, x, logit)
    realised = _logistic(logit + contact_term)
    cancelled = rng.random(len(who)) < realised
    book.cancelled_month[who[cancelled]] = month
    rows = pd.DataFrame(
        {
            "who": who,
            "month": month,
            "tenure_months": month - c.signup_month[who],
            **{f"x_{d}": x[d] for d in DRIVERS},
            **{f"term_{d}": terms[d] for d in DRIVERS},
            "logit": logit,
            "hazard": hazard,
            "contact_action": contact_action,
            "contact_term": contact_term,
            "realised_hazard": realised,
            "cancelled": cancelled,
        }
    )
    return rows, truth


def _campaign(
    world: _World,
    who: np.ndarray,
    month: int,
    x: Mapping[str, np.ndarray],
    logit: np.ndarray,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The month's campaign among the subscribers ``who``: its truth (one row per subscriber and
    action, subscriber-major), the action each subscriber was contacted with (None: not
    contacted) and its log-odds change (0 when not contacted)."""
    settings, rng = world.settings, world.campaign_rng
    n, k = len(who), len(ACTIONS)
    audience = np.zeros(n, dtype=bool)
    audience[rng.choice(n, size=round(settings.campaigns.audience_share * n), replace=False)] = True
    members = np.flatnonzero(audience)
    control = np.zeros(n, dtype=bool)
    held = round(settings.campaigns.control_share * len(members))
    control[rng.choice(members, size=held, replace=False)] = True
    assigned = np.full(n, -1)
    assigned[members] = rng.integers(0, k, len(members))
    bad = world.reacts_badly[who]
    shifts = contact_effects(x, settings.weights, settings.campaigns, bad)
    shift = np.column_stack([shifts[a] for a in ACTIONS])
    p_no = _logistic(logit)
    p_with = _logistic(logit[:, None] + shift)
    contacted = audience & ~control
    given = np.where(contacted, assigned, 0)
    names = np.asarray(list(ACTIONS), dtype=object)
    truth = pd.DataFrame(
        {
            "who": np.repeat(who, k),
            "month": month,
            "action": np.tile(names, n),
            "p_no_contact": np.repeat(p_no, k),
            "p_contact": p_with.ravel(),
            "true_effect": (p_no[:, None] - p_with).ravel(),
            "in_audience": np.repeat(audience, k),
            "control": np.repeat(control, k),
            "assigned": (assigned[:, None] == np.arange(k)).ravel(),
        }
    )
    action = np.full(n, None, dtype=object)
    action[contacted] = names[given[contacted]]
    term = np.where(contacted, np.take_along_axis(shift, given[:, None], axis=1)[:, 0], 0.0)
    _remove_causes(world, who, month, action, fixed_shares(x, settings.campaigns, bad))
    return truth, action, term


_CAUSE_RECORDS = {
    "unresolved_tickets": "unresolved",
    "payment_failures": "failures",
    "price_rise": "rises",
}
"""The book's monthly record behind each driver an action can remove for good."""


def _remove_causes(
    world: _World,
    who: np.ndarray,
    month: int,
    action: np.ndarray,
    shares: Mapping[str, np.ndarray],
) -> None:
    """Contacted customers lose ``shares`` of the cause their action removes, in every month
    before ``month`` (the later months' drivers look back at them); new problems after the
    contact count in full."""
    for name, share in shares.items():
        driver = ACTIONS[name].driver
        assert driver is not None  # LASTING_CAUSES only name actions that fix a driver
        rows = action == name
        record = getattr(world.book, _CAUSE_RECORDS[driver])
        record[who[rows], :month] *= (1.0 - share[rows])[:, None]


SEGMENTS = ("persuadable", "lost_cause", "sure_thing", "reacts_badly")
"""Kinds of customer at a campaign, by what its actions truly do (:func:`effect_segments`)."""


def effect_segments(
    campaign_truth: pd.DataFrame,
    *,
    persuadable_effect: float = 0.02,
    lost_cause_risk: float = 0.1,
) -> pd.DataFrame:
    """One row per customer and campaign of ``campaign_truth`` (:attr:`Simulation.campaign_truth`):
    customer_id, campaign_date, p_no_contact, best_effect (the most any action removes from the
    month's churn probability) and segment (:data:`SEGMENTS`): ``reacts_badly`` when every
    action raises it; ``persuadable`` when the best action removes at least
    ``persuadable_effect``; else ``lost_cause`` when the month's churn probability without
    contact is at least ``lost_cause_risk``, ``sure_thing`` when below.

    At the default settings (3,000 customers, 24 months, seeds 7 and 11) a fifth to a quarter
    of the customer-campaigns are persuadable, a tenth or less lost causes, about 5 % react
    badly (``backlash_share``) and the rest, about three fifths, sure things."""
    key = ["customer_id", "campaign_date"]
    per = campaign_truth.groupby(key, sort=True).agg(
        p_no_contact=("p_no_contact", "first"), best_effect=("true_effect", "max")
    )
    best, risk = per["best_effect"].to_numpy(), per["p_no_contact"].to_numpy()
    segment = np.select(
        [best < 0, best >= persuadable_effect, risk >= lost_cause_risk],
        ["reacts_badly", "persuadable", "lost_cause"],
        "sure_thing",
    )
    return per.assign(segment=segment.astype(object)).reset_index()


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
    campaign_seed, names_seed = np.random.SeedSequence(settings.seed).spawn(2)
    campaign_rng = np.random.default_rng(campaign_seed)
    starts = _month_starts(settings)
    c = _draw_customers(settings, rng, starts)
    world = _World(
        settings,
        rng,
        starts,
        c,
        _Book(settings.customers, settings.months),
        c.plan.copy(),
        campaign_rng,
        campaign_rng.random(settings.customers) < settings.campaigns.backlash_share,
    )
    months = [_month(world, month) for month in range(settings.months)]
    hazard = [h for h, _ in months if not h.empty]
    truth = [t for _, t in months if t is not None and not t.empty]
    return _assemble(world, hazard, truth, np.random.default_rng(names_seed))


def _month(world: _World, month: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One month: who cancels (from the hazard at its start, after the month's campaign), then
    everyone's events in it. Returns the month's hazard rows and its campaign's truth."""
    c, book, starts = world.c, world.book, world.starts
    subscribers = np.flatnonzero((c.signup_month < month) & (book.cancelled_month < 0))
    hazard, truth = _hazard_rows(world, subscribers, month)
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
    return hazard, truth


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


FIRST_NAMES = (
    "Alex", "Amira", "Ben", "Carla", "Chen", "Daniel", "Elena", "Fatima", "George", "Hannah",
    "Ivan", "Jade", "Karim", "Laura", "Marco", "Nina", "Oliver", "Priya", "Sofia", "Tom",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova", "Jensen",
    "Khan", "Lopez", "Meyer", "Novak", "O'Brien", "Patel", "Rossi", "Smith", "Tanaka", "Walsh",
)  # fmt: skip
MISSING_EMAIL_SHARE = 0.02


def _contact_fields(ids: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Email (unique, from the id; a few missing), first and last name of each customer."""
    email = np.array([f"{i.lower()}@example.com" for i in ids], dtype=object)
    email[rng.random(len(ids)) < MISSING_EMAIL_SHARE] = None
    return {
        "email": email,
        "first_name": rng.choice(np.asarray(FIRST_NAMES, dtype=object), len(ids)),
        "last_name": rng.choice(np.asarray(LAST_NAMES, dtype=object), len(ids)),
    }


def _month_firsts(settings: SimulationSettings) -> np.ndarray:
    firsts = [
        pd.Timestamp(settings.start) + pd.DateOffset(months=m) for m in range(settings.months)
    ]
    return pd.Series(firsts).astype("datetime64[us]").to_numpy()


def _campaign_frames(
    settings: SimulationSettings, truth_frames: list[pd.DataFrame], ids: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contacts table and the campaign truth, from the campaign months' truth rows."""
    columns = ["p_no_contact", "p_contact", "true_effect", "in_audience", "control", "assigned"]
    if not truth_frames:
        truth = pd.DataFrame({"who": np.zeros(0, dtype=int), "month": np.zeros(0, dtype=int)})
        truth = truth.assign(action=pd.Series(dtype=object), **{k: [] for k in columns})
    else:
        truth = pd.concat(truth_frames, ignore_index=True)
    truth.insert(0, "customer_id", ids[truth.pop("who").to_numpy()])
    truth.insert(1, "campaign_date", _month_firsts(settings)[truth.pop("month").to_numpy()])
    truth = truth.astype({"in_audience": bool, "control": bool, "assigned": bool})
    given = truth[truth["assigned"]]
    action = given["action"].map(ACTIONS)
    contacts = pd.DataFrame(
        {
            "customer_id": given["customer_id"],
            "contacted_at": given["campaign_date"],
            "action": given["action"],
            "group": np.where(given["control"], "control", "contacted").astype(object),
            "channel": action.map(lambda a: a.channel).astype(object),
            "cost": np.where(given["control"], 0.0, action.map(lambda a: a.cost)).astype(float),
        }
    )
    contacts = contacts.sort_values(["contacted_at", "customer_id"], kind="stable")
    return contacts.reset_index(drop=True), truth


def _assemble(
    world: _World,
    hazard_frames: list[pd.DataFrame],
    truth_frames: list[pd.DataFrame],
    names_rng: np.random.Generator,
) -> Simulation:
    settings, book, c = world.settings, world.book, world.c
    ids = _customer_ids(settings.customers)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": _timestamps(settings, c.signup_seconds).dt.floor("D"),
            "signup_plan": np.asarray(PLANS, dtype=object)[c.plan],
            "signup_price": _price(c, c.plan, c.signup_month),
            "channel": c.channel,
            **_contact_fields(ids, names_rng),
        }
    )
    gone = np.flatnonzero(~np.isnan(book.cancel_seconds))
    churn_events = pd.DataFrame(
        {"customer_id": ids[gone], "cancelled_at": _timestamps(settings, book.cancel_seconds[gone])}
    )
    hazard = pd.concat(hazard_frames, ignore_index=True)
    hazard.insert(0, "customer_id", ids[hazard.pop("who").to_numpy()])
    hazard.insert(1, "month", _month_firsts(settings)[hazard.pop("month").to_numpy()])
    contacts, campaign_truth = _campaign_frames(settings, truth_frames, ids)
    quit_rows = hazard[hazard["cancelled"]]
    churners = pd.concat(
        [quit_rows[["customer_id", "month", "hazard"]], _dominant(quit_rows)], axis=1
    ).merge(churn_events, on="customer_id", validate="one_to_one")
    return Simulation(
        events=_events_frame(settings, book, ids),
        customers=customers,
        churn_events=churn_events,
        contacts=contacts,
        hazard=hazard,
        churners=churners[["customer_id", "cancelled_at", "month", "hazard", *_dominant_cols()]],
        campaign_truth=campaign_truth,
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
        "contacts": result.contacts,
        "truth/hazard": result.hazard,
        "truth/churners": result.churners,
        "truth/campaign_truth": result.campaign_truth,
    }
    for name, frame in tables.items():
        write(frame, folder / f"{name}.{suffix}")
