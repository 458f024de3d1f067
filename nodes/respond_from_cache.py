"""Degradation tier 2: answer from the precomputed response cache, or say honestly what is down.

Reached for cache-first intents (cheap FAQ), when a store tool failed this turn, and when every
model tier failed. Orders down gives an honest "can't check right now" with an escalation offer;
catalog, pricing or recommendations down gives the cached answer or the search index's titles with
a clear note. A plain cache miss writes no draft, so the graph moves on to the next responder.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from graph.breakers import unavailable_dependencies
from graph.state import Context, State, context_of
from graph.timing import timed
from mangaassist.settings import get_settings
from tools.latency import simulate
from tools.response_cache import get_response_cache, strings

# Which dependency's failure changes the answer of which intents, and the note that says so.
_ACCOUNT_INTENTS = {"order_status": "orders_unavailable", "return_request": "returns_unavailable"}
_PRODUCT_NOTES = {
    "catalog": "catalog_unavailable",
    "recommendations": "recommendations_unavailable",
    "pricing": "pricing_unavailable",
    "retrieval": "catalog_unavailable",
}


def _related_titles(state: State, language: str) -> list[str]:
    """Series titles the speculative search found, for when the catalog cannot list products."""
    hits = state.get("retrieval", {}).get("hits", [])
    titles = [h["title"] for h in hits if h["doc_type"] == "series" and h["language"] == language]
    return list(dict.fromkeys(titles))[:5]


@timed
async def respond_from_cache(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Serve a cached answer (labelled as such) or a degraded-mode answer; no model is called."""
    if not get_response_cache.cache_info().currsize:
        await asyncio.to_thread(get_response_cache)
    cache = get_response_cache()
    language = state.get("language", "en")
    intent = state.get("intent", "out_of_scope")
    text_for = strings(language)
    down = unavailable_dependencies(state.get("tool_results", {}))
    parts: list[str] = []
    if "orders" in down and intent in _ACCOUNT_INTENTS:
        parts = [text_for[_ACCOUNT_INTENTS[intent]], text_for["escalation_offer"]]
    else:
        notes = list(dict.fromkeys(text_for[_PRODUCT_NOTES[d]] for d in down if d in _PRODUCT_NOTES))
        hit = cache.lookup(
            state.get("user_text", ""), language, intent, get_settings().cache_min_similarity.get(language, 1.0),
            series_ids=state.get("entities", {}).get("series_ids", []),
        )
        if hit is None and not notes:
            return {"draft": None}
        parts = notes
        if hit is not None:
            parts.append(f"{hit.answer} {text_for['knowledge_base']}")
        elif titles := _related_titles(state, language):
            parts.append("\n".join([text_for["related_titles"], *(f"- {t}" for t in titles)]))
        else:
            parts.append(text_for["escalation_offer"])
    text = "\n\n".join(parts)
    writer = get_stream_writer()
    await simulate("model_first_token")
    writer({"type": "reset", "tier": "cache"})
    size = max(context_of(runtime).stream_chunk_chars, 1)
    for start in range(0, len(text), size):
        writer({"type": "token", "delta": text[start : start + size], "tier": "cache"})
    return {"draft": {"text": text, "tier": "cache", "degraded": down}}
