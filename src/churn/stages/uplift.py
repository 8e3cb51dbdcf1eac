"""Stage ``uplift``: past contacts -> ``models/<p>.uplift/`` and ``reports/<p>/uplift.json``.

Builds the features of every contacted or held-out customer at the contact's day with the
pipeline's one feature path, fits the uplift model (:mod:`churn.campaigns.uplift_training`),
judges it on held-out campaigns against the trained churn model's risk ranking, and writes
both. Without contacts (or too few), the folder holds no model and ``uplift.json`` says why; a
model that did not beat the risk ranking is kept apart, for the registry only
(:mod:`churn.campaigns.uplift_outputs`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn import io
from churn.campaigns.uplift_drivers import playbook_drivers, playbook_slopes
from churn.campaigns.uplift_outputs import CHURN_MODEL_MD5, NOT_SERVED
from churn.campaigns.uplift_training import (
    HELD_OUT,
    UNSERVED,
    ChurnView,
    UpliftResult,
    train_uplift,
)
from churn.io.canonical import CanonicalFiles
from churn.io.customer_sample import customer_sample
from churn.io.digest import folder_md5
from churn.io.paths import PipelinePaths
from churn.kinds import Kind, kind_of
from churn.modeling.model import ChurnModel
from churn.scoring.playbook import check_rules, offers
from churn.scoring.reasons import pipeline_catalogue, resolve
from churn.settings import PipelineSettings

PARAMS: tuple[str, ...] = ("engine", "data", "labels", "features", "scoring", "playbook", "train")
"""The params this stage reads, as dvc.yaml declares them (tests/test_dvc_declarations.py)."""

log = logging.getLogger("churn")

NO_MODEL_FILE = "no_model.json"
"""Written into the uplift folder when no model is used for scoring, with the reason."""


def run(settings: PipelineSettings, paths: PipelinePaths) -> dict[str, Any]:
    """Fit and judge the uplift model; write its folder and uplift.json."""
    kind, tables = kind_of(settings), CanonicalFiles(paths, settings.features)
    sample = customer_sample(paths.labels, settings.train.driver_customers)
    contacts = kind.contact_outcomes(tables, sample)
    if contacts is None:
        result = UpliftResult(
            None,
            {
                "fitted": False,
                "used_for_scoring": False,
                "reason": "no contact history (data.contacts): scoring ranks by the playbook's "
                "prior effects",
            },
        )
    else:
        result = _fit(settings, paths, kind, tables, contacts.frame)
        result.report["contacts"] = contacts.summary()
        if sample is not None:
            result.report["driver_sample"] = sample.summary()
        if result.model is not None or result.unserved_model is not None:
            result.report[CHURN_MODEL_MD5] = folder_md5(paths.model)
    _write(result, paths)
    held = result.report.get("held_out") or {}
    for name, row in (held.get("rankings") or {}).items():
        log.info("held-out campaigns, ranking by %s: qini %.4f", name, row["qini"])
    if result.model is None:
        log.info("no uplift model for scoring: %s", result.report["reason"])
    else:
        log.info("uplift model used for scoring: %s", result.report["use_reason"])
        log.info("wrote %s and %s", paths.uplift_model, paths.uplift_report)
    return result.report


def _fit(
    settings: PipelineSettings,
    paths: PipelinePaths,
    kind: Kind,
    tables: CanonicalFiles,
    outcomes: pd.DataFrame,
) -> UpliftResult:
    churn_model = ChurnModel.load(paths.model)
    keys = ["customer_id", "cutoff"]
    rows = outcomes.reset_index(drop=True)
    built = kind.features(tables, rows[keys].assign(split="contact"))
    # aligned by position, kept apart from the outcome columns (an attribute may be called
    # 'channel' or 'action' too)
    x = rows[keys].merge(built, on=keys, how="left", validate="1:1")
    value = np.zeros(len(rows))
    for day, idx in x.groupby("cutoff").indices.items():
        value[idx] = kind.expected_value(
            tables, x.iloc[idx], pd.Timestamp(str(day)).date()
        ).to_numpy(dtype="float64")
    labs = settings.labels
    test_cutoff = getattr(labs, "test_cutoff", None)
    log.info(
        "fitting the uplift model on %s past contacts (%s in control groups)",
        f"{len(rows):,}",
        f"{int(rows['control'].sum()):,}",
    )
    return train_uplift(
        rows,
        x[churn_model.feature_names],
        risk=churn_model.predict_proba(x),
        value=value,
        settings=settings.train.uplift,
        seed=settings.train.seed,
        test_cutoff=test_cutoff,
        horizon_days=int(getattr(labs, "horizon_days", 0)),
        actions=sorted({o.action for o in offers(settings.playbook)}),
        churn=_churn_view(settings, paths, churn_model)
        if settings.train.uplift.learner == "driver_shift"
        else None,
    )


def _churn_view(settings: PipelineSettings, paths: PipelinePaths, model: ChurnModel) -> ChurnView:
    """The churn model and, per playbook action, the reasons it answers, resolved against the
    model's features with the catalogue scoring explains customers with."""
    reasons, records = settings.scoring.reasons, io.read_json(paths.catalogue)
    spec = pipeline_catalogue(
        records,
        model.feature_names,
        None if reasons is None else paths.project_dir / reasons,
        settings.data.active_day_word,
        context=settings.data.context_attributes,
    )
    check_rules(
        settings.playbook,
        [r.code for r in spec.reasons],
        where=f"pipelines/{paths.name}/params.yaml",
    )
    catalogue = resolve(spec, records, model.feature_names)
    drivers = playbook_drivers(settings.playbook, catalogue)
    for action, mapped in drivers.items():
        log.info(
            "driver_shift: %s answers %s",
            action,
            ", ".join(f"{code} ({len(names)} features)" for code, names in mapped.items())
            or "no reason the model has features for: a constant shift",
        )
    return ChurnView(model, drivers, playbook_slopes(settings.playbook))


def _write(result: UpliftResult, paths: PipelinePaths) -> None:
    def fill(folder: Path) -> None:
        if result.model is None:
            io.write_json({"reason": result.report["reason"]}, folder / NO_MODEL_FILE)
            if result.held_out_model is not None:  # judged, not served: never scored with
                result.held_out_model.save(folder / UNSERVED)
            if result.unserved_model is not None:  # for the registry only
                result.unserved_model.save(folder / NOT_SERVED)
        else:
            result.model.save(folder)
            if result.held_out_model is not None:
                result.held_out_model.save(folder / HELD_OUT)

    io.write_folder(paths.uplift_model, fill)
    io.write_json(result.report, paths.uplift_report)
