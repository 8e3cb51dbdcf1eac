"""What retention campaigns did and whom they change: each past contact's outcome
(:mod:`churn.campaigns.outcomes`), effects measured on past contacts
(contacted against control, per action or group), playbook offers updated by them, and an
uplift model ranking customers by the churn an action would remove, with the Qini measures
that compare it to a risk ranking. Pure: frames, arrays and offers in and out; only
:meth:`UpliftModel.save` and :meth:`UpliftModel.load` touch a folder."""

from churn.campaigns.effects import EffectUpdate, measure_effects, updated_offers
from churn.campaigns.qini import compare_rankings, qini_coefficient, qini_curve, uplift_at_k
from churn.campaigns.uplift import UpliftModel, UpliftParams, fit_uplift

__all__ = [
    "EffectUpdate",
    "UpliftModel",
    "UpliftParams",
    "compare_rankings",
    "fit_uplift",
    "measure_effects",
    "qini_coefficient",
    "qini_curve",
    "updated_offers",
    "uplift_at_k",
]
