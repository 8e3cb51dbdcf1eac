"""The weekly job against a full run, on retail: how long a new week of raw data takes to become
a new at-risk list when nothing is retrained.

1. A fresh project in a temporary folder (git + DVC, the repository's dvc.yaml with only the
   retail pipeline, a copy of ``src/`` and ``pipelines/retail``). Retail's second source
   becomes a glob (``online_retail_2010_2011*.parquet``) and its file is split in two: every
   invoice line up to a week before the last day, and the last week.
2. ``churn run retail``: every stage on the data without the last week (ingest, labels,
   features, train, uplift, register, score, export, monitor, report). Timed.
3. The last week's file is dropped next to the others, then ``churn run retail --score-only``:
   ingest reads that file only, the registered champion scores the new cutoff, then export,
   monitor and report. Timed; the training stages must not run.

    .venv/bin/python benchmarks/bench_weekly.py [--keep /tmp/weekly]

Prints a markdown table; appends the figures as a JSON line to ``--results``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
RAW = "data/raw/online_retail"
YEARLY = "online_retail_2010_2011"
TRAINING_STAGES = ("labels", "features", "train", "uplift", "register")


def project(folder: Path) -> tuple[Path, pd.DataFrame]:
    """The scratch project with retail's data minus its last week, and that week's lines."""
    shutil.copytree(ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "pipelines/retail", folder / "pipelines/retail")
    shutil.copy(ROOT / ".dvcignore", folder / ".dvcignore")
    dvc_yaml = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    dvc_yaml = re.sub(r"^      (?!retail:)[a-z0-9_-]+: \{raw: [^}]*\}\n", "", dvc_yaml, flags=re.M)
    (folder / "dvc.yaml").write_text(dvc_yaml, encoding="utf-8")
    raw = folder / RAW
    raw.mkdir(parents=True)
    for file in (ROOT / RAW).iterdir():
        if file.name != f"{YEARLY}.parquet":
            shutil.copy(file, raw / file.name)
    lines = pd.read_parquet(ROOT / RAW / f"{YEARLY}.parquet")
    stamps = pd.to_datetime(lines["InvoiceDate"])
    week_start = stamps.max().normalize() - pd.Timedelta(days=6)
    lines[stamps < week_start].to_parquet(raw / f"{YEARLY}.parquet", index=False)
    params_file = folder / "pipelines/retail/params.yaml"
    params = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    sources = params["data"]["events"]["sources"]
    (source,) = [s for s in sources if s["path"] == f"{RAW}/{YEARLY}.parquet"]
    source["path"] = f"{RAW}/{YEARLY}*.parquet"
    _week_earlier(params)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(command, cwd=folder, check=True)
    return folder, lines[stamps >= week_start]


def _week_earlier(params: dict[str, Any]) -> None:
    """Retail's fixed cutoffs a week earlier, as the data without its last week needs (its test
    cutoff's window must end within the data)."""

    def back(day: str) -> str:
        return (dt.date.fromisoformat(str(day)) - dt.timedelta(days=7)).isoformat()

    labels = params["labels"]
    labels["test_cutoff"] = back(labels["test_cutoff"])
    cutoffs = labels["train_cutoffs"]
    if isinstance(cutoffs, dict):
        cutoffs.update({k: back(cutoffs[k]) for k in ("start", "end")})
    else:
        labels["train_cutoffs"] = [back(c) for c in cutoffs]
    monitoring = params.get("monitoring", {})
    if monitoring.get("backfill_cutoffs"):
        monitoring["backfill_cutoffs"] = [back(c) for c in monitoring["backfill_cutoffs"]]


def churn(folder: Path, *args: str) -> tuple[float, str]:
    """``churn ARGS`` in ``folder`` as its own process, with this Python's bin on PATH; the
    seconds it took and its output. Raises when it fails."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(folder / "src"),
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "churn.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"churn {' '.join(args)} exited {done.returncode}:\n{output[-4000:]}")
    return seconds, output


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([a-z_]+)@retail'", output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results.jsonl")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="churn-weekly-"))
    if args.keep is not None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    try:
        folder, week = project(folder)
        full_seconds, full_out = churn(folder, "run", "retail")
        before = json.loads((folder / "reports/retail/scoring.json").read_text())
        week.to_parquet(folder / RAW / f"{YEARLY}_last_week.parquet", index=False)
        weekly_seconds, weekly_out = churn(folder, "run", "retail", "--score-only")
        after = json.loads((folder / "reports/retail/scoring.json").read_text())
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    retrained = [s for s in stages_run(weekly_out) if s in TRAINING_STAGES]
    if retrained:
        raise SystemExit(f"the weekly run retrained: {retrained}")
    result: dict[str, Any] = {
        "benchmark": "weekly",
        "date": dt.date.today().isoformat(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "new_rows": len(week),
        "full_run_seconds": round(full_seconds, 1),
        "full_run_stages": stages_run(full_out),
        "weekly_seconds": round(weekly_seconds, 1),
        "weekly_stages": stages_run(weekly_out),
        "cutoff_before": before["cutoff"],
        "cutoff_after": after["cutoff"],
        "model_before": before["model"],
        "model_after": after["model"],
        "ingest": [line.strip() for line in weekly_out.splitlines() if "reused " in line][:1],
    }
    with args.results.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result) + "\n")
    print("| run | stages | seconds |\n|---|---|---:|")
    print(f"| full (`churn run retail`) | {len(result['full_run_stages'])} | {full_seconds:.1f} |")
    print(
        f"| weekly (`churn run retail --score-only`, {len(week):,} new lines) | "
        f"{', '.join(result['weekly_stages'])} | {weekly_seconds:.1f} |"
    )
    print(
        f"weekly / full: {weekly_seconds / full_seconds:.0%}; list cutoff {before['cutoff']} -> "
        f"{after['cutoff']}, model {before['model']} -> {after['model']}; load average "
        f"{result['load_average']}"
    )
    for line in result["ingest"]:
        print(line)


if __name__ == "__main__":
    main()
