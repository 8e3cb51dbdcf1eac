"""Who a retention action changes: an uplift model, an X-learner on xgboost boosters.

Fitted on past contacts: features ``X`` per contact, whether the row is a ``control`` (held
out) or contacted with an ``action``, and whether the customer ``churned`` in the horizon after.
Uplift is the churn probability the action removes, ``P(churn | control, x) - P(churn |
action, x)``: positive when the action keeps the customer.

Why an X-learner (Kuenzel et al., PNAS 2019) and not two models (T-learner): a control group
is small next to the contacted, and churn depends far more on risk than on the action. A
T-learner subtracts two churn models each dominated by risk, so their errors, not the effect,
dominate the difference. The X-learner fits the effect itself: each contacted row's effect is
imputed as the control model's prediction minus its outcome, each control row's as its
outcome minus the action model's prediction, one regressor is fitted on each, and the two are
weighted by the contacted share (the control group is random, so the propensity is that
constant). On the generated campaigns of ``tests/test_uplift.py`` (12,000 contacts, 30 %
control, five seeds) it ranks customers by their true per-action effect better than a
T-learner with the same boosters (Spearman 0.77-0.85 against 0.70-0.79 for call, 0.58-0.73
against 0.48-0.62 for mail; mean absolute error 0.044-0.062 against 0.061-0.076) and its Qini
is higher in 9 of 10 comparisons (0.0001 lower in the tenth). Every control row serves every
action: features, not the action a control row would have had, describe the customer.

Three alternatives borrow strength from the churn model (``train.uplift.learner``):
``x_learner_on_risk`` fits the X-learner's outcome models as corrections to the churn model's
logit (xgboost ``base_margin``), ``logit_shift`` (:mod:`churn.campaigns.uplift_shift`) fits
each action as a logistic shift on that logit, and ``driver_shift``
(:mod:`churn.campaigns.uplift_drivers`) as a shift proportional to the risk coming from the
reasons the playbook maps to the action (two numbers per action; the churn model travels with
the uplift model, which computes the reasons' SHAP contributions itself). On the simulator's
dev seeds (docs/experiments.md) all three saved more true value than the X-learner
(``driver_shift`` 0.97 and 1.47 of risk targeting against 0.68 and 0.97) but none had a higher
held-out Qini on both seeds, so ``x_learner`` stays the default.

An action with at least ``min_rows`` contacted rows gets models of its own; any other action,
and any action named in ``actions`` that was never contacted, uses the pooled "any contact"
model fitted on every contacted row. ``driver_shift`` fits every contacted action an arm of its
own (two penalised numbers need no minimum: with few rows its shift stays near the pooled one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from churn.campaigns.uplift_drivers import DriverArm, DriverReasons, driver_risk, fit_driver_arm
from churn.campaigns.uplift_shift import ShiftArm, fit_shift_arm, logit
from churn.errors import PipelineStateError, TrainingError
from churn.modeling.model import UNREADABLE_MODEL, ChurnModel, design_matrix
from churn.scoring.explain import shap_contributions

POOLED = "any contact"
"""The arm fitted on every contacted row, used by actions too rare for models of their own."""
MANIFEST_FILE = "uplift.json"
FORMAT_VERSION = 1
LEARNERS = ("x_learner", "x_learner_on_risk", "logit_shift", "driver_shift")
"""``x_learner``: :class:`Arm` (boosters, features only); ``logit_shift``:
:class:`~churn.campaigns.uplift_shift.ShiftArm` (the action as a shift on the churn model's
logit: it needs each row's churn probability to fit and to predict); ``driver_shift``:
:class:`~churn.campaigns.uplift_drivers.DriverArm` (a shift on that logit proportional to the
action's driver risk: it carries the churn model, so features alone are its input)."""
CHURN_MODEL_DIR = "churn_model"
"""Subfolder of a ``driver_shift`` uplift model holding the churn model its arms shift."""


@dataclass(frozen=True)
class UpliftParams:
    """Booster settings shared by every model of the learner (small trees, slow learning: the
    effect is a small signal under a lot of noise). On the simulator's held-out campaign
    (seeds 7 and 11, about 450 control rows per action, truth-valued targeting at one budget)
    stronger regularisation (depth 2, 150 rounds, min_child_weight 30) saved less (0.30 and
    0.42 of what risk targeting saves, against 0.68 and 0.97), deeper trees (depth 4, 200
    rounds, 10) the same (0.68, 1.00): these stay."""

    max_depth: int = 3
    learning_rate: float = 0.05
    n_rounds: int = 200
    min_child_weight: float = 10.0
    subsample: float = 0.8

    def xgb_params(self, objective: str, seed: int) -> dict[str, Any]:
        return {
            "objective": objective,
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "seed": seed,
            "tree_method": "hist",
        }


@dataclass(frozen=True)
class Arm:
    """One treatment's effect model: ``on_control`` (fitted on control rows' imputed effects),
    ``on_contacted`` (fitted on contacted rows'), weighted by ``contacted_share``."""

    on_control: xgb.Booster
    on_contacted: xgb.Booster
    contacted_share: float
    rows: int

    def __call__(self, matrix: xgb.DMatrix) -> np.ndarray:
        tau0 = self.on_control.predict(matrix)
        tau1 = self.on_contacted.predict(matrix)
        # Kuenzel's weighting by the propensity: with many contacted rows, the effects imputed
        # on control rows (from the churn model of the many contacted) are the better ones
        w = self.contacted_share
        return np.clip(w * tau0 + (1 - w) * tau1, -1.0, 1.0)


@dataclass(frozen=True)
class UpliftModel:
    """A fitted uplift model: features in, churn probability removed per action out."""

    arms: Mapping[str, Arm | ShiftArm | DriverArm]
    actions: Mapping[str, str]  # action -> arm: itself or POOLED
    numeric_features: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    churn_model: ChurnModel | None = None
    """``driver_shift`` only: the churn model whose logit and reason contributions its arms
    shift, computed from the features at predict time."""

    @property
    def needs_churn_probability(self) -> bool:
        """True when :meth:`predict` needs the churn model's probability of each row."""
        return any(isinstance(arm, ShiftArm) for arm in self.arms.values())

    def predict(
        self, features: pd.DataFrame, churn_probability: np.ndarray | None = None
    ) -> pd.DataFrame:
        """One column per action (in :attr:`actions` order), one row per row of ``features``
        (same index): the estimated churn probability the action removes, in [-1, 1].
        ``churn_probability`` (the churn model's, aligned by position) is required when
        :attr:`needs_churn_probability`; ValueError otherwise."""
        x = model_input(features, self.numeric_features, self.categories)
        base = np.zeros(len(x))
        contributions = None
        if self.churn_model is not None:  # driver_shift: its own churn model's view of risk
            base = logit(self.churn_model.predict_proba(features))
            contributions = shap_contributions(self.churn_model, features)
        if self.needs_churn_probability:
            if churn_probability is None or len(churn_probability) != len(x):
                raise ValueError(
                    "this uplift model (logit_shift) needs the churn model's probability of "
                    f"each of the {len(x)} row(s); found "
                    f"{'none' if churn_probability is None else len(churn_probability)}."
                )
            base = logit(np.asarray(churn_probability, dtype="float64"))
        matrix = _matrix(x)

        def of(arm: Arm | ShiftArm | DriverArm) -> np.ndarray:
            if isinstance(arm, ShiftArm):
                return arm.uplift(x, base)
            if isinstance(arm, DriverArm):
                if contributions is None:
                    raise PipelineStateError(
                        "this uplift model (driver_shift) has arms but no churn model to "
                        f"compute their driver risk; expected its {CHURN_MODEL_DIR} folder. Fit "
                        "it again (`churn uplift`)."
                    )
                return arm.uplift(base, driver_risk(contributions, arm.reasons))
            return arm(matrix)

        by_arm = {name: of(arm) for name, arm in self.arms.items()}
        return pd.DataFrame(
            {action: by_arm[arm] for action, arm in self.actions.items()}, index=features.index
        )

    def save(self, folder: Path) -> None:
        """Write each booster as xgboost JSON and a manifest (:data:`MANIFEST_FILE`) naming
        them, the features and the action to arm map into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        arms: list[dict[str, Any]] = []
        for i, (name, arm) in enumerate(self.arms.items()):
            if isinstance(arm, ShiftArm):
                arms.append({"name": name, "shift": arm.to_json()})
                continue
            if isinstance(arm, DriverArm):
                arms.append({"name": name, "driver": arm.to_json()})
                continue
            files = {"on_control": f"arm{i}_control.json", "on_contacted": f"arm{i}_contacted.json"}
            arm.on_control.save_model(folder / files["on_control"])
            arm.on_contacted.save_model(folder / files["on_contacted"])
            arms.append(
                {"name": name, **files, "contacted_share": arm.contacted_share, "rows": arm.rows}
            )
        if self.churn_model is not None:
            self.churn_model.save(folder / CHURN_MODEL_DIR)
        method = (
            "driver-shift"
            if self.churn_model is not None
            else "logit-shift"
            if self.needs_churn_probability
            else "x-learner"
        )
        manifest = {
            "format_version": FORMAT_VERSION,
            "method": method,
            "numeric_features": list(self.numeric_features),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "actions": dict(self.actions),
            "arms": arms,
            "metadata": dict(self.metadata),
        }
        if self.churn_model is not None:  # only then: other models' manifests stay as they were
            manifest["churn_model"] = CHURN_MODEL_DIR
        text = json.dumps(manifest, indent=2) + "\n"
        (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> UpliftModel:
        """Read a model written by :meth:`save`; PipelineStateError naming the folder when it
        is not one."""
        path = folder / MANIFEST_FILE
        if not path.is_file():
            raise PipelineStateError(
                f"{folder}: not an uplift model folder (expected {MANIFEST_FILE})."
            )
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if manifest.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"format_version {manifest.get('format_version')!r}, expected {FORMAT_VERSION}"
                )
            arms = {str(record["name"]): _arm_of(record, folder) for record in manifest["arms"]}
            churn_dir = manifest.get("churn_model")
            actions = {str(a): str(arm) for a, arm in manifest["actions"].items()}
            unknown = sorted(set(actions.values()) - set(arms))
            if unknown:
                raise ValueError(f"actions use arm(s) {unknown} the manifest does not list")
            return cls(
                arms=arms,
                actions=actions,
                numeric_features=tuple(manifest["numeric_features"]),
                categories={k: tuple(v) for k, v in manifest["categories"].items()},
                metadata=manifest.get("metadata", {}),
                churn_model=None if churn_dir is None else ChurnModel.load(folder / churn_dir),
            )
        except (*UNREADABLE_MODEL, PipelineStateError) as exc:
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PipelineStateError(
                f"{folder}: expected an uplift model ({MANIFEST_FILE} and the boosters it names), "
                f"found corrupted files or files from another version ({detail}). Fit it again."
            ) from exc


def _arm_of(record: Mapping[str, Any], folder: Path) -> Arm | ShiftArm | DriverArm:
    if "shift" in record:
        return ShiftArm.from_json(record["shift"])
    if "driver" in record:
        return DriverArm.from_json(record["driver"])
    return Arm(
        on_control=_booster(folder / str(record["on_control"])),
        on_contacted=_booster(folder / str(record["on_contacted"])),
        contacted_share=float(record["contacted_share"]),
        rows=int(record["rows"]),
    )


def _booster(path: Path) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(path)
    return booster


def feature_types(features: pd.DataFrame) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Numeric (and bool) columns, and the categories (sorted text of the values) of the rest."""
    numeric = tuple(
        str(c)
        for c in features.columns
        if is_numeric_dtype(features[c]) or is_bool_dtype(features[c])
    )
    categories = {
        str(c): tuple(sorted(features[c].dropna().astype(str).unique()))
        for c in features.columns
        if str(c) not in numeric
    }
    return numeric, categories


def model_input(
    features: pd.DataFrame, numeric: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """The boosters' input, for fitting and predicting alike: :func:`design_matrix` on the
    features with categorical values compared as text (as :func:`feature_types` lists them)."""
    present = [c for c in categories if c in features.columns]
    text = features.assign(**{c: features[c].astype("string") for c in present})
    return design_matrix(text, numeric, categories)


def _matrix(
    x: pd.DataFrame, label: np.ndarray | None = None, margin: np.ndarray | None = None
) -> xgb.DMatrix:
    return xgb.DMatrix(x, label=label, base_margin=margin, enable_categorical=True)


def _fit(
    x: pd.DataFrame,
    y: np.ndarray,
    objective: str,
    params: UpliftParams,
    seed: int,
    *,
    margin: np.ndarray | None = None,
) -> Any:
    return xgb.train(
        params.xgb_params(objective, seed),
        _matrix(x, y.astype("float64"), margin),
        params.n_rounds,
    )


def _arm(
    x: pd.DataFrame,
    y: np.ndarray,
    contacted: np.ndarray,
    control: np.ndarray,
    *,
    control_model: xgb.Booster,
    params: UpliftParams,
    seed: int,
    margin: np.ndarray | None = None,
) -> Arm:
    """The X-learner's effect models for the contacted rows ``contacted`` against ``control``.
    ``margin``: each row's churn-model logit, which the outcome models (not the effect
    models) then only correct (``x_learner_on_risk``)."""
    xt, yt, xc, yc = x[contacted], y[contacted], x[control], y[control]
    mt = None if margin is None else margin[contacted]
    mc = None if margin is None else margin[control]
    churn_model = _fit(xt, yt, "binary:logistic", params, seed, margin=mt)
    # churn the action removed, and churn it would remove
    imputed_contacted = control_model.predict(_matrix(xt, margin=mt)) - yt
    imputed_control = yc - churn_model.predict(_matrix(xc, margin=mc))
    n_t, n_c = int(contacted.sum()), int(control.sum())
    return Arm(
        on_control=_fit(xc, imputed_control, "reg:squarederror", params, seed),
        on_contacted=_fit(xt, imputed_contacted, "reg:squarederror", params, seed),
        contacted_share=n_t / (n_t + n_c),
        rows=n_t,
    )


def _both_outcomes(y: np.ndarray, what: str, fix: str) -> None:
    churned = int(y.sum())
    if len(y) == 0 or churned in (0, len(y)):
        raise TrainingError(
            f"an uplift model needs {what} rows with both outcomes, churned and kept; found "
            f"{len(y)} row(s), {churned} churned. {fix}"
        )


def fit_uplift(
    features: pd.DataFrame,
    action: pd.Series,
    control: pd.Series,
    churned: pd.Series,
    *,
    min_rows: int = 500,
    actions: Sequence[str] = (),
    params: UpliftParams | None = None,
    seed: int = 0,
    learner: str = "x_learner",
    churn_probability: np.ndarray | None = None,
    shift_penalty: float = 50.0,
    churn_model: ChurnModel | None = None,
    drivers: Mapping[str, DriverReasons] | None = None,
    driver_penalty: float = 20.0,
    driver_slopes: Mapping[str, float] | None = None,
) -> UpliftModel:
    """Fit an :class:`UpliftModel` on past contacts (one row each, aligned by position).

    ``features``: model input (numeric, bool or categorical columns); ``action``: the action
    of each contacted row (ignored on control rows); ``control``: True when held out;
    ``churned``: the outcome. Actions with at least ``min_rows`` contacted rows get their own
    arm, the others (and ``actions`` never contacted) the pooled arm. The same data and
    ``seed`` give the same model. ``learner``: one of :data:`LEARNERS`; ``logit_shift`` needs
    ``churn_probability`` (the churn model's, aligned by position) and penalises each
    feature's share of the shift by ``shift_penalty``. ``driver_shift`` needs ``churn_model``
    (whose features ``features`` must hold) and reads ``drivers`` (action -> reason code -> the
    model features it sums, :func:`~churn.campaigns.uplift_drivers.playbook_drivers`; an action
    absent gets a constant shift), penalised by ``driver_penalty`` (rows) towards the slopes of
    ``driver_slopes`` (action -> prior slope; absent: 0). Raises TrainingError
    when the control or the contacted rows lack one of the outcomes, ValueError when the inputs'
    lengths differ (or the learner is unknown, or lacks the churn probability or model it
    needs).
    """
    lengths = {len(features), len(action), len(control), len(churned)}
    if len(lengths) != 1:
        raise ValueError(
            "features, action, control and churned must have one row per contact; got lengths "
            f"{len(features)}, {len(action)}, {len(control)} and {len(churned)}."
        )
    if learner not in LEARNERS:
        raise ValueError(f"learner must be one of {list(LEARNERS)}; found {learner!r}.")
    if learner in {"logit_shift", "x_learner_on_risk"} and (
        churn_probability is None or len(churn_probability) != len(features)
    ):
        raise ValueError(
            f"the {learner} learner needs the churn model's probability of each of the "
            f"{len(features)} contact(s); found "
            f"{'none' if churn_probability is None else len(churn_probability)}."
        )
    if learner == "driver_shift" and churn_model is None:
        raise ValueError(
            "the driver_shift learner needs the churn model (its logit and reason "
            "contributions); found none."
        )
    params = params or UpliftParams()
    numeric, categories = feature_types(features)
    x = model_input(features, numeric, categories).reset_index(drop=True)
    y = churned.to_numpy(dtype=bool).astype("float64")
    held_out = control.to_numpy(dtype=bool)
    fix = "Measure more contacts before fitting an uplift model."
    _both_outcomes(y[held_out], "control", fix)
    _both_outcomes(y[~held_out], "contacted", fix)
    names = action.astype(object).where(~held_out & action.notna().to_numpy()).to_numpy()
    if learner == "driver_shift" and churn_model is not None:
        arms_d, mapping_d = _driver_arms(
            features.reset_index(drop=True),
            y,
            held_out,
            names,
            churn_model=churn_model,
            drivers=drivers or {},
            penalty=driver_penalty,
            slopes=driver_slopes or {},
        )
        for name in actions:
            mapping_d.setdefault(name, POOLED)
        metadata_d = {
            "seed": seed,
            "control_rows": int(held_out.sum()),
            "learner": learner,
            "params": {
                "driver_penalty": driver_penalty,
                "prior_slopes": dict(sorted((driver_slopes or {}).items())),
                "drivers": {a: sorted(r) for a, r in sorted((drivers or {}).items())},
            },
        }
        return UpliftModel(arms_d, mapping_d, numeric, categories, metadata_d, churn_model)
    if learner == "logit_shift":
        base = logit(np.asarray(churn_probability, dtype="float64"))

        def arm_of(rows: np.ndarray) -> Arm | ShiftArm:
            return fit_shift_arm(x, y, base, rows, held_out, penalty=shift_penalty)
    else:
        margin = (
            logit(np.asarray(churn_probability, dtype="float64"))
            if learner == "x_learner_on_risk"
            else None
        )
        control_model = _fit(
            x[held_out],
            y[held_out],
            "binary:logistic",
            params,
            seed,
            margin=None if margin is None else margin[held_out],
        )

        def arm_of(rows: np.ndarray) -> Arm | ShiftArm:
            return _arm(
                x,
                y,
                rows,
                held_out,
                control_model=control_model,
                params=params,
                seed=seed,
                margin=margin,
            )

    arms: dict[str, Arm | ShiftArm | DriverArm] = {POOLED: arm_of(~held_out)}
    mapping: dict[str, str] = {}
    for name in sorted({str(a) for a in names if a is not None and not pd.isna(a)}):
        rows = names == name
        own = rows.sum() >= min_rows and 0 < y[rows].sum() < rows.sum()
        if own:
            arms[name] = arm_of(rows)
        mapping[name] = name if own else POOLED
    for name in actions:
        mapping.setdefault(name, POOLED)
    metadata = {
        "min_rows": min_rows,
        "seed": seed,
        "control_rows": int(held_out.sum()),
        "learner": learner,
        "params": asdict(params) if learner != "logit_shift" else {"shift_penalty": shift_penalty},
    }
    return UpliftModel(arms, mapping, numeric, categories, metadata)


def _driver_arms(
    features: pd.DataFrame,
    y: np.ndarray,
    control: np.ndarray,
    names: np.ndarray,
    *,
    churn_model: ChurnModel,
    drivers: Mapping[str, DriverReasons],
    penalty: float,
    slopes: Mapping[str, float],
) -> tuple[dict[str, Arm | ShiftArm | DriverArm], dict[str, str]]:
    """``driver_shift``'s arms: the pooled constant shift of every contact, then one arm per
    contacted action (``names``: each row's action, None on control rows) whose shift is pulled
    towards the pooled one. The churn model's logit and reason contributions are computed once,
    from the same features (and code) scoring explains customers with."""
    missing = [c for c in churn_model.feature_names if c not in features.columns]
    if missing:
        raise ValueError(
            f"the driver_shift learner needs the churn model's feature(s) {missing} among the "
            f"contacts' features; found {list(features.columns)[:10]}."
        )
    base = logit(churn_model.predict_proba(features))
    contributions = shap_contributions(churn_model, features)
    contacted = ~control
    pooled = fit_driver_arm(
        base, np.zeros(len(y)), y, contacted, control, reasons={}, penalty=penalty
    )
    arms: dict[str, Arm | ShiftArm | DriverArm] = {POOLED: pooled}
    mapping: dict[str, str] = {}
    for name in sorted({str(a) for a in names if a is not None and not pd.isna(a)}):
        reasons = drivers.get(name, {})
        arms[name] = fit_driver_arm(
            base,
            driver_risk(contributions, reasons),
            y,
            names == name,
            control,
            reasons=reasons,
            penalty=penalty,
            prior_shift=pooled.shift,
            prior_slope=slopes.get(name, 0.0) if reasons else 0.0,
        )
        mapping[name] = name
    return arms, mapping
