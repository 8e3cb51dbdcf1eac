"""Field definitions shipped with each export, so that a CRM admin creates the fields once from
them instead of by hand (how: docs/crm.md, "Creating the fields"). Pure: each function returns
``{relative path: file bytes}`` for the export stage to write under ``data/exports/<p>/``.

* Salesforce: ``salesforce/objects/Contact/fields/<Field>.field-meta.xml`` (Metadata API
  ``CustomField``, source format) and ``salesforce/package.xml`` listing them, deployable with
  ``sf project deploy start --manifest package.xml``.
* HubSpot: ``hubspot/property_group.json`` and ``hubspot/properties.json``, the bodies of
  ``POST /crm/v3/properties/contacts/groups`` and ``.../contacts/batch/create``.
* Dynamics 365: ``dynamics/columns.csv`` (each column's logical name, type, length, options and
  whether it is the alternate key) and ``dynamics/datamap.xml``, a data map from the file's
  headers to those columns with the option-set values of each choice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from xml.sax.saxutils import escape

import pandas as pd

from churn.crm.fields import FieldSpec, field_spec
from churn.crm.keys import STANDARD_FIELDS
from churn.settings import ExportTarget

SALESFORCE_API_VERSION = "60.0"
HUBSPOT_GROUP = "churn"
DYNAMICS_OPTION_BASE = 100_000_000
"""First value of a Dynamics choice's options (the default customization prefix's range)."""

type Definitions = dict[str, bytes]


def field_specs(target: str, settings: ExportTarget, actions: Sequence[str]) -> list[FieldSpec]:
    """The definition of every column of ``target``'s file, the first being its key.
    ``actions``: the recommended actions (:func:`churn.crm.fields.action_options`)."""
    return [
        field_spec(column, actions=actions, standard=STANDARD_FIELDS[target], key=position == 0)
        for position, column in enumerate(settings.columns)
    ]


def _xml(lines: Sequence[str]) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(lines) + "\n").encode()


def _tag(name: str, value: object, indent: int = 4) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{' ' * indent}<{name}>{escape(text)}</{name}>"


def _salesforce_field(spec: FieldSpec) -> bytes:
    lines = ['<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">']
    lines += [_tag("fullName", spec.name), _tag("label", spec.label[:40])]
    if spec.type in ("text", "email"):
        lines += [_tag("type", "Text" if spec.type == "text" else "Email")]
        if spec.type == "text":
            lines += [_tag("length", spec.length or 255)]
        lines += [_tag("externalId", spec.key), _tag("unique", spec.key)]
    elif spec.type in ("number", "percent"):
        precision = 5 if spec.type == "percent" else 18
        lines += [_tag("type", "Percent" if spec.type == "percent" else "Number")]
        lines += [_tag("precision", precision), _tag("scale", spec.scale)]
    elif spec.type in ("date", "datetime"):
        lines += [_tag("type", "Date" if spec.type == "date" else "DateTime")]
    elif spec.type == "boolean":
        lines += [_tag("type", "Checkbox"), _tag("defaultValue", False)]
    else:
        lines += [_tag("type", "Picklist"), "    <valueSet>", _tag("restricted", True, 8)]
        lines += ["        <valueSetDefinition>", _tag("sorted", False, 12)]
        for option in spec.options:
            lines += ["            <value>", _tag("fullName", option, 16)]
            lines += [_tag("default", False, 16), _tag("label", option, 16), "            </value>"]
        lines += ["        </valueSetDefinition>", "    </valueSet>"]
    lines += [_tag("required", False), "</CustomField>"]
    return _xml(lines)


def salesforce_definitions(specs: Sequence[FieldSpec]) -> Definitions:
    """Contact custom fields as deployable metadata, and the ``package.xml`` naming them. Fields
    Salesforce has already (Id, LastName, Email) are not among them."""
    custom = [s for s in specs if not s.standard]
    files = {
        f"salesforce/objects/Contact/fields/{s.name}.field-meta.xml": _salesforce_field(s)
        for s in custom
    }
    package = ['<Package xmlns="http://soap.sforce.com/2006/04/metadata">', "    <types>"]
    package += [_tag("members", f"Contact.{s.name}", 8) for s in custom]
    package += [_tag("name", "CustomField", 8), "    </types>"]
    package += [_tag("version", SALESFORCE_API_VERSION), "</Package>"]
    files["salesforce/package.xml"] = _xml(package)
    return files


_HUBSPOT_TYPES = {
    "text": ("string", "text"),
    "email": ("string", "text"),
    "number": ("number", "number"),
    "percent": ("number", "number"),
    "date": ("date", "date"),
    "datetime": ("date", "date"),  # the HubSpot file holds the date only (YYYY-MM-DD)
    "boolean": ("bool", "booleancheckbox"),
    "enumeration": ("enumeration", "select"),
}


def hubspot_property(spec: FieldSpec) -> dict[str, object]:
    """One contact property as the HubSpot properties API creates it."""
    kind, field_type = _HUBSPOT_TYPES[spec.type]
    prop: dict[str, object] = {
        "name": spec.name,
        "label": spec.label,
        "type": kind,
        "fieldType": field_type,
        "groupName": HUBSPOT_GROUP,
        "description": f"churn: {spec.source}",
        "formField": False,
    }
    if spec.key:
        prop["hasUniqueValue"] = True
    if spec.type == "boolean":
        prop["options"] = [
            {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
            {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
        ]
    elif spec.type == "enumeration":
        prop["options"] = [
            {"label": o, "value": o, "displayOrder": i, "hidden": False}
            for i, o in enumerate(spec.options)
        ]
    return prop


def hubspot_definitions(specs: Sequence[FieldSpec]) -> Definitions:
    """The property group and the batch of contact properties, HubSpot's own (email,
    hs_object_id, firstname, ...) left out."""
    group = {"name": HUBSPOT_GROUP, "label": "Churn", "displayOrder": -1}
    inputs = [hubspot_property(s) for s in specs if not s.standard]
    return {
        "hubspot/property_group.json": _json(group),
        "hubspot/properties.json": _json({"inputs": inputs}),
    }


def _json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


_DYNAMICS_TYPES = {
    "text": "Text",
    "email": "Email",
    "number": "Decimal",
    "percent": "Decimal",
    "date": "DateOnly",
    "datetime": "DateAndTime",
    "boolean": "TwoOptions",
    "enumeration": "Choice",
}


def dynamics_logical_name(spec: FieldSpec) -> str:
    """The Dataverse column a file column goes to: its own name for a standard column
    (``emailaddress1``), else ``churn_`` and the source's name in lower case."""
    if spec.standard:
        return spec.name
    return "churn_" + spec.source.removeprefix("churn_").replace(".", "_").lower()


