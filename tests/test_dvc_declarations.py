"""dvc.yaml against the code: each stage declares exactly the code its stage module imports and
the params its ``PARAMS`` names (the only params the CLI lets it read), so ``dvc repro`` reruns a
stage whenever something it depends on changes, and only then."""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from churn.init.dvc_plots import declared_plots, plot_series
from churn.reporting.plot_files import CURVES, MODEL_SERIES, dvc_plot_definitions
from churn.settings import EventLabelSettings, load_settings
from churn.stage_params import UndeclaredParamError, restrict
from churn.stages import labels as labels_stage
from tests._imports import closure_of, module_files
from tests._project import PIPELINE, churn, dvc, dvc_project, make_project, params

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "churn"

COMMAND_MODULES = {"simulate": ("churn.data.simulate", "churn.io")}
"""Commands implemented in cli.py rather than a stage module: the modules the command calls."""


# ---- what the code imports ------------------------------------------------------------------


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def import_closure(roots: tuple[str, ...]) -> set[Path]:
    """Files of every churn module the roots import, directly or not (the packages above them
    included: importing a module runs their ``__init__``)."""
    files = module_files()
    return {files[name] for name in closure_of(roots)}


def code_deps(files: set[Path]) -> set[str]:
    """The deps that declare ``files``: a top-level module or a file of src/churn/stages/ by
    itself, any other file by its subpackage folder (package data included)."""
    out = set()
    for path in files:
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1 or rel.parts[0] == "stages":
            out.add(path.relative_to(ROOT).as_posix())
        else:
            out.add((PACKAGE / rel.parts[0]).relative_to(ROOT).as_posix())
    return out


# ---- what dvc.yaml declares ------------------------------------------------------------------


@cache
def dvc_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    return loaded


def dvc_stages() -> dict[str, dict[str, Any]]:
    """Each stage's body (the ``do`` of a ``foreach``) by stage name."""
    return {name: stage.get("do", stage) for name, stage in dvc_yaml()["stages"].items()}


def command(stage: dict[str, Any]) -> str:
    """The churn command a stage runs: ``churn train ${key}`` -> ``train``."""
    words = stage["cmd"].split()
    assert words[0] == "churn", f"expected a churn command, got {stage['cmd']!r}"
    return str(words[1])


def roots(stage: dict[str, Any]) -> tuple[str, ...]:
    name = command(stage)
    if name in COMMAND_MODULES:
        return COMMAND_MODULES[name]
    assert (PACKAGE / "stages" / f"{name}.py").is_file(), (
        f"`churn {name}` has no module src/churn/stages/{name}.py; add it to COMMAND_MODULES"
    )
    return (f"churn.stages.{name}",)


def module_params(stage_name: str) -> tuple[str, ...]:
    """``PARAMS`` of src/churn/stages/<stage_name>.py, read from its source (importing every
    stage would import MLflow, Spark glue and the rest)."""
    path = PACKAGE / "stages" / f"{stage_name}.py"
    for node in parsed(path).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "PARAMS" and node.value is not None:
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple), f"{path}: PARAMS must be a tuple of strings"
            return value
    raise AssertionError(f"{path} has no PARAMS: name the params the stage reads")


