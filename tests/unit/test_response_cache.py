"""The answer cache's question similarity: the vectorizer's cosine, computed without fitting one."""

from __future__ import annotations

import random
from typing import Any

import pytest

import tools.response_cache as response_cache
from tools.response_cache import AnswerCache, _Question, _similarity

PAIRS = [
    # identical
    ("tell me about Frieren", "tell me about Frieren"),
    ("送料無料になるのはいくらからですか", "送料無料になるのはいくらからですか"),
    # near-identical: case, punctuation, spacing, a word more or less
    ("tell me about Frieren", "Tell me about Frieren!"),
    ("do you ship overseas?", "do you guys ship overseas?"),
    ("tell  me\tabout\nFrieren", "tell me about Frieren"),
    ("送料無料になるのはいくらからですか", "送料無料はいくらからですか"),
    ("フリーレンの3巻はありますか", "フリーレンの３巻はありますか？"),
    ("ＡＢＣ　マンガ", "abc マンガ"),
    # different
    ("where is my order?", "recommend a horror manga like Junji Ito"),
    ("返品はできますか", "ワンピースの最新刊はいつ発売ですか"),
    ("what's one piece about?", "ワンピースについて教えて"),
    # repeated n-grams (sublinear tf)
    ("ha ha ha ha ha", "ha ha"),
    ("ののののののの", "の"),
    ("manga manga manga anime", "anime anime manga"),
    # punctuation only, single characters
    ("?!", "..."),
    ("???", "?"),
    ("!!!", "!!! !!!"),
    ("a", "a b"),
    ("x", "y"),
    # empty or whitespace on one or both sides
    ("", ""),
    ("", "hello"),
    ("   ", "hello"),
    (" \n\t", ""),
    ("", "こんにちは"),
    # mixed script
    ("Frieren 3巻 ありますか", "フリーレン vol 3 ありますか"),
    ("Chainsaw Man チェンソーマン 1巻", "チェンソーマン Chainsaw Man vol.1"),
    ("One Piece 105 送料", "one piece 105 shipping"),
]


def _reference(a: str, b: str) -> float:
    """Fit a fresh `TfidfVectorizer` on the two questions and take the rows' dot product."""
    if a == b:
        return 1.0
    vectorizer = response_cache._vectorizer()
    try:
        matrix = vectorizer.fit_transform([a, b])
    except ValueError:  # empty vocabulary: neither question has an n-gram
        return 0.0
    return float((matrix[0] @ matrix[1].T).toarray()[0, 0])


def _random_pairs(count: int) -> list[Any]:
    """Seeded questions over a small EN/JA/punctuation alphabet, so n-grams repeat and overlap."""
    rng = random.Random(20261123)
    alphabet = "abcAB フリーレン巻送料の?!.　\t"

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))

    pairs = []
    for index in range(count):
        a = text()
        # Half the pairs are edits of one question, so high similarities are covered too.
        b = a[: rng.randint(0, len(a))] + text()[:3] if rng.random() < 0.5 else text()
        pairs.append(pytest.param(a, b, id=f"random-{index}"))
    return pairs


@pytest.mark.parametrize(("a", "b"), PAIRS + _random_pairs(300))
def test_similarity_equals_a_vectorizer_fitted_on_the_pair(a: str, b: str) -> None:
    expected = _reference(a, b)
    assert _similarity(_Question.of(a), _Question.of(b)) == pytest.approx(expected, abs=1e-9)
    assert _similarity(_Question.of(b), _Question.of(a)) == pytest.approx(expected, abs=1e-9)


def test_the_pairs_span_misses_partial_matches_and_near_duplicates() -> None:
    scores = [_reference(a, b) for a, b in PAIRS + [p.values for p in _random_pairs(300)]]
    assert min(scores) == 0.0 and max(scores) == pytest.approx(1.0)
    assert any(0.2 < s < 0.6 for s in scores) and any(0.9 < s < 1.0 for s in scores)


def test_answer_cache_serves_paraphrases_above_the_threshold_only() -> None:
    cache = AnswerCache(ttl_s=60, beta=0.0, min_similarity=0.8)
    key = AnswerCache.key("openai/p", "facts")
    cache.put(key, "Do you ship overseas?", "en answer", compute_s=1.0)
    cache.put(key, "送料無料になるのはいくらからですか", "ja answer", compute_s=1.0)
    assert _reference("do you ship overseas", "Do you ship overseas?") >= 0.8
    assert cache.get(key, "do you ship overseas") == "en answer"
    assert _reference("送料無料になるのはいくらからですか？", "送料無料になるのはいくらからですか") >= 0.8
    assert cache.get(key, "送料無料になるのはいくらからですか？") == "ja answer"
    assert cache.get(key, "where is my order?") is None
    assert cache.get(key, "") is None


def test_a_lookup_analyses_only_the_asked_question(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = AnswerCache(ttl_s=60, beta=0.0, min_similarity=0.99)
    key = AnswerCache.key("openai/p", "facts")
    for volume in range(32):
        cache.put(key, f"is volume {volume} of Frieren in stock?", "answer", compute_s=1.0)
    analysed: list[str] = []
    analyzer = response_cache._ANALYZER

    def counting(text: str) -> list[str]:
        analysed.append(text)
        return analyzer(text)

    monkeypatch.setattr(response_cache, "_ANALYZER", counting)
    assert cache.get(key, "is volume 99 of Frieren in stock?") is None
    assert analysed == ["is volume 99 of Frieren in stock?"]
