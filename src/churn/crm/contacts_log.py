"""The live list's outreach slice as past contacts: ``data/exports/<p>/contacts_log.csv``.

Once the campaign has run, a user appends this file to the table mapped as ``data.contacts``,
so ``churn monitor`` measures the list's own effect without a contacts table rebuilt by hand.
One row per customer of the outreach slice, contacted and control alike, in the contacts
contract's shape (:func:`churn.data.contract.canonical_contacts`):

* ``customer_id``
* ``contacted_at``: the list's cutoff (ISO date), the day the list was drawn for
* ``action``: the ``planned_action`` (a control row's too: the action it would have had, so it
  is compared with the contacted rows of that action)
* ``group``: ``contacted`` or ``control``, values the contacts mapping reads by default
* ``channel``: empty; the list does not choose one
* ``cost``: the playbook's cost of the action (0 for a control row, which costs nothing)

Pure: the scores and the playbook come in, a frame of text cells comes out.
"""

from __future__ import annotations

import pandas as pd

from churn.crm.writers import neutralise
from churn.settings import PlaybookSettings

LOG_FILE = "contacts_log"
"""Name of the file (``data/exports/<p>/contacts_log.csv``)."""
LOG_COLUMNS = ("customer_id", "contacted_at", "action", "group", "channel", "cost")
CONTACTED = "contacted"
CONTROL = "control"

LOG_MAPPING = {
    "customer_id": "customer_id",
    "timestamp": "contacted_at",
    "action": "action",
    "control": "group",
    "channel": "channel",
    "cost": "cost",
}
"""``data.contacts.sources[].columns`` that reads the log (the docs quote it)."""


def action_costs(playbook: PlaybookSettings) -> dict[str, float]:
    """Cost per contact of each playbook action: its first rule's ``cost``, the default
    action's ``default_cost`` (an action named by two rules takes the first rule's)."""
    costs: dict[str, float] = {}
    for rule in playbook.rules:
        costs.setdefault(rule.action, rule.cost)
    costs.setdefault(playbook.default_action, playbook.default_cost)
    return costs


def contacts_log(scores: pd.DataFrame, playbook: PlaybookSettings) -> pd.DataFrame:
    """One row per outreach customer of ``scores`` (``scores.parquet``, in its order) with
    :data:`LOG_COLUMNS`. ``scores`` needs ``customer_id``, ``cutoff``, ``in_outreach``,
    ``control_group`` and ``planned_action``. An action the playbook no longer has (scores
    made with another playbook) gets an empty cost; text a spreadsheet would run as a formula
    is neutralised as in the CRM files."""
    rows = scores[scores["in_outreach"].astype(bool)]
    control = rows["control_group"].astype(bool)
    costs = action_costs(playbook)
    action = rows["planned_action"].astype(object)
    cost = action.map(costs).astype("float64").where(~control, 0.0)
    out = pd.DataFrame(
        {
            "customer_id": neutralise(rows["customer_id"].astype(str), key=True),
            "contacted_at": pd.to_datetime(rows["cutoff"]).dt.strftime("%Y-%m-%d"),
            "action": neutralise(action),
            "group": control.map({True: CONTROL, False: CONTACTED}),
            "channel": "",
            "cost": cost,
        },
        index=rows.index,
    )
    return out.reset_index(drop=True)[list(LOG_COLUMNS)]
