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
    question: str
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

    @staticmethod
    def _similarity(a: str, b: str) -> float:
        if a == b:
            return 1.0
        vectorizer = _vectorizer()
        try:
            matrix = vectorizer.fit_transform([a, b])
        except ValueError:  # no n-gram in common vocabulary (e.g. punctuation only)
            return 0.0
        return float((matrix[0] @ matrix[1].T).toarray()[0, 0])

    def get(self, key: str, question: str) -> str | None:
        """A stored answer for a close question, unless it has (probabilistically) expired."""
        now = self._clock()
        with self._lock:
            candidates = list(self._entries.get(key, []))
        for entry in candidates:
            # XFetch: expire early with probability growing as expiry nears (-log U is Exp(1)).
            early = entry.compute_s * self.beta * -math.log(max(random.random(), 1e-12))
            if now + early >= entry.expires_at:
                continue
            if self._similarity(entry.question, question) >= self.min_similarity:
                return entry.answer
        return None

    def put(self, key: str, question: str, answer: str, compute_s: float) -> None:
        """Store a fresh model answer; expired entries of the key are dropped."""
        now = self._clock()
        with self._lock:
            kept = [e for e in self._entries.get(key, []) if e.expires_at > now and e.question != question]
            kept.append(_Entry(question, answer, now + self.ttl_s, compute_s))
            self._entries[key] = kept[-32:]


@lru_cache(maxsize=1)
def get_answer_cache() -> AnswerCache:
    """The process's semantic answer cache."""
    settings = get_settings()
    return AnswerCache(settings.answer_cache_ttl_s, settings.answer_cache_beta, settings.answer_cache_min_similarity)
