"""The closed loop judged against the simulator's truth (issue 14), on the bundled
``subscription`` pipeline: ``make run`` runs it after ``dvc repro`` and writes
``reports/subscription/simulator_truth.json``.

``churn`` never reads the truth; this script does, to say how close the pipeline came:

1. **Measured effects.** For each action, the mean true effect (the fall in the month's churn
   probability a contact caused, ``truth/campaign_truth``) over the contacted customers of every
   campaign whose outcome is known, against the interval ``churn monitor`` measured
   (``reports/subscription/campaigns.json``): does the interval cover it?
2. **Targeting at one budget.** At the test cutoff's campaign, each ranking contacts the same
   number of customers (the size of that list's outreach slice), and each contacted customer
   gets the action that truly saves them most, so only *whom* differs. True value saved:
   sum of true effect x the customer's value - the action's cost. Rankings: churn probability,
   value at risk, the uplift model judged on held-out campaigns (fitted only on outcomes known
   before that day) with the issue's policy (per customer, the best action's estimated uplift x
   value - cost), churn's own list (its contact rows; also with its own actions), random,
   and the truth's best (an upper bound). Also: the share of each kind of customer at that
   campaign (``churn.data.simulate.effect_segments``) and of persuadables in each ranking's top.

Usage: .venv/bin/python benchmarks/simulator_truth.py [--project-dir .] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.campaigns.uplift import MANIFEST_FILE, UpliftModel
from churn.campaigns.uplift_training import HELD_OUT, KNOWN_BY, UNSERVED
from churn.data.simulate import effect_segments
from churn.io.paths import PipelinePaths
from churn.settings import load_settings

PIPELINE = "subscription"


def _covered(
    truth: pd.DataFrame, contacts: pd.DataFrame, campaigns: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per action: the mean true effect over its contacted customers with a known outcome, and
    whether the measured interval covers it."""
    known = {(c["day"]) for c in campaigns.get("campaigns", [])}
    given = contacts[(contacts["group"] == "contacted")].assign(
        day=pd.to_datetime(contacts["contacted_at"]).dt.strftime("%Y-%m-%d")
    )
    given = given[given["day"].isin(known)]
    t = truth.assign(day=pd.to_datetime(truth["campaign_date"]).dt.strftime("%Y-%m-%d"))
    joined = given.merge(t, on=["customer_id", "day", "action"], how="inner")
    out = []
    for row in campaigns.get("by_action", []):
        rows = joined[joined["action"] == row["action"]]
        true = float(rows["true_effect"].mean()) if len(rows) else None
        low, high = row["effect_low"], row["effect_high"]
        out.append(
            {
                "action": row["action"],
                "true_mean_effect": true,
                "measured_effect": row["effect"],
                "interval_90": [low, high],
                "covered": None if true is None or low is None else bool(low <= true <= high),
                "contacted": int(row["n_contacted"]),
                "control": int(row["n_control"]),
            }
        )
    return out


def _uplift_scores(
    paths: PipelinePaths,
    features: pd.DataFrame,
    *,
    value: pd.Series,
    risk: pd.Series,
    costs: dict[str, float],
    day: dt.date,
) -> pd.Series | None:
    """The issue's policy with the uplift model: per customer, the best action's estimated
    uplift x value - cost (``value`` and ``risk``, the churn probability, by customer
    id; an action without a cost costs 0)."""
    for folder in (
        paths.uplift_model / HELD_OUT,
        paths.uplift_model / UNSERVED,
        paths.uplift_model,
    ):
        if (folder / MANIFEST_FILE).is_file():
            model = UpliftModel.load(folder)
            if dt.date.fromisoformat(str(model.metadata[KNOWN_BY])) <= day:
                ids = features["customer_id"].to_numpy()
                uplift = model.predict(features, risk.reindex(ids).to_numpy(dtype="float64"))
                worth = value.reindex(ids).to_numpy(dtype="float64")[:, None]
                cost = np.array([costs.get(str(a), 0.0) for a in uplift.columns])[None, :]
                best = (uplift.to_numpy(dtype="float64") * worth - cost).max(axis=1)
                return pd.Series(best, index=ids)
    return None


