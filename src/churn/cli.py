"""The ``churn`` command. Each stage of dvc.yaml is one command here; every command is a thin
wrapper: load settings, call the stage, turn known errors into a message and an exit code."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from churn import io
from churn.crm.writers import TARGETS
from churn.errors import ChurnError, ConfigError, PipelineStateError
from churn.io.locks import lock_timeout, pipeline_lock
from churn.io.paths import PipelinePaths, check_pipeline_name
from churn.settings import PipelineSettings, load_settings
from churn.stage_params import restrict

if TYPE_CHECKING:
    from churn.tracking.store import Tracker

app = typer.Typer(
    name="churn",
    help="Churn prediction pipeline: labels, features, models, reasons and CRM exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's shows a "<bool>" value for every flag
)
log = logging.getLogger("churn")

T = TypeVar("T")

PipelineArg = Annotated[str, typer.Argument(help="Pipeline name: a folder under pipelines/.")]
ProjectOpt = Annotated[
    Path, typer.Option("--project-dir", help="Project root holding pipelines/ and data/.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]


def _run[T](
    pipeline: str,
    project_dir: Path,
    debug: bool,
    step: Callable[[PipelineSettings, PipelinePaths], T],
    *,
    stage: ModuleType,
) -> T:
    """Run ``step`` of the module ``stage`` with the settings restricted to its ``PARAMS``."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        settings = restrict(
            load_settings(project_dir, pipeline),
            stage.PARAMS,
            stage=stage.__name__.rpartition(".")[2],
        )
        paths = PipelinePaths(project_dir, pipeline)
        with (
            _sigterm_exits(),
            pipeline_lock(
                paths.lock,
                pipeline=pipeline,
                timeout=lock_timeout(os.environ),
                on_wait=lambda holder: log.info("waiting for the lock %s (%s)", paths.lock, holder),
            ),
        ):
            _recover_interrupted(paths)
            return step(settings, paths)
    except ChurnError as exc:
        raise _fail(exc, debug) from None
    except Exception as exc:  # a bug: one line, not a traceback, unless --debug
        if debug:
            traceback.print_exc()
            raise typer.Exit(1) from None
        typer.echo(
            f"error: unexpected {type(exc).__name__}: {exc}. This is a bug in churn; run the "
            "command again with --debug for the traceback and report it.",
            err=True,
        )
        raise typer.Exit(1) from None


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """While a stage runs, SIGTERM (``kill``, a scheduler's timeout) ends it as an exception
    would: ``finally`` blocks and exit handlers run, so its temporary files and DuckDB spill
    folders go with it. Exit code 143, as the shell reports a process ended by SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _tracker(project_dir: Path) -> Tracker:
    """The MLflow store of one command, built once and passed to the stages that use it: the
    one ``MLFLOW_TRACKING_URI`` names, else the project's ``mlflow.db``. It connects on first
    use, so a command that never needs it never reaches it."""
    from churn.tracking.store import Tracker  # noqa: PLC0415 - mlflow is slow to import

    return Tracker.from_environment(project_dir, os.environ)


def _recover_interrupted(paths: PipelinePaths) -> None:
    """Put back an output folder a killed run swapped out but never replaced, so every stage
    sees the previous outputs (temporary files are removed by the next write of each output)."""
    for folder in paths.folder_outputs:
        for action in io.recover(folder):
            log.warning("a previous run was interrupted: %s", action)


@app.command()
def ingest(
    pipeline: PipelineArg,
    project_dir: ProjectOpt = Path("."),
    debug: DebugOpt = False,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Read every events file again, ignoring the manifest of files already "
            "ingested (needed after such a file changed or went away).",
        ),
    ] = False,
) -> None:
    """Validate the raw inputs against the contract and write the canonical tables. Events
    files already ingested, unchanged, are not read again."""
    from churn.stages import ingest as ingest_stage  # noqa: PLC0415 - a command loads only its stage

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: ingest_stage.run(s, p, now=now, rebuild=rebuild),
        stage=ingest_stage,
    )


@app.command()
def labels(
    pipeline: PipelineArg, project_dir: ProjectOpt = Path("."), debug: DebugOpt = False
) -> None:
    """Build point-in-time churn labels for every cutoff."""
    from churn.stages import labels as labels_stage  # noqa: PLC0415 - a command loads only its stage

    _run(pipeline, project_dir, debug, labels_stage.run, stage=labels_stage)


@app.command()
def features(
    pipeline: PipelineArg, project_dir: ProjectOpt = Path("."), debug: DebugOpt = False
) -> None:
    """Build behaviour features for every labelled (customer, cutoff)."""
    from churn.stages import features as features_stage  # noqa: PLC0415 - a command loads only its stage

    _run(pipeline, project_dir, debug, features_stage.run, stage=features_stage)


@app.command()
def train(
    pipeline: PipelineArg, project_dir: ProjectOpt = Path("."), debug: DebugOpt = False
) -> None:
    """Train the churn model and baselines; write the model, metrics, backtest and plots, and
    record the training in an MLflow run."""
    from churn.stages import train as train_stage  # noqa: PLC0415 - a command loads only its stage

    tracker = _tracker(project_dir)
    _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: train_stage.run(s, p, tracker),
        stage=train_stage,
    )


@app.command()
def uplift(
    pipeline: PipelineArg, project_dir: ProjectOpt = Path("."), debug: DebugOpt = False
) -> None:
    """Fit the uplift model on past contacts (data.contacts) and judge it on held-out campaigns."""
    from churn.stages import uplift as uplift_stage  # noqa: PLC0415 - a command loads only its stage

    _run(pipeline, project_dir, debug, uplift_stage.run, stage=uplift_stage)


@app.command()
def register(
    pipeline: PipelineArg, project_dir: ProjectOpt = Path("."), debug: DebugOpt = False
) -> None:
    """Log the trained model to MLflow as the challenger, then run the promotion gate."""
    from churn.stages import register as register_stage  # noqa: PLC0415 - a command loads only its stage

    tracker = _tracker(project_dir)
    _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: register_stage.run(s, p, tracker),
        stage=register_stage,
    )


@app.command()
def promote(
    pipeline: PipelineArg,
    project_dir: ProjectOpt = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the gate refuses.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Make the challenger the champion if it beats the champion on the same test cutoff."""
    from churn.stages import register as register_stage  # noqa: PLC0415 - a command loads only its stage

    tracker = _tracker(project_dir)
    decision = _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: register_stage.promote(s, p, tracker, force=force),
        stage=register_stage,
    )
    typer.echo(decision["reason"])


