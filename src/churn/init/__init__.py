"""``churn init`` and ``churn run``: a pipeline for a user's own files in two commands.

* :mod:`churn.init.sniff` reads a sample of each file (encoding, separator, parquet): I/O.
* :mod:`churn.init.schedule` places the cutoffs from the data's span and the horizon: pure.
* :mod:`churn.init.plan` turns samples and flags into an events or snapshot plan: pure.
* :mod:`churn.init.params_file` renders a plan as a commented params.yaml: pure.
* :mod:`churn.init.findings` lists what was found, for the printed table: pure.
* :mod:`churn.init.project` copies the files, writes the params, edits dvc.yaml and runs a
  pipeline's stages through DVC: I/O.
"""
