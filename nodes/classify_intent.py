"""Two-stage intent routing (rules, then the trained classifier) with entity extraction."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.resources import services as load_services
from graph.state import Context, State, context_of
from graph.timing import timed
from nodes.plan_tools import SEARCH_INTENTS
from tools.latency import simulate

_FOLLOW_UP_INTENTS = {"price_check", "product_question", "recommendation", "product_search"}


@timed
async def classify_intent(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Decide what the shopper wants and which catalog entities the message names."""
    services = await load_services()
    await simulate("intent")
    entities, decision = services.intents.route(state["user_text"], services.catalog)
    intent, confidence = decision.intent, decision.confidence
    last_intent = state.get("last_intent")
    refers_back = entities.ordinal is not None or entities.anaphora
    # "what about the second one?" carries no intent of its own: when the classifier sees none
    # of the product intents in it, the turn continues the last one.
    if (
        refers_back
        and last_intent in _FOLLOW_UP_INTENTS
        and state.get("last_products")
        and decision.stage == "classifier"
        and intent not in _FOLLOW_UP_INTENTS
        and confidence < 0.6
        and not entities.series_ids
    ):
        intent, confidence = last_intent, round(max(confidence, 0.6), 4)
    # The verdict the speculative search waits for: an intent that reads no hit abandons it now.
    context_of(runtime).speculation.routed(read=intent in SEARCH_INTENTS)
    return {
        "intent": intent,
        "intent_confidence": confidence,
        "intent_stage": decision.stage,
        "entities": entities.model_dump(),
    }
