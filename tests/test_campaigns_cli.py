"""The closed loop end to end through the CLI on the tiny shop: past contacts with a planted
effect are ingested, measured by `churn monitor`, learned by `churn uplift`, used by
`churn score`, and shown by `churn report`."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from churn.campaigns import UpliftModel
from churn.io.customer_sample import customer_sample
from tests._project import ORDERS, churn, make_project, orders, params, write_params

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated:DeprecationWarning"),
]

CONTACTS = "data/raw/shop/contacts.csv"
DAYS = pd.date_range("2023-07-01", "2024-06-01", freq="MS")


def _campaigns(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders, and monthly campaigns over them: each month 60 % of the customers seen so far,
    a quarter held out, the rest sent `call` or `mail` at random. A `call` brings a customer
    back (an order 5 to 20 days later) four times in five: a planted effect; `mail` does
    nothing."""
    rng = np.random.default_rng(seed)
    base = orders(n_customers=300, seed=11)
    when = pd.to_datetime(base["when"])
    rows, extra = [], []
    for day in DAYS:
        seen = sorted(base.loc[when < day, "cust"].unique())
        chosen = rng.choice(seen, size=int(0.6 * len(seen)), replace=False)
        for cust in chosen:
            control = rng.random() < 0.25
            action = str(rng.choice(["call", "mail"]))
            rows.append((cust, f"{day:%Y-%m-%d}", action, "control" if control else "contacted"))
            if not control and action == "call" and rng.random() < 0.8:
                ts = day + pd.Timedelta(days=int(rng.integers(5, 20)))
                extra.append((f"X{len(extra):06d}", cust, f"{ts:%Y-%m-%d %H:%M}", 25.0))
    contacts = pd.DataFrame(rows, columns=["customer", "sent", "offer", "group"])
    more = pd.DataFrame(extra, columns=["order", "cust", "when", "total"])
    return pd.concat([base, more], ignore_index=True), contacts


def _params() -> dict[str, Any]:
    values = params()
    values["data"]["contacts"] = {
        "sources": [
            {
                "path": CONTACTS,
                "columns": {
                    "customer_id": "customer",
                    "timestamp": "sent",
                    "action": "offer",
                    "control": "group",
                },
            }
        ]
    }
    values["train"]["uplift"] = {"min_contacts": 100, "min_action_rows": 100}
    values["playbook"] = {
        "rules": [{"action": "call", "reasons": [], "cost": 0.0, "effect": 0.1}],
        "default_action": "mail",
    }
    return values


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        root = tmp_path_factory.mktemp("campaigns")
        shop, contacts = _campaigns()
        (root / ORDERS).parent.mkdir(parents=True)
        shop.to_csv(root / ORDERS, index=False)
        contacts.to_csv(root / CONTACTS, index=False)
        make_project(root)
        write_params(root, _params())
        for stage in (
            "ingest",
            "labels",
            "features",
            "train",
            "uplift",
            "register",
            "score",
            "monitor",
            "report",
        ):
            code, out = churn(root, stage)
            assert code == 0, f"churn {stage}: {out}"
        yield root


def _json(project: Path, name: str) -> Any:
    return json.loads((project / "reports/shop" / name).read_text())


def test_ingest_keeps_every_contact_in_the_canonical_table(project: Path) -> None:
    table = pd.read_parquet(project / "data/interim/shop/canonical/contacts.parquet")
    raw = pd.read_csv(project / CONTACTS)
    assert len(table) == len(raw)
    assert table["control"].sum() == (raw["group"] == "control").sum()
    assert set(table["action"]) == {"call", "mail"}


def test_monitor_measures_the_planted_effect_and_no_effect_where_none_was_planted(
    project: Path,
) -> None:
    campaigns = _json(project, "campaigns.json")
    by_action = {row["action"]: row for row in campaigns["by_action"]}
    call, mail = by_action["call"], by_action["mail"]
    assert call["comparison"] == "same action"
    assert call["effect_low"] > 0  # a call brings customers back
    assert mail["effect_low"] < 0 < mail["effect_high"]  # mail does nothing
    assert campaigns["contacts"]["waiting_for_outcome"] > 0  # 2024-05-01 + 60 d > data end
    assert {row["tier"] for row in campaigns["by_action_and_tier"]} == {"not on a churn list"}
    update = {u["action"]: u for u in campaigns["playbook_effects"]}["call"]
    assert update["prior"] < update["posterior"] <= update["measured"] + 1e-9


