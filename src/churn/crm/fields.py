"""What each exported column is in the CRM: its type, its length, its options, whether the CRM
already has it. The field definitions shipped with each export (:mod:`churn.crm.definitions`)
and the truncation of text to declared lengths (:mod:`churn.crm.writers`) both read it here.

Types are the value's kind, mapped to each CRM's own type by the definition writers:

* ``text`` (with ``length``), ``number`` (with ``scale``, decimals), ``percent`` (0 to 100),
  ``date``, ``datetime``, ``boolean``, ``enumeration`` (with ``options``), ``email``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from churn.settings import ExportColumn, PlaybookSettings

type FieldType = Literal[
    "text", "number", "percent", "date", "datetime", "boolean", "enumeration", "email"
]

CONTACT_PREFIX = "contact."
"""An export column whose source starts with this comes from the contact fields (``contact.email``)
rather than from the scores."""

TIERS = ("High", "Medium", "Low")
STATUSES = ("contact", "control", "control: do not contact", "not in outreach")
"""Every ``outreach_status`` a CRM file may hold: the scores' three, and ``control`` for the
control rows written with ``include_control: true``."""
CONTROL_STATUS = "control"

TEXT_LENGTH = 255
"""Default length of a text field: a Salesforce Text field holds at most 255 characters, so the
same cut keeps every target's files alike."""


@dataclass(frozen=True)
class FieldSpec:
    """One column of a CRM file as the CRM must declare it."""

    name: str
    """The field's name in the CRM (the file's header)."""
    source: str
    """The scores column, or ``contact.<field>``, it is filled from."""
    type: FieldType
    label: str
    length: int | None = None
    """text and email: the most characters the field holds (longer text is cut)."""
    scale: int = 0
    """number and percent: digits after the decimal point."""
    options: tuple[str, ...] = ()
    """enumeration: every value the file may hold."""
    standard: bool = False
    """The CRM has this field already (LastName, email, contactid): nothing to create."""
    key: bool = False
    """The field the CRM matches rows on."""


_NUMBER_SCALE = {"churn_probability": 4, "priority_rank": 0}

_CONTACT_TYPES: dict[str, tuple[FieldType, int]] = {
    "email": ("email", 80),
    "first_name": ("text", 40),
    "last_name": ("text", 80),
    "company": ("text", 255),
    "crm_id": ("text", 100),
    "external_id": ("text", 100),
}
"""Types and lengths of the contact fields (Salesforce's own: Email 80, FirstName 40, LastName
80; the shortest of the three CRMs where they differ)."""


def action_options(playbook: PlaybookSettings) -> tuple[str, ...]:
    """Every recommended action the scores can hold: the playbook's rules, its default action,
    the action of customers not contacted; in that order, without repeats."""
    actions = [r.action for r in playbook.rules]
    actions += [playbook.default_action, playbook.not_contacted_action]
    return tuple(dict.fromkeys(actions))


def label(source: str) -> str:
    """A field label people read: ``reason_1_text`` -> ``Churn reason 1 text``, and
    ``contact.last_name`` -> ``Last name``."""
    if source.startswith(CONTACT_PREFIX):
        words = source.removeprefix(CONTACT_PREFIX).replace("_", " ")
        return words[:1].upper() + words[1:]
    return "Churn " + source.removeprefix("churn_").replace("_", " ")


NUMBERS = ("churn_probability", "priority_rank", "expected_value", "value_at_risk")
SHORT_TEXT = ("_code", "_id", "_name", "_version")
"""Endings of text columns cut at 80 characters (codes and ids), not :data:`TEXT_LENGTH`."""


def field_spec(
    column: ExportColumn,
    *,
    actions: Sequence[str],
    standard: Collection[str] = (),
    key: bool = False,
) -> FieldSpec:
    """The definition of one exported ``column``. ``actions``: the recommended actions
    (:func:`action_options`); ``standard``: names of fields the CRM already has."""
    source = column.source
    kind: FieldType
    length: int | None = None
    scale = 0
    options: tuple[str, ...] = ()
    if source.startswith(CONTACT_PREFIX):
        kind, length = _CONTACT_TYPES.get(source.removeprefix(CONTACT_PREFIX), ("text", 255))
    elif source == "cutoff":
        kind = "date"
    elif source == "scored_at":
        kind = "datetime"
    elif source in ("control_group", "in_outreach") or source.endswith("_actionable"):
        kind = "boolean"
    elif source == "risk_tier":
        kind, options = "enumeration", TIERS
    elif source == "outreach_status":
        kind, options = "enumeration", STATUSES
    elif source == "recommended_action":
        kind, options = "enumeration", tuple(actions)
    elif source == "risk_percentile":
        kind, scale = "percent", 2
    elif source in NUMBERS or source == "expected_value_saved":
        kind, scale = "number", _NUMBER_SCALE.get(source, 2)
    else:
        kind, length = "text", 80 if source.endswith(SHORT_TEXT) else TEXT_LENGTH
    if column.max_length is not None and kind in ("text", "email"):
        length = column.max_length
    return FieldSpec(
        name=column.name,
        source=source,
        type=kind,
        label=label(source),
        length=length,
        scale=scale,
        options=options,
        standard=column.name in standard,
        key=key,
    )
