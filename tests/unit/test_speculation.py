"""The run's speculative search handle: shared, shielded, cancellable."""

from __future__ import annotations

import asyncio
import gc

import pytest

from graph.speculation import Speculation, no_retrieval, turn_retrieval
from mangaassist.settings import get_settings


async def _search(gate: asyncio.Event, hits: list[dict]) -> dict:
    await gate.wait()
    return {**no_retrieval(True, started=True), "hits": hits}


async def test_every_reader_gets_the_one_search_and_a_cancelled_reader_does_not_stop_it():
    gate = asyncio.Event()
    speculation = Speculation()
    speculation.start_search(_search(gate, [{"doc_id": "d1"}]))
    assert not speculation.finished
    impatient = asyncio.create_task(speculation.search())
    patient = asyncio.create_task(turn_retrieval({"pending": True}, speculation))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    gate.set()
    assert (await patient)["hits"] == [{"doc_id": "d1"}]
    assert speculation.finished


async def test_an_abandoned_search_runs_out_unread():
    gate = asyncio.Event()
    speculation = Speculation()
    speculation.start_search(_search(gate, [{"doc_id": "d1"}]))
    task = speculation._search
    assert speculation.wanted()
    speculation.abandon()
    # The search itself learns it has no reader (its query embedding, if still waiting, is skipped).
    assert not speculation.wanted()
    assert await speculation.search() is None
    assert await turn_retrieval({"pending": True}, speculation) == no_retrieval(True, started=True)
    # Not cancelled (a cancelled call would count against the retrieval breaker): it ends on its own.
    gate.set()
    assert task is not None and (await task)["hits"] == [{"doc_id": "d1"}]


async def test_a_settled_retrieval_is_returned_as_it_is():
    settled = {**no_retrieval(False), "hits": [{"doc_id": "d2"}]}
    assert await turn_retrieval(settled, Speculation()) is settled


async def test_a_failed_search_nobody_reads_is_collected(caplog):
    async def broken() -> dict:
        raise RuntimeError("index gone")

    speculation = Speculation()
    speculation.start_search(broken())
    speculation.abandon()
    await asyncio.sleep(0.01)
    gc.collect()
    assert "never retrieved" not in caplog.text


async def test_routing_may_abandon_the_search_before_it_starts():
    gate = asyncio.Event()
    speculation = Speculation()
    speculation.routed(read=False)  # routing finished first in the shared step
    work = _search(gate, [{"doc_id": "d1"}])
    speculation.start_search(work)
    assert not speculation.wanted() and await speculation.search() is None
    assert work.cr_frame is None  # closed, never run


async def test_settled_returns_on_the_verdict_and_otherwise_after_the_wait(monkeypatch):
    monkeypatch.setattr(get_settings(), "speculative_routing_wait_ms", 60_000.0)
    speculation = Speculation()
    waiting = asyncio.create_task(speculation.settled())
    await asyncio.sleep(0.02)
    assert not waiting.done()
    speculation.routed(read=True)
    await asyncio.wait_for(waiting, 5)
    assert speculation.wanted() is False  # nothing was started: still nothing to read
    monkeypatch.setattr(get_settings(), "speculative_routing_wait_ms", 10.0)
    await asyncio.wait_for(Speculation().settled(), 5)  # no verdict: the wait runs out
