"""Fault injection: the real graph, the real litellm tiers over HTTP to the scripted fake model
server, and tool faults set through configuration. Nothing of ours is patched.

Every scenario checks the shopper's answer, the tier in the metadata, the breaker states, and that
the turn finished inside its deadline.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from graph.breakers import get_breakers
from graph.models import get_model_tiers
from graph.runner import TurnRunner
from mangaassist.contracts import TurnResult
from mangaassist.settings import get_settings
from tests.support.fake_llm import FakeLLMServer
from tools.response_cache import get_answer_cache

pytestmark = pytest.mark.integration

ANSWER = "Frieren is a gentle fantasy about time and memory; volume one is a lovely start."
SECONDARY = "From the secondary model: Frieren volume one is a great place to begin."
DEADLINE_SLACK_S = 0.3  # finalize and the result's validation run after the budget is measured


def _reset_process_state() -> None:
    get_settings.cache_clear()
    get_model_tiers.cache_clear()
    get_breakers.cache_clear()
    get_answer_cache.cache_clear()


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def configure(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point both tiers at scripted models (plus any MANGAASSIST_ overrides) with fresh breakers."""

    def apply(primary: str, secondary: str, **overrides: str) -> None:
        env = {
            "LLM_MODE": "on",
            "LLM_PRIMARY": f"openai/{primary}",
            "LLM_PRIMARY_API_BASE": llm.base_url,
            "LLM_PRIMARY_API_KEY": "sk-test",
            "LLM_SECONDARY": f"openai/{secondary}",
            "LLM_SECONDARY_API_BASE": llm.base_url,
            "LLM_SECONDARY_API_KEY": "sk-test",
            "LLM_FIRST_TOKEN_TIMEOUT_S": "0.6",
            "LLM_MAX_RETRIES": "1",
            # Each turn must reach the models: no semantic-cache hits across scenario turns.
            "ANSWER_CACHE_TTL_S": "0.001",
            **overrides,
        }
        for key, value in env.items():
            monkeypatch.setenv(f"MANGAASSIST_{key}", value)
        _reset_process_state()

    yield apply
    monkeypatch.undo()
    _reset_process_state()


async def _turn(runner: TurnRunner, message: str, **kwargs: object) -> tuple[TurnResult, float]:
    start = time.monotonic()
    result = await runner.run(message, **kwargs)
    return result, time.monotonic() - start


def _within_deadline(result: TurnResult, wall_s: float) -> None:
    deadline_s = get_settings().turn_deadline_s
    assert result.metadata.deadline_ms == deadline_s * 1000
    assert wall_s < deadline_s + DEADLINE_SLACK_S, f"turn took {wall_s:.2f}s"


async def test_throttled_primary_is_retried_after_retry_after_within_budget(configure, llm, runner):
    configure("f-429", "f-unused")
    ok = {"kind": "ok", "text": ANSWER}
    llm.script("f-429", [ok, {"kind": "error", "status": 429, "retry_after": 1}, ok])
    await _turn(runner, "tell me about Frieren")  # warm-up: the process's first model call is slow
    result, wall = await _turn(runner, "tell me about Frieren")
    assert result.metadata.model_tier == "primary" and result.text == ANSWER
    assert len(llm.requests("f-429")) == 3
    assert result.metadata.breakers["primary"] == "closed"
    assert wall >= 1.0  # the server's Retry-After was honoured
    _within_deadline(result, wall)


async def test_client_errors_are_not_retried_and_do_not_trip_the_breaker(configure, llm, runner):
    configure("f-400", "f-s400")
    llm.script("f-400", [], default={"kind": "error", "status": 400})
    llm.script("f-s400", [{"kind": "ok", "text": SECONDARY}])
    result, wall = await _turn(runner, "tell me about Frieren")
    assert result.metadata.model_tier == "secondary" and result.text == SECONDARY
    assert len(llm.requests("f-400")) == 1
    assert get_breakers()["primary"].snapshot()["window_failures"] == 0
    _within_deadline(result, wall)


