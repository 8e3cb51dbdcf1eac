"""What differs between the two kinds of pipeline, behind one interface.

* **events** (:class:`~churn.kinds.events.EventsKind`): a behaviour log (purchases, usage);
  labels from a schedule of cutoffs, features from SQL on DuckDB or Spark, BG/NBD value, a
  rolling-origin backtest, and scored lists whose outcome becomes known later.
* **snapshot** (:class:`~churn.kinds.snapshot.SnapshotKind`): one row per customer with a churn
  label (e.g. IBM Telco); train/valid/test split at random, cross-validated, one date.

The stages call :func:`kind_of` once and then ``kind.labels(...)``, ``kind.population(...)``;
they hold no ``if`` on the kind. Each method takes the canonical tables (:class:`Canonical`:
files for the CLI, frames in tests) and returns frames; nothing here writes a file.
"""

from __future__ import annotations

from churn.kinds.events import EventsKind
from churn.kinds.interface import Activity, Backtest, Baselines, Canonical, Kind, Population
from churn.kinds.snapshot import SnapshotKind
from churn.settings import PipelineSettings, SnapshotLabelSettings

__all__ = [
    "Activity",
    "Backtest",
    "Baselines",
    "Canonical",
    "EventsKind",
    "Kind",
    "Population",
    "SnapshotKind",
    "kind_of",
]


def kind_of(settings: PipelineSettings) -> Kind:
    """The implementation of ``settings.labels.kind``: the one place that asks."""
    if isinstance(settings.labels, SnapshotLabelSettings):
        return SnapshotKind(settings, settings.labels)
    return EventsKind(settings, settings.labels)
