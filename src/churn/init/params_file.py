"""A plan as the text of ``pipelines/<name>/params.yaml``: what ``churn init`` found, with a
comment on every guess, and only what differs from the defaults, but with every section that
dvc.yaml declares for some stage (DVC fails on a declared section missing from the file).

Pure: a plan in, YAML text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from churn.data.inference import EventRoles, TimestampGuess, named_yearly
from churn.errors import PipelineStateError
from churn.features.catalogue import FeatureSpec, feature_catalogue
from churn.init.event_kinds import RETURN_TYPE
from churn.init.plan import (
    RESERVED,
    ZERO_AMOUNT_TYPE,
    CustomerTable,
    EventsPlan,
    SnapshotPlan,
    SourceFile,
    snake_case,
)
from churn.io.excel_sheets import ALL_SHEETS
from churn.io.files import auto_format
from churn.settings import CANONICAL_EVENT_COLUMNS, FeatureSettings

DECLARED_SECTIONS = (
    "engine",
    "data",
    "labels",
    "features",
    "train",
    "registry",
    "scoring",
    "playbook",
    "export",
    "monitoring",
)
"""Top-level keys some stage of dvc.yaml declares (DVC fails on one missing from params.yaml);
``monitoring.backfill_cutoffs`` by key."""


@dataclass(frozen=True)
class Rule:
    action: str
    description: str
    reasons: tuple[str, ...]
    min_value_percentile: float = 0.0
    min_probability: float = 0.0


BEHAVIOUR = (
    "RECENCY",
    "COVERAGE",
    "PURCHASE_PATTERN",
    "ACTIVITY_TREND",
    "FREQUENCY",
    "PURCHASE_GAPS",
    "SPEND",
    "PRODUCT_RANGE",
    "EVENT_MIX",
)
EVENT_PLAYBOOK = (
    Rule(
        "service_call",
        "Returns or cancellations: call to put right what went wrong",
        ("RETURNS",),
    ),
    Rule(
        "loyalty_reward",
        "Frequent high spenders drifting away: a reward that says we noticed",
        BEHAVIOUR,
        min_value_percentile=90,
    ),
    Rule(
        "win_back_offer",
        "Long silent, probably gone: an offer to come back",
        ("RECENCY", "COVERAGE", "PURCHASE_PATTERN"),
        min_probability=0.8,
    ),
    Rule(
        "re_engagement_message",
        "Activity declining: a personal message with what is new for them",
        BEHAVIOUR,
    ),
)
"""The playbook of an events pipeline: reason codes of the built-in reason catalogue only."""

HEADER = """\
# Pipeline {name}, written by `churn init`. Settings not written here are at their defaults
# (docs/settings.md); lines marked "check" are guesses worth a look before `churn run {name}`.
"""

MODEL = """
train: {}      # xgboost with early stopping and calibration (the defaults)
registry: {}   # a challenger must beat the champion's test ROC AUC by 0.005
"""
ENGINE = "engine: local   # or spark: labels, features, train and score on Spark (features.spark)"
EXPORT = "export: {}   # CRM import files with the built-in columns of every target"
WIDTH = 99


def scalar(value: object) -> str:
    """``value`` as one line of YAML (flow style, quoted where YAML needs it)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def flow_list(key: str, items: Sequence[object], indent: int, comment: str = "") -> list[str]:
    """``key: [a, b, ...]`` wrapped at :data:`WIDTH` characters, continuation lines aligned
    under the first item."""
    pad = " " * indent
    lead = f"{pad}{key}: ["
    parts = [scalar(item) for item in items]
    lines, line = [], lead
    for i, part in enumerate(parts):
        piece = part + ("," if i < len(parts) - 1 else "]")
        if line not in (lead, " " * len(lead)) and len(line) + 1 + len(piece) > WIDTH:
            lines.append(line.rstrip())
            line = " " * len(lead)
        line += piece if line in (lead, " " * len(lead)) else f" {piece}"
    if not parts:
        line += "]"
    lines.append(line + (f"   # {comment}" if comment else ""))
    return lines


def _mapping(pairs: Mapping[str, object], indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}{key}: {scalar(value)}" for key, value in pairs.items()]


