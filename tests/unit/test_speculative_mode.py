"""Speculative retrieval versus the sequential baseline, and the simulated-latency hook.

The mode is part of the graph's build, so the sequential graph comes from re-running
`graph/builder.py` under `MANGAASSIST_SPECULATIVE_RETRIEVAL=false`; the module is rebuilt with
the defaults afterwards.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

import graph.builder
from graph.breakers import get_breakers
from graph.state import Context
from mangaassist.settings import get_settings

USER = "C1001"


async def _turn(compiled: Any, message: str) -> tuple[list[str], dict[str, Any]]:
    """Run one turn; the nodes in the order their updates arrived, and the final state."""
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    order: list[str] = []
    async for update in compiled.astream(
        {"message": message}, config, context=Context(user_id=USER), stream_mode="updates"
    ):
        order.extend(update)
    return order, (await compiled.aget_state(config)).values


@pytest.fixture
async def warm_retrieval(services: Any) -> None:
    """Load the embedder and index first: a cold first search can outlast the retrieval timeout."""
    await services.retrieval.search("ホラー horror", 1)


@pytest.fixture
def sequential_builder(monkeypatch: pytest.MonkeyPatch, warm_retrieval: None) -> Iterator[Any]:
    monkeypatch.setenv("MANGAASSIST_SPECULATIVE_RETRIEVAL", "false")
    get_settings.cache_clear()
    try:
        yield importlib.reload(graph.builder).builder
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        importlib.reload(graph.builder)


async def test_sequential_mode_retrieves_after_routing_only_for_intents_using_it(sequential_builder):
    compiled = sequential_builder.compile(checkpointer=InMemorySaver())
    edges = {(e.source, e.target) for e in compiled.get_graph().edges}
    assert ("classify_intent", "speculative_retrieve") in edges

    order, state = await _turn(compiled, "where is my order?")
    assert state["intent"] == "order_status"
    assert state["retrieval"] == {"used": False, "speculative": False, "started": False, "doc_ids": [], "hits": []}

    # A policy question searches the policies itself (lookup_policy), never the turn's search.
    order, state = await _turn(compiled, "how long does shipping take to Canada?")
    assert state["intent"] == "shipping_info" and state["retrieval"]["started"] is False
    assert state["tool_results"]["policies"]

    order, state = await _turn(compiled, "伊藤潤二みたいなホラー漫画のおすすめは？")
    assert state["intent"] == "recommendation"
    position = {node: order.index(node) for node in order}
    assert position["classify_intent"] < position["speculative_retrieve"] < position["plan_tools"]
    assert state["retrieval"]["hits"] and state["retrieval"]["speculative"] is False
    assert state["result"]["metadata"]["retrieval"]["speculative"] is False


async def _updates(compiled: Any, message: str) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """Run one turn; every node's update in arrival order, and the final state."""
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    updates: list[tuple[str, dict[str, Any]]] = []
    async for update in compiled.astream(
        {"message": message}, config, context=Context(user_id=USER), stream_mode="updates"
    ):
        updates.extend(update.items())
    return updates, (await compiled.aget_state(config)).values


@pytest.fixture
def slow_search(monkeypatch: pytest.MonkeyPatch, warm_retrieval: None) -> Iterator[None]:
    """A search far slower than routing and planning (and within the retrieval timeout)."""
    monkeypatch.setenv("MANGAASSIST_SIMULATED_LATENCY_MS", '{"knn": 300}')
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_default_mode_plans_and_calls_tools_while_the_search_runs(slow_search):
    compiled = graph.builder.builder.compile(checkpointer=InMemorySaver())
    updates, state = await _updates(compiled, "伊藤潤二みたいなホラー漫画のおすすめは？")
    assert state["intent"] == "recommendation"
    nodes = [name for name, _ in updates]
    # The search starts in the routing step and is still pending when planning and the tools run.
    started = dict(updates)["speculative_retrieve"]["retrieval"]
    assert started["pending"] is True and started["hits"] == []
    assert nodes.index("speculative_retrieve") < nodes.index("plan_tools") < nodes.index("recommend_products")
    # The nodes that use the hits awaited them: the recommendations and the prompt have them.
    assert "pending" not in state["retrieval"] and state["retrieval"]["hits"]
    assert state["retrieval"]["speculative"] is True and state["retrieval"]["started"] is True
    assert state["retrieval"]["used"] and state["result"]["metadata"]["retrieval"]["doc_ids"]
    assert state["tool_results"]["recommendations"]["cards"]


