"""Deterministic customers/orders fixture (SQLite) used by the order, return and recommendation tools.

`mangaassist data build` writes `data/orders.sqlite` from the catalog; the file is shipped.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, timedelta
from pathlib import Path

from tools.catalog import Catalog

FIXTURE_DAY = date(2026, 11, 20)
STATES = ("placed", "shipped", "in_transit", "delivered", "delayed", "cancelled", "returned")

SCHEMA = """
CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    language TEXT NOT NULL,
    favourite_genres TEXT NOT NULL
);
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    status TEXT NOT NULL CHECK (status IN ('placed','shipped','in_transit','delivered','delayed','cancelled','returned')),
    placed_on TEXT NOT NULL,
    shipped_on TEXT,
    estimated_delivery TEXT,
    delivered_on TEXT,
    tracking_number TEXT,
    shipping_method TEXT NOT NULL,
    currency TEXT NOT NULL,
    total REAL NOT NULL,
    note TEXT
);
CREATE TABLE order_items (
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    asin TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price REAL NOT NULL
);
CREATE INDEX order_items_order ON order_items(order_id);
CREATE INDEX orders_customer ON orders(customer_id);
"""

# (customer_id, name, country, language, favourite genres)
CUSTOMERS = (
    ("C1001", "Aiko Tanaka", "JP", "ja", "horror,psychological"),
    ("C1002", "Ben Carter", "US", "en", "sports,comedy"),
    ("C1003", "Chloe Martin", "US", "en", "romance,drama"),
    ("C1004", "Daichi Sato", "JP", "ja", "action,fantasy"),
    ("C1005", "Emma Wilson", "CA", "en", "fantasy,adventure"),
    ("C1006", "Fumiko Kobayashi", "JP", "ja", "romance,slice-of-life"),
    ("C1007", "Gabriel Lopez", "US", "en", "sci-fi,thriller"),
    ("C1008", "Haruto Watanabe", "JP", "ja", "mystery,crime"),
    ("C1009", "Isabel Rossi", "GB", "en", "historical,action"),
    ("C1010", "Jun Yamamoto", "JP", "ja", "cooking,slice-of-life"),
    ("C1011", "Kate Nguyen", "US", "en", "supernatural,horror"),
    ("C1012", "Leo Schmidt", "DE", "en", "comedy,school"),
)


def build_orders_db(catalog: Catalog, path: Path) -> None:
    """Write the fixture database at `path`, replacing any previous file."""
    rng = random.Random(20261120)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    order_no = 10001
    state_cycle = list(STATES)
    for idx, (cid, name, country, lang, genres) in enumerate(CUSTOMERS):
        conn.execute("INSERT INTO customers VALUES (?,?,?,?,?)", (cid, name, country, lang, genres))
        liked = genres.split(",")
        pool = sorted(
            (s for s in catalog.series.values() if set(s.genres) & set(liked)),
            key=lambda s: s.series_id,
        )
        edition = "JA" if lang == "ja" else "EN"
        n_orders = 4 + idx % 3
        for k in range(n_orders):
            status = state_cycle[(idx * 3 + k) % len(state_cycle)]
            placed = FIXTURE_DAY - timedelta(days=rng.randint(1, 60) if status in ("delivered", "returned", "cancelled") else rng.randint(1, 9))
            series = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
            items = []
            for s in series:
                vol = rng.randint(1, min(s.volumes, 5))
                product = catalog.volume(s.series_id, vol, "print", edition)
                if product is not None:
                    items.append((product, rng.randint(1, 2)))
            if not items:
                continue
            order_id = f"MA-{order_no}"
            order_no += 1
            shipped = delivered = eta = tracking = None
            method = rng.choice(("standard", "express"))
            note = None
            transit_days = 2 if method == "express" else 5
            if status in ("shipped", "in_transit", "delivered", "delayed", "returned"):
                shipped = placed + timedelta(days=1)
                tracking = f"MT{rng.randint(10**9, 10**10 - 1)}{country}"
                eta = shipped + timedelta(days=transit_days)
            if status in ("delivered", "returned"):
                delivered = eta
            if status == "delayed":
                eta = FIXTURE_DAY + timedelta(days=rng.randint(2, 6))
                note = "Held at the regional sorting centre because of weather; new estimate given."
            if status == "placed":
                eta = placed + timedelta(days=1 + transit_days)
            if status == "cancelled":
                note = "Cancelled at the customer's request before shipping; refunded in full."
            if status == "returned":
                note = "Returned and refunded to the original payment method."
            total = round(sum(p.current_price * q for p, q in items), 2)
            conn.execute(
                "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (order_id, cid, status, placed.isoformat(), _iso(shipped), _iso(eta), _iso(delivered),
                 tracking, method, items[0][0].currency, total, note),
            )
            conn.executemany(
                "INSERT INTO order_items VALUES (?,?,?,?)",
                [(order_id, p.asin, q, p.current_price) for p, q in items],
            )
    conn.commit()
    conn.close()


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
