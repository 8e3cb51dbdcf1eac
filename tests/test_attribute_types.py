"""Attributes of any type, through the CLI on the tiny shop: a customers attribute whose values
do not read as numbers is a category (logged), one that reads as numbers stays a number, and
numbers with a few values that do not read are refused naming them. Event attributes are the
latest value seen, always a category. Training and scoring read them the same way."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pytest

from churn.data.attribute_types import AttributeColumn, reads_as_numbers
from churn.data.problems import Problems
from churn.io.canonical import CanonicalFiles
from churn.io.paths import PipelinePaths
from churn.kinds import kind_of
from churn.modeling.model import ChurnModel
from churn.settings import load_settings
from tests._project import ORDERS, PIPELINE, churn, make_project, params, write_params

pytestmark = [
    # MLflow's SQL store configures SQLAlchemy mappers with the deprecated `noload` strategy
    # (see test_bad_inputs); raised when `churn train` opens the store.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]

CUSTOMERS = "data/raw/shop/customers.csv"


def attribute_project(
    root: Path,
    customers: Mapping[str, Sequence[str]],
    events: Mapping[str, Sequence[str]] = {},
    *,
    categorical: Sequence[str] = (),
) -> Path:
    """The shop with a customers file of ``customers`` attributes (one value per customer, in
    id order, repeated) and ``events`` attributes on the orders (one value per order, repeated),
    each mapped under its own name."""
    make_project(root)
    orders = pd.read_csv(root / ORDERS, dtype=str)
    for name, values in events.items():
        orders[name] = [values[i % len(values)] for i in range(len(orders))]
    orders.to_csv(root / ORDERS, index=False)
    ids = sorted(orders["cust"].unique())
    table = pd.DataFrame({"id": ids})
    for name, values in customers.items():
        table[name] = [values[i % len(values)] for i in range(len(ids))]
    table.to_csv(root / CUSTOMERS, index=False)
    p = params()
    p["data"]["events"]["sources"][0]["attributes"] = {n: n for n in events}
    p["data"]["customers"] = {
        "sources": [
            {
                "path": CUSTOMERS,
                "columns": {"customer_id": "id"},
                "attributes": {n: n for n in customers},
            }
        ]
    }
    p["features"]["categorical_attributes"] = list(categorical)
    write_params(root, p)
    return root


AGES = [str(20 + i) for i in range(40)] + [""]  # a blank age is a missing number
COUPONS = [str(i) for i in range(98)] + ["none", "n.a."]  # numbers, mostly


def mixed_project(root: Path) -> Path:
    """A text and a numeric customers attribute, and three event attributes."""
    return attribute_project(
        root,
        {"plan": ["basic", "pro", "basic"], "age": AGES},
        {"channel": ["web", "store"], "basket": ["1", "2.5", "4"], "coupon": COUPONS},
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mixed_project`` through ingest, labels, features and train."""
    root = mixed_project(tmp_path_factory.mktemp("attributes"))
    for stage in ("ingest", "labels", "features", "train"):
        code, out = churn(root, stage)
        assert code == 0, f"churn {stage}: {out}"
    return root


def catalogue_kinds(root: Path) -> dict[str, str]:
    path = root / "data/interim" / PIPELINE / "feature_catalogue.json"
    return {f["name"]: f["kind"] for f in json.loads(path.read_text())}


def test_ingest_logs_the_attributes_it_took_as_categories(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="churn")
    code, out = churn(mixed_project(tmp_path), "ingest")
    assert code == 0, out
    notes = [r.getMessage() for r in caplog.records if "does not read as numbers" in r.getMessage()]
    assert len(notes) == 1 and notes[0].startswith("data.customers attribute 'plan' ")
    assert "features.categorical_attributes" in notes[0]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.getMessage() in notes)


def test_a_text_customers_attribute_is_a_category(trained: Path) -> None:
    root = trained
    canonical = pd.read_parquet(root / "data/interim" / PIPELINE / "canonical/customers.parquet")
    assert canonical["age"].dtype == "float64" and canonical["age"].isna().sum() > 0
    assert not pd.api.types.is_numeric_dtype(canonical["plan"])
    kinds = catalogue_kinds(root)
    assert kinds["plan"] == "categorical" and kinds["age"] == "numeric"
    features = pd.read_parquet(root / "data/interim" / PIPELINE / "features.parquet")
    assert set(features["plan"].dropna()) == {"basic", "pro"}
    assert features["age"].dtype == "float64"
    assert set(features["age"].dropna()) == {float(a) for a in AGES if a}


