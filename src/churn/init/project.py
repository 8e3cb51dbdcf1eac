"""``churn init`` and ``churn run`` on the project folder: read samples, place the files, write
the params, register the pipeline (and its plots) in dvc.yaml, and run its stages through DVC.

I/O. Everything ``churn init`` may refuse (a bad name, a role it cannot find, a span too short
for the horizon, params that do not load) is decided before anything is written.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pandas as pd
import yaml

from churn.data.inference import (
    RoleNotFound,
    TimestampGuess,
    decimal_mark,
    label_column,
    plain_numbers,
    settle_dates,
)
from churn.data.parsing import event_type_matches
from churn.errors import ConfigError, LabelError, PipelineStateError
from churn.init import anonymous, whole_log
from churn.init import plan as planning
from churn.init.dvc_plots import add_plots, plot_series
from churn.init.event_kinds import return_prefix
from churn.init.findings import events_findings, snapshot_findings
from churn.init.lapse import returns
from churn.init.params_file import render
from churn.init.plan import (
    EventFlags,
    EventsPlan,
    SnapshotFlags,
    SnapshotPlan,
    SourceFile,
)
from churn.init.schedule import horizon_plan
from churn.init.snapshot_columns import panel_columns
from churn.init.snapshot_dates import dating_columns, without_moving_dates
from churn.init.sniff import (
    SAMPLE_ROWS,
    FileFormat,
    file_format,
    other_sheet_format,
    read_column,
    read_sample,
)
from churn.io.paths import PipelinePaths, check_pipeline_name
from churn.settings import (
    PipelineSettings,
    load_settings,
    pipeline_params_path,
)

OUTPUT_ROOTS = ("data/interim", "data/scored", "data/exports", "models", "reports")
"""Folders the stages write: a raw dependency must not contain any of them."""


@dataclass(frozen=True)
class Created:
    """What ``churn init`` wrote and found."""

    plan: EventsPlan | SnapshotPlan
    params_path: Path
    raw: str
    copied: tuple[tuple[Path, str], ...]
    findings: tuple[tuple[str, str, str], ...]
    """(role, column or value, given / guessed) rows of the printed table."""


# ---- placing the files -----------------------------------------------------------------------


def placement(project_dir: Path, name: str, files: Sequence[Path]) -> tuple[dict[Path, str], str]:
    """Each file's project-relative path, and the raw dependency of the pipeline in dvc.yaml.

    Files inside the project stay where they are when one folder (or one file) holding them
    can be the dependency; otherwise every file is copied to ``data/raw/<name>/``."""
    root = project_dir.resolve()
    resolved = [f.resolve() for f in files]
    inside = [f.relative_to(root).as_posix() for f in resolved if f.is_relative_to(root)]
    if len(inside) == len(resolved):
        common = (
            resolved[0].relative_to(root).as_posix()
            if len(inside) == 1
            else (Path(os.path.commonpath(inside)).as_posix())
        )
        if common not in ("", ".", "data") and not any(
            o == common or o.startswith(f"{common}/") or common.startswith(f"{o}/")
            for o in OUTPUT_ROOTS
        ):
            return dict(zip(files, inside, strict=True)), common
    folder = f"data/raw/{name}"
    names = [f.name for f in dict.fromkeys(resolved)]  # one file given twice: one copy
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(
            f"Two input files are both named {twice}: they would be copied to the same place "
            f"in {folder}/. Rename one of them."
        )
    return {f: f"{folder}/{r.name}" for f, r in zip(files, resolved, strict=True)}, folder


def copy_files(project_dir: Path, places: dict[Path, str]) -> list[tuple[Path, str]]:
    """Copy the files whose place is not where they are; returns (from, to) of each copy."""
    copied = []
    for source, dest in places.items():
        target = project_dir / dest
        if source.resolve() == target.resolve():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append((source, dest))
    return copied


# ---- dvc.yaml --------------------------------------------------------------------------------

_PIPELINES = re.compile(r"^(?P<head>\s*-\s+pipelines:)\s*(?P<empty>\{\s*\})?\s*(#.*)?$")


def declared_pipelines(dvc_yaml: str) -> dict[str, dict[str, str]]:
    """``vars: - pipelines:`` of a dvc.yaml text."""
    spec = yaml.safe_load(dvc_yaml) or {}
    for entry in spec.get("vars") or []:
        if isinstance(entry, dict) and "pipelines" in entry:
            return dict(entry["pipelines"] or {})
    raise ConfigError("dvc.yaml has no `vars: - pipelines:` list to add the pipeline to.")


def add_pipeline(dvc_yaml: str, name: str, raw: str) -> str:
    """``dvc_yaml`` with ``name: {raw: <raw>}`` as the last entry of ``vars: - pipelines:``
    (an entry of that name is replaced in place). Text edit: comments and layout survive."""
    lines = dvc_yaml.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _PIPELINES.match(line.rstrip("\n"))), None)
    if start is None:
        raise ConfigError("dvc.yaml has no `- pipelines:` line under vars to add the pipeline to.")
    found = _PIPELINES.match(lines[start].rstrip("\n"))
    if found and found["empty"]:  # `- pipelines: {}`: entries go on lines of their own
        lines[start] = found["head"] + "\n"
    dash = len(lines[start]) - len(lines[start].lstrip())
    indent, end = dash + 4, start + 1
    for i in range(start + 1, len(lines)):
        text = lines[i].strip()
        if not text or text.startswith("#"):
            continue
        depth = len(lines[i]) - len(lines[i].lstrip())
        if depth <= dash + 2:
            break
        indent = depth if end == start + 1 else indent
        end = i + 1
    entry = f"{' ' * indent}{name}: {{raw: {raw}}}\n"
    own = re.compile(rf"^\s*{re.escape(name)}\s*:")
    for i in range(start + 1, end):
        if own.match(lines[i]):
            lines[i] = entry
            break
    else:
        lines.insert(end, entry)
    text = "".join(lines)
    if declared_pipelines(text).get(name) != {"raw": raw}:  # pragma: no cover - a layout we missed
        raise ConfigError(
            f"Could not add {name} to dvc.yaml's vars.pipelines; add `{entry.strip()}` by hand."
        )
    return text


def stage_targets(dvc_yaml: str, name: str) -> list[str]:
    """``<stage>@<name>`` of every stage of dvc.yaml run per pipeline, in file order."""
    spec = yaml.safe_load(dvc_yaml) or {}
    return [
        f"{stage}@{name}"
        for stage, body in (spec.get("stages") or {}).items()
        if isinstance(body, dict) and "foreach" in body
    ]


# ---- churn init ------------------------------------------------------------------------------


def _source(
    path: Path, places: dict[Path, str], fmt: FileFormat | None = None
) -> tuple[SourceFile, pd.DataFrame]:
    """The file as ``data`` will read it (in ``fmt``; default: as sniffed), and its sample
    with numbers written plainly (a decimal comma guessed from the sample)."""
    fmt = file_format(path) if fmt is None else fmt
    sample = read_sample(path, fmt)
    if fmt.format != "parquet" and decimal_mark(sample) == ",":
        fmt = replace(fmt, decimal=",")
        sample = plain_numbers(sample, ",")
    return SourceFile(places[path], fmt), sample


def _customers_source(
    customers: Path,
    places: dict[Path, str],
    events: Sequence[tuple[SourceFile, pd.DataFrame]],
    customer_id: str | None,
) -> tuple[SourceFile, pd.DataFrame]:
    """:func:`_source` of the customers table; from the workbook the events come from, its
    other sheet (:func:`other_sheet_format`)."""
    same = [source for source, _ in events if source.path == places[customers]]
    if not same or same[0].format.format != "excel":
        if same:
            raise ConfigError(
                f"{customers} is given as both the events and the customers table: a "
                f"{same[0].format.format} file holds one table. Give the customers table's own "
                "file to --customers, or leave --customers out."
            )
        return _source(customers, places)
    return _source(
        customers, places, other_sheet_format(customers, same[0].format, customer_id or "")
    )


def _type_column(path: Path, source: SourceFile, column: str | None) -> pd.DataFrame:
    """The whole event type ``column`` of the events file (none: no column)."""
    if column is None:
        return pd.DataFrame()
    return pd.DataFrame({column: read_column(path, source.format, column)})


def _settled(path: Path, source: SourceFile, guess: TimestampGuess) -> TimestampGuess:
    """``guess`` with dates the sample read both day-first and month-first decided on the
    whole column (:func:`churn.data.inference.settle_dates`)."""
    if guess.twin is None:
        return guess
    return settle_dates(guess, read_column(path, source.format, guess.column), source.path)


def _check_new(project_dir: Path, name: str, *, force: bool) -> str:
    dvc_file = project_dir / "dvc.yaml"
    if not dvc_file.is_file():
        raise ConfigError(
            f"No dvc.yaml in {project_dir}: run churn init from the project folder (or give "
            "--project-dir)."
        )
    text = dvc_file.read_text(encoding="utf-8")
    exists = name in declared_pipelines(text) or pipeline_params_path(project_dir, name).exists()
    if exists and not force:
        raise ConfigError(
            f"A pipeline named {name!r} already exists (pipelines/{name}/ or dvc.yaml). Choose "
            "another name, or give --force to replace it."
        )
    return text


def _validated(files: dict[Path, str], project_dir: Path) -> PipelineSettings:
    """Load the rendered params as every stage will, from a scratch copy of the project's
    layout."""
    with tempfile.TemporaryDirectory() as tmp:
        for path, text in files.items():
            scratch = Path(tmp) / path.relative_to(project_dir)
            scratch.parent.mkdir(parents=True, exist_ok=True)
            scratch.write_text(text, encoding="utf-8")
        name = next(iter(files)).parent.name
        return load_settings(Path(tmp), name)


def _write(
    project_dir: Path,
    plan: EventsPlan | SnapshotPlan,
    places: dict[Path, str],
    raw: str,
    dvc_yaml: str,
) -> tuple[Path, list[tuple[Path, str]]]:
    files = {pipeline_params_path(project_dir, plan.name): render(plan)}
    settings = _validated(files, project_dir)
    dvc_text = add_pipeline(dvc_yaml, plan.name, raw)
    dvc_text = add_plots(dvc_text, plan.name, plot_series(settings))
    copied = copy_files(project_dir, places)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    params = pipeline_params_path(project_dir, plan.name)
    (project_dir / "dvc.yaml").write_text(dvc_text, encoding="utf-8")
    load_settings(project_dir, plan.name)
    return params, copied


def init_events(
    project_dir: Path,
    name: str,
    events: Sequence[Path],
    *,
    flags: EventFlags,
    customers: Path | None = None,
    churn_events: Path | None = None,
    force: bool = False,
) -> Created:
    """A new events pipeline ``name`` from ``events`` (and the optional tables)."""
    check_pipeline_name(name)
    dvc_yaml = _check_new(project_dir, name, force=force)
    files = [*events, *(p for p in (customers, churn_events) if p is not None)]
    places, raw = placement(project_dir, name, files)
    samples = [_source(p, places) for p in events]
    sources = planning.event_sources(
        samples,
        customer_id=flags.customer_id,
        timestamp=flags.timestamp,
        amount=flags.amount,
        order_id=flags.order_id,
        event_type=flags.event_type,
        exclude=flags.exclude,
        timestamp_format=flags.timestamp_format,
    )
    sources = tuple(
        (source, replace(roles, timestamp=_settled(path, source, roles.timestamp)))
        for path, (source, roles) in zip(events, sources, strict=True)
    )
    # rows without the customer's id but a device's: said with their counts, not as guests
    anonymous_notes = anonymous.anonymous_notes(
        [
            (path, source, roles, sample)
            for path, (_, sample), (source, roles) in zip(events, samples, sources, strict=True)
        ]
    )
    sources = tuple(
        (source, anonymous.without_guests_note(roles, sample))
        for (_, sample), (source, roles) in zip(samples, sources, strict=True)
    )
    return_rules = {
        return_prefix(sample[roles.order_id], sample[units])
        for (_, sample), (_, roles) in zip(samples, sources, strict=True)
        if roles.order_id is not None
        and roles.event_type is None
        and (units := roles.quantity or roles.amount) is not None
    } - {None}
    # every value of the event type column, not the sample's: a cancellation may be rare
    type_columns = [
        (_type_column(path, source, roles.event_type), roles)
        for path, (source, roles) in zip(events, sources, strict=True)
    ]
    counts = planning.type_counts(type_columns)
    paid_types = planning.type_counts(
        [(column, roles) for column, roles in type_columns if roles.amount is not None]
    )
    del type_columns
    types = planning.event_types(counts, sources)
    frequent = planning.most_frequent_types(counts, planning.MAX_FEATURE_TYPES)
    events_id = sources[0][1].customer_id
    customer_table, table_sample = None, None
    if customers is not None:
        source, table_sample = _customers_source(customers, places, samples, events_id)
        customer_table = planning.customer_table(
            source, table_sample, events_id=events_id, exclude=flags.exclude
        )
    churn_table = None
    if churn_events is not None:
        source, sample = _source(churn_events, places)
        churn_table = planning.churn_event_table(source, sample, events_id=events_id)
        churn_table = replace(
            churn_table, timestamp=_settled(churn_events, source, churn_table.timestamp)
        )
    first, last, log = whole_log.read_log(
        [(path, source, roles) for path, (source, roles) in zip(events, sources, strict=True)]
    )
    # a statement per month, spend or not: the months without spend are no purchase
    zero_amounts = float(log["zero_amount"].mean())
    if zero_amounts >= planning.ZERO_AMOUNT_SHARE:
        log.loc[log["zero_amount"], "event_type"] = planning.ZERO_AMOUNT_TYPE
    else:
        zero_amounts = 0.0
    # who returns, and how soon, counted on the events that keep a customer (purchases)
    keeps = planning.label_activity(types, sources)
    active = log[log["event_type"].isin(event_type_matches(keeps))] if keeps else log
    active = active[active["event_type"].ne(planning.ZERO_AMOUNT_TYPE)]
    horizon_days = planning.DEFAULT_HORIZON_DAYS  # the lapse's floor until the horizon is chosen
    came_back = returns(active["customer_id"], active["ts"], horizon_days)
    person_of: dict[str, str] = {}  # customer id -> person, when the customers table names one
    if customers is not None and customer_table is not None and table_sample is not None:
        # ids new on every order: is the person behind them in the customers table?
        for column in planning.person_candidates(table_sample, customer_table):
            persons = whole_log.persons_in(customers, customer_table, column)
            people = whole_log.mapped(active["customer_id"], persons)
            by_person = returns(people, active["ts"], horizon_days)
            if by_person.returning > came_back.returning * planning.PERSON_GAIN:
                log = log.assign(customer_id=whole_log.mapped(log["customer_id"], persons))
                person_of = persons
                customer_table = planning.by_person(customer_table, column, came_back, by_person)
                came_back = by_person
                break
    horizon_days, cutoffs = horizon_plan(
        first,
        last,
        flags.horizon_days,
        test_cutoff=flags.test_cutoff,
        longest=came_back.longest_horizon,
    )
    came_back = came_back.at_horizon(horizon_days)
    overlap = (
        planning.customer_overlap_notes(customer_table, table_sample, log["customer_id"])
        if customer_table is not None and table_sample is not None and not person_of
        else []
    )
    plan = planning.events_plan(
        name,
        sources,
        cutoffs,
        horizon_days=horizon_days,
        types=types,
        frequent_types=frequent,
        customers=customer_table,
        churn_events=churn_table,
        came_back=came_back,
        missing_timestamps=int(log["no_time"].sum()),
        missing_ids=int(log["customer_id"].fillna("").eq("").sum()),
        zero_amounts=zero_amounts,
        return_rule=next(iter(return_rules)) if len(return_rules) == 1 else None,
        paid_types=tuple(str(t) for t in paid_types.index),
    )
    plan = replace(plan, notes=(*plan.notes, *anonymous_notes, *overlap))
    if len(log) <= whole_log.SIZED_ROWS:
        settings = _validated({pipeline_params_path(project_dir, name): render(plan)}, project_dir)
        try:
            cancellations = (
                whole_log.read_cancellations(churn_events, churn_table)
                if churn_events is not None and churn_table is not None
                else None
            )
            if cancellations is not None and person_of:  # keyed as ingest keys them
                ids = whole_log.mapped(cancellations["customer_id"], person_of)
                cancellations = cancellations.assign(customer_id=ids)
            sizes = whole_log.label_counts(log, settings, cancellations)
            if plan.explicit_churn and min(stayed for _, stayed in sizes.values()) == 0:
                plan, sizes = _cancellations_only(project_dir, plan, log, cancellations, sizes)
            plan = planning.tiered_events(planning.sized_events(plan, sizes), sizes)
        except LabelError as exc:
            plan = replace(plan, notes=(*plan.notes, f"the labels stage will stop: {exc}"))
    params, copied = _write(project_dir, plan, places, raw, dvc_yaml)
    return Created(plan, params, raw, tuple(copied), tuple(events_findings(plan, flags)))


def _cancellations_only(
    project_dir: Path,
    plan: EventsPlan,
    log: pd.DataFrame,
    cancellations: pd.DataFrame | None,
    sizes: dict[str, tuple[int, int]],
) -> tuple[EventsPlan, dict[str, tuple[int, int]]]:
    """``plan`` with ``labels.churn_definition: explicit`` when churn on inactivity leaves a
    split without a stayer but the cancellations alone leave both classes in every split (a
    subscriptions table read as a log: one row per start, so nobody "comes back"), and its
    label counts; else ``plan`` and ``sizes`` as they are."""
    explicit = replace(plan, cancellations_only=True)
    settings = _validated(
        {pipeline_params_path(project_dir, plan.name): render(explicit)}, project_dir
    )
    counted = whole_log.label_counts(log, settings, cancellations)
    if min(min(pair) for pair in counted.values()) == 0:
        return plan, sizes
    split, (churners, _) = min(sizes.items(), key=lambda item: item[1][1])
    note = (
        f"with inactivity as churn too, the {split} cutoff labels {churners:,} churners and no "
        "stayer (nobody is active again within the horizon: one row per start or order?), so "
        "churn is the cancellations only (labels.churn_definition: explicit)"
    )
    return replace(explicit, notes=(*explicit.notes, note)), counted


STALE_FILE_DAYS = 31
"""Days a snapshot file's date may pass its latest date before the snapshot is dated by its
data: a public dataset is downloaded long after the export it was."""


def init_snapshot(
    project_dir: Path,
    name: str,
    snapshot: Path,
    *,
    flags: SnapshotFlags,
    customers: Path | None = None,
    force: bool = False,
) -> Created:
    """A new snapshot pipeline ``name`` from the file ``snapshot``, with the attributes of a
    ``customers`` table (demographics, a status table) joined by customer id."""
    check_pipeline_name(name)
    dvc_yaml = _check_new(project_dir, name, force=force)
    files = [snapshot, *([customers] if customers is not None else [])]
    places, raw = placement(project_dir, name, files)
    source, sample = _source(snapshot, places)
    # a cancellation date, blank while a customer stays, found or named by --label
    cancelled = None
    if flags.label is None:
        cancelled = planning.cancellation_label(sample)
    elif flags.positive is None and flags.label in sample.columns:
        cancelled = planning.cancellation_label(sample[[flags.label]])
    try:
        label = flags.label or cancelled or label_column(sample)
    except RoleNotFound as exc:
        raise RoleNotFound(f"{source.path}: {exc}") from None
    if flags.customer_id is None and (
        panel := panel_columns(sample, [c for c in sample.columns if c != label])
    ):
        key, period = panel
        raise ConfigError(
            f"{source.path}: {key!r} repeats, once per {period!r}: the file is snapshots "
            "stacked, a row per customer per period, and --snapshot takes one row per "
            "customer (a random split would put one customer's rows in training and test). "
            "Read it as an events log, in which a customer churned when their rows stop: "
            f"churn init {name} --events {shlex.quote(str(snapshot))} --customer-id "
            f"{shlex.quote(key)} --timestamp {shlex.quote(period)} --exclude "
            f"{shlex.quote(label)}; or keep "
            "each customer's latest row and give that file to --snapshot."
        )
    plan_on = partial(
        planning.snapshot_plan,
        name,
        source,
        sample,
        label=label,
        positive=flags.positive,
        customer_id=flags.customer_id,
        value=flags.value,
        exclude=flags.exclude,
        label_filled=cancelled is not None,
        whole_file=len(sample) < SAMPLE_ROWS,
    )
    file_date = dt.datetime.fromtimestamp(snapshot.stat().st_mtime, dt.UTC).date()
    plan = plan_on(snapshot_date=file_date)
    # a public dataset downloaded years after its export: its own latest date is nearer
    dates = dating_columns([plan.attributes[n] for n in plan.date_attributes])
    latest = whole_log.latest_date(snapshot, source, [*dates, *([label] if cancelled else [])])
    if latest is not None and latest < file_date - dt.timedelta(days=STALE_FILE_DAYS):
        plan = plan_on(
            snapshot_date=latest,
            dated_by=f"its latest date; the file is dated {file_date}",
        )
    plan = without_moving_dates(planning.without_leaks(plan, sample))
    plan = planning.sized_for_training(plan, read_column(snapshot, source.format, label))
    table = None
    if customers is not None:
        if plan.roles.customer_id is None:
            raise ConfigError(
                f"--customers {customers}: a customers table is joined by customer id, and "
                f"{snapshot} has no column churn could tell is one. Name it with "
                "--customer-id COLUMN."
            )
        table_source, table_sample = _source(customers, places)
        table = planning.customer_table(
            table_source, table_sample, events_id=plan.roles.customer_id, exclude=flags.exclude
        )
    plan = planning.with_contacts(plan, table)
    params, copied = _write(project_dir, plan, places, raw, dvc_yaml)
    return Created(plan, params, raw, tuple(copied), tuple(snapshot_findings(plan, flags)))


# ---- churn run -------------------------------------------------------------------------------


def dvc_executable() -> str:
    """The ``dvc`` beside this Python (the project's environment), else the one on PATH."""
    beside = Path(sys.executable).parent / "dvc"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dvc")
    if found is None:
        raise ConfigError("dvc is not installed in this environment: pip install dvc")
    return found


SCORING_STAGES = ("ingest", "score", "export", "monitor", "report")
"""The stages of the weekly job: new data in, a new list out from the registered champion."""


def run_pipeline(
    project_dir: Path, name: str, echo: Callable[[str], None], *, score_only: bool = False
) -> int:
    """``dvc repro`` of every stage of pipeline ``name`` (and no other pipeline's) from the
    project folder, its output passed line by line to ``echo``; the exit code of the stage
    that failed (DVC itself exits 255 whatever the stage's was), else dvc's.

    ``score_only``: only :data:`SCORING_STAGES`, each on its own (``dvc repro --single-item``,
    so DVC does not re-run the labels, features and training they would otherwise bring
    along): the registered champion scores the new data. Raises PipelineStateError when the
    pipeline has no registered model yet."""
    dvc_file = project_dir / "dvc.yaml"
    if not dvc_file.is_file():
        raise ConfigError(f"No dvc.yaml in {project_dir}: run churn run from the project folder.")
    text = dvc_file.read_text(encoding="utf-8")
    known = declared_pipelines(text)
    if name not in known:
        raise ConfigError(
            f"No pipeline {name!r} in dvc.yaml; known pipelines: {sorted(known)}. Create it "
            f"with churn init {name} ..."
        )
    targets = stage_targets(text, name)
    if score_only:
        registry = PipelinePaths(project_dir, name).registry
        if not registry.is_file():
            raise PipelineStateError(
                f"{registry} does not exist: pipeline {name} has no registered model to score "
                f"with. Run `churn run {name}` once (it trains and registers one), then "
                f"`churn run {name} --score-only` scores new data with it."
            )
        targets = ["--single-item", *(t for t in targets if t.split("@")[0] in SCORING_STAGES)]
    command = [dvc_executable(), "repro", *targets]
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    echo("$ " + " ".join(["dvc", *command[1:]]))
    with subprocess.Popen(
        command,
        cwd=project_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        stage_code = None
        for line in process.stdout:
            echo(line.rstrip("\n"))
            failed = _STAGE_EXIT.search(line)
            if failed:
                stage_code = int(failed.group(1))
    if process.returncode != 0 and stage_code:
        return stage_code
    return process.returncode


_STAGE_EXIT = re.compile(r"failed to run: .*, exited with (\d+)")
"""DVC's line for a failed stage: "ERROR: failed to reproduce 'train@x': failed to run: churn
train x, exited with 6"."""