def test_with_a_driver_sample_past_contacts_are_measured_on_its_customers(
    project: Path, tmp_path: Path
) -> None:
    """``train.driver_customers`` bounds the contacts `churn monitor` holds as it bounds the
    labelled rows: campaigns.json counts the contacts of the sample's customers and says so."""
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    values = _params()
    values["train"]["driver_customers"] = 150
    write_params(copy, values)
    code, out = churn(copy, "monitor")
    assert code == 0, out
    sample = customer_sample(copy / "data/interim/shop/labels.parquet", 150)
    assert sample is not None
    contacts = pd.read_parquet(copy / "data/interim/shop/canonical/contacts.parquet")
    pairs = contacts.assign(day=contacts["ts"].dt.normalize()).drop_duplicates(
        ["customer_id", "day"]
    )
    campaigns = json.loads((copy / "reports/shop/campaigns.json").read_text())
    assert campaigns["driver_sample"]["customers"] == 150
    assert campaigns["contacts"]["contacts"] == sample.keeps(pairs["customer_id"]).sum()
    assert (
        campaigns["contacts"]["contacts"] < _json(project, "campaigns.json")["contacts"]["contacts"]
    )


def test_uplift_model_is_fitted_and_judged_on_held_out_campaigns(project: Path) -> None:
    report = _json(project, "uplift.json")
    assert report["fitted"] is True
    held = report["held_out"]
    assert held["evaluated"] is True
    assert held["held_out"]["days"].startswith("2024-03-01")  # the test cutoff on
    assert set(held["rankings"]) == {
        "churn_probability",
        "value_at_risk",
        "uplift",
        "uplift_x_value",
    }
    # a call's planted effect does not depend on risk: the uplift ranking beats the risk one
    assert held["rankings"]["uplift"]["qini"] > held["rankings"]["churn_probability"]["qini"]
    assert report["used_for_scoring"] is True
    assert (project / "models/shop.uplift/uplift.json").is_file()


def test_scoring_values_actions_by_the_uplift_model_and_learns_from_past_contacts(
    project: Path,
) -> None:
    summary = _json(project, "scoring.json")
    assert summary["action_values_from"].startswith("the uplift model")
    past = summary["past_contacts"]
    assert past["with_outcome"] > 0
    assert {e["action"] for e in past["playbook_effects"]} == {"call", "mail"}
    scores = pd.read_parquet(project / "data/scored/shop/scores.parquet")
    contacted = scores[scores["outreach_status"] == "contact"]
    assert contacted["expected_value_saved"].notna().all()


def test_report_says_why_this_list(project: Path) -> None:
    html = (project / "reports/shop/report.html").read_text()
    assert "Why this list" in html
    assert "Held-out campaigns" in html
    assert "Per action and risk tier" in html


