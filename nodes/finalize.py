"""Build the turn result and fold the turn into conversation memory."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

import prompts
from graph.breakers import get_breakers, unavailable_dependencies
from graph.edges import models_configured
from graph.state import Context, State, context_of
from graph.timing import timed
from mangaassist.contracts import TurnResult
from graph.resources import services as load_services
from tools.response_cache import strings as degraded_strings


def _fold(summary: str, old: list[Any], language: str) -> str:
    """Extend the running summary with turns leaving the window (who asked what, and the answer's gist)."""
    lines = [summary] if summary else []
    for message in old:
        content = " ".join(str(message.content).split())
        if isinstance(message, HumanMessage):
            lines.append(f"Shopper: {content[:160]}")
        elif isinstance(message, AIMessage):
            lines.append(f"Assistant: {content[:160]}")
    # Keep the summary bounded: the most recent folded lines matter most.
    return "\n".join(lines[-40:])


@timed
async def finalize(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Produce the turn result JSON and update memory (products shown, summary)."""
    services = await load_services()
    settings = services.settings
    guarded = state.get("guarded") or {}
    draft = state.get("draft") or {}
    language = state.get("language", "en")
    facts = state.get("tool_results", {}).get("facts", {})
    products = facts.get("products", []) if guarded.get("action") != "blocked" else []
    text = guarded.get("text") or draft.get("text", "")
    fired = list(guarded.get("fired", []))
    issue = state.get("input_issue")
    if issue and issue.get("code") == "prompt_injection":
        fired.insert(0, "prompt_injection")
    if state.get("input_pii"):
        fired.insert(0, "input_pii")
    action = guarded.get("action", "none")
    if issue and issue.get("code") == "prompt_injection":
        action = "blocked"
    intent = state.get("intent", "out_of_scope")
    timings = dict(state.get("timings_ms", {}))
    breakers = get_breakers()
    context = context_of(runtime)
    # Tier 3: the model path has been down long enough that every answer says so.
    banner_due = breakers.banner_due() and models_configured()
    result = TurnResult(
        request_id=state["request_id"],
        session_id=context.session_id,
        intent=intent,  # type: ignore[arg-type]
        intent_confidence=state.get("intent_confidence", 0.0),
        language=language,  # type: ignore[arg-type]
        text=text,
        products=products,
        quick_replies=list(prompts.strings(language)["quick_replies"].get(intent, [])),
        metadata={
            "model_tier": draft.get("tier", "grounded"),
            "guardrail_action": action,
            "guardrails_fired": fired,
            "retrieval": {
                "used": state.get("retrieval", {}).get("used", False),
                "speculative": state.get("retrieval", {}).get("speculative", True),
                "doc_ids": state.get("retrieval", {}).get("doc_ids", []),
            },
            "timings_ms": timings,
            "breakers": breakers.states(),
            "deadline_ms": settings.turn_deadline_s * 1000,
            "elapsed_ms": round((time.monotonic() - context.started) * 1000, 1),
            "degraded": unavailable_dependencies(state.get("tool_results", {})) + sorted(state.get("tier_errors", {})),
            "banner": degraded_strings(language)["banner"] if banner_due else None,
        },
    )
    update: dict[str, Any] = {"result": result.model_dump(mode="json")}
    # The caller's final frame, on the stream the tokens took: the graph then streams no step's
    # update, which the runner read only to find this one.
    get_stream_writer()({"type": "final", "result": update["result"]})
    if issue:
        return update
    messages = list(state.get("messages", []))
    update["messages"] = [AIMessage(content=text, id=f"a-{state['request_id']}")]
    update["turn_count"] = state.get("turn_count", 0) + 1
    if products:
        update["last_products"] = [p["asin"] for p in products]
        if len(products) > 1:
            update["last_list"] = update["last_products"]
        update["last_series"] = list(dict.fromkeys(p["series_id"] for p in products))
    elif state.get("plan", {}).get("series_ids"):
        update["last_series"] = state["plan"]["series_ids"]
    update["last_intent"] = intent
    keep = 2 * settings.history_turns
    # messages has this turn's question; the answer is being added now.
    if len(messages) + 1 > keep:
        old = messages[: len(messages) + 1 - keep]
        update["summary"] = _fold(state.get("summary", ""), old, language)
        update["messages"] = [RemoveMessage(id=m.id) for m in old if m.id] + update["messages"]
    return update
