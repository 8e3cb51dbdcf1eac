"""The reason catalogue: stable reason codes, what each gathers, and the sentence it prints.

A catalogue is YAML (the built-in one is ``reason_catalogue.yaml`` beside this module; a
pipeline may name its own with ``scoring.reasons``). :func:`resolve` ties it to one model's
features: each feature belongs to exactly one reason, and every reason knows which feature its
sentence quotes. Rendering a sentence is pure: value and typical value in, text out.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from churn.errors import ConfigError
from churn.features.catalogue import ATTRIBUTE_FAMILY, COVERAGE_FAMILY
from churn.io.yaml_files import decode_utf8, parse_yaml
from churn.scoring.context import is_context_attribute

BUILT_IN = "reason_catalogue.yaml"
NUMERIC_TEXT = "{description}: {value}; typical for active customers: {typical}"
MISSING_TEXT = "{description}: not known for this customer; typical for active customers: {typical}"


class ReasonSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    families: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    actionable: bool = True
    per_customer: bool = True
    headline: list[str] = Field(default_factory=list)
    text: str = NUMERIC_TEXT
    texts: dict[str, str] = Field(
        default_factory=dict, description="feature -> sentence when that feature is quoted"
    )
    missing_text: str = MISSING_TEXT
    missing_texts: dict[str, str] = Field(
        default_factory=dict,
        description="feature -> sentence when that feature is quoted and the customer has no "
        "value (a one-time buyer has no gap between purchases)",
    )
    negative_texts: dict[str, str] = Field(
        default_factory=dict,
        description="feature -> sentence when that feature is quoted and the customer's value "
        "is below 0, {value} then its size (days since a paid period ended, where the feature "
        "counts the days left as negative)",
    )


class CatalogueSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    reasons: list[ReasonSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Reason:
    """A reason resolved against one model: the model features it sums over."""

    code: str
    actionable: bool
    per_customer: bool
    features: tuple[str, ...]
    headline: str | None
    text: str
    texts: Mapping[str, str]
    missing_text: str = MISSING_TEXT
    missing_texts: Mapping[str, str] = field(default_factory=dict)
    negative_texts: Mapping[str, str] = field(default_factory=dict)

    def template(self, feature: str) -> str:
        return self.texts.get(feature, self.text)

    def negative_template(self, feature: str) -> str | None:
        """The sentence for a customer whose value of ``feature`` is below 0, quoting its size
        ("Paid period ended 18 days before the cutoff", not "ends -18 days after it"); None:
        :meth:`template` reads either sign."""
        return self.negative_texts.get(feature)

    def missing_template(self, feature: str) -> str:
        """The sentence for a customer whose value of ``feature`` is missing: "unknown times the
        usual gap" reads as nonsense, "Only one active day so far" does not."""
        return self.missing_texts.get(feature, self.missing_text)


@dataclass(frozen=True)
class ReasonCatalogue:
    version: str
    reasons: tuple[Reason, ...]
    descriptions: Mapping[str, str]

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


RETIRED_CODES: Mapping[str, str] = {
    "PROFILE": "PROFILE was the built-in catalogue's one reason for every attribute until its "
    "version 2026.12.1; it was never actionable, so a rule naming it never matched anyone. "
    "Each attribute now has a reason of its own, coded from its name (PLAN for 'plan'), "
    "actionable unless the name says who or where the customer is or how long they have been "
    "one: name those codes, or drop PROFILE from the rule"
}
"""Codes the built-in catalogue no longer has, with what became of them, for a playbook rule
that still names one (:func:`~churn.scoring.playbook.check_rules`). A code is never reused for
another meaning."""


ACTIVITY = "{activity}"
"""Placeholder of a catalogue's sentences for what one active day is: "purchase" in a log with
amounts, "activity" in a usage log ("No activity for 57 days"). Filled when the catalogue is
read, since it is the same for every customer of a pipeline."""


