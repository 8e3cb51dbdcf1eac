"""Usage logs: a row per account per active day with numbers (logins, API calls, GB stored,
tickets). Those numbers were read by nothing, so an account whose logins fell by half looked
like one whose stayed: only the days with a row counted. Init now maps them as measures
(``data.events.sources[].measures``), each summed over every feature window, per active day
and as a trend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import infer_event_roles, measure_columns
from churn.features.catalogue import FeatureSpec, feature_catalogue, slug
from churn.init.params_file import measure_names
from churn.settings import FeatureSettings
from tests._project import run_stages
from tests.test_init import export, init, project, written


def _usage(n: int, seed: int) -> pd.DataFrame:
    """Daily usage of ``n`` accounts over a year and a half; usage fades before an account
    leaves."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2023-01-01", "2024-06-30", freq="D")
    rows = []
    for a in range(n):
        start, health = int(rng.integers(0, 200)), rng.uniform(0.3, 1.0)
        end = min(start + int(rng.exponential(250 * health + 60)), len(days))
        for d in range(start, end):
            fade = min(1.0, (end - d) / 45) if end < len(days) else 1.0
            if rng.random() < 0.7 * health * fade + 0.05:
                rows.append(
                    {
                        "account_id": f"ACC-{a:05d}",
                        "usage_date": days[d].strftime("%Y-%m-%d"),
                        "logins": int(rng.poisson(20 * health * fade + 1)),
                        "storage_gb": round(float(rng.gamma(2, 3 * health + 0.1)), 3),
                        "event_seq": len(rows),  # a row number: no measure
                        "unit_price": 9.99,  # a constant price: no measure
                        "plan_level": int(rng.integers(1, 4)),  # a level: no measure
                    }
                )
    return pd.DataFrame(rows)


def test_numbers_each_event_holds_are_measures_and_ids_prices_and_levels_are_not() -> None:
    sample = _usage(40, seed=1)
    sample["session_id"] = np.arange(len(sample)) // 3  # an id, though it repeats
    sample["zip"] = 10_000 + np.arange(len(sample)) % 7
    sample["PRODUCT_SUBCLASS"] = 100_000 + np.arange(len(sample)) % 40  # a class's code
    assert measure_columns(sample, list(sample.columns[2:])) == ("logins", "storage_gb")
    noted = sample.astype({"logins": object})
    noted.loc[3, "logins"] = "n/a"  # written as none: still a measure
    noted["seats"] = ["many" if i == 5 else str(i % 4) for i in range(len(noted))]
    assert measure_columns(noted, ["logins", "seats"]) == ("logins",)  # ingest refuses "many"
    roles = infer_event_roles(sample)
    assert (roles.customer_id, roles.timestamp.column) == ("account_id", "usage_date")
    assert roles.measures == ("logins", "storage_gb")


def test_a_usage_log_s_measures_go_from_init_to_features(tmp_path: Path) -> None:
    usage = _usage(120, seed=2)
    root = project(tmp_path)
    code, output = init(root, "saas", "--events", str(export(tmp_path, usage, "usage.csv")))
    assert code == 0, output
    assert "logins, storage_gb" in output
    source = written(root, "saas")["data"]["events"]["sources"][0]
    assert source["measures"] == {"logins": "logins", "storage_gb": "storage_gb"}
    run_stages(root, ["ingest", "labels", "features"], name="saas")
    events = pd.read_parquet(root / "data/interim/saas/canonical/events.parquet")
    assert events["logins"].sum() == usage["logins"].sum()
    features = pd.read_parquet(root / "data/interim/saas/features.parquet")
    cutoff = features["cutoff"].max()
    at = features[features["cutoff"] == cutoff].set_index("customer_id")
    seen = usage.assign(day=pd.to_datetime(usage["usage_date"]))
    recent = seen[(seen["day"] < cutoff) & (seen["day"] >= cutoff - pd.Timedelta(days=30))]
    want = recent.groupby("account_id")["logins"].sum()
    got = at.loc[want.index, "logins_30d"]
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy(dtype=float))
    written_features = written(root, "saas")["features"]
    longest = max(written_features.get("windows_days", [365]))
    trend = written_features.get("trend_window_days", 90)
    wanted = {f"storage_gb_per_active_day_{longest}d", f"logins_trend_{trend}d"}
    assert wanted <= set(features.columns)