async def test_a_search_nothing_reads_is_not_waited_for(slow_search):
    compiled = graph.builder.builder.compile(checkpointer=InMemorySaver())
    # The classifier (not the rules) decides this one, so the search was started, and an order
    # answer uses none of it: the prompt is assembled without waiting and the search stopped.
    failures = get_breakers()["retrieval"].snapshot()["window_failures"]
    updates, state = await _updates(compiled, "did the stuff I bought last week leave the warehouse yet")
    assert state["intent"] == "order_status" and state["intent_stage"] == "classifier"
    assert dict(updates)["speculative_retrieve"]["retrieval"]["pending"] is True
    assert state["retrieval"]["started"] is True and state["retrieval"]["hits"] == []
    assert "pending" not in state["retrieval"] and not state["retrieval"]["used"]
    # The abandoned search runs out on its own: the index did nothing wrong, no breaker failure.
    await asyncio.sleep(0.5)
    assert get_breakers()["retrieval"].snapshot()["window_failures"] == failures


async def test_a_turn_routing_sends_elsewhere_pays_for_no_query_embedding(warm_retrieval, monkeypatch):
    from graph.resources import services as graph_services
    from tests.unit.test_query_embedding import CountingEmbedder

    # The services the graph's nodes use (another test may have rebuilt the process's services).
    retrieval = (await graph_services()).retrieval
    counting = CountingEmbedder(retrieval.embedder)
    monkeypatch.setattr(retrieval, "embedder", counting)
    # Long enough that only routing's verdict can end the embedding's wait.
    monkeypatch.setattr(get_settings(), "speculative_routing_wait_ms", 60_000.0)
    compiled = graph.builder.builder.compile(checkpointer=InMemorySaver())
    # The classifier, not the rules, routes these: the search was started before the verdict.
    elsewhere = "did the stuff I bought last week leave the warehouse yet"
    _, state = await _turn(compiled, elsewhere)
    assert state["intent"] == "order_status" and state["intent_stage"] == "classifier"
    assert state["retrieval"]["started"] is True
    searching = "a quiet story about a lighthouse keeper and the sea"
    _, state = await _turn(compiled, searching)
    assert state["intent"] in ("recommendation", "product_search") and state["retrieval"]["hits"]
    await asyncio.sleep(0.2)  # an abandoned search ends on its own
    assert elsewhere not in counting.queries and searching in counting.queries


async def test_a_rule_decided_turn_starts_no_search(warm_retrieval):
    compiled = graph.builder.builder.compile(checkpointer=InMemorySaver())
    _, state = await _turn(compiled, "where is my order?")
    assert state["intent"] == "order_status" and state["intent_stage"] == "rules"
    assert state["retrieval"]["started"] is False and state["retrieval"]["hits"] == []


async def test_a_simulated_latency_delays_its_step(monkeypatch, services):
    monkeypatch.setenv("MANGAASSIST_SIMULATED_LATENCY_MS", '{"intent": 250}')
    get_settings.cache_clear()
    try:
        compiled = graph.builder.builder.compile(checkpointer=InMemorySaver())
        _, state = await _turn(compiled, "hi there!")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    # A lower bound only: the sleep happened inside the routing step it is named after.
    assert state["timings_ms"]["classify_intent"] >= 240


def test_the_intents_reading_the_search_are_the_ones_whose_prompt_shows_its_documents():
    from nodes.assemble_prompt import _DOC_TYPES_BY_INTENT
    from nodes.plan_tools import RETRIEVAL_INTENTS, SEARCH_INTENTS

    assert set(_DOC_TYPES_BY_INTENT) == SEARCH_INTENTS <= RETRIEVAL_INTENTS


async def test_the_turn_s_search_holds_only_the_documents_its_readers_show(warm_retrieval):
    from nodes.assemble_prompt import _DOC_TYPES_BY_INTENT

    # A policy question searches the policy sections alone (`lookup_policy`): a section in the
    # turn's own search would only take the place of a series the answer can show. This story's
    # words ("no matter what happens") had ranked the pre-order and payment sections among its hits.
    shown = {kind for kinds in _DOC_TYPES_BY_INTENT.values() for kind in kinds}
    compiled = graph.builder.builder.compile(checkpointer=InMemorySaver())
    _, state = await _turn(compiled, "mc literally cannot die no matter what happens to him")
    hits = state["retrieval"]["hits"]
    assert hits and {h["doc_type"] for h in hits} <= shown, [h["doc_id"] for h in hits]
