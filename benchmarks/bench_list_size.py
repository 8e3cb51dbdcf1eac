"""Benchmark: `churn export` and `churn report` as the scored list grows past what one process
should hold (issue 17: 50 million customers).

Takes a project that ``bench_scale.py --keep`` built and scored, and replaces its
``scores.parquet`` by a list of ``--customers`` rows: the scored rows repeated with new ids
(``<id>~<copy>``), priority ranks renumbered, in row groups as ``churn score`` writes them.
Then it runs ``churn export`` and ``churn report`` on it, each in its own process, and prints
wall time, CPU time and peak resident memory (``bench_scale.run_stage``). The project's
own list is put back afterwards.

    .venv/bin/python benchmarks/bench_scale.py --events 10000000 --keep /tmp/b10
    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/bench_list_size.py \\
        --project /tmp/b10/shop-10000000 --customers 1000000 5000000
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_scale import run_stage

SCORES = "data/scored/shop/scores.parquet"


def grow(source: Path, dest: Path, customers: int) -> None:
    """``dest``: ``source``'s rows repeated to ``customers`` rows, ids made unique."""
    table = pq.read_table(source)
    n = table.num_rows
    with pq.ParquetWriter(dest, table.schema) as writer:
        for copy, start in enumerate(range(0, customers, n)):
            part = table.slice(0, min(n, customers - start))
            ids = pc.binary_join_element_wise(
                pc.cast(part["customer_id"], pa.string()), pa.scalar(str(copy)), "~"
            ).cast(table.schema.field("customer_id").type)
            ranks = pa.array(range(start + 1, start + part.num_rows + 1), pa.int64())
            part = part.set_column(part.schema.get_field_index("customer_id"), "customer_id", ids)
            rank_at = part.schema.get_field_index("priority_rank")
            part = part.set_column(rank_at, "priority_rank", ranks.cast(part["priority_rank"].type))
            writer.write_table(part, row_group_size=1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--customers", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--stages", nargs="+", default=["export", "report"])
    args = parser.parse_args()
    scores = args.project / SCORES
    kept = scores.with_name("scores.bench-original.parquet")
    shutil.copy2(scores, kept)
    print("| customers | stage | s | CPU s | peak RSS GB |\n|---:|---|---:|---:|---:|")
    try:
        for customers in args.customers:
            grow(kept, scores, customers)
            for stage in args.stages:
                run = run_stage(stage, args.project, 0)
                if run.exit_code:
                    raise SystemExit(f"churn {stage} exited {run.exit_code}: see logs/{stage}.log")
                print(
                    f"| {customers:,} | {stage} | {run.seconds} | {run.cpu_seconds} | "
                    f"{run.peak_rss_gb} |",
                    flush=True,
                )
    finally:
        shutil.move(kept, scores)


if __name__ == "__main__":
    main()
