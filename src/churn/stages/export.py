"""Stage ``export``: ``scores.parquet`` -> ``data/exports/<p>/`` for CRM import.

Per target: the full file (``<target>.csv``); for each CRM (not the generic file, which people
read) also the delta since the previous list (``<target>_delta.csv``), dated copies of both
under ``history/``, the field definitions the CRM admin creates the fields from
(``<target>/``) and ``summary.json``, what each file holds and who was left out of it;
``control_group.csv``, the customers held out; ``contacts_log.csv``, the outreach slice in the
shape of ``data.contacts`` (:mod:`churn.crm.contacts_log`), to append once the campaign ran.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from churn import io
from churn.crm.contacts_log import LOG_FILE, contacts_log
from churn.crm.definitions import WRITERS, field_specs
from churn.crm.deltas import Delta, export_delta, leaver_values, read_export
from churn.crm.fields import CONTACT_PREFIX, action_options
from churn.crm.keys import with_email_ids
from churn.crm.list_facts import COLUMNS, ListFacts, list_facts
from churn.crm.writers import (
    CONTROL_FILE,
    CONVENTIONS,
    TARGETS,
    CrmFile,
    Target,
    control_frame,
    crm_file,
    export_bytes,
    target_settings,
)
from churn.errors import PipelineStateError
from churn.io.files import parquet_column_batches, parquet_column_names
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


def run(
    settings: PipelineSettings, paths: PipelinePaths, targets: Sequence[Target] = TARGETS
) -> dict[str, int]:
    """Write each target's files, ``control_group.csv`` and ``contacts_log.csv``; every file is
    built before any is written. Returns rows per file written under its stable name
    (``<target>``, ``<target>_delta``, ``control_group``, ``contacts_log``)."""
    whole = _whole_list(paths)
    scores = _rows_to_write(settings, paths, targets)
    contacts_path = paths.table(CONTACT_FIELDS_TABLE)
    mapped = _contact_fields(contacts_path, scores) if contacts_path.is_file() else None
    contacts = with_email_ids(scores["customer_id"], mapped, of_all=whole.ids)
    fields = [] if contacts is None else [c for c in contacts.columns if c != "customer_id"]
    if contacts is None:
        log.info(
            "no contact fields (data.customers.sources[].contact_fields): the CRM files are "
            "keyed on the customer id"
        )
    elif contacts is not mapped:
        log.info(
            "the customer ids are email addresses: they fill the CRM files' email field, which "
            "HubSpot and Dynamics match contacts on"
        )
    assert whole.cutoff is not None  # _whole_list refuses a list without rows
    dated = whole.cutoff.strftime("%Y-%m-%d")
    actions = _actions(settings, whole.actions)
    files: dict[str, bytes] = {}
    rows: dict[str, int] = {}
    summary: dict[str, object] = {}
    for target in targets:
        target_columns = target_settings(target, settings.export.targets, scores.columns, fields)
        built = crm_file(scores, target, target_columns, contacts=contacts)
        _log_file(target, built, target_columns)
        data = export_bytes(built.frame, target)
        files[target] = data
        rows[target] = len(built.frame)
        if target not in WRITERS:  # the generic file is read by people: no delta, no fields
            continue
        delta = _delta(paths, target, target_columns, data, dated)
        delta_bytes = export_bytes(delta.frame, target)
        log.info(
            "%s delta since the previous list: %s entered, %s left, %s changed action",
            target,
            f"{delta.entered:,}",
            f"{delta.left:,}",
            f"{delta.changed:,}",
        )
        files[f"{target}_delta"] = delta_bytes
        files[f"{HISTORY}/{target}_{dated}"] = data
        files[f"{HISTORY}/{target}_delta_{dated}"] = delta_bytes
        rows[f"{target}_delta"] = len(delta.frame)
        files |= WRITERS[target](field_specs(target, target_columns, actions))
        summary[target] = {
            "rows": len(built.frame),
            "key": target_columns.columns[0].name,
            "left_out": built.left_out,
            "truncated": built.truncated,
            "neutralised_keys": len(built.neutralised_keys),
            "delta": {"entered": delta.entered, "left": delta.left, "changed": delta.changed},
        }
    control = export_bytes(control_frame(scores), "generic")
    files[CONTROL_FILE] = control
    rows[CONTROL_FILE] = len(control_frame(scores))
    log_frame = _contacts_log(settings, scores, paths)
    if log_frame is not None:
        files[LOG_FILE] = export_bytes(log_frame, "generic")
        rows[LOG_FILE] = len(log_frame)
    if summary:
        files[f"{HISTORY}/{CONTROL_FILE}_{dated}"] = control
        if log_frame is not None:
            files[f"{HISTORY}/{LOG_FILE}_{dated}"] = files[LOG_FILE]
        record = {"cutoff": dated, "contact_fields": fields, "targets": summary}
        files[SUMMARY] = (json.dumps(record, indent=2) + "\n").encode()
    for name, data in files.items():
        dest = _destination(paths, name)
        io.write_bytes(data, dest)
        if name in rows:
            log.info("wrote %s: %s rows", dest, f"{rows[name]:,}")
    return rows


def _whole_list(paths: PipelinePaths) -> ListFacts:
    """What the export needs of every scored customer (:mod:`churn.crm.list_facts`), read a
    few columns and a row group at a time; refuses a scores file of another version."""
    needed = {"customer_id", "in_outreach", "control_group", "cutoff", "recommended_action"}
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
        f"in_outreach, control_group, cutoff and recommended_action; {found}). Rescore with "
        f"`churn score {paths.name}`."
    )


def _rows_to_write(
    settings: PipelineSettings, paths: PipelinePaths, targets: Sequence[Target]
) -> pd.DataFrame:
    """The rows of ``scores.parquet`` some file is made of: the outreach slice (the contact
    lists, the control group and the contacts log), or every row when a target exports
    everyone (``only_outreach: false``). Only those rows are read."""
    configured = settings.export.targets
    everyone = any(t in configured and not configured[t].only_outreach for t in targets)
    if everyone:
        return io.read_parquet(paths.scores)
    return io.read_parquet(paths.scores, filters=[("in_outreach", "==", True)])


def _contact_fields(path: Output, scores: pd.DataFrame) -> pd.DataFrame:
    """``contact_fields.parquet``'s rows of the customers in ``scores``, in file order."""
    ids = scores["customer_id"].dropna().astype(str).unique().tolist()
    return io.read_parquet(path, filters=[("customer_id", "in", ids)])


