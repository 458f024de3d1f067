"""The turn's speculative search: started beside routing, awaited only by the nodes that use it.

A graph step ends when all of its nodes end. Were the search a node that ran to completion beside
`classify_intent`, planning and every tool would wait for it, and speculation could only ever hide
routing's own time. So `speculative_retrieve` starts the search as a task held by the run's
`Speculation` and returns at once; the nodes that read hits (`plan_tools` for an untitled product
question, `recommend_products` to blend them in, `assemble_prompt` for the prompt's documents)
await it, and a tool's own remote calls overlap the search. A search no node reads (routing decided
on an intent that uses none of it) is abandoned as soon as routing decides: nothing waits for it,
and its query embedding, which waits for that verdict, is never computed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from mangaassist.settings import get_settings


def no_retrieval(speculative: bool, *, started: bool = False) -> dict[str, Any]:
    """The `retrieval` of a turn without hits (none searched, the search failed or was cut short)."""
    return {"used": False, "speculative": speculative, "started": started, "doc_ids": [], "hits": []}


class Speculation:
    """The search task of one run (held by its `Context`), and routing's verdict on it."""

    def __init__(self) -> None:
        self._search: asyncio.Task[dict[str, Any]] | None = None
        self._routed = asyncio.Event()
        self._abandoned = False

    def start_search(self, work: Coroutine[Any, Any, dict[str, Any]]) -> None:
        """Run `work` (it returns the turn's `retrieval`) in the background.

        Not started when routing has already abandoned it (the two nodes share a step and either
        may finish first).
        """
        if self._abandoned:
            work.close()
            return
        self._let_go()
        self._search = asyncio.get_running_loop().create_task(work)

    def routed(self, *, read: bool) -> None:
        """Routing's verdict: whether a node of this turn will read the search."""
        if not read:
            self.abandon()
        self._routed.set()

    def wanted(self) -> bool:
        """Whether a node may still read the search (it was started and not abandoned)."""
        return self._search is not None

    async def settled(self) -> None:
        """Return once routing has given its verdict, or after `speculative_routing_wait_ms`.

        The search's query embedding waits here: routing takes a millisecond or two, and when it
        sends the turn elsewhere the embedding (the costly part) is never computed.
        """
        with contextlib.suppress(TimeoutError):
            wait_s = get_settings().speculative_routing_wait_ms / 1000
            await asyncio.wait_for(self._routed.wait(), wait_s)

    @property
    def finished(self) -> bool:
        """Whether a started search has its result (awaiting it costs nothing)."""
        return self._search is not None and self._search.done() and not self._search.cancelled()

    async def search(self) -> dict[str, Any] | None:
        """The search's `retrieval`; None when none was started, it was abandoned or cancelled."""
        task = self._search
        if task is None:
            return None
        try:
            # Shielded: a cancelled reader (one tool timing out) must not cancel the others' search.
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                return None
            raise

    def abandon(self) -> None:
        """Stop waiting for the search: nothing will read it, and none is started from now on.

        Not cancelled: a cancelled call would count against the retrieval breaker as a failure of
        the index, which did nothing wrong. It ends on its own, within the retrieval timeout, and
        skips the query's embedding if that has not started yet (`wanted`).
        """
        self._abandoned = True
        self._let_go()

    def _let_go(self) -> None:
        task, self._search = self._search, None
        if task is not None:
            task.add_done_callback(_collect)


def _collect(task: asyncio.Task[dict[str, Any]]) -> None:
    # Retrieved so a failure nobody awaited is not reported as never retrieved.
    if not task.cancelled():
        task.exception()


async def turn_retrieval(retrieval: dict[str, Any], speculation: Speculation) -> dict[str, Any]:
    """The turn's `retrieval` as the state has it, or, while it is pending, the search's once it ends."""
    if not retrieval.get("pending"):
        return retrieval
    found = await speculation.search()
    return found if found is not None else no_retrieval(True, started=True)
