"""The MLflow run `churn train` opens and `churn register` completes: one run holds the params,
the validation curve per boosting round, the final metrics, the datasets with the digests of
the files they came from, a description and the reports; the registered version and its logged
model belong to it. A failed training leaves a FAILED run; a model whose run cannot be found is
still registered, in a run of its own, with a warning saying why."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus, Run

from churn.modeling.model import BOOSTER_FILE
from churn.modeling.train import boost, booster_params, fit_booster
from churn.modeling.training_data import FeatureColumns
from churn.settings import TrainSettings, load_settings
from churn.tracking.description import Split, data_sources, describe
from churn.tracking.lineage import file_md5, folder_md5
from churn.tracking.store import connect, tracking_uri
from churn.tracking.training import CURVE_PREFIX, ERROR_TAG, MODEL_DIGEST_TAG, NOTE_TAG
from tests._project import PIPELINE, churn, make_project, params, run_stages, write_params

pytestmark = [
    # MLflow compares `df.columns == range(...)` when saving the input example, which pandas 3
    # deprecates (Pandas4Warning); see test_tracking.
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_tracking_uri"),
]

EXPERIMENT = f"churn-{PIPELINE}"
INTERIM = Path("data/interim") / PIPELINE


@pytest.fixture
def no_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def store(project: Path) -> MlflowClient:
    return connect(tracking_uri(project, {}))


def runs_of(project: Path) -> list[Run]:
    client = store(project)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    return list(client.search_runs([experiment.experiment_id]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop pipeline run through `churn train` (no register). Read-only: tests that go on
    work on a copy (:func:`copy_of`)."""
    project = make_project(tmp_path_factory.mktemp("trained"))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        run_stages(project)
    return project


def copy_of(project: Path, to: Path, *, with_store: bool = True) -> Path:
    """A copy of ``project`` (its MLflow store moves with it unless ``with_store`` is False:
    the store of another machine, or of an older churn)."""
    skip = () if with_store else ("mlflow.db*", "mlartifacts")
    shutil.copytree(project, to, ignore=shutil.ignore_patterns(*skip))
    return to


