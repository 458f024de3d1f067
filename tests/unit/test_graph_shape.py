"""The graph's shape is pinned: a changed edge is a reviewed change."""

from __future__ import annotations

from pathlib import Path

from graph.builder import graph

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