def load_catalogue(path: Path | None = None, activity: str = "purchase") -> CatalogueSpec:
    """Read and validate a reason catalogue; ``None`` reads the built-in one. ``activity``
    fills the catalogue's ``{activity}`` placeholders (see :data:`ACTIVITY`)."""
    if path is None:
        where, text = (
            BUILT_IN,
            files("churn.scoring").joinpath(BUILT_IN).read_text(encoding="utf-8"),
        )
    else:
        if not path.is_file():
            raise ConfigError(
                f"scoring.reasons: reason catalogue {path} not found. Give a project-relative "
                "path to a YAML catalogue, or remove the key to use the built-in one."
            )
        where, text = str(path), decode_utf8(path.read_bytes(), str(path))
    try:
        raw = parse_yaml(text.replace(ACTIVITY, activity), where)
        spec = CatalogueSpec.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{where}: invalid reason catalogue: {problems}.") from exc
    codes = [r.code for r in spec.reasons]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ConfigError(f"{where}: reason codes must be unique; repeated: {dupes}.")
    return spec


_ANONYMISED = re.compile(r"^[A-Za-z]{1,3}_?\d+$")  # V14, X_3, col7: a name that says nothing
_NUMERIC_TEXT = "{feature} is {value} (typical for customers who stay: {typical})"
_MISSING_ATTRIBUTE_TEXT = "{feature} is not recorded (typical for customers who stay: {typical})"
_CATEGORY_TEXT = (
    "{feature} is {value} (churned at {value_churn_rate:.0%} against {overall_churn_rate:.0%} "
    "overall)"
)


def reason_code(name: str) -> str:
    """A reason code from a feature name: ``MonthlyFee`` and ``monthly fee`` -> ``MONTHLY_FEE``,
    ``Monthly Usage (GB)`` -> ``MONTHLY_USAGE_GB``, ``2nd line`` -> ``ATTRIBUTE_2ND_LINE``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    code = re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").upper()
    return code if re.match(r"^[A-Z]", code) else f"ATTRIBUTE_{code}".rstrip("_")


def attribute_reasons(
    feature_catalogue: Sequence[Mapping[str, str]],
    names: Sequence[str],
    *,
    context: Collection[str] = (),
    taken: Collection[str] = (),
) -> list[ReasonSpec]:
    """One reason per feature of ``names``, coded from its name (see :func:`reason_code`; a
    code already used, by an earlier feature or in ``taken``, gets ``_2``, ``_3``), its sentence
    quoting the customer's value beside what is typical for customers who stay ("Attribute V14
    is 3.20 (typical for customers who stay: 0.50)"), or for a category the churn rate of
    customers sharing it ("Contract is Month-to-month (churned at 43% against 27% overall)").

    A feature named like who or where the customer is or how long they have been one
    (:func:`~churn.scoring.context.is_context_attribute`: ``State``, ``Age``, ``tenure``), or
    named in ``context`` (the declared tenure attribute), gives a reason that is context
    (``actionable: false``): it follows the reasons someone can act on."""
    kinds = {f["name"]: f.get("kind", "numeric") for f in feature_catalogue}
    reasons, used = [], set(taken)
    for name in names:
        code = base = reason_code(name)
        k = 1
        while code in used:
            k += 1
            code = f"{base}_{k}"
        used.add(code)
        text = _CATEGORY_TEXT if kinds.get(name) == "categorical" else _NUMERIC_TEXT
        missing = _MISSING_ATTRIBUTE_TEXT
        if _ANONYMISED.match(name):
            text, missing = "Attribute " + text, "Attribute " + missing
        reasons.append(
            ReasonSpec(
                code=code,
                features=[name],
                actionable=not (name in context or is_context_attribute(name)),
                text=text,
                missing_text=missing,
            )
        )
    return reasons


def attribute_catalogue(
    feature_catalogue: Sequence[Mapping[str, str]],
    model_features: Sequence[str],
    *,
    context: Collection[str] = (),
) -> CatalogueSpec:
    """A snapshot's catalogue: one reason per model feature (:func:`attribute_reasons`)."""
    return CatalogueSpec(
        version="per-attribute-1",
        reasons=attribute_reasons(feature_catalogue, model_features, context=context),
    )