def test_a_measure_named_like_a_built_in_feature_or_a_canonical_column_is_renamed() -> None:
    """A daily usage table's `orders` or `spend` would give `orders_30d` beside the log's own,
    and `quantity` is a canonical column: init names such measures `<column>_sum`."""
    names = measure_names(["logins", "orders", "quantity", "Logins", "spend", "TXN_COUNT"])
    assert names == {
        "logins": "logins",
        "orders_sum": "orders",
        "quantity_sum": "quantity",
        "Logins_sum": "Logins",  # the same features as logins'
        "spend_sum": "spend",
        "TXN_COUNT": "TXN_COUNT",
    }


# MLflow compares the input example's columns with a range, which pandas 3 deprecates.
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning")
def test_a_usage_log_s_reasons_speak_of_activity_not_purchases(tmp_path: Path) -> None:
    """A log without amounts is no record of purchases: its recency reason reads "No activity
    for 57 days", where it used to read "No purchase for 57 days"."""
    usage = _usage(300, seed=3).drop(columns=["unit_price"])
    rng = np.random.default_rng(3)  # logins that do not fade: no feature gives the label away
    usage["logins"] = rng.poisson(10, len(usage))
    root = project(tmp_path)
    code, output = init(root, "saas", "--events", str(export(tmp_path, usage, "usage.csv")))
    assert code == 0, output
    columns = written(root, "saas")["data"]["events"]["sources"][0]["columns"]
    assert not {"amount", "unit_price"} & set(columns)
    run_stages(root, ["ingest", "labels", "features", "train", "register", "score"], name="saas")
    scores = pd.read_parquet(root / "data/scored/saas/scores.parquet")
    texts = scores.filter(regex=r"^reason_\d+_text$").stack().astype(str)
    assert texts.str.startswith("No activity for ").any(), texts.value_counts().head()
    assert not texts.str.contains("purchase").any(), texts[texts.str.contains("purchase")].head()


@pytest.mark.parametrize(
    ("column", "name"),
    [
        ("Data Used (MB)", "data_used_mb"),
        ("Minutes.Played", "minutes_played"),
        ("  logins (#) ", "logins"),
        ("Temps passé", "temps_passé"),
    ],
)
def test_a_measure_s_feature_names_have_one_underscore_between_words(
    column: str, name: str
) -> None:
    assert slug(column) == name
    features = feature_catalogue(
        FeatureSpec(FeatureSettings(), ("purchase",), event_measures=(column,))
    )
    assert f"{name}_30d" in {f.name for f in features}
    assert not any("__" in f.name for f in features)


def test_a_length_of_time_or_size_in_whole_numbers_all_different_is_a_measure() -> None:
    """A music app's `duration_ms` (a track's length), `bytes_sent`, `watch_time_seconds`:
    whole numbers nearly all different were refused as an id. Named in a unit and in no
    sequence they are measures; in a sequence (consecutive, rising, unix times) they are not."""
    rng = np.random.default_rng(5)
    n = 2000
    sample = pd.DataFrame(
        {
            "user_id": [f"u{k % 60:03d}" for k in range(n)],
            "played_at": pd.date_range("2024-01-01", periods=n, freq="37min").strftime(
                "%Y-%m-%d %H:%M"
            ),
            "duration_ms": rng.integers(90_000, 420_000, n),
            "bytes_sent": rng.integers(10**6, 10**9, n),
            "watch_time_seconds": rng.integers(0, 10**6, n),
            "offset_ms": rng.permutation(n) + 50_000,  # consecutive numbers, shuffled: ids
            "logged_ms": rng.integers(1_700_000_000_000, 1_710_000_000_000, n),  # unix times
            "request_seq_ms": np.arange(n) * 7 + 3,  # rising from row to row: a sequence
            "track_number": rng.integers(10**6, 10**9, n),  # an id by name, though random
        }
    ).astype(str)
    found = measure_columns(sample, list(sample.columns[2:]), customers=sample["user_id"])
    assert found == ("duration_ms", "bytes_sent", "watch_time_seconds")
    assert infer_event_roles(sample).measures == found
