"""Model registry rules: which version is the champion, the gate that decides it, and loading
a registered version.

Aliases only (``challenger`` on the newest trained version, ``champion`` on the one that
scores), never MLflow's deprecated stages. A challenger replaces the champion only when its
recipe ranks better on the rolling-origin backtest folds both versions were evaluated on
(the same customers, paired, with a confidence interval: :mod:`churn.evaluation.paired`) and
its probabilities are calibrated; the test cutoff is reported beside, never the selector
(unless no fold can be paired, which the reason then says). Every decision is written as
``promotion.*`` tags on the challenger version.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.artifacts
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException

from churn.errors import PipelineStateError, TrackingError
from churn.evaluation.paired import PairedFold, paired_auc_difference, paired_folds
from churn.modeling.model import ChurnModel
from churn.modeling.training_data import labelled_rows, split_rows
from churn.settings import RegistrySettings
from churn.tracking.gate_rules import (
    auc_rule,
    backtest_calibration,
    champion_ece_rule,
    ece_rules,
    first_version_rules,
    no_pairing_reason,
    report_of_test_cutoff,
)
from churn.tracking.pyfunc import PROBABILITY_COLUMN, check_pyfunc_folder, churn_model_of
from churn.tracking.store import connect
from churn.validation import must_be, parameter

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

CHALLENGER = "challenger"
CHAMPION = "champion"

PREDICTIONS_ARTIFACT = "backtest_predictions.parquet"
"""The run artifact holding a version's backtest fold predictions (``churn train`` writes it
as ``models/<p>/backtest_predictions.parquet``; ``churn register`` logs it)."""
_PREDICTION_COLUMNS = ("fold", "customer_id", "churned", "probability")

FoldPredictions = Callable[[str], "pd.DataFrame | None"]
"""``folds(model_uri)``: a version's backtest fold predictions (columns ``fold``,
``customer_id``, ``churned``, ``probability``), or None when it has none."""

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


@dataclass(frozen=True)
class PromotionDecision:
    """What :func:`promote` decided.

    ``champion_version`` is the champion *before* the decision (None when there was none) and
    ``champion_metrics`` its metrics on the test population (a report: the test cutoff decides
    only when no backtest fold could be paired); after a promotion the champion is
    ``challenger_version``. ``comparison``: what decided, ``basis`` ``backtest folds`` or
    ``test cutoff``, the paired ROC AUC difference and its interval, the folds left out and
    why; ``calibration``: the challenger's ECE on its backtest folds.
    """

    promoted: bool
    champion_version: str | None
    challenger_version: str
    reason: str
    challenger_metrics: Mapping[str, float] = field(default_factory=dict)
    champion_metrics: Mapping[str, float] = field(default_factory=dict)
    forced: bool = False
    comparison: Mapping[str, Any] = field(default_factory=dict)
    calibration: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["challenger_metrics"] = dict(self.challenger_metrics)
        out["champion_metrics"] = dict(self.champion_metrics)
        out["comparison"] = dict(self.comparison)
        out["calibration"] = dict(self.calibration)
        return out


def promote(
    client: MlflowClient,
    *,
    model_name: str,
    score: Callable[[str], np.ndarray],
    y_test: np.ndarray,
    metrics_fn: Callable[[np.ndarray, np.ndarray], Mapping[str, float]],
    settings: RegistrySettings,
    force: bool = False,
    drift: Callable[[str], list[str]] | None = None,
    folds: FoldPredictions | None = None,
) -> PromotionDecision:
    """Move the ``champion`` alias to the ``challenger`` version when it is better.

    ``folds(model_uri)`` returns a version's backtest fold predictions (see
    :data:`FoldPredictions`; :func:`backtest_predictions` reads them from its run). The
    challenger and the champion are compared on the folds both hold with the same customers
    and outcomes: the mean per-fold ROC AUC difference (challenger minus champion) with a
    ``settings.confidence`` paired bootstrap interval stratified by fold. The challenger needs
    a difference of at least ``settings.auc_margin`` (better by the margin) and the interval's
    lower end at least ``-settings.auc_margin`` (not plausibly worse by more than the margin).
    When no fold can be paired (a champion trained before fold predictions were kept, folds
    that moved on), the same rule runs on the test rows, and the reason says so. A champion
    whose test ECE fails the calibration rule below (its probabilities no longer hold) needs
    no margin: a challenger whose interval's lower end is at least ``-settings.auc_margin``
    (it ranks no worse) replaces it.

    ``score(model_uri)`` returns one churn probability per row of the current test population
    (``model_uri`` is ``models:/<name>/<version>``; :func:`load_model` loads it);
    ``metrics_fn(y_test, p)`` returns at least ``roc_auc`` and ``ece``. Both versions' test
    metrics are reported. Calibration: the challenger's test ECE and the mean ECE of its
    backtest folds must each be within ``settings.max_ece`` plus the ECE a calibrated model
    shows by chance on that many rows; a first version becomes champion on these alone (it is
    registered either way).

    ``drift(model_uri)``, when given, lists how the population the challenger would score has
    drifted from the one it was trained on (empty: no drift over the threshold); any drift
    refuses the challenger unless ``force``. A first version is promoted anyway (there must be
    a champion to score with), with the drift named in the reason. ``force`` promotes
    regardless and records that it did.

    When the comparison needs the champion's test probabilities and ``score`` raises
    PipelineStateError for it (it needs features the current test rows lack), the challenger
    is refused unless ``force``: nothing can be compared.

    Raises TrackingError when the model or its challenger does not exist.
    """
    registered = _registered_model(client, model_name)
    pipeline = _pipeline(model_name)
    challenger = registered.aliases.get(CHALLENGER)
    if challenger is None:
        raise TrackingError(
            f"{model_name} has no '{CHALLENGER}' version to promote: train and register one "
            f"with `churn train {pipeline}` then `churn register {pipeline}` (or `make run`)."
        )
    challenger = str(challenger)
    champion = registered.aliases.get(CHAMPION)
    champion = None if champion is None else str(champion)
    y = np.asarray(y_test)

    def probabilities(version: str) -> np.ndarray:
        return _probabilities(model_name, version, score, y)

    def predictions(version: str) -> pd.DataFrame | None:
        return None if folds is None else folds(f"models:/{model_name}/{version}")

    if champion == challenger:
        decision = PromotionDecision(
            promoted=False,
            champion_version=champion,
            challenger_version=challenger,
            reason=f"version {challenger} is already the champion of {model_name}; "
            "nothing to promote.",
        )
        return decision  # no tags: they keep the reason it was promoted

    p_challenger = probabilities(challenger)
    challenger_metrics = _metrics(y, p_challenger, metrics_fn)
    challenger_folds = predictions(challenger)
    calibration = backtest_calibration(challenger_folds, metrics_fn)
    drifted = drift(f"models:/{model_name}/{challenger}") if drift is not None else []
    drift_rule = (
        f"the population it would score has drifted from its training population: "
        f"{', '.join(drifted)}"
        if drifted
        else ""
    )
    if champion is None:
        note = f" Note: {drift_rule}." if drifted else ""
        failures, passes = first_version_rules(challenger_metrics, calibration, settings)
        if not failures:
            reason = (
                f"{model_name} has no champion yet: v{challenger} becomes champion "
                f"({'; '.join(passes)}).{note}"
            )
        elif force:
            reason = f"forced promotion of the first version v{challenger} although " + (
                f"{'; '.join(failures)}.{note}"
            )
        else:
            reason = (
                f"v{challenger} is registered but not champion: {'; '.join(failures)}. "
                f"{model_name} has no champion to score with until a version passes, or "
                f"`churn promote {pipeline} --force` makes this one champion anyway.{note}"
            )
        decision = PromotionDecision(
            promoted=force or not failures,
            champion_version=None,
            challenger_version=challenger,
            reason=reason,
            challenger_metrics=challenger_metrics,
            forced=force and bool(failures),
            calibration=calibration,
        )
    else:
        champion_metrics: dict[str, float] = {}
        comparison: dict[str, Any] = {}
        failures, passes = [], []
        p_champion: np.ndarray | None = None
        try:
            p_champion = probabilities(champion)
        except PipelineStateError as exc:
            cannot_score = str(exc)
        else:
            champion_metrics = _metrics(y, p_champion, metrics_fn)
        champion_folds = predictions(champion)
        paired, left_out = (
            paired_folds(challenger_folds, champion_folds)
            if challenger_folds is not None and champion_folds is not None
            else ([], [])
        )
        if paired:
            comparison = {"basis": "backtest folds", "left_out": left_out}
        elif p_champion is None:
            # nothing to pair on and the champion cannot score today's test rows (its
            # features no longer exist): only a person's --force may replace it
            failures.append(f"champion v{champion} cannot be compared: {cannot_score}")
        else:
            why = no_pairing_reason(challenger_folds, champion_folds, champion, left_out)
            comparison = {"basis": "test cutoff", "left_out": left_out, "why": why}
            paired = [PairedFold("test cutoff", y, p_challenger, p_champion)]
        recalibrates = False
        if champion_metrics:
            rule, holds = champion_ece_rule(champion, champion_metrics, settings)
            recalibrates = not holds
            comparison["champion_calibrated"] = holds
            if not holds:  # why the margin is waived, first in the reason
                passes.append(rule)
        if paired:
            difference = paired_auc_difference(
                paired, confidence=settings.confidence, resamples=settings.bootstrap_resamples
            )
            comparison.update(difference.report())
            rule, better = auc_rule(difference, comparison, settings, recalibrates=recalibrates)
            (passes if better else failures).append(rule)
        for rule, calibrated in ece_rules(challenger_metrics, calibration, settings):
            (passes if calibrated else failures).append(f"challenger {rule}")
        if drifted:
            failures.append(drift_rule)
        rules = "; ".join(failures + passes) + report_of_test_cutoff(
            challenger_metrics, champion_metrics
        )
        if failures and force:
            reason = f"forced promotion of v{challenger} over v{champion} although {rules}."
        elif failures:
            reason = f"kept v{champion}: {rules}. Use --force to promote anyway."
        else:
            reason = f"v{challenger} replaces v{champion}: {rules}."
        decision = PromotionDecision(
            promoted=force or not failures,
            champion_version=champion,
            challenger_version=challenger,
            reason=reason,
            challenger_metrics=challenger_metrics,
            champion_metrics=champion_metrics,
            forced=force and bool(failures),
            comparison=comparison,
            calibration=calibration,
        )
    if decision.promoted:
        client.set_registered_model_alias(model_name, CHAMPION, challenger)
        if champion is not None:
            client.set_model_version_tag(model_name, champion, "promotion.replaced_by", challenger)
    _record(client, model_name, decision)
    return decision


def backtest_predictions(client: MlflowClient, model_uri: str) -> pd.DataFrame | None:
    """The backtest fold predictions logged with ``model_uri``'s run (artifact
    :data:`PREDICTIONS_ARTIFACT`), or None when its run has none (a version trained before
    they were kept, or without backtest folds). Raises TrackingError when the file is there
    but unreadable or lacks a column the gate pairs on."""
    name, version = version_of(client, model_uri)
    try:
        run_id = client.get_model_version(name, version).run_id
        if not run_id or PREDICTIONS_ARTIFACT not in {
            a.path for a in client.list_artifacts(run_id)
        }:
            return None
        with tempfile.TemporaryDirectory(prefix="churn-folds-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=PREDICTIONS_ARTIFACT,
                dst_path=tmp,
                tracking_uri=client.tracking_uri,
            )
            frame = pd.read_parquet(local)
    except MlflowException as exc:
        raise TrackingError(
            f"could not read the backtest predictions of {model_uri} from "
            f"{client.tracking_uri}: {exc.message}"
        ) from exc
    except (OSError, ValueError) as exc:
        raise TrackingError(
            f"{model_uri}: its {PREDICTIONS_ARTIFACT} is unreadable ({exc}); retrain it with "
            f"`churn train` or promote with --force."
        ) from exc
    missing = [c for c in _PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise TrackingError(
            f"{model_uri}: its {PREDICTIONS_ARTIFACT} lacks column(s) {missing}; expected "
            f"{list(_PREDICTION_COLUMNS)}. Got {list(frame.columns)} instead."
        )
    return frame


def version_of(client: MlflowClient, model_uri: str) -> tuple[str, str]:
    """(name, version) of ``models:/<name>/<version>`` or ``models:/<name>@<alias>`` in
    ``client``'s registry. Raises TrackingError when the alias is not set."""
    match = _MODELS_URI.match(model_uri)
    if match is None:
        raise ValueError(
            must_be(
                parameter("model_uri"),
                "'models:/<name>/<version>' or 'models:/<name>@<alias>'",
                model_uri,
            )
        )
    name = match["name"]
    version = match["version"]
    if version is None:
        registered = _registered_model(client, name)
        if match["alias"] not in registered.aliases:
            raise TrackingError(
                f"{name} has no version with alias {match['alias']!r}; aliases set: "
                f"{sorted(registered.aliases)}."
            )
        version = str(registered.aliases[match["alias"]])
    return name, version


