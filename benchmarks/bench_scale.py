"""Benchmark: the whole pipeline on one machine as the events grow (1M, 10M, 30M, 100M).

For each size it builds a throwaway project: a web shop's synthetic events (``synthetic.py``,
about 100 events per customer, so 100M events are about a million customers) written as one
raw parquet file in shards, and ``pipelines/shop/params.yaml`` with 12 monthly cutoffs (10
training ones, the last of them the validation cutoff, a test cutoff and the scoring cutoff;
30-day horizon; the test cutoff is also scored into ``history/`` so that ``monitor`` has a
list whose outcome is known). Then it runs every stage of the pipeline's DVC graph, each in
its own process, in DVC's order:

    churn ingest | labels | features | train | uplift | register | score | export
          | monitor | report   shop

(``uplift`` finds no contact history in these events and writes only its note), and records
per stage the wall time, CPU time (user + system, all threads), the process's peak resident
memory (its high-water mark, ``wait4``'s ``ru_maxrss``) and the peak size of the temporary
folder DuckDB spills to (sampled every 0.2 s), and prints them as a table with the load
average before each stage and at the end. MLflow uses a SQLite store in the project.

    .venv/bin/python benchmarks/bench_scale.py --events 10000000 30000000 100000000
    .venv/bin/python benchmarks/bench_scale.py --events 1000000 --keep /tmp/shop  # look inside

``--ingest-max`` skips ``churn ingest`` above a size (the canonical table is then written
directly); ``--duckdb-memory-limit`` (default 4GB, the pipeline's default) caps DuckDB, which
spills to disk beyond it. Results are printed as a table and appended as JSON lines to
``--results``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

STAGES = (
    "ingest",
    "labels",
    "features",
    "train",
    "uplift",
    "register",
    "score",
    "export",
    "monitor",
    "report",
)
SHARD_EVENTS = 10_000_000
START = dt.date(2023, 1, 1)
DAYS = 365


def params(
    memory_limit: str,
    threads: int,
    backtests: int,
    search: bool,
    driver_customers: int | None = None,
) -> dict[str, Any]:
    """The shop pipeline: canonical column names, so the contract maps each to itself."""
    return {
        "data": {
            "kind": "events",
            "events": {
                "sources": [
                    {
                        "path": "data/raw/shop/events.parquet",
                        "columns": {
                            "customer_id": "customer_id",
                            "timestamp": "ts",
                            "event_type": "event_type",
                            "order_id": "order_id",
                            "product_id": "product_id",
                            "quantity": "quantity",
                            "amount": "amount",
                        },
                        "attributes": {"channel": "channel"},
                    }
                ],
                "timezone": "UTC",
            },
        },
        "labels": {
            "churn_definition": "inactivity",
            "activity_event_types": ["purchase"],
            "horizon_days": 30,
            "max_inactive_days": None,
            "train_cutoffs": {"start": "2023-02-01", "end": "2023-11-01", "every_months": 1},
            "test_cutoff": "2023-12-01",
        },
        "features": {
            "windows_days": [30, 90, 180, 365],
            "trend_window_days": 90,
            "event_types": ["purchase", "return", "visit"],
            "return_event_types": ["return"],
            "calendar": False,
            "bgnbd": True,
            "duckdb_memory_limit": memory_limit,
        },
        "train": {
            "seed": 42,
            "max_depth": 4,
            "learning_rate": 0.1,
            "calibration": "platt",
            "backtest_cutoffs": backtests,
            "threads": threads,
            # off by default: at most 20 trials or 3 minutes, whatever the size (--search)
            "search": {"enabled": search},
            "driver_customers": driver_customers,
        },
        "scoring": {
            "outreach": {"priority": "value_at_risk", "top_percent": 20, "control_percent": 10},
            "value": {"method": "clv"},
            "explain": "outreach",
        },
        # the test cutoff's list too, so monitor evaluates a list whose outcome is known
        "monitoring": {"backfill_cutoffs": ["2023-12-01"]},
    }


def write_events(path: Path, n_events: int, seed: int) -> int:
    """``n_events`` synthetic events in shards of at most ``SHARD_EVENTS`` into one parquet
    file; each shard has its own seed and customers. Returns the number of customers."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - only in the data-preparing child
    from synthetic import synthetic_table  # noqa: PLC0415 - benchmarks/ is on sys.path

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    customers, done, shard = 0, 0, 0
    try:
        while done < n_events:
            n = min(SHARD_EVENTS, n_events - done)
            table = synthetic_table(
                n, seed=seed + shard, start=START, days=DAYS, first_customer=customers
            )
            customers += len(table.column("customer_id").unique())
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=1_000_000)
            done, shard = done + n, shard + 1
    finally:
        if writer is not None:
            writer.close()
    return customers


