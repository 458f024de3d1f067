"""Store policy and FAQ sections relevant to the question, in the shopper's language."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from graph.resources import services as load_services
from tools.retrieval import SearchFilters

_TOPICS_BY_INTENT = {
    "shipping_info": ["shipping"],
    "return_request": ["returns"],
    "store_faq": ["payment", "preorders", "digital-editions", "account"],
}


@timed
async def lookup_policy(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrieve the best policy sections, restricted to the intent's topics and language."""
    services = await load_services()
    filters = SearchFilters(
        doc_types=["policy"],
        language=state.get("language", "en"),  # type: ignore[arg-type]
        topics=_TOPICS_BY_INTENT.get(state["intent"]),
    )
    hits = await services.retrieval.search(state["user_text"], 3, filters)
    if not hits:
        hits = await services.retrieval.search(state["user_text"], 3, filters.model_copy(update={"topics": None}))
    sections = [services.policies[h.doc_id].model_dump() for h in hits]
    return {"tool_results": {"policies": sections}}
