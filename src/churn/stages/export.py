"""Stage ``export``: ``scores.parquet`` -> ``data/exports/<p>/`` for CRM import.

Per target: the full file (``<target>.csv``); for each CRM (not the generic file, which people
read) also the delta since the previous list (``<target>_delta.csv``), dated copies of both
under ``history/``, the field definitions the CRM admin creates the fields from
(``<target>/``) and ``summary.json``, what each file holds and who was left out of it;
``control_group.csv``, the customers held out; ``contacts_log.csv``, the outreach slice in the
shape of ``data.contacts`` (:mod:`churn.crm.contacts_log`), to append once the campaign ran.

The list is read a batch of rows at a time (only the rows some file is made of), each batch's
contact fields joined by DuckDB out of core (:mod:`churn.io.list_contacts`), and every file is
appended to batch by batch while staged beside its destination: what export holds is a batch
and the keys of the delta, not the list. The files are put in place together at the end, so a
failure leaves the previous export as it was.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churn import io
from churn.crm.contacts_log import LOG_FILE, contacts_log
from churn.crm.csv_files import CsvFile
from churn.crm.definitions import WRITERS, field_specs
from churn.crm.deltas import DeltaParts, leaver_values, read_export, read_export_parts
from churn.crm.fields import CONTACT_PREFIX, action_options
from churn.crm.keys import required_fields, with_email_ids
from churn.crm.list_facts import COLUMNS, ListFacts, list_facts, without_value
from churn.crm.writers import (
    CONTROL_FILE,
    CONVENTIONS,
    TARGETS,
    CrmFile,
    Target,
    control_frame,
    crm_file,
    target_settings,
)
from churn.errors import PipelineStateError
from churn.io.files import parquet_column_batches, parquet_column_names, parquet_row_batches
from churn.io.list_contacts import contact_batches
from churn.io.paths import Output, PipelinePaths
from churn.settings import ExportTarget, PipelineSettings

PARAMS: tuple[str, ...] = ("export", "playbook")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py).
``playbook`` for the recommended actions a CRM picklist must offer."""

CONTACT_FIELDS_TABLE = "contact_fields"
"""The canonical table of contact fields (``churn.data.contact_fields``), read when present."""

HISTORY = "history"
SUMMARY = "summary.json"

log = logging.getLogger("churn")


BATCH_ROWS = 100_000
"""Customers formatted and written at a time: export holds a batch of the list, not the list."""


@dataclass
class _TargetFile:
    """One target's import file, its delta and what building them changed, batch by batch."""

    columns: ExportTarget
    file: CsvFile
    delta: DeltaParts | None
    delta_file: CsvFile
    previous: Path | None = None
    """The dated copy the delta is taken against (None: no earlier list, or no delta)."""
    left_out: Counter[str] = field(default_factory=Counter)
    truncated: Counter[str] = field(default_factory=Counter)
    neutralised_keys: int = 0
    first_neutralised: list[str] = field(default_factory=list)

    def left_out_in_order(self) -> dict[str, int]:
        """Rows left out per required field, in the order the fields are checked."""
        required = required_fields(self.file.target, self.columns)
        return {n: self.left_out[n] for n in required if n in self.left_out}

    def truncated_in_order(self) -> dict[str, int]:
        """Cells cut per field, in the file's column order."""
        return {
            c.name: self.truncated[c.name] for c in self.columns.columns if c.name in self.truncated
        }

    def add(self, staged: io.StagedFiles, built: CrmFile) -> None:
        """Append a batch of the file's rows; those that entered or changed go to the delta."""
        data = self.file.add(staged, built.frame)
        self.left_out.update(built.left_out)
        self.truncated.update(built.truncated)
        self.neutralised_keys += len(built.neutralised_keys)
        self.first_neutralised = (self.first_neutralised + built.neutralised_keys)[:3]
        if self.delta is not None:
            encoding = CONVENTIONS[self.file.target].encoding
            self.delta_file.add(staged, self.delta.add(read_export(data, encoding)))