def canonical_without_ingest(project: Path) -> None:
    """What ``churn ingest`` writes for these events (they are canonical already: sorted by
    customer and time, contract columns in order), written by DuckDB directly, for sizes above
    ``--ingest-max``."""
    import duckdb  # noqa: PLC0415 - only in the data-preparing child

    from churn.data.contract import EVENT_FRAME_COLUMNS  # noqa: PLC0415

    raw = project / "data/raw/shop/events.parquet"
    out = project / "data/interim/shop/canonical/events.parquet"
    out.parent.mkdir(parents=True)
    columns = ", ".join([*EVENT_FRAME_COLUMNS, "channel"])
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{project / 'tmp'}'")
    con.execute(
        f"COPY (SELECT {columns} FROM read_parquet('{raw}') ORDER BY customer_id, ts) "
        f"TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"
    )
    con.close()


class _FolderPeak:
    """Peak total size of the files under a folder, sampled in a thread."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak, self._stop = folder, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _size(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.folder):
            for name in files:
                with contextlib.suppress(OSError):  # a spill file removed meanwhile
                    total += os.stat(os.path.join(root, name)).st_size
        return total

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self._size())

    def __enter__(self) -> _FolderPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class StageRun:
    events: int
    stage: str
    seconds: float
    cpu_seconds: float
    peak_rss_gb: float
    peak_spill_gb: float
    exit_code: int
    load_before: float


def run_stage(stage: str, project: Path, n_events: int) -> StageRun:
    """One ``churn <stage> shop`` in its own process, measured."""
    spill = project / "tmp"
    spill.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "TMPDIR": str(spill),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }
    churn = Path(sys.executable).with_name("churn")
    cmd = [str(churn), stage, "shop", "--project-dir", str(project)]
    log = (project / "logs").joinpath(f"{stage}.log")
    log.parent.mkdir(exist_ok=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with log.open("w") as out, _FolderPeak(spill) as peak:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    return StageRun(
        events=n_events,
        stage=stage,
        seconds=round(seconds, 1),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 1),
        peak_rss_gb=round(usage.ru_maxrss * 1024 / 1e9, 2),
        peak_spill_gb=round(peak.peak / 1e9, 2),
        exit_code=os.waitstatus_to_exitcode(status),
        load_before=round(load, 1),
    )


def bench(n_events: int, args: argparse.Namespace) -> list[StageRun]:
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="churn-scale-"))
    project = root / f"shop-{n_events}"
    shutil.rmtree(project, ignore_errors=True)
    (project / "pipelines/shop").mkdir(parents=True)
    (project / "pipelines/shop/params.yaml").write_text(
        yaml.safe_dump(
            params(
                args.duckdb_memory_limit,
                args.threads,
                args.backtests,
                args.search,
                args.driver_customers,
            ),
            sort_keys=False,
        )
    )
    started = time.perf_counter()
    # In a child process: a child's peak memory (ru_maxrss) starts at its parent's size when
    # it is forked, so the parent must stay small for the stages' figures to be their own.
    prepare = [sys.executable, __file__, "--prepare", str(project), "--events", str(n_events)]
    prepare += ["--seed", str(args.seed), "--ingest-max", str(args.ingest_max)]
    customers = int(subprocess.run(prepare, check=True, capture_output=True, text=True).stdout)
    size = (project / "data/raw/shop/events.parquet").stat().st_size
    print(
        f"\n{n_events:,} events, {customers:,} customers, {size / 1e9:.2f} GB parquet "
        f"(generated in {time.perf_counter() - started:.0f} s) in {project}",
        flush=True,
    )
    runs = []
    try:
        for stage in STAGES:
            if stage == "ingest" and n_events > args.ingest_max:
                print("  ingest    skipped: canonical events written directly (--ingest-max)")
                continue
            run = run_stage(stage, project, n_events)
            runs.append(run)
            print(
                f"  {stage:<9} {run.seconds:8.1f} s  {run.cpu_seconds:8.1f} CPU s  "
                f"{run.peak_rss_gb:6.2f} GB RSS  {run.peak_spill_gb:6.2f} GB spilled  "
                f"exit {run.exit_code}  (load {run.load_before})",
                flush=True,
            )
            if run.exit_code != 0:
                print(f"  stopped: see {project / 'logs' / (stage + '.log')}", flush=True)
                break
        with Path(args.results).open("a") as out:
            for run in runs:
                out.write(json.dumps({**asdict(run), "customers": customers}) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_table(n_events, customers, runs)
    return runs


def print_table(n_events: int, customers: int, runs: list[StageRun]) -> None:
    """The runs of one size as a Markdown table (as benchmarks/README.md shows them), with the
    load average now."""
    print(
        f"\n| {n_events:,} events ({customers:,} customers) | seconds | CPU s | peak RSS GB |"
        " spilled GB | load before |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for run in runs:
        print(
            f"| {run.stage} | {run.seconds:.1f} | {run.cpu_seconds:.1f} | {run.peak_rss_gb:.2f} |"
            f" {run.peak_spill_gb:.2f} | {run.load_before} |"
        )
    if runs:
        seconds = sum(r.seconds for r in runs)
        print(
            f"| **all {len(runs)}** | **{seconds:.0f}** ({seconds / 60:.1f} min) |"
            f" {sum(r.cpu_seconds for r in runs):.0f} | {max(r.peak_rss_gb for r in runs):.2f} |"
            f" {max(r.peak_spill_gb for r in runs):.2f} | |"
        )
    one, five, fifteen = os.getloadavg()
    print(f"load average at the end: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duckdb-memory-limit", default="4GB")
    parser.add_argument("--threads", type=int, default=2, help="xgboost threads (train)")
    parser.add_argument(
        "--ingest-max",
        type=int,
        default=10**12,
        help="largest size to run churn ingest on (default: every size); above it the "
        "canonical table is written directly, to time the later stages alone",
    )
    parser.add_argument(
        "--backtests", type=int, default=0, help="train.backtest_cutoffs (each one refits)"
    )
    parser.add_argument(
        "--search",
        action="store_true",
        help="train.search.enabled (off by default: the search is capped at 20 trials or 3 "
        "minutes whatever the size, so it would hide how train grows)",
    )
    parser.add_argument(
        "--driver-customers",
        type=int,
        default=None,
        help="train.driver_customers: train and register read the labelled rows of a fixed "
        "sample of this many customers (on this local engine the booster learns from the "
        "sample too)",
    )
    parser.add_argument("--keep", help="folder to build the projects in, kept afterwards")
    parser.add_argument("--results", default="bench_scale.jsonl")
    parser.add_argument("--prepare", help=argparse.SUPPRESS)  # child: project folder
    args = parser.parse_args()
    if args.prepare:
        project, n = Path(args.prepare), args.events[0]
        print(write_events(project / "data/raw/shop/events.parquet", n, args.seed))
        if n > args.ingest_max:
            canonical_without_ingest(project)
        return
    memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9
    one, five, fifteen = os.getloadavg()
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{memory_gb:.0f} GB memory, load average {one:.2f} {five:.2f} {fifteen:.2f}"
    )
    for n in args.events:
        bench(n, args)


if __name__ == "__main__":
    main()