def dynamics_options(spec: FieldSpec) -> dict[str, int]:
    """A choice's (or two-options column's) label -> option value."""
    if spec.type == "boolean":
        return {"false": 0, "true": 1}
    return {o: DYNAMICS_OPTION_BASE + i for i, o in enumerate(spec.options)}


def dynamics_definitions(specs: Sequence[FieldSpec], file_name: str) -> Definitions:
    """The column list (``columns.csv``) and the data map (``datamap.xml``) of ``file_name``."""
    rows = [
        {
            "source_column": s.name,
            "logical_name": dynamics_logical_name(s),
            "display_name": s.label,
            "type": _DYNAMICS_TYPES[s.type],
            "max_length": s.length if s.type in ("text", "email") else None,
            "precision": s.scale if s.type in ("number", "percent") else None,
            "options": "; ".join(f"{k}={v}" for k, v in dynamics_options(s).items())
            if s.type in ("enumeration", "boolean")
            else None,
            "alternate_key": s.key and s.name != "contactid",
            "standard": s.standard,
        }
        for s in specs
    ]
    table = pd.DataFrame(rows).astype({"max_length": "Int64", "precision": "Int64"})
    columns = table.to_csv(index=False, lineterminator="\r\n")
    lines = ['<Map Name="churn risk" Source="churn">', _tag("EntitiesPerFile", "Single")]
    lines += ["    <EntityMaps>"]
    lines += [f'        <EntityMap TargetEntityName="contact" SourceEntityName="{file_name}">']
    lines += ["            <AttributeMaps>"]
    for s in specs:
        lines += ["                <AttributeMap>"]
        lines += [_tag("SourceAttributeName", s.name, 20)]
        lines += [_tag("TargetAttributeName", dynamics_logical_name(s), 20)]
        lines += [_tag("ProcessCode", "Process", 20)]
        if s.type in ("enumeration", "boolean"):
            lines += ["                    <PicklistMaps>"]
            for option, value in dynamics_options(s).items():
                lines += ["                        <PicklistMap>"]
                lines += [_tag("SourceValue", option, 28), _tag("TargetValue", value, 28)]
                lines += [
                    _tag("ProcessCode", "Process", 28),
                    "                        </PicklistMap>",
                ]
            lines += ["                    </PicklistMaps>"]
        lines += ["                </AttributeMap>"]
    lines += ["            </AttributeMaps>", "        </EntityMap>", "    </EntityMaps>", "</Map>"]
    return {
        "dynamics/columns.csv": columns.encode("utf-8-sig"),
        "dynamics/datamap.xml": _xml(lines),
    }


WRITERS: Mapping[str, Callable[[Sequence[FieldSpec]], Definitions]] = {
    "salesforce": salesforce_definitions,
    "hubspot": hubspot_definitions,
    "dynamics": lambda specs: dynamics_definitions(specs, "dynamics.csv"),
}
"""Definition files of each target that has them (generic files are read by people)."""