def _reading(source: SourceFile, indent: int, *, sheet_of: str = "with the most rows") -> list[str]:
    """``path`` and, where they differ from the defaults, format, separator and encoding;
    ``sheet_of``: what chose the sheet of a workbook."""
    pad = " " * indent
    lines = [f"{pad}path: {scalar(source.path)}"]
    fmt = source.format
    if fmt.format != auto_format(source.path):
        lines.append(f"{pad}format: {fmt.format}")
    if fmt.format == "csv" and fmt.separator != ",":
        lines.append(f"{pad}separator: {scalar(fmt.separator)}")
    if fmt.format in ("csv", "excel") and fmt.skip_rows:
        lines.append(f"{pad}skip_rows: {fmt.skip_rows}   # check: lines before the header")
    if fmt.format in ("csv", "json") and fmt.encoding != "utf-8":
        lines.append(f"{pad}encoding: {fmt.encoding}")
    if fmt.decimal != ".":
        lines.append(f"{pad}decimal: {scalar(fmt.decimal)}   # check: numbers written 1.234,50")
    if fmt.format == "excel" and fmt.sheet is not None:
        check = (
            "every sheet, stacked"
            if fmt.sheet == ALL_SHEETS
            else f"the sheet {sheet_of} of {list(fmt.sheets)}"
        )
        lines.append(f"{pad}sheet: {scalar(fmt.sheet)}   # check: {check}")
    return lines


def _timestamp_format(guess: TimestampGuess, indent: int) -> list[str]:
    if guess.format is None:
        return []  # ISO 8601, the default
    return [f"{' ' * indent}timestamp_format: {scalar(guess.format)}   # check"]


def _event_source(source: SourceFile, roles: EventRoles, names: Mapping[str, str]) -> list[str]:
    """One events source's lines; ``names``: column -> name of the text and numeric
    attributes."""
    columns = {"customer_id": roles.customer_id, "timestamp": roles.timestamp.column}
    for role in ("amount", "order_id", "event_type", "product_id"):
        if (column := getattr(roles, role)) is not None:
            columns[role] = column
    if roles.quantity is not None and roles.amount is not None:  # spend = units x unit price
        del columns["amount"]
        columns |= {"quantity": roles.quantity, "unit_price": roles.amount}
    covered = roles.covered_until
    if covered is not None:
        columns["covered_until"] = covered.column
    own_format = covered is not None and covered.format != roles.timestamp.format
    return [
        *_reading(source, 8),
        "        columns:",
        *_mapping(columns, 10),
        *_timestamp_format(roles.timestamp, 8),
        *(
            [f"        covered_until_format: {scalar(covered.format)}   # check"]
            if covered is not None and own_format
            else []
        ),
        *(flow_list("missing_ids", roles.placeholder_ids, 8) if roles.placeholder_ids else []),
        *(
            ["        measures:   # check: numbers summed per window (usage, minutes, seats)"]
            + [
                f"          {scalar(name)}: {scalar(column)}"
                for name, column in measure_names(roles.measures).items()
            ]
            if roles.measures
            else []
        ),
        *(
            [
                "        attributes:   # check: about the customer (a plan, a country, a flag), "
                "the latest before a cutoff a feature"
            ]
            + [f"          {scalar(names[c])}: {scalar(c)}" for c in attributes]
            if (attributes := (*roles.attributes, *roles.numeric_attributes))
            else []
        ),
    ]


ATTRIBUTE_SUFFIX = "_attribute"
"""Added to an event attribute's name when it is a canonical or contract column's, a
measure's or a customers table's attribute's, or its feature would take another's name."""


def event_attribute_names(plan: EventsPlan) -> dict[str, str]:
    """Column -> attribute name of the text and numeric attributes of every events source
    (:attr:`EventRoles.attributes`, :attr:`EventRoles.numeric_attributes`): the column's
    snake_case, one name for a column
    several sources hold, with :data:`ATTRIBUTE_SUFFIX` until it clashes with nothing."""
    measures = [name for _, roles in plan.sources for name in measure_names(roles.measures)]
    taken = {*CANONICAL_EVENT_COLUMNS, "covered_until", *RESERVED, *measures}
    if plan.customers is not None:
        taken |= set(plan.customers.attributes)
    names: dict[str, str] = {}
    for _, roles in plan.sources:
        for column in (*roles.attributes, *roles.numeric_attributes):
            if column in names:
                continue
            name = snake_case(column)
            while (
                name in taken
                or name in names.values()
                or not _distinct_features(measures, (*names.values(), name))
            ):
                name += ATTRIBUTE_SUFFIX
            names[column] = name
    return names