async def test_5xx_then_secondary(configure, llm, runner):
    configure("f-500", "f-s500")
    llm.script("f-500", [], default={"kind": "error", "status": 500})
    llm.script("f-s500", [{"kind": "ok", "text": SECONDARY}])
    result, wall = await _turn(runner, "tell me about Frieren")
    assert result.metadata.model_tier == "secondary" and result.text == SECONDARY
    assert len(llm.requests("f-500")) == 2  # one retry: retryable, and the budget allowed it
    assert "primary" in result.metadata.degraded
    _within_deadline(result, wall)


async def test_stall_before_first_token_falls_back_inside_the_deadline(configure, llm, runner):
    configure("f-stall", "f-sstall")
    llm.script("f-stall", [], default={"kind": "stall", "seconds": 10, "text": ANSWER})
    llm.script("f-sstall", [{"kind": "ok", "text": SECONDARY}])
    result, wall = await _turn(runner, "tell me about Frieren")
    assert result.metadata.model_tier == "secondary" and result.text == SECONDARY
    _within_deadline(result, wall)


async def test_death_mid_stream_is_not_retried(configure, llm, runner):
    configure("f-die", "f-sdie")
    llm.script("f-die", [], default={"kind": "die", "after_chunks": 2, "text": ANSWER, "chunk_chars": 5})
    llm.script("f-sdie", [{"kind": "ok", "text": SECONDARY}])
    result, wall = await _turn(runner, "tell me about Frieren")
    assert result.metadata.model_tier == "secondary" and result.text == SECONDARY
    assert len(llm.requests("f-die")) == 1  # tokens had reached the shopper: no retry
    _within_deadline(result, wall)


async def test_slow_models_are_cut_at_the_deadline_and_the_grounded_responder_answers(configure, llm, runner):
    configure("f-slow", "f-sslow")
    slow = {"kind": "slow", "text": ANSWER * 3, "delay_s": 0.3, "chunk_chars": 4}
    llm.script("f-slow", [], default=slow)
    llm.script("f-sslow", [], default=slow)
    result, wall = await _turn(runner, "tell me about Frieren")
    assert result.metadata.model_tier == "grounded"
    assert "Frieren" in result.text
    _within_deadline(result, wall)


async def test_breaker_opens_after_consecutive_failures_and_skips_the_primary(configure, llm, runner):
    configure("f-down", "f-sdown", LLM_MAX_RETRIES="0")
    llm.script("f-down", [], default={"kind": "error", "status": 503})
    llm.script("f-sdown", [], default={"kind": "ok", "text": SECONDARY})
    for _ in range(3):
        result, wall = await _turn(runner, "tell me about Frieren")
        assert result.metadata.model_tier == "secondary"
    assert result.metadata.breakers["primary"] == "open"
    result, wall = await _turn(runner, "tell me about Frieren")
    assert len(llm.requests("f-down")) == 3  # the open breaker kept the fourth turn off the primary
    assert result.metadata.model_tier == "secondary"
    assert result.metadata.breakers == {**result.metadata.breakers, "primary": "open", "secondary": "closed"}
    _within_deadline(result, wall)


async def test_both_tiers_down_serves_the_response_cache_in_both_languages(configure, llm, runner):
    configure("f-x1", "f-x2", LLM_MAX_RETRIES="0", CACHE_FIRST_INTENTS="[]")
    llm.script("f-x1", [], default={"kind": "error", "status": 503})
    llm.script("f-x2", [], default={"kind": "error", "status": 500})
    result, wall = await _turn(runner, "What payment methods do you accept?")
    assert result.metadata.model_tier == "cache"
    assert "JCB" in result.text and "knowledge base" in result.text
    _within_deadline(result, wall)
    result, wall = await _turn(runner, "支払い方法は何がありますか？")
    assert result.metadata.model_tier == "cache" and result.language == "ja"
    assert "JCB" in result.text and "ナレッジベース" in result.text
    _within_deadline(result, wall)


async def test_cheap_faq_is_answered_from_the_cache_without_any_model(configure, llm, runner):
    configure("f-faq", "f-sfaq")
    result, wall = await _turn(runner, "do you ship internationally?")
    assert result.metadata.model_tier == "cache" and "40 countries" in result.text
    assert llm.requests("f-faq") == [] and llm.requests("f-sfaq") == []
    _within_deadline(result, wall)