def default_catalogue(
    feature_catalogue: Sequence[Mapping[str, str]],
    model_features: Sequence[str],
    activity: str = "purchase",
    *,
    context: Collection[str] = (),
) -> CatalogueSpec:
    """The catalogue of a pipeline that names none. When every model feature is an attribute
    (a snapshot): :func:`attribute_catalogue`. Otherwise the built-in catalogue, whose reasons
    gather the behaviour families, followed by one reason per attribute feature of the model
    (the events' latest attributes, the customers table's columns) from
    :func:`attribute_reasons`, coded apart from the built-in codes (an attribute ``tenure``
    gets ``TENURE_2``). Either way an attribute is actionable unless it is context: its name
    says so, or ``context`` names it."""
    family = {f["name"]: f["family"] for f in feature_catalogue}
    attributes = [n for n in model_features if family.get(n) == ATTRIBUTE_FAMILY]
    if model_features and len(attributes) == len(model_features):
        return attribute_catalogue(feature_catalogue, model_features, context=context)
    built_in = load_catalogue(None, activity)
    own = attribute_reasons(
        feature_catalogue, attributes, context=context, taken=[r.code for r in built_in.reasons]
    )
    reasons = list(built_in.reasons)
    if any(family.get(n) == COVERAGE_FAMILY for n in model_features):
        reasons = _recency_in_coverage(reasons)
    return built_in.model_copy(update={"reasons": [*reasons, *own]})


COVERAGE_CODE = "COVERAGE"
RECENCY_FAMILY = "recency"


def _recency_in_coverage(reasons: Sequence[ReasonSpec]) -> list[ReasonSpec]:
    """``reasons`` with the coverage reason first, gathering the recency family too: where
    payments say how long they pay for, the days since the last one and the days it still
    covers are one story, and a member paid up for a year must not read "No purchase for 322
    days" as a risk. RECENCY stays in the catalogue (a playbook rule may name it), without
    features."""
    coverage = next((r for r in reasons if r.code == COVERAGE_CODE), None)
    if coverage is None:
        return list(reasons)
    gathering = coverage.model_copy(update={"families": [*coverage.families, RECENCY_FAMILY]})
    return [gathering, *(r for r in reasons if r.code != COVERAGE_CODE)]


def pipeline_catalogue(
    feature_catalogue: Sequence[Mapping[str, str]],
    model_features: Sequence[str],
    path: Path | None,
    activity: str = "purchase",
    *,
    context: Collection[str] = (),
) -> CatalogueSpec:
    """The catalogue a pipeline explains with: the one at ``path`` (``scoring.reasons``), read
    as written (its reasons and ``actionable`` flags are the user's; nothing is added), else
    :func:`default_catalogue`, its sentences naming an active day ``activity`` (see
    :data:`ACTIVITY`) and ``context`` naming attributes that are context whatever their name.
    Scoring's reason codes and the ``driver_shift`` uplift learner read it through here, so
    both see the same reasons."""
    if path is None:
        return default_catalogue(feature_catalogue, model_features, activity, context=context)
    return load_catalogue(path, activity)


def resolve(
    spec: CatalogueSpec,
    feature_catalogue: Sequence[Mapping[str, str]],
    model_features: Sequence[str],
) -> ReasonCatalogue:
    """Assign every model feature to one reason (named features first, then families).

    ``feature_catalogue``: records with ``name``, ``family`` and ``description`` (as written to
    ``feature_catalogue.json``). Raises ConfigError naming features no reason gathers.
    """
    family = {f["name"]: f["family"] for f in feature_catalogue}
    descriptions = {f["name"]: f["description"] for f in feature_catalogue}
    owner: dict[str, str] = {}
    for reason in spec.reasons:
        for name in reason.features:
            owner.setdefault(name, reason.code)
    for name in model_features:
        if name in owner:
            continue
        for reason in spec.reasons:
            if family.get(name) in reason.families:
                owner[name] = reason.code
                break
    orphans = [n for n in model_features if n not in owner]
    if orphans:
        shown = {n: family.get(n, "<not in the feature catalogue>") for n in orphans}
        raise ConfigError(
            f"reason catalogue {spec.version}: no reason gathers the model feature(s) {shown} "
            "(name: family). Add their family to a reason's 'families' or the feature to its "
            "'features'."
        )
    reasons = []
    for r in spec.reasons:
        members = tuple(n for n in model_features if owner[n] == r.code)
        if not members:
            continue
        headline = next((h for h in r.headline if h in members), None)
        reasons.append(
            Reason(
                r.code,
                r.actionable,
                r.per_customer,
                members,
                headline,
                r.text,
                r.texts,
                r.missing_text,
                r.missing_texts,
                r.negative_texts,
            )
        )
    return ReasonCatalogue(spec.version, tuple(reasons), descriptions)