@app.command()
def score(  # noqa: PLR0917 - Typer options are keyword arguments on the command line
    pipeline: PipelineArg,
    project_dir: ProjectOpt = Path("."),
    cutoff: Annotated[
        dt.datetime | None,
        typer.Option(
            "--cutoff",
            formats=["%Y-%m-%d"],
            help="Score as of this date (YYYY-MM-DD); default: the day after the data.",
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="A model folder (models/<p>) instead of the registry's champion.",
        ),
    ] = None,
    explain_all: Annotated[
        bool, typer.Option("--explain-all", help="Reason codes for everyone, not just outreach.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Score today's customers with the champion: the ranked at-risk list with reasons."""
    from churn.stages import score as score_stage  # noqa: PLC0415 - a command loads only its stage

    now = dt.datetime.now(dt.UTC)
    tracker = _tracker(project_dir)
    out = _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: score_stage.run(
            s,
            p,
            tracker,
            now=now,
            cutoff=cutoff.date() if cutoff else None,
            model_path=model,
            explain_all=explain_all,
        ),
        stage=score_stage,
    )
    reach, paths = out["outreach"], PipelinePaths(project_dir, pipeline)
    dest = paths.scores_history(str(out["cutoff"])) if out.get("back_dated") else paths.scores
    typer.echo(
        f"{pipeline}: scored {out['scored']:,} customers at {out['cutoff']} with "
        f"{out['model']['name']} v{out['model']['version']}; outreach {reach['customers']:,} "
        f"({reach['to_contact']:,} to contact, {reach['control_group']:,} control), value at "
        f"risk {reach['value_at_risk']:,.0f} -> {dest}"
        + (
            f" (back-dated: the live list {paths.scores} is unchanged)"
            if dest != paths.scores
            else ""
        )
    )


@app.command()
def export(
    pipeline: PipelineArg,
    project_dir: ProjectOpt = Path("."),
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help=f"CRM to export for: {', '.join(TARGETS)} (repeatable); default: all.",
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Write the outreach list as CRM import files (data/exports/<p>/<target>.csv)."""
    from churn.stages import export as export_stage  # noqa: PLC0415 - a command loads only its stage

    chosen = target or list(TARGETS)
    unknown = [t for t in chosen if t not in TARGETS]
    if unknown:
        typer.echo(
            f"error: unknown --target {unknown}; expected some of {list(TARGETS)}.", err=True
        )
        raise typer.Exit(2)
    rows = _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: export_stage.run(s, p, [t for t in TARGETS if t in chosen]),
        stage=export_stage,
    )
    paths = PipelinePaths(project_dir, pipeline)
    for name, n in rows.items():
        typer.echo(f"{pipeline}: {n:,} rows -> {paths.export(name)}")


@app.command()
def monitor(
    pipeline: PipelineArg, project_dir: ProjectOpt = Path("."), debug: DebugOpt = False
) -> None:
    """Drift of the scored population from the training one, and realised performance."""
    from churn.stages import monitor as monitor_stage  # noqa: PLC0415 - a command loads only its stage

    tracker = _tracker(project_dir)
    out = _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: monitor_stage.run(s, p, tracker),
        stage=monitor_stage,
    )
    drift = out["drift"]
    typer.echo(
        f"{pipeline}: score PSI {drift['score_psi']:.3f}; features over "
        f"{drift['psi_threshold']:g}: {drift['flagged_features'] or 'none'}"
    )
    for item in out["realised"]["evaluated"]:
        typer.echo(
            f"{pipeline}: realised at {item['cutoff']}: ROC AUC {item['roc_auc']:.3f}, "
            f"ECE {item['ece']:.3f}, lift in the top decile {item['lift_top_decile']:.2f}"
        )


@app.command()
def report(
    pipeline: PipelineArg, project_dir: ProjectOpt = Path("."), debug: DebugOpt = False
) -> None:
    """Write reports/<p>/report.html: retention, model, outreach and monitoring on one page."""
    from churn.stages import report as report_stage  # noqa: PLC0415 - a command loads only its stage

    now = dt.datetime.now(dt.UTC)
    out = _run(
        pipeline,
        project_dir,
        debug,
        lambda s, p: report_stage.run(s, p, now=now),
        stage=report_stage,
    )
    typer.echo(f"{pipeline}: {out['path']}")


@app.command()
def simulate(  # noqa: PLR0917 - Typer options are keyword arguments on the command line
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write (replaced as a whole).")
    ] = Path("data/raw/subscription"),
    customers: Annotated[int, typer.Option("--customers", min=1)] = 3000,
    months: Annotated[int, typer.Option("--months", min=2)] = 24,
    start: Annotated[
        dt.datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First of a month.")
    ] = dt.datetime(2023, 1, 1),
    seed: Annotated[int, typer.Option("--seed")] = 42,
    file_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Simulate a subscription business: contract tables (events, customers, churn_events),
    its past retention campaigns (contacts) and, under truth/, each subscriber-month's churn
    hazard, each churner's main driver and each campaign's true effect of every action."""
    from churn.data import simulate as sim  # noqa: PLC0415 - only this command needs it

    if file_format not in ("parquet", "csv"):
        typer.echo(
            f"error: --format must be parquet or csv. Got {file_format!r} instead.", err=True
        )
        raise typer.Exit(2)
    try:
        settings = sim.SimulationSettings(
            customers=customers, months=months, start=start.date(), seed=seed
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    result = sim.simulate(settings)
    write = io.write_parquet if file_format == "parquet" else io.write_csv
    try:
        io.write_folder(out, lambda folder: sim.write_tables(result, folder, write, file_format))
    except ChurnError as exc:  # a full disk or a folder that is not writable
        raise _fail(exc, debug=False) from None
    typer.echo(
        f"simulated {customers:,} customers over {months} months (seed {seed}): "
        f"{len(result.events):,} events, {len(result.churn_events):,} cancellations -> {out}"
    )


ColumnOpt = Annotated[str | None, typer.Option(help="Column (default: guessed).")]


def _fail(exc: ChurnError, debug: bool) -> typer.Exit:
    """The message of ``exc`` on stderr (after its traceback with ``--debug``) and its exit
    code: ``--debug`` shows more, it never changes the exit code."""
    if debug:
        traceback.print_exception(exc)
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(exc.exit_code)


@app.command("init")
def init_pipeline(  # noqa: PLR0917 - Typer options are keyword arguments on the command line
    name: Annotated[str, typer.Argument(help="Pipeline name: lower case, digits, _ and -.")],
    events: Annotated[
        list[Path] | None, typer.Option("--events", help="Events file (repeatable).")
    ] = None,
    customers: Annotated[
        Path | None, typer.Option("--customers", help="Table of one row per customer.")
    ] = None,
    churn_events: Annotated[
        Path | None, typer.Option("--churn-events", help="Cancellations: customer and date.")
    ] = None,
    snapshot: Annotated[
        Path | None, typer.Option("--snapshot", help="One row per customer with a label.")
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Snapshot: the churn label (default: guessed).")
    ] = None,
    positive: Annotated[
        str | None, typer.Option("--positive", help="Snapshot: the label value of churners.")
    ] = None,
    customer_id: ColumnOpt = None,
    timestamp: ColumnOpt = None,
    amount: ColumnOpt = None,
    order_id: ColumnOpt = None,
    event_type: ColumnOpt = None,
    value: Annotated[
        str | None, typer.Option("--value", help="Snapshot: the monthly charge column.")
    ] = None,
    timestamp_format: Annotated[
        str | None,
        typer.Option(
            "--timestamp-format",
            help="strftime format of the timestamp, e.g. '%m/%d/%Y', or unix_s / unix_ms "
            "(default: guessed).",
        ),
    ] = None,
    horizon_days: Annotated[
        int | None,
        typer.Option(
            "--horizon-days",
            min=1,
            help="Days after a cutoff churn is looked for (default: 90, or the longest of 60, "
            "30, 14, 7 the data is long enough for).",
        ),
    ] = None,
    test_cutoff: Annotated[
        dt.datetime | None,
        typer.Option("--test-cutoff", formats=["%Y-%m-%d"], help="Default: the latest observed."),
    ] = None,
    exclude: Annotated[
        str | None, typer.Option("--exclude", help="Columns to leave out: COL,COL...")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a pipeline of that name.")
    ] = False,
    project_dir: ProjectOpt = Path("."),
    debug: DebugOpt = False,
) -> None:
    """Create a pipeline from your own files: guess what each column is, choose the cutoffs,
    write pipelines/NAME/params.yaml and add NAME to dvc.yaml."""
    from churn.init import project  # noqa: PLC0415 - only this command needs it
    from churn.init.plan import EventFlags, SnapshotFlags, split_list  # noqa: PLC0415 - same

    if (snapshot is None) == (not events):
        typer.echo("error: give either --events FILE (repeatable) or --snapshot FILE.", err=True)
        raise typer.Exit(2)
    try:
        if snapshot is not None:
            flags = SnapshotFlags(label, positive, customer_id, value, split_list(exclude))
            if churn_events is not None:
                typer.echo("error: --churn-events is for --events pipelines.", err=True)
                raise typer.Exit(2)
            created = project.init_snapshot(
                project_dir, name, snapshot, flags=flags, customers=customers, force=force
            )
        else:
            event_flags = EventFlags(
                customer_id=customer_id,
                timestamp=timestamp,
                timestamp_format=timestamp_format,
                amount=amount,
                order_id=order_id,
                event_type=event_type,
                horizon_days=horizon_days,
                test_cutoff=test_cutoff.date() if test_cutoff else None,
                exclude=split_list(exclude),
            )
            created = project.init_events(
                project_dir,
                name,
                events or [],
                flags=event_flags,
                customers=customers,
                churn_events=churn_events,
                force=force,
            )
    except ChurnError as exc:
        raise _fail(exc, debug) from None
    for source, dest in created.copied:
        typer.echo(f"copied {source} -> {dest}")
    width = max(len(role) for role, _, _ in created.findings)
    for role, found, how in created.findings:
        typer.echo(f"  {role:<{width}}  {found}  ({how})")
    for note in created.plan.notes:
        typer.echo(f"  check: {note}")
    typer.echo(f"wrote {created.params_path}; added {name} to dvc.yaml. Next: churn run {name}")


@app.command("run")
def run_pipeline(
    pipeline: PipelineArg,
    score_only: Annotated[
        bool,
        typer.Option(
            "--score-only",
            help="The weekly job: ingest new data, score it with the registered champion, "
            "export, monitor and report; never retrain.",
        ),
    ] = False,
    project_dir: ProjectOpt = Path("."),
    debug: DebugOpt = False,
) -> None:
    """Run one pipeline through DVC (dvc repro), then print its summary: every stage whose
    inputs changed (the first run trains and registers a model; a later one retrains when the
    data or params changed), or with --score-only only the scoring stages."""
    from churn.init import project  # noqa: PLC0415 - only this command needs it

    try:
        code = project.run_pipeline(
            project_dir, check_pipeline_name(pipeline), typer.echo, score_only=score_only
        )
    except ChurnError as exc:
        raise _fail(exc, debug) from None
    if code != 0:
        typer.echo(f"error: a stage of {pipeline} failed (exit code {code}; see above)", err=True)
        raise typer.Exit(code)
    paths = PipelinePaths(project_dir, pipeline)
    if paths.metrics.is_file():
        typer.echo(_summary_line(pipeline, json.loads(paths.metrics.read_text())))
    if paths.scoring_summary.is_file():
        typer.echo(_list_line(pipeline, json.loads(paths.scoring_summary.read_text())))


def _list_line(name: str, s: dict[str, Any]) -> str:
    reach, model = s.get("outreach", {}), s.get("model", {})
    return (
        f"  {name:<8} list at {s.get('cutoff')}: {s.get('scored', 0):,} customers scored by "
        f"{model.get('name')} v{model.get('version')}, {reach.get('to_contact', 0):,} to "
        f"contact, {reach.get('control_group', 0):,} held out (`churn show {name}`)"
    )


def _summary_line(name: str, m: dict[str, Any]) -> str:
    baselines = ", ".join(f"{b} {v['roc_auc']:.3f}" for b, v in m.get("baselines", {}).items())
    cv = f", 5-fold CV AUC {m['cv_roc_auc_mean']:.3f}" if "cv_roc_auc_mean" in m else ""
    from churn.evaluation.summaries import baselines_ahead  # noqa: PLC0415 - a command loads only what it needs

    ahead = baselines_ahead(m)
    return (
        f"  {name:<8} test ROC AUC {m['roc_auc']:.3f}{cv}, "
        f"ECE {m['ece']:.3f}, n {m['n_test']:,} ({m['positive_rate']:.1%} churned); "
        f"baselines: {baselines}"
        + (f"; TRAILS {', '.join(ahead)}" if ahead else "")
        + (f"; {len(warned)} warning(s) in metrics.json" if (warned := m.get("warnings")) else "")
    )


TOP_OPT = typer.Option("--top", min=1, help="How many customers to show.")


@app.command()
def show(  # noqa: PLR0917 - Typer options are keyword arguments on the command line
    pipeline: PipelineArg,
    top: Annotated[int, TOP_OPT] = 20,
    tier: Annotated[str | None, typer.Option(help="Only this risk tier, e.g. high.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this recommended action, e.g. service_call.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only this outreach status: contact, control or 'not in outreach'."),
    ] = None,
    project_dir: ProjectOpt = Path("."),
) -> None:
    """Show the at-risk list in the terminal, as `churn score` last wrote it: rank, customer,
    risk, value, status, action and first reason of the first --top customers by priority,
    optionally only one tier, action or outreach status."""
    from churn.scoring.listing import select, top_cells  # noqa: PLC0415 - only this command

    paths = PipelinePaths(project_dir, check_pipeline_name(pipeline))
    try:
        scores = io.read_parquet(paths.scores)
        kept = select(scores, where=str(paths.scores), tier=tier, action=action, status=status)
    except ChurnError as exc:
        raise _fail(exc, debug=False) from None
    titles, rows = top_cells(kept, top=top)
    filters = ", ".join(
        f"{k} {v}" for k, v in (("tier", tier), ("action", action), ("status", status)) if v
    )
    caption = (
        f"{len(rows):,} of {len(kept):,} customers"
        + (f" ({filters}; {len(scores):,} on the list)" if filters else "")
        + f", cutoff {_list_cutoff(scores)}"
    )
    _print_table(titles, rows, caption)


app.command("list", hidden=True, help="Same as `churn show` (its earlier name).")(show)


def _list_cutoff(scores: Any) -> str:
    return str(scores["cutoff"].iloc[0])[:10] if "cutoff" in scores and len(scores) else "?"


def _print_table(titles: list[str], rows: list[list[str]], caption: str) -> None:
    """A rich table on stdout: the terminal's width in a terminal, wide (no wrapped rows) when
    piped to a file or another program."""
    from rich.console import Console  # noqa: PLC0415 - only the terminal commands need it
    from rich.table import Table  # noqa: PLC0415

    table = Table(caption=caption, caption_justify="left", highlight=False)
    for title in titles:
        numeric = title in {"rank", "P(churn)", "value at risk"}
        table.add_column(title, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 240, highlight=False).print(table)


@app.command()
def explain(
    pipeline: PipelineArg,
    customer_id: Annotated[str, typer.Argument(help="The customer's id, as on the list.")],
    project_dir: ProjectOpt = Path("."),
) -> None:
    """Show one customer of the at-risk list: probability, risk tier, value at risk, outreach
    status, action and every reason, as `churn score` last wrote it."""
    from churn.scoring.listing import customer_lines  # noqa: PLC0415 - only this command needs it

    paths = PipelinePaths(project_dir, check_pipeline_name(pipeline))
    try:
        scores = io.read_parquet(paths.scores)
        lines = customer_lines(scores, customer_id, where=f"pipeline {pipeline}: {paths.scores}")
    except ChurnError as exc:
        raise _fail(exc, debug=False) from None
    for line in lines:
        typer.echo(line)


@app.command()
def summary(project_dir: ProjectOpt = Path(".")) -> None:
    """Test ROC AUC and calibration of every trained pipeline, baselines beside it."""
    if not project_dir.is_dir():
        raise _fail(ConfigError(f"--project-dir {project_dir}: no such folder."), debug=False)
    found = sorted(project_dir.glob("reports/*/metrics.json"))
    if not found:
        typer.echo(
            f"no trained pipeline in {project_dir}: no reports/<p>/metrics.json. Run `make run`, "
            "or `churn train <p>`.",
            err=True,
        )
        raise typer.Exit(PipelineStateError.exit_code)
    for metrics_file in found:
        typer.echo(_summary_line(metrics_file.parent.name, json.loads(metrics_file.read_text())))


if __name__ == "__main__":  # pragma: no cover
    app()