def test_register_logs_and_registers_the_uplift_model_beside_the_churn_model(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported here, after churn.tracking has imported it with its import-time warning silenced.
    from mlflow.pyfunc import load_model  # noqa: PLC0415

    record = _json(project, "registry.json")
    uplift, churn_version = record["uplift"], record["registered"]
    assert uplift["registered"] is True
    assert uplift["used_for_scoring"] is True
    assert uplift["belongs_with"] == churn_version["version"]
    # champion exactly when the churn version it belongs with is the champion
    assert uplift["champion"] is record["promotion"]["promoted"]
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    run = client.get_run(uplift["run_id"])
    assert run.data.tags["mlflow.parentRunId"] == churn_version["run_id"]
    held = _json(project, "uplift.json")["held_out"]["rankings"]
    for ranking, row in held.items():
        assert run.data.metrics[f"held_out.rankings.{ranking}.qini"] == pytest.approx(row["qini"])
    aliases = client.get_registered_model("churn-shop-uplift").aliases
    assert ("champion" in aliases) is uplift["champion"]

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    pyfunc = load_model(f"models:/churn-shop-uplift/{uplift['version']}")
    features = pd.read_parquet(project / "data/interim/shop/features.parquet")
    rows = features.sample(60, random_state=0)
    # the request as a client builds it from the signature: ids as text, numbers as doubles
    schema = pyfunc.metadata.get_input_schema()
    request = pd.DataFrame(
        {
            c.name: rows[c.name].astype(str) if c.type.name == "string" else rows[c.name]
            for c in schema.inputs
        }
    ).astype({c.name: "float64" for c in schema.inputs if c.type.name == "double"})
    predicted = pyfunc.predict(request)
    expected = UpliftModel.load(project / "models/shop.uplift").predict(rows)
    assert set(expected.columns) == {"call", "mail"}
    assert predicted["customer_id"].tolist() == rows["customer_id"].astype(str).tolist()
    np.testing.assert_allclose(
        predicted[list(expected.columns)].to_numpy(), expected.to_numpy(), rtol=1e-6
    )


def test_an_uplift_model_judged_against_another_churn_model_is_not_registered(
    project: Path,
) -> None:
    # last of the tests on the shared project: it registers a second churn version
    report_file = project / "reports/shop/uplift.json"
    kept = report_file.read_bytes()
    report = json.loads(kept)
    report["churn_model_md5"] = "0" * 32  # as after `churn train` ran again without `uplift`
    report_file.write_text(json.dumps(report))
    try:
        code, out = churn(project, "register")
    finally:
        report_file.write_bytes(kept)
    assert code == 0, out
    record = _json(project, "registry.json")
    assert record["registered"]["version"] == "2"
    uplift = record["uplift"]
    assert uplift["registered"] is False
    assert "judged against another churn model" in uplift["reason"]
    assert "churn uplift shop" in uplift["reason"]
    uri = f"sqlite:///{project / 'mlflow.db'}"
    versions = MlflowClient(uri, uri).search_model_versions("name='churn-shop-uplift'")
    assert [str(v.version) for v in versions] == ["1"]  # still the first one only


def test_without_contacts_the_uplift_stage_says_so_and_nothing_is_registered(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path)
    for stage in ("ingest", "labels", "features", "train", "uplift", "register"):
        code, out = churn(root, stage)
        assert code == 0, f"churn {stage}: {out}"
    report = json.loads((root / "reports/shop/uplift.json").read_text())
    assert report["fitted"] is False and "no contact history" in report["reason"]
    assert report["used_for_scoring"] is False
    assert (root / "models/shop.uplift/no_model.json").is_file()
    uplift = json.loads((root / "reports/shop/registry.json").read_text())["uplift"]
    assert uplift["registered"] is False and "no contact history" in uplift["reason"]
    uri = f"sqlite:///{root / 'mlflow.db'}"
    assert not MlflowClient(uri, uri).search_registered_models("name='churn-shop-uplift'")


def test_the_list_made_in_spark_executors_with_the_uplift_model_is_the_local_list(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``scoring.engine`` and ``features.engine: spark`` with an uplift model: the population
    is scored in the executors (the uplift estimates with it), and the list is the local one
    but its time stamp."""
    pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
    scores_file = project / "data/scored/shop/scores.parquet"
    local = pd.read_parquet(scores_file)
    local_summary = _json(project, "scoring.json")
    values = _params()
    values["features"] = {**values["features"], "engine": "spark"}
    values["scoring"] = {**values.get("scoring", {}), "engine": "spark"}
    write_params(project, values)
    try:
        with caplog.at_level(logging.INFO, logger="churn"):
            code, out = churn(project, "score")
    finally:
        write_params(project, _params())
    assert code == 0, out
    assert "in the Spark executors" in caplog.text
    spark = pd.read_parquet(scores_file)
    summary = _json(project, "scoring.json")
    assert summary["action_values_from"] == local_summary["action_values_from"]
    assert summary["action_values_from"].startswith("the uplift model")
    np.testing.assert_allclose(spark["churn_probability"], local["churn_probability"], atol=1e-6)
    pd.testing.assert_frame_equal(
        spark.drop(columns=["scored_at", "churn_probability"]),
        local.drop(columns=["scored_at", "churn_probability"]),
    )
    assert (local["outreach_status"] == "contact").any()
