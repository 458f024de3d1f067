"""Order status for the signed-in customer's own orders."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.resources import services as load_services
from graph.state import Context, State, context_of
from graph.timing import timed
from tools.definitions import ToolContext, account_view, get_order_status
from tools.latency import simulate


@timed
async def check_order_status(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Look up the named orders (or the most recent ones) of the caller only."""
    await simulate("profile")
    ctx = ToolContext(await load_services(), context_of(runtime).user_id)
    view = await account_view(get_order_status, state["plan"]["order_ids"], ctx)
    return {"tool_results": {"orders": view}}
