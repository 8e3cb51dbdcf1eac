"""The playbook's effects updated by what past contacts measured.

Each action's ``effect`` in params is a prior (the share of the churn probability a contact
removes, with its ``effect_sd``). Once contacts with a control group have known outcomes, the
measured relative effect per action (:func:`churn.campaigns.effects.measure_effects`) updates
it (normal-normal, :func:`churn.campaigns.effects.updated_offers`), and the list ranks by the
posterior. Pure: settings and frames in, settings and records out.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from churn.campaigns.effects import measure_effects, updated_offers
from churn.scoring.playbook import offers
from churn.settings import PlaybookSettings


def measured_playbook(
    playbook: PlaybookSettings, outcomes: pd.DataFrame, *, level: float = 0.9
) -> tuple[PlaybookSettings, list[dict[str, Any]]]:
    """``playbook`` with each action's effect and effect_sd replaced by its posterior given the
    contact ``outcomes`` (action, control, churned), and one record per action (prior,
    measured, posterior, sizes). Actions nobody measured keep their prior."""
    if outcomes.empty:
        return playbook, []
    measured = measure_effects(outcomes, by=("action",), level=level)
    posterior, records = updated_offers(offers(playbook), measured)
    by_action = {o.action: o for o in posterior}
    rules = [
        rule.model_copy(
            update={
                "effect": by_action[rule.action].effect,
                "effect_sd": by_action[rule.action].effect_sd,
            }
        )
        for rule in playbook.rules
    ]
    default = by_action.get(playbook.default_action)
    update: dict[str, Any] = {"rules": rules}
    if default is not None:
        update |= {"default_effect": default.effect, "default_effect_sd": default.effect_sd}
    return playbook.model_copy(update=update), [asdict(r) for r in records]
