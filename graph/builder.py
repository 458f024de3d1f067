"""The one place the turn graph is built.

validate_input -> (classify_intent || speculative_retrieve) -> plan_tools -> tool fan-out ->
assemble_prompt -> generate_primary -> generate_secondary -> respond_from_cache -> respond_grounded
-> apply_guardrails -> finalize. Every store tool runs behind its dependency's breaker and timeout.
`speculative_retrieve` only starts the search (graph/speculation.py): the nodes that use its hits
await it, so planning and the tools are not held back by it.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graph.breakers import Dependency, protected, unavailable_tool
from graph.edges import (
    Edge,
    after_cache,
    after_primary,
    after_secondary,
    after_validation,
    after_validation_sequential,
    destinations,
    routed,
    to_responder,
    to_tools,
)
from graph.state import Context, InputState, OutputState, State
from mangaassist.settings import get_settings
from nodes.apply_guardrails import apply_guardrails
from nodes.assemble_prompt import assemble_prompt
from nodes.check_order_status import check_order_status
from nodes.check_price import check_price
from nodes.check_return_eligibility import check_return_eligibility
from nodes.classify_intent import classify_intent
from nodes.finalize import finalize
from nodes.generate import generate_primary, generate_secondary
from nodes.get_product_details import get_product_details
from nodes.lookup_policy import lookup_policy
from nodes.plan_tools import plan_tools
from nodes.recommend_products import recommend_products
from nodes.respond_from_cache import respond_from_cache
from nodes.respond_grounded import respond_grounded
from nodes.search_catalog import search_catalog
from nodes.speculative_retrieve import speculative_retrieve
from nodes.validate_input import validate_input

# Each store tool node and the dependency whose breaker and timeout guard it.
TOOL_DEPENDENCIES: dict[str, Dependency] = {
    "search_catalog": "catalog",
    "get_product_details": "catalog",
    "check_price": "pricing",
    "recommend_products": "recommendations",
    "check_order_status": "orders",
    "check_return_eligibility": "orders",
    "lookup_policy": "retrieval",
}
TOOL_NODES = tuple(
    protected(node, TOOL_DEPENDENCIES[node.__name__], unavailable_tool(node.__name__, TOOL_DEPENDENCIES[node.__name__]))
    for node in (
        search_catalog,
        get_product_details,
        check_price,
        recommend_products,
        check_order_status,
        check_return_eligibility,
        lookup_policy,
    )
)


# `MANGAASSIST_SPECULATIVE_RETRIEVAL=false` builds the sequential baseline `bench/speculative.py`
# measures against: retrieval after routing, skipped by intents that do not use it.
SPECULATIVE_RETRIEVAL = get_settings().speculative_retrieval
# The nodes that choose the next step, and how (graph/edges.py).
ROUTES: dict[str, Edge] = {
    "validate_input": after_validation if SPECULATIVE_RETRIEVAL else after_validation_sequential,
    "plan_tools": to_tools,
    "assemble_prompt": to_responder,
    "generate_primary": after_primary,
    "generate_secondary": after_secondary,
    "respond_from_cache": after_cache,
}

builder = StateGraph(State, context_schema=Context, input_schema=InputState, output_schema=OutputState)
for node in (
    validate_input,
    classify_intent,
    speculative_retrieve,
    plan_tools,
    *TOOL_NODES,
    assemble_prompt,
    generate_primary,
    generate_secondary,
    respond_from_cache,
    respond_grounded,
    apply_guardrails,
    finalize,
):
    edge = ROUTES.get(node.__name__)
    if edge is None:
        builder.add_node(node)
    else:
        builder.add_node(node.__name__, routed(node, edge), destinations=destinations(edge))

builder.add_edge(START, "validate_input")
if SPECULATIVE_RETRIEVAL:
    # Routing and the start of the speculative search share a step; the search itself runs on.
    builder.add_edge(["classify_intent", "speculative_retrieve"], "plan_tools")
else:
    builder.add_edge("classify_intent", "speculative_retrieve")
    builder.add_edge("speculative_retrieve", "plan_tools")
for tool in TOOL_NODES:
    builder.add_edge(tool.__name__, "assemble_prompt")
builder.add_edge("respond_grounded", "apply_guardrails")
builder.add_edge("apply_guardrails", "finalize")
builder.add_edge("finalize", END)

# LangGraph Studio / `langgraph dev` supply their own checkpointer; the service compiles its own.
graph = builder.compile()
