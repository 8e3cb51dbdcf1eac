"""Exact medians and order statistics of numbers read a batch at a time, held a bin at a time
(churn.reporting.order_statistics): what the report's medians of 50 million values rest on."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from churn.reporting.order_statistics import median, smallest


class Batches:
    """Reads ``values`` in batches of ``rows``, counting the passes and the largest batch."""

    def __init__(self, values: np.ndarray, rows: int = 97) -> None:
        self.values, self.rows, self.passes = values, rows, 0

    def __call__(self) -> Iterator[np.ndarray]:
        self.passes += 1
        for start in range(0, len(self.values), self.rows):
            yield self.values[start : start + self.rows].copy()


def _shapes() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    skewed = rng.lognormal(3, 2, 5_000)
    skewed[:3] = [1e12, 1e-9, 5e9]  # a whale, a rounding crumb and a bulk buyer
    return {
        "skewed money with outliers": skewed,
        "many ties": rng.choice([0.5, 9.99, 10.0, 250.0], 4_001),
        "one value": np.full(3_000, 42.0),
        "two neighbouring floats": np.repeat([1.0, np.nextafter(1.0, 2.0)], [1_500, 1_501]),
        "negatives and zeros": np.concatenate([rng.normal(0, 1, 2_000), np.zeros(500)]),
        "integers": rng.integers(0, 30, 2_999).astype("float64"),
        "a single number": np.array([3.5]),
        "two numbers": np.array([8.0, -1.0]),
    }


@pytest.mark.parametrize("shape", list(_shapes()))
@pytest.mark.parametrize("held_at_most", [1, 50, 1 << 20])
def test_the_median_is_numpys_whatever_the_shape(shape: str, held_at_most: int) -> None:
    values = _shapes()[shape]
    read = Batches(values)
    assert median(read, held_at_most=held_at_most) == float(np.median(values))
    assert read.passes <= 1 + 2 * 13  # the count and span, then per rank 12 refinements


@pytest.mark.parametrize("shape", list(_shapes()))
def test_any_rank_is_the_sorted_numbers(shape: str) -> None:
    values = _shapes()[shape]
    ranks = sorted({0, len(values) // 3, len(values) - 1})
    expected = np.sort(values)[ranks].tolist()
    assert smallest(Batches(values), ranks[::-1], held_at_most=10) == expected[::-1]


def test_a_pass_holds_a_bin_not_the_numbers() -> None:
    """With a bound below the count the median is found by refinement, in a few passes, and
    what is allocated at once stays a small share of the numbers (tracemalloc sees numpy's
    allocations): the bins' counts and edges (2 MB in all) and a batch."""
    values = np.random.default_rng(1).exponential(50.0, 2_000_000)
    read = Batches(values, rows=20_000)
    tracemalloc.start()
    try:
        found = median(read, held_at_most=1_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == float(np.median(values))
    assert read.passes == 3  # the count and span, the bins, then the chosen bin's numbers
    assert peak < values.nbytes / 4


def test_no_numbers_have_no_median_and_a_rank_outside_them_is_refused() -> None:
    assert median(lambda: iter([np.array([]), np.array([])])) is None
    with pytest.raises(ValueError, match="outside the 3 numbers"):
        smallest(Batches(np.array([1.0, 2.0, 3.0])), [3])
