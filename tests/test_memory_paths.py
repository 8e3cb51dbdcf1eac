"""The memory-lean paths give exactly what the whole-frame paths gave: the same parquet bytes,
the same features, the same booster, the same scores (issue 17: outputs unchanged)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.io.files import write_parquet


def _messy(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    half = n // 2
    return pd.DataFrame(
        {
            "customer_id": np.array([f"c-{i}" for i in rng.integers(0, n, n)], dtype=object),
            "cutoff": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "amount": np.where(rng.random(n) < 0.2, np.nan, rng.lognormal(size=n)),
            "orders": rng.integers(0, 50, n),
            # all missing in the first row groups, text after: the schema is the whole frame's
            "plan": np.array([None] * half + list(rng.choice(["a", "bé", ""], n - half)), object),
            "tier": pd.Categorical(rng.choice(["gold", "silver", "none"], n)),
        },
        index=rng.permutation(n),  # an index to_parquet(index=False) leaves out
    )


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 2501])
def test_row_group_writer_gives_the_bytes_of_to_parquet(tmp_path, n):
    frame = _messy(n, seed=n)
    frame.attrs = {"source": "generated"}
    frame.to_parquet(tmp_path / "whole.parquet", index=False, row_group_size=1000)
    write_parquet(frame, tmp_path / "groups.parquet", row_group_rows=1000)
    whole = (tmp_path / "whole.parquet").read_bytes()
    assert (tmp_path / "groups.parquet").read_bytes() == whole
    back = pd.read_parquet(tmp_path / "groups.parquet")
    assert len(back) == n
    if n:  # an empty categorical comes back as object, from either writer
        pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))


def test_row_group_writer_matches_to_parquet_at_pyarrow_default(tmp_path):
    # more rows than pyarrow's default row group (1,048,576), written without a size
    n = 1_100_000
    frame = pd.DataFrame(
        {"id": np.arange(n), "x": np.random.default_rng(1).normal(size=n).astype("float64")}
    )
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    write_parquet(frame, tmp_path / "groups.parquet")
    assert (tmp_path / "groups.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def _purchases_and_features(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_customers = 300
    ids = np.array([f"cust {i:03d}" for i in range(n_customers)], dtype=object)
    # BG/NBD's own story: each customer buys at a rate of their own until they drop out
    born = rng.uniform(0, 200, n_customers)
    dies = born + rng.exponential(150, n_customers)
    rate = rng.gamma(2.0, 0.02, n_customers)
    who, when = [], []
    for i in range(n_customers):
        n = rng.poisson(rate[i] * (min(dies[i], 360) - born[i]))
        who += [ids[i]] * n
        when += list(rng.uniform(born[i], min(dies[i], 360), n))
    purchases = pd.DataFrame(
        {
            "customer_id": np.array(who, dtype=object),
            "ts": pd.Timestamp("2023-01-01") + pd.to_timedelta(np.array(when), unit="D"),
            "amount": rng.gamma(2.0, 20.0, len(who)),
        }
    )
    cutoffs = pd.to_datetime(["2023-06-01", "2023-09-01", "2023-12-01"])
    features = pd.DataFrame(
        [(c, t) for c in ids for t in cutoffs], columns=["customer_id", "cutoff"]
    ).sample(frac=1.0, random_state=seed)  # not in key order
    features["customer_id"] = features["customer_id"].astype(object)
    features["orders_total"] = rng.integers(0, 20, len(features)).astype("float64")
    features["spend_total"] = rng.gamma(2.0, 50.0, len(features))
    features["days_since_first_activity"] = rng.integers(0, 300, len(features)).astype(float)
    features["days_since_last_activity"] = rng.integers(0, 300, len(features)).astype(float)
    return purchases, features


@pytest.mark.parametrize("seed", [0, 1])
def test_derived_features_equal_a_left_merge_and_leave_the_input_alone(seed):
    from churn.features.derived import add_derived_features, derive_columns, fit_bgnbd  # noqa: PLC0415

    purchases, features = _purchases_and_features(seed)
    before = features.copy()
    out = add_derived_features(features, purchases, calendar=True, bgnbd=True, horizon_days=30)
    pd.testing.assert_frame_equal(features, before)  # the input is not changed
    fits = fit_bgnbd(features[["customer_id", "cutoff"]], purchases, 30)
    assert len(fits.by_cutoff) > 0
    fitted = pd.concat(
        [f.reset_index().assign(cutoff=c) for c, f in fits.by_cutoff.items()], ignore_index=True
    )
    merged = out.drop(columns=list(fits.names)).merge(
        fitted, on=["customer_id", "cutoff"], how="left", validate="1:1"
    )
    pd.testing.assert_frame_equal(out, merged)
    assert out["bgnbd_p_alive"].notna().any()
    # row by row: a slice's derived columns are the slice of the whole's
    for start in range(0, len(features), 250):
        part = features.iloc[start : start + 250].reset_index(drop=True)
        expected = out.iloc[start : start + 250].reset_index(drop=True)
        pd.testing.assert_frame_equal(derive_columns(part, fits, calendar=True), expected)


def _training_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spend = np.where(rng.random(n) < 0.15, np.nan, rng.lognormal(3.0, 1.2, n))
    days = rng.integers(0, 400, n).astype("float64")
    plan = rng.choice(np.array(["basic", "pro", "team", "free", "edu", None], object), n)
    logit = -1.0 + 0.01 * days - 0.3 * np.log1p(np.nan_to_num(spend)) + (plan == "free")
    return pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str).astype(object),
            "spend_90d": spend,
            "days_quiet": days,
            "visits": rng.poisson(3.0, n),  # integers, as a count column arrives
            "plan": plan,
            "churned": rng.random(n) < 1 / (1 + np.exp(-logit)),
        }
    )


@pytest.mark.parametrize("boost_from", [(), ("days_quiet",)])
def test_margins_in_batches_equal_margins_in_one(boost_from):
    from churn.modeling.train import fit_model  # noqa: PLC0415
    from churn.modeling.training_data import FeatureColumns  # noqa: PLC0415
    from churn.settings import TrainSettings  # noqa: PLC0415

    train, valid = _training_rows(3_000, seed=5), _training_rows(1_000, seed=6)
    columns = FeatureColumns(numeric=("spend_90d", "days_quiet", "visits"), categorical=("plan",))
    settings = TrainSettings(max_rounds=30, early_stopping_rounds=5, boost_from=list(boost_from))
    model = fit_model(train, valid, columns, settings).model
    scored = _training_rows(2_345, seed=7)
    scored.loc[::7, "plan"] = "a plan never seen in training"
    whole = model.margin(scored, batch_rows=len(scored))
    batched = model.margin(scored, batch_rows=500)  # five batches, the last one short
    assert whole.shape == (len(scored),)
    np.testing.assert_array_equal(batched, whole)
    np.testing.assert_array_equal(model.predict_proba(scored), model.calibrator(whole).clip(0, 1))


def _merged_rows(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """labelled_rows as it was: a left merge of the labels with the whole feature table."""
    extra = [c for c in ("churned", "split", "fold") if c in labels.columns]
    return labels[["customer_id", "cutoff", *extra]].merge(
        features, on=["customer_id", "cutoff"], how="left"
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labelled_rows_taken_column_by_column_equal_the_merge(seed, tmp_path):
    from churn.modeling.training_data import (  # noqa: PLC0415
        labelled_positions,
        labelled_rows,
        with_feature_columns,
    )

    features = _messy(3_000, seed=seed).drop(columns="cutoff").reset_index(drop=True)
    features["cutoff"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.arange(len(features)) % 5, unit="D"
    )
    features["customer_id"] = pd.array([f"c-{i // 5}" for i in range(len(features))], dtype="str")
    features = features.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    labels = features[["customer_id", "cutoff"]].sample(frac=0.7, random_state=seed)
    labels = labels.assign(
        churned=rng.random(len(labels)) < 0.3,
        split=rng.choice(["train", "valid", "test"], len(labels)),
    ).reset_index(drop=True)
    expected = _merged_rows(features, labels)
    pd.testing.assert_frame_equal(labelled_rows(features, labels), expected)
    # feature columns read in groups, as the stages read them from features.parquet
    head, rows = labelled_positions(features[["customer_id", "cutoff"]], labels)
    names = [c for c in features.columns if c not in ("customer_id", "cutoff")]
    parts = (features[names[i : i + 2]] for i in range(0, len(names), 2))
    pd.testing.assert_frame_equal(with_feature_columns(head, parts, rows), expected)


def test_drift_read_a_column_at_a_time_equals_drift_of_the_frame(tmp_path):
    from churn.io.files import ParquetRows  # noqa: PLC0415
    from churn.io.paths import Output  # noqa: PLC0415
    from churn.modeling.train import fit_model  # noqa: PLC0415
    from churn.modeling.training_data import FeatureColumns  # noqa: PLC0415
    from churn.monitoring.drift import population_drift  # noqa: PLC0415
    from churn.settings import MonitoringSettings, TrainSettings  # noqa: PLC0415

    columns = FeatureColumns(numeric=("spend_90d", "days_quiet", "visits"), categorical=("plan",))
    settings = TrainSettings(max_rounds=20, early_stopping_rounds=5)
    model = fit_model(_training_rows(2_000, 1), _training_rows(500, 2), columns, settings).model
    table = _training_rows(3_000, seed=3)
    table.loc[table.index[:1200], "plan"] = None  # the first row groups without a plan
    path = Output(tmp_path / "features.parquet", made_by="churn features p")
    write_parquet(table, path, row_group_rows=400)
    rows = np.sort(np.random.default_rng(4).choice(len(table), 1_700, replace=False))
    reference = ParquetRows(path, rows)
    frame = pd.read_parquet(path).iloc[rows].reset_index(drop=True)
    batches = list(reference.frames(["spend_90d", "plan"], batch_rows=600))
    assert [len(b) for b in batches] == [600, 600, 500]
    pd.testing.assert_frame_equal(
        pd.concat(batches, ignore_index=True), frame[["spend_90d", "plan"]]
    )
    current = _training_rows(900, seed=5).assign(days_quiet=lambda f: f["days_quiet"] * 1.5)
    catalogue = [{"name": n, "family": "f"} for n in [*columns.numeric, *columns.categorical]]
    kwargs = {"catalogue": catalogue, "settings": MonitoringSettings()}
    whole = population_drift(model, frame, current, **kwargs)
    assert population_drift(model, reference, current, **kwargs) == whole
    assert whole["reference_rows"] == 1_700 and whole["score_psi"] > 0


def test_daily_totals_share_one_object_per_customer():
    from churn.data.event_summaries import daily_totals  # noqa: PLC0415
    from churn.engines.sql import duckdb_runner  # noqa: PLC0415

    purchases, _ = _purchases_and_features(seed=2)
    events = purchases.assign(event_type="purchase")
    events.loc[events.index[::9], "customer_id"] = None  # dropped: no customer
    totals = daily_totals(events, ["purchase"])
    assert totals["customer_id"].dtype == object
    # what a plain conversion gives: one string per row
    plain = duckdb_runner()(
        {"e": events.dropna(subset=["customer_id"])},
        "SELECT customer_id FROM e GROUP BY customer_id, CAST(ts AS DATE) ORDER BY 1, MIN(ts)",
    ).to_pandas()["customer_id"]
    assert totals["customer_id"].tolist() == plain.astype(object).tolist()
    firsts = totals.groupby("customer_id", sort=False)["customer_id"].first()
    assert totals["customer_id"].map(id).nunique() == len(firsts)  # one object per customer
    assert totals["customer_id"].nunique() < len(totals)


def _labelled_tables(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A feature table (several cutoffs, gaps, an integer and two text columns, more columns
    than one read takes) and labels in their own order with every split, the unlabelled
    ``score`` rows among them."""
    rng = np.random.default_rng(seed)
    cutoffs = pd.date_range("2024-01-01", periods=7, freq="MS")
    n_customers = 400
    features = pd.DataFrame(
        {
            "customer_id": pd.array(
                [f"c-{i}" for i in range(n_customers) for _ in cutoffs], dtype="str"
            ),
            "cutoff": np.tile(cutoffs.to_numpy(), n_customers),
        }
    )
    n = len(features)
    for k in range(10):
        features[f"x{k}"] = np.where(rng.random(n) < 0.1 * (k % 3), np.nan, rng.normal(k, 1, n))
    features["visits"] = rng.poisson(3.0, n)
    features["plan"] = rng.choice(np.array(["basic", "pro", None, "édu"], object), n)
    features["region"] = pd.array(rng.choice(["north", "south", "west"], n), dtype="str")
    features = features.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    split_of = dict(zip(cutoffs, ["train"] * 3 + ["purged", "valid", "test", "score"], strict=True))
    labels = features[["customer_id", "cutoff"]].sample(frac=0.8, random_state=seed + 1)
    split = labels["cutoff"].map(split_of).to_numpy()
    churned = pd.array(rng.random(len(labels)) < 0.3, dtype="boolean")
    churned[split == "score"] = pd.NA
    labels = labels.assign(churned=churned, split=split).reset_index(drop=True)
    return features, labels


