"""Deterministic derivation of per-volume products (store ids, prices, stock) from series facts.

`mangaassist data build` writes the result to `data/catalog/products.jsonl`, which is shipped; a
test checks the shipped file still equals what this module derives, so editing a series and
forgetting to rebuild is caught.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from tools.models import Product, Promotion, Series

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Tankobon list prices by size class; the class comes from the series' hash so it is stable.
_JPY_PRINT = (528, 594, 660, 693, 715, 748, 792, 858, 990)
_USD_PRINT = (9.99, 10.99, 11.99, 12.99, 13.99, 14.99)
_USD_DIGITAL = (6.99, 7.99, 8.99)
_PROMOTIONS = (
    ("Autumn Manga Fair", "秋のマンガフェア", 20),
    ("First Volume Spotlight", "1巻スポットライト", 30),
    ("Series Starter Sale", "シリーズ入門セール", 15),
)
PROMOTION_ENDS_ON = date(2027, 1, 31)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def store_id(series_id: str, volume: int, fmt: str, language: str, salt: int = 0) -> str:
    """A stable `B0` + 8 uppercase alphanumerics id for one volume/format/edition."""
    n = int.from_bytes(_digest("asin", series_id, volume, fmt, language, salt)[:8], "big")
    chars = []
    for _ in range(8):
        n, r = divmod(n, 36)
        chars.append(_ALPHABET[r])
    return "B0" + "".join(chars)


def _pick(options: tuple, *key: object):  # type: ignore[no-untyped-def]
    return options[_digest(*key)[0] % len(options)]


def _products_for(series: Series, used: set[str]) -> Iterable[Product]:
    jpy = _pick(_JPY_PRINT, "jpy", series.series_id, series.demographic)
    usd = _pick(_USD_PRINT, "usd", series.series_id)
    usd_digital = _pick(_USD_DIGITAL, "usd-d", series.series_id)
    promo_roll = _digest("promo", series.series_id)[0]
    promo = _PROMOTIONS[promo_roll % len(_PROMOTIONS)] if promo_roll < 26 else None
    for volume in range(1, series.volumes + 1):
        for fmt, language in (("print", "EN"), ("digital", "EN"), ("print", "JA"), ("digital", "JA")):
            salt = 0
            asin = store_id(series.series_id, volume, fmt, language)
            while asin in used:
                salt += 1
                asin = store_id(series.series_id, volume, fmt, language, salt)
            used.add(asin)
            if language == "EN":
                currency = "USD"
                list_price = usd if fmt == "print" else usd_digital
            else:
                currency = "JPY"
                list_price = float(jpy if fmt == "print" else round(jpy * 0.95 / 11) * 11)
            promotion = None
            current = list_price
            # Promotions run on the first three print volumes: a realistic, checkable subset.
            if promo and fmt == "print" and volume <= 3:
                label, label_ja, pct = promo
                promotion = Promotion(label=label, label_ja=label_ja, percent_off=pct, ends_on=PROMOTION_ENDS_ON)
                discounted = list_price * (100 - pct) / 100
                current = round(discounted, 2) if currency == "USD" else float(round(discounted))
            stock = None
            if fmt == "print":
                roll = _digest("stock", asin)[0]
                stock = 0 if roll < 28 else roll % 37 + 1
            yield Product(
                asin=asin,
                series_id=series.series_id,
                volume=volume,
                format=fmt,  # type: ignore[arg-type]
                language=language,  # type: ignore[arg-type]
                currency=currency,  # type: ignore[arg-type]
                list_price=list_price,
                current_price=current,
                promotion=promotion,
                stock=stock,
            )


def load_series(catalog_dir: Path) -> list[Series]:
    """Every series record shipped in `series_*.jsonl`, validated, sorted by id."""
    series: dict[str, Series] = {}
    for path in sorted(catalog_dir.glob("series_*.jsonl")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            record = Series.model_validate_json(line)
            if record.series_id in series:
                raise ValueError(f"{path.name}:{lineno}: duplicate series_id {record.series_id}")
            series[record.series_id] = record
    return [series[k] for k in sorted(series)]


def build_products(series: list[Series]) -> list[Product]:
    """All products of all series, in series-id then volume order."""
    used: set[str] = set()
    return [p for s in series for p in _products_for(s, used)]


def products_jsonl(products: list[Product]) -> str:
    """The exact text of `products.jsonl` for these products."""
    return "".join(
        json.dumps(p.model_dump(mode="json", exclude_none=True), ensure_ascii=False, sort_keys=True)
        + "\n"
        for p in products
    )


def write_products(catalog_dir: Path) -> int:
    """Regenerate `products.jsonl` beside the series files; returns the product count."""
    products = build_products(load_series(catalog_dir))
    (catalog_dir / "products.jsonl").write_text(products_jsonl(products), encoding="utf-8")
    return len(products)
