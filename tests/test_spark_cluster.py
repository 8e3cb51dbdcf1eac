"""The pipeline on a real Spark standalone cluster, not one JVM: a master and two workers, each
a separate process (``tests/_spark_cluster.py``), every Spark engine on, and the outputs equal
to the DuckDB/local run of the same generated project.

What only a cluster exercises: the UDFs and the model shipped to executors in other processes,
the executors' own Python (which must import churn), shuffles between executors, and an
executor clock in another time zone (the workers run in UTC+14 while the driver does not).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.io.files import read_labels
from churn.io.paths import PipelinePaths
from tests._project import PIPELINE, make_project, run_stages, write_params
from tests._project import params as project_params

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from tests._spark_cluster import StandaloneCluster, standalone_cluster

pytestmark = [
    pytest.mark.slow,
    # MLflow's spark_udf and its model registry, as in tests/test_spark.py
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

TOLERANCE = 1e-6
EXECUTOR_ZONE = "Pacific/Kiritimati"
"""UTC+14: a day cut in the executors' local time instead of UTC would move every event."""
DRIVER_ZONE = "America/St_Johns"
"""UTC-3:30 (-2:30 in summer), for the driver process of both runs: neither may depend on it."""
AFTER_INGEST = ("labels", "features", "train", "register", "score", "export")
LIST_COLUMNS = (
    "customer_id",
    "risk_tier",
    "priority_rank",
    "in_outreach",
    "control_group",
    "outreach_status",
    "recommended_action",
)


def processes_under(root: Path) -> list[str]:
    """Processes (``pid: command``) started from or working under ``root``: the cluster's
    JVMs, its executors and their Python workers."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:  # gone meanwhile, or not ours
            continue
        if str(root) in command or cwd.startswith(str(root)):
            found.append(f"{proc.name}: {command[:200]}")
    return found


@pytest.fixture
def driver_zone() -> Iterator[None]:
    """This process in ``DRIVER_ZONE`` (and the driver JVM, when this test starts it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", DRIVER_ZONE)
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StandaloneCluster]:
    """Two one-core workers whose executors run this Python (so they import this churn) in
    another time zone; the driver's session is stopped before the cluster, which is stopped
    even when the test fails, and no process of it may remain."""
    root = tmp_path / "cluster"
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "TZ": EXECUTOR_ZONE,
        "OMP_NUM_THREADS": "1",
    }
    try:
        with standalone_cluster(root, workers=2, cores=1, memory="1g", env=env) as running:
            try:
                yield running
            finally:
                from pyspark.sql import SparkSession  # noqa: PLC0415 - optional dependency

                session = SparkSession.getActiveSession()
                if session is not None:
                    session.stop()
    finally:
        left = processes_under(root)
        assert not left, f"processes of the cluster still running: {left}"


def on_cluster(master: str) -> dict[str, Any]:
    """The shop's params with the whole pipeline on Spark (the one ``engine`` setting), sized
    for two one-core workers."""
    values = project_params()
    values["engine"] = "spark"
    values["features"] = {
        **values["features"],
        "spark": {
            "master": master,
            "shuffle_partitions": 2,
            "driver_memory": "1g",
            "conf": {
                "spark.executor.memory": "512m",
                "spark.executor.cores": "1",
                "spark.cores.max": "2",
                # the workers only listen on 127.0.0.1, and so must the driver
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
            },
        },
    }
    values["train"] = {**values["train"], "spark_workers": 1}
    assert all("engine" not in values.get(s, {}) for s in ("features", "train", "scoring"))
    return values


def read(root: Path, relative: str) -> pd.DataFrame:
    return pd.read_parquet(root / relative.format(p=PIPELINE))


def test_the_pipeline_on_a_standalone_cluster_gives_the_local_outputs(
    cluster: StandaloneCluster, driver_zone: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the executors' Python, as above
    local = make_project(tmp_path / "local")
    run_stages(local, ("ingest",))
    spark = tmp_path / "spark"
    shutil.copytree(local, spark)  # the same canonical tables for both
    write_params(spark, on_cluster(cluster.master_url))

    run_stages(local, AFTER_INGEST)
    seconds = {}
    for stage in AFTER_INGEST:
        started = time.perf_counter()
        run_stages(spark, (stage,))
        seconds[stage] = time.perf_counter() - started

    from pyspark.sql import SparkSession  # noqa: PLC0415 - optional dependency

    session = SparkSession.getActiveSession()
    assert session is not None and session.sparkContext.master == cluster.master_url
    executors = session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
    apps = [a for a in cluster.state()["activeapps"] if a["name"] == "churn"]
    assert executors == 2 and len(apps) == 1 and apps[0]["cores"] == 2, (executors, apps)

    # labels.parquet as the stages read it: Spark's file has no pandas metadata (docs/spark.md)
    pd.testing.assert_frame_equal(
        *(read_labels(PipelinePaths(root, PIPELINE).labels) for root in (spark, local))
    )
    pd.testing.assert_frame_equal(
        *(read(root, "data/interim/{p}/features.parquet") for root in (spark, local)),
        check_exact=False,
        rtol=0,
        atol=1e-9,
    )

    want, got = (read(root, "data/scored/{p}/scores.parquet") for root in (local, spark))
    assert len(want) > 50 and want["churn_probability"].nunique() > 10
    assert want["in_outreach"].any() and not want["in_outreach"].all()
    np.testing.assert_allclose(
        got["churn_probability"], want["churn_probability"], rtol=0, atol=TOLERANCE
    )
    for column in LIST_COLUMNS:
        assert got[column].tolist() == want[column].tolist(), column
    pd.testing.assert_frame_equal(
        got.drop(columns="scored_at"),
        want.drop(columns="scored_at"),
        check_exact=False,
        rtol=0,
        atol=TOLERANCE,
    )
    for csv in sorted((local / "data/exports" / PIPELINE).glob("*.csv")):
        exported = pd.read_csv(spark / csv.relative_to(local))
        expected = pd.read_csv(csv)
        stamped = [c for c in expected.columns if "scored_at" in c.lower()]
        pd.testing.assert_frame_equal(
            exported.drop(columns=stamped), expected.drop(columns=stamped), obj=csv.name
        )
    worst = float(np.abs(got["churn_probability"] - want["churn_probability"]).max())
    print(
        f"cluster: {len(want)} customers scored, max |diff| {worst:.3g}; "
        + ", ".join(f"{stage} {s:.0f} s" for stage, s in seconds.items())
    )
