"""Prices of the products in focus, from the pricing tool."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from tools.cards import product_cards
from graph.resources import services as load_services


@timed
async def check_price(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Quote the focus products (current price, list price, promotion, stock)."""
    services = await load_services()
    cards = await product_cards(services.catalog, services.pricing, state["plan"]["asins"])
    return {"tool_results": {"prices": [c.model_dump() for c in cards]}}
