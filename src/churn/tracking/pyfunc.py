"""The registered model: a custom MLflow pyfunc around a saved :class:`ChurnModel` folder, how
its folder is written, and the checks a downloaded folder must pass before it is loaded.

``predict`` takes a feature frame (with or without a ``customer_id`` column) and returns, per
row, the customer id when given, the calibrated churn probability and the risk tier. The model
is saved as "models from code": MLflow stores :data:`MODEL_CODE` (which imports
``churn.tracking.ChurnPyfunc``), never a pickle, with a copy of this package as its
``code_paths`` (:mod:`churn.tracking.serving`), so it loads where ``churn`` is not installed.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml
from mlflow.models import Model, ModelSignature
from mlflow.types import DataType
from mlflow.types.schema import ColSpec, Schema

from churn.errors import TrackingError
from churn.modeling.model import MODEL_FILES, ChurnModel
from churn.tracking.serving import (
    CODE_DIR,
    RiskReference,
    check_code_folder,
    package_copy,
    pip_requirements,
    request_tiers,
    risk_tiers_of,
)
from churn.tracking.store import first_line

with warnings.catch_warnings():
    # MLflow 3.17 warns while importing its own agent schemas ("Any type hint is inferred as
    # AnyType"): nothing a user can act on, and it would print on every command. Every other
    # module imports mlflow.pyfunc after this one has.
    warnings.filterwarnings("ignore", message=".*Any type hint is inferred", category=UserWarning)
    from mlflow.pyfunc import save_model
    from mlflow.pyfunc.model import PythonModel, PythonModelContext

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

PROBABILITY_COLUMN = "churn_probability"
ID_COLUMN = "customer_id"
TIER_COLUMN = "risk_tier"
MODEL_DIR_ARTIFACT = "model_dir"
REFERENCE_ARTIFACT = "risk_reference"
MODEL_CODE = """\
import mlflow.models

from churn.tracking import ChurnPyfunc

