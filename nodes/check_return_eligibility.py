"""Return eligibility of the caller's orders under the returns policy."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State, context_of
from graph.timing import timed
from graph.resources import services as load_services
from tools.definitions import (
    NotYourOrder,
    OrderIdsInput,
    SignInRequired,
    ToolContext,
    check_return_eligibility as returns_tool,
)


@timed
async def check_return_eligibility(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Assess the named (or recently delivered) orders of the caller."""
    services = await load_services()
    order_ids = state["plan"]["order_ids"]
    ctx = ToolContext(services, context_of(runtime).user_id)
    signed_in, orders, not_found = True, [], list(order_ids)
    try:
        found = await returns_tool(OrderIdsInput(order_ids=order_ids), ctx)
        orders, not_found = [r.model_dump(mode="json") for r in found.orders], found.not_found
    except SignInRequired:
        signed_in = False
    except NotYourOrder:
        pass  # the answer says it found none of them
    result = {"signed_in": signed_in, "orders": orders, "not_found": not_found}
    return {"tool_results": {"returns": result}}
