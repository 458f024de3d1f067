"""Retrieval started alongside intent routing, so retrieval intents do not wait for it."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from graph.resources import services as load_services
from mangaassist.settings import get_settings
from nodes.plan_tools import RETRIEVAL_INTENTS
from tools.entities import extract_entities
from tools.intent import rule_intent
from tools.rerank import TURN_DOC_TYPES
from tools.retrieval import SearchFilters


@timed
async def speculative_retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search catalog, reviews and policies with the raw message, before the intent is known."""
    services = await load_services()
    speculative = get_settings().speculative_retrieval  # what graph/builder.py was built with
    # The sequential baseline (graph/builder.py) runs this after routing: skip what no answer uses.
    if not speculative and state.get("intent") not in RETRIEVAL_INTENTS:
        return {"retrieval": {"used": False, "speculative": False, "doc_ids": [], "hits": []}}
    # Speculation the rules stage already knows to be wasted is not started: an intent outside
    # RETRIEVAL_INTENTS (an order question, a hand-off, a greeting, a price question) uses no search
    # result. Only the cheap rules: the classifier's verdict is what the search must not wait for.
    rule = rule_intent(extract_entities(state["user_text"], services.catalog).masked_text) if speculative else None
    if rule is not None and rule not in RETRIEVAL_INTENTS:
        return {"retrieval": {"used": False, "speculative": True, "doc_ids": [], "hits": []}}
    # Either language: a Japanese question may be answered by an English synopsis and back.
    hits = await services.retrieval.search(
        state["user_text"], services.settings.retrieval_k, SearchFilters(doc_types=TURN_DOC_TYPES)
    )
    return {
        "retrieval": {
            "used": False,
            "speculative": speculative,
            "doc_ids": [h.doc_id for h in hits],
            "hits": [h.state_view() for h in hits],
        }
    }
