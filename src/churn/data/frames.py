"""Checks shared by the modules that take frames from callers."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


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
