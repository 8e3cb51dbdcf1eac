"""``churn labels``, ``features`` and ``score`` of a snapshot pipeline in Spark's executors
(``features.engine`` and ``scoring.engine: spark``, ``labels.split: hash``): each customer's
split placed by the md5 of its id, the labelled or current customers joined to the canonical
snapshot by the executors, their date attributes counted back from the
snapshot date there, and the list made as for an events pipeline. They are the local ones, on
a messy export: odd attribute names, blank cells, a customers table joined with gaps, a
last-login date."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tests import messy
from tests._project import churn, write_params
from tests.test_any_snapshot import (  # noqa: F401 - the fixture end_to_end uses
    end_to_end,
    no_tracking_uri,
    reports_of,
    scores_of,
    write_project,
)

pytest.importorskip("pyspark", reason="the Spark engine needs churn[spark]")
from churn.engines.spark import spark_dataframe, spark_session
from churn.io.files import read_labels
from churn.labels import HashSplit
from churn.settings import SnapshotLabelSettings, SparkSettings
from tests._driver_rows import driver_rows

SCORED = "data/scored/export"
FEATURES = "data/interim/export/features.parquet"
LABELS = "data/interim/export/labels.parquet"


def export_with_a_last_login(root: Path) -> Path:
    """The messy snapshot joined to demographics, with a ``Last Login`` date (some blank)."""
    data = messy.snapshot(500, seed=1, extra_table=True)
    rng = np.random.default_rng(4)
    days_ago = rng.exponential(30, len(data.frame)).astype(int)
    login = (pd.Timestamp("2024-12-31") - pd.to_timedelta(days_ago, "D")).strftime("%d/%m/%Y")
    data.frame["Last Login"] = pd.Series(login).where(rng.random(len(data.frame)) > 0.1)
    demographics = root / "data/raw/export/demographics.csv"
    demographics.parent.mkdir(parents=True)
    data.extra["demographics"].iloc[30:].to_csv(demographics, index=False)
    customers = {
        "sources": [
            {
                "path": "data/raw/export/demographics.csv",
                "columns": {"customer_id": "Customer Number"},
                "attributes": {"region": "Region"},
            }
        ]
    }
    write_project(
        root,
        data,
        snapshot={"date_attributes": ["Last Login"], "tenure_attribute": "TenureYears"},
        customers=customers,
    )
    values = params_of(root)
    values["data"]["snapshot"]["source"]["timestamp_format"] = "%d/%m/%Y"
    values["labels"]["split"] = "hash"  # a split the executors compute as this process does
    write_params(root, values, name="export")
    return root


def params_of(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "pipelines/export/params.yaml").read_text())


@end_to_end
def test_a_snapshots_labels_features_and_list_made_in_the_executors_are_the_local_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = export_with_a_last_login(tmp_path)
    for stage in ("ingest", "labels", "features", "train", "register", "score"):
        code, out = churn(root, stage, name="export")
        assert code == 0, f"churn {stage}: {out}"
    local, local_features = scores_of(root), pd.read_parquet(root / SCORED / "features.parquet")
    local_labels = read_labels(root / LABELS)
    local_table = pd.read_parquet(root / FEATURES)
    local_summary = reports_of(root, "scoring.json")
    assert local_features["Last Login"].notna().sum() > 100
    assert local_features["region"].isna().any()

    values = params_of(root)
    values["features"] = {**values["features"], "engine": "spark"}
    values["scoring"] = {**values["scoring"], "engine": "spark"}
    write_params(root, values, name="export")
    explained = int(local["reason_1_code"].notna().sum())
    seen = {}
    with caplog.at_level(logging.INFO, logger="churn"):
        # the total a stage may hand to the driver: none for features; for score, aggregates
        # and the charts' rows (the explained customers), never a row per scored customer
        # labels: a count per split
        for stage, bound in (("labels", 3), ("features", 0), ("score", explained + 150)):
            with driver_rows(at_most=bound) as seen[stage]:
                code, out = churn(root, stage, name="export")
            assert code == 0, f"churn {stage}: {out}"
    assert caplog.text.count("Spark wrote") >= 3 and "in the Spark executors" in caplog.text
    assert explained + 150 < len(local), "the bound is below a row per customer"
    labels = read_labels(root / LABELS)  # as every stage reads them
    pd.testing.assert_frame_equal(labels, local_labels)
    assert set(labels["split"]) == {"train", "valid", "test"}
    table = pd.read_parquet(root / FEATURES)
    pd.testing.assert_frame_equal(table, local_table, check_dtype=False)
    assert table.drop(columns="cutoff").dtypes.equals(local_table.drop(columns="cutoff").dtypes)
    assert table["Last Login"].notna().sum() > 100
    spark = scores_of(root)
    np.testing.assert_allclose(spark["churn_probability"], local["churn_probability"], atol=1e-6)
    # the snapshot day as the local population holds it (datetime64[ms]) or as Spark writes
    # it (microseconds): the same day
    pd.testing.assert_frame_equal(
        spark.drop(columns=["scored_at", "churn_probability"]),
        local.drop(columns=["scored_at", "churn_probability"]),
        check_dtype=False,
    )
    assert spark.drop(columns="cutoff").dtypes.equals(local.drop(columns="cutoff").dtypes)
    assert (local["outreach_status"] == "contact").any()
    assert local["reason_1_code"].nunique() > 1
    summary = reports_of(root, "scoring.json")
    for key in ("scored", "outreach", "risk_tiers", "actions"):
        if key in local_summary:
            assert summary[key] == local_summary[key], key
    features = pd.read_parquet(root / SCORED / "features.parquet")
    pd.testing.assert_frame_equal(
        features.sort_values("customer_id", ignore_index=True),
        local_features.sort_values("customer_id", ignore_index=True),
        check_dtype=False,
    )


def test_spark_places_every_customer_where_python_does() -> None:
    """:meth:`HashSplit.sql` in Spark SQL and :meth:`HashSplit.place` in Python: the same split
    and fold for every id (quotes, accents, digits), at fractions whose sums are not exact in
    binary."""
    session = spark_session(SparkSettings(master="local[2]", shuffle_partitions=2), env={})
    ids = pd.Series([f"c{i}" for i in range(3_000)] + ["o'brien", 'say "hi"', "zoë", "12697"])
    for settings in (
        SnapshotLabelSettings(snapshot_date="2024-06-30", split="hash"),
        SnapshotLabelSettings(
            snapshot_date="2024-06-30",
            split="hash",
            test_fraction=0.1,
            valid_fraction=0.3,
            n_folds=3,
            seed=-5,
        ),
    ):
        placed = HashSplit.of(settings)
        split, fold = placed.sql("customer_id")
        frame = spark_dataframe(session, pd.DataFrame({"customer_id": ids}))
        got = frame.selectExpr("customer_id", f"{split} AS split", f"{fold} AS fold")
        got = got.toArrow().to_pandas().set_index("customer_id").loc[ids]
        want = placed.place(ids)
        assert got["split"].tolist() == want["split"].tolist()
        assert got["fold"].tolist() == want["fold"].tolist()
