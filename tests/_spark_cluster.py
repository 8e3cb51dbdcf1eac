"""A Spark standalone cluster on this machine for tests: one master and some workers, each a
separate JVM started with the ``spark-class`` launcher that ships with pyspark, bound to
127.0.0.1 on free ports, with every file they write (logs, work dirs, shuffle spills) under one
folder. :func:`standalone_cluster` stops them all afterwards, even when the body fails.

Each process is started in a process group of its own; a worker's executors and their Python
workers inherit it, so killing the groups leaves no JVM or Python worker behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
HOST = "127.0.0.1"


def spark_home() -> Path:
    """pyspark's folder: pip's pyspark is a Spark distribution with ``bin/spark-class``."""
    import pyspark  # noqa: PLC0415 - optional dependency

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    _out: IO[bytes] = field(repr=False)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class StandaloneCluster:
    master_url: str
    """``spark://127.0.0.1:<port>``: what a driver's ``spark.master`` names."""
    webui_url: str
    """The master's web UI; ``<webui_url>/json/`` describes workers and applications."""
    daemons: list[Daemon]

    def state(self) -> dict[str, Any]:
        """The master's JSON status: ``aliveworkers``, ``workers``, ``activeapps``, ..."""
        with urllib.request.urlopen(f"{self.webui_url}/json/", timeout=5) as response:
            return dict(json.load(response))

    def logs(self) -> str:
        return "\n".join(f"--- {d.name} ({d.log}):\n{d.tail()}" for d in self.daemons)


def _start(name: str, args: list[str], env: Mapping[str, str], logs: Path) -> Daemon:
    log = logs / f"{name}.log"
    out = log.open("wb")
    process = subprocess.Popen(
        [str(spark_home() / "bin" / "spark-class"), *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, with the executors it starts
    )
    return Daemon(name, process, log, out)


def _stop(daemons: list[Daemon], grace: float = 15.0) -> None:
    """SIGTERM to every group (workers first, so they stop their executors), then SIGKILL to
    what is still running after ``grace`` seconds."""
    for daemon in reversed(daemons):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for daemon in daemons:
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for daemon in daemons:
        # the group, not only its leader: an executor may outlive its worker
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(daemon.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.process.wait(timeout=10)
        daemon._out.close()


def _wait_for_workers(cluster: StandaloneCluster, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        dead = [d.name for d in cluster.daemons if d.process.poll() is not None]
        if dead:
            raise RuntimeError(f"Spark {dead} exited while starting:\n{cluster.logs()}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            seen = cluster.state()
            if seen.get("aliveworkers", 0) >= workers:
                return
        time.sleep(0.5)
    raise RuntimeError(
        f"expected {workers} Spark workers registered with {cluster.master_url} within "
        f"{timeout:.0f} s; found {seen.get('aliveworkers', 'no answer')}:\n{cluster.logs()}"
    )


@contextlib.contextmanager
def standalone_cluster(
    root: Path,
    *,
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[StandaloneCluster]:
    """A master and ``workers`` workers (``cores`` cores and ``memory`` each) started under
    ``root`` (logs in ``root/logs``, work and local dirs in ``root/work-<i>``, ``root/local``),
    yielded once every worker has registered; stopped when the block ends, however it ends.

    ``env``: the daemons' environment (default: this process's). The executors inherit it, so
    it decides their Python's packages and their time zone; Spark's own variables are set here.
    """
    logs, conf = root / "logs", root / "conf"
    for folder in (logs, conf, root / "local"):
        folder.mkdir(parents=True, exist_ok=True)
    base = {
        **(os.environ if env is None else env),
        "SPARK_HOME": str(spark_home()),
        "SPARK_CONF_DIR": str(conf),  # empty: no spark-defaults.conf of the machine's
        "SPARK_LOG_DIR": str(logs),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOCAL_DIRS": str(root / "local"),
        "SPARK_NO_DAEMONIZE": "1",
    }
    port, webui = free_port(), free_port()
    master_url = f"spark://{HOST}:{port}"
    daemons: list[Daemon] = []
    try:
        daemons.append(
            _start(
                "master",
                [MASTER_CLASS, "--host", HOST, "--port", str(port), "--webui-port", str(webui)],
                base,
                logs,
            )
        )
        for i in range(workers):
            work = root / f"work-{i}"
            work.mkdir(exist_ok=True)
            args = [WORKER_CLASS, master_url, "--host", HOST, "--cores", str(cores)]
            args += ["--memory", memory, "--webui-port", str(free_port()), "--work-dir", str(work)]
            daemons.append(_start(f"worker-{i}", args, base, logs))
        cluster = StandaloneCluster(master_url, f"http://{HOST}:{webui}", daemons)
        _wait_for_workers(cluster, workers, timeout)
        yield cluster
    finally:
        _stop(daemons)
