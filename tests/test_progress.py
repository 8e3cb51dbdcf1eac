"""Long loops log plain lines where no terminal shows a bar (DVC, CI), and a bar where one does."""

from __future__ import annotations

import io
import logging

import pytest

from churn.io.progress import progress


def test_without_a_terminal_each_step_is_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="churn"):
        assert list(progress(["a", "b", "c"], "backtest")) == ["a", "b", "c"]
    assert [r.getMessage() for r in caplog.records] == [
        "backtest: 1 of 3",
        "backtest: 2 of 3",
        "backtest: 3 of 3",
    ]


def test_in_a_terminal_a_bar_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    assert list(progress(range(4), "folds")) == [0, 1, 2, 3]
    assert "folds" in screen.getvalue() and "/4" in screen.getvalue()  # "0/4", then on