@pytest.mark.parametrize("seed", [0, 1])
def test_splits_read_from_the_files_equal_the_splits_of_all_labelled_rows(seed, tmp_path):
    from churn.io.files import read_labels  # noqa: PLC0415
    from churn.io.paths import PipelinePaths  # noqa: PLC0415
    from churn.modeling.train import fit_model  # noqa: PLC0415
    from churn.modeling.training_data import (  # noqa: PLC0415
        FeatureColumns,
        labelled_rows,
        split_rows,
    )
    from churn.settings import TrainSettings  # noqa: PLC0415
    from churn.stages._canonical import COLUMNS_PER_READ, labelled_feature_splits  # noqa: PLC0415

    features, labels = _labelled_tables(seed)
    assert len(features.columns) - 2 > COLUMNS_PER_READ  # the table is read in several groups
    paths = PipelinePaths(tmp_path, "p")
    paths.interim.mkdir(parents=True)
    write_parquet(features, paths.features)
    write_parquet(labels, paths.labels)
    groups = {
        "train": ["train"],
        "valid": ["valid"],
        "test": ["test"],
        "purged": ["purged"],
        "history": ["train", "purged", "valid"],
    }
    got = labelled_feature_splits(paths, read_labels(paths.labels), groups)
    # what the stage did before: every labelled row in one frame, each split copied from it
    whole = labelled_rows(pd.read_parquet(paths.features), read_labels(paths.labels))
    assert (whole["split"] == "score").any()
    for name, splits in groups.items():
        pd.testing.assert_frame_equal(got[name], split_rows(whole, splits))
        assert "score" not in set(got[name]["split"])
    # some feature columns only (what the baselines read of the training rows), in table order
    some = labelled_feature_splits(
        paths, read_labels(paths.labels), {"train": ["train"]}, columns=["visits", "x1", "nope"]
    )["train"]
    named = set(features.columns) - {"customer_id", "cutoff"}
    head = [c for c in got["train"].columns if c not in named]
    pd.testing.assert_frame_equal(some, got["train"][[*head, "x1", "visits"]])

    columns = FeatureColumns(
        numeric=(*(f"x{k}" for k in range(10)), "visits"), categorical=("plan", "region")
    )
    settings = TrainSettings(max_rounds=25, early_stopping_rounds=5, refit_on_purged=True)
    new = fit_model(got["train"], got["valid"], columns, settings, purged=got["purged"]).model
    old = fit_model(
        split_rows(whole, "train"),
        split_rows(whole, "valid"),
        columns,
        settings,
        purged=split_rows(whole, "purged"),
    ).model
    assert new.metadata["refit_rows"] == len(got["train"]) + len(got["purged"])
    assert bytes(new.booster.save_raw("ubj")) == bytes(old.booster.save_raw("ubj"))
    np.testing.assert_array_equal(
        new.predict_proba(got["test"]), old.predict_proba(split_rows(whole, "test"))
    )


