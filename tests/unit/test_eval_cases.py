"""The golden set and the labelled-file format of `mangaassist eval`."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from evals.cases import DataError, load_cases
from evals.suites import DEV, GOLDEN, held_out, sample, training_texts
from mangaassist.contracts import INTENTS
from mangaassist.settings import REPO_DATA_DIR


@pytest.fixture(scope="module")
def golden():
    return load_cases(GOLDEN, "golden")


def test_golden_set_covers_every_intent_language_and_category(golden):
    assert len(golden) >= 400
    languages = Counter(c.language for c in golden)
    assert languages["ja"] / len(golden) >= 0.35
    intents = Counter((c.language, t.intent) for c in golden for t in c.turns if t.intent)
    for intent in INTENTS:
        assert intents[("en", intent)] >= 5 and intents[("ja", intent)] >= 5, intent
    assert {c.category for c in golden} == {"normal", "edge", "adversarial"}
    assert sum(len(c.turns) > 1 for c in golden) >= 30
    assert len({c.id for c in golden}) == len(golden)


def test_golden_and_dev_sets_are_held_out_from_training(golden):
    training = training_texts(REPO_DATA_DIR)
    kept, dropped = held_out(golden, training)
    assert dropped == [] and len(kept) == len(golden)
    # The dev file is meant to be held out; lines that repeat a training utterance are left out of
    # the intent figures by the runner, so they can never inflate them.
    dev_kept, dev_dropped = held_out(load_cases(DEV, "dev"), training)
    assert all(not any(" ".join(t.text.lower().split()) in training for t in c.turns) for c in dev_kept)
    assert len(dev_kept) + len(dev_dropped) == 440


def test_golden_expectations_name_real_catalog_and_fixture_facts(golden, services):
    catalog = services.catalog
    with sqlite3.connect(REPO_DATA_DIR / "orders.sqlite") as conn:
        orders = dict(conn.execute("SELECT order_id, status FROM orders"))
        customers = {r[0] for r in conn.execute("SELECT customer_id FROM customers")}
    for case in golden:
        assert case.user_id is None or case.user_id in customers, case.id
        for turn in case.turns:
            e = turn.expect
            for sid in e.series + e.series_absent + e.volume_count:
                assert sid in catalog.series, (case.id, sid)
            for ref in e.products + e.prices:
                assert ref.startswith("prev:") or catalog.product(ref) is not None, (case.id, ref)
            if e.order is not None:
                assert orders[e.order.order_id] == e.order.state, case.id
            assert set(e.genres) <= {g for s in catalog.series.values() for g in s.genres}


def test_minimal_and_full_forms_load(tmp_path: Path):
    path = tmp_path / "mine.jsonl"
    path.write_text(
        json.dumps({"text": "ワンピースの5巻はいくら？", "intent": "price_check", "language": "ja"}, ensure_ascii=False) + "\n\n"
        + json.dumps({"id": "c1", "language": "en", "category": "edge", "user_id": "C1001",
                      "turns": [{"text": "recommend horror", "intent": "recommendation", "expect": {"genres": ["horror"]}},
                                {"text": "how much is the first one?", "expect": {"prices": ["prev:0"]}}]}) + "\n",
        encoding="utf-8",
    )
    first, second = load_cases(path)
    assert first.id == "mine-1" and first.turns[0].intent == "price_check" and first.language == "ja"
    assert second.id == "c1" and second.turns[1].expect.prices == ["prev:0"] and second.turns[1].intent is None


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"text": "hi", "intent": "chitchat", "language": "en"}', "{not json"], ":2: invalid JSON"),
        (['{"text": "hi", "intent": "greeting", "language": "en"}'], ":1: unknown intent 'greeting'"),
        (['{"text": "hi", "intent": "chitchat", "language": "fr"}'], ":1: language"),
        (['{"id": "a", "language": "en", "turns": [{"text": "x", "expect": {"prices": ["prev:0"]}}]}'], "refers to a previous turn"),
        (['{"id": "a", "language": "en", "turns": [{"text": "x", "expect": {"colour": 1}}]}'], ":1: turns.0.expect.colour"),
        (['{"text": "a", "intent": "chitchat", "language": "en", "id": "x"}',
          '{"text": "b", "intent": "chitchat", "language": "en", "id": "x"}'], ":2: duplicate id 'x'"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, lines: list[str], message: str):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_cases(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_and_empty_files(tmp_path: Path):
    with pytest.raises(DataError, match="not found"):
        load_cases(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no cases"):
        load_cases(tmp_path / "empty.jsonl")


def test_sample_is_deterministic_and_stratified(golden):
    a, b = sample(golden, 40), sample(golden, 40)
    assert [c.id for c in a] == [c.id for c in b] and len(a) == 40
    assert {c.language for c in a} == {"en", "ja"}
    assert {c.category for c in a} == {"normal", "edge", "adversarial"}
    assert len({c.turns[0].intent for c in a}) >= 10
