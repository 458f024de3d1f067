"""Store policy and FAQ sections relevant to the question, in the shopper's language."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from graph.resources import services as load_services
from tools.definitions import policy_sections

_TOPICS_BY_INTENT = {
    "shipping_info": ["shipping"],
    "return_request": ["returns"],
    "store_faq": ["payment", "preorders", "digital-editions", "account"],
}


@timed
async def lookup_policy(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrieve the best policy sections, restricted to the intent's topics and language."""
    services = await load_services()
    sections = await policy_sections(
        services, state["user_text"], state.get("language", "en"), _TOPICS_BY_INTENT.get(state["intent"])
    )
    return {"tool_results": {"policies": [s.model_dump() for s in sections]}}