def _cutoff_rows(n: int, seed: int, cutoff: str) -> pd.DataFrame:
    return _training_rows(n, seed).assign(cutoff=pd.Timestamp(cutoff))


@pytest.mark.parametrize(
    ("refit_on_purged", "calibration_cutoffs", "reads"),
    [(False, 1, 0), (True, 1, 1), (False, 2, 1), (True, 2, 1)],
)
def test_training_rows_let_go_while_boosting_give_the_same_model(
    refit_on_purged, calibration_cutoffs, reads
):
    import gc  # noqa: PLC0415
    import weakref  # noqa: PLC0415

    from churn.modeling.train import fit_model  # noqa: PLC0415
    from churn.modeling.training_data import FeatureColumns, TrainingRows  # noqa: PLC0415
    from churn.settings import TrainSettings  # noqa: PLC0415

    def train_rows() -> pd.DataFrame:
        return pd.concat(
            [_cutoff_rows(800, k, f"2024-0{k}-01") for k in (1, 2, 3)], ignore_index=True
        )

    valid, purged = _cutoff_rows(700, 8, "2024-05-01"), _cutoff_rows(600, 9, "2024-04-01")
    columns = FeatureColumns(numeric=("spend_90d", "days_quiet", "visits"), categorical=("plan",))
    settings = TrainSettings(
        max_rounds=25,
        early_stopping_rounds=5,
        boost_from=["days_quiet"],
        refit_on_purged=refit_on_purged,
        calibration_cutoffs=calibration_cutoffs,
    )
    frame = train_rows()
    first = weakref.ref(frame)
    read_again: list[bool] = []

    def reread() -> pd.DataFrame:
        gc.collect()
        read_again.append(first() is None)  # the first frame was freed before this read
        return train_rows()

    rows = TrainingRows(frame, reread=reread)
    del frame
    lean = fit_model(rows, valid, columns, settings, purged=purged).model
    whole = fit_model(train_rows(), valid, columns, settings, purged=purged).model

    gc.collect()
    assert first() is None  # nothing the fit kept holds the rows it was given
    assert read_again == [True] * reads
    assert rows.held == bool(reads)
    assert bytes(lean.booster.save_raw("ubj")) == bytes(whole.booster.save_raw("ubj"))
    assert lean.metadata == whole.metadata
    scored = _cutoff_rows(500, 10, "2024-06-01")
    np.testing.assert_array_equal(lean.predict_proba(scored), whole.predict_proba(scored))


def test_training_rows_without_a_reread_are_kept():
    from churn.modeling.training_data import TrainingRows  # noqa: PLC0415

    frame = _training_rows(10, seed=1)
    rows = TrainingRows(frame)
    rows.let_go()
    assert rows.held
    assert rows.frame is frame