def run(
    settings: PipelineSettings,
    paths: PipelinePaths,
    targets: Sequence[Target] = TARGETS,
    *,
    batch_rows: int | None = None,
) -> dict[str, int]:
    """Write each target's files, ``control_group.csv`` and ``contacts_log.csv``, formatting
    ``batch_rows`` customers at a time (default :data:`BATCH_ROWS`). Every file is staged
    beside its destination and all are put in place together once complete. Returns rows per
    file written under its stable name (``<target>``, ``<target>_delta``, ``control_group``,
    ``contacts_log``; ``<target>_part<n>`` for the parts of a file longer than its CRM's
    ``export.file_limits``)."""
    batch_rows = batch_rows or BATCH_ROWS
    whole = _whole_list(paths)
    assert whole.cutoff is not None  # _whole_list refuses a list without rows
    if not whole.valued:
        log.info(
            "no customer has a monetary value (no amount and no charge): expected_value and "
            "value_at_risk are left empty in the files, not 0"
        )
    dated = whole.cutoff.strftime("%Y-%m-%d")
    columns = parquet_column_names(paths.scores)
    where = None if _exports_everyone(settings, targets) else "in_outreach"
    logged = _logs_contacts(paths, columns)
    control = CsvFile(_destination(paths, CONTROL_FILE), "generic")
    contacts_file = CsvFile(_destination(paths, LOG_FILE), "generic")
    files: dict[Target, _TargetFile] = {}
    fields: list[str] = []
    unpriced: set[str] = set()
    with io.StagedFiles() as staged:
        for batch, mapped in _batches(paths, where, batch_rows):
            scores = batch if whole.valued else without_value(batch)
            contacts = with_email_ids(scores["customer_id"], mapped, of_all=whole.ids)
            if not files:
                fields = _contact_fields(mapped, contacts)
                files = {
                    t: _target_file(settings, paths, t, columns=columns, fields=fields, dated=dated)
                    for t in targets
                }
            for target, file in files.items():
                file.add(staged, crm_file(scores, target, file.columns, contacts=contacts))
            control.add(staged, control_frame(scores))
            if logged:
                part = contacts_log(scores, settings.playbook)
                unpriced |= set(part.loc[part["cost"].isna(), "action"].astype(str))
                contacts_file.add(staged, part)
        rows, summary = _finish(staged, settings, paths, files, whole=whole, dated=dated)
        rows[CONTROL_FILE] = control.rows
        if logged:
            rows[LOG_FILE] = contacts_file.rows
            if unpriced:
                log.info(
                    "%s.csv: action(s) %s are not in the playbook, so their cost is left empty",
                    LOG_FILE,
                    sorted(unpriced),
                )
        if summary:
            for csv in [control, *([contacts_file] if logged else [])]:
                name = csv.dest.stem
                staged.copy(csv.dest, _destination(paths, f"{HISTORY}/{name}_{dated}"))
            record = {"cutoff": dated, "contact_fields": fields, "targets": summary}
            summary_bytes = (json.dumps(record, indent=2) + "\n").encode()
            staged.append(_destination(paths, SUMMARY), summary_bytes)
    for name, n in rows.items():
        log.info("wrote %s: %s rows", _destination(paths, name), f"{n:,}")
    return rows


def _finish(
    staged: io.StagedFiles,
    settings: PipelineSettings,
    paths: PipelinePaths,
    files: dict[Target, _TargetFile],
    *,
    whole: ListFacts,
    dated: str,
) -> tuple[dict[str, int], dict[str, object]]:
    """Each CRM file's leavers, dated copies and field definitions; rows per file and the
    summary of each CRM's files."""
    actions = _actions(settings, whole.actions)
    rows: dict[str, int] = {}
    summary: dict[str, object] = {}
    for target, file in files.items():
        _log_file(target, file)
        rows |= file.file.finish(staged)
        if file.delta is None:  # the generic file is read by people: no delta, no fields
            continue
        previous = file.previous
        for leavers in file.delta.leavers(
            [] if previous is None else _export_parts(previous, target)
        ):
            file.delta_file.add(staged, leavers)
        delta = file.delta
        log.info(
            "%s delta since the previous list: %s entered, %s left, %s changed action",
            target,
            f"{delta.entered:,}",
            f"{delta.left:,}",
            f"{delta.changed:,}",
        )
        rows |= file.delta_file.finish(staged)
        for name, data in WRITERS[target](field_specs(target, file.columns, actions)).items():
            staged.append(_destination(paths, name), data)
        summary[target] = {
            "rows": file.file.rows,
            "key": file.columns.columns[0].name,
            "left_out": file.left_out_in_order(),
            "truncated": file.truncated_in_order(),
            "neutralised_keys": file.neutralised_keys,
            "delta": {"entered": delta.entered, "left": delta.left, "changed": delta.changed},
            "files": file.file.files(),
            "delta_files": file.delta_file.files(),
        }
    return rows, summary


