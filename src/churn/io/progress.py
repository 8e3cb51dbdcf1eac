"""Progress of long loops: a tqdm bar when stderr is a terminal, plain log lines otherwise
(DVC, CI, cron), so logs stay readable where no one watches a bar."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Sized

log = logging.getLogger("churn")


def progress[T](items: Iterable[T], description: str) -> Iterator[T]:
    """Yield ``items``, showing how far the loop is."""
    total = len(items) if isinstance(items, Sized) else None
    if sys.stderr.isatty():
        from tqdm import tqdm  # noqa: PLC0415 - only in a terminal

        yield from tqdm(items, desc=description, total=total, leave=False, file=sys.stderr)
        return
    for i, item in enumerate(items, start=1):
        log.info("%s: %s of %s", description, i, total if total is not None else "?")
        yield item