def _destination(paths: PipelinePaths, name: str) -> Output:
    """Where file ``name`` goes: ``<name>.csv`` for an import file, else the path itself."""
    relative = name if Path(name).suffix else f"{name}.csv"
    return Output(paths.exports / relative, made_by=paths.exports.made_by)


def _contacts_log(
    settings: PipelineSettings, scores: pd.DataFrame, paths: PipelinePaths
) -> pd.DataFrame | None:
    """The outreach slice as contacts (:func:`contacts_log`); None, and a log line, for scores
    made before they kept the control rows' planned action."""
    if "planned_action" not in scores.columns:
        log.warning(
            "%s has no planned_action column (scored by an older version): %s.csv not written. "
            "Rescore with `churn score %s` to get it.",
            paths.scores,
            LOG_FILE,
            paths.name,
        )
        return None
    frame = contacts_log(scores, settings.playbook)
    unpriced = sorted(set(frame.loc[frame["cost"].isna(), "action"].astype(str)))
    if unpriced:
        log.info(
            "%s.csv: action(s) %s are not in the playbook, so their cost is left empty",
            LOG_FILE,
            unpriced,
        )
    return frame


def _log_file(target: str, built: CrmFile, settings: ExportTarget) -> None:
    key = settings.columns[0].name
    if built.neutralised_keys:
        log.warning(
            "%s: %s key(s) in column %r start like a spreadsheet formula (e.g. %s); written "
            "with a leading ' so no spreadsheet runs them, so they will not match their "
            "CRM record as they are",
            target,
            f"{len(built.neutralised_keys):,}",
            key,
            ", ".join(repr(k) for k in built.neutralised_keys[:3]),
        )
    for name, n in built.left_out.items():
        log.warning(
            "%s: %s customer(s) to contact left out of the file: no %s%s",
            target,
            f"{n:,}",
            name,
            " (the key the CRM matches on)" if name == key else " (required)",
        )
    for name, n in built.truncated.items():
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


def _delta(
    paths: PipelinePaths, target: str, settings: ExportTarget, data: bytes, dated: str
) -> Delta:
    """The delta from the latest dated copy before ``dated`` (none: everyone entered)."""
    encoding = CONVENTIONS[target].encoding  # type: ignore[index]
    previous_path = _previous_copy(paths.exports / HISTORY, target, dated)
    previous = None if previous_path is None else read_export(previous_path.read_bytes(), encoding)
    names = {c.source: c.name for c in settings.columns}
    churn_fields = {
        spec.name: spec.type
        for spec in field_specs(target, settings, ())
        if not spec.key and not spec.source.startswith(CONTACT_PREFIX)
    }
    hold = leaver_values(
        churn_fields,
        status=names.get("outreach_status"),
        clear=CONVENTIONS[target].clear,  # type: ignore[index]
    )
    return export_delta(
        read_export(data, encoding),
        previous,
        action=names.get("recommended_action"),
        leavers_hold=hold,
    )


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
