"""Per-node wall-clock timing, recorded into the turn's `timings_ms`."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

P = ParamSpec("P")


def timed(node: Callable[P, Awaitable[dict[str, Any]]]) -> Callable[P, Awaitable[dict[str, Any]]]:
    """Wrap a node so its update also records how long it took, under its own name."""

    @functools.wraps(node)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
        start = time.perf_counter()
        update = await node(*args, **kwargs)
        elapsed = round((time.perf_counter() - start) * 1000, 3)
        update["timings_ms"] = {**update.get("timings_ms", {}), node.__name__: elapsed}
        return update

    return wrapper
