"""``churn init`` on exports of web shops and analytics tools, each a shape that failed before:

- Shopify's orders export has no customer id; its order ``Id`` (new on every order) was taken
  for one, so nobody came back. The buyer's ``Email`` is the person.
- GA4's BigQuery export has ``event_date`` (20240105) beside ``event_timestamp``
  (microseconds): init stopped, "more than one column could be the timestamp". And its
  ``user_id`` is set only for signed-in visitors, so ``user_pseudo_id`` is the key.
- Excel's "Unicode text" (and many ad platforms) write UTF-16 with tabs: the header read as
  ``ÿþC\\x00u\\x00s...`` and init stopped on the garbled column names.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data.inference import RoleNotFound, infer_event_roles, placeholder_ids
from churn.errors import InputDataError
from churn.init.sniff import file_format, read_sample
from tests._project import run_stages
from tests.test_init import export, init, project, written


def _shopify_sample(n_orders: int = 60, seed: int = 3) -> pd.DataFrame:
    """Orders of a few buyers, two lines each: order-level fields only on the first line."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_orders):
        email = f"buyer{rng.integers(15)}@example.com"
        created = (pd.Timestamp("2024-01-01") + pd.Timedelta(hours=37 * k)).strftime(
            "%Y-%m-%d %H:%M:%S -0500"
        )
        for line in range(2):
            first = line == 0
            rows.append(
                {
                    "Name": f"#{1001 + k}",
                    "Email": email,
                    "Financial Status": "paid" if first else "",
                    "Total": f"{rng.uniform(10, 90):.2f}" if first else "",
                    "Created at": created,
                    "Lineitem quantity": "1",
                    "Lineitem price": f"{rng.uniform(5, 40):.2f}",
                    "Id": str(4_500_000_000_000 + k) if first else "",
                }
            )
    return pd.DataFrame(rows)


def test_a_shop_export_with_only_an_order_id_is_keyed_by_the_buyers_email() -> None:
    roles = infer_event_roles(_shopify_sample())
    assert roles.customer_id == "Email"
    assert any("'Email' (email addresses, repeating)" in note for note in roles.notes)
    # the order number, on every line of its order: one purchase, not one per line
    assert roles.order_id == "Name"


def test_a_named_id_that_repeats_still_wins_over_an_email() -> None:
    sample = _shopify_sample()
    sample["Customer ID"] = sample["Email"].str.replace("@example.com", "", regex=False)
    assert infer_event_roles(sample).customer_id == "Customer ID"


def test_with_no_id_named_the_email_wins_over_a_repeating_order_number() -> None:
    # without `Id`, the order number `Name` (#1001, on both lines of an order) repeats too
    sample = _shopify_sample().drop(columns=["Id"])
    assert infer_event_roles(sample).customer_id == "Email"


def _ga4_sample(signed_in_every: int) -> pd.DataFrame:
    """Three visitors' events; ``user_id`` filled on one row in ``signed_in_every``."""
    rows = []
    start = pd.Timestamp("2024-03-01 22:30", tz="UTC")
    for k in range(90):
        t = start + pd.Timedelta(minutes=41 * k)
        visitor = k % 3
        rows.append(
            {
                "event_date": t.tz_convert("America/Los_Angeles").strftime("%Y%m%d"),
                "event_timestamp": str(int(t.timestamp() * 1_000_000)),
                "event_name": ["page_view", "view_item", "purchase"][k % 3],
                "user_pseudo_id": f"{1_700_000_000 + visitor}.{1_690_000_000 + visitor}",
                "user_id": f"member-{visitor}" if k % signed_in_every == 0 else "",
            }
        )
    return pd.DataFrame(rows)


def test_an_event_timestamp_beside_the_same_events_date_is_the_timestamp() -> None:
    roles = infer_event_roles(_ga4_sample(signed_in_every=1000))
    assert (roles.timestamp.column, roles.timestamp.format) == ("event_timestamp", "unix_us")
    assert any("['event_date'] hold the same days" in note for note in roles.notes)


def test_dates_of_other_days_beside_a_timestamp_still_ask_which() -> None:
    sample = _ga4_sample(signed_in_every=1000)
    sample["event_date"] = "20200101"  # not the day of the event: another moment
    with pytest.raises(RoleNotFound, match="more than one column could be the timestamp"):
        infer_event_roles(sample)


