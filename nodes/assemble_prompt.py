"""Gather tool results into the turn's facts and render the model prompt from templates."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

import prompts
from graph.speculation import turn_retrieval
from graph.state import Context, State, context_of
from graph.timing import timed
from graph.resources import services as load_services
from tools.vocab import DEMOGRAPHICS, GENRES

_GENRE_JA = {g: label for g, (label, _) in GENRES.items()}
_DEMOGRAPHIC_JA = {d: label for d, (label, _) in DEMOGRAPHICS.items()}
_DOC_TYPES_BY_INTENT = {
    "recommendation": ("series", "reviews"),
    "product_search": ("series",),
    "product_question": ("series", "reviews"),
}


def _cards(intent: str, results: dict[str, Any]) -> list[dict[str, Any]]:
    if intent == "recommendation":
        return list(results.get("recommendations", {}).get("cards", []))
    if "prices" in results and results["prices"]:
        return list(results["prices"])
    return list(results.get("search", {}).get("cards", []))


@timed
async def assemble_prompt(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Collect the facts every responder uses, and the prompt a model tier would get."""
    services = await load_services()
    catalog = services.catalog
    settings = services.settings
    intent = state["intent"]
    language = state.get("language", "en")
    results = state.get("tool_results", {})
    plan = state.get("plan", {})
    products = _cards(intent, results)[: settings.max_product_cards]
    doc_types = _DOC_TYPES_BY_INTENT.get(intent, ())
    # A search routing abandoned (`plan_tools`) is not waited for: its reading is "no hits".
    retrieval = dict(await turn_retrieval(state.get("retrieval", {}), context_of(runtime).speculation))
    ruled_out = set(plan.get("excluded_series", []))
    docs = [
        h for h in retrieval.get("hits", [])
        if h["doc_type"] in doc_types and h["language"] == language and h.get("series_id") not in ruled_out
    ][:3]
    retrieval["used"] = bool(docs or (plan.get("use_retrieval") and results.get("policies")))
    retrieval["doc_ids"] = [d["doc_id"] for d in docs] + [p["doc_id"] for p in results.get("policies", [])]
    series_ids = {p["series_id"] for p in products} | set(plan.get("series_ids", []))
    series_info = {
        sid: catalog.series[sid].model_dump(include={
            "series_id", "title", "title_ja", "authors", "authors_ja", "genres", "status", "volumes",
            "synopsis", "synopsis_ja", "demographic", "start_year",
        })
        for sid in series_ids
        if sid in catalog.series
    }
    author_ja = {en: catalog.author_ja[en] for en in plan.get("authors", []) if en in catalog.author_ja}
    facts: dict[str, Any] = {
        "intent": intent,
        "language": language,
        "input_issue": state.get("input_issue"),
        "max_chars": settings.max_message_chars,
        "plan": plan,
        "products": products,
        "details": results.get("details", []),
        "search": results.get("search"),
        "personalised": results.get("recommendations", {}).get("personalised", False),
        "orders": results.get("orders"),
        "returns": results.get("returns"),
        "policies": results.get("policies", []),
        "docs": docs,
        "series_info": series_info,
        "author_ja": author_ja,
        "genre_ja": _GENRE_JA,
        "demographic_ja": _DEMOGRAPHIC_JA,
        "notices": prompts.strings(language)["notices"],
        "summary": state.get("summary", ""),
        "context_hints": context_of(runtime).context_hints,
    }
    system = "\n\n".join([
        prompts.render(f"system.{language}.j2", context_hints=context_of(runtime).context_hints),
        prompts.render(f"instructions.{language}.j2", intent=intent),
        prompts.render("context.j2", **facts),
    ])
    history = []
    for message in state.get("messages", [])[:-1][-2 * settings.history_turns :]:
        role = "user" if isinstance(message, HumanMessage) else "assistant"
        if isinstance(message, HumanMessage | AIMessage):
            history.append({"role": role, "content": str(message.content)})
    prompt = {
        "system": system,
        "history": history,
        "user": state.get("user_text", ""),
    }
    return {"prompt": prompt, "retrieval": retrieval, "tool_results": {"facts": facts}}
