"""Spark as the SQL engine of labels and features (``features.engine: spark``, churn[spark]).

The queries are the DuckDB ones of :mod:`churn.labels` and :mod:`churn.features.sql`, transpiled
by SQLGlot (:func:`churn.engines.sql.to_spark_sql`): no feature is written twice. The pandas tables
are handed to Spark through Arrow, the query runs on Spark, and through a :class:`SqlRunner`
its result (one row per customer and cutoff) comes back to the driver as an Arrow table;
parquet files (the canonical events) are read by the executors themselves. ``churn features``
does not use the runner: its table, derived features included, is built and written by the
executors (:mod:`churn.engines.spark_features`).

The session is the one already running in this process (spark-submit, a notebook), else one
started here: master from ``features.spark.master``, else ``$SPARK_MASTER``, else the master
spark-submit was given, else ``local[2]``. A local session binds to 127.0.0.1 and has no UI.

One thing differs on Spark: the features query's customer key is customer_id itself, not
DuckDB's global row number, which Spark would compute in one partition (``distributed_keys``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from churn.engines.sql import ParquetTable, SqlRunner, Table, to_spark_sql
from churn.errors import ConfigError
from churn.settings import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"
PANDAS_WARNING = "PySpark does not yet fully support pandas"
EngineSetting = Literal["features.engine", "train.engine", "scoring.engine"]
FALLBACK: dict[EngineSetting, str] = {
    "features.engine": "duckdb",
    "train.engine": "local",
    "scoring.engine": "local",
}
"""Each setting that can choose Spark, and its value that runs without Spark."""


def _install_hint(setting: EngineSetting) -> str:
    return (
        f"{setting} is 'spark' but pyspark is not installed. Install it with "
        f"`pip install 'churn[spark]'`, or set {_without_spark(setting)}."
    )


def _java_hint(setting: EngineSetting) -> str:
    return (
        "Spark 4 needs Java 17 or 21: install a JDK (e.g. apt-get install "
        "openjdk-17-jre-headless) and put `java` on PATH or set JAVA_HOME, or set "
        f"{_without_spark(setting)}."
    )


def _without_spark(setting: EngineSetting) -> str:
    return f"{setting}: {FALLBACK[setting]} (engine: local, if the top-level engine chose Spark)"


def quote_spark_identifier(name: str) -> str:
    """``name`` as a Spark SQL identifier: in backticks, each backtick in it doubled. For the
    expressions written for Spark directly (``selectExpr``); queries written for DuckDB get
    :func:`churn.engines.sql.quote_identifier`, which SQLGlot carries over."""
    return "`" + name.replace("`", "``") + "`"


def resolve_master(settings: SparkSettings, env: Mapping[str, str]) -> str | None:
    """The master URL to ask for: the setting, else ``$SPARK_MASTER``, else None when running
    under spark-submit (which already chose one), else ``local[2]``."""
    if settings.master:
        return settings.master
    if env.get("SPARK_MASTER"):
        return env["SPARK_MASTER"]
    if env.get("PYSPARK_GATEWAY_PORT"):  # set by spark-submit for the Python driver
        return None
    return DEFAULT_MASTER


def session_conf(settings: SparkSettings, master: str | None) -> dict[str, str]:
    """Spark properties of a session churn starts (``master`` None: under spark-submit, which
    chose the master). Timestamps are read and cut into days in UTC, as DuckDB does; a session
    churn starts on a ``local[…]`` master listens on 127.0.0.1 only and starts no web UI."""
    conf = {
        "spark.app.name": "churn",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.driver.memory": settings.driver_memory,
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
    }
    if master is not None:
        conf["spark.master"] = master
    if master is not None and master.startswith("local"):
        # not under spark-submit (master None), whose driver the cluster's executors must reach
        conf |= {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
        }
    return conf | settings.conf


def _java_on_path(env: Mapping[str, str]) -> bool:
    home = env.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return True
    return shutil.which("java", path=env.get("PATH")) is not None


def spark_session(
    settings: SparkSettings,
    env: Mapping[str, str] | None = None,
    *,
    setting: EngineSetting = "features.engine",
) -> SparkSession:
    """The running SparkSession, or a new one configured from ``settings`` (see module doc).

    Raises ConfigError when pyspark is not installed or Java cannot be found or started; its
    message names ``setting``, the key that chose Spark, and the value that avoids it.
    """
    env = os.environ if env is None else env
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise ConfigError(_install_hint(setting)) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = resolve_master(settings, env)
    if not env.get("PYSPARK_GATEWAY_PORT") and not _java_on_path(env):
        raise ConfigError(f"{setting} is 'spark' but no Java was found. {_java_hint(setting)}")
    if master is not None and master.startswith("local"):
        # Python UDF workers (the champion's spark_udf) run this environment's Python, not
        # `python3` from PATH; pyspark reads only the variable when it starts a context
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # py4j logs every closed connection at INFO, which the CLI's log would show
    logging.getLogger("py4j").setLevel(logging.WARNING)
    builder = SparkSession.builder
    for key, value in session_conf(settings, master).items():
        builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():
            # pyspark 4.3 warns on start that it does not fully support pandas 3; the Arrow
            # path churn uses (createDataFrame from Arrow, toArrow) needs no pandas support
            warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
            return builder.getOrCreate()
    except Exception as exc:  # pyspark raises PySparkRuntimeError with the JVM's exit
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"{setting} is 'spark' but Spark did not start with master "
            f"{master or '(from spark-submit)'}: {first_line}. {_java_hint(setting)}"
        ) from exc


def spark_dataframe(session: SparkSession, frame: pd.DataFrame) -> Any:
    """``frame`` as a Spark DataFrame, through Arrow (see ``_arrow_table``)."""
    return session.createDataFrame(_arrow_table(frame))


def _arrow_table(frame: pd.DataFrame) -> Any:
    """``frame`` as an Arrow table Spark accepts: all-missing columns become strings (Spark
    has no column type for nothing), categoricals their values, large strings plain ones."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_null(kind) or pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(pa.field(field.name, kind))
    return table.cast(pa.schema(fields))


