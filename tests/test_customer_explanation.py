"""The pure helpers behind notebooks/02-why-this-customer.ipynb and the notebooks' context;
the notebook itself runs in test_notebooks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churn.errors import ConfigError, PipelineStateError
from churn.io.notebooks import find_project_dir, notebook_context
from churn.scoring.customer_explanation import first_to_contact, reason_table, scored_row


@pytest.fixture
def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "priority_rank": [1, 2, 3, 4],
            "in_outreach": [True, True, True, False],
            "control_group": [True, False, False, False],
            "reason_1_code": ["RECENCY", "SPEND", None, None],
            "reason_1_text": ["No purchase for 74 days", "Spend fell", None, None],
            "reason_1_actionable": pd.array([True, True, None, None], dtype="boolean"),
            "reason_2_code": ["TENURE", None, None, None],
            "reason_2_text": ["Customer for 20 days", None, None, None],
            "reason_2_actionable": pd.array([False, None, None, None], dtype="boolean"),
        }
    )


def test_first_to_contact_skips_the_control_group(scores: pd.DataFrame) -> None:
    assert first_to_contact(scores)["customer_id"] == "c2"
    nobody = scores.assign(control_group=scores["in_outreach"])
    with pytest.raises(PipelineStateError, match="nobody in the outreach slice"):
        first_to_contact(nobody)


def test_reason_table_lists_only_the_reasons_a_customer_has(scores: pd.DataFrame) -> None:
    table = reason_table(scored_row(scores, "c1"))
    assert table.to_dict("list") == {
        "rank": [1, 2],
        "code": ["RECENCY", "TENURE"],
        "text": ["No purchase for 74 days", "Customer for 20 days"],
        "actionable": [True, False],
    }
    assert reason_table(scored_row(scores, "c3")).empty
    with pytest.raises(PipelineStateError, match=r"'c9' is not in scores\.parquet"):
        scored_row(scores, "c9")


def test_notebooks_find_the_project_above_them_or_read_it_from_the_environment(
    tmp_path: Path,
) -> None:
    root = Path(__file__).resolve().parents[1]
    assert find_project_dir(root / "notebooks") == root
    context = notebook_context({}, cwd=root / "notebooks")
    assert (context.paths.project_dir, context.paths.name) == (root, "retail")
    context = notebook_context({"CHURN_PROJECT_DIR": str(root), "CHURN_PIPELINE": "cdnow"})
    assert context.settings.name == "cdnow"
    with pytest.raises(ConfigError, match="CHURN_PROJECT_DIR"):
        find_project_dir(tmp_path)
