"""What makes a registered model portable: the copy of this package it carries (MLflow
``code_paths``), the pinned packages its environment installs, and the reference customers
its risk tiers are drawn on.

Served alone (``mlflow models serve``, ``mlflow.pyfunc.load_model`` in another project), the
model finds ``churn`` in its own ``code/`` folder, which MLflow puts first on ``sys.path``;
loaded by ``churn`` itself, the package already imported is used and the copy is never run.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from churn.scoring.outreach import TIERS, risk_tier
from churn.settings import RiskTiers

PACKAGE = "churn"
CODE_DIR = "code"
"""MLflow's folder, inside a model, for the ``code_paths`` it puts on ``sys.path``."""
REQUIREMENTS = (
    "xgboost",
    "pandas",
    "numpy",
    "scikit-learn",
    "scipy",
    "pyarrow",
    "pydantic",
    "pyyaml",
    "filelock",
)
"""The distributions the package's model code imports besides MLflow (which MLflow adds)."""


@dataclass(frozen=True)
class RiskReference:
    """The churn probabilities of the customers a served model's risk tiers are drawn on
    (the test cutoff's, at registration), sorted, and what they are (``basis``).

    A request holds a handful of customers, so "the riskiest 20 %" of the request would mean
    nothing; the tiers come from where the request's probabilities fall among these."""

    probabilities: tuple[float, ...]
    basis: str

    @classmethod
    def of(cls, probability: np.ndarray, basis: str) -> RiskReference:
        p = np.sort(np.asarray(probability, dtype="float64"))
        return cls(tuple(float(v) for v in p), basis)

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> RiskReference:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(float(v) for v in data["probabilities"]), str(data["basis"]))


def tier_params() -> dict[str, Any]:
    """The inference params a request may set to choose its risk tiers, with their defaults
    (``scoring.risk_tiers``'s): ``method`` percentile (``high_percent``, ``medium_percent`` of
    the reference customers) or probability (thresholds ``high``, ``medium``)."""
    defaults = RiskTiers()
    return {
        "method": defaults.method,
        "high_percent": float(defaults.high_percent),
        "medium_percent": float(defaults.medium_percent),
        "high": float(defaults.high),
        "medium": float(defaults.medium),
    }


def risk_tiers_of(params: Mapping[str, Any] | None) -> RiskTiers:
    """The tiers a request's ``params`` ask for (see :func:`tier_params`); ValueError naming
    the param when they are not valid tiers."""
    given = {**tier_params(), **(params or {})}
    keys = (
        ("high_percent", "medium_percent")
        if given["method"] == "percentile"
        else ("high", "medium")
    )
    try:
        return RiskTiers.model_validate({"method": given["method"], **{k: given[k] for k in keys}})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'params'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ValueError(f"the request's risk-tier params are not valid: {problems}.") from exc


def request_tiers(
    probability: np.ndarray, reference: RiskReference, tiers: RiskTiers
) -> pd.Categorical[str]:
    """Low / Medium / High for each probability. ``probability`` tiers: by their thresholds.
    ``percentile`` tiers: High from the lowest probability the riskiest ``high_percent`` of the
    reference customers have (as :func:`churn.scoring.outreach.risk_tier` draws them), Medium
    likewise; a tier no reference customer is in is given to nobody."""
    p = np.asarray(probability, dtype="float64")
    if tiers.method == "probability":
        return risk_tier(p, tiers)
    ref = np.asarray(reference.probabilities, dtype="float64")
    labels = np.asarray(risk_tier(ref, tiers), dtype=object)
    high, medium = ref[labels == "High"], ref[labels == "Medium"]
    in_high = p >= high.min() if len(high) else np.zeros(len(p), dtype=bool)
    in_medium = p >= medium.min() if len(medium) else np.zeros(len(p), dtype=bool)
    names = np.where(in_high, "High", np.where(in_medium, "Medium", "Low"))
    return pd.Categorical(names, categories=list(TIERS), ordered=True)


def package_copy(dest: Path) -> Path:
    """A copy of the installed ``churn`` package (sources and data files, no caches) at
    ``dest/churn``, for ``code_paths``; returns it."""
    import churn  # noqa: PLC0415 - the package this module belongs to

    source = Path(churn.__file__).parent
    target = dest / PACKAGE
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
    return target


def check_code_folder(folder: Path) -> list[str]:
    """What is wrong with a model's ``code/`` folder: it may hold the package ``churn`` and
    nothing else, since MLflow puts the folder first on ``sys.path`` (a stray ``json.py`` there
    would replace the standard library's)."""
    if not folder.is_dir():
        return [f"no code folder {folder.name!r}"]
    found = sorted(p.name for p in folder.iterdir())
    if found != [PACKAGE] or not (folder / PACKAGE / "__init__.py").is_file():
        return [f"code folder holding {found} instead of the package {PACKAGE!r} alone"]
    return []


def pip_requirements() -> list[str]:
    """Pinned versions of the installed :data:`REQUIREMENTS` (``churn`` itself travels in the
    model's ``code/`` folder; MLflow adds its own pin)."""
    pins = []
    for dist in REQUIREMENTS:
        with contextlib.suppress(PackageNotFoundError):
            pins.append(f"{dist}=={version(dist)}")
    return pins
