"""The output guardrail chain over the draft answer (PII, price, toxicity, competitor, id, scope)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.resources import services as load_services
from graph.state import Context, State
from graph.timing import timed
from guardrails.output import GuardContext, GuardResult, StageRecord, run_chain
from tools.registry import Services


def guard_context(services: Services, language: str, products: list[dict[str, Any]], document_text: str = "") -> GuardContext:
    """The guard context the graph uses (the `guard` command builds the same one)."""
    settings = services.settings
    return GuardContext(
        language=language,
        catalog=services.catalog,
        pricing=services.pricing,
        competitors=settings.competitors,
        products=products,
        document_text=document_text,
        pricing_timeout_s=settings.guard_pricing_timeout_ms / 1000,
        stage_policy=dict(settings.guard_stage_policy),
        competitor_action=settings.guard_competitor_action,
    )


@timed
async def apply_guardrails(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Check the draft against the catalog and pricing tool; the chain fails closed.

    Every stage's record (stage, action, details, ms) lands in `state["guarded"]["stages"]`.
    A turn refused at input (prompt injection) gets the refusal in the shopper's language instead.
    """
    services = await load_services()
    issue = state.get("input_issue") or {}
    if issue.get("code") == "prompt_injection" and issue.get("refusal"):
        refused = GuardResult(
            text=issue["refusal"], action="blocked", fired=[],
            stages=[StageRecord(stage="input_injection", action="blocked", details=list(issue.get("reasons", [])))],
        )
        return {"guarded": refused.model_dump()}
    facts = state["tool_results"].get("facts", {})
    products = list(facts.get("products", []))
    for detail in facts.get("details", []):
        products += detail.get("editions", [])
    ctx = guard_context(
        services,
        state.get("language", "en"),
        products,
        "\n".join(p["body"] for p in facts.get("policies", [])),
    )
    draft = state["draft"] or {"text": "", "tier": "grounded"}
    result = await run_chain(draft["text"], ctx)
    return {"guarded": result.model_dump()}
