"""The registered model's entry point for raw events: canonical events and a cutoff in, the same
probabilities as ``churn score`` out (one feature path), for callers who know no feature."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from churn.errors import TrackingError
from churn.modeling.model import ChurnModel
from churn.settings import PipelineSettings
from churn.tracking.events_model import (
    EVENTS_MODEL,
    EVENTS_MODEL_TAG,
    EventsEntry,
    events_model_uri,
    example_request,
    log_events_model,
    score_events,
    why_no_events_model,
)
from churn.tracking.events_request import canonical_request, request_columns
from churn.tracking.pyfunc import PROBABILITY_COLUMN, TIER_COLUMN
from churn.tracking.registry import CHAMPION
from churn.tracking.store import connect, tracking_uri
from tests._project import STAGES, churn, make_project, params, run_stages, subprocess_env
from tests.test_portable_model import MLFLOW, free_port, post

pytestmark = [
    # MLflow's SQL store and input-example code raise these deprecations (see test_tracking).
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

MODEL = "churn-shop"
BACK_DATED = "2024-05-01"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shop trained, registered (champion v1) and scored at ``BACK_DATED``. Read-only."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        root = make_project(tmp_path_factory.mktemp("events_model") / "shop")
        run_stages(root, (*STAGES, "register"))
        code, out = churn(root, "score", "--cutoff", BACK_DATED)
        assert code == 0, out
        yield root


def client_of(project: Path) -> MlflowClient:
    return connect(tracking_uri(project, {}))


@pytest.fixture(scope="module")
def folder(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The champion's events model, found from the registry and downloaded."""
    import mlflow.artifacts  # noqa: PLC0415 - churn.tracking imported mlflow.pyfunc first

    client = client_of(project)
    uri = events_model_uri(client, MODEL)
    version = client.get_model_version_by_alias(MODEL, CHAMPION)
    assert uri == f"runs:/{version.run_id}/{EVENTS_MODEL}"
    dest = tmp_path_factory.mktemp("downloaded")
    # MLflow resolves the run's logged model through its global store, as a user sets it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", client.tracking_uri)
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest))
    return Path(local)


def canonical_events(project: Path) -> pd.DataFrame:
    return pd.read_parquet(project / "data/interim/shop/canonical/events.parquet")


def scored_at(project: Path, cutoff: str) -> pd.DataFrame:
    """``churn score``'s list at ``cutoff``, by customer id."""
    scores = pd.read_parquet(project / f"data/scored/shop/history/scores_{cutoff}.parquet")
    return scores.set_index("customer_id").sort_index()


def predict(folder: Path, events: pd.DataFrame, **params: object) -> pd.DataFrame:
    from mlflow.pyfunc import load_model  # noqa: PLC0415

    return load_model(str(folder)).predict(events, params=dict(params) or None)


def test_the_events_model_gives_churn_scores_probabilities_at_the_same_cutoff(
    project: Path, folder: Path
) -> None:
    expected = scored_at(project, BACK_DATED)

    predicted = predict(folder, canonical_events(project), cutoff=BACK_DATED)

    assert list(predicted.columns) == ["customer_id", PROBABILITY_COLUMN, TIER_COLUMN]
    assert predicted["customer_id"].is_monotonic_increasing
    got = predicted.set_index("customer_id")
    assert got.index.tolist() == expected.index.tolist()  # the same eligible customers
    np.testing.assert_allclose(
        got[PROBABILITY_COLUMN], expected["churn_probability"], rtol=0, atol=1e-9
    )
    assert set(got[TIER_COLUMN]) <= {"Low", "Medium", "High"}
    # the model carries what the feature build needs, and says what it accepts
    artifacts = folder / "artifacts"
    assert json.loads((artifacts / "pipeline_settings.json").read_text())["name"] == "shop"
    assert (artifacts / "feature_catalogue.json").is_file()
    assert sorted(p.name for p in (folder / "code").iterdir()) == ["churn"]


def test_the_cutoff_param_moves_the_population(project: Path, folder: Path) -> None:
    events = canonical_events(project)
    early = predict(folder, events, cutoff="2023-04-01")
    late = predict(folder, events, cutoff=BACK_DATED)

    first_seen = events.groupby("customer_id")["ts"].min()
    # nobody is scored before their first purchase
    assert (first_seen[early["customer_id"]] < pd.Timestamp("2023-04-01")).all()
    assert set(early["customer_id"]) != set(late["customer_id"])
    both = early.merge(late, on="customer_id", suffixes=("_early", "_late"))
    assert len(both) and not np.allclose(
        both[f"{PROBABILITY_COLUMN}_early"], both[f"{PROBABILITY_COLUMN}_late"]
    )