@contextlib.contextmanager
def local_model(client: MlflowClient, model_uri: str) -> Iterator[Path]:
    """The pyfunc folder of ``model_uri`` (see ``version_of``) downloaded from ``client``'s
    registry (not MLflow's global one) and checked, removed on exit. Raises TrackingError when
    there is no such version or MLflow fails while the folder is in use."""
    name, version = version_of(client, model_uri)
    try:
        source = client.get_model_version_download_uri(name, version)
        with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=tmp, tracking_uri=client.tracking_uri
            )
            check_pyfunc_folder(Path(local))
            yield Path(local)
    except MlflowException as exc:
        raise TrackingError(
            f"could not load {model_uri} from {client.tracking_uri}: {exc.message}. Check that "
            "the version exists (`mlflow ui`) and its artifacts were not deleted."
        ) from exc


def load_model(client: MlflowClient, model_uri: str) -> PyFuncModel:
    """Load ``models:/<name>/<version>`` or ``models:/<name>@<alias>`` from ``client``'s
    registry (not MLflow's global one). Raises TrackingError when there is no such version."""
    # Imported by churn.tracking.pyfunc first, where its import-time warning is silenced.
    from mlflow.pyfunc import load_model as load_pyfunc  # noqa: PLC0415

    with local_model(client, model_uri) as folder:
        return load_pyfunc(str(folder))


