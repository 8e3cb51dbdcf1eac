"""Labelled feature rows split by role, and the checks a training set must pass.

Joins ``features.parquet`` and ``labels.parquet`` on (customer_id, cutoff); numeric and
categorical feature names come from the feature catalogue so training and scoring agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import PipelineStateError, TrainingError

KEYS = ["customer_id", "cutoff"]


@dataclass(frozen=True)
class FeatureColumns:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def feature_columns(
    catalogue: Sequence[Mapping[str, str]], exclude: Sequence[str] = ()
) -> FeatureColumns:
    """Model columns from the catalogue records, less ``exclude`` (names must exist)."""
    names = {c["name"] for c in catalogue}
    unknown = sorted(set(exclude) - names)
    if unknown:
        raise TrainingError(
            f"train.exclude_features names unknown feature(s) {unknown}; known: {sorted(names)}"
        )
    kept = [c for c in catalogue if c["name"] not in set(exclude)]
    return FeatureColumns(
        numeric=tuple(c["name"] for c in kept if c["kind"] == "numeric"),
        categorical=tuple(c["name"] for c in kept if c["kind"] == "categorical"),
    )


def labelled_rows(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Features joined to labels (churned, split[, fold]); one row per (customer, cutoff)."""
    head, rows = labelled_positions(features[KEYS], labels)
    return with_feature_columns(head, [features.drop(columns=KEYS)], rows)