def test_without_a_cutoff_it_scores_the_day_after_the_latest_event(
    project: Path, folder: Path
) -> None:
    events = canonical_events(project)
    events = events[events["ts"] < pd.Timestamp("2024-02-10 13:00")]
    day_after = (events["ts"].max().floor("D") + pd.Timedelta(days=1)).date().isoformat()

    by_default = predict(folder, events)

    pd.testing.assert_frame_equal(by_default, predict(folder, events, cutoff=day_after))


def test_a_cutoff_after_the_last_event_takes_the_events_as_complete_up_to_it(
    project: Path, folder: Path
) -> None:
    events = canonical_events(project)
    kept = events[events["ts"] < pd.Timestamp(BACK_DATED) - pd.Timedelta(days=20)]

    day_after = (kept["ts"].max().floor("D") + pd.Timedelta(days=1)).date().isoformat()

    quiet = predict(folder, kept, cutoff=BACK_DATED)  # not refused as past the events
    at_once = predict(folder, kept, cutoff=day_after)

    # the quiet days count: the same customers (none became eligible) with other features
    assert set(quiet["customer_id"]) <= set(at_once["customer_id"]) and len(quiet)
    both = quiet.merge(at_once, on="customer_id", suffixes=("_quiet", "_at_once"))
    assert not np.allclose(
        both[f"{PROBABILITY_COLUMN}_quiet"], both[f"{PROBABILITY_COLUMN}_at_once"]
    )


def test_messy_but_canonical_events_score_like_the_ingested_ones(
    project: Path, folder: Path
) -> None:
    events = canonical_events(project)
    messy = pd.DataFrame(
        {
            # blanks around ids, ISO text in another zone, types in any case, numbers as text
            "customer_id": " " + events["customer_id"] + " ",
            "ts": events["ts"]
            .dt.tz_localize("UTC")
            .dt.tz_convert("Europe/Paris")
            .map(lambda t: t.isoformat()),
            "event_type": "  PURCHASE ",
            "amount": events["amount"].astype(str),
            "order_id": events["order_id"],
            "an_extra_column": 1,
        }
    ).sample(frac=1.0, random_state=3)  # any order
    settings = PipelineSettings.model_validate({"name": "shop", **params()})

    canonical = canonical_request(messy, settings.data, dt.datetime(2030, 1, 1))

    # the same canonical events as ingest wrote (the product and quantity left out: unmapped)
    order = ["customer_id", "ts", "order_id"]
    pd.testing.assert_frame_equal(
        canonical[events.columns].sort_values(order).reset_index(drop=True),
        events.sort_values(order).reset_index(drop=True),
        check_dtype=False,
    )
    model = ChurnModel.load(folder / "artifacts/model_dir")
    direct = score_events(
        model, settings, messy, None, {"cutoff": BACK_DATED}, now=dt.datetime(2030, 1, 1)
    )
    expected_p = scored_at(project, BACK_DATED)["churn_probability"]
    np.testing.assert_allclose(
        direct.set_index("customer_id").sort_index()[PROBABILITY_COLUMN],
        expected_p,
        rtol=0,
        atol=1e-9,
    )


def test_a_request_missing_a_required_column_is_refused_naming_it(
    project: Path, folder: Path
) -> None:
    events = canonical_events(project)

    with pytest.raises(MlflowException, match="ts"):
        predict(folder, events.drop(columns=["ts"]), cutoff=BACK_DATED)
    settings = PipelineSettings.model_validate({"name": "shop", **params()})
    with pytest.raises(ValueError, match=r"required column\(s\): \['amount', 'order_id'\]"):
        canonical_request(events.drop(columns=["amount", "order_id"]), settings.data, _NOW)
    # the shop maps no event type, quantity or product: a caller may leave them out
    optional = {c.name for c in request_columns(settings.data) if not c.required}
    assert optional == {"event_type", "quantity", "product_id"}


_NOW = dt.datetime(2030, 1, 1)


def test_broken_values_are_all_named_at_once() -> None:
    settings = PipelineSettings.model_validate({"name": "shop", **params()})
    frame = pd.DataFrame(
        {
            "customer_id": ["a", None, "c", "d"],
            "ts": ["2024-01-01", "not a day", None, "2099-01-01"],
            "amount": [1.0, "ten", 2.0, 3.0],
            "order_id": ["o1", "o2", "o3", "o4"],
        }
    )
    with pytest.raises(ValueError) as info:
        canonical_request(frame, settings.data, _NOW)
    message = str(info.value)
    assert "problem(s) found in the request's events" in message
    for expected in (
        "column 'customer_id'",
        "unparseable timestamp",
        "'not a day'",
        "timestamp is missing",
        "not in the future",
        "column 'amount': expected a number",
        "'ten'",
    ):
        assert expected in message, message


