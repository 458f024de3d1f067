"""The output guardrail chain over the draft answer (PII, price, toxicity, competitor, id, scope)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from guardrails.output import GuardContext, run_chain
from graph.resources import services as load_services


@timed
async def apply_guardrails(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Check the draft against the catalog and pricing tool; the chain fails closed."""
    services = await load_services()
    facts = state["tool_results"].get("facts", {})
    products = list(facts.get("products", []))
    for detail in facts.get("details", []):
        products += detail.get("editions", [])
    ctx = GuardContext(
        language=state.get("language", "en"),
        catalog=services.catalog,
        pricing=services.pricing,
        competitors=services.settings.competitors,
        products=products,
        document_text="\n".join(p["body"] for p in facts.get("policies", [])),
    )
    draft = state["draft"] or {"text": "", "tier": "grounded"}
    result = await run_chain(draft["text"], ctx)
    return {"guarded": result.model_dump()}
