"""Benchmark: churn labels + features in DuckDB against the hand-written pandas reference.

Generates synthetic events (``synthetic.py``), writes them once to a temporary parquet file, then
runs each implementation in its own subprocess, which reads the file and reports its own time,
CPU time and peak resident memory. Generation and the parquet read are reported, not timed.
Peak memory is the process's peak from the end of the read (VmHWM, reset after reading) and so
includes the events frame itself, which every implementation needs.

    .venv/bin/python benchmarks/bench_features.py                      # 10M events, 12 cutoffs
    .venv/bin/python benchmarks/bench_features.py --events 1000000 10000000 --check

DuckDB computes labels for monthly cutoffs (``build_labels``), then features for every labelled
(customer, cutoff) pair (``build_features``). The pandas reference computes the same features
for the same pairs (it has no labels of its own), so the speed-up column compares its features
time with DuckDB's labels + features time, and, in brackets, with DuckDB's features time alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from dateutil.relativedelta import relativedelta
from pandas_features import pandas_features  # benchmarks/ is on sys.path when run as a script
from synthetic import synthetic_events

from churn.features import FeatureSpec, build_features
from churn.labels import build_labels, cutoff_table, observed_until
from churn.settings import CutoffSchedule, EventLabelSettings, FeatureSettings

START = dt.date(2023, 1, 1)
DAYS = 365
HORIZON_DAYS = 30


def label_settings(data_end: dt.date, n_cutoffs: int) -> EventLabelSettings:
    """Monthly cutoffs ending at the data: training months, a test month (``data_end`` - 1
    month) and the score cutoff ``data_end`` itself, ``n_cutoffs`` in all; 30-day horizon."""
    if n_cutoffs < 3:
        raise ValueError(f"The 'cutoffs' parameter must be at least 3. Got {n_cutoffs} instead.")
    months = [data_end - relativedelta(months=k) for k in range(n_cutoffs - 1, 1, -1)]
    return EventLabelSettings(
        activity_event_types=["purchase"],
        horizon_days=HORIZON_DAYS,
        train_cutoffs=CutoffSchedule(dates=months),
        test_cutoff=data_end - relativedelta(months=1),
    )


def feature_spec(memory_limit: str) -> FeatureSpec:
    """The features of a web shop: visits, purchases and returns, and the session channel."""
    settings = FeatureSettings(
        event_types=["purchase", "return", "visit"],
        return_event_types=["return"],
        duckdb_memory_limit=memory_limit,
    )
    return FeatureSpec(
        settings=settings, activity_event_types=("purchase",), event_attributes=("channel",)
    )


def _rss_gb() -> float:
    """Resident memory of this process now, in GB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e9


def _reset_peak_rss() -> None:
    """Start measuring peak memory from now (Linux: reset VmHWM via /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _peak_rss_gb() -> float:
    """Peak resident memory of this process since ``_reset_peak_rss``, in GB (10^9 bytes)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _read_frame(path: str) -> pd.DataFrame:
    """``path`` as a pandas frame. Arrow keeps the buffers freed by the parquet-to-pandas
    conversion (about 0.4 GB at 10M events); they are handed back to the OS, so that the peak
    memory measures the implementation rather than the reader."""
    frame = pd.read_parquet(path)
    gc.collect()
    pa.default_memory_pool().release_unused()
    return frame


