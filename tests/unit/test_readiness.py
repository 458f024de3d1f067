"""Readiness probes: cheap (the expired-session sweep runs at most once per interval), and still
not ready when the session store does not answer."""

from __future__ import annotations

import asyncio
import time

import pytest
from starlette.requests import Request

import graph.runner
from server.app import ApiError, readyz


def _probe(runner) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/readyz", "headers": [], "state": {"runner": runner}})


async def _expired_session(runner, session_id: str) -> str:
    await runner.run("hi", session_id=session_id)
    await runner.store.touch_session(session_id, time.time() - 48 * 3600)
    return session_id


async def test_probes_within_the_interval_leave_the_sweep_alone(runner):
    # The runner swept when it started; an expired session found afterwards waits for the interval.
    stale = await _expired_session(runner, "s-stale")
    for _ in range(5):
        response = await readyz(_probe(runner))
        assert response.status_code == 200 and response.body == b'{"status":"ready"}'
    assert await runner.store.get_session(stale) is not None
    assert await runner.purge_expired_if_due() == 0


async def test_a_probe_sweeps_once_the_interval_has_passed(runner, monkeypatch):
    stale = await _expired_session(runner, "s-stale")
    monkeypatch.setattr(graph.runner, "PURGE_INTERVAL_S", 0.0)
    assert (await readyz(_probe(runner))).status_code == 200
    assert await runner.store.get_session(stale) is None
    # The sweep is the same one as at start-up: a live session survives it.
    await runner.run("hi", session_id="s-live")
    await _expired_session(runner, "s-stale-2")
    assert await runner.purge_expired_if_due() == 1
    assert await runner.store.get_session("s-live") is not None


async def test_concurrent_probes_start_one_sweep(runner, monkeypatch):
    await _expired_session(runner, "s-stale")
    # As if the last sweep were two intervals ago.
    monkeypatch.setattr(runner, "_last_purge", time.monotonic() - 2 * graph.runner.PURGE_INTERVAL_S)
    assert sorted(await asyncio.gather(*(runner.purge_expired_if_due() for _ in range(3)))) == [0, 0, 1]


async def test_not_ready_when_the_store_does_not_answer(runner, monkeypatch):
    async def down() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(runner.store, "ping", down)
    with pytest.raises(ApiError) as err:
        await readyz(_probe(runner))
    assert err.value.status_code == 503 and err.value.code == "not_ready"


async def test_start_up_purges_an_expired_session_that_never_had_a_checkpoint(tmp_path):
    from graph.runner import TurnRunner
    from graph.store import open_store
    from mangaassist.settings import get_settings

    settings = get_settings().model_copy(update={"data_dir": tmp_path})
    # A sessions table with an expired session, and no checkpoint database yet (no turn ever ran).
    async with open_store(settings) as store:
        assert await store.create_session("s-old", None, time.time() - 48 * 3600)
    assert not settings.checkpoint_path.exists()
    async with TurnRunner(settings) as runner:
        assert await runner.store.get_session("s-old") is None
        assert (await readyz(_probe(runner))).status_code == 200
