"""Answers that need no model: the precomputed response cache and a semantic cache of model answers.

`ResponseCache` holds the precomputed answers in `data/cache/*.jsonl` (common FAQ and product
questions, EN and JA), matched by character n-gram similarity so close paraphrases hit. Product
answers there carry no prices: a price always comes from the pricing tool at serve time.

`AnswerCache` keeps model answers keyed by model + prompt version + the facts the model was given,
and matches the shopper's question semantically. Entries expire probabilistically before their TTL
(XFetch: a reader recomputes early with a probability that rises as expiry nears, scaled by how
long the answer took to compute), so a hot entry is refreshed by one request instead of a stampede.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

import prompts
from mangaassist.settings import get_settings
from tools.jsonl import read_jsonl

# Bumped whenever the system/instruction templates change meaning: cached model answers of an
# older prompt must not be served.
PROMPT_VERSION = "2026-11-resilience-1"


# Which cached answers may answer which intents.
INTENT_FAMILIES = (
    frozenset({"store_faq", "shipping_info", "return_request", "escalation"}),
    frozenset({"product_question"}),
)


@dataclass(frozen=True)
class CachedAnswer:
    """One precomputed answer and how close the question was."""

    entry_id: str
    intent: str
    answer: str
    score: float
    series_id: str | None = None


def _vectorizer() -> TfidfVectorizer:
    # Character n-grams within word boundaries work for both English and unsegmented Japanese.
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True, sublinear_tf=True)


# The vectorizer's n-gram analyzer is a pure function of the text: one serves every thread. The
# weights below are those of its smooth idf and sublinear tf, computed here without fitting it.
_FITTED_AS = _vectorizer()
if not (_FITTED_AS.smooth_idf and _FITTED_AS.sublinear_tf and _FITTED_AS.norm == "l2"):
    raise NotImplementedError("question similarity assumes smooth idf, sublinear tf and l2 norm")
_ANALYZER = _FITTED_AS.build_analyzer()
# Smooth idf over two questions, ln((1 + 2) / (1 + df)) + 1: an n-gram both share weighs 1, one
# only a single question has weighs this.
_IDF_ONE_SIDE = math.log(3 / 2) + 1


@dataclass(frozen=True)
class _Question:
    """A question's sublinear term frequencies, analysed once and compared many times."""

    text: str
    tf: dict[str, float]
    tf_squares: float

    @classmethod
    def of(cls, text: str) -> _Question:
        """Analyse `text` as `_vectorizer()` would: 1 + ln(count) per character n-gram."""
        tf = {gram: 1.0 + math.log(count) for gram, count in Counter(_ANALYZER(text)).items()}
        return cls(text, tf, sum(t * t for t in tf.values()))


def _similarity(a: _Question, b: _Question) -> float:
    """The cosine of `_vectorizer()` fitted on just [a, b], without fitting it.

    A fit (vocabulary, sparse matrices, input validation) costs over a millisecond of CPU, paid
    for every stored question a lookup compares. With two documents the idf takes only two values,
    so the score follows from the shared n-grams and each side's precomputed sum of squared tf.
    """
    if a.text == b.text:
        return 1.0
    shared = a.tf.keys() & b.tf.keys()
    if not shared:  # also when a side has no n-gram, where the vectorizer gives a zero row or fails
        return 0.0
    dot = shared_a = shared_b = 0.0
    for gram in shared:
        tf_a, tf_b = a.tf[gram], b.tf[gram]
        dot += tf_a * tf_b
        shared_a += tf_a * tf_a
        shared_b += tf_b * tf_b
    # Every n-gram weighs _IDF_ONE_SIDE except the shared ones, which weigh 1.
    squared, surplus = _IDF_ONE_SIDE**2, _IDF_ONE_SIDE**2 - 1.0
    norm_a = squared * a.tf_squares - surplus * shared_a
    norm_b = squared * b.tf_squares - surplus * shared_b
    return dot / math.sqrt(norm_a * norm_b)


