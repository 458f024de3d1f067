"""Speculative retrieval versus the sequential baseline, and the simulated-latency hook.

The mode is part of the graph's build, so the sequential graph comes from re-running
`graph/builder.py` under `MANGAASSIST_SPECULATIVE_RETRIEVAL=false`; the module is rebuilt with
the defaults afterwards.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

import graph.builder
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
    assert state["retrieval"] == {"used": False, "speculative": False, "doc_ids": [], "hits": []}

    order, state = await _turn(compiled, "伊藤潤二みたいなホラー漫画のおすすめは？")
    assert state["intent"] == "recommendation"
    position = {node: order.index(node) for node in order}
    assert position["classify_intent"] < position["speculative_retrieve"] < position["plan_tools"]
    assert state["retrieval"]["hits"] and state["retrieval"]["speculative"] is False
    assert state["result"]["metadata"]["retrieval"]["speculative"] is False


async def test_default_mode_searches_beside_routing_unless_the_rules_already_know(warm_retrieval):
    compiled = graph.builder.builder.compile(checkpointer=InMemorySaver())
    # The classifier decides this one: the search starts in the same step as routing, before
    # the intent is known, and its hits are there when planning starts.
    order, state = await _turn(compiled, "did the stuff I bought last week leave the warehouse yet")
    assert state["intent_stage"] == "classifier"
    position = {node: order.index(node) for node in order}
    assert max(position["classify_intent"], position["speculative_retrieve"]) < position["plan_tools"]
    assert state["retrieval"]["speculative"] is True and state["retrieval"]["hits"]
    # A rule-decided order question needs no search result: none is started.
    order, state = await _turn(compiled, "where is my order?")
    assert state["intent"] == "order_status" and state["intent_stage"] == "rules"
    assert state["retrieval"]["speculative"] is True and state["retrieval"]["hits"] == []


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
