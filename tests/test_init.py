"""``churn init`` and ``churn run``: the cutoff schedule, reading users' files as they come,
the params file written, the dvc.yaml edit, refusals that write nothing, and (slow) a real DVC
project taken from a raw file to scores in two commands."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from churn.cli import app
from churn.errors import ConfigError
from churn.init.dvc_plots import add_plots, declared_plots
from churn.init.params_file import DECLARED_SECTIONS, flow_list
from churn.init.plan import attribute_names, class_sizes, fitting_min_class_rows, snake_case
from churn.init.project import add_pipeline, declared_pipelines, placement, stage_targets
from churn.init.schedule import cutoff_plan, latest_test_cutoff
from churn.init.sniff import file_format, read_sample
from churn.scoring.reasons import load_catalogue
from churn.settings import PipelineSettings, load_settings
from tests import messy

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = re.compile(r"^      [a-z0-9_-]+: \{raw: [^}]*\}\n", re.M)


def project(root: Path) -> Path:
    """A project folder with the real dvc.yaml, its bundled pipelines taken out (text edit)."""
    root.mkdir(parents=True, exist_ok=True)
    text = BUNDLED.sub("", (ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    (root / "dvc.yaml").write_text(text, encoding="utf-8")
    return root


def init(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["init", *args, "--project-dir", str(root)])
    return result.exit_code, result.output


def written(root: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (root / "pipelines" / name / "params.yaml").read_text(encoding="utf-8")
    )
    return loaded


def export(tmp_path: Path, frame: pd.DataFrame, name: str, **options: Any) -> Path:
    """``frame`` as a user's export outside the project."""
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    path = folder / name
    frame.to_csv(path, index=False, **options)
    return path


# ---- the schedule ------------------------------------------------------------------------------


def test_the_test_cutoff_is_the_latest_whose_window_the_data_covers() -> None:
    plan = cutoff_plan(dt.date(2022, 1, 1), dt.date(2023, 12, 31), 90)
    assert plan.test_cutoff == dt.date(2023, 10, 3)
    last_day_in_window = plan.test_cutoff + dt.timedelta(days=90 - 1)
    assert last_day_in_window == dt.date(2023, 12, 31)  # [c, c + 90) ends on the last day
    assert latest_test_cutoff(dt.date(2023, 12, 31), 90) == plan.test_cutoff


def test_training_cutoffs_are_monthly_between_a_horizon_of_history_and_the_test() -> None:
    first, last = dt.date(2022, 1, 1), dt.date(2023, 12, 31)
    plan = cutoff_plan(first, last, 90)
    cuts = plan.train_cutoffs
    assert cuts[-1] == plan.test_cutoff - dt.timedelta(days=90)  # validation window ends on test
    assert cuts[0] >= first + dt.timedelta(days=90)
    assert (cuts[0] - dt.timedelta(days=31)) < first + dt.timedelta(days=90)  # none missed
    assert list(cuts) == sorted(cuts)
    assert all(28 <= (b - a).days <= 31 for a, b in itertools.pairwise(cuts))
    assert any(c + dt.timedelta(days=90) <= cuts[-1] for c in cuts)  # something to fit on


def test_a_given_test_cutoff_is_kept_and_one_past_the_data_refused() -> None:
    plan = cutoff_plan(
        dt.date(2022, 1, 1), dt.date(2023, 12, 31), 60, test_cutoff=dt.date(2023, 6, 1)
    )
    assert plan.test_cutoff == dt.date(2023, 6, 1)
    assert plan.train_cutoffs[-1] == dt.date(2023, 4, 2)
    with pytest.raises(ConfigError, match="on or before 2023-11-02"):
        cutoff_plan(
            dt.date(2022, 1, 1), dt.date(2023, 12, 31), 60, test_cutoff=dt.date(2023, 12, 1)
        )


