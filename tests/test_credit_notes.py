"""Credit notes told by their sign: an accounting export's document type (a German ERP's
`Belegart`: `Rechnung`, `Gutschrift`) whose one value carries the negative amounts. init had
found no event type, so the credit notes were purchases: activity that kept a customer, and
ingest warned of negative purchases with no way out of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.credit_notes import credit_values, negative_amounts
from churn.data.inference import infer_event_roles
from tests.test_init import export, init, project, written


def _erp_export(n: int = 400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    credit = rng.random(n) < 0.06
    amounts = rng.lognormal(6, 1, n) * np.where(credit, -0.5, 1)
    return pd.DataFrame(
        {
            "Belegnr": [str(4_000_000 + k) for k in range(n)],
            "Belegdatum": (
                pd.Timestamp("2023-01-02") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
            ).strftime("%d.%m.%Y"),
            "Kundennr": [f"K{10_000 + k % 45}" for k in range(n)],
            "Belegart": np.where(credit, "Gutschrift", "Rechnung"),
            "Nettobetrag": [
                f"{a:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") for a in amounts
            ],
            "Zahlungsziel": rng.choice(["14 Tage", "30 Tage netto", "sofort"], n),
        }
    )


def test_negative_amounts_are_told_whatever_the_decimal_mark() -> None:
    written_as = pd.Series(["-1.234,56", "1.234,56", "(12.50)", "12.50-", "", None, "7"])
    assert negative_amounts(written_as).tolist() == [True, False, True, True, False, False, False]


def test_the_value_on_the_negative_rows_is_a_credit_note() -> None:
    frame = _erp_export()
    negative = negative_amounts(frame["Nettobetrag"])
    assert credit_values(frame["Belegart"], negative) == ("Gutschrift",)
    # terms of payment have nothing to do with the sign
    assert credit_values(frame["Zahlungsziel"], negative) == ()
    # every row negative: no invoice left to tell them from
    assert credit_values(frame["Belegart"], pd.Series(True, index=frame.index)) == ()


def test_a_document_type_with_credit_notes_is_the_event_type(tmp_path: Path) -> None:
    frame = _erp_export()
    plain = frame.assign(  # as init reads the sample: numbers with a decimal point
        Nettobetrag=frame["Nettobetrag"].str.replace(".", "").str.replace(",", ".")
    )
    roles = infer_event_roles(plain)
    assert (roles.event_type, roles.credit_types) == ("Belegart", ("Gutschrift",))
    root = project(tmp_path / "p")
    path = export(tmp_path, frame, "umsaetze.csv", sep=";")
    code, out = init(root, "erp", "--events", str(path))
    assert code == 0, out
    params = written(root, "erp")
    assert params["labels"]["activity_event_types"] == ["Rechnung"]
    assert params["features"]["return_event_types"] == ["Gutschrift"]
    assert "'Gutschrift' rows carry the negative 'Nettobetrag'" in " ".join(out.split())
