"""Order status for the signed-in customer's own orders."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State, context_of
from graph.timing import timed
from graph.resources import services as load_services


@timed
async def check_order_status(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Look up the named orders (or the most recent ones) of the caller only."""
    services = await load_services()
    lookup = await services.orders.lookup(context_of(runtime).user_id, state["plan"]["order_ids"])
    orders = []
    for order in lookup.orders:
        item_titles = []
        for item in order.items:
            if product := services.catalog.product(item.asin):
                series = services.catalog.series[product.series_id]
                item_titles.append({"asin": item.asin, "title": series.title, "title_ja": series.title_ja,
                                    "volume": product.volume, "quantity": item.quantity})
        orders.append({**order.model_dump(mode="json"), "item_titles": item_titles})
    return {
        "tool_results": {
            "orders": {"signed_in": lookup.signed_in, "orders": orders, "not_found": lookup.not_found}
        }
    }