def test_event_attributes_are_categories_whatever_their_values(trained: Path) -> None:
    root = trained
    kinds = catalogue_kinds(root)
    assert [kinds[n] for n in ("channel", "basket", "coupon")] == ["categorical"] * 3
    features = pd.read_parquet(root / "data/interim" / PIPELINE / "features.parquet")
    assert set(features["channel"].dropna()) == {"web", "store"}
    assert set(features["basket"].dropna()) <= {"1", "2.5", "4"}
    assert set(features["coupon"].dropna()) <= set(COUPONS)


def test_training_and_scoring_read_the_attributes_alike(trained: Path) -> None:
    root = trained
    model = ChurnModel.load(root / "models" / PIPELINE)
    assert list(model.categories["plan"]) == ["basic", "pro"]
    assert "age" in model.numeric_features
    settings = load_settings(root, PIPELINE)
    paths = PipelinePaths(root, PIPELINE)
    training = pd.read_parquet(paths.features)
    scored = kind_of(settings).population(CanonicalFiles(paths, settings.features), None).features
    assert scored.columns.tolist() == training.columns.tolist()
    numeric = pd.api.types.is_numeric_dtype
    assert [numeric(scored[c]) for c in scored] == [numeric(training[c]) for c in training]
    matrix = model.matrix(scored)
    assert matrix["plan"].notna().all()  # every plan is one the model was trained on
    assert matrix["age"].notna().sum() > 0
    assert model.predict_proba(scored).min() >= 0 and model.predict_proba(scored).max() <= 1


def test_a_listed_attribute_is_a_category_even_of_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="churn")
    root = attribute_project(tmp_path, {"age": AGES}, categorical=["age"])
    for stage in ("ingest", "labels", "features"):
        code, out = churn(root, stage)
        assert code == 0, f"churn {stage}: {out}"
    assert "does not read as numbers" not in caplog.text
    canonical = pd.read_parquet(root / "data/interim" / PIPELINE / "canonical/customers.parquet")
    assert not pd.api.types.is_numeric_dtype(canonical["age"])
    assert catalogue_kinds(root)["age"] == "categorical"
    features = pd.read_parquet(root / "data/interim" / PIPELINE / "features.parquet")
    assert set(features["age"].dropna()) == {a for a in AGES if a}


def test_numbers_with_a_few_that_do_not_read_are_refused(tmp_path: Path) -> None:
    """2 of 160 scores are not numbers: a typing error, not a category."""
    scores = [str(i) for i in range(158)] + ["unknown", "12,5"]
    root = attribute_project(tmp_path, {"plan": ["basic", "pro"], "score": scores})
    code, out = churn(root, "ingest")
    assert code == 3, out
    message = " ".join(out.split())
    for part in (
        CUSTOMERS,
        "'score'",
        "expected a number: 158 of 160 values",
        "'unknown'",
        "'12,5'",
        "features.categorical_attributes",
    ):
        assert part in message, f"{part!r} not in {out}"
    assert "'plan'" not in message.split("error:")[-1]  # a category is no problem
    assert not (root / "data/interim" / PIPELINE / "canonical").exists()
    assert "Traceback" not in out


def column(values: list[str | None], path: str = "c.csv") -> AttributeColumn:
    return AttributeColumn(path, "x", pd.Series(values, dtype=object))


@pytest.mark.parametrize(
    ("parts", "numbers"),
    [
        ([["1", "2.5", None, "-3"]], True),
        ([["1", "2"], ["3", None]], True),  # over every source
        ([["a", "b", "1"]], False),
        ([[None, None]], False),  # nothing to read: a category, never a failed cast
        ([[]], False),
    ],
)
def test_reads_as_numbers(parts: list[list[str | None]], numbers: bool) -> None:
    problems = Problems()
    assert reads_as_numbers("x", [column(p) for p in parts], problems) is numbers
    assert problems.items == []


def test_a_few_bad_values_are_a_problem_of_the_file_that_holds_them() -> None:
    problems = Problems()
    good = column([str(i) for i in range(60)], "a.csv")
    bad = column([str(i) for i in range(59)] + ["?"], "b.csv")
    assert reads_as_numbers("x", [good, bad], problems) is False
    assert [(p.source, p.column, p.examples) for p in problems.items] == [("b.csv", "x", ("?",))]
