"""The shared parameter checks: one message template, the error type and what was found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.errors import TrainingError
from churn.validation import (
    check_choice,
    check_int,
    check_real,
    must_be,
    positions,
    problems_error,
    require_columns,
)


def test_message_template() -> None:
    assert must_be("The 'horizon_days' parameter", "a positive int", -3) == (
        "The 'horizon_days' parameter must be a positive int. Got -3 instead."
    )


@pytest.mark.parametrize("value", [0, -3, 1.0, True, "2", None])
def test_check_int_refuses_what_is_not_a_positive_int(value: object) -> None:
    with pytest.raises(ValueError, match=r"^The 'k' parameter must be a positive int\. Got "):
        check_int("k", value)


def test_check_int_accepts_numpy_ints_and_names_the_owner_and_minimum() -> None:
    assert check_int("k", np.int64(3)) == 3
    assert type(check_int("k", np.int64(3))) is int
    with pytest.raises(
        ValueError, match=r"'max_points' parameter of f must be an int >= 2\. Got 1"
    ):
        check_int("max_points", 1, minimum=2, of="f")


def test_check_choice_lists_the_choices_and_their_meaning() -> None:
    assert check_choice("period", "M", ("W", "M")) == "M"
    with pytest.raises(ValueError, match=r"must be one of 'W', 'M' \(week, month\)\. Got 'D'"):
        check_choice("period", "D", ("W", "M"), meaning="week, month")


def test_check_real_open_and_closed_intervals() -> None:
    assert check_real("p", 1, low=0.0, high=1.0, closed=True, expected="in [0, 1]") == 1.0
    for value in (1.0, 0.0, True, "0.5", float("nan")):
        with pytest.raises(ValueError, match=r"'tol' parameter must be a float in \(0, 1\)"):
            check_real("tol", value, low=0.0, high=1.0, closed=False, expected="a float in (0, 1)")


def test_require_columns_names_missing_and_found() -> None:
    frame = pd.DataFrame({"a": [1], "b": [2]})
    require_columns(frame, ["a"], what="'x'")
    with pytest.raises(ValueError, match=r"^'x' must have columns \['a', 'c'\]; missing \['c'\] "):
        require_columns(frame, ["a", "c"], what="'x'", fix="Build it with f().")


def test_problems_error_keeps_the_type_and_lists_every_problem() -> None:
    one = problems_error("f", ["'y' is bad."], TrainingError)
    assert isinstance(one, TrainingError) and str(one) == "f: 'y' is bad."
    two = problems_error("f", ["a.", "b."], ValueError)
    assert str(two) == "f: 2 problem(s) found in the inputs:\n  - a.\n  - b."


def test_positions_shows_the_first_five() -> None:
    mask = np.arange(8) % 1 == 0
    assert positions(mask) == "8 customer(s), at positions [0, 1, 2, 3, 4, ...]"
