"""Breaker policy (sliding window, consecutive failures, half-open), tool protection and the caches."""

from __future__ import annotations

import asyncio
import json
import re
import time
from types import SimpleNamespace

import pybreaker
import pytest

from graph.breakers import BreakerPolicy, DependencyBreaker, protected, unavailable_dependencies, unavailable_tool
from graph.state import Context
from mangaassist.settings import get_settings
from tools.response_cache import AnswerCache, ResponseCache

POLICY = BreakerPolicy(window_s=60, failure_rate=0.2, min_calls=10, fail_max=3, reset_s=30, half_open_fraction=0.5)


class Boom(RuntimeError):
    pass


class ClientError(RuntimeError):
    status_code = 400


def _call(breaker: DependencyBreaker, fail: BaseException | None = None) -> None:
    try:
        with breaker.calling():
            if fail is not None:
                raise fail
    except (Boom, ClientError, pybreaker.CircuitBreakerError):
        pass


def test_failure_rate_over_the_window_opens_only_past_the_minimum_calls():
    breaker = DependencyBreaker("pricing", POLICY)
    for i in range(8):
        _call(breaker)
    _call(breaker, Boom())
    _call(breaker)
    _call(breaker, Boom())  # 2 of 11 = 18%: still closed
    assert breaker.state == "closed"
    _call(breaker, Boom())  # 3 of 12 = 25% > 20%
    assert breaker.state == "open"
    assert not breaker.admits()


def test_calls_leave_the_window_with_their_failures():
    now = [1000.0]
    breaker = DependencyBreaker("pricing", POLICY, clock=lambda: now[0])
    _call(breaker, Boom())
    _call(breaker)
    now[0] += 30
    _call(breaker, Boom())
    assert breaker.window.counts() == (3, 2)
    now[0] += 31  # the first two calls are older than the 60 s window
    assert breaker.window.counts() == (1, 1)
    _call(breaker)
    assert breaker.window.counts() == (2, 1)
    now[0] += 61
    assert breaker.window.counts() == (0, 0)


def test_few_calls_never_trip_on_rate_but_three_consecutive_failures_do():
    breaker = DependencyBreaker("orders", POLICY)
    _call(breaker, Boom())
    _call(breaker, Boom())
    assert breaker.state == "closed"  # 100% failures, but under the minimum call count
    _call(breaker, Boom())
    assert breaker.state == "open"


def test_client_errors_never_count():
    breaker = DependencyBreaker("primary", POLICY)
    for _ in range(12):
        _call(breaker, ClientError())
    assert breaker.state == "closed"
    assert breaker.snapshot()["window_failures"] == 0


def test_half_open_admits_a_fraction_and_closes_only_on_success(monkeypatch):
    policy = BreakerPolicy(window_s=60, failure_rate=0.2, min_calls=10, fail_max=3, reset_s=0.05, half_open_fraction=0.25)
    breaker = DependencyBreaker("catalog", policy)
    for _ in range(3):
        _call(breaker, Boom())
    assert breaker.state == "open"
    time.sleep(0.06)
    assert breaker.state == "half-open"
    admitted = sum(breaker.admits() for _ in range(2000))
    assert 350 < admitted < 650  # about a quarter of the traffic
    _call(breaker, Boom())  # the trial call fails: open again
    assert breaker.state == "open"
    time.sleep(0.06)
    _call(breaker)  # the trial call succeeds: closed, with a fresh window
    assert breaker.state == "closed"
    assert breaker.snapshot()["window_failures"] == 0


def test_policies_come_from_settings():
    settings = get_settings().model_copy(update={"breaker_overrides": {"pricing": {"failure_rate": 0.5, "min_calls": 4}}})
    assert BreakerPolicy.for_dependency(settings, "pricing").failure_rate == 0.5
    assert BreakerPolicy.for_dependency(settings, "pricing").min_calls == 4
    assert BreakerPolicy.for_dependency(settings, "orders").failure_rate == settings.breaker_failure_rate


async def test_protected_tool_times_out_into_a_marker_and_counts_a_failure(monkeypatch):
    from graph import breakers as module

    fresh = module.Breakers(get_settings().model_copy(update={"tool_timeouts_s": {"orders": 0.05}}))
    monkeypatch.setattr(module, "get_breakers", lambda: fresh)
    monkeypatch.setattr(module, "get_settings", lambda: fresh.settings)

    async def check_order_status(state, runtime):
        await asyncio.sleep(1)
        return {"tool_results": {"orders": {}}}

    node = protected(check_order_status, "orders", unavailable_tool("check_order_status", "orders"))
    start = time.monotonic()
    update = await node({}, SimpleNamespace(context=Context()))
    assert time.monotonic() - start < 0.5
    assert unavailable_dependencies(update["tool_results"]) == ["orders"]
    assert fresh["orders"].snapshot()["window_failures"] == 1


def test_response_cache_has_100_answers_in_both_languages_and_serves_paraphrases():
    settings = get_settings()
    cache = ResponseCache(settings.store_data_dir / "cache")
    assert len(cache) >= 100
    rows = [json.loads(line) for path in (settings.store_data_dir / "cache").glob("*.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines()]
    assert {r["language"] for r in rows} == {"en", "ja"}
    assert sum(r["language"] == "ja" for r in rows) >= 50
    # Product answers never carry a price: prices come from the pricing tool at serve time.
    assert not [r for r in rows if r["intent"] == "product_question" and re.search(r"[$¥]\s?\d", r["answer"])]
    en, ja = settings.cache_min_similarity["en"], settings.cache_min_similarity["ja"]
    hit = cache.lookup("do you guys ship overseas?", "en", "shipping_info", en)
    assert hit is not None and hit.entry_id == "faq-en-international"
    hit = cache.lookup("送料無料になるのはいくらからですか", "ja", "shipping_info", ja)
    assert hit is not None and hit.entry_id == "faq-ja-free-shipping"
    hit = cache.lookup("what's one piece about?", "en", "product_question", en, series_ids=["one-piece"])
    assert hit is not None and hit.series_id == "one-piece"
    # A series answer never answers a question about another series, however alike the wording.
    other = cache.lookup("ワンピースについて教えて", "ja", "product_question", ja, series_ids=["frieren"])
    assert other is None or other.series_id in (None, "frieren")
    assert cache.lookup("what's one piece about?", "en", "product_question", en, series_ids=[]) is None
    assert cache.lookup("where is my order?", "en", "order_status", en) is None
    assert cache.lookup("recommend a horror manga like Junji Ito", "en", "recommendation", en) is None


def test_answer_cache_expires_early_probabilistically_not_all_at_once():
    now = [0.0]
    cache = AnswerCache(ttl_s=10, beta=1.0, min_similarity=0.9, clock=lambda: now[0])
    key = AnswerCache.key("openai/p", "facts")
    cache.put(key, "tell me about Frieren", "answer", compute_s=1.0)
    assert cache.get(key, "tell me about Frieren") == "answer"
    assert cache.get(AnswerCache.key("openai/other", "facts"), "tell me about Frieren") is None
    now[0] = 9.0  # one compute-time before expiry: some readers recompute early, most still hit
    hits = sum(cache.get(key, "tell me about Frieren") == "answer" for _ in range(1000))
    assert 560 < hits < 710  # P(hit) = P(-ln U < 1) = 1 - 1/e ~ 0.63
    now[0] = 10.5
    assert cache.get(key, "tell me about Frieren") is None
