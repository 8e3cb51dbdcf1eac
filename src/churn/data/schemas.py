"""The canonical tables as pandera schemas, and their failures as the contract's problems.

One schema per canonical table: ``events``, ``customers``, ``churn_events``, ``contacts`` and
``snapshot``.
Each names its columns, their types (text checked value by value: object or pandas' string
dtype) and nullability, the key's uniqueness where it must be unique, and range checks on
values. Missing values that the mapping reports itself (a timestamp or number it could not
read) are allowed here, so that each is reported once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import warnings
from collections.abc import Collection, Iterator, Sequence

import numpy as np
import pandas as pd

from churn.data.problems import Problems, row_labels
from churn.settings import SourceSettings

SPARK_LOCAL_IP = "SPARK_LOCAL_IP"


@contextlib.contextmanager
def without_pyspark_pandas_warning() -> Iterator[None]:
    """Where pyspark is installed (churn[spark]), pandera imports pyspark.pandas, on import and
    again lazily on the first validation, which warns that it does not fully support pandas 3.
    churn never uses pyspark.pandas.

    On import pandera also sets ``SPARK_LOCAL_IP=127.0.0.1`` when it is unset; a Spark driver
    started later in the process would then listen on, and give executors, an address no
    other machine reaches. It is unset again, so Spark chooses the address as it always does
    (sessions on ``local[…]`` masters are bound to 127.0.0.1 by churn itself)."""
    had_local_ip = SPARK_LOCAL_IP in os.environ
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message="PySpark does not yet fully support pandas",
                category=FutureWarning,
            )
            yield
    finally:
        if not had_local_ip:
            os.environ.pop(SPARK_LOCAL_IP, None)


with without_pyspark_pandas_warning():
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

MAX_ABS_AMOUNT = 1e12
"""Larger amounts (or infinities) on one event are refused: they come from a wrong unit or a
misread number, and would swamp every monetary feature."""

MISSING_EVENT_CUSTOMER = (
    "customer id is missing (set data.events.drop_missing_customer_id: true "
    "to drop such rows, e.g. guest checkouts)"
)

_RULES = "rules"
"""Key of a column's pandera metadata: the contract's wording of a built-in check's failure,
by pandera's name for the check (other failures read 'fails check <name>')."""


def _all_text(values: pd.Series) -> bool:
    return pd.api.types.infer_dtype(values, skipna=True) in {"string", "empty"}


_TEXT = pa.Check(_all_text, name="text", ignore_na=False)
"""Every value a ``str`` or missing. pandera's own ``str`` dtype tests value by value in Python
(about 0.3 s per million values: validating 2M events took 4 s instead of under 1 s), and a check
that ignores missing values first copies the column without them; ``infer_dtype`` scans in C and
skips missing values itself."""


def _text_column(
    *, nullable: bool = True, unique: bool = False, metadata: dict[str, object] | None = None
) -> pa.Column:
    # any dtype: object, or pandas' own string dtype where a column was filled with one text
    return pa.Column(None, checks=_TEXT, nullable=nullable, unique=unique, metadata=metadata)


def _customer_id(*, unique: bool, missing: str = "customer id is missing") -> pa.Column:
    rules = {"not_nullable": missing, "field_uniqueness": "customer id is not unique"}
    return _text_column(nullable=False, unique=unique, metadata={_RULES: rules})


def _attributes(names: Collection[str], *, numeric: Collection[str] = ()) -> dict[str, pa.Column]:
    """Attribute columns: text, or floats for those named ``numeric``; either may be missing."""
    return {n: pa.Column(float, nullable=True) if n in numeric else _text_column() for n in names}


def _timestamp_column(*checks: pa.Check) -> pa.Column:
    """UTC-naive timestamps; missing where the value was blank or unparseable (reported by the
    mapping)."""
    return pa.Column("datetime64[us]", checks=list(checks), nullable=True)


