"""A project that travels and a registered model that stands alone: a copied or moved project
reads and writes only its own folder, and the registered model loads, predicts and is served
where ``churn`` is not installed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.modeling.model import ChurnModel
from churn.modeling.training_data import labelled_rows, split_rows
from churn.scoring.outreach import TIERS, risk_tier
from churn.settings import RiskTiers
from churn.tracking import serving
from churn.tracking.pyfunc import PROBABILITY_COLUMN, TIER_COLUMN, check_pyfunc_folder
from churn.tracking.relocation import old_roots
from churn.tracking.store import connect, tracking_uri
from tests._project import STAGES, churn, make_project, run_stages, subprocess_env

pytestmark = [
    # MLflow's SQL store and input-example code raise these deprecations (see test_tracking).
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

MLFLOW = Path(sys.executable).parent / "mlflow"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shop trained and registered (champion v1) in its first folder. Read-only: tests
    copy it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        root = make_project(tmp_path_factory.mktemp("portable") / "original")
        run_stages(root, (*STAGES, "register"))
        yield root


def files_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def stored_text(db: Path) -> list[str]:
    """Every text value in the SQLite file ``db``."""
    with sqlite3.connect(db) as con:
        values = []
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]:
                values += [
                    v
                    for (v,) in con.execute(f'SELECT "{column}" FROM "{table}"')
                    if isinstance(v, str)
                ]
    return values


def mentions(db: Path, folder: Path) -> list[str]:
    root = folder.resolve().as_uri() + "/"
    return [v for v in stored_text(db) if root in v]


def training_run_folder(project: Path) -> Path:
    client = connect(tracking_uri(project, {}))
    run_id = client.get_model_version("churn-shop", "1").run_id
    uri = client.get_run(run_id).info.artifact_uri
    assert uri.startswith(project.resolve().as_uri() + "/"), uri
    return Path(uri.removeprefix("file://"))


def test_a_copied_project_scores_in_its_own_folder_and_leaves_the_original_untouched(
    original: Path, tmp_path: Path
) -> None:
    before = files_of(original)
    assert mentions(original / "mlflow.db", original)  # MLflow stores absolute locations
    copy = Path(shutil.copytree(original, tmp_path / "copy"))

    code, out = churn(copy, "score")

    assert code == 0, out
    assert files_of(original) == before  # not a byte, not a timestamp
    assert not mentions(copy / "mlflow.db", original)
    assert mentions(copy / "mlflow.db", copy)
    scoring_runs = list((copy / "mlartifacts").rglob("scoring.json"))
    assert len(scoring_runs) == 1 and scoring_runs[0].is_relative_to(copy)


def test_a_moved_project_scores_without_its_old_folder(original: Path, tmp_path: Path) -> None:
    first = Path(shutil.copytree(original, tmp_path / "first"))
    code, out = churn(first, "score")
    assert code == 0, out
    moved = first.rename(tmp_path / "moved")

    code, out = churn(moved, "score")

    assert code == 0, out
    assert not first.exists()  # nothing read from it (it is gone) or written to it
    assert not mentions(moved / "mlflow.db", first)
    assert len(list((moved / "mlartifacts").rglob("scoring.json"))) == 2


def test_scoring_never_writes_over_the_training_runs_artifacts(
    original: Path, tmp_path: Path
) -> None:
    project = Path(shutil.copytree(original, tmp_path / "project"))
    assert churn(project, "score")[0] == 0  # the first scoring also moves the store here
    trained = training_run_folder(project)
    before = files_of(trained)
    assert "metrics.json" in before

    for _ in range(2):
        code, out = churn(project, "score")
        assert code == 0, out

    assert files_of(trained) == before


def test_only_churn_experiments_under_another_folders_mlartifacts_are_moved(
    tmp_path: Path,
) -> None:
    here = tmp_path / "here"
    other = (tmp_path / "there").as_uri()
    locations = {
        "churn-shop": f"{other}/mlartifacts/churn-shop",
        "churn-retail": f"{here.as_uri()}/mlartifacts/churn-retail",
        "mine": f"{other}/mlartifacts/mine",
        "churn-s3": "s3://bucket/mlartifacts/churn-s3",
        "churn-odd": f"{other}/elsewhere/churn-odd",
    }
    assert old_roots(locations, here) == [other]
    assert old_roots({}, here) == []


def model_folder(project: Path) -> Path:
    client = connect(tracking_uri(project, {}))
    folder = Path(client.get_model_version_download_uri("churn-shop", "1").removeprefix("file://"))
    assert (folder / "MLmodel").is_file()
    return folder


def request_rows(project: Path) -> pd.DataFrame:
    """The test cutoff's customers as a caller sends them: ids and the feature columns."""
    features = pd.read_parquet(project / "data/interim/shop/features.parquet")
    labels = pd.read_parquet(project / "data/interim/shop/labels.parquet")
    rows = split_rows(labelled_rows(features, labels), "test")
    model = ChurnModel.load(project / "models/shop")
    columns = ["customer_id", *model.numeric_features, *model.categories]
    out = rows[columns].copy()
    for name in model.numeric_features:
        out[name] = pd.to_numeric(out[name]).astype("float64")
    return out


