"""Where ``churn uplift`` leaves the models it fitted, for the stages that read them: the served
model at the top of ``models/<p>.uplift/`` (with the held-out one in ``held_out/``), read by
``churn score``; a model fitted but not used for scoring in ``not_served/``, read only by
``churn register``, which logs and registers either."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from churn.campaigns.uplift import MANIFEST_FILE

NOT_SERVED = "not_served"
"""Subfolder of the uplift folder holding a model fitted but not used for scoring (it did not
beat the risk ranking on held-out campaigns): scoring never reads it."""
CHURN_MODEL_MD5 = "churn_model_md5"
"""Key of ``uplift.json``: the digest of the churn model folder the uplift model was judged
against (:func:`churn.io.digest.folder_md5`), which ``churn register`` matches with the churn
model it registers."""


@dataclass(frozen=True)
class FittedUplift:
    """The folder of the uplift model ``churn uplift`` fitted and whether scoring uses it."""

    folder: Path
    used_for_scoring: bool


def fitted_uplift(uplift_dir: Path) -> FittedUplift | None:
    """The model in ``uplift_dir`` (``models/<p>.uplift``): the served one when there is one,
    else the one fitted but not served; None when the stage fitted none (or never ran)."""
    if (uplift_dir / MANIFEST_FILE).is_file():
        return FittedUplift(uplift_dir, used_for_scoring=True)
    if (uplift_dir / NOT_SERVED / MANIFEST_FILE).is_file():
        return FittedUplift(uplift_dir / NOT_SERVED, used_for_scoring=False)
    return None
