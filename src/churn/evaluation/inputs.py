"""Validation of the held-out outcomes and probabilities every evaluation function takes.

Inputs
------
``y_true``: (n_customers,) observed outcomes, 1 = churned, 0 = stayed; bool, int, float 0/1
or pandas nullable boolean, no missing values. ``p``: (n_customers,) predicted churn
probabilities, finite and within [0, 1]. Both may be numpy arrays or pandas Series and are
paired by position; when both are Series their indexes must be equal, so a reordered Series is
never paired silently.

Errors
------
Data that cannot be evaluated (mismatched lengths, probabilities outside [0, 1], non-binary or
single-class outcomes) raises ``TrainingError`` listing every problem at once. An invalid
parameter (``n_bins=0``, an unknown ``rule``) is a programming error and raises ``ValueError``
(see :mod:`churn.validation`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from churn.errors import TrainingError
from churn.validation import positions, problems_error

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_EXAMPLES = 5


def as_series(name: str, values: ArrayLike | pd.Series, problems: list[str]) -> pd.Series | None:
    if isinstance(values, pd.Series):
        return values
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        problems.append(f"'{name}' must be a 1-D array; got {type(values).__name__}.")
        return None
    if arr.ndim != 1:
        problems.append(
            f"'{name}' must be a 1-D array (one value per customer); got shape {arr.shape}."
        )
        return None
    return pd.Series(arr)


def _outcomes(name: str, values: ArrayLike | pd.Series, problems: list[str]) -> IntArray | None:
    s = as_series(name, values, problems)
    if s is None:
        return None
    missing = s.isna().to_numpy(dtype=bool)
    if missing.any():
        problems.append(
            f"'{name}' must hold an outcome for every customer; found missing values for "
            f"{positions(missing)}. Drop unlabelled customers before evaluating."
        )
        return None
    binary = s.isin([0, 1]).to_numpy(dtype=bool)
    if not binary.all():
        odd = pd.unique(s[~binary])[:_EXAMPLES]
        found = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in odd)
        problems.append(
            f"'{name}' must be binary (0/1 or False/True, 1 = churned); found other values for "
            f"{positions(~binary)}, e.g. {found}."
        )
        return None
    return s.astype("float64").to_numpy().astype(np.int64)


def _probabilities(
    name: str, values: ArrayLike | pd.Series, problems: list[str]
) -> FloatArray | None:
    s = as_series(name, values, problems)
    if s is None:
        return None
    try:
        arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        problems.append(f"'{name}' must hold probabilities (numbers); got dtype {s.dtype}.")
        return None
    bad = ~np.isfinite(arr)
    if bad.any():
        problems.append(f"'{name}' must be finite; found NaN or inf for {positions(bad)}.")
        return None
    outside = (arr < 0.0) | (arr > 1.0)
    if outside.any():
        problems.append(
            f"'{name}' must lie within [0, 1]; found values from {arr.min():g} to {arr.max():g}, "
            f"outside the range for {positions(outside)}. Pass probabilities, not scores or "
            "log-odds."
        )
        return None
    return arr


def validated(
    where: str,
    y_true: ArrayLike | pd.Series,
    p: ArrayLike | pd.Series,
    *,
    need_both_classes: bool,
) -> tuple[IntArray, FloatArray]:
    """``y_true`` as 0/1 int64 and ``p`` as float64, or TrainingError naming every problem."""
    problems: list[str] = []
    y = _outcomes("y_true", y_true, problems)
    prob = _probabilities("p", p, problems)
    if (
        isinstance(y_true, pd.Series)
        and isinstance(p, pd.Series)
        and not y_true.index.equals(p.index)
    ):
        problems.append(
            "'y_true' and 'p' are pandas Series with different indexes, so pairing them by "
            "position could mix up customers; align them first (p.reindex(y_true.index)) or "
            "pass numpy arrays."
        )
    if y is not None and prob is not None and len(y) != len(prob):
        problems.append(
            f"'y_true' and 'p' must have one value per customer; got {len(y):,} outcomes and "
            f"{len(prob):,} probabilities."
        )
    elif y is not None and len(y) == 0:
        problems.append("no customers to evaluate: 'y_true' and 'p' are empty.")
    if not problems and y is not None and need_both_classes:
        n_pos = int(y.sum())
        if n_pos in (0, len(y)):
            outcome = "churned" if n_pos else "stayed"
            problems.append(
                f"'y_true' holds one class only: all {len(y):,} customers {outcome}. ROC AUC, "
                "PR AUC and lift need both churners and non-churners; evaluate on a cutoff where "
                "both occur (a later cutoff, a longer horizon or more customers)."
            )
    if problems or y is None or prob is None:
        raise problems_error(where, problems, TrainingError)
    return y, prob