def _whole_list(paths: PipelinePaths) -> ListFacts:
    """What the export needs of every scored customer (:mod:`churn.crm.list_facts`), read a
    few columns and a row group at a time; refuses a scores file of another version."""
    needed = {"in_outreach", "control_group", *COLUMNS}
    missing = sorted(needed - set(parquet_column_names(paths.scores)))
    if missing:
        found = f"it lacks {missing}"
    else:
        whole = list_facts(parquet_column_batches(paths.scores, COLUMNS))
        if whole.rows and not whole.missing_ids:
            return whole
        found = (
            f"{whole.missing_ids:,} row(s) have no customer_id" if whole.rows else "it has no rows"
        )
    raise PipelineStateError(
        f"{paths.scores}: not a scores file of this version (needs customer_id on every row, "
        f"in_outreach, control_group, cutoff, recommended_action and expected_value; {found}). "
        f"Rescore with `churn score {paths.name}`."
    )


def _exports_everyone(settings: PipelineSettings, targets: Sequence[Target]) -> bool:
    """Whether some file is made of every row (a target with ``only_outreach: false``), not
    only of the outreach slice (the contact lists, the control group and the contacts log):
    only the rows some file is made of are read."""
    configured = settings.export.targets
    return any(t in configured and not configured[t].only_outreach for t in targets)


def _batches(
    paths: PipelinePaths, where: str | None, batch_rows: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame | None]]:
    """The rows some file is made of (``where``: only those), ``batch_rows`` at a time, each
    batch with its customers' contact fields (``contact_fields.parquet``; None when the
    customers table maps none)."""
    rows = parquet_row_batches(paths.scores, where=where, batch_rows=batch_rows)
    path = paths.table(CONTACT_FIELDS_TABLE)
    if not path.is_file():
        yield from ((batch, None) for batch in rows)
        return
    contacts = contact_batches(paths.scores, path, where=where, rows=batch_rows)
    yield from zip(rows, contacts, strict=True)


def _contact_fields(mapped: pd.DataFrame | None, contacts: pd.DataFrame | None) -> list[str]:
    """The contact fields the files can carry (``contacts``, :func:`with_email_ids` of the
    ``mapped`` ones), said in the log."""
    if contacts is None:
        log.info(
            "no contact fields (data.customers.sources[].contact_fields): the CRM files are "
            "keyed on the customer id"
        )
        return []
    if contacts is not mapped:
        log.info(
            "the customer ids are email addresses: they fill the CRM files' email field, which "
            "HubSpot and Dynamics match contacts on"
        )
    return [c for c in contacts.columns if c != "customer_id"]


def _target_file(
    settings: PipelineSettings,
    paths: PipelinePaths,
    target: Target,
    *,
    columns: list[str],
    fields: list[str],
    dated: str,
) -> _TargetFile:
    """``target``'s empty file; for a CRM, its delta against the latest dated copy before
    ``dated`` (none: everyone entered)."""
    chosen = target_settings(target, settings.export.targets, columns, fields)
    delta, previous = None, None
    if target in WRITERS:
        previous = _previous_copy(paths.exports / HISTORY, target, dated)
        names = {c.source: c.name for c in chosen.columns}
        key = chosen.columns[0].name
        action = names.get("recommended_action")
        delta = DeltaParts(
            [c.name for c in chosen.columns],
            None if previous is None else _export_parts(previous, target, [key, action]),
            action=action,
            leavers_hold=_leavers_hold(target, chosen),
        )
    limit = getattr(settings.export.file_limits, target)

    def csv(name: str) -> CsvFile:  # a CRM's files get a dated copy, whole
        copy = _destination(paths, f"{HISTORY}/{name}_{dated}") if delta is not None else None
        return CsvFile(_destination(paths, name), target, limit, copy)

    return _TargetFile(chosen, csv(target), delta, csv(f"{target}_delta"), previous)


