"""A pipeline's plots in dvc.yaml: DVC's top-level ``plots:`` cannot loop over
``vars.pipelines`` as stages do, so ``churn init`` writes each pipeline's entries
(:func:`churn.reporting.plot_files.dvc_plot_definitions`) by a text edit that keeps comments
and layout. Pure: text in, text out."""

from __future__ import annotations

import re
from typing import Any

import yaml

from churn.errors import ConfigError
from churn.reporting.plot_files import CURVES, MODEL_SERIES, dvc_plot_definitions, plot_id
from churn.settings import PipelineSettings

__all__ = ["add_plots", "declared_plots", "plot_series", "render_plots"]

_SECTION = re.compile(r"^plots:\s*(#.*)?$")
_TOP_LEVEL = re.compile(r"^[^\s#]")
_ENTRY = re.compile(r"^(?P<indent>\s*)-\s+(?P<id>[^\s:]+)\s*:")


def plot_series(settings: PipelineSettings) -> list[str]:
    """The series ``churn train`` draws for this pipeline as its params say: the model and the
    baselines its kind fits. Events: recency, logistic RFM, and BG/NBD when a source maps an
    amount (or quantity and unit price); a snapshot: the one-hot logistic regression, and
    tenure when ``data.snapshot.tenure_attribute`` is set. (BG/NBD also needs amounts on the
    activity events, which only the data tell: when it has none, DVC says the file is missing
    and draws the other lines.)"""
    data = settings.data
    if data.kind == "snapshot":
        tenure = data.snapshot is not None and data.snapshot.tenure_attribute is not None
        return [MODEL_SERIES, "logistic_onehot", *(["tenure"] if tenure else [])]
    sources = data.events.sources if data.events is not None else []
    amounts = any(
        "amount" in s.columns or {"quantity", "unit_price"} <= set(s.columns) for s in sources
    )
    return [MODEL_SERIES, "recency", "logistic_rfm", *(["bgnbd"] if amounts else [])]


def render_plots(name: str, series: list[str]) -> str:
    """The entries of pipeline ``name`` under dvc.yaml's ``plots:``, as YAML text."""
    lines = []
    for entry in dvc_plot_definitions(name, series):
        ((key, body),) = entry.items()
        lines += [
            f"  - {key}:",
            f"      template: {body['template']}",
            f"      x: {body['x']}",
            "      y:",
            *(f"        {path}: {column}" for path, column in body["y"].items()),
        ]
    return "\n".join(lines) + "\n"


def declared_plots(dvc_yaml: str) -> dict[str, Any]:
    """The top-level ``plots:`` of a dvc.yaml text by id (a path entry maps to None)."""
    spec = yaml.safe_load(dvc_yaml) or {}
    out: dict[str, Any] = {}
    for entry in spec.get("plots") or []:
        if isinstance(entry, dict):
            out.update(entry)
        else:
            out[str(entry)] = None
    return out


def add_plots(dvc_yaml: str, name: str, series: list[str]) -> str:
    """``dvc_yaml`` with the plots of pipeline ``name`` under its top-level ``plots:`` (added
    at the end of the file when it has none). Entries of the same ids are replaced where they
    stand; others are appended to the section. Text edit: comments and layout survive."""
    block = render_plots(name, series).splitlines(keepends=True)
    ids = {plot_id(name, c) for c in CURVES}
    lines = dvc_yaml.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line.rstrip("\n"))), None)
    if start is None:
        lines += ["\n", "plots:\n", *block]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if _TOP_LEVEL.match(lines[i])), len(lines)
        )
        kept: list[str] = []
        at: int | None = None
        skipping: int | None = None  # indent of the dash of the entry being removed
        for line in lines[start + 1 : end]:
            entry = _ENTRY.match(line)
            depth = len(line) - len(line.lstrip())
            if skipping is not None and line.strip() and depth <= skipping:
                skipping = None
            if entry and entry["id"] in ids:
                skipping = len(entry["indent"])
                at = len(kept) if at is None else at
                continue
            if skipping is None:
                kept.append(line)
        if at is None:
            at = len(kept)
            while at > 0 and not kept[at - 1].strip():
                at -= 1
        kept[at:at] = block
        lines[start + 1 : end] = kept
    text = "".join(lines)
    wanted = {k: v for d in dvc_plot_definitions(name, series) for k, v in d.items()}
    found = declared_plots(text)
    if {k: found.get(k) for k in wanted} != wanted:  # pragma: no cover - a layout we missed
        raise ConfigError(
            f"Could not add the plots of {name} to dvc.yaml; add these under `plots:` by hand:"
            f"\n{''.join(block)}"
        )
    return text
