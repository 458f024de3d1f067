"""Routing functions: which node runs next, typed by the nodes they can name."""

from __future__ import annotations

from typing import Literal

import pybreaker

from graph.models import get_model_tiers
from graph.state import State
from nodes.plan_tools import ToolNode

# Intents answered from templates and data alone: a model adds cost, not accuracy.
TEMPLATE_INTENTS = frozenset({"chitchat", "escalation", "out_of_scope"})
Responder = Literal["generate_primary", "generate_secondary", "respond_grounded"]


def after_validation(state: State) -> list[Literal["classify_intent", "speculative_retrieve", "assemble_prompt"]]:
    """Valid input fans out to routing and speculative retrieval; rejected input goes to a reply."""
    if state.get("input_issue"):
        return ["assemble_prompt"]
    return ["classify_intent", "speculative_retrieve"]


def to_tools(state: State) -> list[ToolNode | Literal["assemble_prompt"]]:
    """Fan out to every tool the plan names (in parallel), or straight to the prompt."""
    tools = state.get("plan", {}).get("tools", [])
    return list(tools) or ["assemble_prompt"]


def _tier_ready(name: Literal["primary", "secondary"]) -> bool:
    tier = get_model_tiers()[name]
    return tier.enabled and tier.breaker.current_state != pybreaker.STATE_OPEN


def to_responder(state: State) -> Responder:
    """First model tier able to answer, else the grounded responder."""
    if state.get("input_issue") or state.get("intent") in TEMPLATE_INTENTS:
        return "respond_grounded"
    if _tier_ready("primary"):
        return "generate_primary"
    if _tier_ready("secondary"):
        return "generate_secondary"
    return "respond_grounded"


def after_primary(state: State) -> Literal["apply_guardrails", "generate_secondary", "respond_grounded"]:
    """The primary's answer goes to the guards; a failure falls to the next tier."""
    if state.get("draft"):
        return "apply_guardrails"
    return "generate_secondary" if _tier_ready("secondary") else "respond_grounded"


def after_secondary(state: State) -> Literal["apply_guardrails", "respond_grounded"]:
    """The secondary's answer goes to the guards; a failure falls to the grounded responder."""
    return "apply_guardrails" if state.get("draft") else "respond_grounded"