def load_churn_model(client: MlflowClient, model_uri: str) -> ChurnModel:
    """The :class:`ChurnModel` inside a registered version (see :func:`load_model`)."""
    return churn_model_of(load_model(client, model_uri))


def test_rows(labels: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Labelled feature rows of the test cutoff (``labels.parquet`` joined to
    ``features.parquet``): the population every version is judged on by :func:`promote`."""
    return split_rows(labelled_rows(features, labels), "test")


def probabilities_on(client: MlflowClient, model_uri: str, rows: pd.DataFrame) -> np.ndarray:
    """Churn probabilities of ``model_uri`` on ``rows`` (from :func:`test_rows`), one per row:
    the ``score`` that :func:`promote` compares versions with.

    Raises PipelineStateError when the version needs feature columns ``rows`` lacks (the
    feature set changed since it was trained), TrackingError when it cannot be loaded.
    """
    pyfunc = load_model(client, model_uri)
    schema = pyfunc.metadata.get_input_schema()  # type: ignore[no-untyped-call]
    wanted = schema.input_names() if schema is not None else list(rows.columns)
    required = schema.required_input_names() if schema is not None else wanted
    missing = [c for c in required if c not in rows.columns]
    if missing:
        pipeline = _pipeline(version_of(client, model_uri)[0])
        raise PipelineStateError(
            f"{model_uri} needs feature(s) {missing} that the current features lack: the feature "
            "set changed since it was trained. Promote the new version with "
            f"`churn promote {pipeline} --force` if it should replace it."
        )
    out = pd.DataFrame(pyfunc.predict(rows[[c for c in wanted if c in rows.columns]]))
    return np.asarray(out[PROBABILITY_COLUMN], dtype=float)


def champion_uri(client: MlflowClient, model_name: str) -> tuple[str, str]:
    """``models:/<model_name>/<version>`` of the champion, and the version.

    Raises TrackingError when the model is not registered or has no champion yet.
    """
    registered = _registered_model(client, model_name)
    version = registered.aliases.get(CHAMPION)
    if version is None:
        raise TrackingError(
            f"no champion yet for {model_name}: {_why_no_champion(client, model_name)}"
        )
    return f"models:/{model_name}/{version}", str(version)


def load_champion(client_or_uri: MlflowClient | str, model_name: str) -> tuple[PyFuncModel, str]:
    """The champion of ``model_name`` as a pyfunc, and its version.

    Raises TrackingError when the model is not registered or has no champion yet.
    """
    client = connect(client_or_uri) if isinstance(client_or_uri, str) else client_or_uri
    uri, version = champion_uri(client, model_name)
    return load_model(client, uri), version


def _why_no_champion(client: MlflowClient, model_name: str) -> str:
    """What the last promotion of ``model_name`` decided, or how to make a champion."""
    pipeline = _pipeline(model_name)
    versions = client.search_model_versions(f"name='{model_name}'")
    latest = max(versions, key=lambda v: int(v.version), default=None)
    reason = None if latest is None else latest.tags.get("promotion.reason")
    if reason is None:
        return f"run `churn promote {pipeline}` (or `make run`)."
    return (
        f"{reason} (fix what it names and run `churn train {pipeline}`, `churn register "
        f"{pipeline}` again, or force it)"
    )


def _registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise TrackingError(
                f"no registered model named {name!r} in {client.tracking_uri}: train and "
                f"register one with `churn train {_pipeline(name)}` then `churn register "
                f"{_pipeline(name)}` (or `make run`), or set MLFLOW_TRACKING_URI to the store "
                "that holds it."
            ) from exc
        raise TrackingError(
            f"could not read {name!r} from the registry {client.tracking_uri}: {exc.message}"
        ) from exc


def _pipeline(model_name: str) -> str:
    return model_name.removeprefix("churn-")


def _probabilities(
    model_name: str, version: str, score: Callable[[str], np.ndarray], y: np.ndarray
) -> np.ndarray:
    proba = np.asarray(score(f"models:/{model_name}/{version}"), dtype="float64")
    if proba.shape != y.shape:
        raise ValueError(
            f"score() must return one probability per test row ({y.shape[0]}) for "
            f"{model_name} v{version}. Got shape {proba.shape} instead."
        )
    return proba


def _metrics(
    y: np.ndarray,
    proba: np.ndarray,
    metrics_fn: Callable[[np.ndarray, np.ndarray], Mapping[str, float]],
) -> dict[str, float]:
    metrics = {key: float(value) for key, value in metrics_fn(y, proba).items()}
    missing = [key for key in ("roc_auc", "ece") if key not in metrics]
    if missing:
        raise ValueError(f"metrics_fn must return {missing}. Got {sorted(metrics)} instead.")
    return metrics


def _record(client: MlflowClient, model_name: str, decision: PromotionDecision) -> None:
    if decision.promoted:
        outcome = "promoted"
    elif decision.champion_version == decision.challenger_version:
        outcome = "already_champion"
    else:
        outcome = "refused"
    tags = {
        "promotion.decision": outcome,
        "promotion.reason": decision.reason,
        "promotion.forced": str(decision.forced).lower(),
        "promotion.compared_with": decision.champion_version or "",
        **_comparison_tags(decision.comparison),
        **{f"promotion.metrics.{k}": f"{v:.6g}" for k, v in decision.challenger_metrics.items()},
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, decision.challenger_version, key, value)


def _comparison_tags(comparison: Mapping[str, Any]) -> dict[str, str]:
    if "roc_auc_difference" not in comparison:
        return {}
    return {
        "promotion.basis": str(comparison["basis"]),
        "promotion.auc_difference": f"{comparison['roc_auc_difference']:.6g}",
        "promotion.auc_difference_interval": (
            f"{comparison['ci_low']:.6g} {comparison['ci_high']:.6g}"
        ),
        "promotion.folds": ", ".join(comparison["folds"]),
    }


def model_name(pipeline: str) -> str:
    return f"churn-{pipeline}"
