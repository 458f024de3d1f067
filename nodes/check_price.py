"""Prices of the products in focus, from the pricing tool."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from graph.resources import services as load_services
from tools.definitions import CheckPriceInput, ToolContext, check_price as price_tool


@timed
async def check_price(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Quote the focus products (current price, list price, promotion, stock)."""
    services = await load_services()
    asins = state["plan"]["asins"]
    cards = []
    if asins:
        cards = (await price_tool(CheckPriceInput(store_ids=asins), ToolContext(services))).prices
    return {"tool_results": {"prices": [c.model_dump() for c in cards]}}