def test_train_opens_one_finished_run_that_holds_the_whole_training(trained: Path) -> None:
    (run,) = runs_of(trained)
    client = store(trained)
    run_id = run.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.runName"] == f"{PIPELINE} train"
    assert run.data.tags["churn.run"] == "training"
    assert run.data.tags[MODEL_DIGEST_TAG] == folder_md5(trained / "models" / PIPELINE)

    # params of every section the training read
    assert run.data.params["train.max_rounds"] == str(params()["train"]["max_rounds"])
    assert run.data.params["labels.horizon_days"] == "60"
    assert run.data.params["data.kind"] == "events"

    # the final metrics are metrics.json's numbers
    metrics = json.loads((trained / "reports" / PIPELINE / "metrics.json").read_text())
    assert run.data.metrics["roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert run.data.metrics["training.best_iteration"] == metrics["training"]["best_iteration"]
    for name, figures in metrics["baselines"].items():
        assert run.data.metrics[f"baselines.{name}.roc_auc"] == pytest.approx(figures["roc_auc"])

    # the validation curve: one point per boosting round, past the best one (early stopping)
    curve = client.get_metric_history(run_id, f"{CURVE_PREFIX}valid.logloss")
    steps = sorted(m.step for m in curve)
    best = metrics["training"]["best_iteration"]
    assert len(steps) > 1 and steps == list(range(len(steps))) and steps[-1] >= best
    at_best = next(m.value for m in curve if m.step == best)
    assert at_best == pytest.approx(metrics["training"]["valid_logloss"])

    # the datasets: each file in each context, its MD5 as digest, the rows as profile
    inputs = {(d.dataset.name, d.tags[0].value): d.dataset for d in run.inputs.dataset_inputs}
    contexts = ("training", "validation", "test")
    for stem in ("labels", "features"):
        digest = file_md5(trained / INTERIM / f"{stem}.parquet")
        for context in contexts:
            dataset = inputs.pop((f"{stem} ({context})", context))
            assert dataset.digest == digest
            assert json.loads(dataset.source) == {"uri": f"{INTERIM}/{stem}.parquet"}
            assert json.loads(dataset.profile)["rows"] > 0
    assert not inputs
    test_rows = json.loads(
        next(
            d for d in run.inputs.dataset_inputs if d.dataset.name == "labels (test)"
        ).dataset.profile
    )
    assert test_rows["rows"] == metrics["n_test"]
    assert test_rows["cutoffs"] == [params()["labels"]["test_cutoff"]]

    # the description says what, on which rows, from where, with which result
    note = run.data.tags[NOTE_TAG]
    assert f"**{PIPELINE}**" in note
    assert "no activity of type purchase in the 60 days after the cutoff" in note
    assert "data/raw/shop/orders.csv (events)" in note
    assert f"test: {metrics['n_test']:,} rows" in note
    assert f"test ROC AUC {metrics['roc_auc']:.3f}" in note

    # reports, plots and the feature catalogue as artifacts
    logged = {a.path for a in client.list_artifacts(run_id)}
    assert {"metrics.json", "backtest.json", "segments.json", "plots"} <= logged
    assert "feature_catalogue.json" in logged
    assert "plots/roc.png" in {a.path for a in client.list_artifacts(run_id, "plots")}
    assert run.data.tags["lineage.labels_md5"] == file_md5(trained / INTERIM / "labels.parquet")


def test_register_logs_the_model_into_the_training_run_and_links_its_metrics(
    trained: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = copy_of(trained, tmp_path / "project")
    (training,) = runs_of(project)

    with caplog.at_level(logging.WARNING, logger="churn"):
        code, out = churn(project, "register")
    assert code == 0, out
    assert "no finished `churn train` run" not in caplog.text

    (run,) = runs_of(project)  # no other run
    assert run.info.run_id == training.info.run_id and run.info.status == "FINISHED"
    registry = json.loads((project / "reports" / PIPELINE / "registry.json").read_text())
    assert registry["registered"]["run_id"] == run.info.run_id
    client = store(project)
    version = client.get_model_version(f"churn-{PIPELINE}", registry["registered"]["version"])
    assert version.run_id == run.info.run_id
    assert version.tags["lineage.features_md5"] == run.data.tags["lineage.features_md5"]

    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    logged = [client.get_logged_model(output.model_id) for output in outputs]
    # the registered model; an events pipeline's run also holds its events entry point
    (model,) = [m for m in logged if "mlflow.modelVersions" in m.tags]
    assert model.source_run_id == run.info.run_id
    assert model.status == LoggedModelStatus.READY
    assert json.loads(model.tags["mlflow.modelVersions"]) == [
        {"name": f"churn-{PIPELINE}", "version": int(version.version)}
    ]
    linked = {m.key: m.value for m in model.metrics}
    finals = {k: v for k, v in run.data.metrics.items() if not k.startswith(CURVE_PREFIX)}
    assert linked == pytest.approx(finals)
    assert all(m.run_id == run.info.run_id for m in model.metrics)
    # linking logs nothing new into the run's own history
    assert len(client.get_metric_history(run.info.run_id, "roc_auc")) == 1


def test_a_failed_training_leaves_a_failed_run_that_says_why(trained: Path, tmp_path: Path) -> None:
    project = copy_of(trained, tmp_path / "project", with_store=False)
    values = params()
    values["train"]["min_class_rows"] = 100_000  # no set has that many of each class
    write_params(project, values)

    code, out = churn(project, "train")

    assert code == 6, out  # TrainingError
    (run,) = runs_of(project)
    assert run.info.status == "FAILED"
    assert "train.min_class_rows is 100000" in run.data.tags[ERROR_TAG]
    assert "**Training failed**" in run.data.tags[NOTE_TAG]
    assert run.data.params["train.min_class_rows"] == "100000"
    assert MODEL_DIGEST_TAG not in run.data.tags
    # the model of the last good training is untouched
    assert (project / "models" / PIPELINE / BOOSTER_FILE).read_bytes() == (
        trained / "models" / PIPELINE / BOOSTER_FILE
    ).read_bytes()


def test_register_without_the_training_run_logs_a_run_of_its_own_and_says_why(
    trained: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = copy_of(trained, tmp_path / "project", with_store=False)

    with caplog.at_level(logging.WARNING, logger="churn"):
        code, out = churn(project, "register")

    assert code == 0, out
    assert "no finished `churn train` run" in caplog.text
    assert folder_md5(project / "models" / PIPELINE) in caplog.text
    (run,) = runs_of(project)
    registry = json.loads((project / "reports" / PIPELINE / "registry.json").read_text())
    assert registry["registered"]["run_id"] == run.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["train.max_rounds"] == str(params()["train"]["max_rounds"])
    metrics = json.loads((project / "reports" / PIPELINE / "metrics.json").read_text())
    assert run.data.metrics["roc_auc"] == pytest.approx(metrics["roc_auc"])
    logged = [store(project).get_logged_model(o.model_id) for o in run.outputs.model_outputs]
    (model,) = [m for m in logged if "mlflow.modelVersions" in m.tags]  # not the events model
    assert {m.key for m in model.metrics} >= {"roc_auc", "ece"}


def test_a_deleted_training_run_is_not_used(
    trained: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = copy_of(trained, tmp_path / "project")
    (training,) = runs_of(project)
    store(project).delete_run(training.info.run_id)

    with caplog.at_level(logging.WARNING, logger="churn"):
        code, out = churn(project, "register")

    assert code == 0, out
    assert "its run was deleted" in caplog.text
    registry = json.loads((project / "reports" / PIPELINE / "registry.json").read_text())
    assert registry["registered"]["run_id"] != training.info.run_id


# ---- the pieces, on hand-made data -------------------------------------------------------------


def messy_rows(n: int, seed: int) -> tuple[pd.DataFrame, FeatureColumns]:
    """Rows with missing values, a constant column and a category with a rare level."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "signal": np.where(rng.uniform(size=n) < 0.2, np.nan, signal),
            "constant": 1.0,
            "tier": rng.choice(["a", "b", "c", "zzz rare"], n, p=[0.45, 0.3, 0.24, 0.01]),
            "churned": (signal + rng.normal(scale=1.0, size=n) > 0).astype(int),
        }
    )
    return frame, FeatureColumns(numeric=("signal", "constant"), categorical=("tier",))


def test_the_curve_is_the_validation_metric_per_round_and_changes_nothing_of_the_booster() -> None:
    train, columns = messy_rows(400, seed=1)
    valid, _ = messy_rows(200, seed=2)
    settings = TrainSettings(max_rounds=60, early_stopping_rounds=5, threads=1)
    params_ = booster_params(settings, train["churned"].to_numpy())

    grown = boost(train, valid, columns, params_, settings)
    booster, _, best, loss = fit_booster(train, valid, columns, params_, settings)

    assert grown.booster.save_raw("ubj") == booster.save_raw("ubj")
    assert grown.best_iteration == best and grown.valid_logloss == loss
    rounds = len(grown.curve["logloss"])
    assert best < rounds <= settings.max_rounds
    assert rounds == settings.max_rounds or rounds == best + 1 + settings.early_stopping_rounds
    assert grown.curve["logloss"][best] == loss == min(grown.curve["logloss"])


def test_a_split_names_its_rows_churned_and_cutoffs() -> None:
    rows = pd.DataFrame(
        {"cutoff": pd.to_datetime(["2024-02-01", "2024-01-01", "2024-02-01"]), "x": [1, 2, 3]}
    )
    split = Split.of("training", rows, np.array([1, 0, 1]))
    assert split == Split("training", 3, 2, ("2024-01-01", "2024-02-01"))
    assert "3 rows (2 churned) at 2 cutoffs, 2024-01-01 to 2024-02-01" in split.line()
    assert "at the cutoff 2024-05-01" in Split("test", 1, 0, ("2024-05-01",)).line()


def test_a_snapshot_description_names_its_label_and_every_raw_file(tmp_path: Path) -> None:
    write_params(
        tmp_path,
        {
            "data": {
                "kind": "snapshot",
                "snapshot": {
                    "source": {
                        "path": "exports/Kunden Stand 2025.csv",
                        "columns": {"customer_id": "Nr", "label": "Gekündigt"},
                    },
                    "positive_label": "ja",
                },
                "customers": {
                    "sources": [
                        {"path": "crm/a.parquet", "columns": {"customer_id": "id"}},
                        {"path": "crm/b.parquet", "columns": {"customer_id": "id"}},
                    ]
                },
            },
            "labels": {"snapshot_date": "2025-03-31"},
            "features": {},
            "train": {},
        },
        name="kunden",
    )
    settings = load_settings(tmp_path, "kunden")
    assert data_sources(settings.data) == [
        "crm/a.parquet (customers)",
        "crm/b.parquet (customers)",
        "exports/Kunden Stand 2025.csv (snapshot)",
    ]

    early = describe(
        settings, command="churn train kunden", experiment="deep-tree", inputs={"l.parquet": "ab"}
    )
    assert "in DVC experiment `deep-tree`" in early
    assert "label in the snapshot of 2025-03-31 is 'ja'" in early
    assert "**Rows**" not in early and "**Result**" not in early  # not known yet

    done = describe(
        settings,
        command="churn train kunden",
        experiment=None,
        inputs={"l.parquet": "ab"},
        splits=[Split("test", 10, 3, ("2025-03-31",))],
        n_features=4,
        metrics={"roc_auc": 0.75, "ece": float("nan"), "baselines": {"tenure": {"roc_auc": None}}},
    )
    assert "4 model features" in done
    assert done.endswith("**Result**: test ROC AUC 0.750.")  # no ECE nor baseline to show


def test_a_retrained_version_is_judged_on_the_folds_its_training_run_kept(
    trained: Path, tmp_path: Path
) -> None:
    """The promotion gate pairs versions on the backtest predictions each training run logged:
    the second version is compared on backtest folds, never on the test cutoff."""
    project = copy_of(trained, tmp_path / "project")
    recipe = params()
    for change in ({"backtest_cutoffs": 2}, {"backtest_cutoffs": 2, "max_depth": 2}):
        write_params(project, {**recipe, "train": {**recipe["train"], **change}})
        for stage in ("train", "register"):
            code, out = churn(project, stage)
            assert code == 0, out
    registry = json.loads((project / "reports" / PIPELINE / "registry.json").read_text())
    assert registry["registered"]["version"] == "2"
    comparison = registry["promotion"]["comparison"]
    assert comparison["basis"] == "backtest folds", comparison
    run = store(project).get_run(registry["registered"]["run_id"])
    assert run.info.run_name == f"{PIPELINE} train"  # the run `churn train` opened
