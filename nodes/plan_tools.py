"""Resolve what the turn is about (including follow-ups) and pick the tools to call."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime

from graph.speculation import turn_retrieval
from graph.state import Context, State, context_of
from graph.timing import timed
from tools.cards import edition_for
from tools.catalog import volume_for
from tools.entities import young_reader
from graph.resources import services as load_services

ToolNode = Literal[
    "search_catalog",
    "get_product_details",
    "check_price",
    "recommend_products",
    "check_order_status",
    "check_return_eligibility",
    "lookup_policy",
]

TOOLS_BY_INTENT: dict[str, list[ToolNode]] = {
    "recommendation": ["recommend_products"],
    "product_search": ["search_catalog"],
    "product_question": ["get_product_details", "check_price"],
    "price_check": ["get_product_details", "check_price"],
    "order_status": ["check_order_status"],
    "return_request": ["check_return_eligibility", "lookup_policy"],
    "shipping_info": ["lookup_policy"],
    "store_faq": ["lookup_policy"],
}
# Intents whose answer draws on retrieved documents.
RETRIEVAL_INTENTS = frozenset(
    {"recommendation", "product_search", "product_question", "shipping_info", "store_faq", "return_request"}
)
# Of those, the ones that read the turn's own search (the prompt's catalog documents, hits blended
# into recommendations, an untitled product question); the policy intents search policies alone.
SEARCH_INTENTS = frozenset({"recommendation", "product_search", "product_question"})
# Intents whose turn may search the catalog for a title (`search_catalog`).
_CATALOG_INTENTS = frozenset({"product_search", "product_question", "price_check"})


def _pick(items: list[str], ordinal: int | None) -> list[str]:
    if not items:
        return []
    if ordinal is None:
        return items[:1]
    index = len(items) - 1 if ordinal == -1 else ordinal - 1
    return [items[index]] if 0 <= index < len(items) else []


@timed
async def plan_tools(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Turn entities (and memory, for follow-ups) into the concrete products and tools."""
    services = await load_services()
    catalog = services.catalog
    ents = state.get("entities", {})
    intent = state["intent"]
    language = state.get("language", "en")
    series_ids: list[str] = list(ents.get("series_ids", []))
    asins: list[str] = []
    from_memory = False
    ordinal = ents.get("ordinal")
    refers_back = ordinal is not None or ents.get("anaphora")
    if not series_ids and refers_back and intent in ("price_check", "product_question", "recommendation"):
        picked = _pick(state.get("last_products", []), ordinal)
        if not picked and ordinal is not None:
            picked = _pick(state.get("last_list", []), ordinal)
        if picked:
            from_memory = True
            product = catalog.product(picked[0])
            if product is not None:
                series_ids = [product.series_id]
                # Same edition as shown, unless another volume/format/edition is asked for.
                if ents.get("volume") in (None, product.volume) and not ents.get("format") and not ents.get("edition"):
                    asins = [product.asin]
        elif state.get("last_series"):
            series_ids = _pick(state.get("last_series", []), ordinal)
            from_memory = bool(series_ids)
    update: dict[str, Any] = {}
    # A title no document holds ("is Kagurabachi finished?"), read once for the catalog search,
    # which says the store does not carry it (or finds the title it misspells): no hit stands in.
    not_carried = (
        services.retrieval.names_not_carried(state["user_text"])
        if not series_ids and not ents.get("authors") and intent in _CATALOG_INTENTS else []
    )
    if (
        not series_ids and not refers_back and intent == "product_question" and not ents.get("authors")
        and not not_carried
    ):
        # No title recognised: the best series hit of the speculative search stands in.
        retrieval = await turn_retrieval(state.get("retrieval", {}), context_of(runtime).speculation)
        update["retrieval"] = retrieval
        hits = [h for h in retrieval.get("hits", []) if h["doc_type"] == "series"]
        # BM25: the title words are there; not a title that is an everyday word the message uses as
        # one ("another world" names no series: the catalog look-up already passed it over).
        if (
            hits and hits[0]["scores"].get("lexical", 0.0) >= 6.0
            and not catalog.titled_with_common_word(hits[0]["series_id"])
        ):
            series_ids = [hits[0]["series_id"]]
    edition = edition_for(language, ents.get("edition"))
    fmt = ents.get("format") or "print"
    volume = ents.get("volume")
    if not asins and series_ids and intent in ("price_check", "product_question"):
        for sid in series_ids[:3]:
            series = catalog.series[sid]
            vol = volume_for(series, volume)
            if product := catalog.volume(sid, vol, fmt, edition):
                asins.append(product.asin)
    tools: list[ToolNode] = list(TOOLS_BY_INTENT.get(intent, []))
    # "how much is the second one?" with nothing earlier to point at: ask, don't guess.
    clarify = bool(
        refers_back and not series_ids and not ents.get("authors") and not ents.get("genres")
        and intent in ("price_check", "product_question")
    )
    if clarify:
        tools = []
    elif intent in ("price_check", "product_question") and not series_ids:
        tools = ["search_catalog"]
    plan = {
        "tools": tools,
        "series_ids": series_ids,
        "asins": asins,
        "volume": volume,
        "edition": edition,
        "format": fmt,
        "format_asked": ents.get("format"),
        "edition_asked": ents.get("edition"),
        "genres": ents.get("genres", []),
        "authors": ents.get("authors", []),
        # Named only to point at their authors: the shopper knows them, so they come last.
        "author_of": ents.get("author_of", []),
        "count": ents.get("count"),
        "not_carried": not_carried,
        # Series the shopper ruled out, by name, by author or by kind ("not comedy"): no tool
        # shows them. A series the message names stays, whatever its genres.
        "excluded_series": sorted(
            set(ents.get("excluded_series", []))
            | {s.series_id for a in ents.get("excluded_authors", []) for s in catalog.by_author(a)}
            | (catalog.of_genres(ents.get("excluded_genres", [])) - set(series_ids))
            | (catalog.for_adults - set(series_ids) if young_reader(ents.get("reader_age")) else set())
        ),
        "demographic": ents.get("demographic"),
        "status": ents.get("status"),
        "max_volumes": ents.get("max_volumes"),
        "from_year": ents.get("from_year"),
        "to_year": ents.get("to_year"),
        "order_ids": ents.get("order_ids", []),
        "similar_to": ents.get("similar_to", False),
        "from_memory": from_memory,
        "clarify": clarify,
        "use_retrieval": intent in RETRIEVAL_INTENTS,
    }
    return {**update, "plan": plan}
