"""The per-customer steps of ``churn score`` in Spark's executors: one ``mapInPandas`` that runs,
on each Arrow batch of the population's features, the pure functions the local path runs on
the whole frame (:mod:`churn.scoring.ranking`): the churn model's calibrated probability
(:meth:`ChurnModel.predict_proba`), its TreeSHAP contributions and the reason codes they give
(:func:`churn.scoring.explain.shap_contributions`, :func:`top_reasons`,
:func:`with_no_single_driver`), the expected value of ``scoring.value.method: recurring`` and
the control draw of each customer (:func:`churn.scoring.outreach.control_draws`), and with an
uplift model the churn probability each action removes (:meth:`UpliftModel.predict`, as the
local path calls it). The models (booster and calibrator, the uplift model's boosters) go to
the executors with the function.

Every customer is explained here, whoever ends up in the outreach slice: each customer's
reasons depend on that customer's row only, so the slice, known once the whole list is ranked
(:mod:`churn.scoring.spark_list`), keeps the reasons of its rows and drops the others'. The
local path explains only the customers who can enter the slice; explaining everyone costs
executor time (TreeSHAP on every row) and no driver memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn.campaigns.uplift import UpliftModel
from churn.engines.spark import quote_spark_identifier
from churn.modeling.model import ChurnModel
from churn.scoring.explain import Reference, shap_contributions, top_reasons, with_no_single_driver
from churn.scoring.outreach import control_draws
from churn.scoring.playbook import top_actionable_reason
from churn.scoring.reasons import ReasonCatalogue
from churn.scoring.value import recurring_value
from churn.settings import ScoringSettings

VALUE_COLUMN = "_expected_value"
"""The column of the features DataFrame that holds each customer's expected value when it was
computed before (``clv``), see :func:`customer_rows`."""
PARTS = ("code", "text", "actionable", "shap")


def uplift_columns(actions: Sequence[str]) -> list[str]:
    """The columns of :func:`customer_rows` holding an uplift model's estimate of each action
    (``actions`` in order): positional names, since an action's name is any text."""
    return [f"_uplift_{i}" for i in range(len(actions))]


def reason_columns(n_reasons: int) -> list[str]:
    return [f"reason_{k}_{part}" for k in range(1, n_reasons + 1) for part in PARTS]


def row_schema(n_reasons: int, uplift_actions: Sequence[str] = ()) -> str:
    """The Spark schema of :func:`customer_rows`' result (with an uplift model covering
    ``uplift_actions``, one more column per action: :func:`uplift_columns`)."""
    kinds = {"code": "STRING", "text": "STRING", "actionable": "BOOLEAN", "shap": "DOUBLE"}
    reasons = [
        f"reason_{k}_{part} {kinds[part]}" for k in range(1, n_reasons + 1) for part in PARTS
    ]
    return ", ".join(
        [
            "customer_id STRING",
            "cutoff TIMESTAMP_NTZ",
            "churn_probability DOUBLE",
            "expected_value DOUBLE",
            *reasons,
            "top_reason STRING",
            "contributions ARRAY<DOUBLE>",
            "shap_base DOUBLE",
            "draw DOUBLE",
            *(f"{c} DOUBLE" for c in uplift_columns(uplift_actions)),
        ]
    )


def per_customer(
    batch: pd.DataFrame,
    model: ChurnModel,
    *,
    catalogue: ReasonCatalogue,
    reference: Reference,
    settings: ScoringSettings,
    uplift: UpliftModel | None = None,
) -> pd.DataFrame:
    """The per-customer columns of one batch of feature rows (``customer_id``, ``cutoff``, the
    model's features and, with ``clv``, :data:`VALUE_COLUMN`), one row per row in its order:
    ``churn_probability``, ``expected_value`` (missing: 0, as the local list writes it), the
    reasons of :func:`top_reasons` with :func:`with_no_single_driver`, ``top_reason`` (the
    top actionable reason's code), the SHAP ``contributions`` (one list per row, in the
    model's feature order), the base value they add to (``shap_base``, log-odds) and the
    control ``draw``; with ``uplift``, the churn probability each of its actions removes
    (:func:`uplift_columns`, in the order of its ``actions``)."""
    frame = batch.reset_index(drop=True)
    p = np.asarray(model.predict_proba(frame), dtype="float64")
    if settings.value.method == "recurring":
        value = recurring_value(frame, settings.value)
    else:
        value = frame[VALUE_COLUMN].astype("float64")
    worth = value.to_numpy(dtype="float64")
    contributions = shap_contributions(model, frame)
    reasons = with_no_single_driver(
        top_reasons(frame, contributions, catalogue, reference, n_reasons=settings.n_reasons)
    )
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(dtype=object),
            "cutoff": pd.to_datetime(frame["cutoff"]).to_numpy(),
            "churn_probability": p,
            "expected_value": np.where(np.isnan(worth), 0.0, worth),
        }
    )
    for column in reason_columns(settings.n_reasons):
        out[column] = reasons[column].to_numpy()
        if column.endswith("_actionable"):
            out[column] = reasons[column].astype("boolean")
    out["top_reason"] = top_actionable_reason(reasons).to_numpy(dtype=object)
    out["contributions"] = list(contributions.values)
    out["shap_base"] = contributions.base
    out["draw"] = control_draws(out["customer_id"], settings.outreach.control_seed)
    if uplift is not None:
        # as the local path: the uplift model reads the churn model's calibrated probability
        removed = uplift.predict(frame, p if uplift.needs_churn_probability else None)
        actions = list(uplift.actions)
        for column, action in zip(uplift_columns(actions), actions, strict=True):
            out[column] = removed[action].to_numpy(dtype="float64")
    return out


def customer_rows(
    features: Any,
    model: ChurnModel,
    *,
    catalogue: ReasonCatalogue,
    reference: Reference,
    settings: ScoringSettings,
    uplift: UpliftModel | None = None,
) -> Any:
    """:func:`per_customer` on every Arrow batch of the Spark DataFrame ``features`` (the
    population's features, with :data:`VALUE_COLUMN` when ``scoring.value.method`` is
    ``clv``), computed in the executors: a Spark DataFrame of schema :func:`row_schema`, not
    collected, in ``features``' row order."""
    keep = ["customer_id", "cutoff", *model.feature_names]
    if uplift is not None:
        keep.extend([*uplift.numeric_features, *uplift.categories])
        if uplift.churn_model is not None:
            keep.extend(uplift.churn_model.feature_names)
    if settings.value.method == "recurring":
        value = settings.value
        charged = [value.charge_feature, value.charge_quantity_feature, value.charge_period_feature]
        if any(n is not None and n not in features.columns for n in charged):
            recurring_value(pd.DataFrame(columns=features.columns), value)  # its error, here
        keep.extend(str(n) for n in charged if n is not None)
    else:
        keep.append(VALUE_COLUMN)
    names = list(dict.fromkeys(n for n in keep if n in features.columns))
    # feature names come from the data (any text): the batches travel under positional names
    aliases = [f"_c{i}" for i in range(len(names))]
    chosen = features.selectExpr(
        *(f"{quote_spark_identifier(n)} AS {a}" for n, a in zip(names, aliases, strict=True))
    )

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            batch.columns = names
            yield per_customer(
                batch,
                model,
                catalogue=catalogue,
                reference=reference,
                settings=settings,
                uplift=uplift,
            )

    actions = () if uplift is None else list(uplift.actions)
    return chosen.mapInPandas(score, row_schema(settings.n_reasons, actions))
