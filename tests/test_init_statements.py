"""``churn init`` on monthly statements: a row per customer per month, spend or not (a card
or bank account's statement lines). Every customer had a row in every month, so init counted
everyone as active to the end: "the training cutoff labels 0 churners". The months without
spend are no purchase (``data.events.zero_amount_event_type``). And a count of transactions
(``TXN_COUNT``) had been taken for the order id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.contract import clean_event_chunk
from churn.data.inference import infer_event_roles
from churn.data.problems import Problems
from churn.settings import EventsSettings
from tests._project import run_stages
from tests.test_init import export, init, project, written


def _statements(n: int, seed: int) -> pd.DataFrame:
    """A statement per customer per month from joining to the end of the data; spend stops
    (but not the statements) when a customer stops using the card."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2021-01-31", "2024-03-31", freq="ME")
    rows = []
    for i in range(n):
        join, life = int(rng.integers(0, 12)), int(rng.geometric(1 / 14))
        for k, month in enumerate(months[join:]):
            count = int(rng.poisson(8)) if k < life else 0
            rows.append(
                {
                    "CLIENT_ID": str(700_000 + i),
                    "STMT_DATE": month.strftime("%d/%m/%Y"),
                    "TXN_COUNT": str(count),
                    "SPEND_GBP": f"{count * rng.uniform(10, 40):.2f}" if count else "0.00",
                }
            )
    return pd.DataFrame(rows)


def test_a_count_of_transactions_is_no_order_id() -> None:
    assert infer_event_roles(_statements(30, seed=1)).order_id is None


@pytest.mark.parametrize(
    ("column", "expected"),
    [("n_orders", None), ("OrderCount", None), ("num_transactions", None), ("InvoiceNo", "x")],
)
def test_measures_of_orders_are_no_order_id(column: str, expected: str | None) -> None:
    sample = _statements(30, seed=1).rename(columns={"TXN_COUNT": column})
    assert infer_event_roles(sample).order_id == (column if expected else None)


def test_statement_months_without_spend_are_no_activity_from_init_to_labels(
    tmp_path: Path,
) -> None:
    statements = _statements(150, seed=2)
    root = project(tmp_path)
    code, output = init(root, "cards", "--events", str(export(tmp_path, statements, "s.csv")))
    assert code == 0, output
    assert "0 churners" not in output
    assert "they are event type no_spend, which is no activity" in output
    params = written(root, "cards")
    assert params["data"]["events"]["zero_amount_event_type"] == "no_spend"
    assert params["labels"]["activity_event_types"] == ["purchase"]
    assert params["features"]["event_types"] == ["purchase", "no_spend"]
    run_stages(root, ["ingest", "labels"], name="cards")
    events = pd.read_parquet(root / "data/interim/cards/canonical/events.parquet")
    zero = events["amount"].eq(0)
    assert zero.sum() == statements["SPEND_GBP"].eq("0.00").sum()
    assert set(events.loc[zero, "event_type"]) == {"no_spend"}
    assert set(events.loc[~zero, "event_type"]) == {"purchase"}
    labels = pd.read_parquet(root / "data/interim/cards/labels.parquet")
    train = labels[labels["split"] == "train"]
    assert 0 < train["churned"].mean() < 1


def test_a_zero_amount_keeps_the_type_the_row_has() -> None:
    """Only rows of the default type become zero_amount_event_type: a page view of amount 0
    stays a page view."""
    settings = EventsSettings.model_validate(
        {
            "sources": [
                {
                    "path": "e.csv",
                    "columns": {
                        "customer_id": "c",
                        "timestamp": "t",
                        "amount": "a",
                        "event_type": "k",
                    },
                }
            ],
            "zero_amount_event_type": "no_spend",
        }
    )
    raw = pd.DataFrame(
        {
            "c": ["1", "1", "2", "2"],
            "t": ["2024-01-01", "2024-02-01", "2024-01-05", "2024-01-06"],
            "a": ["0", "12.5", "0", ""],
            "k": ["", "", "page_view", ""],
        }
    )
    frame, _ = clean_event_chunk(
        raw,
        settings.sources[0],
        settings,
        Problems(),
        now=pd.Timestamp("2024-06-01").to_pydatetime(),
        attributes=[],
    )
    assert frame is not None
    assert frame["event_type"].tolist() == ["no_spend", "purchase", "page_view", "purchase"]


def test_sessions_without_a_purchase_stay_activity(tmp_path: Path) -> None:
    """A game's sessions: an in-app purchase on a few of them, a length on every one. A
    session without a purchase is still a player playing: no rows become no_spend."""
    rng = np.random.default_rng(6)
    rows = []
    for i in range(150):
        start, stop = int(rng.integers(0, 100)), int(rng.integers(120, 400))
        for day in range(start, stop, int(rng.integers(1, 6))):
            rows.append(
                {
                    "player_id": f"p{i:04d}",
                    "session_start": 1_704_067_200_000 + day * 86_400_000,
                    "session_length_s": int(rng.integers(60, 3600)),
                    "iap_usd": 4.99 if rng.uniform() < 0.03 else 0.0,
                }
            )
    root = project(tmp_path)
    path = export(tmp_path, pd.DataFrame(rows), "sessions.csv")
    code, output = init(root, "game", "--events", str(path))
    assert code == 0, output
    params = written(root, "game")
    source = params["data"]["events"]["sources"][0]
    assert source["columns"]["amount"] == "iap_usd" and "session_length_s" in source["measures"]
    assert "zero_amount_event_type" not in params["data"]["events"]
