"""Tool faults injected through configuration: the real HTTP pricing and orders clients talk to a
local store-services server that is told to fail or stall. Nothing of ours is patched.

Each scenario checks the shopper's answer, the degraded dependency and breaker state in the
metadata, and that the turn finished inside its deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from graph.breakers import get_breakers
from graph.runner import TurnRunner
from mangaassist.contracts import TurnResult
from mangaassist.settings import get_settings
from tests.support.store_services import StoreServices
from tools.registry import get_services

pytestmark = pytest.mark.integration

DEADLINE_SLACK_S = 0.3
PRICE = re.compile(r"\$\s?\d|¥\s?\d|\d円")


@pytest.fixture(scope="module")
def store() -> Iterator[StoreServices]:
    with StoreServices() as services:
        yield services


def _reset_process_state() -> None:
    get_settings.cache_clear()
    get_services.cache_clear()
    get_breakers.cache_clear()


@pytest.fixture
async def runner(store: StoreServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TurnRunner]:
    """A runner whose pricing and orders tools are the HTTP clients of the local services."""
    store.reset()
    monkeypatch.setenv("MANGAASSIST_PRICING_URL", store.pricing_url)
    monkeypatch.setenv("MANGAASSIST_ORDERS_URL", store.orders_url)
    _reset_process_state()
    settings = get_settings().model_copy(update={"data_dir": tmp_path})
    async with TurnRunner(settings) as turn_runner:
        yield turn_runner
    monkeypatch.undo()
    _reset_process_state()


async def _turn(runner: TurnRunner, message: str, **kwargs: object) -> tuple[TurnResult, float]:
    start = time.monotonic()
    result = await runner.run(message, **kwargs)
    return result, time.monotonic() - start


def _within_deadline(wall_s: float) -> None:
    assert wall_s < get_settings().turn_deadline_s + DEADLINE_SLACK_S, f"turn took {wall_s:.2f}s"


async def test_healthy_services_answer_prices_and_orders_over_http(runner, store):
    result, wall = await _turn(runner, "how much is volume 3 of Frieren?")
    quote = result.products[0]
    assert result.intent == "price_check" and quote.volume == 3
    assert f"${quote.price:.2f}" in result.text
    result_ja, _ = await _turn(runner, "フリーレンの3巻はいくらですか？")
    assert result_ja.language == "ja" and any(p.currency == "JPY" for p in result_ja.products)
    orders, _ = await _turn(runner, "where is my order?", user_id="C1001")
    assert orders.intent == "order_status" and "MA-" in orders.text
    assert store.calls()["pricing"] >= 2 and store.calls()["orders"] >= 1
    assert result.metadata.degraded == [] and orders.metadata.degraded == []
    _within_deadline(wall)


async def test_slow_pricing_strips_every_price_with_a_note(runner, store):
    # Slower than the price guard's 200 ms, faster than the pricing tool's own timeout: the cards
    # are priced, but the guard cannot confirm the amounts in the text, so none may stay.
    store.fail("pricing", delay_ms=350)
    for message, note in [
        ("how much is volume 3 of Frieren?", "check the product page"),
        ("フリーレンの3巻はいくらですか？", "商品ページ"),
    ]:
        result, wall = await _turn(runner, message)
        assert result.intent == "price_check"
        assert not PRICE.search(result.text), result.text
        assert note in result.text
        assert "price_accuracy" in result.metadata.guardrails_fired
        _within_deadline(wall)


async def test_failing_pricing_opens_its_breaker_and_stops_calling_it(runner, store):
    store.fail("pricing", status=503)
    for _ in range(3):
        result, wall = await _turn(runner, "how much is volume 3 of Frieren?")
        assert "pricing" in result.metadata.degraded
        assert not PRICE.search(result.text), result.text
        assert "current price" in result.text
        _within_deadline(wall)
    calls = store.calls()["pricing"]
    result, wall = await _turn(runner, "how much is volume 2 of Frieren?")
    assert result.metadata.breakers["pricing"] == "open"
    assert "pricing" in result.metadata.degraded and not PRICE.search(result.text)
    # The open breaker keeps the turn away from the failing service (only the guard's own call may
    # still try it, bounded by its 200 ms).
    assert store.calls()["pricing"] - calls <= 1
    _within_deadline(wall)


async def test_orders_service_down_is_an_honest_answer_with_an_escalation_offer(runner, store):
    store.fail("orders", status=500)
    result, wall = await _turn(runner, "where is my order?", user_id="C1001")
    assert result.intent == "order_status"
    assert "can't check orders right now" in result.text and "support team" in result.text
    assert "orders" in result.metadata.degraded
    _within_deadline(wall)
    result_ja, wall = await _turn(runner, "注文はどこですか？", user_id="C1001")
    assert "注文" in result_ja.text and "orders" in result_ja.metadata.degraded
    _within_deadline(wall)


async def test_stalled_orders_service_is_cut_at_its_timeout(runner, store):
    store.fail("orders", delay_ms=5000)
    result, wall = await _turn(runner, "where is my order MA-10001?", user_id="C1001")
    assert "can't check orders right now" in result.text
    assert "orders" in result.metadata.degraded
    assert wall < get_settings().tool_timeouts_s["orders"] + 1.0
    _within_deadline(wall)
    store.reset()
    result, _ = await _turn(runner, "where is my order MA-10001?", user_id="C1001")
    assert "MA-10001" in result.text and result.metadata.degraded == []


async def test_catalog_down_answers_from_retrieval_with_a_note(runner, monkeypatch):
    # The catalog is in-process; its calls are cut by a timeout no lookup can meet.
    monkeypatch.setenv("MANGAASSIST_TOOL_TIMEOUTS_S", '{"catalog": 0.000001}')
    get_settings.cache_clear()
    get_breakers.cache_clear()
    for message, note in [
        ("tell me about Frieren", "catalog isn't responding"),
        ("フリーレンについて教えて", "カタログが応答していない"),
    ]:
        result, wall = await _turn(runner, message)
        assert "catalog" in result.metadata.degraded
        assert note in result.text
        assert "Frieren" in result.text or "フリーレン" in result.text
        _within_deadline(wall)
