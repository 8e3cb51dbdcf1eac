"""The report's "Why this list" section: what past campaigns measured, what the uplift model
learned on campaigns it never saw, and how the targeting policies compare at one budget. Built
from ``campaigns.json`` (churn monitor), ``uplift.json`` (churn uplift) and ``scoring.json``;
nothing here reads a file."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churn.reporting.page import Note, Section, Table


def _pct_points(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}"


def _interval(row: dict[str, Any]) -> str:
    return f"{_pct_points(row['effect_low'])} to {_pct_points(row['effect_high'])}"


def _effects_table(rows: list[dict[str, Any]], by: tuple[str, ...]) -> pd.DataFrame:
    out = []
    for r in rows:
        measured = r["measurable"]
        out.append(
            {
                **{k: r[k] for k in by},
                "contacted": r["n_contacted"],
                "control": r["n_control"],
                "churn contacted": "-"
                if r["churn_rate_contacted"] is None
                else f"{r['churn_rate_contacted']:.1%}",
                "churn control": "-"
                if r["churn_rate_control"] is None
                else f"{r['churn_rate_control']:.1%}",
                "effect (points)": _pct_points(r["effect"]) if measured else "-",
                "90 % interval": _interval(r) if measured else r["reason"],
            }
        )
    return pd.DataFrame(out)


def _priors_table(updates: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "action": u["action"],
                "prior effect": round(u["prior"], 3),
                "measured": "-" if u["measured"] is None else round(u["measured"], 3),
                "posterior": round(u["posterior"], 3),
                "posterior sd": round(u["posterior_sd"], 3),
            }
            for u in updates
        ]
    )


def _rankings_table(held: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for name, r in held["rankings"].items():
        row: dict[str, Any] = {"ranking": name.replace("_", " "), "Qini": round(r["qini"], 4)}
        for key, value in r.items():
            if key.startswith("uplift_at_"):
                share = key.removeprefix("uplift_at_").removesuffix("pct")
                row[f"kept at top {share} % (points)"] = _pct_points(value)
        rows.append(row)
    return pd.DataFrame(rows)


def campaigns_section(
    campaigns: dict[str, Any] | None, uplift: dict[str, Any] | None, scoring: dict[str, Any]
) -> Section:
    """Why this list (see the module docstring); any input may be None (not written yet)."""
    items: list[Any] = []
    values_from = scoring.get("action_values_from")
    if values_from:
        items.append(Note(f"The recommended actions on this list are valued by {values_from}."))
    if campaigns is None or "by_action" not in campaigns:
        note = (campaigns or {}).get("note") or "no contact history (data.contacts)"
        items.append(
            Note(
                f"Past campaigns: {note}. Map the contacts you made (customer, date, action, "
                "control flag) as data.contacts and churn measures what each action did."
            )
        )
    else:
        c = campaigns["contacts"]
        items.append(
            Note(
                f"Past campaigns: {c['contacts']:,} contacts, {c['with_outcome']:,} with a known "
                f"outcome over {len(campaigns['campaigns'])} campaign day(s) "
                f"({c['waiting_for_outcome']:,} still waiting). Effect = churn rate of the "
                "control group minus that of the contacted, in percentage points (positive: "
                "contact kept customers), with its 90 % interval."
            )
        )
        items.append(Table(_effects_table(campaigns["overall"], ()), "Contacted against control"))
        items.append(Table(_effects_table(campaigns["by_action"], ("action",)), "Per action"))
        items.append(
            Table(
                _effects_table(campaigns["by_action_and_tier"], ("action", "tier")),
                "Per action and risk tier (the tier on churn's list of the contact's day)",
            )
        )
        if campaigns.get("playbook_effects"):
            items.append(
                Table(
                    _priors_table(campaigns["playbook_effects"]),
                    "The playbook's effects (share of the churn probability removed): prior, "
                    "measured, and the posterior the list uses",
                )
            )
    if uplift is not None:
        if not uplift.get("fitted"):
            items.append(Note(f"Uplift model: none. {uplift.get('reason', '')}"))
        else:
            held = uplift.get("held_out") or {}
            if held.get("evaluated"):
                h = held["held_out"]
                items.append(
                    Table(
                        _rankings_table(held),
                        f"Held-out campaigns ({h['days']}, {h['contacts']:,} contacts of which "
                        f"{h['control']:,} control): customers kept by contacting the top of "
                        "each ranking. A ranking by risk contacts customers who leave whatever "
                        "we do; one by uplift, those an action changes.",
                    )
                )
            else:
                items.append(Note(f"Uplift model fitted; not judged: {held.get('reason', '')}"))
            if uplift.get("use_reason"):
                used = "used" if uplift.get("used_for_scoring") else "not used"
                items.append(Note(f"Uplift model {used} for this list: {uplift['use_reason']}."))
    return Section("Why this list", items, "campaigns")