def test_a_span_too_short_for_the_horizon_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"too short for a 90-day horizon.*--horizon-days"):
        cutoff_plan(dt.date(2023, 1, 1), dt.date(2023, 10, 31), 90)  # 304 days: < 4 horizons
    assert cutoff_plan(dt.date(2023, 1, 1), dt.date(2023, 10, 31), 60).train_cutoffs


# ---- reading files as they come ----------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", "\t", "|", ","])
def test_the_separator_is_sniffed(tmp_path: Path, separator: str) -> None:
    path = export(tmp_path, messy.event_log(20, seed=1).events, "events.txt", sep=separator)
    fmt = file_format(path)
    assert (fmt.format, fmt.separator, fmt.encoding) == ("csv", separator, "utf-8")
    assert list(read_sample(path, fmt).columns) == ["client ref", "Order Date", "Total (EUR)"]


def test_a_cp1252_file_with_accents_is_read_as_cp1252(tmp_path: Path) -> None:
    frame = pd.DataFrame({"Kunde": ["001", "002"], "Stadt": ["Zürich", "Besançon"], "€": [1, 2]})
    path = export(tmp_path, frame, "kunden.csv", sep=";", encoding="cp1252")
    fmt = file_format(path)
    assert (fmt.separator, fmt.encoding) == (";", "cp1252")
    sample = read_sample(path, fmt)
    assert list(sample.columns) == ["Kunde", "Stadt", "€"]
    assert sample["Stadt"].tolist() == ["Zürich", "Besançon"]


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = export(tmp_path, messy.event_log(20, seed=1).events, "bom.csv", encoding="utf-8-sig")
    fmt = file_format(path)
    assert fmt.encoding == "utf-8-sig"
    assert read_sample(path, fmt).columns[0] == "client ref"


def test_parquet_is_read_as_text_with_blanks(tmp_path: Path) -> None:
    path = tmp_path / "snap.parquet"
    pd.DataFrame({"id": ["a", "b"], "x": [1.5, None]}).to_parquet(path)
    fmt = file_format(path)
    assert fmt.format == "parquet"
    assert read_sample(path, fmt)["x"].tolist() == ["1.5", ""]


def test_attribute_names_are_snake_case_and_unique() -> None:
    assert snake_case("Monthly Usage (GB)") == "monthly_usage_gb"
    assert snake_case("SeniorCitizen") == "senior_citizen"
    assert snake_case("1st order") == "x1st_order"
    assert attribute_names(["Plan", "plan", "customer id"]) == {
        "plan": "Plan",
        "plan_2": "plan",
        "customer_id_attribute": "customer id",
    }


def test_long_lists_wrap_and_still_read_back() -> None:
    items = [f"2023-{m:02d}-01" for m in range(1, 13)]
    lines = flow_list("dates", items, 4)
    assert len(lines) > 1 and all(len(line) <= 99 for line in lines)
    assert yaml.safe_load("\n".join(lines)) == {"dates": items}


# ---- the params file ---------------------------------------------------------------------------