class ResponseCache:
    """The precomputed answers of one store data directory, one index per language."""

    def __init__(self, cache_dir: Path) -> None:
        self._entries: dict[str, list[dict[str, Any]]] = {"en": [], "ja": []}
        for path in sorted(cache_dir.glob("*.jsonl")):
            for _, entry in read_jsonl(path):
                self._entries[entry["language"]].append(entry)
        self._index: dict[str, tuple[TfidfVectorizer, Any, list[int]]] = {}
        for language, entries in self._entries.items():
            questions = [q for e in entries for q in e["questions"]]
            owners = [i for i, e in enumerate(entries) for _ in e["questions"]]
            if questions:
                vectorizer = _vectorizer()
                self._index[language] = (vectorizer, vectorizer.fit_transform(questions), owners)

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def lookup(
        self, text: str, language: str, intent: str, min_similarity: float, series_ids: list[str] | None = None
    ) -> CachedAnswer | None:
        """The best precomputed answer for `text` among those fit for `intent`, if close enough.

        The intent filter keeps a near-miss from answering the wrong kind of question (an order
        question must never get the order-history FAQ instead of the order). An answer about a
        series is only fit for a question naming that series (`series_ids`, from entity
        extraction): "tell me about Frieren" shares most of its n-grams with "tell me about
        Chainsaw Man".
        """
        family = next((f for f in INTENT_FAMILIES if intent in f), None)
        if family is None or language not in self._index or not text.strip():
            return None
        vectorizer, matrix, owners = self._index[language]
        entries = self._entries[language]
        scores = (matrix @ vectorizer.transform([text]).T).toarray().ravel()
        named = set(series_ids or ())
        fit = np.array([
            entries[o]["intent"] in family and entries[o].get("series_id") in (None, *named) for o in owners
        ])
        scores = np.where(fit, scores, 0.0)
        best = int(np.argmax(scores))
        if scores[best] < min_similarity:
            return None
        entry = entries[owners[best]]
        return CachedAnswer(entry["id"], entry["intent"], entry["answer"], float(scores[best]), entry.get("series_id"))


@lru_cache(maxsize=1)
def get_response_cache() -> ResponseCache:
    """The process's response cache (blocking load: first call from a worker thread)."""
    return ResponseCache(get_settings().store_data_dir / "cache")


@lru_cache(maxsize=2)
def strings(language: str) -> dict[str, str]:
    """The degraded-mode texts (`prompts/resilience.<lang>.toml`)."""
    with (prompts.TEMPLATE_DIR / f"resilience.{language}.toml").open("rb") as fh:
        return tomllib.load(fh)


@dataclass
class _Entry:
    question: _Question
    answer: str
    expires_at: float
    compute_s: float


class AnswerCache:
    """Model answers, keyed by model + prompt version + facts; matched by question similarity."""

    def __init__(self, ttl_s: float, beta: float, min_similarity: float, clock: Any = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.beta = beta
        self.min_similarity = min_similarity
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, list[_Entry]] = {}

    @staticmethod
    def key(model: str, facts_digest: str) -> str:
        """The cache key of one model answering over one set of facts."""
        return f"{model}|{PROMPT_VERSION}|{facts_digest}"

    @staticmethod
    def digest(prompt: dict[str, Any]) -> str:
        """A stable digest of the system prompt (facts and instructions) and history."""
        blob = json.dumps([prompt["system"], prompt["history"]], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def get(self, key: str, question: str) -> str | None:
        """A stored answer for a close question, unless it has (probabilistically) expired."""
        now = self._clock()
        with self._lock:
            candidates = list(self._entries.get(key, []))
        if not candidates:
            return None
        asked = _Question.of(question)
        for entry in candidates:
            # XFetch: expire early with probability growing as expiry nears (-log U is Exp(1)).
            early = entry.compute_s * self.beta * -math.log(max(random.random(), 1e-12))
            if now + early >= entry.expires_at:
                continue
            if _similarity(entry.question, asked) >= self.min_similarity:
                return entry.answer
        return None

    def put(self, key: str, question: str, answer: str, compute_s: float) -> None:
        """Store a fresh model answer; expired entries of the key are dropped."""
        now = self._clock()
        stored = _Entry(_Question.of(question), answer, now + self.ttl_s, compute_s)
        with self._lock:
            kept = [e for e in self._entries.get(key, []) if e.expires_at > now and e.question.text != question]
            kept.append(stored)
            self._entries[key] = kept[-32:]


@lru_cache(maxsize=1)
def get_answer_cache() -> AnswerCache:
    """The process's semantic answer cache."""
    settings = get_settings()
    return AnswerCache(settings.answer_cache_ttl_s, settings.answer_cache_beta, settings.answer_cache_min_similarity)