def test_types_rules_attributes_and_duplicates_follow_the_pipelines_events_settings() -> None:
    values = params()
    values["data"]["events"] = {
        "sources": [
            {
                "path": "a.csv",
                "columns": {"customer_id": "c", "timestamp": "t", "event_type": "e"},
                "attributes": {"channel": "ch"},
            },
            {"path": "b.parquet", "columns": {"customer_id": "c", "timestamp": "t"}},
        ],
        "default_event_type": "Visit",
        "event_type_rules": [{"column": "order_id", "startswith": "R", "event_type": "Return"}],
        "drop_duplicate_events": True,
    }
    data = PipelineSettings.model_validate({"name": "shop", **values}).data
    frame = pd.DataFrame(
        {
            "customer_id": [7, 7, 7, 7, 3],  # whole numbers: ids as their digits
            "ts": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-03", None]),
            "event_type": [" Purchase", None, None, "purchase", "PURCHASE"],
            "order_id": ["o1", "o2", "o2", "R9", "o3"],
        }
    ).iloc[:4]

    with pytest.raises(ValueError, match=r"required column\(s\): \['channel'\]"):
        canonical_request(frame, data, _NOW)
    canonical = canonical_request(frame.assign(channel=["web", None, None, "shop"]), data, _NOW)

    assert canonical["customer_id"].tolist() == ["7", "7", "7"]  # the duplicate dropped
    assert canonical["ts"].is_monotonic_increasing
    assert canonical["event_type"].tolist() == ["visit", "purchase", "return"]
    assert canonical["channel"].tolist() == [None, "web", "shop"]
    assert canonical["amount"].isna().all() and canonical["product_id"].isna().all()


def test_a_usage_log_s_measures_are_required_numbers_of_the_request() -> None:
    values = params()
    values["data"]["events"] = {
        "sources": [
            {
                "path": "usage.csv",
                "columns": {"customer_id": "c", "timestamp": "t"},
                "measures": {"logins": "Logins"},
            }
        ]
    }
    settings = PipelineSettings.model_validate({"name": "saas", **values})
    column = next(c for c in request_columns(settings.data) if c.name == "logins")
    assert (column.kind, column.required) == ("number", True)
    frame = pd.DataFrame({"customer_id": ["a", "a"], "ts": ["2024-01-02", "2024-01-03"]})
    with pytest.raises(ValueError, match=r"required column\(s\): \['logins'\]"):
        canonical_request(frame, settings.data, _NOW)
    canonical = canonical_request(frame.assign(logins=[3, None]), settings.data, _NOW)
    assert canonical["logins"].tolist()[:1] == [3.0] and canonical["logins"].isna().sum() == 1
    example = example_request(settings)
    assert example["logins"].dtype == "float64"


def test_a_bad_cutoff_is_refused_naming_the_param(project: Path, folder: Path) -> None:
    events = canonical_events(project)
    with pytest.raises(MlflowException, match="'cutoff' must be an ISO date"):
        predict(folder, events, cutoff="next tuesday")
    with pytest.raises(MlflowException, match="scoring cutoff 2020-01-01"):
        predict(folder, events, cutoff="2020-01-01")  # before the first event


class FakeClient:
    """The part of MlflowClient a refused events model touches: run tags."""

    def __init__(self) -> None:
        self.tags: dict[tuple[str, str], str] = {}

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.tags[(run_id, key)] = value


def refused_logging(settings: PipelineSettings) -> Callable[..., tuple[str, str]]:
    def log_folder(*args: object, **kwargs: object) -> tuple[str, str]:
        pytest.fail(f"logged an events model for {settings.name}, which cannot have one")

    return log_folder


