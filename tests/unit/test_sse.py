"""The Server-Sent Events response, driven through its ASGI interface."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from server.sse import Event, EventStream

SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}


class Client:
    """The ASGI side of one request: what the response sent, and a hang-up on demand."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.hang_up = asyncio.Event()

    async def receive(self) -> dict:
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def test_an_event_is_written_as_its_fields_and_a_blank_line():
    assert Event("token", "3", '{"delta":"Hi"}').encode() == b'id: 3\r\nevent: token\r\ndata: {"delta":"Hi"}\r\n\r\n'
    with pytest.raises(ValueError, match="one line"):
        Event("token", "1", "two\nlines").encode()


async def test_events_stream_in_order_and_the_response_ends():
    async def events() -> AsyncIterator[Event]:
        for i in (1, 2):
            yield Event("token", str(i), f'"{i}"')

    client = Client()
    await EventStream(events())(SCOPE, client.receive, client.send)
    start = client.sent[0]
    assert start["type"] == "http.response.start" and start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"cache-control"] == b"no-store" and headers[b"x-accel-buffering"] == b"no"
    assert client.body == b'id: 1\r\nevent: token\r\ndata: "1"\r\n\r\nid: 2\r\nevent: token\r\ndata: "2"\r\n\r\n'
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_a_quiet_stream_sends_keepalive_comments():
    async def events() -> AsyncIterator[Event]:
        await asyncio.sleep(0.25)
        yield Event("final", "1", "{}")

    client = Client()
    await EventStream(events(), keepalive_s=0.1)(SCOPE, client.receive, client.send)
    body = client.body
    assert body.count(b": keep-alive\r\n\r\n") == 2
    assert body.endswith(b"id: 1\r\nevent: final\r\ndata: {}\r\n\r\n")


async def test_a_hang_up_stops_the_stream_where_it_waits_and_runs_its_clean_up():
    cleaned = asyncio.Event()

    async def events() -> AsyncIterator[Event]:
        try:
            yield Event("token", "1", '"a"')
            await asyncio.sleep(30)  # a model that has stalled
            yield Event("token", "2", '"b"')
        finally:
            cleaned.set()

    client = Client()
    response = asyncio.create_task(EventStream(events())(SCOPE, client.receive, client.send))
    await asyncio.sleep(0.05)
    client.hang_up.set()
    await asyncio.wait_for(response, 2)
    assert cleaned.is_set()
    assert b"data: \"b\"" not in client.body


async def test_an_error_in_the_stream_reaches_the_server():
    async def events() -> AsyncIterator[Event]:
        yield Event("token", "1", '"a"')
        raise RuntimeError("the turn broke")

    client = Client()
    with pytest.raises(RuntimeError, match="the turn broke"):
        await EventStream(events())(SCOPE, client.receive, client.send)
