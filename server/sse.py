"""A Server-Sent Events response: frames as they come, keep-alive comments, a hang-up cancels it.

A turn streams a handful of frames, and a general-purpose SSE response costs more than they do:
a task group of four tasks a response and a cancel scope around every write. This one starts two
small tasks beside the stream (the hang-up watcher and the keep-alive timer) and writes each event
straight through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# Proxies close a connection that has carried nothing for a while (often 60 s): a comment line
# every so often keeps a turn that waits on a slow model open.
KEEPALIVE_S = 15.0


@dataclass(frozen=True)
class Event:
    """One event of the stream (`data` on one line: the frames are compact JSON)."""

    event: str
    id: str
    data: str

    def encode(self) -> bytes:
        """The event on the wire (`\\r\\n` line ends, a blank line after it)."""
        if "\n" in self.data or "\r" in self.data:
            raise ValueError("an event's data must be one line")
        return f"id: {self.id}\r\nevent: {self.event}\r\ndata: {self.data}\r\n\r\n".encode()


class EventStream(Response):
    """`text/event-stream` from an async iterator of events.

    The client hanging up cancels the iteration (so a turn stops where it waits, not at its next
    write); the iterator is closed either way, so its clean-up runs before the response ends.
    """

    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[Event], keepalive_s: float = KEEPALIVE_S) -> None:
        self.events = events
        self.keepalive_s = keepalive_s
        self.status_code = 200
        self.background = None
        # No caching, and no buffering in a proxy (nginx reads `X-Accel-Buffering`).
        self.init_headers({"Cache-Control": "no-store", "Connection": "keep-alive", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        stream = asyncio.create_task(self._stream(send))
        hang_up = asyncio.create_task(_hung_up(receive))
        keepalive = asyncio.create_task(self._keepalive(send))
        try:
            await asyncio.wait((stream, hang_up), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stream, hang_up, keepalive):
                task.cancel()
            # The stream's clean-up (the turn's own) finishes before the request does.
            done = await asyncio.gather(stream, hang_up, keepalive, return_exceptions=True)
        if isinstance(error := done[0], Exception):
            raise error

    async def _stream(self, send: Send) -> None:
        async with contextlib.aclosing(self.events):
            async for event in self.events:
                await send({"type": "http.response.body", "body": event.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _keepalive(self, send: Send) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            await send({"type": "http.response.body", "body": b": keep-alive\r\n\r\n", "more_body": True})


async def _hung_up(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
