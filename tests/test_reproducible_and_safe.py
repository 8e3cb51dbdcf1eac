"""Same data, params and seed give byte-identical outputs; models are only ever read from
xgboost's own format and our JSON, never unpickled, nothing else in a model folder reaches the
registry, and a registered model is loaded only if it is exactly churn's own pyfunc."""

from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from mlflow import MlflowClient

from churn.errors import TrackingError
from churn.modeling.model import BOOSTER_FILE, META_FILE, ChurnModel
from churn.tracking.pyfunc import check_pyfunc_folder
from tests._project import PIPELINE, churn, make_project, params, run_stages, write_params

pytestmark = [
    # MLflow 3.17's SQL store configures SQLAlchemy mappers that use the deprecated `noload`
    # strategy; raised once, when the first store is opened.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    # MLflow compares `df.columns == range(...)` when saving the input example, which pandas 3
    # deprecates (Pandas4Warning).
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

OUTPUTS = (
    "data/interim/shop/canonical/events.parquet",
    "data/interim/shop/labels.parquet",
    "data/interim/shop/features.parquet",
    "data/interim/shop/feature_catalogue.json",
    f"models/shop/{BOOSTER_FILE}",
    f"models/shop/{META_FILE}",
    "reports/shop/metrics.json",
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("reproducible"))
    run_stages(root)
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "project"))


def outputs(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in OUTPUTS}


def test_same_data_params_and_seed_give_identical_files(trained: Path, tmp_path: Path) -> None:
    again = make_project(tmp_path)  # a fresh project: nothing carried over
    shutil.copy(trained / "data/raw/shop/orders.csv", again / "data/raw/shop/orders.csv")
    run_stages(again)
    assert outputs(again) == outputs(trained)


def test_another_seed_gives_another_model(trained: Path, project: Path) -> None:
    """The comparison above is not vacuous: the seed reaches the booster (it subsamples)."""
    values = params()
    values["train"]["seed"] = 43
    write_params(project, values)
    code, out = churn(project, "train")
    assert code == 0, out
    booster = f"models/shop/{BOOSTER_FILE}"
    assert (project / booster).read_bytes() != (trained / booster).read_bytes()


class Exploit:
    """Unpickling this creates a file: proof that something called pickle.load."""

    def __init__(self, proof: Path) -> None:
        self.proof = proof

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.proof), "unpickled!"))  # type: ignore[return-value]


def test_a_pickle_in_the_model_folder_is_never_loaded_nor_registered(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proof = project / "unpickled.txt"
    for name in ("model.pkl", "booster.pkl", "calibrator.joblib"):
        (project / "models/shop" / name).write_bytes(pickle.dumps(Exploit(proof)))
    uri = f"sqlite:///{project}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    ChurnModel.load(project / "models/shop")
    code, out = churn(project, "register")

    assert code == 0, out
    assert not proof.exists()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias(f"churn-{PIPELINE}", "champion")
    uri = client.get_model_version_download_uri(f"churn-{PIPELINE}", version.version)
    local = Path(urlparse(uri).path)
    assert not [p for p in local.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]
    (model_dir,) = [p for p in local.rglob("model_dir") if p.is_dir()]
    assert sorted(p.name for p in model_dir.iterdir()) == sorted([BOOSTER_FILE, META_FILE])

    check_pyfunc_folder(local)  # what `churn promote` checks before loading (it just did)
    tampered = Path(shutil.copytree(local, project / "tampered"))
    (tampered / "churn_pyfunc.py").write_text("import os\nos.system('echo pwned')\n")
    with pytest.raises(
        TrackingError, match=re.escape("model code 'churn_pyfunc.py' that is not churn's")
    ):
        check_pyfunc_folder(tampered)
    mlmodel = yaml.safe_load((tampered / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"] |= {
        "loader_module": "mlflow.pyfunc.model",
        "python_model": "python_model.pkl",
    }
    (tampered / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(TrackingError, match=re.escape("a pickled python_model 'python_model.pkl'")):
        check_pyfunc_folder(tampered)