def labelled_positions(
    feature_keys: pd.DataFrame, labels: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """What :func:`labelled_rows` needs of the keys alone: the labels' key and label columns
    (churned, split[, fold]) in label order, and for each the position in ``feature_keys``
    (``customer_id`` and ``cutoff`` of the feature rows) of its features. Feature columns can
    then be taken one at a time (:func:`with_feature_columns`), so that the table need never
    be held twice. Raises PipelineStateError on repeated keys or a label without features."""
    extra = [c for c in ("churned", "split", "fold") if c in labels.columns]
    for name, frame in (("labels", labels), ("features", feature_keys)):
        dupes = int(frame.duplicated(KEYS).sum())
        if dupes:
            raise PipelineStateError(
                f"{name} has {dupes:,} repeated (customer_id, cutoff) rows; expected one each. "
                f"Rebuild it with `churn {name}`."
            )
    positions = feature_keys[KEYS].assign(_position=np.arange(len(feature_keys)))
    joined = labels[[*KEYS, *extra]].merge(positions, on=KEYS, how="left", indicator=True)
    missing = int((joined.pop("_merge") != "both").sum())
    if missing:
        raise PipelineStateError(
            f"{missing:,} labelled rows have no features; features.parquet is older than "
            "labels.parquet. Run `churn features` again."
        )
    return joined, joined.pop("_position").to_numpy().astype("int64")


def with_feature_columns(
    head: pd.DataFrame, parts: Iterable[pd.DataFrame], rows: np.ndarray
) -> pd.DataFrame:
    """``head`` with the columns of each frame of ``parts`` (feature columns, the keys left
    out, in table order) appended, taken at ``rows`` (from :func:`labelled_positions`),
    dtypes kept. ``parts`` may be read one at a time: only the one being taken is held."""
    return with_feature_columns_of_each({"": (head, rows)}, parts)[""]


def rows_of_splits(
    head: pd.DataFrame, rows: np.ndarray, splits: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The part of :func:`labelled_positions`' ``head`` and ``rows`` whose ``split`` is one of
    ``splits``, in label order, the index reset: what :func:`with_feature_columns` needs to
    build :func:`split_rows` of the labelled rows without building them all first."""
    keep = head["split"].isin(list(splits)).to_numpy()
    return head[keep].reset_index(drop=True), rows[keep]


def with_feature_columns_of_each(
    selections: Mapping[str, tuple[pd.DataFrame, np.ndarray]], parts: Iterable[pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """:func:`with_feature_columns` of every ``(head, rows)`` of ``selections`` (by name), with
    each frame of ``parts`` taken for all of them before the next is read: the feature table
    is read once however many selections there are."""
    taken: dict[str, list[pd.DataFrame]] = {name: [] for name in selections}
    for part in parts:
        for name, (head, rows) in selections.items():
            rows_of_part = part.take(rows)
            rows_of_part.index = head.index
            taken[name].append(rows_of_part)
    return {name: pd.concat([head, *taken[name]], axis=1) for name, (head, _) in selections.items()}


class TrainingRows:
    """The training rows of one fit, which the fit may let go of once their DMatrix is built
    and read again when it needs them after the boosting (the refit on the purged cutoffs,
    pooled calibration): the largest frame of ``churn train``, 2 GB at 100M events, is then
    not held beside the matrix and its histogram bins.

    ``reread`` gives the same rows again; without it the frame is kept. Whoever passes the
    rows in must hold no other reference to the frame, or letting go frees nothing."""

    def __init__(
        self, frame: pd.DataFrame, reread: Callable[[], pd.DataFrame] | None = None
    ) -> None:
        self._frame: pd.DataFrame | None = frame
        self._reread = reread

    @property
    def frame(self) -> pd.DataFrame:
        """The rows, read again if they were let go of."""
        if self._frame is None:
            assert self._reread is not None  # let_go keeps the frame without a reread
            self._frame = self._reread()
        return self._frame

    @property
    def held(self) -> bool:
        """Whether the frame is in memory now."""
        return self._frame is not None

    def let_go(self) -> None:
        """Drop the frame if it can be read again; keep it otherwise."""
        if self._reread is not None:
            self._frame = None


def split_rows(rows: pd.DataFrame, split: str | Sequence[str]) -> pd.DataFrame:
    wanted = [split] if isinstance(split, str) else list(split)
    return rows[rows["split"].isin(wanted)].reset_index(drop=True)


def outcome(rows: pd.DataFrame) -> np.ndarray:
    """0/1 churn outcomes; raises if any row is unlabelled."""
    if rows["churned"].isna().any():
        raise PipelineStateError("rows without labels were passed where outcomes are needed")
    return rows["churned"].astype(bool).to_numpy().astype(np.int8)


def without_empty_features(
    rows: pd.DataFrame, columns: FeatureColumns
) -> tuple[FeatureColumns, list[str]]:
    """``columns`` less the features missing in every row of ``rows`` (the training rows: a
    gap between purchases when nobody bought twice), and those left out: nothing to learn
    from them."""
    empty = [c for c in columns.all if rows[c].isna().all()]
    kept = FeatureColumns(
        numeric=tuple(c for c in columns.numeric if c not in empty),
        categorical=tuple(c for c in columns.categorical if c not in empty),
    )
    return kept, empty


def check_trainable(
    rows: pd.DataFrame, columns: FeatureColumns, *, role: str, min_class_rows: int
) -> None:
    """Raise TrainingError unless ``rows`` has enough of both classes and some feature."""
    if rows.empty:
        raise TrainingError(f"The {role} set is empty: no labelled customers at its cutoffs.")
    y = outcome(rows)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if min(pos, neg) == 0:
        raise TrainingError(
            f"The {role} set has one class only ({pos:,} churners, {neg:,} stayers). Check the "
            "labels: horizon_days, churn_definition and the cutoffs decide who churns."
        )
    if min(pos, neg) < min_class_rows:
        raise TrainingError(
            f"The {role} set has {pos:,} churners and {neg:,} stayers; train.min_class_rows is "
            f"{min_class_rows}. Add training cutoffs or data, or lower train.min_class_rows."
        )
    if not columns.all:
        raise TrainingError(
            f"No feature is left to train on for the {role} set: every one is excluded or "
            "missing in every training row. Check the input mapping (data.*.columns) and "
            "train.exclude_features."
        )
