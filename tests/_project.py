"""A tiny synthetic shop, written as a project folder the CLI can run on: 160 customers, a year
and a half of orders, monthly cutoffs. Small enough that ingest to train takes seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from typer.testing import CliRunner

from churn.cli import app

PIPELINE = "shop"
ORDERS = "data/raw/shop/orders.csv"
OUTPUT_DIRS = ("data/interim", "models", "reports", "data/scored", "data/exports")
STAGES = ("ingest", "labels", "features", "train")


def orders(n_customers: int = 160, seed: int = 7) -> pd.DataFrame:
    """Each customer buys at their own rate from their first day until they lapse."""
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-06-30")
    span = (end - start).days
    rows = []
    for c in range(n_customers):
        first = int(rng.integers(0, 200))
        last = min(span, first + int(rng.exponential(300)))
        gap = float(rng.uniform(10, 60))
        day = float(first)
        while day <= last:
            ts = start + pd.Timedelta(days=day, minutes=int(rng.integers(0, 1440)))
            rows.append((f"C{c:04d}", ts.strftime("%Y-%m-%d %H:%M"), round(rng.gamma(2, 20), 2)))
            day += rng.exponential(gap)
    frame = pd.DataFrame(rows, columns=["cust", "when", "total"])
    frame.insert(0, "order", [f"O{i:06d}" for i in range(len(frame))])
    return frame


def params() -> dict[str, Any]:
    return {
        "engine": "local",
        "data": {
            "kind": "events",
            "events": {
                "sources": [
                    {
                        "path": ORDERS,
                        "columns": {
                            "customer_id": "cust",
                            "timestamp": "when",
                            "amount": "total",
                            "order_id": "order",
                        },
                    }
                ],
                "timezone": "UTC",
            },
        },
        "labels": {
            "activity_event_types": ["purchase"],
            "horizon_days": 60,
            "train_cutoffs": {"start": "2023-07-01", "end": "2023-12-01", "every_months": 1},
            "test_cutoff": "2024-03-01",
            "last_day_of_data": "2024-06-30",
        },
        "features": {"windows_days": [30, 90], "trend_window_days": 60, "duckdb_threads": 1},
        "train": {
            "max_rounds": 40,
            "early_stopping_rounds": 10,
            "min_class_rows": 5,
            "backtest_cutoffs": 0,
            "threads": 1,
            "search": {"enabled": False},  # the search has its own tests
        },
    }


def make_project(root: Path, name: str = PIPELINE) -> Path:
    """Raw orders and params for pipeline ``name`` under ``root``; returns ``root``."""
    raw = root / ORDERS
    raw.parent.mkdir(parents=True, exist_ok=True)
    if not raw.exists():
        orders().to_csv(raw, index=False)
    write_params(root, params(), name)
    return root


def write_params(root: Path, values: Mapping[str, Any], name: str = PIPELINE) -> None:
    folder = root / "pipelines" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(dict(values), sort_keys=False))


def churn(
    root: Path,
    stage: str,
    *args: str,
    name: str = PIPELINE,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Run ``churn <stage> <name>`` in-process; (exit code, stdout and stderr)."""
    result = CliRunner().invoke(
        app, [stage, name, "--project-dir", str(root), *args], env=dict(env or {})
    )
    return result.exit_code, result.output


def run_stages(root: Path, stages: Sequence[str] = STAGES, name: str = PIPELINE) -> None:
    for stage in stages:
        code, out = churn(root, stage, name=name)
        assert code == 0, f"churn {stage}: {out}"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every output file, keyed by path under ``root``.
    Hidden files and folders (temporaries, see :func:`leftovers`) are left out."""
    out = {}
    for folder in OUTPUT_DIRS:
        for path in sorted((root / folder).rglob("*")):
            name = str(path.relative_to(root))
            if path.is_file() and "/." not in f"/{name}":
                out[name] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


def leftovers(root: Path) -> list[str]:
    """Hidden temporary files or folders under the output folders."""
    return sorted(
        str(p.relative_to(root))
        for folder in OUTPUT_DIRS
        for p in (root / folder).rglob(".*")
        if p.name != ".gitignore"
    )


def subprocess_env() -> dict[str, str]:
    """The environment for a ``churn`` child process: this one, with one OpenMP thread."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


ROOT = Path(__file__).resolve().parents[1]


def cdnow_slice(
    root: Path,
    n_customers: int,
    *,
    name: str = "mini",
    updates: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """A project holding the first ``n_customers`` of the bundled CDNOW data under
    ``data/raw/cdnow`` and the bundled cdnow params as ``pipelines/<name>``, each section named
    in ``updates`` updated key by key (``{"train": {"backtest_cutoffs": 0}}``)."""
    raw = pd.read_csv(ROOT / "data/raw/cdnow/CDNOW_master.txt", sep=r"\s+", dtype=str)
    sliced = raw[raw["customer_id"].astype(int) <= n_customers]
    (root / "data/raw/cdnow").mkdir(parents=True)
    sliced.to_csv(root / "data/raw/cdnow/CDNOW_master.txt", sep=" ", index=False)
    params = yaml.safe_load((ROOT / "pipelines/cdnow/params.yaml").read_text())
    for section, values in (updates or {}).items():
        params[section].update(values)
    (root / "pipelines" / name).mkdir(parents=True)
    (root / "pipelines" / name / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def dvc_project(project: Path) -> Path:
    """``project`` (made by :func:`make_project`) as a git and DVC repository with the real
    dvc.yaml for its one pipeline (no simulate stage) and a copy of the code."""
    root = Path(__file__).resolve().parents[1]
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    spec["vars"] = [{"pipelines": {PIPELINE: {"raw": "data/raw/shop"}}}]
    del spec["stages"]["simulate"]
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    shutil.copytree(
        root / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg*")
    )
    shutil.copy(root / ".dvcignore", project / ".dvcignore")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    dvc(project, "init", "-q")
    return project


def dvc(project: Path, *args: str, ok: bool = True) -> str:
    """``dvc ARGS`` in ``project`` as a user's activated environment runs it (the venv's bin
    on PATH, where the stages find ``churn``); asserts it succeeded (or failed: ``ok=False``)
    and returns its output."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(project / "src"),
        "OMP_NUM_THREADS": "1",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode == 0) == ok, f"dvc {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr
