"""Pipeline stages: each reads through ``churn.io``, computes with the pure core and writes
through ``churn.io``. One module per DVC stage, so each stage depends on exactly its code."""
