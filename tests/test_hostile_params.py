"""Params files and pipeline names are untrusted input (they travel between teams and through
pull requests): duplicate keys, alias bombs, bytes that are not UTF-8, unknown time zones and
encodings, and names that climb out of the project are refused with exit code 2, naming the
file, the key and the line, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from churn.cli import app
from churn.errors import ConfigError
from churn.io.paths import PIPELINE_NAME, PipelinePaths, inside_project
from churn.io.yaml_files import MAX_ALIASES, parse_yaml, read_yaml
from churn.scoring.reasons import load_catalogue
from churn.settings import load_settings
from tests._project import PIPELINE, churn, make_project, params, write_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = f"pipelines/{PIPELINE}/params.yaml"


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: each level lists the one before nine times (9**9 values)."""
    text = 'lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]\n"
    return text


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def params_text(root: Path) -> str:
    return (root / PARAMS).read_text(encoding="utf-8")


def refused(root: Path, stage: str = "labels", name: str = PIPELINE) -> str:
    """Run ``churn <stage> <name>``; assert exit 2, one error line and nothing written."""
    before = files_under(root.parent)
    code, out = churn(root, stage, name=name)
    assert code == 2, out
    assert len([line for line in out.splitlines() if line.startswith("error:")]) == 1, out
    assert "Traceback" not in out and "bug in churn" not in out
    assert files_under(root.parent) == before
    return out


# ---- the YAML loader --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("labels: {a: 1}\ndata: 2\nlabels: {a: 2}\n", "'labels'", "lines 1 and 3"),
        (
            "data:\n  events:\n    timezone: UTC\n    timezone: Europe/London\n",
            "'timezone'",
            "3 and 4",
        ),
        ("{a: 1, b: 2, a: 3}\n", "'a'", "lines 1 and 1"),
        ("- {x: 1}\n- x: 2\n  x: 3\n", "'x'", "lines 2 and 3"),
    ],
)
def test_a_duplicate_key_is_refused_at_any_level(text: str, key: str, lines: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml(text, "f.yaml")
    assert f"key {key} appears twice" in str(err.value)
    assert lines in str(err.value) and str(err.value).startswith("f.yaml: line ")


def test_the_same_key_in_different_mappings_and_merge_keys_are_fine() -> None:
    text = "a: {x: 1}\nb: {x: 2}\nbase: &base {x: 1, y: 2}\nc:\n  <<: *base\n  x: 3\n"
    assert parse_yaml(text, "f.yaml") == {
        "a": {"x": 1},
        "b": {"x": 2},
        "base": {"x": 1, "y": 2},
        "c": {"x": 3, "y": 2},
    }


def test_a_few_aliases_are_fine() -> None:
    text = (
        "cols: &cols {customer_id: c, timestamp: t}\nsources: [{columns: *cols}, {columns: *cols}]"
    )
    assert parse_yaml(text, "f.yaml")["sources"][1]["columns"] == {
        "customer_id": "c",
        "timestamp": "t",
    }


def test_an_alias_bomb_is_refused_while_parsing() -> None:
    with pytest.raises(
        ConfigError, match=r"f.yaml: line 6: the alias \*lol4 makes the file expand"
    ):
        parse_yaml(billion_laughs(), "f.yaml")


def test_too_many_aliases_are_refused() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(ConfigError, match=f"line 2: more than {MAX_ALIASES} aliases"):
        parse_yaml(text, "f.yaml")


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"line 1: the alias \*x is inside its own anchor"):
        parse_yaml("a: &x [1, *x]\n", "f.yaml")


def test_python_objects_are_still_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        parse_yaml("a: !!python/object/apply:os.system ['true']\n", "f.yaml")


