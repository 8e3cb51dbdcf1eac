"""Benchmark: the report's summary of every scored customer's value (``list_values``: totals,
value per risk tier, the histogram and exact medians of the values above 0) on a generated
list of ``--customers`` rows, read a row group at a time from parquet. Prints wall time, peak
resident memory and the medians (the same for any code that is right).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_list_values.py --customers 5000000 20000000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 1_000_000


def write_list(path: Path, customers: int, seed: int = 0) -> None:
    """``customers`` rows of the four columns the summary reads: probabilities, tiers, and
    log-normal values of which a fifth are 0."""
    rng = np.random.default_rng(seed)
    schema = pa.schema(
        [
            ("churn_probability", pa.float64()),
            ("risk_tier", pa.string()),
            ("expected_value", pa.float64()),
            ("value_at_risk", pa.float64()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, customers, ROWS):
            n = min(ROWS, customers - start)
            p = rng.random(n)
            value = rng.lognormal(3.0, 1.5, n)
            value[rng.random(n) < 0.2] = 0.0
            tier = np.where(p > 0.8, "High", np.where(p > 0.5, "Medium", "Low"))
            table = pa.table(
                {
                    "churn_probability": p,
                    "risk_tier": tier,
                    "expected_value": value,
                    "value_at_risk": value * p,
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=ROWS)


def measure(path: Path) -> None:
    """Run the summary on ``path`` in this process and print what it took."""
    from churn.io.files import parquet_column_batches  # noqa: PLC0415 - after argv parsing
    from churn.io.paths import Output  # noqa: PLC0415
    from churn.reporting.list_values import list_values  # noqa: PLC0415

    start = time.perf_counter()
    values = list_values(partial(parquet_column_batches, Output(path, made_by="generated")))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    medians = ", ".join(f"{m} {v:.6f}" for m, v in values.histogram.medians.items() if v)
    print(f"| {values.customers:,} | {seconds:.1f} | {peak:.2f} | {medians} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure)
        return
    print("| customers | s | peak RSS GB | medians |\n|---:|---:|---:|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="churn-list-values-") as folder:
        for customers in args.customers:
            path = Path(folder) / f"scores_{customers}.parquet"
            write_list(path, customers)
            # each size in a fresh process, so its peak is its own
            subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True)


if __name__ == "__main__":
    main()