NANOS_AS_LONG = {"spark.sql.legacy.parquet.nanosAsLong": "true"}
"""Nanosecond timestamps (pandas' default unit) read from parquet as longs, which
``parquet_dataframe`` turns into timestamps: Spark refuses such a column otherwise."""

SQL_CONF_KEYS = (
    "spark.sql.session.timeZone",
    "spark.sql.shuffle.partitions",
    "spark.sql.execution.arrow.pyspark.enabled",
)
"""Session-level properties each query's scoped session gets, even in a session churn did not
start (spark-submit, a notebook): days are cut in UTC whatever the cluster's default zone."""


def scoped_session(session: SparkSession, settings: SparkSettings | None = None) -> Any:
    """A new session on ``session``'s Spark context: its own temporary views and SQL properties
    (``SQL_CONF_KEYS`` from ``settings``, and ``NANOS_AS_LONG``), so a caller's views named
    ``events`` are never touched and days are cut in UTC."""
    sql_conf = {
        k: v
        for k, v in session_conf(settings or SparkSettings(), None).items()
        if k in SQL_CONF_KEYS
    } | NANOS_AS_LONG
    scoped = session.newSession()
    for key, value in sql_conf.items():
        scoped.conf.set(key, value)
    return scoped


def spark_view(scoped: Any, table: Table | Any) -> Any:
    """``table`` as a DataFrame of session ``scoped``: a :class:`ParquetTable` read by the
    executors (:func:`parquet_dataframe`), a frame handed over from the driver through Arrow,
    a DataFrame of ``scoped`` as it is."""
    if isinstance(table, ParquetTable):
        return parquet_dataframe(scoped, table.path)
    if not isinstance(table, pd.DataFrame):  # already a DataFrame of ``scoped``
        return table
    return spark_dataframe(scoped, table)


