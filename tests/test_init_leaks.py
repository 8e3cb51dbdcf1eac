"""``churn init`` leaves out, on a snapshot, the columns that look like the label in disguise
(a churn score or reason known only after a customer left), by the leak screen ``churn train``
would stop on, so the first ``churn run`` trains; the params say what was left out and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from churn.settings import load_settings
from tests import messy
from tests.test_init import export, init, project, written


def test_leaks_are_left_out_and_named(tmp_path: Path) -> None:
    snap = messy.snapshot(600, seed=3, leak=True)
    churned = snap.frame[snap.label] == snap.positive
    frame = snap.frame.assign(**{"Churn Value": np.where(churned, 1, 0)})  # the label's twin
    root = project(tmp_path / "p")
    code, out = init(
        root,
        "acc",
        "--snapshot",
        str(export(tmp_path, frame, "accounts.csv")),
        "--label",
        snap.label,
    )
    assert code == 0, out
    leaks = {*snap.leaks, "Churn Value"}
    attributes = set(written(root, "acc")["data"]["snapshot"]["source"]["attributes"].values())
    assert not leaks & attributes
    assert attributes == set(frame.columns) - leaks - {snap.label, snap.customer_id}
    text = (root / "pipelines/acc/params.yaml").read_text()
    for column in leaks:
        assert f"# left out, the label in disguise: {column!r}" in text
    assert "'churn_reason' is missing exactly for one class" in text
    assert "they look like the label in disguise" in out
    settings = load_settings(root, "acc")
    assert settings.data.snapshot is not None
    assert settings.data.snapshot.numeric_attributes  # the honest numbers stay numbers


def test_an_honest_snapshot_keeps_every_attribute(tmp_path: Path) -> None:
    snap = messy.snapshot(600, seed=4)
    root = project(tmp_path / "p")
    path = export(tmp_path, snap.frame, "a.csv")
    code, out = init(root, "acc", "--snapshot", str(path), "--label", snap.label)
    assert code == 0, out
    attributes = set(written(root, "acc")["data"]["snapshot"]["source"]["attributes"].values())
    assert attributes == set(snap.frame.columns) - {snap.label, snap.customer_id}
    assert "label in disguise" not in out + (root / "pipelines/acc/params.yaml").read_text()
