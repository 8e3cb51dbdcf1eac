"""MLflow at the edge: the tracking store (:mod:`~churn.tracking.store`) and its move with a
copied project (:mod:`~churn.tracking.relocation`), training runs
(:mod:`~churn.tracking.runs`), the registered pyfunc (:mod:`~churn.tracking.pyfunc`), its
entry point for raw events (:mod:`~churn.tracking.events_model`) and what makes them stand
alone (:mod:`~churn.tracking.serving`), the uplift model's pyfunc and registration
(:mod:`~churn.tracking.uplift_pyfunc`, :mod:`~churn.tracking.uplift_registry`), the
registry's champion and challenger (:mod:`~churn.tracking.registry`), model lineage
(:mod:`~churn.tracking.lineage`) and the model a scoring run uses
(:mod:`~churn.tracking.loading`).

``churn.tracking.ChurnPyfunc`` (and ``ChurnEventsPyfunc``, ``UpliftPyfunc``) is the import
path every registered model's code loads; it stays here whatever moves inside the package. Names are
resolved on first use, so importing one submodule does not import the others (MLflow is slow
to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from churn.tracking.events_model import ChurnEventsPyfunc
    from churn.tracking.pyfunc import ChurnPyfunc
    from churn.tracking.store import Tracker
    from churn.tracking.uplift_pyfunc import UpliftPyfunc

__all__ = ["ChurnEventsPyfunc", "ChurnPyfunc", "Tracker", "UpliftPyfunc"]

_HOMES = {
    "ChurnEventsPyfunc": "churn.tracking.events_model",
    "ChurnPyfunc": "churn.tracking.pyfunc",
    "Tracker": "churn.tracking.store",
    "UpliftPyfunc": "churn.tracking.uplift_pyfunc",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'churn.tracking' has no attribute {name!r}")