def targeting(
    paths: PipelinePaths, truth: pd.DataFrame, costs: dict[str, float], day: dt.date
) -> dict[str, Any]:
    scores = pd.read_parquet(paths.scores_history(day.isoformat())).set_index("customer_id")
    t = truth[pd.to_datetime(truth["campaign_date"]).dt.date == day]
    t = t[t["customer_id"].isin(scores.index)]
    value = scores["expected_value"].reindex(t["customer_id"]).to_numpy()
    net = t["true_effect"].to_numpy() * value - t["action"].map(costs).fillna(0.0).to_numpy()
    t = t.assign(net=net)
    best = t.loc[t.groupby("customer_id")["net"].idxmax()].set_index("customer_id")
    ids = best.index
    scores = scores.reindex(ids)
    contact = scores["outreach_status"] == "contact"
    budget = int(contact.sum())
    features = pd.read_parquet(paths.features)
    features = features[features["cutoff"] == pd.Timestamp(day)]
    features = features[features["customer_id"].isin(ids)].reset_index(drop=True)
    rankings: dict[str, pd.Series] = {
        "churn_probability": scores["churn_probability"],
        "value_at_risk": scores["value_at_risk"],
        "random": pd.Series(np.random.default_rng(0).random(len(ids)), index=ids),
        "truth_best": best["net"],
    }
    uplift = _uplift_scores(
        paths,
        features,
        value=scores["expected_value"],
        risk=scores["churn_probability"],
        costs=costs,
        day=day,
    )
    if uplift is not None:
        rankings["uplift_model"] = uplift.reindex(ids).fillna(-np.inf)
    report = json.loads(paths.uplift_report.read_text()) if paths.uplift_report.is_file() else {}
    out: dict[str, Any] = {
        "day": day.isoformat(),
        "customers": len(ids),
        "budget": budget,
        "uplift_model_served": report.get("used_for_scoring"),
    }
    saved = {
        name: float(
            best.loc[r.sort_values(ascending=False, kind="stable").index[:budget], "net"].sum()
        )
        for name, r in rankings.items()
    }
    saved["churn_list"] = float(best.loc[contact[contact].index, "net"].sum())
    own = t.set_index(["customer_id", "action"])["net"]
    listed = scores[contact]
    pairs = list(zip(listed.index, listed["recommended_action"], strict=True))
    saved["churn_list_own_actions"] = float(own.reindex(pairs).fillna(0.0).sum())
    out["true_value_saved"] = saved
    segment = effect_segments(t).set_index("customer_id")["segment"]
    out["truth_segments"] = segment.value_counts(normalize=True).round(4).to_dict()
    out["persuadable_share_of_contacted"] = {
        name: float(
            (
                segment.reindex(r.sort_values(ascending=False, kind="stable").index[:budget])
                == "persuadable"
            ).mean()
        )
        for name, r in rankings.items()
    }
    base = saved["churn_probability"]
    out["ratio_to_risk_targeting"] = {k: (v / base if base else None) for k, v in saved.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.project_dir.resolve()
    settings = load_settings(root, PIPELINE)
    paths = PipelinePaths(root, PIPELINE)
    raw = root / "data" / "raw" / PIPELINE
    truth = pd.read_parquet(raw / "truth" / "campaign_truth.parquet")
    contacts = pd.read_parquet(raw / "contacts.parquet")
    campaigns = json.loads(paths.campaigns.read_text())
    pb = settings.playbook
    costs = {r.action: r.cost for r in pb.rules} | {pb.default_action: pb.default_cost}
    day = settings.monitoring.backfill_cutoffs[0]
    result = {
        "note": "churn never reads the truth; see benchmarks/simulator_truth.py",
        "measured_effects": _covered(truth, contacts, campaigns),
        "targeting": targeting(paths, truth, costs, day),
    }
    out = args.out or paths.reports / "simulator_truth.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["targeting"]["ratio_to_risk_targeting"], indent=2))


if __name__ == "__main__":
    main()