MEASURE_SUFFIX = "_sum"
"""Added to a measure's name when its features would take a built-in feature's name (a
column `orders` of a daily usage table beside the log's own `orders_30d`) or it is a
canonical column's (`quantity`)."""


def measure_names(columns: Sequence[str]) -> dict[str, str]:
    """Measure name -> column for ``columns``: the column's own name, with
    :data:`MEASURE_SUFFIX` where it is a canonical events column's or its features would take
    a built-in feature's or an earlier measure's name (two columns of one slug)."""
    names: dict[str, str] = {}
    for column in columns:
        name = column
        while name in CANONICAL_EVENT_COLUMNS or not _distinct_features((*names, name), ()):
            name += MEASURE_SUFFIX
        names[name] = column
    return names


def _distinct_features(measures: Sequence[str], attributes: Sequence[str]) -> bool:
    """Whether the default features and those of ``measures`` and event ``attributes`` all
    have names of their own."""
    spec = FeatureSpec(
        FeatureSettings(),
        ("purchase",),
        event_attributes=tuple(attributes),
        event_measures=tuple(measures),
    )
    try:
        feature_catalogue(spec)
    except PipelineStateError:
        return False
    return True


def _listed(lines: list[str]) -> list[str]:
    """The lines of one list item: a dash on the first."""
    return [f"      - {lines[0].lstrip()}", *lines[1:]]


def _customers(table: CustomerTable) -> list[str]:
    columns = {"customer_id": table.customer_id}
    if table.signup_date is not None:
        columns["signup_date"] = table.signup_date.column
    if table.person_id is not None:
        columns["person_id"] = table.person_id
    lines = [
        *_reading(table.source, 8, sheet_of="holding the customers"),
        "        columns:",
        *_mapping(columns, 10),
    ]
    if table.attributes:
        lines += ["        attributes:", *_mapping(table.attributes, 10)]
    if table.contact_fields:
        lines += [
            "        contact_fields:   # check: how a CRM finds the person; never features",
            *_mapping(table.contact_fields, 10),
        ]
    if table.signup_date is not None:
        lines += _timestamp_format(table.signup_date, 8)
    return ["  customers:", "    sources:", *_listed(lines)]


def _rules(rules: Sequence[Rule]) -> list[str]:
    lines = ["playbook:", "  rules:"]
    for rule in rules:
        lines += [
            f"    - action: {rule.action}",
            f"      description: {scalar(rule.description)}",
            *flow_list("reasons", rule.reasons, 6),
        ]
        if rule.min_value_percentile:
            lines.append(f"      min_value_percentile: {rule.min_value_percentile:g}")
        if rule.min_probability:
            lines.append(f"      min_probability: {rule.min_probability:g}")
    lines.append("  # a customer no rule matches gets the default action, feedback_request")
    return lines


def _model(min_class_rows: int | None) -> str:
    """The train and registry sections: the defaults, or ``train.min_class_rows`` lowered for
    a small export."""
    if min_class_rows is None:
        return MODEL.rstrip("\n")
    return MODEL.rstrip("\n").replace(
        "train: {}      # xgboost with early stopping and calibration (the defaults)",
        "train:\n"
        f"  min_class_rows: {min_class_rows}   # a small export: a validation or test set "
        "holds few of one class",
    )