def declared_sections() -> set[str]:
    """Top-level sections dvc.yaml declares for some stage."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    out = set()
    for stage in spec["stages"].values():
        for entry in stage.get("do", stage).get("params", []):
            for keys in entry.values():
                out |= {k.split(".")[0] for k in keys}
    return out


def non_defaults(values: dict[str, Any]) -> list[str]:
    """Keys written with their default value (sections a stage declares are required)."""
    out = []
    for section in ("features", "train", "registry", "scoring", "playbook", "export"):
        factory = PipelineSettings.model_fields[section].default_factory
        assert factory is not None
        default = factory().model_dump(mode="json")  # type: ignore[call-arg]
        out += [f"{section}.{k}" for k, v in (values[section] or {}).items() if v == default[k]]
    return out


def test_events_params_load_and_hold_only_what_differs(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    events = export(tmp_path, messy.event_log(150, seed=2).events, "orders.csv", sep=";")
    code, out = init(root, "shop", "--events", str(events))
    assert code == 0, out
    settings = load_settings(root, "shop")
    assert settings.data.events is not None
    source = settings.data.events.sources[0]
    assert (source.path, source.separator) == ("data/raw/shop/orders.csv", ";")
    assert source.columns == {
        "customer_id": "client ref",
        "timestamp": "Order Date",
        "amount": "Total (EUR)",
    }
    assert (root / "data/raw/shop/orders.csv").read_bytes() == events.read_bytes()
    values = written(root, "shop")
    assert declared_sections() <= set(values) == set(DECLARED_SECTIONS)
    assert "backfill_cutoffs" in values["monitoring"]
    assert values["train"] == values["registry"] == values["export"] == {}
    # ranked by value at risk, the default; most of this shop's customers churn, so its risk
    # tiers are by probability (tests/test_init_risk_tiers.py)
    assert values["scoring"] == {"risk_tiers": {"method": "probability"}}
    assert non_defaults(values) == []
    assert "client ref" in out and "test cutoff" in out


def test_without_amounts_outreach_ranks_by_probability(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    events = export(tmp_path, messy.event_log(150, seed=3, amount=False).events, "visits.csv")
    code, out = init(root, "visits", "--events", str(events))
    assert code == 0, out
    settings = load_settings(root, "visits")
    assert settings.scoring.outreach.priority == "churn_probability"
    assert not settings.features.bgnbd
    assert not any(rule.min_value_percentile for rule in settings.playbook.rules)
    assert "no amount column" in out
    assert non_defaults(written(root, "visits")) == []


def test_the_playbook_names_only_reason_codes_of_the_catalogue(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    events = export(tmp_path, messy.event_log(150, seed=2).events, "orders.csv")
    assert init(root, "shop", "--events", str(events))[0] == 0
    rules = load_settings(root, "shop").playbook.rules
    assert rules
    codes = {r.code for r in load_catalogue().reasons}
    assert {code for rule in rules for code in rule.reasons} <= codes


def test_snapshot_params_list_the_attributes_and_the_value(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    snap = messy.snapshot(200, seed=1, spelling="Churned/Stayed")
    path = export(tmp_path, snap.frame, "subscribers.csv", sep="|")
    code, out = init(
        root, "subs", "--snapshot", str(path), "--label", "Churn", "--value", "MonthlyFee"
    )
    assert code == 0, out
    settings = load_settings(root, "subs")
    assert settings.data.snapshot is not None
    source = settings.data.snapshot.source
    assert source.columns == {"customer_id": "Customer Number", "label": "Churn"}
    assert source.attributes == {
        "monthly_usage_gb": "Monthly Usage (GB)",
        "support_tickets": "support_tickets",
        "tenure_years": "TenureYears",
        "monthly_fee": "MonthlyFee",
        "plan_type": "Plan Type",
    }
    assert set(settings.data.snapshot.numeric_attributes) == {
        "monthly_usage_gb",
        "support_tickets",
        "tenure_years",
        "monthly_fee",
    }
    assert settings.data.snapshot.positive_label == "Churned"
    assert settings.scoring.value.method == "recurring"
    assert settings.scoring.value.charge_feature == "monthly_fee"
    # no catalogue file of its own: a snapshot's built-in catalogue has one reason per attribute
    assert settings.scoring.reasons is None
    assert not (root / "pipelines/subs/reasons.yaml").exists()
    values = written(root, "subs")
    assert declared_sections() <= set(values)
    assert values["monitoring"] == {"backfill_cutoffs": []}
    assert values["playbook"] == {} and non_defaults(values) == []


def test_a_snapshot_without_a_value_column_ranks_by_probability(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    snap = messy.snapshot(200, seed=1, anonymised=True)
    path = export(tmp_path, snap.frame, "anon.csv")
    code, out = init(root, "anon", "--snapshot", str(path), "--label", "target")
    assert code == 0, out
    settings = load_settings(root, "anon")
    assert settings.scoring.outreach.priority == "churn_probability"
    assert settings.scoring.value.method == "clv"  # the default, never used by this ranking
    assert "no value column" in out


def test_a_customers_table_and_cancellations_are_mapped(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    log = messy.event_log(150, seed=2, customers_table=True)
    assert log.customers is not None
    events = export(tmp_path, log.events, "orders.csv")
    customers = export(tmp_path, log.customers, "customers.csv")
    gone = log.events.groupby("client ref", as_index=False)["Order Date"].max().head(40)
    cancellations = export(tmp_path, gone.rename(columns={"Order Date": "cancelled on"}), "c.csv")
    code, out = init(
        root,
        "shop",
        "--events",
        str(events),
        "--customers",
        str(customers),
        "--churn-events",
        str(cancellations),
    )
    assert code == 0, out
    settings = load_settings(root, "shop")
    data = settings.data
    assert data.customers is not None and data.churn_events is not None
    assert data.customers.sources[0].columns == {"customer_id": "client ref"}
    assert data.customers.sources[0].attributes == {"segment": "segment"}
    assert settings.features.categorical_attributes == ["segment"]
    assert data.churn_events.sources[0].columns == {
        "customer_id": "client ref",
        "timestamp": "cancelled on",
    }
    assert settings.labels.churn_definition == "either"  # type: ignore[union-attr]
    assert "churn_definition" in out


# ---- dvc.yaml ----------------------------------------------------------------------------------


def test_adding_a_pipeline_keeps_every_comment_and_adds_it_once() -> None:
    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    edited = add_pipeline(text, "mine", "data/raw/mine")
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in edited.splitlines() if line.lstrip().startswith("#")] == comments
    assert edited.count("mine:") == 1
    assert set(edited.splitlines()) - set(text.splitlines()) == {"      mine: {raw: data/raw/mine}"}
    pipelines = declared_pipelines(edited)
    assert list(pipelines) == [*declared_pipelines(text), "mine"]
    again = add_pipeline(edited, "mine", "data/raw/elsewhere")
    assert again.count("mine:") == 1
    assert declared_pipelines(again)["mine"] == {"raw": "data/raw/elsewhere"}


def test_a_pipelines_plots_are_added_once_and_replaced_where_they_stand() -> None:
    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    edited = add_plots(text, "mine", ["model", "recency"])
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in edited.splitlines() if line.lstrip().startswith("#")] == comments
    plots = declared_plots(edited)
    assert list(plots)[: len(declared_plots(text))] == list(declared_plots(text))
    assert plots["mine_roc"]["y"] == {
        "reports/mine/plots/roc/model.csv": "tpr",
        "reports/mine/plots/roc/recency.csv": "tpr",
    }
    assert edited.count("- mine_") == 5
    assert add_plots(edited, "mine", ["model", "recency"]) == edited
    again = add_plots(edited, "mine", ["model", "bgnbd"])
    assert again.count("- mine_") == 5
    assert list(declared_plots(again)) == list(plots)  # replaced in place, not moved
    assert "reports/mine/plots/gains/bgnbd.csv" in declared_plots(again)["mine_gains"]["y"]
    assert "recency" not in str(declared_plots(again)["mine_roc"])
    retail = {k: v for k, v in declared_plots(text).items() if k.startswith("retail_")}
    assert {k: declared_plots(again)[k] for k in retail} == retail


def test_plots_go_in_a_section_of_their_own_when_dvc_yaml_has_none() -> None:
    text = "vars:\n  - pipelines: {}\n\nstages: {}  # none yet"
    edited = add_plots(text, "a", ["model"])
    assert edited.startswith(text + "\n\nplots:\n  - a_roc:\n")
    assert declared_plots(edited)["a_confusion"] == {
        "template": "confusion",
        "x": "actual",
        "y": {"reports/a/plots/confusion.csv": "predicted"},
    }
    assert set(yaml.safe_load(edited)) == {"vars", "stages", "plots"}


def test_init_adds_the_plots_of_the_baselines_the_params_allow(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    with_amounts = export(tmp_path, messy.event_log(150, seed=2).events, "orders.csv")
    without = export(tmp_path, messy.event_log(150, seed=3, amount=False).events, "visits.csv")
    snap = messy.snapshot(300, seed=1)
    snapshot = export(tmp_path, snap.frame, "subscribers.csv")
    assert init(root, "orders", "--events", str(with_amounts))[0] == 0
    assert init(root, "visits", "--events", str(without))[0] == 0
    assert init(root, "subs", "--snapshot", str(snapshot), "--label", snap.label)[0] == 0
    plots = declared_plots((root / "dvc.yaml").read_text())

    def series(name: str) -> list[str]:
        folder = f"reports/{name}/plots/roc/"
        return [p.removeprefix(folder).removesuffix(".csv") for p in plots[f"{name}_roc"]["y"]]

    assert series("orders") == ["model", "recency", "logistic_rfm", "bgnbd"]
    assert series("visits") == ["model", "recency", "logistic_rfm"]
    assert series("subs") == ["model", "logistic_onehot"]
    assert {
        f"{n}_{c}" for n in ("orders", "visits", "subs") for c in ("roc", "calibration")
    } <= set(plots)


def test_an_empty_pipelines_list_gets_its_first_entry() -> None:
    text = "vars:\n  - pipelines: {}   # none yet\n\nstages: {}\n"
    assert declared_pipelines(add_pipeline(text, "a", "data/raw/a")) == {"a": {"raw": "data/raw/a"}}


def test_every_per_pipeline_stage_is_a_target_of_run() -> None:
    targets = stage_targets((ROOT / "dvc.yaml").read_text(encoding="utf-8"), "mine")
    assert len(targets) == 10  # with uplift
    assert {t.split("@")[0] for t in targets} >= {
        "ingest",
        "train",
        "uplift",
        "score",
        "export",
        "report",
    }
    assert all(t.endswith("@mine") for t in targets)


def test_files_inside_the_project_stay_where_they_are(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    inside = root / "exports" / "2024" / "orders.csv"
    inside.parent.mkdir(parents=True)
    inside.write_text("x\n")
    assert placement(root, "shop", [inside]) == (
        {inside: "exports/2024/orders.csv"},
        "exports/2024/orders.csv",
    )
    outside = tmp_path / "visits.csv"
    outside.write_text("x\n")
    places, raw = placement(root, "shop", [inside, outside])  # no one folder holds both
    assert raw == "data/raw/shop"
    assert places == {inside: "data/raw/shop/orders.csv", outside: "data/raw/shop/visits.csv"}
    with pytest.raises(ConfigError, match="both named"):
        placement(root, "shop", [inside, tmp_path / "orders.csv"])


def test_a_second_init_of_a_name_is_refused_unless_forced(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    events = export(tmp_path, messy.event_log(150, seed=2).events, "orders.csv")
    assert init(root, "shop", "--events", str(events))[0] == 0
    before = (root / "dvc.yaml").read_text()
    code, out = init(root, "shop", "--events", str(events))
    assert code == 2
    assert "already exists" in out and "--force" in out
    assert (root / "dvc.yaml").read_text() == before
    code, out = init(root, "shop", "--events", str(events), "--horizon-days", "60", "--force")
    assert code == 0, out
    assert (root / "dvc.yaml").read_text() == before  # the entry is there once, as it was
    assert load_settings(root, "shop").labels.horizon_days == 60  # type: ignore[union-attr]


# ---- refusals write nothing --------------------------------------------------------------------


def assert_nothing_written(root: Path, name: str, dvc_yaml: str) -> None:
    assert (root / "dvc.yaml").read_text() == dvc_yaml
    assert not (root / "pipelines" / name).exists()
    assert not (root / "data" / "raw" / name).exists()


def test_no_customer_id_candidate_exits_2_naming_the_columns(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    before = (root / "dvc.yaml").read_text()
    frame = pd.DataFrame({"ref": ["a", "b", "a"], "when": ["2023-01-01"] * 3, "x": [1, 2, 3]})
    code, out = init(root, "shop", "--events", str(export(tmp_path, frame, "weird.csv")))
    assert code == 2
    assert "customer id" in out and "['ref', 'when', 'x']" in out and "--customer-id" in out
    assert_nothing_written(root, "shop", before)


def test_a_snapshot_without_an_id_column_is_numbered_by_row_and_says_so(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    snap = messy.snapshot(100, seed=1, id_style="none")
    code, out = init(
        root, "subs", "--snapshot", str(export(tmp_path, snap.frame, "s.csv")), "--label", "Churn"
    )
    assert code == 0, out
    assert "numbered by row" in out and "--customer-id" in out
    settings = load_settings(root, "subs")
    assert settings.data.snapshot is not None
    assert "customer_id" not in settings.data.snapshot.source.columns


@pytest.mark.parametrize("name", ["Shop", "_shop", "my shop", "shop/a", ""])
def test_a_bad_name_exits_2(tmp_path: Path, name: str) -> None:
    root = project(tmp_path / "p")
    before = (root / "dvc.yaml").read_text()
    events = export(tmp_path, messy.event_log(50, seed=2).events, "orders.csv")
    code, out = init(root, name, "--events", str(events))
    assert code == 2
    assert "^[a-z0-9][a-z0-9_-]*$" in out
    assert (root / "dvc.yaml").read_text() == before
    assert not (root / "data" / "raw").exists()


def test_events_and_snapshot_together_or_neither_exit_2(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    assert init(root, "x")[0] == 2
    assert init(root, "x", "--events", "a.csv", "--snapshot", "b.csv", "--label", "y")[0] == 2


def test_run_of_an_unknown_pipeline_exits_2(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    result = CliRunner().invoke(app, ["run", "nope", "--project-dir", str(root)])
    assert result.exit_code == 2
    assert "No pipeline 'nope'" in result.output


# ---- end to end --------------------------------------------------------------------------------


def dvc_project(root: Path) -> Path:
    """A git + DVC project with the real dvc.yaml (no bundled pipelines) and a copy of src/."""
    project(root)
    shutil.copytree(
        ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg*")
    )
    shutil.copy(ROOT / ".dvcignore", root / ".dvcignore")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    return root


@pytest.mark.slow
def test_a_users_files_go_from_raw_to_scores_in_two_commands(tmp_path: Path) -> None:
    root = dvc_project(tmp_path / "p")
    with_amounts = export(tmp_path, messy.event_log(250, seed=4).events, "orders.csv", sep=";")
    without = export(tmp_path, messy.event_log(250, seed=5, amount=False).events, "visits.csv")
    # 1,500 rows: the validation split of a snapshot needs train.min_class_rows (20) churners
    snap = export(tmp_path, messy.snapshot(1500, seed=6).frame, "subscribers.csv")
    assert init(root, "orders", "--events", str(with_amounts))[0] == 0
    assert init(root, "visits", "--events", str(without))[0] == 0
    assert init(root, "subs", "--snapshot", str(snap), "--label", "Churn")[0] == 0
    env: dict[str, str | None] = {
        "PYTHONPATH": str(root / "src"),
        "OMP_NUM_THREADS": "1",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "MLFLOW_TRACKING_URI": None,  # the project's own mlflow.db
    }
    for name in ("orders", "visits", "subs"):
        result = CliRunner().invoke(app, ["run", name, "--project-dir", str(root)], env=env)
        assert result.exit_code == 0, result.output
        assert (root / "data/scored" / name / "scores.parquet").is_file()
        assert f"Running stage 'report@{name}'" in result.output
        assert re.search(rf"^  {name}\s+test ROC AUC \d\.\d{{3}}", result.output, re.M)
        # every series train drew has its line in the pipeline's DVC plots
        plots = declared_plots((root / "dvc.yaml").read_text())
        for curve in ("roc", "precision_recall", "gains"):
            drawn = {p.stem for p in (root / "reports" / name / "plots" / curve).glob("*.csv")}
            assert "model" in drawn and drawn <= {
                Path(p).stem for p in plots[f"{name}_{curve}"]["y"]
            }
    assert not (root / "data/scored/orders").samefile(root / "data/scored/subs")


@pytest.mark.parametrize(
    ("churners", "stayers", "expected"),
    [(300, 900, None), (100, 900, 15), (20, 900, 2), (900, 60, 8), (4, 900, 1)],
)
def test_a_small_class_lowers_min_class_rows_to_what_validation_holds(
    churners: int, stayers: int, expected: int | None
) -> None:
    got = fitting_min_class_rows(
        churners, stayers, test_fraction=0.2, valid_fraction=0.2, default=20
    )
    assert got == expected


def test_class_sizes_count_every_spelling_of_the_churned_value() -> None:
    labels = pd.Series(["Yes", " yes", "YES", "No", "no ", "", "Yes"])
    assert class_sizes(labels, "Yes") == (4, 2)
    # as the pipeline reads them: 1 and 1.0 are one value
    assert class_sizes(pd.Series(["1", "1.0", " 0", "0.0", None]), "1") == (2, 2)


def test_a_small_snapshot_gets_a_min_class_rows_it_can_meet_and_says_so(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    snap = messy.snapshot(300, seed=1)
    path = export(tmp_path, snap.frame, "small.csv")
    code, out = init(root, "small", "--snapshot", str(path), "--label", snap.label)
    assert code == 0, out
    settings = load_settings(root, "small")
    churners, stayers = class_sizes(snap.frame[snap.label].astype(str), str(snap.positive))
    expected = fitting_min_class_rows(
        churners, stayers, test_fraction=0.2, valid_fraction=0.2, default=20
    )
    assert expected is not None and settings.train.min_class_rows == expected
    assert "train.min_class_rows is set to" in out


def test_a_snapshots_customers_table_is_joined_by_its_id(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    snap = messy.snapshot(300, seed=1, extra_table=True)
    path = export(tmp_path, snap.frame, "subscribers.csv")
    demographics = export(tmp_path, snap.extra["demographics"], "demographics.csv")
    args = ("--snapshot", str(path), "--label", snap.label, "--customers", str(demographics))
    code, out = init(root, "subs", *args)
    assert code == 0, out
    customers = load_settings(root, "subs").data.customers
    assert customers is not None
    assert customers.sources[0].columns == {"customer_id": "Customer Number"}
    assert customers.sources[0].attributes == {"region": "Region"}
    assert (root / "data/raw/subs/demographics.csv").is_file()
    assert "customers" in out and "1 attributes" in out


def test_a_customers_table_without_a_snapshot_id_exits_2_naming_the_fix(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    snap = messy.snapshot(300, seed=1, extra_table=True, id_style="none")
    path = export(tmp_path, snap.frame, "subscribers.csv")
    table = export(tmp_path, pd.DataFrame({"Customer Number": ["1"], "Region": ["N"]}), "d.csv")
    args = ("--snapshot", str(path), "--label", snap.label, "--customers", str(table))
    code, out = init(root, "subs", *args)
    assert code == 2 and "--customer-id COLUMN" in out
    assert not (root / "pipelines/subs").exists()


def test_churn_run_exits_with_the_failed_stages_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DVC exits 255 whatever the stage's code was; `churn run` passes the stage's on."""
    root = project(tmp_path / "p")
    fake = tmp_path / "fake-dvc"
    fake.write_text(
        "#!/bin/sh\necho \"ERROR: failed to reproduce 'train@shop': failed to run: churn train "
        'shop, exited with 6"\nexit 255\n'
    )
    fake.chmod(0o755)
    monkeypatch.setattr("churn.init.project.dvc_executable", lambda: str(fake))
    log = messy.event_log(150, seed=2)
    assert init(root, "shop", "--events", str(export(tmp_path, log.events, "o.csv")))[0] == 0
    result = CliRunner().invoke(app, ["run", "shop", "--project-dir", str(root)])
    assert result.exit_code == 6 and "exited with 6" in result.output
