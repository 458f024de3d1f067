"""Routing functions: which node runs next, typed by the nodes they can name."""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langgraph.types import Command

from graph.breakers import unavailable_dependencies
from graph.models import TierName, get_model_tiers
from graph.state import State, updated
from mangaassist.settings import get_settings
from nodes.plan_tools import ToolNode

# Intents answered from templates and data alone: a model adds cost, not accuracy.
TEMPLATE_INTENTS = frozenset({"chitchat", "escalation", "out_of_scope"})
Responder = Literal["generate_primary", "generate_secondary", "respond_from_cache", "respond_grounded"]


def after_validation(state: State) -> list[Literal["classify_intent", "speculative_retrieve", "assemble_prompt"]]:
    """Valid input fans out to routing and speculative retrieval; rejected input goes to a reply."""
    if state.get("input_issue"):
        return ["assemble_prompt"]
    return ["classify_intent", "speculative_retrieve"]


def after_validation_sequential(state: State) -> list[Literal["classify_intent", "assemble_prompt"]]:
    """Without speculation (the benchmark's baseline), valid input goes to routing alone."""
    return ["assemble_prompt"] if state.get("input_issue") else ["classify_intent"]


def to_tools(state: State) -> list[ToolNode | Literal["assemble_prompt"]]:
    """Fan out to every tool the plan names (in parallel), or straight to the prompt."""
    tools = state.get("plan", {}).get("tools", [])
    return list(tools) or ["assemble_prompt"]


def models_configured() -> bool:
    """Whether any model tier has credentials (else the grounded responder answers)."""
    return any(tier.enabled for tier in get_model_tiers().values())


def _untried_ready(state: State, name: TierName) -> bool:
    """The tier may answer: configured, its breaker admits the call, and it has not failed this turn."""
    return name not in state.get("tier_errors", {}) and get_model_tiers()[name].ready


def _next_model(state: State) -> Literal["generate_primary", "generate_secondary"] | None:
    settings = get_settings()
    order: list[TierName] = ["primary", "secondary"]
    if state.get("intent") in settings.secondary_first_intents:
        order = ["secondary"]  # cheap intents skip the expensive model by configuration
    for name in order:
        if _untried_ready(state, name):
            return "generate_primary" if name == "primary" else "generate_secondary"
    return None


def to_responder(state: State) -> Responder:
    """Cheapest responder able to answer: templates, then cache, then model tiers, then grounded."""
    if state.get("input_issue") or state.get("intent") in TEMPLATE_INTENTS:
        return "respond_grounded"
    if unavailable_dependencies(state.get("tool_results", {})):
        return "respond_from_cache"  # a tool is down: say so, from what still works
    if not models_configured():
        return "respond_grounded"  # the embedded default without credentials
    if state.get("intent") in get_settings().cache_first_intents:
        return "respond_from_cache"
    return _next_model(state) or "respond_from_cache"


def after_primary(state: State) -> Literal["apply_guardrails", "generate_secondary", "respond_from_cache"]:
    """The primary's answer goes to the guards; a failure falls to the secondary, then the cache."""
    if state.get("draft"):
        return "apply_guardrails"
    return "generate_secondary" if _untried_ready(state, "secondary") else "respond_from_cache"


def after_secondary(state: State) -> Literal["apply_guardrails", "respond_from_cache"]:
    """The secondary's answer goes to the guards; a failure falls to the response cache."""
    return "apply_guardrails" if state.get("draft") else "respond_from_cache"


def after_cache(
    state: State,
) -> Literal["apply_guardrails", "generate_primary", "generate_secondary", "respond_grounded"]:
    """A cached answer goes to the guards; a miss tries a model not yet tried, else the grounded responder."""
    if state.get("draft"):
        return "apply_guardrails"
    return _next_model(state) or "respond_grounded"


Edge = Callable[[State], Any]


def destinations(edge: Edge) -> tuple[str, ...]:
    """The node names an edge can return, read off its return annotation's literals."""

    def names(hint: Any) -> list[str]:
        if typing.get_origin(hint) is Literal:
            return [arg for arg in typing.get_args(hint) if isinstance(arg, str)]
        return [name for arg in typing.get_args(hint) for name in names(arg)]

    hint = typing.get_type_hints(edge)["return"]
    return tuple(dict.fromkeys(names(hint)))


def routed(
    node: Callable[..., Awaitable[dict[str, Any]]], edge: Edge
) -> Callable[..., Awaitable[Command[Any]]]:
    """The node, naming its next step itself: `edge` of the state its update leaves.

    A conditional edge would route the same, but LangGraph hands it a fresh copy of every channel
    of the graph (47) to read, at four to six routing points a turn.
    """

    @functools.wraps(node)
    async def wrapper(state: State, runtime: Any) -> Command[Any]:
        update = await node(state, runtime)
        return Command(update=update, goto=edge(updated(state, update)))

    return wrapper
