"""The snapshot contract: one raw row per customer mapped onto ``customer_id``, ``churned``
(bool), then attribute columns, whatever the export looks like.

* Attributes are the mapped ones (``source.attributes``), or when none are mapped every column
  other than the id and the label (less ``exclude``), named as the column and numeric when its
  values read as numbers.
* Without a mapped id the customers are numbered by row (``row_1``, ``row_2``, ...).
* The label is compared with ``positive_label`` after trimming and case-folding, so ``" Yes"``,
  ``"YES"`` and ``"yes"`` all count as churned; numbers compare by value (``"1.0"`` is ``"1"``).
  With ``churned_when: filled`` any value churned and a blank stayed (a cancellation date).
* A customers table (``data.customers``) adds its attributes by ``customer_id``.

Nothing here touches files; :func:`snapshot_notes` says in words what was decided, for the log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from churn.data.contract import customer_ids
from churn.data.inference import is_numeric
from churn.data.parsing import clean_text, parse_numbers, parse_timestamps
from churn.data.problems import Problems, row_labels
from churn.data.schemas import schema_problems, snapshot_schema
from churn.errors import Problem
from churn.settings import SnapshotSettings, SourceSettings

RESERVED = ("customer_id", "churned", "cutoff")
"""Canonical column names an attribute cannot take."""


@dataclass(frozen=True)
class SnapshotColumns:
    """Which raw columns play which role."""

    customer_id: str | None
    label: str | None
    attributes: dict[str, str]
    """attribute name -> raw column, in file order when inferred."""
    numeric: frozenset[str]
    inferred: bool
    """True when the attributes were taken from the file rather than mapped."""


def label_text(value: object) -> str | None:
    """A label value as compared with ``positive_label``: trimmed, case-folded, whole numbers
    without their decimals ('1.0' -> '1'); None when missing or blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip().casefold()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


UNSAFE_IN_NAMES = {"[": "(", "]": ")", "<": "lt "}
"""Characters xgboost refuses in feature names, and what an attribute taken from the file gets
instead (``Price [EUR]`` -> ``Price (EUR)``)."""


def attribute_name(column: str) -> str:
    """The attribute a raw column becomes when attributes are taken from the file: its name,
    less the characters a model cannot take in a feature name (:data:`UNSAFE_IN_NAMES`)."""
    for bad, good in UNSAFE_IN_NAMES.items():
        column = column.replace(bad, good)
    return column.strip()


def snapshot_columns(raw: pd.DataFrame, settings: SnapshotSettings) -> SnapshotColumns:
    """The roles of ``raw``'s columns (see the module docstring); nothing is checked here."""
    src = settings.source
    customer_id = src.columns.get("customer_id")
    label = src.columns.get("label")
    if src.attributes:
        return SnapshotColumns(
            customer_id, label, dict(src.attributes), frozenset(settings.numeric_attributes), False
        )
    skip = {customer_id, label, *settings.exclude}
    attributes = {attribute_name(str(c)): str(c) for c in raw.columns if str(c) not in skip}
    numeric = set(settings.numeric_attributes) | {
        name for name, col in attributes.items() if is_numeric(raw[col], src.decimal)
    }
    return SnapshotColumns(customer_id, label, attributes, frozenset(numeric), True)


def _column_problems(
    raw: pd.DataFrame, settings: SnapshotSettings, roles: SnapshotColumns, problems: Problems
) -> None:
    src, found = settings.source, list(map(str, raw.columns))
    wanted = {**src.columns, **src.attributes}
    for target, col in wanted.items():
        if col not in raw.columns:
            problems.items.append(
                Problem(
                    src.path,
                    col,
                    f"column mapped to {target!r} not found; the file has columns {found}",
                    0,
                )
            )
    if roles.label is None:
        problems.items.append(
            Problem(src.path, "label", "the snapshot must map a 'label' column", 0)
        )
    unknown = sorted(set(settings.exclude) - set(found))
    if unknown:
        problems.items.append(
            Problem(src.path, str(unknown), f"exclude names no column of the file {found}", 0)
        )
    unsafe = sorted(a for a in roles.attributes if attribute_name(a) != a)
    if unsafe:
        problems.items.append(
            Problem(
                src.path,
                str(unsafe),
                f"attribute names cannot hold any of {list(UNSAFE_IN_NAMES)} (the model refuses "
                "them); rename them in source.attributes",
                0,
            )
        )
    if roles.inferred:
        taken = [c for c in found if c not in {roles.customer_id, roles.label, *settings.exclude}]
        named = [attribute_name(c) for c in taken]
        repeated = sorted({c for c, n in zip(taken, named, strict=True) if named.count(n) > 1})
        if repeated:
            problems.items.append(
                Problem(
                    src.path,
                    str(repeated),
                    "these columns give one attribute name; map the attributes in "
                    "source.attributes, or exclude some",
                    0,
                )
            )
    reserved = sorted(set(roles.attributes) & set(RESERVED))
    if reserved:
        problems.items.append(
            Problem(
                src.path,
                str(reserved),
                "an attribute cannot be named like a canonical column; map it under another "
                "name in source.attributes, or add it to exclude",
                0,
            )
        )
    if raw.empty:
        problems.items.append(Problem(src.path, "<all>", "the file has a header but no rows", 0))


