"""The shipped store data: complete, consistent, and in sync with its generators."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from guardrails.pii import redact_pii
from mangaassist.settings import REPO_DATA_DIR
from tools.catalog import Catalog
from tools.catalog_build import build_products, load_series, products_jsonl
from tools.orders_fixture import STATES
from tools.policies import TOPICS, load_policies


def test_catalog_has_300_series_with_bilingual_facts(services):
    series = services.catalog.series
    assert len(series) >= 300
    for s in series.values():
        assert s.title and s.title_ja and s.authors and s.authors_ja and s.synopsis and s.synopsis_ja
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", s.synopsis_ja), s.series_id
        assert 1 <= len(s.genres) <= 4
    assert Counter(s.demographic for s in series.values()).keys() >= {"shonen", "seinen", "shojo", "josei"}


def test_every_catalog_theme_has_one_japanese_rendering():
    themes_ja = json.loads((REPO_DATA_DIR / "catalog" / "themes_ja.json").read_text(encoding="utf-8"))
    themes = {t for s in load_series(REPO_DATA_DIR / "catalog") for t in s.themes}
    # No stale entries either: a translation nobody uses is left over from an edited theme.
    assert set(themes_ja) == themes, sorted(set(themes_ja) ^ themes)
    assert all(ja and ja == ja.strip() for ja in themes_ja.values())
    assert themes_ja["Shinsengumi"] == "新選組" and themes_ja["anthology"] == "短編集"


def test_a_theme_without_japanese_stops_the_catalog_loading(tmp_path: Path):
    catalog_dir = shutil.copytree(REPO_DATA_DIR / "catalog", tmp_path / "catalog")
    path = catalog_dir / "themes_ja.json"
    themes_ja = json.loads(path.read_text(encoding="utf-8"))
    del themes_ja["Shinsengumi"]
    path.write_text(json.dumps(themes_ja, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="Shinsengumi"):
        Catalog(tmp_path)


def test_products_file_matches_generator():
    catalog_dir = REPO_DATA_DIR / "catalog"
    expected = products_jsonl(build_products(load_series(catalog_dir)))
    assert (catalog_dir / "products.jsonl").read_text(encoding="utf-8") == expected, (
        "products.jsonl is stale: run `mangaassist data build`"
    )


def test_products_have_valid_ids_prices_and_currencies(services):
    products = services.catalog.products
    assert len({p.asin for p in products.values()}) == len(products)
    for p in products.values():
        assert re.fullmatch(r"B0[A-Z0-9]{8}", p.asin)
        assert p.currency == ("USD" if p.language == "EN" else "JPY")
        assert 0 < p.current_price <= p.list_price
        if p.promotion is None:
            assert p.current_price == p.list_price
        if p.currency == "JPY":
            assert p.current_price == int(p.current_price)
    assert any(p.promotion for p in products.values())
    assert any(not p.in_stock for p in products.values())


def test_every_series_has_every_volume_in_four_editions(services):
    cat = services.catalog
    for s in cat.series.values():
        for volume in (1, s.volumes):
            assert len(cat.editions(s.series_id, volume)) == 4


def test_reviews_cover_50_series_in_both_languages(services):
    covered = 0
    for reviews in services.catalog.reviews.values():
        per_lang = Counter(r.language for r in reviews)
        if 3 <= per_lang["en"] <= 5 and 3 <= per_lang["ja"] <= 5:
            covered += 1
    assert covered >= 50


def test_policies_exist_in_both_languages():
    sections = load_policies(REPO_DATA_DIR)
    for topic in TOPICS:
        en = [s for s in sections if s.topic == topic and s.language == "en"]
        ja = [s for s in sections if s.topic == topic and s.language == "ja"]
        assert en and len(en) == len(ja), topic


def test_no_store_text_reads_as_personal_data(services):
    # Answers quote these texts, and the output guardrails redact what reads as PII: "within 30
    # days of delivery and place a new order" had reached shoppers as "within [ADDRESS] a new order".
    catalog = services.catalog
    texts = [f"{s.heading} {s.body}" for s in load_policies(REPO_DATA_DIR)]
    texts += [t for s in catalog.series.values() for t in (s.synopsis, s.synopsis_ja)]
    texts += [r.text for reviews in catalog.reviews.values() for r in reviews]
    flagged = [t for t in texts if redact_pii(t)[1]]
    assert not flagged, flagged


def test_orders_fixture_has_every_state_and_owned_orders():
    conn = sqlite3.connect(REPO_DATA_DIR / "orders.sqlite")
    states = {row[0] for row in conn.execute("SELECT status FROM orders")}
    assert states == set(STATES)
    missing_tracking = conn.execute(
        "SELECT count(*) FROM orders WHERE status IN ('shipped','in_transit','delivered','delayed') "
        "AND tracking_number IS NULL"
    ).fetchone()[0]
    assert missing_tracking == 0
    orphans = conn.execute(
        "SELECT count(*) FROM orders o LEFT JOIN customers c USING (customer_id) WHERE c.customer_id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
