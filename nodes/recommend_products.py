"""Recommendations from genres, "like X" seeds, authors and the customer's purchase history."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State, context_of
from graph.timing import timed
from tools.cards import product_cards
from tools.latency import simulate
from tools.recommendations import RecommendationRequest
from graph.resources import services as load_services


@timed
async def recommend_products(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Rank series for the shopper and show volume 1 of each in their edition."""
    services = await load_services()
    catalog = services.catalog
    plan = state["plan"]
    purchased: list[str] = []
    if context_of(runtime).user_id:
        await simulate("profile")
        bought = await services.orders.purchased_asins(context_of(runtime).user_id)
        purchased = list(dict.fromkeys(p.series_id for a in bought if (p := catalog.product(a))))
    hits = [h for h in state.get("retrieval", {}).get("hits", []) if h.get("series_id")]
    top = max((h["score"] for h in hits), default=0.0) or 1.0
    retrieval_scores: dict[str, float] = {}
    for h in hits:
        retrieval_scores[h["series_id"]] = max(retrieval_scores.get(h["series_id"], 0.0), h["score"] / top)
    await simulate("recommendations")
    picks = await services.recommendations.recommend(
        RecommendationRequest(
            genres=plan["genres"],
            seed_series=plan["series_ids"],
            seed_authors=plan["authors"],
            demographic=plan["demographic"],
            status=plan["status"],
            max_volumes=plan["max_volumes"],
            purchased_series=purchased,
            retrieval_scores=retrieval_scores,
            limit=services.settings.max_product_cards,
        )
    )
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