def render_events(plan: EventsPlan) -> str:
    """params.yaml of an events pipeline."""
    lines = [ENGINE, "", "data:", "  kind: events", "  events:", "    sources:"]
    names = event_attribute_names(plan)
    for source, roles in plan.sources:
        lines += _listed(_event_source(source, roles, names))
    if plan.return_rule is not None:
        lines += [
            "    event_type_rules:",
            f"      - column: order_id   # check: a cancelled invoice ({plan.return_rule}...) "
            "is a return",
            f"        startswith: {scalar(plan.return_rule)}",
            f"        event_type: {RETURN_TYPE}",
        ]
    if plan.missing_ids or any(roles.blank_ids for _, roles in plan.sources):
        lines.append("    drop_missing_customer_id: true   # check: rows without a customer")
    if plan.missing_timestamps:
        lines.append(
            "    drop_missing_timestamp: true   # check: rows without a timestamp (a totals line?)"
        )
    if plan.zero_amounts:
        lines.append(
            f"    zero_amount_event_type: {ZERO_AMOUNT_TYPE}   # check: rows of amount 0 are no "
            "activity"
        )
    if plan.churn_event_types:
        lines += flow_list("churn_event_types", list(plan.churn_event_types), 4, "check")
    numeric = list(
        dict.fromkeys(names[c] for _, roles in plan.sources for c in roles.numeric_attributes)
    )
    if numeric:
        lines += flow_list("numeric_attributes", numeric, 4, "check: read as numbers")
    if plan.customers is not None:
        lines += _customers(plan.customers)
    if plan.churn_events is not None:
        table = plan.churn_events
        item = [
            *_reading(table.source, 8),
            "        columns:",
            *_mapping({"customer_id": table.customer_id, "timestamp": table.timestamp.column}, 10),
            *_timestamp_format(table.timestamp, 8),
        ]
        lines += ["  churn_events:", "    sources:", *_listed(item)]

    cut = plan.cutoffs
    activity = list(plan.label_activity or plan.event_types) or ["purchase"]
    lines += ["", "labels:"]
    if plan.explicit_churn and plan.cancellations_only:
        lines.append(
            "  churn_definition: explicit   # check: cancellations only (by inactivity every "
            "customer churned)"
        )
    elif plan.explicit_churn:
        lines.append("  churn_definition: either   # check: a cancellation, or no activity")
    check = "   # check" if plan.event_types else ""
    lines += [
        f"  activity_event_types: {scalar(activity)}{check}",
        f"  horizon_days: {plan.horizon_days}   # churned: no activity in the days after a cutoff",
        *(
            [
                f"  max_inactive_days: {plan.max_inactive_days}   # check: silent longer before "
                "a cutoff = already lost, not scored (null: everyone who ever bought)"
            ]
            if plan.max_inactive_days is not None
            else []
        ),
        "  train_cutoffs:",
        f"    # {cut.step}, from one horizon after the first event to one horizon before the",
        "    # test cutoff; the last is the validation cutoff",
        *flow_list("dates", [d.isoformat() for d in cut.train_cutoffs], 4),
        f"  test_cutoff: {scalar(cut.test_cutoff.isoformat())}   # the latest whose window the "
        f"data covers (last day {cut.last_day_of_data})",
    ]

    features: dict[str, object] = {}
    if (short := cut.feature_windows) is not None:  # no window longer than the data
        defaults = FeatureSettings()
        windows, trend = short
        if windows != defaults.windows_days:
            features["windows_days"] = windows
        if trend != defaults.trend_window_days:
            features["trend_window_days"] = trend
    if plan.event_types:
        features["event_types"] = list(plan.feature_types or plan.event_types)
    if plan.zero_amounts:  # counted as a feature, never activity
        features["event_types"] = [*(plan.event_types or ["purchase"]), ZERO_AMOUNT_TYPE]
    if plan.return_event_types:
        features["return_event_types"] = list(plan.return_event_types)
    if plan.customers is not None and plan.customers.categorical:
        features["categorical_attributes"] = list(plan.customers.categorical)
    lines += ["", "features:" + ("" if features else " {}")]
    for key, value in features.items():  # lists wrapped: an analytics log's 20 event types
        lines += flow_list(key, value, 2) if isinstance(value, list) else _mapping({key: value}, 2)
    lines.append(_model(plan.min_class_rows))
    scoring: list[str] = []
    if plan.has_amount and plan.purchase_types:
        scoring += [
            "  value:",
            *flow_list(
                "purchase_event_types",
                list(plan.purchase_types),
                4,
                "check: the rows whose amounts are spend",
            ),
        ]
    charge = plan.charge_feature
    if charge is not None:
        scoring += [
            "  value:",
            "    method: recurring",
            f"    charge_feature: {charge}   # check: "
            + ("the charge at stake" if plan.charge_period else "the monthly charge at stake"),
            *_billing_lines(plan.charge_period, plan.charge_quantity),
            f"    months: {plan.charge_months:g}   # the horizon's",
        ]
    elif not plan.has_amount:
        scoring += [
            "  outreach:",
            "    priority: churn_probability   # no amount column: no value to rank by",
        ]
    if plan.tiers_by_probability:
        scoring.append(
            "  risk_tiers: {method: probability}   # most customers churn: tiers say how likely"
        )
    ranked = "   # ranked by value at risk: BG/NBD x Gamma-Gamma spend" if plan.has_amount else ""
    lines += [f"scoring:{'' if scoring else ' {}'}{ranked}", *scoring]
    # without amounts every customer's value is the same: no rule on value percentiles
    valued = plan.has_amount or charge is not None
    rules = [r for r in EVENT_PLAYBOOK if valued or not r.min_value_percentile]
    lines += ["", *_rules(rules), "", EXPORT, ""]
    lines += [
        "monitoring:",
        f"  backfill_cutoffs: {scalar([cut.test_cutoff.isoformat()])}   # also scored: its "
        "outcome is known",
    ]
    return HEADER.format(name=plan.name) + "\n".join(lines) + "\n"