def test_the_registered_model_carries_churn_and_returns_ids_probabilities_and_tiers(
    original: Path,
) -> None:
    from mlflow.pyfunc import load_model  # noqa: PLC0415 - churn.tracking imported it first

    folder = model_folder(original)
    check_pyfunc_folder(folder)  # churn's own loader accepts it, code folder included
    assert sorted(p.name for p in (folder / "code").iterdir()) == ["churn"]
    assert (folder / "code/churn/tracking/pyfunc.py").is_file()
    assert not list((folder / "code").rglob("__pycache__"))
    rows = request_rows(original)
    model = ChurnModel.load(original / "models/shop")

    predicted = load_model(str(folder)).predict(rows)

    assert list(predicted.columns) == ["customer_id", PROBABILITY_COLUMN, TIER_COLUMN]
    assert predicted["customer_id"].tolist() == rows["customer_id"].tolist()
    np.testing.assert_allclose(predicted[PROBABILITY_COLUMN], model.predict_proba(rows))
    # the reference customers are the test cutoff's: the request holds them all, so its tiers
    # are exactly the percentile tiers the lists use
    expected = risk_tier(model.predict_proba(rows), RiskTiers())
    assert predicted[TIER_COLUMN].tolist() == list(np.asarray(expected, dtype=object))
    one = load_model(str(folder)).predict(rows.head(1))  # one customer: the same tier
    assert one[TIER_COLUMN].iloc[0] == predicted[TIER_COLUMN].iloc[0]
    by_threshold = load_model(str(folder)).predict(
        rows, params={"method": "probability", "high": 0.5, "medium": 0.2}
    )
    p = by_threshold[PROBABILITY_COLUMN].to_numpy()
    assert by_threshold[TIER_COLUMN].tolist() == [
        "High" if v >= 0.5 else "Medium" if v >= 0.2 else "Low" for v in p
    ]


def test_impossible_tiers_in_a_request_are_refused_naming_the_param() -> None:
    with pytest.raises(ValueError, match="high_percent") as info:
        serving.risk_tiers_of({"high_percent": 80.0, "medium_percent": 30.0})
    assert "not valid" in str(info.value)
    assert serving.TIERS == TIERS  # the served tiers are the lists' tiers


def test_a_model_folder_with_other_code_is_refused(original: Path, tmp_path: Path) -> None:
    from churn.errors import TrackingError  # noqa: PLC0415

    folder = Path(shutil.copytree(model_folder(original), tmp_path / "model"))
    (folder / "code" / "json.py").write_text("raise SystemExit('shadowed the standard library')")
    with pytest.raises(TrackingError, match=r"code folder holding \['churn', 'json.py'\]"):
        check_pyfunc_folder(folder)


