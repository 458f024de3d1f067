"""Retrieval started alongside intent routing, so the turn's tools do not wait for it."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.breakers import protected
from graph.resources import services as load_services
from graph.speculation import no_retrieval
from graph.state import Context, State
from graph.timing import timed
from mangaassist.settings import get_settings
from nodes.plan_tools import SEARCH_INTENTS
from tools.entities import extract_entities
from tools.intent import rule_intent
from tools.rerank import TURN_DOC_TYPES
from tools.retrieval import SearchFilters


async def _search(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    services = await load_services()
    speculative = get_settings().speculative_retrieval
    # The query's embedding waits for routing's verdict, and is skipped when routing abandons the
    # search.
    interest = runtime.context.speculation if speculative and runtime.context is not None else None
    # Either language: a Japanese question may be answered by an English synopsis and back.
    hits = await services.retrieval.search(
        state["user_text"], services.settings.retrieval_k, SearchFilters(doc_types=TURN_DOC_TYPES),
        interest=interest,
    )
    return {
        "retrieval": {
            "used": False,
            "speculative": speculative,
            "started": True,
            "doc_ids": [h.doc_id for h in hits],
            "hits": [h.state_view() for h in hits],
        }
    }


# Retrieval is an optimisation: when the index fails or is slow the turn goes on without hits.
_protected_search = protected(
    _search, "retrieval", lambda reason: {"retrieval": no_retrieval(get_settings().speculative_retrieval, started=True)}
)


async def _retrieval(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    return (await _protected_search(state, runtime))["retrieval"]


@timed
async def speculative_retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search catalog, reviews and policies with the raw message, before the intent is known."""
    speculative = get_settings().speculative_retrieval  # what graph/builder.py was built with
    if not speculative:
        # The sequential baseline (graph/builder.py) runs this after routing: only what answers use.
        if state.get("intent") not in SEARCH_INTENTS:
            return {"retrieval": no_retrieval(False)}
        return {"retrieval": await _retrieval(state, runtime)}
    # Speculation the rules stage already knows to be wasted is not started: an intent outside
    # SEARCH_INTENTS (an order or policy question, a hand-off, a greeting, a price question) reads
    # no hit of it. Only the cheap rules: the classifier's verdict is what the search must not wait for.
    services = await load_services()
    rule = rule_intent(extract_entities(state["user_text"], services.catalog).masked_text)
    if rule is not None and rule not in SEARCH_INTENTS:
        return {"retrieval": no_retrieval(True)}
    if runtime.context is None:
        # No run context to hold the task (a bare graph call): search in this step instead.
        return {"retrieval": await _retrieval(state, runtime)}
    runtime.context.speculation.start_search(_retrieval(state, runtime))
    return {"retrieval": {**no_retrieval(True, started=True), "pending": True}}
