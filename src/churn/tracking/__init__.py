"""MLflow at the edge: the tracking store, training runs, the registered pyfunc, the registry's
champion and challenger, and model lineage.

``churn.tracking.ChurnPyfunc`` is the import path every registered model's code loads; it stays
here whatever moves inside the package.
"""

from churn.tracking.store import ChurnPyfunc

__all__ = ["ChurnPyfunc"]
