"""The graph's shape is pinned: a changed edge is a reviewed change."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from graph.builder import graph
from graph.edges import after_primary, after_secondary, after_validation, destinations, routed, to_responder, to_tools
from graph.state import RESET, updated

SNAPSHOT = Path(__file__).parent / "snapshots" / "graph.mmd"


def test_graph_shape_matches_snapshot():
    drawn = graph.get_graph().draw_mermaid()
    assert drawn == SNAPSHOT.read_text(encoding="utf-8"), (
        "graph shape changed: review it and update tests/unit/snapshots/graph.mmd"
    )


def test_model_fallback_edges_are_graph_structure():
    edges = {(e.source, e.target) for e in graph.get_graph().edges}
    assert ("generate_primary", "generate_secondary") in edges
    # primary -> secondary -> response cache -> grounded responder (degradation tiers 1 and 2)
    assert ("generate_primary", "respond_from_cache") in edges
    assert ("generate_secondary", "respond_from_cache") in edges
    assert ("respond_from_cache", "respond_grounded") in edges
    assert ("assemble_prompt", "respond_from_cache") in edges
    assert ("validate_input", "classify_intent") in edges and ("validate_input", "speculative_retrieve") in edges


def test_a_routing_node_can_go_where_its_edge_can_send_it():
    assert destinations(to_responder) == (
        "generate_primary", "generate_secondary", "respond_from_cache", "respond_grounded"
    )
    assert destinations(after_validation) == ("classify_intent", "speculative_retrieve", "assemble_prompt")
    assert "search_catalog" in destinations(to_tools) and "assemble_prompt" in destinations(to_tools)


def test_a_routing_node_routes_on_the_state_its_update_leaves():
    state: dict[str, Any] = {
        "message": "hi", "tool_results": {"facts": {"products": []}}, "tier_errors": {"primary": "down"},
        "timings_ms": {"validate_input": 1.0},
    }
    # Reduced fields go through their reducers (a merge, or a reset), the rest are replaced.
    seen = updated(state, {"tool_results": {"orders": []}, "tier_errors": {RESET: True}, "draft": None})  # type: ignore[arg-type]
    assert seen["tool_results"] == {"facts": {"products": []}, "orders": []}
    assert seen["tier_errors"] == {}
    assert seen["draft"] is None and seen["timings_ms"] == {"validate_input": 1.0}
    assert state["tier_errors"] == {"primary": "down"}  # the state itself is untouched

    async def drafted(state: Any, runtime: Any) -> dict[str, Any]:
        return {"draft": {"text": "Here you are."}}

    async def failed(state: Any, runtime: Any) -> dict[str, Any]:
        return {"draft": None, "tier_errors": {"primary": "timed out"}}

    answered = asyncio.run(routed(drafted, after_primary)(state, None))  # type: ignore[arg-type]
    assert answered.goto == "apply_guardrails" and answered.update == {"draft": {"text": "Here you are."}}
    fallen = asyncio.run(routed(failed, after_secondary)(state, None))  # type: ignore[arg-type]
    assert fallen.goto == "respond_from_cache"