async def test_orders_down_is_an_honest_answer_with_an_escalation_offer(configure, llm, runner):
    # The orders database call exceeds its configured timeout: a real time-out of the real client.
    configure("f-ord", "f-sord", TOOL_TIMEOUTS_S='{"orders": 0.000001}')
    result, wall = await _turn(runner, "where is my order?", user_id="C1001")
    assert result.intent == "order_status"
    assert "can't check orders right now" in result.text and "support team" in result.text
    assert result.metadata.model_tier == "cache" and "orders" in result.metadata.degraded
    assert llm.requests("f-ord") == []
    _within_deadline(result, wall)
    for _ in range(2):
        await _turn(runner, "where is my order?", user_id="C1001")
    result, wall = await _turn(runner, "where is my order?", user_id="C1001")
    assert result.metadata.breakers["orders"] == "open"
    assert "can't check orders right now" in result.text


async def test_soak_200_turns_with_30_percent_model_failures(configure, llm, runner):
    configure(
        "f-soak-p", "f-soak-s",
        BREAKER_RESET_S="0.5",
        LLM_FIRST_TOKEN_TIMEOUT_S="0.3",
        TURN_DEADLINE_S="2.0",
    )
    rng = random.Random(7)
    faults = [
        {"kind": "error", "status": 500},
        {"kind": "error", "status": 503},
        {"kind": "error", "status": 429},
        {"kind": "die", "after_chunks": 1, "text": ANSWER, "chunk_chars": 8},
        {"kind": "stall", "seconds": 2, "text": ANSWER},
    ]

    def steps(text: str) -> list[dict[str, object]]:
        return [rng.choice(faults) if rng.random() < 0.3 else {"kind": "ok", "text": text} for _ in range(400)]

    llm.script("f-soak-p", steps(ANSWER))
    llm.script("f-soak-s", steps(SECONDARY))
    messages = [
        "tell me about Frieren", "recommend horror manga like Junji Ito", "how much is Berserk volume 1?",
        "do you ship internationally?", "is One Piece volume 3 in stock?", "what is Naruto about?",
        "where is my order?", "hello!", "フリーレンについて教えて", "送料無料の条件は？",
    ]
    tiers: Counter[str] = Counter()
    errors: list[str] = []
    slowest = 0.0
    for i in range(200):
        try:
            result, wall = await _turn(runner, messages[i % len(messages)], user_id="C1001")
        except Exception as exc:  # noqa: BLE001 - the soak counts every unhandled error, whatever it is
            errors.append(f"{i}: {type(exc).__name__}: {exc}")
            continue
        assert result.text.strip()
        tiers[result.metadata.model_tier] += 1
        slowest = max(slowest, wall)
    print(f"soak: tiers={dict(tiers)} slowest={slowest:.2f}s errors={len(errors)}")
    assert errors == []
    assert slowest < get_settings().turn_deadline_s + DEADLINE_SLACK_S
    assert tiers["primary"] > 0 and tiers["secondary"] + tiers["cache"] + tiers["grounded"] > 0


async def test_long_model_outage_sets_the_banner_and_metrics_show_the_breakers(configure, llm, runner):
    from server.app import metrics

    configure("f-b1", "f-b2", LLM_MAX_RETRIES="0", DEGRADED_BANNER_AFTER_S="0.2")
    llm.script("f-b1", [], default={"kind": "error", "status": 503})
    llm.script("f-b2", [], default={"kind": "error", "status": 503})
    result, _ = await _turn(runner, "tell me about Frieren")
    assert result.metadata.model_tier == "grounded" and result.metadata.banner is None
    await asyncio.sleep(0.25)
    for _ in range(2):
        result, wall = await _turn(runner, "tell me about Frieren")
    assert result.metadata.banner and "limited mode" in result.metadata.banner
    assert result.metadata.breakers["primary"] == "open" and result.metadata.breakers["secondary"] == "open"
    _within_deadline(result, wall)
    body = json.loads((await metrics(None)).body)  # type: ignore[arg-type]
    assert body["breakers"]["primary"]["state"] == "open" and body["degraded_banner"] is True
    assert set(body["breakers"]) == {"primary", "secondary", "catalog", "pricing", "orders", "recommendations", "retrieval"}