def _cpu_seconds() -> float:
    """CPU time (user + system, all threads) of this process so far, in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_duckdb(args: argparse.Namespace) -> dict[str, Any]:
    """Child: labels + features in DuckDB. Writes the labels (the pairs) for the pandas child."""
    started = time.perf_counter()
    events = _read_frame(args.data)
    read_s = time.perf_counter() - started
    rss_after_read = _rss_gb()
    _reset_peak_rss()
    settings = label_settings(observed_until(events), args.cutoffs)
    cutoffs = cutoff_table(settings, observed_until(events))

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    labels = build_labels(events, cutoffs, settings, threads=args.threads)
    labelled = time.perf_counter()
    features = build_features(events, labels, feature_spec(args.memory_limit), threads=args.threads)
    done, cpu_done = time.perf_counter(), _cpu_seconds()
    peak = _peak_rss_gb()

    labels[["customer_id", "cutoff"]].to_parquet(args.pairs)
    if args.out:
        features.to_parquet(args.out)
    return {
        "read_s": read_s,
        "rss_after_read_gb": rss_after_read,
        "labels_s": labelled - started,
        "features_s": done - labelled,
        "seconds": done - started,
        "cpu_seconds": cpu_done - cpu_started,
        "peak_rss_gb": peak,
        "pairs": len(features),
        "cutoffs": int(cutoffs["cutoff"].nunique()),
    }


def run_pandas(args: argparse.Namespace) -> dict[str, Any]:
    """Child: the pandas reference features for the pairs the DuckDB child labelled."""
    started = time.perf_counter()
    events = _read_frame(args.data)
    pairs = _read_frame(args.pairs)
    read_s = time.perf_counter() - started
    rss_after_read = _rss_gb()
    _reset_peak_rss()

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    features = pandas_features(events, pairs, feature_spec(args.memory_limit))
    done, cpu_done = time.perf_counter(), _cpu_seconds()
    peak = _peak_rss_gb()
    if args.out:
        features.to_parquet(args.out)
    return {
        "read_s": read_s,
        "rss_after_read_gb": rss_after_read,
        "seconds": done - started,
        "cpu_seconds": cpu_done - cpu_started,
        "peak_rss_gb": peak,
        "pairs": len(features),
    }


def _child(impl: str, data: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", impl, "--data", str(data),
        "--pairs", str(work / "pairs.parquet"), "--cutoffs", str(args.cutoffs),
        "--memory-limit", args.memory_limit,
    ]  # fmt: skip
    if args.threads:
        command += ["--threads", str(args.threads)]
    if args.check:
        command += ["--out", str(work / f"features_{impl}.parquet")]
    # cwd: DuckDB spills to ./.tmp when it reaches memory_limit; keep that in the temp dir
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=work)
    if done.returncode != 0:
        raise SystemExit(f"{impl} run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _same_features(work: Path) -> str:
    """Compare the two children's outputs: 'identical' or the first differing columns."""
    duck = pd.read_parquet(work / "features_duckdb.parquet")
    ref = pd.read_parquet(work / "features_pandas.parquet")
    if len(duck) != len(ref) or list(duck.columns) != list(ref.columns):
        return f"shapes differ: {duck.shape} vs {ref.shape}"
    bad = []
    for col in duck.columns:
        a, b = duck[col], ref[col]
        if pd.api.types.is_float_dtype(a):
            same = np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            same = ((a == b) | (a.isna() & b.isna())).to_numpy()
        if not same.all():
            bad.append(f"{col} ({(~same).sum()} rows)")
    return "identical (rtol 1e-9)" if not bad else "DIFFER: " + ", ".join(bad[:5])


def bench_size(n_events: int, args: argparse.Namespace) -> None:
    """Generate ``n_events`` events, run both children on them and print the table."""
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        work = Path(tmp)
        data = work / "events.parquet"
        started = time.perf_counter()
        events = synthetic_events(n_events, seed=args.seed, start=START, days=DAYS)
        generated = time.perf_counter()
        events.to_parquet(data)
        written = time.perf_counter()
        n_customers = events["customer_id"].nunique()
        del events
        print(
            f"\n{n_events:,} events, {n_customers:,} customers: generated in "
            f"{generated - started:.1f} s, parquet written in {written - generated:.1f} s "
            f"({data.stat().st_size / 1e6:.0f} MB)",
            flush=True,
        )
        load = os.getloadavg()[0]
        duck = _child("duckdb", data, work, args)
        runs = [("duckdb labels+features", duck)]
        pand = None
        if not args.skip_pandas:
            pand = _child("pandas", data, work, args)
            runs.append(("pandas features", pand))
        header = (
            f"{'events':>12} {'cutoffs':>7} {'pairs':>9}  {'implementation':<23}{'seconds':>8}"
            f" {'CPU s':>7} {'peak RSS GB':>11} {'read s':>7} {'RSS at start GB':>16}"
            f" {'speed-up':>14}"
        )
        print(header)
        print("-" * len(header))
        for name, run in runs:
            speed = ""
            if pand is not None and run is pand:
                speed = (
                    f"{pand['seconds'] / duck['seconds']:.1f}x"
                    f" ({pand['seconds'] / duck['features_s']:.1f}x)"
                )
            print(
                f"{n_events:>12,} {duck['cutoffs']:>7} {duck['pairs']:>9,}  {name:<23}"
                f"{run['seconds']:>8.1f} {run['cpu_seconds']:>7.1f} {run['peak_rss_gb']:>11.2f}"
                f" {run['read_s']:>7.1f} {run['rss_after_read_gb']:>16.2f} {speed:>14}"
            )
        print(
            f"  duckdb: labels {duck['labels_s']:.1f} s + features {duck['features_s']:.1f} s;"
            f" speed-up = pandas / duckdb labels+features (pandas / duckdb features);"
            f" load average before the runs {load:.1f} on {os.cpu_count()} CPUs"
        )
        if pand is not None and args.check:
            print(f"  features agree: {_same_features(work)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, nargs="+", default=[10_000_000], help="event count(s) to run"
    )
    parser.add_argument("--cutoffs", type=int, default=12, help="monthly cutoffs (3..12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pandas", action="store_true", help="run DuckDB only")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    parser.add_argument(
        "--memory-limit", default=FeatureSettings().duckdb_memory_limit,
        help="DuckDB memory_limit for the features query",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true", help="also check that both give the same features"
    )
    parser.add_argument("--child", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 3 <= args.cutoffs <= 12:
        parser.error(f"--cutoffs must be 3..12 (one year of monthly cutoffs); got {args.cutoffs}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        run = run_duckdb if args.child == "duckdb" else run_pandas
        print(json.dumps(run(args)))
        return
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, threads {args.threads}")
    for n_events in args.events:
        bench_size(n_events, args)


if __name__ == "__main__":
    main()
