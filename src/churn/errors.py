"""Every error the tool raises on purpose, in one place.

Each class carries the process exit code the CLI uses, so scripts and schedulers can tell a
bad config from bad data without parsing messages. The table is repeated in the README.

=====================  ====  ==========================================================
class                  code  raised when
=====================  ====  ==========================================================
ChurnError                1  base class; never raised directly (the CLI also exits 1 on an
                             unexpected error, a bug: ``--debug`` shows its traceback)
ConfigError               2  params.yaml is missing, malformed, has an unknown key or a
                             value of the wrong type or range
InputDataError            3  a raw input file is missing, unreadable, or breaks the input
                             contract (columns, types, dates, ids)
LabelError                4  the label schedule cannot be built on this data (no eligible
                             customers, a test window past the end of the data, ...)
PipelineStateError        5  a stage's inputs (outputs of an earlier stage) are missing
                             or inconsistent: run the earlier stage first
TrainingError             6  a model cannot be trained on these labels and features
                             (one class only, too few positives, an all-missing feature)
TrackingError             7  the MLflow tracking store or registry cannot be reached, or
                             holds no model where one is needed (no champion yet)
PipelineBusyError         8  another run of the same pipeline holds its lock: wait for it
                             (CHURN_LOCK_TIMEOUT) or try again later
OutputWriteError          9  an output cannot be written: the disk is full, the file system
                             is read-only or the folder is not writable (the previous
                             output is kept)
=====================  ====  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class ChurnError(Exception):
    """Base class of every error the tool raises on purpose."""

    exit_code: int = 1


class ConfigError(ChurnError):
    """A params file is missing, malformed, or holds an invalid setting."""

    exit_code = 2


class InputDataError(ChurnError):
    """A raw input cannot be read or breaks the input contract."""

    exit_code = 3


class LabelError(ChurnError):
    """Labels cannot be built for the configured schedule on this data."""

    exit_code = 4


class PipelineStateError(ChurnError):
    """A stage's inputs are missing or inconsistent."""

    exit_code = 5


class TrainingError(ChurnError):
    """A model cannot be trained on these labels and features."""

    exit_code = 6


class TrackingError(ChurnError):
    """The tracking store or model registry is unreachable or lacks a needed model."""

    exit_code = 7


class PipelineBusyError(ChurnError):
    """Another run of the same pipeline holds its lock."""

    exit_code = 8


class OutputWriteError(ChurnError):
    """An output cannot be written: disk full, read-only file system or permission denied."""

    exit_code = 9


@dataclass(frozen=True)
class Problem:
    """One broken rule in one column of one input.

    ``examples`` holds a few offending values (or row descriptions), never the whole column.
    """

    source: str
    column: str
    rule: str
    n_rows: int
    examples: Sequence[object] = field(default_factory=tuple)

    def describe(self) -> str:
        shown = ", ".join(repr(e) for e in list(self.examples)[:5])
        rows = f"{self.n_rows:,} row{'s' if self.n_rows != 1 else ''}"
        tail = f"; e.g. {shown}" if shown else ""
        count = f" ({rows}{tail})" if self.n_rows or shown else ""  # 0: about the file itself
        return f"{self.source}: column {self.column!r}: {self.rule}{count}"


class ContractViolation(InputDataError):
    """Raised once with every problem found across all inputs."""

    def __init__(self, problems: Sequence[Problem], hint: str = "") -> None:
        self.problems = tuple(problems)
        lines = [f"{len(self.problems)} problem(s) found in the input data:"]
        lines += [f"  - {p.describe()}" for p in self.problems]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))