def _customer_ids(
    raw: pd.DataFrame, column: str | None, src: SourceSettings, problems: Problems
) -> pd.Series:
    if column is None:
        return pd.Series([f"row_{i + 1}" for i in range(len(raw))], index=raw.index, dtype=object)
    return customer_ids(raw[column], src, problems)


def _attribute_values(values: pd.Series, blank_as_missing: bool) -> pd.Series:
    if blank_as_missing and not pd.api.types.is_numeric_dtype(values):
        text = values.astype("string").str.strip()
        return text.where(text != "")
    return values


def _churned(label: pd.Series, settings: SnapshotSettings, problems: Problems) -> pd.Series:
    """Whether each row's label is ``positive_label`` (see :func:`label_text`); a missing
    label, or one value for every row, is a problem."""
    path, column = settings.source.path, str(label.name)
    folded = label.map(label_text)
    if settings.churned_when == "filled":  # a cancellation date: blank while a customer
        churned = folded.notna().astype(bool)
        rule = "churned_when 'filled' (a value churned, a blank stayed)"
    else:
        if folded.isna().any():
            problems.add(path, column, "label is missing", row_labels(folded.index[folded.isna()]))
        churned = (folded == label_text(settings.positive_label)).astype(bool)
        rule = f"positive_label {settings.positive_label!r}"
    if churned.all() or not churned.any():
        found = sorted(clean_text(label).dropna().unique().tolist())[:5]
        problems.items.append(
            Problem(
                path,
                column,
                f"{rule} must split the rows into two classes; values found: {found}",
                len(label),
            )
        )
    return churned


def _customer_problems(
    customers: pd.DataFrame | None,
    extra: list[str],
    roles: SnapshotColumns,
    path: str,
    problems: Problems,
) -> None:
    """A customers table joins by the snapshot's customer_id, with attribute names of its own."""
    if customers is not None and roles.customer_id is None:
        problems.items.append(
            Problem(
                path,
                "customer_id",
                "data.customers is joined by customer_id, which the snapshot does not map; map "
                "it in source.columns, or remove data.customers",
                0,
            )
        )
    clash = sorted(set(extra) & set(roles.attributes))
    if clash:
        problems.items.append(
            Problem(
                path,
                str(clash),
                "data.customers has attributes of these names too; rename them in "
                "data.customers or add them to data.snapshot.exclude",
                0,
            )
        )


