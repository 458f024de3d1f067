"""Retrieval started alongside intent routing, so retrieval intents do not wait for it."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from graph.resources import services as load_services
from tools.retrieval import SearchFilters


@timed
async def speculative_retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search catalog, reviews and policies with the raw message, before the intent is known."""
    services = await load_services()
    hits = await services.retrieval.search(
        state["user_text"], services.settings.retrieval_k, SearchFilters(language=None)
    )
    return {
        "retrieval": {
            "used": False,
            "speculative": True,
            "doc_ids": [h.doc_id for h in hits],
            "hits": [h.model_dump() for h in hits],
        }
    }
