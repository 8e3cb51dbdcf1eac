"""What ``churn init`` found, as the rows of the table it prints: (role, column or value, how
it was found). Pure: a plan and the flags in, rows out."""

from __future__ import annotations

from churn.init.lapse import FREQUENT_HORIZON_DAYS, FREQUENT_RETURN_DAYS
from churn.init.plan import (
    DEFAULT_HORIZON_DAYS,
    CustomerTable,
    EventFlags,
    EventsPlan,
    SnapshotFlags,
    SnapshotPlan,
)
from churn.init.schedule import MIN_FITTED_CUTOFFS
from churn.init.sniff import FileFormat
from churn.io.excel_sheets import ALL_SHEETS

Row = tuple[str, str, str]


def _reading(fmt: FileFormat) -> str:
    if fmt.format == "parquet":
        return "parquet"
    if fmt.format == "json":
        return f"json records, {fmt.encoding}"
    if fmt.format == "excel":
        read = {None: "the first sheet", ALL_SHEETS: "every sheet"}.get(
            fmt.sheet, f"the largest sheet {fmt.sheet!r}"
        )
        after = f", header after {fmt.skip_rows} row(s)" if fmt.skip_rows else ""
        return f"excel, {read} of {list(fmt.sheets)}{after}"
    after = f", header after {fmt.skip_rows} line(s)" if fmt.skip_rows else ""
    return f"csv, {fmt.encoding}, separator {fmt.separator!r}{after}"


def _customers(table: CustomerTable) -> str:
    said = f"{len(table.attributes)} attributes"
    fmt = table.source.format
    if fmt.format == "excel" and fmt.sheet not in (None, ALL_SHEETS):
        said = f"sheet {fmt.sheet!r}, {said}"
    if table.contact_fields:
        said += f", contact fields {', '.join(table.contact_fields)}"
    return said


def _given(flag: object) -> str:
    return "given" if flag is not None else "guessed"


def _horizon(plan: EventsPlan, flags: EventFlags) -> str:
    if flags.horizon_days is not None:
        return "given"
    if plan.horizon_days == DEFAULT_HORIZON_DAYS:
        return "default"
    gap = plan.return_gap_days
    if (
        plan.horizon_days == FREQUENT_HORIZON_DAYS
        and gap is not None
        and gap <= FREQUENT_RETURN_DAYS
    ):
        return (
            f"99 % of returns came within {gap:.0f} days: a customer silent for "
            f"{FREQUENT_HORIZON_DAYS} days has left, and at {DEFAULT_HORIZON_DAYS} most churners "
            "would be gone before the cutoff; give --horizon-days to choose"
        )
    return (
        f"the data is too short for {DEFAULT_HORIZON_DAYS} days: the longest horizon that "
        f"leaves {MIN_FITTED_CUTOFFS} training cutoffs; give --horizon-days to choose"
    )


def events_findings(plan: EventsPlan, flags: EventFlags) -> list[Row]:
    rows = []
    for source, roles in plan.sources:
        rows.append(("file", source.path, _reading(source.format)))
        rows.append(("customer id", roles.customer_id, _given(flags.customer_id)))
        ts = roles.timestamp
        fmt = f"{ts.format or 'ISO 8601'}{' given' if flags.timestamp_format else ''}"
        rows.append(("timestamp", ts.column, f"{_given(flags.timestamp)}, {fmt}"))
        for role, flag in (("amount", flags.amount), ("order id", flags.order_id)):
            column = getattr(roles, role.replace(" ", "_"))
            if role == "amount" and column and roles.quantity:
                column = f"{roles.quantity} x {column}"  # units x unit price
            rows.append((role, column or "-", _given(flag) if column else "none found"))
        untyped = (
            "every event a purchase"
            if plan.return_rule is None
            else f"purchases; lines of an order id starting with {plan.return_rule!r} are returns"
        )
        rows.append(
            (
                "event type",
                roles.event_type or "-",
                untyped
                if roles.event_type is None
                else _given(flags.event_type)
                + (", a cancellation flag" if roles.cancel_flag else ""),
            )
        )
        if roles.product_id is not None:
            rows.append(("product id", roles.product_id, "guessed: distinct and new products"))
        if roles.measures:
            rows.append(("measures", ", ".join(roles.measures), "guessed: summed per window"))
        if roles.attributes:
            rows.append(
                (
                    "attributes",
                    ", ".join(roles.attributes),
                    "guessed: about the customer, the latest before a cutoff a category",
                )
            )
        if roles.numeric_attributes:
            rows.append(
                (
                    "attributes",
                    ", ".join(roles.numeric_attributes),
                    "guessed: one number per customer, the latest before a cutoff a feature",
                )
            )
    if plan.customers is not None:
        c = plan.customers
        rows.append(("customers", c.source.path, _customers(c)))
    if plan.churn_events is not None:
        rows.append(
            ("cancellations", plan.churn_events.source.path, plan.churn_events.timestamp.column)
        )
    cut = plan.cutoffs
    rows += [
        (
            "horizon",
            f"{plan.horizon_days} days",
            _horizon(plan, flags),
        ),
        (
            "train cutoffs",
            f"{len(cut.train_cutoffs)}, {cut.train_cutoffs[0]} to {cut.train_cutoffs[-1]}",
            cut.step,
        ),
        ("test cutoff", str(cut.test_cutoff), _given(flags.test_cutoff)),
    ]
    return rows


def snapshot_findings(plan: SnapshotPlan, flags: SnapshotFlags) -> list[Row]:
    roles = plan.roles
    n_num = len(plan.numeric_attributes)
    extra: list[Row] = []
    if plan.customers is not None:
        c = plan.customers
        extra.append(("customers", c.source.path, _customers(c)))
    return [
        ("file", plan.source.path, _reading(plan.source.format)),
        ("customer id", roles.customer_id or "-", _given(flags.customer_id)),
        ("label", roles.label, _given(flags.label)),
        (
            ("churned value", "any value (a blank stayed)", "a cancellation date")
            if roles.filled
            else ("churned value", roles.positive, _given(flags.positive))
        ),
        ("value", roles.value or "-", _given(flags.value) if roles.value else "none found"),
        *_billing(plan.charge_columns if roles.value else (None, None)),
        (
            "attributes",
            f"{len(plan.attributes)}",
            f"{n_num} numeric, {len(plan.date_attributes)} dates, "
            f"{len(plan.attributes) - n_num - len(plan.date_attributes)} categories",
        ),
        *extra,
        ("snapshot date", str(plan.snapshot_date), plan.dated_by),
    ]


def _billing(columns: tuple[str | None, str | None]) -> list[Row]:
    """The rows of a charge's billing period and units, when init found them."""
    period, units = columns
    rows: list[Row] = []
    if period is not None:
        rows.append(("billing period", period, "the charge is for that period, made monthly"))
    if units is not None:
        rows.append(("units", units, "the charge is per unit: a seat, a licence"))
    return rows
