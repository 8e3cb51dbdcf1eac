"""Stage ``export``: ``scores.parquet`` -> ``data/exports/<p>/<target>.csv`` for CRM import."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from churn import io
from churn.crm.writers import (
    CONTROL_FILE,
    TARGETS,
    Target,
    control_frame,
    crm_frame,
    export_bytes,
    neutralised_keys,
    target_settings,
)
from churn.errors import PipelineStateError
from churn.io.paths import PipelinePaths
from churn.settings import PipelineSettings

PARAMS: tuple[str, ...] = ("export",)
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")


def run(
    settings: PipelineSettings, paths: PipelinePaths, targets: Sequence[Target] = TARGETS
) -> dict[str, int]:
    """Write one import file per target, the contacted customers only (or everyone, with
    ``only_outreach: false``), and ``control_group.csv``, the customers held out; every file
    is built before any is written."""
    scores = io.read_parquet(paths.scores)
    if (
        "in_outreach" not in scores.columns
        or "control_group" not in scores.columns
        or scores["customer_id"].isna().any()
    ):
        raise PipelineStateError(
            f"{paths.scores}: not a scores file of this version (needs customer_id on every "
            f"row, in_outreach and control_group). Rescore with `churn score {paths.name}`."
        )
    files: dict[str, bytes] = {}
    for target in targets:
        target_columns = target_settings(target, settings.export.targets, scores.columns)
        frame = crm_frame(scores, target, target_columns)
        altered = neutralised_keys(frame, scores, target_columns)
        if altered:
            log.warning(
                "%s: %s key(s) in column %r start like a spreadsheet formula (e.g. %s); written "
                "with a leading ' so no spreadsheet runs them, so they will not match their "
                "CRM record as they are",
                target,
                f"{len(altered):,}",
                target_columns.columns[0].name,
                ", ".join(repr(k) for k in altered[:3]),
            )
        files[target] = export_bytes(frame, target)
    files[CONTROL_FILE] = export_bytes(control_frame(scores), "generic")
    rows: dict[str, int] = {}
    for name, data in files.items():
        io.write_bytes(data, paths.export(name))
        rows[name] = data.count(b"\r\n") - 1
        log.info("wrote %s: %s rows", paths.export(name), f"{rows[name]:,}")
    return rows