def render_snapshot(plan: SnapshotPlan) -> str:
    """params.yaml of a snapshot pipeline."""
    roles = plan.roles
    source = [
        *_reading(plan.source, 6),
        "      columns:",
        *_mapping(
            {"customer_id": roles.customer_id, "label": roles.label}
            if roles.customer_id is not None
            else {"label": roles.label},
            8,
        ),
        *(
            [f"      timestamp_format: {scalar(plan.date_format)}   # check: of the dates"]
            if plan.date_format
            else []
        ),
        "      attributes:"
        + ("" if plan.attributes else " {}")
        + "   # check: drop any column known only after the customer left",
        *_mapping(plan.attributes, 8),
        *(
            f"        # left out, the label in disguise: {column!r}: {why}"
            for column, why in plan.left_out
        ),
    ]
    lines = [ENGINE, "", "data:", "  kind: snapshot", "  snapshot:", "    source:", *source]
    if roles.filled:
        lines.append(
            "    churned_when: filled   # check: a date in the label is a churner, a blank stayed"
        )
    elif roles.positive != "Yes":
        lines.append(f"    positive_label: {scalar(roles.positive)}   # the label's churned value")
    lines += flow_list("numeric_attributes", plan.numeric_attributes, 4)
    if plan.date_attributes:
        lines += flow_list("date_attributes", plan.date_attributes, 4, "check: days before")
    if plan.customers is not None:
        lines += _customers(plan.customers)
    lines += [
        "",
        "labels:",
        f"  snapshot_date: {scalar(plan.snapshot_date.isoformat())}   # check: the day the "
        "export describes",
        "",
        "features: {}   # a snapshot's features are its attributes",
        _model(plan.min_class_rows),
    ]
    lines += [
        "scoring:   # reasons: one per attribute, built in (a catalogue in scoring.reasons can "
        "gather them)",
    ]
    charge = plan.charge_feature
    if charge is not None:
        lines += [
            "  value:",
            "    method: recurring",
            f"    charge_feature: {charge}   # check: "
            + (
                "a balance, counted once (months: 1), not a monthly charge"
                if "balance" in charge.split("_")
                else "a yearly figure, counted once: what the customer pays you?"
                if named_yearly(charge) and not plan.charge_period
                else "the charge at stake"
                if plan.charge_period
                else "the monthly charge at stake"
            ),
            *_billing_lines(plan.charge_period, plan.charge_quantity),
        ]
        if plan.rank_by_probability:
            lines += [
                "  outreach:",
                "    priority: churn_probability   # check: the value is 0 for too many "
                "customers to rank by",
            ]
    else:
        lines += [
            "  outreach:",
            "    priority: churn_probability   # no value column: no value to rank by",
        ]
    lines += [
        "",
        "playbook: {}   # everyone explained gets the default action, feedback_request",
        "",
        EXPORT,
        "",
        "monitoring:",
        "  backfill_cutoffs: []   # a snapshot has no earlier cutoff to score",
    ]
    return HEADER.format(name=plan.name) + "\n".join(lines) + "\n"


def render(plan: EventsPlan | SnapshotPlan) -> str:
    return render_events(plan) if isinstance(plan, EventsPlan) else render_snapshot(plan)


def _billing_lines(period: str | None, quantity: str | None) -> list[str]:
    """``scoring.value``'s billing period and units lines, when init found them."""
    lines = []
    if period is not None:
        lines.append(
            f"    charge_period_feature: {period}   # check: the billing period each charge is "
            "for (a yearly price is 12 months' charge)"
        )
    if quantity is not None:
        lines.append(
            f"    charge_quantity_feature: {quantity}   # check: the seats or licences each "
            "charge is for"
        )
    return lines