LOAD_ALONE = textwrap.dedent(
    """
    import ast, json, sys
    from importlib.metadata import packages_distributions
    from pathlib import Path

    folder = Path(sys.argv[1])
    # no folder that holds a churn package, whatever this environment installed
    sys.path = [p for p in sys.path if not (Path(p or ".") / "churn").is_dir()]
    import mlflow.pyfunc
    import pandas as pd

    rows = pd.read_parquet(sys.argv[2])
    out = mlflow.pyfunc.load_model(str(folder)).predict(rows)
    import churn

    dists = packages_distributions()
    imported = set()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "churn" or not getattr(module, "__file__", None):
            continue
        for node in ast.walk(ast.parse(Path(module.__file__).read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = sorted(
        {d for top in imported - set(sys.stdlib_module_names) for d in dists.get(top, [])}
    )
    print(json.dumps({
        "churn": churn.__file__,
        "predictions": out.to_dict(orient="records"),
        "distributions": third_party,
    }))
    """
)


def test_the_registered_model_loads_where_churn_is_not_importable(
    original: Path, tmp_path: Path
) -> None:
    folder = model_folder(original)
    rows = request_rows(original)
    rows.to_parquet(tmp_path / "rows.parquet")
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}

    done = subprocess.run(
        [sys.executable, "-c", LOAD_ALONE, str(folder), str(tmp_path / "rows.parquet")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["churn"]).is_relative_to(folder / "code")  # the model's own copy
    predicted = pd.DataFrame(result["predictions"])
    assert predicted["customer_id"].tolist() == rows["customer_id"].tolist()
    model = ChurnModel.load(original / "models/shop")
    np.testing.assert_allclose(predicted[PROBABILITY_COLUMN], model.predict_proba(rows))
    assert set(predicted[TIER_COLUMN]) <= set(TIERS)
    # every package the model's code imports is pinned in its environment
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (folder / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    needed = {
        d.lower().replace("_", "-")
        for d in result["distributions"]
        if d != "churn" and not d.startswith("mlflow")  # mlflow-skinny, -tracing: in mlflow
    }
    assert "mlflow" in pinned
    assert needed <= pinned, f"imported but not pinned: {sorted(needed - pinned)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, object] = json.loads(response.read())
    return answer


@pytest.mark.slow
@pytest.mark.skipif(not MLFLOW.is_file(), reason="no mlflow command beside this Python")
def test_mlflow_models_serve_answers_invocations_with_ids_probabilities_and_tiers(
    original: Path, tmp_path: Path
) -> None:
    folder = model_folder(original)
    rows = request_rows(original).head(5)
    port = free_port()
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}
    env["PATH"] = f"{MLFLOW.parent}{os.pathsep}{env.get('PATH', '')}"
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [
                *(str(MLFLOW), "models", "serve", "-m", str(folder), "--env-manager", "local"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            for _ in range(180):  # a guard against a server that never starts, not a goal
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5):
                        break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(1)
            else:
                pytest.fail(f"no answer on /ping: {(tmp_path / 'serve.log').read_text()}")
            url = f"http://127.0.0.1:{port}/invocations"
            split = json.loads(rows.to_json(orient="split", index=False))
            answer = post(url, {"dataframe_split": split})
            thresholds = {"method": "probability", "high": 0.5, "medium": 0.2}
            by_threshold = post(url, {"dataframe_split": split, "params": thresholds})
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    predicted = pd.DataFrame(answer["predictions"])
    assert list(predicted.columns) == ["customer_id", PROBABILITY_COLUMN, TIER_COLUMN]
    assert predicted["customer_id"].tolist() == rows["customer_id"].tolist()
    model = ChurnModel.load(original / "models/shop")
    np.testing.assert_allclose(predicted[PROBABILITY_COLUMN], model.predict_proba(rows))
    assert set(predicted[TIER_COLUMN]) <= set(TIERS)
    tiers = pd.DataFrame(by_threshold["predictions"])[TIER_COLUMN].tolist()
    p = predicted[PROBABILITY_COLUMN].to_numpy()
    assert tiers == ["High" if v >= 0.5 else "Medium" if v >= 0.2 else "Low" for v in p]
