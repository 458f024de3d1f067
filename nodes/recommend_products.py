"""Recommendations from genres, "like X" seeds, authors and the customer's purchase history."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.resources import services as load_services
from graph.speculation import turn_retrieval
from graph.state import Context, State, context_of
from graph.timing import timed
from tools.cards import product_cards, shown_count
from tools.latency import simulate
from tools.recommendations import RecommendationRequest, blend_retrieval
from tools.vocab import asks_only_for_a_kind

@timed
async def recommend_products(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Rank series for the shopper and show volume 1 of each in their edition."""
    services = await load_services()
    catalog = services.catalog
    plan = state["plan"]
    limit = services.settings.max_product_cards
    context = context_of(runtime)
    purchased: list[str] = []
    if context.user_id:
        await simulate("profile")
        bought = await services.orders.purchased_asins(context.user_id)
        purchased = list(dict.fromkeys(p.series_id for a in bought if (p := catalog.product(a))))
    # The service call does not wait for the speculative search, still running beside it.
    await simulate("recommendations")
    ranking = await services.recommendations.rank(
        RecommendationRequest(
            genres=plan["genres"],
            seed_series=plan["series_ids"],
            seed_authors=plan["authors"],
            similar_to=plan["similar_to"],
            demographic=plan["demographic"],
            status=plan["status"],
            max_volumes=plan["max_volumes"],
            from_year=plan.get("from_year"),
            to_year=plan.get("to_year"),
            purchased_series=purchased,
            excluded_series=plan.get("excluded_series", []),
            # The ranking holds every eligible series (the search's hits may lift any of them); the
            # limit sets how few genre or demographic matches narrow the candidates.
            limit=limit,
        )
    )
    retrieval = await turn_retrieval(state.get("retrieval", {}), context.speculation)
    hits = retrieval.get("hits", [])
    if not plan["series_ids"] and not plan["authors"] and asks_only_for_a_kind(
        state["user_text"], plan["genres"], plan["demographic"]
    ):
        # "recommend some mystery": the search only finds the entries that repeat the kind's word.
        hits = []
    picks = blend_retrieval(ranking, hits, shown_count(plan, limit))
    asins = [
        p.asin
        for r in picks
        if (p := catalog.volume(r.series_id, 1, plan["format"], plan["edition"])) is not None
    ]
    cards = await product_cards(catalog, services.pricing, asins)
    return {
        "tool_results": {
            "recommendations": {
                "picks": [r.model_dump() for r in picks],
                "personalised": bool(purchased),
                "cards": [c.model_dump() for c in cards],
            }
        }
    }
