"""Return eligibility of the caller's orders under the returns policy."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.resources import services as load_services
from graph.state import Context, State, context_of
from graph.timing import timed
from tools.definitions import ToolContext, account_view
from tools.definitions import check_return_eligibility as returns_tool
from tools.latency import simulate


@timed
async def check_return_eligibility(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Assess the named (or recently delivered) orders of the caller."""
    await simulate("profile")
    ctx = ToolContext(await load_services(), context_of(runtime).user_id)
    view = await account_view(returns_tool, state["plan"]["order_ids"], ctx)
    return {"tool_results": {"returns": view}}