def _destination(paths: PipelinePaths, name: str) -> Output:
    """Where file ``name`` goes: ``<name>.csv`` for an import file, else the path itself."""
    relative = name if Path(name).suffix else f"{name}.csv"
    return Output(paths.exports / relative, made_by=paths.exports.made_by)


def _logs_contacts(paths: PipelinePaths, columns: list[str]) -> bool:
    """Whether ``contacts_log.csv`` can be written: not from scores made before they kept the
    control rows' planned action (logged)."""
    if "planned_action" in columns:
        return True
    log.warning(
        "%s has no planned_action column (scored by an older version): %s.csv not written. "
        "Rescore with `churn score %s` to get it.",
        paths.scores,
        LOG_FILE,
        paths.name,
    )
    return False


def _log_file(target: Target, file: _TargetFile) -> None:
    key = file.columns.columns[0].name
    if file.neutralised_keys:
        log.warning(
            "%s: %s key(s) in column %r start like a spreadsheet formula (e.g. %s); written "
            "with a leading ' so no spreadsheet runs them, so they will not match their "
            "CRM record as they are",
            target,
            f"{file.neutralised_keys:,}",
            key,
            ", ".join(repr(k) for k in file.first_neutralised),
        )
    for name, n in file.left_out_in_order().items():
        log.warning(
            "%s: %s customer(s) to contact left out of the file: no %s%s",
            target,
            f"{n:,}",
            name,
            " (the key the CRM matches on)" if name == key else " (required)",
        )
    for name, n in file.truncated_in_order().items():
        log.info("%s: %s value(s) of %s cut to the field's declared length", target, f"{n:,}", name)


def _actions(settings: PipelineSettings, held: frozenset[str]) -> tuple[str, ...]:
    """The options of the recommended action field: the playbook's actions, then any action
    the scores hold (``held``) that the playbook no longer has (scores made with another
    playbook), so that every value written is declared; those are logged, for the CRM's
    picklist."""
    actions = action_options(settings.playbook)
    extra = sorted(held - set(actions))
    if extra:
        log.info(
            "the scores hold action(s) %s that the playbook does not have; declared as options "
            "in the field definitions too, so add them to the CRM's action picklist",
            extra,
        )
    return (*actions, *extra)


def _leavers_hold(target: Target, settings: ExportTarget) -> dict[str, str]:
    """What a leaver's row of ``target``'s delta holds in each churn field
    (:func:`leaver_values`)."""
    names = {c.source: c.name for c in settings.columns}
    churn_fields = {
        spec.name: spec.type
        for spec in field_specs(target, settings, ())
        if not spec.key and not spec.source.startswith(CONTACT_PREFIX)
    }
    return leaver_values(
        churn_fields,
        status=names.get("outreach_status"),
        clear=CONVENTIONS[target].clear,  # type: ignore[index]
    )


EXPORT_PART_ROWS = 200_000
"""Rows of a previous import file read at a time, for the delta."""


def _export_parts(
    path: Path, target: Target, columns: Collection[str | None] | None = None
) -> Iterator[pd.DataFrame]:
    """A previous import file of ``target`` as text cells, a part at a time
    (:func:`read_export_parts`); with ``columns``, only those of them it has."""
    kept = None if columns is None else [c for c in columns if c is not None]
    with path.open("rb") as fh:
        encoding = CONVENTIONS[target].encoding
        yield from read_export_parts(fh, encoding, columns=kept, rows=EXPORT_PART_ROWS)


def _previous_copy(history: Path, target: str, dated: str) -> Path | None:
    """The latest ``history/<target>_<date>.csv`` dated before ``dated``."""
    if not history.is_dir():
        return None
    copies = sorted(
        p
        for p in history.glob(f"{target}_????-??-??.csv")
        if p.stem.removeprefix(f"{target}_") < dated
    )
    return copies[-1] if copies else None
