"""Exact order statistics (the median) of more numbers than memory holds, read a batch at a
time in a few passes: each pass counts the numbers in fine bins over the range still in play,
and the next keeps only the bin a wanted rank falls in, until that bin holds few enough numbers
to sort (or one number, repeated). Pure: ``read`` yields the numbers afresh on every call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

Read = Callable[[], Iterable[np.ndarray]]
"""Yields the numbers, in batches (1-d float arrays without NaN), afresh on every call."""
Keep = Callable[[np.ndarray], np.ndarray]
"""The mask of a batch's numbers still in play."""

FINE_BINS = 1 << 16
HELD_AT_MOST = 1 << 20
"""Numbers gathered into memory at once (8 MB of float64) once a bin holds no more."""
MOST_PASSES = 12
"""Refinements before the numbers in play are gathered whatever their count: reached only by
numbers a few floats apart (a bin can then no longer be split), never by ordinary data."""


def median(read: Read, *, held_at_most: int = HELD_AT_MOST) -> float | None:
    """The median of the numbers ``read`` yields (the mean of the two middle ones for an even
    count), exactly as ``np.median``; None when there are none. ``held_at_most``: as in
    :func:`smallest`."""
    whole = _whole(read)
    if whole.count == 0:
        return None
    ranks = sorted({(whole.count - 1) // 2, whole.count // 2})
    found = _select(read, ranks, whole, 0, held_at_most)
    return float(np.mean([found[(whole.count - 1) // 2], found[whole.count // 2]]))


def smallest(read: Read, ranks: Sequence[int], *, held_at_most: int = HELD_AT_MOST) -> list[float]:
    """The ``ranks``-th smallest (0-based) of the numbers ``read`` yields, in the order asked,
    holding at most ``held_at_most`` of them (and a batch) at once. Raises ValueError for a
    rank outside the numbers."""
    whole = _whole(read)
    wanted = sorted(set(ranks))
    if not wanted or wanted[0] < 0 or wanted[-1] >= whole.count:
        raise ValueError(f"ranks {list(ranks)} lie outside the {whole.count} numbers")
    found = _select(read, wanted, whole, 0, held_at_most)
    return [found[rank] for rank in ranks]


@dataclass(frozen=True)
class _Bin:
    """The numbers in play: those ``keep`` lets through, ``count`` of them, from ``low`` to
    ``high`` (their own smallest and largest, or the bounds of the bin they fell in)."""

    keep: Keep
    count: int
    low: float
    high: float


def _select(
    read: Read, ranks: list[int], within: _Bin, passes: int, held_at_most: int
) -> dict[int, float]:
    """The ``ranks``-th smallest of the numbers in play: gathered when few, else counted in
    :data:`FINE_BINS` bins over their range, in a pass that also finds their smallest and
    largest (all ranks are that one number when they meet), and searched in the bins the ranks
    fall in."""
    if within.count <= held_at_most or passes >= MOST_PASSES:
        held = np.concatenate([batch[within.keep(batch)] for batch in read()])
        ordered = np.partition(held, ranks)
        return {rank: float(ordered[rank]) for rank in ranks}
    edges = np.linspace(within.low, within.high, FINE_BINS + 1)

    def bin_of(batch: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(edges, batch, side="right") - 1, 0, FINE_BINS - 1)

    counts = np.zeros(FINE_BINS, "int64")
    low, high = np.inf, -np.inf
    for batch in read():
        kept = batch[within.keep(batch)]
        if len(kept):
            counts += np.bincount(bin_of(kept), minlength=FINE_BINS)
            low, high = min(low, float(kept.min())), max(high, float(kept.max()))
    if low == high:
        return dict.fromkeys(ranks, low)
    before = np.concatenate([[0], np.cumsum(counts)])
    found: dict[int, float] = {}
    for chosen in sorted({int(np.searchsorted(before, rank, side="right")) - 1 for rank in ranks}):
        inside = [rank for rank in ranks if before[chosen] <= rank < before[chosen + 1]]

        def keep_bin(batch: np.ndarray, chosen: int = chosen) -> np.ndarray:
            mask: np.ndarray = within.keep(batch) & (bin_of(batch) == chosen)
            return mask

        offset = int(before[chosen])
        narrower = _Bin(keep_bin, int(counts[chosen]), edges[chosen], edges[chosen + 1])
        inner = _select(
            read, [rank - offset for rank in inside], narrower, passes + 1, held_at_most
        )
        found |= {rank: inner[rank - offset] for rank in inside}
    return found


def _whole(read: Read) -> _Bin:
    """Every number ``read`` yields as the numbers in play: how many, the smallest and the
    largest (NaNs when there are none), in one pass."""
    count, low, high = 0, np.inf, -np.inf
    for batch in read():
        if len(batch):
            count += len(batch)
            low, high = min(low, float(batch.min())), max(high, float(batch.max()))
    if not count:
        low = high = float("nan")
    return _Bin(lambda batch: np.ones(len(batch), bool), count, low, high)