def test_an_id_blank_on_most_rows_yields_to_the_one_on_every_row() -> None:
    roles = infer_event_roles(_ga4_sample(signed_in_every=6))
    assert roles.customer_id == "user_pseudo_id"
    assert any("['user_id'] named like a customer id are blank" in note for note in roles.notes)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be")],
)
def test_utf16_text_is_read_with_or_without_a_byte_order_mark(
    tmp_path: Path, encoding: str, expected: str
) -> None:
    frame = pd.DataFrame(
        {"Customer No": ["C1", "C2", "C1"], "Order Date": ["05/01/2024"] * 3, "Ort": ["Köln"] * 3}
    )
    path = export(tmp_path, frame, "sales.txt", sep="\t", encoding=encoding)
    assert path.read_bytes().startswith(codecs.BOM_UTF16_LE) == (encoding == "utf-16")
    fmt = file_format(path)
    assert (fmt.encoding, fmt.separator) == (expected, "\t")
    sample = read_sample(path, fmt)
    assert list(sample.columns) == ["Customer No", "Order Date", "Ort"]
    assert sample["Ort"].tolist() == ["Köln"] * 3


def test_a_utf16_log_runs_from_init_to_ingest(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    days = pd.date_range("2023-01-01", "2024-06-30", freq="D")
    frame = pd.DataFrame(
        {
            "Customer No": [f"C{i % 40:03d}" for i in range(1200)],
            "Order Date": rng.choice(days, 1200).astype("datetime64[ns]"),
            "Net Amount": rng.uniform(5, 50, 1200).round(2),
        }
    )
    frame["Order Date"] = frame["Order Date"].dt.strftime("%d/%m/%Y")
    root = project(tmp_path)
    path = export(tmp_path, frame, "sales.txt", sep="\t", encoding="utf-16")
    code, output = init(root, "uni", "--events", str(path))
    assert code == 0, output
    assert written(root, "uni")["data"]["events"]["sources"][0]["encoding"] == "utf-16"
    run_stages(root, ["ingest"], name="uni")
    events = pd.read_parquet(root / "data/interim/uni/canonical/events.parquet")
    assert len(events) == len(frame)
    assert set(events["customer_id"]) == set(frame["Customer No"])


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["0"] * 60 + [str(i) for i in range(1, 40) for _ in range(2)], ("0",)),
        (["guest"] * 25 + [f"c{i}" for i in range(60)], ("guest",)),
        (["(not set)"] * 25 + [f"c{i}" for i in range(60)], ("(not set)",)),
        (["-1"] * 25 + [f"c{i}" for i in range(60)], ("-1",)),
        # a customer 0 with an ordinary number of rows is a customer
        (["0"] * 3 + [str(i) for i in range(1, 40) for _ in range(3)], ()),
        # a busy customer named like no placeholder is a customer
        (["c1"] * 300 + [f"c{i}" for i in range(2, 60)], ()),
    ],
)
def test_an_id_that_stands_for_no_customer_is_told_by_its_name_and_its_rows(
    ids: list[str], expected: tuple[str, ...]
) -> None:
    assert placeholder_ids(pd.Series(ids)) == expected