def with_tables(**tables: Mapping[str, Any]) -> PipelineSettings:
    values = params()
    values["data"] = {**values["data"], **tables}
    return PipelineSettings.model_validate({"name": "shop", **values})


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        (
            {
                "customers": {
                    "sources": [
                        {
                            "path": "data/raw/shop/customers.csv",
                            "columns": {"customer_id": "cust"},
                            "attributes": {"region": "region"},
                        }
                    ]
                }
            },
            "data.customers",
        ),
        (
            {
                "churn_events": {
                    "sources": [
                        {
                            "path": "data/raw/shop/cancellations.csv",
                            "columns": {"customer_id": "cust", "timestamp": "when"},
                        }
                    ]
                }
            },
            "data.churn_events",
        ),
    ],
)
def test_a_pipeline_whose_features_need_another_table_logs_no_events_model_and_says_why(
    tables: dict[str, Mapping[str, Any]], named: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = with_tables(**tables)
    client = FakeClient()

    with caplog.at_level(logging.INFO, logger="churn"):
        logged = log_events_model(
            client,  # type: ignore[arg-type]
            experiment="1",
            run_id="run",
            tags={},
            model_dir=Path("unused"),
            entry=EventsEntry(settings),
            risk_reference=None,
            log_folder=refused_logging(settings),
        )

    assert logged is None
    why = client.tags[("run", EVENTS_MODEL_TAG)]
    assert why.startswith("none: ") and named in why
    assert f"no events model for shop: its features need {named}" in caplog.text


def test_a_contacts_table_does_not_stop_the_events_model() -> None:
    contacts = {
        "sources": [
            {
                "path": "data/raw/shop/contacts.csv",
                "columns": {"customer_id": "cust", "timestamp": "when", "action": "what"},
            }
        ]
    }
    assert why_no_events_model(with_tables(contacts=contacts)) is None  # it builds no feature


def test_a_snapshot_gets_no_events_model() -> None:
    settings = PipelineSettings.model_validate(
        {
            "name": "telco",
            "data": {
                "kind": "snapshot",
                "snapshot": {"source": {"path": "t.csv", "columns": {"label": "left"}}},
            },
            "labels": {"snapshot_date": "2024-01-01"},
        }
    )
    why = why_no_events_model(settings)
    assert why is not None and "snapshot" in why


def test_the_uri_of_a_run_without_an_events_model_says_why(project: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(project, tmp_path / "copy"))
    client = client_of(copy)
    run_id = client.get_model_version_by_alias(MODEL, CHAMPION).run_id
    client.set_tag(run_id, EVENTS_MODEL_TAG, "none: its features need data.customers, ...")

    with pytest.raises(TrackingError, match=r"has no events model \(none: its features need data"):
        events_model_uri(client, MODEL)
    with pytest.raises(TrackingError, match="no version with alias 'nobody'"):
        events_model_uri(client, MODEL, alias="nobody")


LOAD_ALONE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    # no folder that holds a churn package, whatever this environment installed
    sys.path = [p for p in sys.path if not (Path(p or ".") / "churn").is_dir()]
    import mlflow.pyfunc
    import pandas as pd

    events = pd.read_parquet(sys.argv[2])
    out = mlflow.pyfunc.load_model(sys.argv[1]).predict(events, params={"cutoff": sys.argv[3]})
    import churn

    print(json.dumps({"churn": churn.__file__, "predictions": out.to_dict(orient="records")}))
    """
)


def test_the_events_model_loads_where_churn_is_not_importable(
    project: Path, folder: Path, tmp_path: Path
) -> None:
    canonical_events(project).to_parquet(tmp_path / "events.parquet")
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_ALONE,
            str(folder),
            str(tmp_path / "events.parquet"),
            BACK_DATED,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["churn"]).is_relative_to(folder / "code")  # the model's own copy
    got = pd.DataFrame(result["predictions"]).set_index("customer_id").sort_index()
    expected = scored_at(project, BACK_DATED)
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(
        got[PROBABILITY_COLUMN], expected["churn_probability"], rtol=0, atol=1e-9
    )


@pytest.mark.slow
@pytest.mark.skipif(not MLFLOW.is_file(), reason="no mlflow command beside this Python")
def test_mlflow_models_serve_scores_posted_events_at_the_posted_cutoff(
    project: Path, folder: Path, tmp_path: Path
) -> None:
    events = canonical_events(project)
    # only the columns the shop maps: the others are optional
    sent = events[["customer_id", "ts", "amount", "order_id"]]
    split = json.loads(sent.to_json(orient="split", index=False, date_format="iso"))
    port = free_port()
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}
    env["PATH"] = f"{MLFLOW.parent}{os.pathsep}{env.get('PATH', '')}"
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [
                *(str(MLFLOW), "models", "serve", "-m", str(folder), "--env-manager", "local"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            for _ in range(180):  # a guard against a server that never starts, not a goal
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5):
                        break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(1)
            else:
                pytest.fail(f"no answer on /ping: {(tmp_path / 'serve.log').read_text()}")
            url = f"http://127.0.0.1:{port}/invocations"
            answer = post(url, {"dataframe_split": split, "params": {"cutoff": BACK_DATED}})
            with pytest.raises(urllib.error.HTTPError) as refused:
                post(url, {"dataframe_split": split, "params": {"cutoff": "2020-01-01"}})
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    got = pd.DataFrame(answer["predictions"]).set_index("customer_id").sort_index()
    expected = scored_at(project, BACK_DATED)
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(
        got[PROBABILITY_COLUMN], expected["churn_probability"], rtol=0, atol=1e-9
    )
    assert refused.value.code == 400
    assert "scoring cutoff 2020-01-01" in refused.value.read().decode()