def canonical_snapshot(
    raw: pd.DataFrame, settings: SnapshotSettings, customers: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A snapshot table: customer_id, churned, then attributes (numeric ones as floats), then
    the attributes of ``customers`` (a canonical customers table) joined by customer_id.

    Raises ContractViolation naming every problem at once.
    """
    src = settings.source
    problems = Problems()
    roles = snapshot_columns(raw, settings)
    _column_problems(raw, settings, roles, problems)
    problems.raise_if_any("Fix the snapshot file or its mapping in data.snapshot.")
    assert roles.label is not None
    out = pd.DataFrame({"customer_id": _customer_ids(raw, roles.customer_id, src, problems)})
    out["churned"] = _churned(raw[roles.label], settings, problems)
    extra = [] if customers is None else _customer_attributes(customers)
    _customer_problems(customers, extra, roles, src.path, problems)
    known = set(roles.attributes) | set(extra)
    unknown = sorted(set(settings.numeric_attributes) - known)
    if unknown:
        problems.items.append(
            Problem(src.path, str(unknown), "numeric_attributes must be mapped attributes", 0)
        )
    numeric = set(roles.numeric) | {
        c
        for c in extra
        if c in settings.numeric_attributes or (customers is not None and is_numeric(customers[c]))
    }
    _tenure_problems(settings, known, numeric, problems)
    unknown_dates = sorted(set(settings.date_attributes) - set(roles.attributes))
    if unknown_dates:
        problems.items.append(
            Problem(src.path, str(unknown_dates), "date_attributes must be mapped attributes", 0)
        )
    numeric |= set(settings.date_attributes)
    for attr, col in roles.attributes.items():
        values = _attribute_values(raw[col], settings.blank_as_missing)
        if attr in settings.date_attributes:
            out[attr] = _epoch_days(values, src, problems)
        elif attr in numeric:
            parsed, bad = parse_numbers(values, src.decimal)
            if len(bad) and not (roles.inferred and attr not in settings.numeric_attributes):
                problems.add(src.path, col, "expected a number", bad)
            out[attr] = parsed  # inferred numeric: the few values that are not numbers are missing
        else:
            out[attr] = clean_text(values)
    if customers is not None and extra:
        out = _joined(out, customers, extra, numeric)
    names = [*roles.attributes, *extra]
    schema = snapshot_schema(names, numeric=numeric)
    schema_problems(out, schema, _with_attributes(src, roles), problems)
    problems.raise_if_any("Fix the snapshot file or its mapping in data.snapshot.")
    return out


def _epoch_days(values: pd.Series, src: SourceSettings, problems: Problems) -> pd.Series:
    """A date attribute as days since 1970-01-01 (a float; missing where blank): the features
    turn it into days before the snapshot date (:func:`churn.features.snapshot.days_before`)."""
    parsed, bad = parse_timestamps(values, fmt=src.timestamp_format, timezone="UTC")
    if len(bad):
        fmt = src.timestamp_format or "ISO 8601"
        problems.add(src.path, str(values.name), f"expected a date (format {fmt})", bad)
    return (parsed - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86_400


def _customer_attributes(customers: pd.DataFrame) -> list[str]:
    """Attribute columns of a canonical customers table (its ``signup_date`` is not one)."""
    return [str(c) for c in customers.columns if c not in ("customer_id", "signup_date")]


def _joined(
    snapshot: pd.DataFrame, customers: pd.DataFrame, extra: list[str], numeric: set[str]
) -> pd.DataFrame:
    """``snapshot`` with the ``extra`` attributes of ``customers`` (left join on
    customer_id: customers the table lacks have them missing)."""
    table = customers[["customer_id", *extra]].copy()
    for name in extra:
        if name in numeric:
            table[name] = parse_numbers(table[name])[0]
    return snapshot.merge(table, on="customer_id", how="left", validate="many_to_one")


def _tenure_problems(
    settings: SnapshotSettings, known: set[str], numeric: set[str], problems: Problems
) -> None:
    tenure = settings.tenure_attribute
    if tenure is None:
        return
    if tenure not in known:
        rule = f"tenure_attribute must be an attribute; the attributes are {sorted(known)}"
    elif tenure not in numeric:
        rule = "tenure_attribute must be numeric: add it to numeric_attributes"
    else:
        return
    problems.items.append(Problem(settings.source.path, tenure, rule, 0))


def _with_attributes(src: SourceSettings, roles: SnapshotColumns) -> SourceSettings:
    """``src`` with the attributes it has in effect (error messages quote the raw names)."""
    if not roles.inferred:
        return src
    return src.model_copy(update={"attributes": roles.attributes})


def snapshot_warnings(settings: SnapshotSettings) -> list[str]:
    """What :func:`canonical_snapshot` does that a user may not expect, for the log."""
    if "customer_id" in settings.source.columns:
        return []
    return [
        "data.snapshot.source.columns maps no customer_id: customers are numbered by row "
        "(row_1, row_2, ...), so scores cannot be matched to your records; map the id column "
        "to key them on your ids"
    ]


def snapshot_notes(raw: pd.DataFrame, settings: SnapshotSettings) -> list[str]:
    """What :func:`canonical_snapshot` decided for ``raw`` without being told, in words for
    the log: the attributes taken from the file and which label values counted as churned."""
    roles = snapshot_columns(raw, settings)
    notes = []
    if roles.inferred:
        categorical = [a for a in roles.attributes if a not in roles.numeric]
        notes.append(
            f"attributes: every column but the id and the label ({len(roles.attributes)}): "
            f"{len(roles.numeric)} numeric, {len(categorical)} categorical "
            f"({', '.join(categorical[:10]) or 'none'}); list data.snapshot.exclude to drop some"
        )
    if roles.label is not None and roles.label in raw.columns and settings.churned_when == "filled":
        filled = raw[roles.label].map(label_text).notna()
        notes.append(
            f"label {roles.label!r}: {int(filled.sum()):,} rows with a value counted as churned, "
            f"{int((~filled).sum()):,} blank as stayed (churned_when 'filled')"
        )
    elif roles.label is not None and roles.label in raw.columns:
        positive = label_text(settings.positive_label)
        values = [v for v in raw[roles.label].unique() if label_text(v) is not None]
        churned = sorted({str(v) for v in values if label_text(v) == positive})
        stayed = sorted({str(v) for v in values if label_text(v) != positive})
        notes.append(
            f"label {roles.label!r}: {churned} counted as churned "
            f"(positive_label {settings.positive_label!r}, trimmed and case-folded), "
            f"{stayed[:10]} as stayed"
        )
    return notes