def test_bytes_that_are_not_utf8_are_named_by_offset_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes("a: 1\nb: café\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        read_yaml(path)
    assert str(err.value) == (
        f"{path}: not UTF-8 text: byte 11 (line 2) is b'\\xe9'. Save the file as UTF-8."
    )


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes("\ufeffa: é\n".encode())
    assert read_yaml(path) == {"a": "é"}


def test_every_bundled_yaml_file_loads() -> None:
    for path in [
        *ROOT.glob("pipelines/*/*.yaml"),
        ROOT / "src/churn/scoring/reason_catalogue.yaml",
    ]:
        assert read_yaml(path) is not None, path


def test_a_reason_catalogue_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reasons.yaml"
    text = (ROOT / "pipelines/telco/reasons.yaml").read_text(encoding="utf-8")
    path.write_text(text + 'version: "second"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{path}: line \\d+: key 'version' appears twice"):
        load_catalogue(path)
    path.write_bytes(b"reasons: [\xff]\n")
    with pytest.raises(ConfigError, match=f"{path}: not UTF-8 text: byte 10"):
        load_catalogue(path)


# ---- params files through the CLI -------------------------------------------------------------


def test_a_duplicate_section_exits_2(project: Path) -> None:
    labels = yaml.safe_dump({"labels": params()["labels"] | {"horizon_days": 30}})
    text = params_text(project)
    first = text.splitlines().index("labels:") + 1
    second = len(text.splitlines()) + 1
    (project / PARAMS).write_text(text + labels, encoding="utf-8")
    out = refused(project)
    assert (
        f"{PARAMS}: line {second}: " in out
        and f"key 'labels' appears twice in one mapping (lines {first} and {second})" in out
    )


def test_an_alias_bomb_in_params_exits_2(project: Path) -> None:
    (project / PARAMS).write_text(billion_laughs() + params_text(project), encoding="utf-8")
    out = refused(project)
    assert f"{PARAMS}: line 6: the alias *lol4" in out and "alias bomb" in out


def test_params_not_in_utf8_exit_2(project: Path) -> None:
    text = params_text(project).replace("timezone: UTC", "timezone: UTC # heure d'été")
    (project / PARAMS).write_bytes(text.encode("latin-1"))
    out = refused(project)
    assert f"{PARAMS}: not UTF-8 text: byte " in out and "(line 12) is b'\\xe9'" in out


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        (
            "data.events.timezone",
            "Mars/Olympus_Mons",
            "data.events.timezone: Value error, expected an IANA time zone such as UTC or "
            "Europe/London. Got 'Mars/Olympus_Mons' instead.",
        ),
        (
            "data.events.timezone",
            "europe/london",
            "(did you mean Europe/London?). Got 'europe/london' instead.",
        ),
        ("data.events.timezone", "../../etc/passwd", "data.events.timezone: Value error"),
        (
            "data.events.sources.0.encoding",
            "klingon",
            "data.events.sources.0.encoding: Value error, expected a text encoding such as "
            "utf-8, latin-1 or cp1252. Got 'klingon' instead.",
        ),
        ("data.events.sources.0.encoding", "rot13", "Got 'rot13' instead."),
        (
            "features.duckdb_memory_limit",
            "4GB'; COPY (SELECT 1) TO 'x.csv'; --",
            "features.duckdb_memory_limit: Value error, expected a size above 0 with a unit",
        ),
        ("features.duckdb_memory_limit", "0GB", "features.duckdb_memory_limit: Value error"),
    ],
)
def test_an_unknown_zone_encoding_or_memory_size_exits_2_naming_the_key(
    project: Path, dotted: str, value: str, expected: str
) -> None:
    values = params()
    *parents, last = dotted.split(".")
    node = values
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    write_params(project, values)
    for stage in ("ingest", "labels"):
        out = refused(project, stage)
        assert f"{PARAMS}: 1 invalid setting(s)" in out and expected in out, out


@pytest.mark.parametrize("limit", ["4GB", "4 gb", "1.5GB", "512MiB", "80%", "100KB"])
def test_memory_sizes_duckdb_takes_are_accepted(project: Path, limit: str) -> None:
    values = params()
    values["features"]["duckdb_memory_limit"] = limit
    write_params(project, values)
    assert load_settings(project, PIPELINE).features.duckdb_memory_limit == limit


# ---- pipeline names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../shop", "../../x", "shop/../../x", "/tmp/x", "Shop", ".x"])
@pytest.mark.parametrize("stage", ["ingest", "labels", "train", "score", "export", "report"])
def test_a_pipeline_name_that_could_leave_its_folders_exits_2(
    tmp_path: Path, name: str, stage: str
) -> None:
    root = make_project(tmp_path / "project")
    # a params file where the unchecked name would find one: data/pipelines/x/params.yaml
    write_params(root / "data", params(), "x")
    out = refused(root, stage, name=name)
    assert "The pipeline name must match ^[a-z0-9][a-z0-9_-]*$" in out
    assert f"Got {name!r} instead" in out


def test_churn_run_and_init_check_the_name_too(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project")
    (root / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    before = files_under(tmp_path)
    for args in (
        ["run", "../shop"],
        ["init", "../shop", "--events", str(root / "data/raw/shop/orders.csv")],
    ):
        result = CliRunner().invoke(app, [*args, "--project-dir", str(root)])
        assert result.exit_code == 2, result.output
        assert "^[a-z0-9][a-z0-9_-]*$" in result.output
    assert files_under(tmp_path) == before


def test_bundled_pipeline_names_pass() -> None:
    names = [p.name for p in (ROOT / "pipelines").iterdir() if p.is_dir()]
    assert names and all(PIPELINE_NAME.fullmatch(n) for n in names)
    for name in names:
        assert PipelinePaths(ROOT, name).model.name == name


def test_inside_project_refuses_a_path_that_climbs_out(tmp_path: Path) -> None:
    root = tmp_path / "project"
    assert inside_project(root, root / "data" / "x") == root / "data" / "x"
    assert inside_project(Path("."), Path("data/interim/shop")) == Path("data/interim/shop")
    for outside in (root / ".." / "x", tmp_path / "projectx", root / "data" / ".." / ".." / "x"):
        with pytest.raises(ConfigError, match="refused to write outside the project folder"):
            inside_project(root, outside)
