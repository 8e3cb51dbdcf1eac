"""How the Spark engine is chosen and configured, and its errors, without starting Spark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from churn.engines import sql_runner
from churn.errors import ConfigError
from churn.settings import FeatureSettings, SparkSettings, load_settings
from tests._project import PIPELINE, write_params
from tests._project import params as project_params

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import resolve_master, session_conf, spark_session, spark_sql


def test_master_comes_from_the_setting_then_the_environment_then_local() -> None:
    assert resolve_master(SparkSettings(master="yarn"), {"SPARK_MASTER": "spark://h:7077"}) == (
        "yarn"
    )
    assert resolve_master(SparkSettings(), {"SPARK_MASTER": "spark://h:7077"}) == "spark://h:7077"
    assert resolve_master(SparkSettings(), {"PYSPARK_GATEWAY_PORT": "40000"}) is None
    assert resolve_master(SparkSettings(), {}) == "local[2]"


def test_a_local_session_listens_on_localhost_only_and_cuts_days_in_utc() -> None:
    conf = session_conf(SparkSettings(shuffle_partitions=3), "local[2]")
    assert conf["spark.driver.bindAddress"] == conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.shuffle.partitions"] == "3"


def test_a_cluster_session_is_not_bound_to_localhost_and_extra_conf_wins() -> None:
    settings = SparkSettings(conf={"spark.executor.memory": "8g", "spark.ui.enabled": "true"})
    conf = session_conf(settings, "spark://h:7077")
    assert "spark.driver.bindAddress" not in conf
    assert conf["spark.executor.memory"] == "8g" and conf["spark.ui.enabled"] == "true"


def test_under_spark_submit_the_driver_keeps_the_address_spark_submit_gives_it() -> None:
    """Master None (spark-submit chose it, e.g. yarn): binding the driver to 127.0.0.1 would
    leave it unreachable from executors on other machines."""
    conf = session_conf(SparkSettings(), None)
    assert not {"spark.driver.host", "spark.driver.bindAddress", "spark.master"} & set(conf)
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_no_java_is_a_config_error_naming_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"no Java was found.*JAVA_HOME.*engine: duckdb"):
        spark_session(SparkSettings(), env={"PATH": "/nonexistent", "JAVA_HOME": "/nonexistent"})


def test_pyspark_missing_is_a_config_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import pyspark.sql now fails
    with pytest.raises(ConfigError, match=r"pip install 'churn\[spark\]'"):
        sql_runner(FeatureSettings(engine="spark"))


def test_the_engine_setting_rejects_unknown_engines() -> None:
    with pytest.raises(ValueError, match="duckdb"):
        FeatureSettings.model_validate({"engine": "polars"})


def test_an_unknown_train_or_scoring_engine_is_named_with_the_allowed_values(
    tmp_path: Path,
) -> None:
    values = project_params()
    values["train"] = {**values["train"], "engine": "gpu"}
    values["scoring"] = {"engine": "duckdb"}
    write_params(tmp_path, values)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, PIPELINE)
    message = str(caught.value)
    assert "2 invalid setting(s)" in message
    assert "train.engine: Input should be 'local' or 'spark'. Got 'gpu' instead." in message
    assert "scoring.engine: Input should be 'local' or 'spark'. Got 'duckdb' instead." in message


def test_spark_errors_name_the_setting_that_chose_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage that needs Spark for training or scoring says which key to set back."""
    with pytest.raises(ConfigError, match=r"train.engine is 'spark'.*set train.engine: local"):
        spark_session(
            SparkSettings(),
            env={"PATH": "/nonexistent", "JAVA_HOME": "/nonexistent"},
            setting="train.engine",
        )
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError, match=r"set scoring.engine: local"):
        spark_session(SparkSettings(), setting="scoring.engine")


def test_spark_sql_keys_customers_by_customer_id_and_leaves_other_windows() -> None:
    sql = """WITH customer_keys AS (
            SELECT customer_id, ROW_NUMBER() OVER (ORDER BY customer_id) AS cid FROM pairs),
        ranked AS (SELECT cid, ROW_NUMBER() OVER (PARTITION BY cid ORDER BY day) AS n FROM t)
        SELECT k.customer_id FROM customer_keys AS k JOIN ranked AS r ON r.cid = k.cid
        ORDER BY k.cid"""
    spark = spark_sql(sql)
    assert "customer_id AS cid" in spark
    assert "ROW_NUMBER() OVER (PARTITION BY cid ORDER BY day" in spark


@pytest.mark.slow
def test_the_spark_modules_and_the_stages_import_without_pyspark() -> None:
    """pyspark stays optional: it is imported only when a setting chooses Spark."""
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "import churn.engines.spark, churn.modeling.spark_train, churn.scoring.spark_scoring\n"
        "import churn.stages.train, churn.stages.score\n"
        "assert not any(m.startswith(('pyspark', 'xgboost.spark')) for m in sys.modules "
        "if sys.modules[m] is not None)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
def test_importing_churn_leaves_spark_local_ip_as_the_user_set_it() -> None:
    """pandera sets SPARK_LOCAL_IP=127.0.0.1 on import when it is unset, which would make a
    driver on a cluster unreachable from executors on other machines; churn unsets it again,
    and keeps a value the user set."""
    code = (
        "import os, sys\n"
        "import churn.data.schemas\n"
        "print(os.environ.get('SPARK_LOCAL_IP', 'unset'))"
    )
    seen = {}
    for given in (None, "10.9.8.7"):
        env = {k: v for k, v in os.environ.items() if k != "SPARK_LOCAL_IP"}
        if given is not None:
            env["SPARK_LOCAL_IP"] = given
        done = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        seen[given] = done.stdout.strip()
    assert seen == {None: "unset", "10.9.8.7": "10.9.8.7"}
