"""Series and volume facts, editions with stock, and what readers say."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from tools.cards import product_cards
from tools.catalog import LATEST_VOLUME, volume_for
from graph.resources import services as load_services


@timed
async def get_product_details(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Facts for each series in focus: status, volumes, editions of the asked volume, reviews."""
    services = await load_services()
    catalog = services.catalog
    plan = state["plan"]
    language = state.get("language", "en")
    details = []
    for sid in plan["series_ids"][:3]:
        series = catalog.series[sid]
        volume = volume_for(series, plan["volume"])
        editions = await product_cards(
            catalog, services.pricing, [p.asin for p in catalog.editions(sid, volume)]
        )
        reviews = catalog.reviews.get(sid, [])
        own = [r for r in reviews if r.language == language] or reviews
        details.append({
            "series_id": sid,
            "title": series.title,
            "title_ja": series.title_ja,
            "authors": series.authors,
            "authors_ja": series.authors_ja,
            "genres": list(series.genres),
            "themes": series.themes,
            "demographic": series.demographic,
            "start_year": series.start_year,
            "status": series.status,
            "volumes": series.volumes,
            "publisher_ja": series.publisher_ja,
            "synopsis": series.synopsis,
            "synopsis_ja": series.synopsis_ja,
            "volume": volume,
            "volume_asked": volume if plan["volume"] == LATEST_VOLUME else plan["volume"],
            "editions": [e.model_dump() for e in editions],
            "rating": round(sum(r.rating for r in reviews) / len(reviews), 1) if reviews else None,
            "review_count": len(reviews),
            "reviews": [r.model_dump() for r in sorted(own, key=lambda r: (-r.rating, r.reviewer))[:3]],
        })
    return {"tool_results": {"details": details}}
