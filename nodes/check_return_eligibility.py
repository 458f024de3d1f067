"""Return eligibility of the caller's orders under the returns policy."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State, context_of
from graph.timing import timed
from graph.resources import services as load_services


@timed
async def check_return_eligibility(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Assess the named (or recently delivered) orders of the caller."""
    services = await load_services()
    signed_in, results, not_found = await services.returns.check(
        context_of(runtime).user_id, state["plan"]["order_ids"], services.today()
    )
    return {
        "tool_results": {
            "returns": {
                "signed_in": signed_in,
                "orders": [r.model_dump(mode="json") for r in results],
                "not_found": not_found,
            }
        }
    }
