"""Stage ``export``: ``scores.parquet`` -> ``data/exports/<p>/<target>.csv`` for CRM import."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from churn import io
from churn.crm.writers import (
    TARGETS,
    Target,
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
    """Write one import file per target; every file is built before any is written."""
    scores = io.read_parquet(paths.scores)
    if "in_outreach" not in scores.columns or scores["customer_id"].isna().any():
        raise PipelineStateError(
            f"{paths.scores}: not a scores file of this version (needs customer_id on every "
            f"row and in_outreach). Rescore with `churn score {paths.name}`."
        )
    files = {}
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
    rows: dict[str, int] = {}
    for target, data in files.items():
        io.write_bytes(data, paths.export(target))
        rows[target] = data.count(b"\r\n") - 1
        log.info("wrote %s: %s rows", paths.export(target), f"{rows[target]:,}")
    return rows
