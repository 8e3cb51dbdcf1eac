"""First try on generated shapes: ``churn init`` then ``churn run``, as a new user would.

Issue 13's "How we will know", measured on the messy generators of ``tests/messy.py`` (no
public dataset is on this machine): snapshots with readable or anonymised names, labels spelled
Yes/No, True/False, 1.0/0.0, '1'/'0' or Churned/Stayed, ids with leading zeros, 17-digit ids or
none, a surname, a planted leak, a second table; event logs with and without amounts, with a
customers table, with one-time buyers. For each shape:

1. a fresh project in a temporary folder (git + DVC, the repository's dvc.yaml without the
   bundled pipelines, a copy of ``src/``), the generated tables written outside it as CSV;
2. ``churn init NAME --snapshot FILE --label COL`` or ``churn init NAME --events FILE
   [--customers FILE]``: only the flags a user must give;
3. ``churn run NAME`` (every stage through DVC), each command its own process with this
   Python's ``bin`` on PATH;
4. a plain ``xgboost.XGBClassifier()`` (library defaults, categorical support on) fitted on
   the same feature table's rows before the test cutoff (train, purged and valid) and scored on
   the test rows; churn's model is scored on the same rows, and a paired bootstrap of the test
   rows gives the spread of the difference.

A planted-leak shape must stop in ``churn train`` with exit code 6 naming the leak columns.

    .venv/bin/python benchmarks/bench_first_try.py
    .venv/bin/python benchmarks/bench_first_try.py --shapes telecom leak --keep /tmp/first-try

Results are printed as a markdown table and appended as JSON lines to ``--results``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.messy, the generators the tests use
from tests import messy  # noqa: E402

from churn.init.plan import snake_case  # noqa: E402 - the attribute names churn init writes

BUNDLED = re.compile(r"^      [a-z0-9_-]+: \{raw: [^}]*\}\n", re.M)
SHORT = {
    "max_depth": "depth",
    "learning_rate": "lr",
    "min_child_weight": "mcw",
    "subsample": "subsample",
    "colsample_bytree": "colsample",
    "reg_lambda": "lambda",
}


@dataclass(frozen=True)
class Shape:
    name: str
    what: str
    write: Callable[[Path, int], list[str]]
    """Writes the export into a folder, returns the ``churn init`` arguments after NAME."""
    leaks: tuple[str, ...] = ()
    """Columns a run must name when train stops with exit code 6; empty: the run must pass."""
    joined: tuple[str, ...] = ()
    """Columns of a second table (``--customers``) the model should get as features."""
    identifiers: tuple[str, ...] = ()
    """Columns the model should be trained without (names of people)."""


def _csv(folder: Path, frame: pd.DataFrame, name: str) -> str:
    path = folder / name
    frame.to_csv(path, index=False)
    return str(path)


def _snapshot(**options: Any) -> Callable[[Path, int], list[str]]:
    def write(folder: Path, rows: int) -> list[str]:
        snap = messy.snapshot(rows, **options)
        args = ["--snapshot", _csv(folder, snap.frame, "export.csv"), "--label", snap.label]
        for table, frame in snap.extra.items():
            args += ["--customers", _csv(folder, frame, f"{table}.csv")]
        return args

    return write


def _events(**options: Any) -> Callable[[Path, int], list[str]]:
    def write(folder: Path, customers: int) -> list[str]:
        log = messy.event_log(customers, **options)
        args = ["--events", _csv(folder, log.events, "orders.csv")]
        if log.customers is not None:
            args += ["--customers", _csv(folder, log.customers, "customers.csv")]
        return args

    return write


SHAPES = (
    Shape(
        "telecom",
        "snapshot: Yes/No, ids '000123', tenure in years, 2 % blank charges",
        _snapshot(seed=1, spelling="Yes/No"),
    ),
    Shape(
        "anonymised",
        "snapshot: V1..V5, label 'target' True/False, 17-digit ids",
        _snapshot(seed=2, anonymised=True, spelling="True/False", id_style="numeric"),
    ),
    Shape(
        "no-id",
        "snapshot: no id column, a surname, label 1.0/0.0",
        _snapshot(seed=3, id_style="none", surname=True, spelling="1.0/0.0"),
        identifiers=("Surname",),
    ),
    Shape(
        "extra-table",
        "snapshot: Churned/Stayed, a demographics table (--customers)",
        _snapshot(seed=4, spelling="Churned/Stayed", extra_table=True),
        joined=("Region",),
    ),
    Shape(
        "leak",
        "snapshot: label '1'/'0', a vendor churn score and a churn reason",
        _snapshot(seed=5, spelling="'1'/'0'", leak=True),
        leaks=("Churn Score", "Churn Reason"),
    ),
    Shape(
        "shop",
        "events: customer, date, amount; 30 % one-time buyers",
        _events(seed=6),
    ),
    Shape(
        "visits",
        "events: customer and date only (no amount)",
        _events(seed=7, amount=False),
    ),
    Shape(
        "shop-customers",
        "events with amounts and a customers table (segment)",
        _events(seed=8, customers_table=True),
        joined=("segment",),
    ),
)


@dataclass
class Result:
    shape: str
    what: str
    size: int
    init_exit: int | None = None
    init_seconds: float = 0.0
    run_exit: int | None = None
    run_seconds: float = 0.0
    train_exit: int | None = None
    """Exit code of ``churn train`` as DVC reports it, when a stage failed."""
    error: str = ""
    leaks_named: list[str] = field(default_factory=list)
    n_fit: int = 0
    n_test: int = 0
    test_positive_rate: float | None = None
    churn_auc: float | None = None
    churn_auc_recomputed: float | None = None
    plain_auc: float | None = None
    difference_interval: tuple[float, float] | None = None
    """Central 90 % of churn minus plain over a paired bootstrap of the test rows."""
    search: dict[str, Any] | None = None
    features: list[str] = field(default_factory=list)
    """The feature catalogue's names."""
    model_features: list[str] = field(default_factory=list)
    """The features churn's model was trained on (after the leakage guard)."""
    warnings: list[str] = field(default_factory=list)
    reasons_yaml_written: bool = False
    scored_with_reasons: int | None = None

    @property
    def difference(self) -> float | None:
        if self.churn_auc is None or self.plain_auc is None:
            return None
        return self.churn_auc - self.plain_auc


