"""Params files: typed, frozen, and every bad key named with what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from churn.errors import ConfigError
from churn.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["retail", "cdnow", "telco"])
def test_bundled_params_load(name: str) -> None:
    settings = load_settings(ROOT, name)
    assert settings.name == name and settings.data.kind in ("events", "snapshot")


def write_params(tmp_path: Path, params: dict[str, object]) -> Path:
    folder = tmp_path / "pipelines" / "p"
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def retail_params() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "pipelines/retail/params.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_every_bad_setting_is_named(tmp_path: Path) -> None:
    params = retail_params()
    params["labels"]["horizon_days"] = -3  # type: ignore[index]
    params["labels"]["horizon_dayz"] = 90  # type: ignore[index]
    params["features"]["windows_days"] = "thirty"  # type: ignore[index]
    with pytest.raises(ConfigError) as err:
        load_settings(write_params(tmp_path, params), "p")
    text = str(err.value)
    assert "pipelines/p/params.yaml: 3 invalid setting(s)" in text
    assert "labels.horizon_days: Input should be greater than 0. Got -3 instead." in text
    assert "labels.horizon_dayz: Extra inputs are not permitted" in text
    assert "features.windows_days" in text


def test_unknown_pipeline_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"Known pipelines: \['cdnow', 'retail', 'subscription', 'telco'\]"
    ):
        load_settings(ROOT, "retial")


def test_not_yaml(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines" / "p"
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(tmp_path, "p")


def test_settings_are_frozen() -> None:
    settings = load_settings(ROOT, "retail")
    with pytest.raises(ValueError, match="frozen"):
        settings.labels.horizon_days = 5  # type: ignore[misc]


@pytest.mark.parametrize("name", ["retail", "cdnow", "telco", "subscription"])
def test_params_survive_dvcs_rewrite_on_exp_run_set_param(name: str, tmp_path: Path) -> None:
    """`dvc exp run -S` rewrites the whole params file with DVC's own YAML writer, which drops
    the quotes that kept `positive_label: "Yes"` text under YAML 1.1: every setting must read
    back the same, but the one changed."""
    from dvc.utils.serialize import modify_yaml  # noqa: PLC0415 - DVC's writer, as -S uses it

    original = load_settings(ROOT, name)
    params = tmp_path / "pipelines" / name / "params.yaml"
    params.parent.mkdir(parents=True)
    params.write_bytes((ROOT / "pipelines" / name / "params.yaml").read_bytes())
    with modify_yaml(str(params)) as data:
        data["train"]["max_depth"] = 4
    rewritten = params.read_text()
    rewritten_settings = load_settings(tmp_path, name)
    assert rewritten_settings.train.max_depth == 4
    expected = original.model_dump()
    expected["train"]["max_depth"] = 4
    assert rewritten_settings.model_dump() == expected, rewritten


def engines(tmp_path: Path, params: dict[str, object]) -> tuple[str, str, str]:
    settings = load_settings(write_params(tmp_path, params), "p")
    return settings.features.engine, settings.train.engine, settings.scoring.engine


def test_one_engine_setting_puts_every_stage_on_spark(tmp_path: Path) -> None:
    params = {**retail_params(), "engine": "spark"}
    assert engines(tmp_path, params) == ("spark", "spark", "spark")


def test_sections_left_out_or_empty_follow_the_engine_too(tmp_path: Path) -> None:
    params = {**retail_params(), "engine": "spark", "scoring": {}, "features": {}}
    del params["train"]
    assert engines(tmp_path, params) == ("spark", "spark", "spark")


def test_a_stage_engine_written_in_the_file_wins_over_the_pipeline_engine(
    tmp_path: Path,
) -> None:
    params = retail_params()
    params["engine"] = "spark"
    params["train"] = {**params["train"], "engine": "local"}  # type: ignore[dict-item]
    assert engines(tmp_path, params) == ("spark", "local", "spark")


def test_local_engine_leaves_each_stage_to_its_own_setting(tmp_path: Path) -> None:
    params = retail_params()
    assert params["engine"] == "local"
    params["scoring"] = {**params["scoring"], "engine": "spark"}  # type: ignore[dict-item]
    assert engines(tmp_path, params) == ("duckdb", "local", "spark")


@pytest.mark.parametrize(
    ("engine", "written", "expected"),
    [
        ("spark", {}, 1_000_000),  # a cluster's data need not fit its driver
        ("spark", {"driver_customers": None}, None),  # every customer, asked for in writing
        ("spark", {"driver_customers": 5_000}, 5_000),
        ("local", {}, None),
    ],
)
def test_the_spark_engine_bounds_what_the_driver_reads_unless_told_otherwise(
    tmp_path: Path, engine: str, written: dict[str, Any], expected: int | None
) -> None:
    params = {**retail_params(), "engine": engine}
    params["train"] = {**params["train"], **written}  # type: ignore[dict-item]
    settings = load_settings(write_params(tmp_path, params), "p")
    assert settings.train.driver_customers == expected


def test_an_unknown_engine_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"engine: Input should be 'local' or 'spark'.*'duckdb'"):
        load_settings(write_params(tmp_path, {**retail_params(), "engine": "duckdb"}), "p")