def _field(value: Any, spec: str) -> str:
    """One placeholder's text: a missing value reads 'unknown', a number without a format spec
    reads as :func:`plain`, and a spec that does not fit the value (a category under ``:.0f``)
    falls back to plain text instead of failing the whole list."""
    if _missing(value):
        return "unknown"
    if not spec:
        return plain(value)
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        return plain(value)


PER_CUSTOMER_FIELDS = ("value", "value_churn_rate")


def render_many(
    template: str,
    *,
    feature: str,
    values: Sequence[Any],
    typical: Any,
    description: str,
    churn_rate_by_value: Mapping[str, float] | None = None,
    overall_churn_rate: float | None = None,
) -> list[str]:
    """The reason sentence for each of ``values`` (one customer each), e.g. "No purchase for 74
    days; typical for active customers: 21 days".

    Placeholders: {value}, {typical}, {description}, {feature} (the feature's name in words:
    "Tech support"), and for categories {value_churn_rate} (churn rate of customers with this
    value, from ``churn_rate_by_value``) and {overall_churn_rate}. The template is parsed
    once and the fixed parts formatted once, so a million sentences take seconds.
    """
    words = feature.replace("_", " ")
    fixed = {
        "typical": typical,
        "description": description,
        "feature": words[:1].upper() + words[1:],
        "overall_churn_rate": overall_churn_rate,
    }
    parts: list[tuple[str, str | None, str]] = []  # (literal, per-customer field, spec)
    for literal, name, spec, _ in string.Formatter().parse(template):
        if name is None:
            parts.append((literal, None, ""))
        elif name in PER_CUSTOMER_FIELDS:
            parts.append((literal, name, spec or ""))
        elif name in fixed:
            parts.append((literal + _field(fixed[name], spec or ""), None, ""))
        else:
            raise ConfigError(
                f"reason sentence {template!r}: unknown placeholder {{{name}}}. Expected some of "
                f"{sorted([*PER_CUSTOMER_FIELDS, *fixed])}."
            )
    rates = churn_rate_by_value or {}
    out = []
    for value in values:
        pieces = []
        for literal, name, spec in parts:
            pieces.append(literal)
            if name == "value":
                pieces.append(_field(value, spec))
            elif name is not None:
                pieces.append(
                    _field(None if _missing(value) else rates.get(value_key(value)), spec)
                )
        out.append(_singular("".join(pieces)))
    return out


_ONE_OF_PLURAL = re.compile(
    r"(?<![\d.,])1 (day|week|month|year|order|purchase|event|visit|login|session|transaction)s\b"
)
"""A plural after the number 1 ("No activity for 1 days"), for one thing."""


def _singular(sentence: str) -> str:
    """``sentence`` with "1 days" written "1 day" (and weeks, orders, ...)."""
    return _ONE_OF_PLURAL.sub(r"1 \1", sentence) if "1 " in sentence else sentence


def value_key(value: Any) -> str:
    """The key a value's churn rate is filed under: 1, 1.0 and "1" are one key."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float | int) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def plain(value: Any) -> str:
    """A value as a person would write it: 3, 2.5, 0.33, 'Month-to-month', 'unknown'."""
    if _missing(value):
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        number = float(value)
        if number.is_integer():
            return f"{number:,.0f}"
        return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.2g}"
    return str(value)
