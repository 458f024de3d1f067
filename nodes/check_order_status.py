"""Order status for the signed-in customer's own orders."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State, context_of
from graph.timing import timed
from graph.resources import services as load_services
from tools.definitions import NotYourOrder, OrderIdsInput, SignInRequired, ToolContext, get_order_status


@timed
async def check_order_status(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Look up the named orders (or the most recent ones) of the caller only."""
    services = await load_services()
    order_ids = state["plan"]["order_ids"]
    ctx = ToolContext(services, context_of(runtime).user_id)
    signed_in, orders, not_found = True, [], list(order_ids)
    try:
        found = await get_order_status(OrderIdsInput(order_ids=order_ids), ctx)
        orders, not_found = [o.model_dump(mode="json") for o in found.orders], found.not_found
    except SignInRequired:
        signed_in = False
    except NotYourOrder:
        pass  # the answer says it found none of them
    result = {"signed_in": signed_in, "orders": orders, "not_found": not_found}
    return {"tool_results": {"orders": result}}