def declared_params(stage: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for entry in stage.get("params", []):
        assert isinstance(entry, dict), (
            f"expected params under pipelines/${{key}}/params.yaml, got {entry!r}"
        )
        for keys in entry.values():
            out += keys
    return out


def pipelines() -> dict[str, Any]:
    for entry in dvc_yaml()["vars"]:
        if "pipelines" in entry:
            return dict(entry["pipelines"])
    raise AssertionError("dvc.yaml has no vars.pipelines")


def code_problems(name: str, stage: dict[str, Any]) -> list[str]:
    """What to add to or remove from the stage's src/ deps, one sentence each."""
    declared = {d.rstrip("/") for d in stage.get("deps", []) if d.startswith("src/")}
    wanted = code_deps(import_closure(roots(stage)))

    def shown(dep: str) -> str:
        return f"{dep}/" if (ROOT / dep).is_dir() else dep

    return [
        f"dvc.yaml stage {name!r} imports {shown(dep)} but does not declare it: add "
        f"`- {dep}` to its deps"
        for dep in sorted(wanted - declared)
    ] + [
        f"dvc.yaml stage {name!r} declares {shown(dep)} but its code does not import it: "
        f"remove `- {dep}` from its deps"
        for dep in sorted(declared - wanted)
    ]


STAGES = sorted(dvc_stages())


# ---- the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STAGES)
def test_code_deps_are_exactly_the_packages_the_stage_imports(name: str) -> None:
    problems = code_problems(name, dvc_stages()[name])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", STAGES)
def test_params_are_exactly_what_the_stage_module_declares(name: str) -> None:
    stage = dvc_stages()[name]
    declared = declared_params(stage)
    if command(stage) in COMMAND_MODULES:
        assert declared == [], f"dvc.yaml stage {name!r} reads no params file: remove its params"
        return
    wanted = list(module_params(command(stage)))
    where = f"src/churn/stages/{command(stage)}.py"
    problems = [
        f"dvc.yaml stage {name!r} reads param {p!r} (PARAMS in {where}) but does not "
        f"declare it: add `- {p}` to its params"
        for p in wanted
        if p not in declared
    ] + [
        f"dvc.yaml stage {name!r} declares param {p!r} that PARAMS in {where} does not "
        f"name: remove `- {p}` from its params, or add it to PARAMS if the stage reads it"
        for p in declared
        if p not in wanted
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pipeline", sorted(pipelines()))
def test_every_declared_param_is_in_each_pipelines_params_file(pipeline: str) -> None:
    """DVC refuses to run a stage whose declared param is missing from params.yaml."""
    values = yaml.safe_load((ROOT / "pipelines" / pipeline / "params.yaml").read_text())
    problems = []
    for name, stage in dvc_stages().items():
        for param in declared_params(stage):
            node: Any = values
            for part in param.split("."):
                node = node.get(part, KeyError) if isinstance(node, dict) else KeyError
            if node is KeyError:
                problems.append(
                    f"dvc.yaml stage {name!r} declares {param!r}, which pipelines/{pipeline}/"
                    "params.yaml does not set: set it there, or declare its whole section"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pipeline", sorted(pipelines()))
def test_every_stage_module_declares_params_the_settings_have(pipeline: str) -> None:
    settings = load_settings(ROOT, pipeline)
    for stage in dvc_stages().values():
        if command(stage) not in COMMAND_MODULES:
            restrict(settings, module_params(command(stage)), stage=command(stage))


def test_every_output_persists_so_a_failed_stage_keeps_the_previous_ones() -> None:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    transient = []
    for name, stage in spec["stages"].items():
        body = stage.get("do", stage)
        for section in ("outs", "metrics", "plots"):
            for out in body.get(section, []):
                path, options = next(iter(out.items())) if isinstance(out, dict) else (out, {})
                if not (options or {}).get("persist"):
                    transient.append(f"{name}: {path}")
    assert transient == []


@pytest.mark.parametrize("pipeline", sorted(pipelines()))
def test_every_pipeline_has_its_own_plots_one_series_per_file(pipeline: str) -> None:
    """`dvc plots show <p>_roc` draws one pipeline's curves, the model and each baseline its
    own line; the entries are what `churn init` writes (churn.init.dvc_plots)."""
    declared = declared_plots((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    roc = declared.get(f"{pipeline}_roc")
    assert roc, f"dvc.yaml has no plot {pipeline}_roc: add the pipeline's plots (add_plots)"
    folder = f"reports/{pipeline}/plots/roc/"
    series = [p.removeprefix(folder).removesuffix(".csv") for p in roc["y"]]
    assert series[0] == MODEL_SERIES
    assert set(series) <= set(plot_series(load_settings(ROOT, pipeline))), series
    for entry in dvc_plot_definitions(pipeline, series):
        ((key, body),) = entry.items()
        assert declared.get(key) == body, key
    train = dvc_stages()["train"]
    assert any(
        next(iter(out)) == "reports/${key}/plots" for out in train["outs"] if isinstance(out, dict)
    ), "the plots folder is an output of train"


def test_plots_are_defined_per_pipeline_only() -> None:
    """A stage-level plot is drawn for every pipeline by `dvc plots show <id>`-less commands and
    matched by no pipeline's id: every plot is a top-level `<p>_<curve>`."""
    assert all("plots" not in stage for stage in dvc_stages().values())
    names = sorted(pipelines(), key=len, reverse=True)
    for plot in declared_plots((ROOT / "dvc.yaml").read_text(encoding="utf-8")):
        owner = next((p for p in names if plot.startswith(f"{p}_")), None)
        assert owner is not None, f"plot {plot!r} belongs to no pipeline of vars"
        assert plot.removeprefix(f"{owner}_") in {c.name for c in CURVES}, plot


def test_a_missing_or_stale_code_dep_says_what_to_add_or_remove() -> None:
    register = dict(dvc_stages()["register"])
    register["deps"] = [d for d in register["deps"] if d != "src/churn/monitoring"]
    register["deps"] += ["src/churn/crm"]
    assert code_problems("register", register) == [
        "dvc.yaml stage 'register' imports src/churn/monitoring/ but does not declare it: add "
        "`- src/churn/monitoring` to its deps",
        "dvc.yaml stage 'register' declares src/churn/crm/ but its code does not import it: "
        "remove `- src/churn/crm` from its deps",
    ]


def test_the_import_closure_follows_imports_inside_functions_and_package_inits() -> None:
    files = {p.relative_to(PACKAGE).as_posix() for p in import_closure(("churn.stages.train",))}
    assert "modeling/spark_train.py" in files  # imported inside run() for train.engine: spark
    assert {"__init__.py", "stages/__init__.py", "modeling/__init__.py"} <= files
    assert "crm/writers.py" not in files


# ---- the restricted settings -----------------------------------------------------------------


def shop_settings(tmp_path: Path) -> Any:
    return load_settings(make_project(tmp_path), PIPELINE)


def test_declared_params_read_as_loaded(tmp_path: Path) -> None:
    settings = shop_settings(tmp_path)
    view = restrict(settings, ["labels", "monitoring.backfill_cutoffs"], stage="score")
    assert view.name == PIPELINE
    assert view.labels == settings.labels
    assert view.monitoring.backfill_cutoffs == settings.monitoring.backfill_cutoffs


@pytest.mark.parametrize(
    ("use", "key"),
    [
        (lambda s: s.monitoring.psi_threshold * 2, "monitoring.psi_threshold"),
        (lambda s: s.monitoring.gate_promotion or True, "monitoring.gate_promotion"),
        (lambda s: f"{s.monitoring.psi_bins}", "monitoring.psi_bins"),
        (lambda s: "season" in s.monitoring.exempt_families, "monitoring.exempt_families"),
        (lambda s: s.features.engine, "features"),
        (lambda s: s.data == s.data, "data"),
        (lambda s: isinstance(s.train, EventLabelSettings), "train"),
        (lambda s: list(s.export), "export"),
    ],
)
def test_reading_an_undeclared_param_is_a_bug_naming_the_stage_and_the_key(
    tmp_path: Path, use: Any, key: str
) -> None:
    view = restrict(
        shop_settings(tmp_path), ["labels", "monitoring.backfill_cutoffs"], stage="score"
    )
    with pytest.raises(UndeclaredParamError) as caught:
        use(view)
    message = str(caught.value)
    assert f"stage 'score' read the param {key!r}" in message
    assert "bug in churn" in message
    assert "src/churn/stages/score.py" in message


def test_declaring_a_param_the_settings_lack_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("['monitoring.psi_treshold']")):
        restrict(shop_settings(tmp_path), ["monitoring.psi_treshold"], stage="register")
    with pytest.raises(ValueError, match=re.escape("'registry.auc_margin', which is a value")):
        restrict(shop_settings(tmp_path), ["registry.auc_margin.x"], stage="register")


def test_a_stage_run_through_the_cli_fails_on_a_param_it_does_not_declare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    assert churn(project, "ingest")[0] == 0
    monkeypatch.setattr(labels_stage, "PARAMS", ("labels",))  # forgets features (the engine)
    code, out = churn(project, "labels")
    assert code == 1
    assert "stage 'labels' read the param 'features'" in out
    assert "bug in churn" in out
    assert not (project / "data/interim" / PIPELINE / "labels.parquet").exists()


# ---- the promise, end to end -----------------------------------------------------------------

UP_TO_REGISTER = ("ingest", "labels", "features", "train", "register")


def changed_stages(project: Path) -> set[str]:
    """Stages up to register that ``dvc repro`` would run again."""
    status = json.loads(dvc(project, "status", "--json"))
    return {name for name in status if name.split("@")[0] in UP_TO_REGISTER}


@pytest.mark.slow
def test_changing_the_drift_threshold_reruns_register(tmp_path: Path) -> None:
    """A DVC project with the real dvc.yaml (one tiny pipeline, no simulate) and a copy of the
    code: after `dvc repro` through register nothing is stale; a new monitoring.psi_threshold
    makes register, and only register, stale."""
    project = make_project(tmp_path)
    values = params() | {
        "registry": {"auc_margin": 0.005, "max_ece": 0.5},
        "monitoring": {"psi_threshold": 0.2},
        # register depends on the uplift stage (its model is registered too), which reads these
        "scoring": {},
        "playbook": {},
    }
    params_file = project / "pipelines" / PIPELINE / "params.yaml"
    params_file.write_text(yaml.safe_dump(values, sort_keys=False))
    dvc_project(project)

    dvc(project, "repro", f"register@{PIPELINE}")
    assert (project / "reports" / PIPELINE / "registry.json").is_file()
    assert changed_stages(project) == set(), "a stage is stale right after dvc repro"

    values["monitoring"]["psi_threshold"] = 0.3
    params_file.write_text(yaml.safe_dump(values, sort_keys=False))
    assert changed_stages(project) == {f"register@{PIPELINE}"}
    dry = dvc(project, "repro", "--dry", f"register@{PIPELINE}")
    assert f"Running stage 'register@{PIPELINE}'" in dry
    assert f"Running stage 'train@{PIPELINE}'" not in dry

    # a failed stage leaves its previous outputs, metrics and plots in place (DVC deletes
    # outputs before running a stage unless they persist)
    reports = project / "reports" / PIPELINE
    before = {p: p.read_bytes() for p in [*reports.rglob("*.json"), *reports.rglob("*.csv")]}
    values["train"]["exclude_features"] = ["no_such_feature"]
    params_file.write_text(yaml.safe_dump(values, sort_keys=False))
    failed = dvc(project, "repro", f"train@{PIPELINE}", ok=False)
    assert "no_such_feature" in failed
    assert {p: p.read_bytes() for p in before} == before