mlflow.models.set_model(ChurnPyfunc())
"""
"""The script MLflow stores with every registered model and runs to load it."""

_CODE_MODEL_LOADER = "mlflow.pyfunc.loaders.code_model"
_CODE_FILE = "churn_pyfunc.py"


class ChurnPyfunc(PythonModel):
    """MLflow pyfunc around a saved :class:`ChurnModel` folder (artifact ``model_dir``) and
    the reference customers of its risk tiers (artifact ``risk_reference``; models registered
    before it existed have none, and return no tier).

    ``predict`` takes the feature frame (the model's feature columns, optionally
    ``customer_id``; extra columns ignored) and returns a frame indexed like the input with
    ``customer_id`` (when given), ``churn_probability`` in [0, 1] and ``risk_tier`` (Low /
    Medium / High). ``params`` may choose the tiers (:func:`churn.tracking.serving.tier_params`).
    See :func:`prediction_frame`.
    """

    def load_context(self, context: PythonModelContext) -> None:
        self._model = ChurnModel.load(Path(context.artifacts[MODEL_DIR_ARTIFACT]))
        reference = context.artifacts.get(REFERENCE_ARTIFACT)
        self._reference = None if reference is None else RiskReference.read(Path(reference))

    @property
    def churn_model(self) -> ChurnModel:
        """The loaded model itself, for what the pyfunc interface cannot do (SHAP values)."""
        return self._model

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return prediction_frame(
            self._model.predict_proba(model_input), model_input, self._reference, params
        )


def churn_model_of(pyfunc: PyFuncModel) -> ChurnModel:
    """The :class:`ChurnModel` inside a loaded registered model (see :class:`ChurnPyfunc`)."""
    wrapper = pyfunc.unwrap_python_model()  # type: ignore[no-untyped-call]
    assert isinstance(wrapper, ChurnPyfunc)
    return wrapper.churn_model


def save_pyfunc(
    workdir: Path,
    model_dir: Path,
    *,
    signature: ModelSignature,
    input_example: pd.DataFrame,
    mlflow_model: Model,
    risk_reference: RiskReference | None = None,
    model_code: str = MODEL_CODE,
    extra_artifacts: Mapping[str, Path] | None = None,
) -> Path:
    """Write the pyfunc of the :class:`ChurnModel` in ``model_dir`` (with ``risk_reference``,
    and a copy of this package as its code) under the empty folder ``workdir``; returns the
    pyfunc folder (``workdir/model``) to upload. ``model_code``: the script that loads it
    (another entry point's, :mod:`churn.tracking.events_model`), ``extra_artifacts`` more
    files it reads, by artifact name."""
    # only the files a ChurnModel reads reach the registry, never a stray file (a pickle)
    model_files = workdir / MODEL_DIR_ARTIFACT
    model_files.mkdir()
    for name in MODEL_FILES:
        shutil.copy2(model_dir / name, model_files / name)
    # "Models from code": MLflow stores this script, not a cloudpickle of the class.
    code = workdir / _CODE_FILE
    code.write_text(model_code)
    artifacts = {MODEL_DIR_ARTIFACT: str(model_files)}
    artifacts |= {name: str(path) for name, path in (extra_artifacts or {}).items()}
    if risk_reference is not None:
        reference = risk_reference.write(workdir / "risk_reference.json")
        artifacts[REFERENCE_ARTIFACT] = str(reference)
    return save_code_model(
        workdir,
        code,
        artifacts,
        signature=signature,
        input_example=input_example,
        mlflow_model=mlflow_model,
    )


def save_code_model(
    workdir: Path,
    code: Path,
    artifacts: Mapping[str, str],
    *,
    signature: ModelSignature,
    input_example: pd.DataFrame,
    mlflow_model: Model,
) -> Path:
    """Save a "model from code" pyfunc (the script ``code``, its ``artifacts`` and a copy of
    this package as its code) as ``workdir/model`` and return that folder, to upload."""
    packaged = workdir / "package"
    packaged.mkdir()
    local = workdir / "model"
    save_model(
        path=str(local),
        python_model=str(code),
        artifacts=dict(artifacts),
        code_paths=[str(package_copy(packaged))],
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements(),
        mlflow_model=mlflow_model,
    )
    return local


def check_pyfunc_folder(folder: Path) -> None:
    """Refuse a downloaded model folder unless it is exactly the pyfunc this module saves:
    MLflow's models-from-code loader (no pickled Python object), running this module's own
    script, with no code besides a copy of ``churn`` (which ``churn`` itself never imports:
    its own package is already loaded). Loading anything else could unpickle or run code
    someone put in the registry.

    Raises TrackingError naming what differs.
    """
    try:
        flavor = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))["flavors"][
            "python_function"
        ]
        code_file = folder / Path(str(flavor.get("model_code_path") or "-")).name
        problems = []
        if flavor.get("loader_module") != _CODE_MODEL_LOADER:
            problems.append(f"loader {flavor.get('loader_module')!r}")
        if "python_model" in flavor:
            problems.append(f"a pickled python_model {flavor['python_model']!r}")
        if flavor.get("code") not in (None, CODE_DIR):
            problems.append(f"extra code {flavor['code']!r}")
        elif flavor.get("code"):
            problems.extend(check_code_folder(folder / CODE_DIR))
        if not code_file.is_file() or code_file.read_text(encoding="utf-8") != MODEL_CODE:
            problems.append(f"model code {code_file.name!r} that is not churn's")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        problems = [f"no readable MLmodel python_function flavor ({first_line(exc)})"]
    if problems:
        raise TrackingError(
            f"refusing to load the model in {folder}: expected churn's models-from-code pyfunc "
            f"(loader {_CODE_MODEL_LOADER!r}, churn's own script), found "
            f"{'; '.join(problems)}. Register models only with `churn register`."
        )


def model_input(model: ChurnModel, features: pd.DataFrame) -> pd.DataFrame:
    """``customer_id`` (from a column or the index, when ``features`` has it, as text) and the
    model's feature columns of ``features`` in the feature frame's contract: numeric as
    float64, categorical as object. The pyfunc's signature is inferred from this, so callers
    must pass those dtypes too (MLflow refuses int64 for a double column, and pandas
    categories for a string one). Raises PipelineStateError naming missing columns."""
    model.matrix(features)  # the one place that checks for missing feature columns
    return feature_contract(features, model.numeric_features, model.categories)


def feature_contract(
    features: pd.DataFrame, numeric: Sequence[str], categorical: Iterable[str]
) -> pd.DataFrame:
    """``customer_id`` (from a column or the index, when ``features`` has it, as text), the
    ``numeric`` columns as float64 and the ``categorical`` ones as object: the dtypes a
    pyfunc signature inferred from it accepts. The columns must be present."""
    columns: dict[str, pd.Series] = {}
    if ID_COLUMN in features.columns:
        columns[ID_COLUMN] = features[ID_COLUMN].astype(str).astype(object)
    elif features.index.name == ID_COLUMN:
        columns[ID_COLUMN] = pd.Series(
            features.index.astype(str), index=features.index, dtype=object
        )
    columns |= {
        name: pd.to_numeric(features[name], errors="coerce").astype("float64") for name in numeric
    }
    columns |= {name: features[name].astype(object) for name in categorical}
    return pd.DataFrame(columns, index=features.index)


def with_text_categories(categories: Collection[str], signature: ModelSignature) -> ModelSignature:
    """``signature`` with every feature of ``categories`` typed as optional text, and
    ``customer_id`` optional (a request may leave it out). A category missing in every example
    row (an attribute joined from a table that lacks the first customers) would otherwise be
    inferred as a double and refuse the text it holds elsewhere."""

    def optional(schema: Schema | None) -> Schema | None:
        if schema is None:
            return None
        return Schema(
            [
                ColSpec(DataType.string, spec.name, required=False)
                if spec.name == ID_COLUMN
                or (spec.name in categories and spec.type != DataType.string)
                else spec
                for spec in schema.inputs
            ]
        )

    return ModelSignature(
        inputs=optional(signature.inputs),
        outputs=optional(signature.outputs),
        params=signature.params,
    )


def prediction_frame(
    proba: np.ndarray,
    model_input: pd.DataFrame,
    reference: RiskReference | None,
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The pyfunc's output for ``model_input``, indexed like it: ``customer_id`` (when the
    input has that column), ``churn_probability`` (float64) and ``risk_tier`` (text; when
    there is a ``reference``), tiered as ``params`` ask (default ``scoring.risk_tiers``'s
    default; see :func:`churn.tracking.serving.request_tiers`)."""
    p = np.asarray(proba, dtype="float64")
    out = pd.DataFrame(index=model_input.index)
    if ID_COLUMN in model_input.columns:
        out[ID_COLUMN] = model_input[ID_COLUMN].to_numpy()
    out[PROBABILITY_COLUMN] = p
    if reference is not None:
        tiers = request_tiers(p, reference, risk_tiers_of(params))
        out[TIER_COLUMN] = np.asarray(tiers, dtype=object)
    return out