def events_schema(
    now: dt.datetime,
    attributes: Sequence[str] = (),
    measures: Sequence[str] = (),
    *,
    numeric_attributes: Collection[str] = (),
    covered: bool = False,
) -> pa.DataFrameSchema:
    """Cleaned events, before overlaps and duplicates are settled: ``EVENT_FRAME_COLUMNS``,
    ``covered_until`` when ``covered`` (timestamps, or missing), ``attributes`` (text, floats
    for those of ``numeric_attributes``), then ``measures`` (finite numbers, or missing). No
    event may lie in the future of ``now`` (a day's grace for time zones)."""
    horizon = pd.Timestamp(now) + pd.Timedelta(days=1)
    return pa.DataFrameSchema(
        {
            "customer_id": _customer_id(unique=False, missing=MISSING_EVENT_CUSTOMER),
            "ts": _timestamp_column(
                pa.Check(lambda s: s >= pd.Timestamp("1900-01-01"), name="not before 1900"),
                pa.Check(
                    lambda s: s <= horizon, name=f"not in the future (after {horizon:%Y-%m-%d})"
                ),
            ),
            "event_type": _text_column(nullable=False),
            "amount": pa.Column(
                float,
                checks=pa.Check(
                    lambda s: (s.abs() <= MAX_ABS_AMOUNT) | s.isna(),
                    name=f"a finite amount of at most {MAX_ABS_AMOUNT:.0e} either way "
                    "(a unit or parsing error?)",
                ),
                nullable=True,
            ),
            "quantity": pa.Column(
                float,
                checks=pa.Check(lambda s: np.isfinite(s) | s.isna(), name="finite"),
                nullable=True,
            ),
            "order_id": _text_column(),
            "product_id": _text_column(),
            **({"covered_until": _timestamp_column()} if covered else {}),
            **_attributes(attributes, numeric=numeric_attributes),
            **{
                name: pa.Column(
                    float,
                    checks=pa.Check(lambda s: np.isfinite(s) | s.isna(), name="finite"),
                    nullable=True,
                )
                for name in measures
            },
        },
        strict=False,
    )


def customers_schema(attributes: Sequence[str], *, signup_date: bool) -> pa.DataFrameSchema:
    """One source's customers: a unique ``customer_id``, ``signup_date`` when mapped, then
    ``attributes``."""
    columns = {"customer_id": _customer_id(unique=True)}
    if signup_date:
        columns["signup_date"] = _timestamp_column()
    return pa.DataFrameSchema({**columns, **_attributes(attributes)}, strict=True)


def churn_events_schema() -> pa.DataFrameSchema:
    """One source's churn events: ``customer_id`` and ``ts``."""
    columns = {"customer_id": _customer_id(unique=False), "ts": _timestamp_column()}
    return pa.DataFrameSchema(columns, strict=True)


def contacts_schema() -> pa.DataFrameSchema:
    """One source's contacts: ``customer_id``, ``ts``, ``action`` (text, missing on control rows
    that did not record one), ``control`` (bool), ``channel`` (text) and ``cost`` (a finite
    amount of at least 0, may be missing)."""
    columns = {
        "customer_id": _customer_id(unique=False),
        "ts": _timestamp_column(),
        "action": _text_column(),
        "control": pa.Column(bool),
        "channel": _text_column(),
        "cost": pa.Column(
            float,
            checks=pa.Check(
                lambda s: ((s >= 0) & np.isfinite(s)) | s.isna(), name="a finite cost of at least 0"
            ),
            nullable=True,
        ),
    }
    return pa.DataFrameSchema(columns, strict=True)


def snapshot_schema(
    attributes: Sequence[str], *, numeric: Collection[str] = ()
) -> pa.DataFrameSchema:
    """A snapshot: a unique ``customer_id``, ``churned``, then ``attributes`` (floats for those
    named ``numeric``, text for the rest)."""
    columns = {"customer_id": _customer_id(unique=True), "churned": pa.Column(bool)}
    return pa.DataFrameSchema({**columns, **_attributes(attributes, numeric=numeric)}, strict=True)


def schema_problems(
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    src: SourceSettings,
    problems: Problems,
) -> None:
    """Run a pandera schema lazily; add each failure to ``problems`` under the user's column
    name, counted in full, with examples: the values, or the rows where a value is missing."""
    user_names = {"ts": src.columns.get("timestamp", "ts"), **src.columns, **src.attributes}
    try:
        with without_pyspark_pandas_warning():
            schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
            declared = schema.columns.get(column)
            rules = (declared.metadata or {}).get(_RULES, {}) if declared is not None else {}
            if check == "not_nullable":
                bad = row_labels(group["index"])
            else:
                bad = group["failure_case"].astype(object).map(_readable)
            rule = rules.get(check, f"fails check {check}")
            problems.add(src.path, user_names.get(str(column), str(column)), rule, bad)


def _readable(value: object) -> object:
    """Timestamps as their text ('2099-01-01 10:00:00'), not their repr, in examples."""
    return str(value) if isinstance(value, pd.Timestamp) else value
