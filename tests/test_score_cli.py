"""`churn score` and `churn export` end to end through the CLI: a slice of the bundled CDNOW data
trained, registered in a project-local MLflow store, scored and exported."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.cli import app
from churn.crm.writers import TARGETS
from churn.io import StagedFiles
from churn.io.paths import PipelinePaths
from churn.scoring.ranking import score_columns
from churn.settings import load_settings
from tests._project import cdnow_slice

ROOT = Path(__file__).resolve().parents[1]
N_CUSTOMERS = 1200

pytestmark = [
    pytest.mark.slow,
    # MLflow's SQL store and input-example code raise these deprecations (see test_tracking).
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]


def churn(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [args[0], "mini", "--project-dir", str(project), *args[1:]])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the first CDNOW customers trained, registered (champion v1) and scored.
    Read-only: tests that change it work on a copy."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        project = cdnow_slice(
            tmp_path_factory.mktemp("score_cli"),
            N_CUSTOMERS,
            updates={"train": {"backtest_cutoffs": 0, "search": {"enabled": False}}},
        )
        for stage in ("ingest", "labels", "features", "train", "register", "score"):
            code, out = churn(project, stage)
            assert code == 0, f"churn {stage}: {out}"
        yield project


@pytest.fixture
def project_copy(scored: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(scored, tmp_path / "project"))


def scores_of(project: Path) -> pd.DataFrame:
    return pd.read_parquet(project / "data/scored/mini/scores.parquet")


def test_score_writes_the_ranked_list_from_the_champion(scored: Path) -> None:
    s = scores_of(scored)
    assert list(s.columns) == score_columns(3)
    assert s["customer_id"].is_unique
    assert s["priority_rank"].tolist() == list(range(1, len(s) + 1))
    assert s["churn_probability"].between(0, 1).all()
    assert (s["model_name"] == "churn-mini").all() and (s["model_version"] == "1").all()
    assert (s["cutoff"] == pd.Timestamp("1998-07-01")).all()  # the day after the extract
    assert s["scored_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    outreach = s[s["in_outreach"]]
    assert len(outreach) == -(-len(s) * 20 // 100)
    # a customer listed for its value at stake may have no risk-raising reason at all
    with_reason = outreach["reason_1_code"].notna()
    assert with_reason.mean() > 0.8
    assert outreach.loc[with_reason, "reason_1_text"].notna().all()
    no_reason = outreach[~with_reason & ~outreach["control_group"]]
    assert (no_reason["recommended_action"] == "feedback_request").all()
    assert s.loc[~s["in_outreach"], "reason_1_code"].isna().all()
    # every customer on the list says why: an actionable first reason, or plainly none
    assert outreach["reason_1_code"].notna().all() and outreach["reason_1_text"].notna().all()
    first = outreach["reason_1_actionable"].fillna(False).astype(bool)
    assert (first | (outreach["reason_1_code"] == "NO_SINGLE_DRIVER")).all()
    assert (outreach["reason_1_code"] == "RECENCY").any()
    assert outreach["control_group"].any() and not s.loc[~s["in_outreach"], "control_group"].any()

    summary = json.loads((scored / "reports/mini/scoring.json").read_text())
    assert summary["scored"] == len(s)
    assert summary["outreach"]["customers"] == len(outreach)
    assert sum(summary["recommended_actions"].values()) == summary["outreach"]["to_contact"]
    tiers = summary["risk_tier_definition"]  # cdnow's params: by percentile
    assert tiers["method"] == "percentile" and tiers["High"]["min_probability"] is not None
    power = summary["control_group_power"]
    assert power["control"] == outreach["control_group"].sum() > 0
    assert power["min_detectable_effect_points"] > 0
    assert (outreach.loc[outreach["control_group"], "recommended_action"] == "none").all()
    importance = json.loads((scored / "reports/mini/shap_importance.json").read_text())
    assert importance["n_customers"] == len(outreach) and importance["features"]
    for name in ("shap_beeswarm.png", "shap_bar.png"):
        assert (scored / "reports/mini" / name).read_bytes().startswith(b"\x89PNG")


def test_scoring_twice_gives_identical_lists_apart_from_scored_at(project_copy: Path) -> None:
    first = scores_of(project_copy)
    code, out = churn(project_copy, "score")
    assert code == 0, out
    again = scores_of(project_copy)
    pd.testing.assert_frame_equal(first.drop(columns="scored_at"), again.drop(columns="scored_at"))


def test_export_writes_every_crm_file_from_the_outreach_slice(project_copy: Path) -> None:
    code, out = churn(project_copy, "export")
    assert code == 0, out
    outreach = scores_of(project_copy).query("in_outreach")
    contact = outreach[~outreach["control_group"]]
    for target in TARGETS:
        data = (project_copy / f"data/exports/mini/{target}.csv").read_bytes()
        encoding = "utf-8-sig" if target == "dynamics" else "utf-8"
        back = pd.read_csv(io.BytesIO(data), encoding=encoding, dtype=str)
        assert len(back) == len(contact), target
        assert back.iloc[:, 0].tolist() == contact["customer_id"].tolist(), target
    held_out = pd.read_csv(project_copy / "data/exports/mini/control_group.csv", dtype=str)
    control = outreach[outreach["control_group"]]
    assert len(control) and held_out["customer_id"].tolist() == control["customer_id"].tolist()
    logged = pd.read_csv(project_copy / "data/exports/mini/contacts_log.csv", dtype=str)
    assert logged["customer_id"].tolist() == outreach["customer_id"].tolist()
    assert logged["action"].tolist() == outreach["planned_action"].tolist()
    assert (logged["group"] == "control").sum() == len(control)
    assert (logged["contacted_at"] == outreach["cutoff"].iloc[0].strftime("%Y-%m-%d")).all()
    code, out = churn(project_copy, "export", "--target", "pigeon")
    assert code == 2 and "unknown --target ['pigeon']" in out


def test_a_failed_export_leaves_the_previous_file_and_no_temp_files(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert churn(project_copy, "export", "--target", "generic")[0] == 0
    target = project_copy / "data/exports/mini/generic.csv"
    before = target.read_bytes()
    (project_copy / "pipelines/mini/params.yaml").write_text(
        (project_copy / "pipelines/mini/params.yaml")
        .read_text()
        .replace("top_percent: 20", "top_percent: 50")
    )
    assert churn(project_copy, "score")[0] == 0

    staged = StagedFiles.append

    def half_then_fail(self: StagedFiles, dest: Path, data: bytes) -> None:
        staged(self, dest, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(StagedFiles, "append", half_then_fail)
    code, _ = churn(project_copy, "export", "--target", "generic")
    monkeypatch.undo()
    assert code != 0
    assert target.read_bytes() == before
    names = sorted(p.name for p in target.parent.iterdir())
    # the control file and the contacts log go with any target
    assert names == ["contacts_log.csv", "control_group.csv", "generic.csv"]


def test_a_model_folder_scores_without_any_registry(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    code, out = churn(project_copy, "score", "--model", str(project_copy / "models/mini"))
    assert code == 0, out
    s = scores_of(project_copy)
    assert (s["model_version"] == "local").all()
    assert not (s["model_name"] == "churn-mini").any()


def test_monitor_uses_the_model_folder_the_list_was_scored_with(project_copy: Path) -> None:
    elsewhere = project_copy / "candidates/v7"
    shutil.move(project_copy / "models/mini", elsewhere)  # models/<p> no longer exists
    assert churn(project_copy, "score", "--model", str(elsewhere))[0] == 0
    code, out = churn(project_copy, "monitor")
    assert code == 0, out
    drift = json.loads((project_copy / "reports/mini/drift.json").read_text())
    assert drift["current_rows"] == len(scores_of(project_copy))


LIVE_OUTPUTS = (
    "data/scored/mini/scores.parquet",
    "data/scored/mini/features.parquet",
    "reports/mini/scoring.json",
    "reports/mini/shap_importance.json",
    "reports/mini/shap_beeswarm.png",
    "reports/mini/shap_bar.png",
)


def bytes_of(project: Path, names: Any) -> dict[str, bytes]:
    return {str(name): (project / name).read_bytes() for name in names}


def scoring_runs(project: Path) -> int:
    from churn.tracking import Tracker  # noqa: PLC0415

    tracker = Tracker.from_environment(project, {})
    return len(tracker.client.search_runs([tracker.experiment("mini")]))


def test_scoring_at_a_past_cutoff_and_outside_the_data(project_copy: Path) -> None:
    history = project_copy / "data/scored/mini/history"
    live = bytes_of(project_copy, LIVE_OUTPUTS)
    kept = bytes_of(history, sorted(p.name for p in history.iterdir()))
    runs = scoring_runs(project_copy)
    code, out = churn(project_copy, "score", "--cutoff", "1997-10-01")
    assert code == 0, out
    # a back-dated list goes to the history only: today's list and the champion's charts stay
    assert bytes_of(project_copy, LIVE_OUTPUTS) == live
    assert bytes_of(history, kept) == kept  # monitoring.backfill_cutoffs are not scored again
    past = pd.read_parquet(history / "scores_1997-10-01.parquet")
    assert list(past.columns) == score_columns(3)
    assert (past["cutoff"] == pd.Timestamp("1997-10-01")).all() and past["customer_id"].is_unique
    assert str(history / "scores_1997-10-01.parquet") in " ".join(out.split())
    assert "back-dated" in out
    assert scoring_runs(project_copy) == runs  # no scoring run logged under the champion's
    code, out = churn(project_copy, "score", "--cutoff", "1999-01-01")
    assert code == 4
    assert "scoring cutoff 1999-01-01" in out and "1998-07-01" in out
    assert bytes_of(project_copy, LIVE_OUTPUTS) == live


def test_scoring_at_the_default_cutoff_given_explicitly_replaces_the_live_list(
    project_copy: Path,
) -> None:
    first = scores_of(project_copy)
    (project_copy / "data/scored/mini/scores.parquet").unlink()
    code, out = churn(project_copy, "score", "--cutoff", "1998-07-01")  # the day after the data
    assert code == 0, out
    assert "back-dated" not in out
    again = scores_of(project_copy)
    pd.testing.assert_frame_equal(first.drop(columns="scored_at"), again.drop(columns="scored_at"))


def test_explain_prints_one_customers_line_of_the_live_list(scored: Path) -> None:
    s = scores_of(scored)
    listed = s[s["in_outreach"] & ~s["control_group"]].iloc[0]
    code, out = churn(scored, "explain", f"  {listed['customer_id']} ")  # spaces are stripped
    assert code == 0, out
    assert f"customer {listed['customer_id']} at cutoff 1998-07-01" in out
    assert f"churn probability   {listed['churn_probability']:.3f}" in out
    assert f"{listed['risk_tier']} tier, percentile {listed['risk_percentile']:.1f}" in out
    assert f"value at risk       {listed['value_at_risk']:,.2f}" in out
    assert f"expected value      {listed['expected_value']:,.2f}" in out
    assert f"outreach status     {listed['outreach_status']}" in out
    assert f"recommended action  {listed['recommended_action']}" in out
    for k in (1, 2, 3):
        if pd.notna(listed[f"reason_{k}_code"]):
            actionable = "actionable" if listed[f"reason_{k}_actionable"] else "not actionable"
            assert (
                f"reason {k}            {listed[f'reason_{k}_code']} ({actionable}): "
                f"{listed[f'reason_{k}_text']}"
            ) in out
    outside = s[~s["in_outreach"]].iloc[0]
    code, out = churn(scored, "explain", str(outside["customer_id"]))
    assert code == 0, out
    assert f"outreach status     {outside['outreach_status']}" in out
    assert "reasons             none given" in out
    assert "reason 1 " not in out


def test_explain_a_customer_not_on_the_list_names_the_ids_like_it(scored: Path) -> None:
    listed = str(scores_of(scored)["customer_id"].iloc[0])
    unknown = listed + "x"
    code, out = churn(scored, "explain", unknown)
    assert code == 5  # as `churn list` without a list: the list does not hold what is asked
    message = " ".join(out.split())
    assert "pipeline mini" in message and repr(unknown) in message
    assert "ids like it:" in message and listed in message.partition("ids like it:")[2]
    code, out = churn(scored, "explain", listed.upper() + "-nothing-like-it-0000000")
    assert code == 5 and "ids like it" not in out


def test_explain_without_a_list_says_to_score_first(project_copy: Path) -> None:
    (project_copy / "data/scored/mini/scores.parquet").unlink()
    code, out = churn(project_copy, "explain", "1")
    assert code == 5
    assert "Run `churn score mini` first" in out


def test_no_champion_yet_is_a_clear_error(project_copy: Path) -> None:
    (project_copy / "mlflow.db").unlink()
    code, out = churn(project_copy, "score")
    assert code == 7
    assert "no registered model named 'churn-mini'" in out and "churn train mini" in out


def test_monitor_writes_drift_and_realised_performance_equal_to_a_direct_computation(
    project_copy: Path,
) -> None:
    code, out = churn(project_copy, "monitor")
    assert code == 0, out
    reports = project_copy / "reports/mini"
    drift = json.loads((reports / "drift.json").read_text())
    assert drift["current_rows"] == len(scores_of(project_copy))
    assert {f["feature"] for f in drift["features"]} >= {"days_since_last_activity", "orders_total"}
    assert drift["score_psi"] >= 0.0
    realised = json.loads((reports / "realised.json").read_text())
    (past,) = realised["evaluated"]  # the test cutoff, scored by monitoring.backfill_cutoffs
    assert past["cutoff"] == "1998-04-01"
    metrics = json.loads((reports / "metrics.json").read_text())
    assert past["n_test"] == metrics["n_test"] == N_CUSTOMERS
    assert past["roc_auc"] == pytest.approx(metrics["roc_auc"], abs=1e-9)
    assert past["ece"] == pytest.approx(metrics["ece"], abs=1e-9)
    assert [w["cutoff"] for w in realised["not_yet_known"]] == ["1998-07-01"]


def test_report_is_one_self_contained_page_with_every_section(project_copy: Path) -> None:
    assert churn(project_copy, "monitor")[0] == 0
    code, out = churn(project_copy, "report")
    assert code == 0, out
    page = (project_copy / "reports/mini/report.html").read_text(encoding="utf-8")
    for title in ("Retention", "Model", "Who to contact, and why", "Monitoring"):
        assert f"<h2>{title}</h2>" in page
    assert page.count('src="data:image/png;base64,') >= 12
    assert "http://" not in page and "https://" not in page  # opens from disk, no server
    assert "Realised performance of earlier lists" in page and "1998-04-01" in page


def test_each_mlflow_command_builds_one_tracker_and_connects_once(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spies on the seam, not a replacement: the real store is used.
    from churn.tracking import store  # noqa: PLC0415

    built: list[store.Tracker] = []
    connected: list[str] = []
    from_environment, connect = store.Tracker.from_environment.__func__, store.connect

    def spy_from_environment(
        cls: type[store.Tracker], project_dir: Path, env: Mapping[str, str]
    ) -> store.Tracker:
        built.append(from_environment(cls, project_dir, env))
        return built[-1]

    def spy_connect(uri: str) -> Any:
        connected.append(uri)
        return connect(uri)

    monkeypatch.setattr(store.Tracker, "from_environment", classmethod(spy_from_environment))
    monkeypatch.setattr(store, "connect", spy_connect)
    # register (log, register, then the gate), promote, score (champion, then SHAP artifacts
    # logged to its run) and monitor each used to connect once per step
    for command in ("register", "promote", "score", "monitor"):
        built.clear()
        connected.clear()
        code, out = churn(project_copy, command)
        assert code == 0, f"churn {command}: {out}"
        assert [t.project_dir for t in built] == [project_copy], command
        assert connected == [f"sqlite:///{project_copy.resolve()}/mlflow.db"], command


def test_register_and_score_with_a_tracker_on_another_store_passed_directly(
    scored: Path, project_copy: Path, tmp_path: Path
) -> None:
    from churn.stages import register as register_stage  # noqa: PLC0415
    from churn.stages import score as score_stage  # noqa: PLC0415
    from churn.tracking import Tracker  # noqa: PLC0415
    from churn.tracking.store import connect, tracking_uri  # noqa: PLC0415

    settings, paths = load_settings(project_copy, "mini"), PipelinePaths(project_copy, "mini")
    (tmp_path / "other").mkdir()
    tracker = Tracker.from_environment(tmp_path / "other", {})

    registry = register_stage.run(settings, paths, tracker)
    assert registry["registered"]["version"] == "1" and registry["promotion"]["promoted"]
    out = score_stage.run(settings, paths, tracker, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    assert out["model"] == {"name": "churn-mini", "version": "1"}
    # the same model as the project's champion v1, so the same list
    pd.testing.assert_frame_equal(
        scores_of(project_copy).drop(columns="scored_at"),
        scores_of(scored).drop(columns="scored_at"),
    )
    training_run = registry["registered"]["run_id"]
    # the scoring has its own run, nested under the training run, whose artifacts it leaves
    assert not tracker.client.list_artifacts(training_run, "shap")
    (scoring,) = tracker.client.search_runs(
        [tracker.experiment("mini")], f"tags.mlflow.parentRunId = '{training_run}'"
    )
    assert scoring.data.tags["mlflow.runName"] == f"mini score {out['cutoff']}"
    assert scoring.data.tags["churn.model_version"] == "1"
    assert scoring.data.metrics["scored"] == out["scored"]
    logged = {Path(a.path).name for a in tracker.client.list_artifacts(scoring.info.run_id)}
    assert logged == {"scoring.json", "shap_importance.json", "shap_beeswarm.png", "shap_bar.png"}
    project_store = connect(tracking_uri(project_copy, {}))
    assert len(project_store.search_model_versions("name='churn-mini'")) == 1  # untouched