def _woo_orders(n: int, seed: int) -> pd.DataFrame:
    """WooCommerce's orders export: ``Customer User ID`` 0 on every guest checkout."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        guest = i % 3 == 0
        for _ in range(int(rng.integers(1, 6))):
            day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=float(rng.uniform(0, 540)))
            rows.append(
                {
                    "Order Number": str(5000 + len(rows)),
                    "Order Date": day.strftime("%Y-%m-%d %H:%M"),
                    "Customer User ID": "0" if guest else str(100 + i),
                    "Billing Email Address": f"shopper{i}@mail.example",
                    "Order Total Amount": f"{rng.uniform(10, 80):.2f}",
                }
            )
    return pd.DataFrame(rows).sort_values("Order Date")


def test_guests_id_0_is_no_customer_from_init_to_ingest(tmp_path: Path) -> None:
    """Before, every guest checkout was one customer `0` with thousands of orders."""
    orders = _woo_orders(150, seed=4)
    roles = infer_event_roles(orders)
    assert (roles.customer_id, roles.placeholder_ids) == ("Customer User ID", ("0",))
    assert any("key everyone by 'Billing Email Address'" in note for note in roles.notes)

    root = project(tmp_path)
    code, output = init(root, "woo", "--events", str(export(tmp_path, orders, "orders.csv")))
    assert code == 0, output
    events = written(root, "woo")["data"]["events"]
    assert events["sources"][0]["missing_ids"] == ["0"]
    assert events["drop_missing_customer_id"] is True
    run_stages(root, ["ingest"], name="woo")
    canonical = pd.read_parquet(root / "data/interim/woo/canonical/events.parquet")
    registered = orders[orders["Customer User ID"] != "0"]
    assert len(canonical) == len(registered)
    assert "0" not in set(canonical["customer_id"])


@pytest.mark.parametrize("column", ["mrr", "MRR", "arr_usd", "Plan MRR"])
def test_recurring_revenue_is_an_amount(column: str) -> None:
    sample = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c1", "c3"],
            "occurred_at": ["2024-01-01", "2024-01-02", "2024-02-01", "2024-02-03"],
            column: ["29", "99", "29", "299"],
            "carrier": ["x", "y", "x", "y"],
        }
    )
    assert infer_event_roles(sample).amount == column


def test_amounts_in_several_currencies_are_said_to_be_added_as_one() -> None:
    sample = _shopify_sample()
    sample["Currency"] = ["USD", "EUR", "", "GBP"] * (len(sample) // 4)
    notes = " ".join(infer_event_roles(sample).notes)
    assert "'Total' is written in 3 currencies ('Currency': USD, EUR, GBP)" in notes
    sample["Currency"] = "usd"
    assert "currencies" not in " ".join(infer_event_roles(sample).notes)


NAMES = [f"{verb} {thing}" for verb in ("Viewed", "Clicked", "Opened") for thing in "ABCDEFGHIJ"]


def _amplitude(n_users: int, seed: int) -> pd.DataFrame:
    """An analytics export: 30 event names, purchases the rarest, revenue on purchases alone."""
    rng = np.random.default_rng(seed)
    weights = np.linspace(3, 1, len(NAMES))
    rows = []
    for user in range(n_users):
        t = pd.Timestamp("2023-01-01") + pd.Timedelta(days=float(rng.uniform(0, 120)))
        stop = t + pd.Timedelta(days=float(rng.exponential(200)))
        while t < min(stop, pd.Timestamp("2024-06-30")):
            for _ in range(int(rng.integers(1, 5))):
                bought = rng.random() < 0.05
                rows.append(
                    {
                        "user_id": f"user-{user}",
                        "event_time": t.strftime("%Y-%m-%d %H:%M:%S.%f"),
                        "event_type": "Purchase Completed"
                        if bought
                        else str(rng.choice(NAMES, p=weights / weights.sum())),
                        "revenue": f"{rng.uniform(5, 40):.2f}" if bought else "",
                    }
                )
            t += pd.Timedelta(days=float(rng.exponential(6)))
    return pd.DataFrame(rows)


def test_an_analytics_export_with_many_event_names_initialises(tmp_path: Path) -> None:
    """31 event names: the sample saw more than 20 (it ignored the column, so every event was a
    purchase and no row's revenue counted) and the whole log more than 20 stopped init."""
    log = _amplitude(80, seed=2)
    assert log["event_type"].nunique() > 30
    roles = infer_event_roles(log.head(5000))
    assert roles.event_type == "event_type"
    root = project(tmp_path / "p")
    code, out = init(root, "amp", "--events", str(export(tmp_path, log, "amplitude.csv")))
    assert code == 0, out
    params = written(root, "amp")
    assert params["labels"]["activity_event_types"] == ["Purchase Completed"]
    counted = params["features"]["event_types"]
    assert len(counted) == 20 and "Purchase Completed" in counted
    frequency = log["event_type"].value_counts()
    assert set(counted) - {"Purchase Completed"} <= set(frequency.index[:20])
    assert "of the 30 others" in " ".join(out.split())


def test_an_event_id_is_no_event_type() -> None:
    log = _amplitude(30, seed=3)
    log["event_id"] = [f"e{i}" for i in range(len(log))]
    log = log.drop(columns=["event_type"])
    assert infer_event_roles(log.head(3000)).event_type is None


def test_the_events_name_wins_over_the_kind_of_call() -> None:
    """Segment's export: `type` (track, page, identify) before `event` (Order Completed...),
    blank on page calls. The kind of call had been taken, so every call kept a customer."""
    rng = np.random.default_rng(4)
    kinds = rng.choice(["track", "page", "identify"], 300, p=[0.6, 0.35, 0.05])
    names = ["Product Viewed", "Checkout Started", "Order Completed"]
    sample = pd.DataFrame(
        {
            "type": kinds,
            "anonymousId": [f"anon-{i % 30}" for i in range(300)],
            "userId": [f"u{i % 30}" for i in range(300)],
            "timestamp": pd.date_range("2024-01-01", periods=300, freq="7h").strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "event": [str(rng.choice(names)) if k == "track" else "" for k in kinds],
            "event_day": pd.date_range("2024-01-01", periods=300, freq="7h").strftime("%Y-%m-%d"),
        }
    )
    assert infer_event_roles(sample).event_type == "event"


def test_a_header_naming_a_column_twice_stops_init_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("Customer,Date,Amount,Date,,\nc1,2024-01-01,10,2024-01-02,,\n")
    with pytest.raises(InputDataError, match=r"names column\(s\) \['Date'\] more than once"):
        read_sample(path, file_format(path))
    path.write_text("Customer,Date,Amount,,\nc1,2024-01-01,10,,\n")  # blank names: no repeat
    assert list(read_sample(path, file_format(path)).columns[:3]) == ["Customer", "Date", "Amount"]


@pytest.mark.parametrize(
    ("columns", "roles"),
    [
        (["Kundennummer", "Bestelldatum", "Betrag"], ("Kundennummer", "Bestelldatum", "Betrag")),
        (["Cliente", "Fecha", "Importe"], ("Cliente", "Fecha", "Importe")),
        (["Client", "Date de commande", "Montant"], ("Client", "Date de commande", "Montant")),
        (["Klantnummer", "Orderdatum", "Bedrag"], ("Klantnummer", "Orderdatum", "Bedrag")),
    ],
)
def test_exports_in_other_languages_name_their_roles(
    columns: list[str], roles: tuple[str, str, str]
) -> None:
    """A German shop's Kundennummer (digits), Bestelldatum and Betrag: init had found no
    customer id ("no column looks like the customer id")."""
    n = 60
    sample = pd.DataFrame(
        {
            columns[0]: [str(100_000 + i % 20) for i in range(n)],
            columns[1]: pd.date_range("2024-01-01", periods=n, freq="3D").strftime("%d.%m.%Y"),
            columns[2]: [f"{5 + i % 7}.50" for i in range(n)],
        }
    )
    found = infer_event_roles(sample)
    assert (found.customer_id, found.timestamp.column, found.amount) == roles


def test_an_order_status_is_the_event_type_of_a_shop_export(tmp_path: Path) -> None:
    """WooCommerce's `Order Status` and Shopify's `Financial Status`: refunded, cancelled or
    failed orders had counted as purchases (no column was taken for the event type)."""
    orders = _woo_orders(120, seed=5)
    statuses = ["completed", "processing", "cancelled", "refunded", "failed"]
    orders["Order Status"] = [statuses[i % 7 % 5] for i in range(len(orders))]
    roles = infer_event_roles(orders)
    assert roles.event_type == "Order Status"
    root = project(tmp_path / "p")
    code, out = init(root, "woo", "--events", str(export(tmp_path, orders, "orders.csv")))
    assert code == 0, out
    params = written(root, "woo")
    assert params["labels"]["activity_event_types"] == ["completed", "processing"]
    assert params["features"]["return_event_types"] == ["refunded"]

    shop = _shopify_sample()
    shop["Fulfillment Status"] = ["fulfilled", "unfulfilled", "", "fulfilled"] * (len(shop) // 4)
    shop["Financial Status"] = [
        ["paid", "refunded", "voided", "paid"][i % 4] if first else ""
        for i, first in enumerate(shop["Total"] != "")
    ]
    assert infer_event_roles(shop).event_type == "Financial Status"


def test_an_invoiced_or_approved_olist_order_is_a_sale(tmp_path: Path) -> None:
    """Olist's `order_status`: invoiced and approved orders (paid, not yet shipped) were no
    purchase, so a buyer whose only order in the horizon was invoiced counted as churned."""
    rng = np.random.default_rng(7)
    statuses = ["delivered"] * 12 + ["shipped", "invoiced", "approved", "processing"]
    statuses += ["canceled", "unavailable", "created"]
    rows = []
    for k in range(150):
        day = pd.Timestamp("2017-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
        while day < pd.Timestamp("2018-08-31"):
            bought = day + pd.Timedelta(minutes=int(rng.integers(0, 1440)))
            rows.append(
                {
                    "order_id": f"{rng.integers(0, 2**63):032x}",
                    "customer_unique_id": f"{k * 7919:032x}",
                    "order_status": str(rng.choice(statuses)),
                    "order_purchase_timestamp": f"{bought:%Y-%m-%d %H:%M:%S}",
                    "order_approved_at": f"{bought + pd.Timedelta(hours=2):%Y-%m-%d %H:%M:%S}",
                }
            )
            day += pd.Timedelta(days=int(rng.integers(20, 120)))
    orders = pd.DataFrame(rows)
    root = project(tmp_path / "p")
    code, out = init(root, "olist", "--events", str(export(tmp_path, orders, "orders.csv")))
    assert code == 0, out
    params = written(root, "olist")
    assert params["data"]["events"]["sources"][0]["columns"]["event_type"] == "order_status"
    assert set(params["labels"]["activity_event_types"]) == {
        "approved",
        "delivered",
        "invoiced",
        "processing",
        "shipped",
    }


def test_a_status_of_other_things_is_no_event_type() -> None:
    sample = _shopify_sample()
    sample["Account Status"] = ["active", "dormant"] * (len(sample) // 2)
    assert infer_event_roles(sample).event_type is None


def test_an_order_partly_refunded_is_a_sale_not_a_return(tmp_path: Path) -> None:
    """Shopify's `partially_refunded`: the buyer kept most of the order, yet it was a return
    (its whole total taken off the customer's value) and no purchase (a buyer whose only
    order in the horizon was partly refunded was labelled churned)."""
    shop = _shopify_sample(120, seed=6)
    statuses = ["paid", "partially_refunded", "paid", "refunded", "pending"]
    shop["Financial Status"] = [
        statuses[i % 5] if first else "" for i, first in enumerate(shop["Total"] != "")
    ]
    root = project(tmp_path / "p")
    code, out = init(root, "shop", "--events", str(export(tmp_path, shop, "orders.csv")))
    assert code == 0, out
    params = written(root, "shop")
    assert params["labels"]["activity_event_types"] == ["paid", "partially_refunded"]
    assert params["features"]["return_event_types"] == ["refunded"]


def test_a_column_of_json_objects_is_said_to_be_read_no_further() -> None:
    """Mixpanel's export: `properties` holds each event's fields as a JSON object, the
    purchase's amount among them; init found no amount and said nothing of the column."""
    rng = np.random.default_rng(4)
    n = 400
    events = rng.choice(["App Open", "Purchase", "Search"], n)
    sample = pd.DataFrame(
        {
            "distinct_id": [f"$device:{k % 40:012x}" for k in range(n)],
            "event": events,
            "time": [str(1_700_000_000 + 3_600 * k) for k in range(n)],
            "properties": [
                json.dumps({"$os": "iOS", **({"amount": 9.99} if e == "Purchase" else {})})
                for e in events
            ],
        }
    )
    roles = infer_event_roles(sample)
    assert roles.amount is None
    said = " ".join(roles.notes)
    assert "'properties' holds JSON objects (keys such as '$os', 'amount')" in said
    assert "(the amount: 'amount', then --amount)" in said
    plain = sample.assign(properties=rng.choice(["a", "b"], n))
    assert not any("JSON" in note for note in infer_event_roles(plain).notes)
