"""``churn init`` on product-analytics exports (Amplitude's ``user_id`` beside ``device_id``,
Segment's ``userId`` beside ``anonymousId``): the user id is blank on the visits before
sign-in and on every visit of those who never sign in. Init keys by the signed-in id and says
how many rows it leaves out and how many of those an identity step could have kept, instead of
"N of the first 5,000 rows have no customer id (guests?)"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.inference import infer_event_roles
from churn.init.anonymous import anonymous_column
from tests.test_init import export, init, project, written


def amplitude_like(n_users: int = 240, seed: int = 11) -> pd.DataFrame:
    """Sessions of users on their own device; half never sign in, the others are anonymous on
    their first days."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    rows = []
    for user in range(n_users):
        device = f"{rng.integers(16**11, 16**12):012x}-{user:04d}"
        signs_in = user % 2 == 0
        first = float(rng.uniform(0, 150))
        day, last = first, first + float(rng.exponential(150))
        while day < min(last, 299):
            t = start + pd.Timedelta(days=day)
            for k, kind in enumerate(["session_start", "Viewed Page", "Clicked Button"]):
                rows.append(
                    {
                        "user_id": f"u{user:05d}" if signs_in and day > first + 7 else "",
                        "device_id": device,
                        "event_time": (t + pd.Timedelta(seconds=30 * k)).strftime(
                            "%Y-%m-%d %H:%M:%S.%f"
                        ),
                        "event_type": kind,
                        "event_properties": json.dumps({"page": str(rng.choice(["/a", "/b"]))}),
                        "platform": ["Web", "iOS", "Android"][user % 3],
                    }
                )
            day += float(rng.exponential(12))
    return pd.DataFrame(rows)


def test_anonymous_rows_are_counted_and_the_missing_step_named(tmp_path: Path) -> None:
    log = amplitude_like()
    root = project(tmp_path / "p")
    code, out = init(root, "app", "--events", str(export(tmp_path, log, "amplitude.csv")))
    assert code == 0, out
    said = " ".join(out.split())
    blank = log["user_id"].eq("")
    signed = set(log.loc[~blank, "device_id"])
    stitchable = int(log.loc[blank, "device_id"].isin(signed).sum())
    assert written(root, "app")["data"]["events"]["sources"][0]["columns"]["customer_id"] == (
        "user_id"
    )
    assert (
        f"{int(blank.sum()):,} of {len(log):,} rows ({blank.mean():.0%}) have 'device_id' "
        "filled and no 'user_id'"
    ) in said
    assert f"{stitchable:,} of those rows carry a 'device_id' seen with a 'user_id'" in said
    assert "needs an identity step churn does not have" in said
    assert "--customer-id device_id" in said
    assert "(guests?)" not in said


def test_an_anonymous_id_is_one_filled_where_the_customer_is_not() -> None:
    sample = pd.DataFrame(
        {
            "userId": ["a", "", "", "b", ""],
            "anonymousId": ["x1", "x2", "x3", "x4", "x5"],
            "device_type": ["ios", "web", "web", "ios", "web"],  # filled, but no id
            "messageId": ["m1", "m2", "m3", "m4", "m5"],
        }
    )
    assert anonymous_column(sample, "userId") == "anonymousId"
    assert anonymous_column(sample.assign(userId="a"), "userId") is None
    assert anonymous_column(sample.drop(columns="anonymousId"), "userId") is None


def stamped_by_systems(n: int = 300, seed: int = 12) -> pd.DataFrame:
    """Amplitude's export times: the device's clock, off by seconds either way, beside the
    corrected ``event_time``, and the times the row was uploaded, received and processed."""
    rng = np.random.default_rng(seed)
    event = pd.Timestamp("2023-03-01") + pd.to_timedelta(rng.uniform(0, 90 * 86400, n), "s")
    skew = pd.to_timedelta(rng.normal(0, 20, n), "s")
    upload = event + skew + pd.to_timedelta(rng.exponential(30, n), "s")

    def written(times: pd.DatetimeIndex) -> list[str]:
        return list(times.strftime("%Y-%m-%d %H:%M:%S.%f"))

    return pd.DataFrame(
        {
            "user_id": [f"u{i:03d}" for i in rng.integers(0, 60, n)],
            "event_time": written(event),
            "client_event_time": written(event + skew),
            "client_upload_time": written(upload),
            "server_upload_time": written(upload - skew),
            "server_received_time": written(upload - skew),
            "processed_time": written(upload - skew + pd.Timedelta(seconds=40)),
            "event_type": rng.choice(["session_start", "Viewed Page"], n),
        }
    )


def test_times_a_system_recorded_are_not_the_events_time() -> None:
    """Init stopped: "more than one column could be the timestamp", naming six."""
    roles = infer_event_roles(stamped_by_systems())
    assert roles.timestamp.column == "event_time"
    said = " ".join(" ".join(roles.notes).split())
    assert "'event_time' was taken for the timestamp" in said
    assert "'server_upload_time'" in said and "when a system sent, received" in said
    # Segment's warehouse tables: sent_at, received_at and loaded_at beside timestamp
    segment = stamped_by_systems().rename(
        columns={
            "event_time": "timestamp",
            "client_event_time": "original_timestamp",
            "client_upload_time": "sent_at",
            "server_received_time": "received_at",
            "processed_time": "loaded_at",
        }
    )
    assert infer_event_roles(segment).timestamp.column == "timestamp"


def test_people_on_several_devices_are_counted_when_devices_are_the_key(tmp_path: Path) -> None:
    """GA4: ``user_pseudo_id`` (a browser) on every row, ``user_id`` once signed in; a person
    on a laptop and a phone is two customers, which init did not say."""
    log = amplitude_like(seed=13).rename(columns={"device_id": "user_pseudo_id"})
    second = log["user_id"].ne("") & (np.arange(len(log)) % 3 == 0)
    log.loc[second, "user_pseudo_id"] = log.loc[second, "user_pseudo_id"] + "-phone"
    pairs = log.loc[log["user_id"].ne(""), ["user_id", "user_pseudo_id"]].drop_duplicates()
    per_person = pairs.groupby("user_id")["user_pseudo_id"].nunique()
    root = project(tmp_path / "p")
    code, out = init(root, "ga4", "--events", str(export(tmp_path, log, "ga4.csv")))
    assert code == 0, out
    said = " ".join(out.split())
    several = per_person[per_person > 1]
    assert (
        f"of the {len(per_person):,} 'user_id' values signed in on them, {len(several):,} are "
        f"seen on several, so {int(several.sum()):,} customers are {len(several):,} people"
    ) in said
    assert "--customer-id user_id" in said