def spark_query(session: SparkSession, settings: SparkSettings | None = None) -> SqlRunner:
    """A runner on ``session``: each query gets a :func:`scoped_session`, the tables become
    views there (:func:`spark_view`), the query runs as Spark SQL, and the result is collected
    to the driver as an Arrow table."""

    def run(tables: Mapping[str, Table], sql: str) -> Any:
        scoped = scoped_session(session, settings)
        for name, table in tables.items():
            spark_view(scoped, table).createOrReplaceTempView(name)
        return scoped.sql(spark_sql(sql)).toArrow()

    return run


def parquet_dataframe(session: SparkSession, path: Path) -> Any:
    """The parquet file at ``path`` read by Spark's executors (``spark.read.parquet``: no row
    passes through the driver, so every executor must see the file at the same path, e.g. on
    a shared mount), its columns typed as a frame read by pandas and handed over through Arrow
    would be: timestamps without a time zone as TIMESTAMP in UTC (Spark reads them as
    TIMESTAMP_NTZ), nanosecond ones too (floored to the microsecond, Spark's unit), and
    columns of no type as strings.

    Only the file's schema is read on the driver (its footer), to tell nanosecond timestamps
    from integers. Needs ``NANOS_AS_LONG`` in ``session`` when the file holds nanosecond
    timestamps (each query's session in :func:`spark_query` has it).
    """
    arrow = pq.read_schema(path)
    # a file: URI, not a bare path, which Spark would look up on the cluster's default file
    # system (HDFS on EMR and Dataproc, DBFS on Databricks)
    frame = session.read.parquet(Path(path).resolve().as_uri())
    columns = []
    for field in arrow:
        name = quote_spark_identifier(field.name)
        kind = field.type
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            # the nanoseconds since the epoch, as a long: floored to microseconds
            columns.append(f"TIMESTAMP_MICROS(({name} - PMOD({name}, 1000)) DIV 1000) AS {name}")
        elif pa.types.is_timestamp(kind) and kind.tz is None:
            columns.append(f"CAST({name} AS TIMESTAMP) AS {name}")
        elif pa.types.is_null(kind):
            columns.append(f"CAST(NULL AS STRING) AS {name}")
        else:
            columns.append(name)
    return frame.selectExpr(*columns)


KEYS_CTE = "customer_keys"
"""The CTE of :func:`churn.features.sql.features_sql` that numbers customers."""


def spark_sql(sql: str) -> str:
    """A DuckDB query of churn's (see :mod:`churn.engines.sql`) as Spark SQL, its customer keys
    made by :func:`distributed_keys`."""
    return distributed_keys(to_spark_sql(sql))


def distributed_keys(sql: str) -> str:
    """The Spark query ``sql`` keyed by customer_id itself where the ``customer_keys`` CTE
    numbers customers with a global ``ROW_NUMBER() OVER (ORDER BY customer_id)``.

    DuckDB joins, groups and sorts the small integer faster than the string (the features
    benchmark relies on it), but a window without PARTITION BY moves every customer into one
    Spark partition, on one executor. The number is only ever joined, grouped and sorted on,
    and it sorts as customer_id does, so customer_id in its place gives the same rows in the
    same order, with the work spread by hash partitioning.
    """
    statements = []
    for tree in sqlglot.parse(sql, read="spark"):
        assert tree is not None
        for cte in tree.find_all(exp.CTE):
            if cte.alias != KEYS_CTE:
                continue
            for window in list(cte.find_all(exp.Window)):
                order = window.args.get("order")
                if (
                    isinstance(window.this, exp.RowNumber)
                    and not window.args.get("partition_by")
                    and order is not None
                    and len(order.expressions) == 1
                ):
                    window.replace(order.expressions[0].this.copy())
        statements.append(tree.sql(dialect="spark"))
    return ";\n".join(statements)


def spark_runner(settings: SparkSettings) -> SqlRunner:
    """A runner on the process's Spark session (started on first use, see ``spark_session``)."""
    return spark_query(spark_session(settings), settings)
