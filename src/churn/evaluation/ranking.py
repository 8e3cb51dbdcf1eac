"""Tie-aware ranking cuts: how many churners the ``k`` highest probabilities catch.

Contacting a share ``s`` of ``n`` customers means the ``ceil(s * n)`` highest ``p``. When the
cut falls inside a group of tied ``p``, the tied customers share it pro rata: the churners
caught are the expected count over every order of the ties, so results never depend on row
order. Inputs are already validated (:func:`churn.evaluation.inputs.validated`).
"""

from __future__ import annotations

import numpy as np

from churn.evaluation.inputs import FloatArray, IntArray


def ranked_counts(y: IntArray, p: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One entry per distinct ``p``, highest first: the threshold, the customers flagged at it
    (``p >= threshold``) and the churners among them. All (n_distinct,)."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    last = np.append(np.flatnonzero(ps[1:] != ps[:-1]), len(ps) - 1)
    flagged = (last + 1).astype(np.float64)
    caught = np.cumsum(ys)[last].astype(np.float64)
    return ps[last], flagged, caught


def top_count(share: FloatArray, n: int) -> FloatArray:
    """Customers contacted for each share: ``ceil(share * n)``; the rounding keeps 0.07 * 100
    at 7 rather than 8."""
    return np.ceil(np.round(share * n, 9))


def caught_in_top(y: IntArray, p: FloatArray, k: FloatArray) -> FloatArray:
    """Expected churners among the ``k`` highest ``p`` (ties at the cut shared pro rata)."""
    _, flagged, caught = ranked_counts(y, p)
    return np.asarray(
        np.interp(k, np.append(0.0, flagged), np.append(0.0, caught)), dtype=np.float64
    )
