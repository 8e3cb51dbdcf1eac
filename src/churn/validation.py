"""Checks of the parameters and frames callers pass in, with one message template.

Every check says what was expected and what was found, in the words of scikit-learn's
parameter validation: "The 'horizon_days' parameter must be a positive int. Got -3 instead."
:func:`must_be` writes that sentence for any subject (a parameter, a setting, an environment
variable); the ``check_*`` functions raise it as ValueError for the common cases. A caller that
collects every problem before raising appends such sentences to a list and raises
:func:`problems_error` once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

_EXAMPLES = 5


def must_be(subject: str, expected: str, value: object) -> str:
    """``"<subject> must be <expected>. Got <value!r> instead."``"""
    return f"{subject} must be {expected}. Got {value!r} instead."


def parameter(name: str, *, of: str = "") -> str:
    """How a message names a parameter: ``"The 'name' parameter"`` (``" of <of>"`` added)."""
    return f"The '{name}' parameter{f' of {of}' if of else ''}"


def check_int(name: str, value: object, *, minimum: int = 1, of: str = "") -> int:
    """``value`` as an int; ValueError unless it is an int (Python or numpy, never bool) of at
    least ``minimum`` ("must be a positive int", "must be an int >= 2")."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(must_be(parameter(name, of=of), kind, value))
    return int(value)


def check_choice[T](name: str, value: T, choices: Sequence[T], *, meaning: str = "") -> T:
    """``value`` unchanged; ValueError unless it is one of ``choices`` ("must be one of 'W',
    'M', 'Q'"). ``meaning``: what the choices stand for, shown after them in brackets."""
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        expected = f"one of {shown}{f' ({meaning})' if meaning else ''}"
        raise ValueError(must_be(parameter(name), expected, value))
    return value


def check_real(
    name: str,
    value: object,
    *,
    low: float,
    high: float,
    closed: bool,
    expected: str,
    of: str = "",
) -> float:
    """``value`` as a float; ValueError unless it is a real number (not a bool) in
    ``[low, high]`` when ``closed``, else in ``(low, high)``. ``expected`` describes the
    range for the message, e.g. "a probability in [0, 1]"."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (low <= value <= high if closed else low < value < high)
    ):
        raise ValueError(must_be(parameter(name, of=of), expected, value))
    return float(value)


def require_columns(
    frame: pd.DataFrame, columns: Sequence[str], *, what: str, fix: str = ""
) -> None:
    """Raise ValueError naming the ``columns`` that ``frame`` lacks. ``what``: how the message
    names the frame; ``fix``: a sentence saying how to build a valid one."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} must have columns {list(columns)}; missing {missing} (found "
            f"{list(frame.columns)}).{' ' + fix if fix else ''}"
        )


def positions(mask: NDArray[np.bool_]) -> str:
    """Which customers ``mask`` flags, for a message: the count and the first positions."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:_EXAMPLES])
    more = ", ..." if len(idx) > _EXAMPLES else ""
    return f"{len(idx):,} customer(s), at positions [{shown}{more}]"


def problems_error[E: Exception](where: str, problems: Sequence[str], error: type[E]) -> E:
    """One ``error`` naming every problem found by ``where`` (a function name): the problem
    itself when there is one, else "<where>: N problem(s) found in the inputs:" and a list."""
    if len(problems) == 1:
        return error(f"{where}: {problems[0]}")
    lines = [f"{where}: {len(problems)} problem(s) found in the inputs:"]
    lines += [f"  - {p}" for p in problems]
    return error("\n".join(lines))
