"""The registered uplift model: a custom MLflow pyfunc around a saved
:class:`~churn.campaigns.uplift.UpliftModel` folder, and how its folder is written.

``predict`` takes the churn model's feature frame (with or without a ``customer_id`` column)
and returns, per row, the customer id when given and one column per playbook action: the churn
probability the action removes (:meth:`UpliftModel.predict`). A ``logit_shift`` model also
takes the churn model's probability (:data:`CHURN_PROBABILITY`); a ``driver_shift`` model
carries its churn model in its folder and computes that model's logit and reason contributions
(TreeSHAP) itself, from the features alone. Saved as "models from code" like
the churn model (:mod:`churn.tracking.pyfunc`): MLflow stores :data:`UPLIFT_MODEL_CODE`, never a
pickle, with a copy of this package as its ``code_paths``, so it loads where ``churn`` is not
installed.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import Model, ModelSignature, infer_signature

from churn.campaigns.uplift import UpliftModel
from churn.errors import PipelineStateError
from churn.tracking.pyfunc import (
    ID_COLUMN,
    feature_contract,
    save_code_model,
    with_text_categories,
)

with warnings.catch_warnings():
    # as in churn.tracking.pyfunc: MLflow warns while importing its own agent schemas
    warnings.filterwarnings("ignore", message=".*Any type hint is inferred", category=UserWarning)
    from mlflow.pyfunc.model import PythonModel, PythonModelContext

UPLIFT_DIR_ARTIFACT = "uplift_model"
UPLIFT_MODEL_CODE = """\
import mlflow.models

from churn.tracking import UpliftPyfunc

mlflow.models.set_model(UpliftPyfunc())
"""
"""The script MLflow stores with every registered uplift model and runs to load it."""
_CODE_FILE = "uplift_pyfunc.py"
CHURN_PROBABILITY = "churn_probability"
"""Input column a ``logit_shift`` uplift model needs besides the features: the churn model's
probability of each row (:attr:`UpliftModel.needs_churn_probability`)."""


class UpliftPyfunc(PythonModel):
    """MLflow pyfunc around a saved :class:`UpliftModel` folder (artifact ``uplift_model``).

    ``predict`` takes the feature frame (the model's feature columns, optionally
    ``customer_id``; extra columns ignored) and returns :func:`uplift_frame`."""

    def load_context(self, context: PythonModelContext) -> None:
        self._model = UpliftModel.load(Path(context.artifacts[UPLIFT_DIR_ARTIFACT]))

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return uplift_frame(self._model, model_input)


def uplift_input(model: UpliftModel, features: pd.DataFrame) -> pd.DataFrame:
    """``customer_id`` (from a column or the index, when ``features`` has it, as text) and the
    model's feature columns of ``features``: numeric as float64, categorical as object, as the
    churn model's pyfunc takes them (:func:`churn.tracking.pyfunc.model_input`). Raises
    PipelineStateError naming the feature columns ``features`` lacks."""
    wanted = [*model.numeric_features, *model.categories]
    if model.needs_churn_probability:
        wanted.append(CHURN_PROBABILITY)
    missing = [c for c in wanted if c not in features.columns]
    if missing:
        raise PipelineStateError(
            f"the uplift model needs feature column(s) {missing} that the frame lacks; expected "
            f"the churn model's features {wanted}. Rebuild features (`churn features`) and fit "
            "the uplift model again (`churn uplift`)."
        )
    frame = feature_contract(features, model.numeric_features, model.categories)
    if model.needs_churn_probability:
        frame[CHURN_PROBABILITY] = features[CHURN_PROBABILITY].astype("float64")
    return frame


def uplift_frame(model: UpliftModel, model_input: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc's output for ``model_input``, indexed like it: ``customer_id`` (when the
    input has that column), then one float64 column per action of the model, named by the
    action: the churn probability it removes, in [-1, 1]."""
    risk = (
        model_input[CHURN_PROBABILITY].to_numpy(dtype="float64")
        if model.needs_churn_probability and CHURN_PROBABILITY in model_input.columns
        else None
    )
    predicted = model.predict(model_input, risk)
    out = pd.DataFrame(index=model_input.index)
    if ID_COLUMN in model_input.columns:
        out[ID_COLUMN] = model_input[ID_COLUMN].to_numpy()
    for action in predicted.columns:
        out[str(action)] = predicted[action].to_numpy(dtype="float64")
    return out


def uplift_signature(model: UpliftModel, example: pd.DataFrame) -> ModelSignature:
    """The signature inferred from ``example`` (from :func:`uplift_input`) and the model's
    output on it, with ``customer_id`` optional and every categorical feature typed as
    optional text (a category missing in every example row would be inferred as a double)."""
    inferred = infer_signature(example, uplift_frame(model, example))
    return with_text_categories(model.categories, inferred)


def save_uplift_pyfunc(
    workdir: Path,
    model: UpliftModel,
    *,
    signature: ModelSignature,
    input_example: pd.DataFrame,
    mlflow_model: Model,
) -> Path:
    """Write the pyfunc of ``model`` (saved afresh, so only the files it reads are logged, and
    a copy of this package as its code) under the empty folder ``workdir``; returns the pyfunc
    folder (``workdir/model``) to upload."""
    model_files = workdir / UPLIFT_DIR_ARTIFACT
    model.save(model_files)
    code = workdir / _CODE_FILE
    code.write_text(UPLIFT_MODEL_CODE)
    return save_code_model(
        workdir,
        code,
        {UPLIFT_DIR_ARTIFACT: str(model_files)},
        signature=signature,
        input_example=input_example,
        mlflow_model=mlflow_model,
    )
