"""The deterministic checks catch what must never reach a shopper, on real answers of the graph."""

from __future__ import annotations

import pytest

from evals.cases import Expect, OrderFact
from evals.gates import Gate, apply_gates
from evals.metrics import wilson
from evals.validators import Truth, always_checks, expect_checks
from tools.pricing import format_price


@pytest.fixture(scope="module")
def truth(services):
    return Truth.load(services)


def _failed(checks) -> dict[str, str]:
    return {c.name: c.reason for c in checks if not c.passed}


async def test_a_real_price_answer_passes_and_tampered_ones_fail(runner, services, truth):
    result = await runner.run("ワンピースの5巻はいくらですか？")
    product = services.catalog.volume("one-piece", 5, "print", "JA")
    expect = Expect(products=[product.asin], prices=[product.asin], series=["one-piece"])
    assert _failed(await always_checks(result, "ja", truth, None)) == {}
    assert _failed(await expect_checks(result, expect, None, truth)) == {}

    right = format_price(product.current_price, "JPY")
    wrong = format_price(product.current_price + 110, "JPY")
    tampered = result.model_copy(update={"text": result.text.replace(right, wrong)})
    failed = _failed(await always_checks(tampered, "ja", truth, None))
    assert "text_prices" in failed and wrong in failed["text_prices"]
    assert "prices" in _failed(await expect_checks(tampered, expect, None, truth))

    card = result.products[0].model_copy(update={"price": 1.0})
    assert "card_prices" in _failed(await always_checks(result.model_copy(update={"products": [card]}), "ja", truth, None))


async def test_must_never_checks(runner, truth):
    result = await runner.run("what is Chainsaw Man about?")
    assert _failed(await always_checks(result, "en", truth, None)) == {}
    bad = {
        "store_ids": " Also try B0ZZZZZZZZ.",
        "discounts": " Today it is 40% off!",
        "competitors": " It is cheaper on Amazon.",
        "pii": " Write to me at someone@example.com.",
    }
    for check, extra in bad.items():
        tampered = result.model_copy(update={"text": result.text + extra})
        assert check in _failed(await always_checks(tampered, "en", truth, None)), check
    assert "language" in _failed(await always_checks(result, "ja", truth, None))
    card = result.products[0].model_copy(update={"genres": ["cooking"]})
    assert "genres_known" in _failed(await always_checks(result.model_copy(update={"products": [card]}), "en", truth, None))


async def test_order_state_must_match_the_fixture(runner, truth):
    mine = await runner.run("where is my order MA-10002?", user_id="C1001")
    assert _failed(await expect_checks(mine, Expect(order=OrderFact(order_id="MA-10002", state="shipped")), None, truth)) == {}
    stale = _failed(await expect_checks(mine, Expect(order=OrderFact(order_id="MA-10002", state="delivered")), None, truth))
    assert "fixture says shipped" in stale["order"]
    wrong = mine.model_copy(update={"text": mine.text.replace("shipped", "cancelled")})
    assert "order" in _failed(await expect_checks(wrong, Expect(order=OrderFact(order_id="MA-10002")), None, truth))


async def test_follow_up_references_resolve_against_the_previous_turn(runner, truth):
    first = await runner.run("recommend some horror manga", session_id="eval-prev")
    second = await runner.run("how much is the first one?", session_id="eval-prev")
    expect = Expect(products=["prev:0"], prices=["prev:0"])
    assert _failed(await expect_checks(second, expect, first, truth)) == {}
    assert "products" in _failed(await expect_checks(second, Expect(products=["prev:1"]), first, truth))
    assert "genres" in _failed(await expect_checks(first, Expect(genres=["cooking"]), None, truth))


def test_wilson_interval():
    assert wilson(0, 0) == (0.0, 0.0)
    low, high = wilson(95, 100)
    assert low == pytest.approx(0.8882, abs=1e-3) and high == pytest.approx(0.9785, abs=1e-3)
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0


def test_gates_pass_fail_and_skip():
    gates = [Gate(metric="a", min=0.9), Gate(metric="b", max=0), Gate(metric="c", min=0.5)]
    results = {g.metric: g.status for g in apply_gates(gates, {"a": 0.89, "b": 0})}
    assert results == {"a": "fail", "b": "pass", "c": "skipped"}
    with pytest.raises(ValueError):
        Gate(metric="d", min=1, max=2)