# ---- the project and the commands --------------------------------------------------------------


def new_project(root: Path, python: Path) -> None:
    """A git + DVC project with the repository's dvc.yaml (bundled pipelines taken out)."""
    root.mkdir(parents=True)
    text = BUNDLED.sub("", (ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    (root / "dvc.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(
        ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg*")
    )
    shutil.copy(ROOT / ".dvcignore", root / ".dvcignore")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([str(python), "-m", "dvc", "init", "-q"], cwd=root, check=True)


def user_env(root: Path, python: Path) -> dict[str, str]:
    """The user's shell: the environment's bin first on PATH, the project's copy of churn."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(root / "src")
    env["DVC_NO_ANALYTICS"] = "1"
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    return env


def churn(root: Path, python: Path, *args: str, log: Path) -> tuple[int, float, str]:
    """Exit code, wall seconds and output (stdout and stderr) of ``churn ARGS`` in ``root``."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), "-m", "churn.cli", *args],
        cwd=root,
        env=user_env(root, python),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ churn {' '.join(args)}  (exit {done.returncode}, {seconds:.1f} s)\n")
        out.write(done.stdout)
    return done.returncode, seconds, done.stdout


# ---- plain xgboost on the same split -----------------------------------------------------------


def plain_xgboost(interim: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """Test rows, their outcomes and a default XGBClassifier's probabilities, fitted on every
    labelled row before the test cutoff (train, purged, valid) with all catalogue features."""
    import xgboost as xgb  # noqa: PLC0415 - slow import

    from churn.modeling.training_data import (  # noqa: PLC0415 - after sys.path is set
        feature_columns,
        labelled_rows,
        outcome,
        split_rows,
    )

    rows = labelled_rows(
        pd.read_parquet(interim / "features.parquet"), pd.read_parquet(interim / "labels.parquet")
    )
    columns = feature_columns(json.loads((interim / "feature_catalogue.json").read_text()))
    fit = split_rows(rows, ["train", "purged", "valid"])
    fit = fit[fit["churned"].notna()].reset_index(drop=True)
    test = split_rows(rows, "test")

    def matrix(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[list(columns.numeric)].astype(float)
        for c in columns.categorical:
            values = pd.concat([fit[c], test[c]]).dropna().astype(str).unique()
            out[c] = pd.Categorical(frame[c].astype("string"), categories=sorted(values))
        return out

    model = xgb.XGBClassifier(enable_categorical=True, tree_method="hist")
    model.fit(matrix(fit), outcome(fit))
    return test, outcome(test), model.predict_proba(matrix(test))[:, 1], len(fit)


def churn_probabilities(model_folder: Path, test: pd.DataFrame) -> np.ndarray:
    from churn.modeling.model import ChurnModel  # noqa: PLC0415 - slow import

    return ChurnModel.load(model_folder).predict_proba(test)


def model_features(model_folder: Path) -> list[str]:
    from churn.modeling.model import ChurnModel  # noqa: PLC0415 - slow import

    return ChurnModel.load(model_folder).feature_names


def paired_interval(
    y: np.ndarray, ours: np.ndarray, plain: np.ndarray, *, draws: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """5th and 95th percentiles of AUC(ours) - AUC(plain) over bootstrap samples of the rows."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415 - slow import

    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        diffs.append(roc_auc_score(y[i], ours[i]) - roc_auc_score(y[i], plain[i]))
    low, high = np.percentile(diffs, [5, 95])
    return float(low), float(high)


# ---- one shape ---------------------------------------------------------------------------------


def try_shape(shape: Shape, size: int, work: Path, python: Path) -> Result:
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415 - slow import

    result = Result(shape.name, shape.what, size)
    export = work / "export"
    export.mkdir(parents=True)
    root = work / "project"
    new_project(root, python)
    log = work / "commands.log"
    args = shape.write(export, size)
    name = shape.name
    result.init_exit, result.init_seconds, out = churn(root, python, "init", name, *args, log=log)
    if result.init_exit != 0:
        result.error = _error_line(out)
        return result
    result.run_exit, result.run_seconds, out = churn(root, python, "run", name, log=log)
    result.warnings = sorted({m.group(1) for m in re.finditer(r"WARNING[^\w]*(.*)", out)})
    failed = re.search(r"failed to reproduce '(\w+)@[^']*'.*?exited with (-?\d+)", out, re.S)
    if failed:
        result.train_exit = int(failed.group(2)) if failed.group(1) == "train" else None
        result.error = _error_line(out)
        named = set(re.findall(r"^  - '([^']+)'", out, re.M))  # the guard's list, snake_case
        result.leaks_named = [c for c in shape.leaks if snake_case(c) in named]
    result.reasons_yaml_written = (root / "pipelines" / name / "reasons.yaml").exists()
    catalogue = root / "data" / "interim" / name / "feature_catalogue.json"
    if catalogue.is_file():
        result.features = [c["name"] for c in json.loads(catalogue.read_text())]
    if result.run_exit != 0:
        return result

    metrics = json.loads((root / "reports" / name / "metrics.json").read_text())
    result.churn_auc = float(metrics["roc_auc"])
    result.search = metrics["training"].get("search")
    test, y, plain, result.n_fit = plain_xgboost(root / "data" / "interim" / name)
    ours = churn_probabilities(root / "models" / name, test)
    result.model_features = model_features(root / "models" / name)
    result.n_test, result.test_positive_rate = len(y), float(y.mean())
    result.churn_auc_recomputed = float(roc_auc_score(y, ours))
    result.plain_auc = float(roc_auc_score(y, plain))
    result.difference_interval = paired_interval(y, ours, plain)
    scores = root / "data" / "scored" / name / "scores.parquet"
    if scores.is_file():
        scored = pd.read_parquet(scores)
        if "reason_1_code" in scored.columns:
            result.scored_with_reasons = int(scored["reason_1_code"].notna().sum())
    return result


def _error_line(out: str) -> str:
    errors = [line.removeprefix("error: ") for line in out.splitlines() if "error:" in line]
    return errors[0] if errors else out.strip().splitlines()[-1] if out.strip() else ""


# ---- the report --------------------------------------------------------------------------------


def search_summary(search: dict[str, Any] | None) -> str:
    if not search:
        return "no search"
    chosen = ", ".join(
        f"{SHORT.get(k, k)} {v:.3g}" if isinstance(v, float) else f"{SHORT.get(k, k)} {v}"
        for k, v in search["chosen"].items()
    )
    return (
        f"{chosen or 'the recipe'} ({search['trials']} trials; fold AUC "
        f"{search['recipe_fold_roc_auc']:.3f} -> {search['chosen_fold_roc_auc']:.3f})"
    )


def table(results: list[Result]) -> str:
    lines = [
        "| shape | rows / customers | init, run exit | init + run s | test rows (churned) "
        "| churn AUC | plain xgboost AUC | churn - plain (90 % paired bootstrap) | search chose |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        exits = f"{r.init_exit}, {r.run_exit}" if r.run_exit is not None else f"{r.init_exit}, -"
        if r.train_exit is not None:
            exits += f" (train {r.train_exit})"
        seconds = f"{r.init_seconds:.0f} + {r.run_seconds:.0f}"
        if r.difference is None or r.difference_interval is None:
            named = ", ".join(r.leaks_named) or "none"
            cells = ["-", "-", "-", "-", f"stopped: leak columns named: {named}"]
            if not r.leaks_named:
                cells[-1] = f"failed: {r.error[:120]}"
        else:
            low, high = r.difference_interval
            cells = [
                f"{r.n_test:,} ({r.test_positive_rate:.0%})",
                f"{r.churn_auc:.3f}",
                f"{r.plain_auc:.3f}",
                f"{r.difference:+.3f} ({low:+.3f} to {high:+.3f})",
                search_summary(r.search),
            ]
        row = [r.shape, f"{r.size:,}", exits, seconds, *cells]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def verdict(results: list[Result], shapes: dict[str, Shape]) -> list[str]:
    """One line per 'How we will know' point that a result misses."""
    misses = []
    for r in results:
        expected_leaks = shapes[r.shape].leaks
        if expected_leaks:
            if r.train_exit != 6 or set(r.leaks_named) != set(expected_leaks):
                misses.append(
                    f"{r.shape}: expected train to stop with exit 6 naming {expected_leaks}; "
                    f"got train exit {r.train_exit}, named {r.leaks_named}"
                )
            continue
        if r.init_exit != 0 or r.run_exit != 0:
            misses.append(f"{r.shape}: init {r.init_exit}, run {r.run_exit}: {r.error}")
        elif r.difference is not None and r.difference < -0.01:
            misses.append(f"{r.shape}: churn AUC {r.difference:+.3f} below plain xgboost")
        if r.reasons_yaml_written:
            misses.append(f"{r.shape}: a reasons.yaml was written")
        if r.run_exit != 0:
            continue
        for column in shapes[r.shape].joined:
            if snake_case(column) not in r.model_features:
                misses.append(
                    f"{r.shape}: {column!r} of the --customers table is not a model feature "
                    f"(features: {r.model_features})"
                )
        for column in shapes[r.shape].identifiers:
            if snake_case(column) in r.model_features:
                misses.append(f"{r.shape}: the model was trained on the identifier {column!r}")
    return misses


@contextlib.contextmanager
def scratch(keep: Path | None, name: str) -> Iterator[Path]:
    if keep is not None:
        folder = keep / name
        if folder.exists():
            shutil.rmtree(folder)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix=f"first-try-{name}-") as tmp:
        yield Path(tmp) / name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=[s.name for s in SHAPES])
    parser.add_argument("--snapshot-rows", type=int, default=4000)
    parser.add_argument("--customers", type=int, default=2500, help="customers of event logs")
    parser.add_argument("--keep", type=Path, help="keep each project under this folder")
    parser.add_argument("--results", type=Path, help="append results as JSON lines")
    args = parser.parse_args()

    python = Path(sys.executable)
    chosen = [s for s in SHAPES if args.shapes is None or s.name in args.shapes]
    results = []
    started = time.perf_counter()
    for shape in chosen:
        size = args.customers if shape.name in {"shop", "visits", "shop-customers"} else 0
        size = size or args.snapshot_rows
        with scratch(args.keep, shape.name) as work:
            result = try_shape(shape, size, work, python)
        results.append(result)
        print(
            f"{shape.name}: init {result.init_exit} ({result.init_seconds:.0f} s), "
            f"run {result.run_exit} ({result.run_seconds:.0f} s), churn AUC {result.churn_auc}, "
            f"plain {result.plain_auc}; {len(result.warnings)} warnings",
            flush=True,
        )
        for warning in result.warnings:
            print(f"    warning: {warning}", flush=True)
        if result.error:
            print(f"    error: {result.error}", flush=True)
        if args.results is not None:
            with args.results.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"date": dt.date.today().isoformat(), **asdict(result)}))
                out.write("\n")
    minutes = (time.perf_counter() - started) / 60
    print(f"\n{len(results)} shapes in {minutes:.1f} min, load average {os.getloadavg()}\n")
    print(table(results))
    misses = verdict(results, {s.name: s for s in SHAPES})
    print("\n" + ("\n".join(misses) if misses else "every shape meets issue 13's checks"))


if __name__ == "__main__":
    main()
