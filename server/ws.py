"""The chat WebSocket: `/v1/chat/ws?protocol_version=N&session_id=…[&token=…]`.

One socket is one session. The client sends `message` and `ping` frames; the server answers in
the frames of `server/frames.py`. Messages are answered one at a time, in order; a reader task
keeps serving pings, refusals and errors meanwhile, and a client that goes away cancels the
answer being generated (the session then holds no trace of that turn).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from contextlib import aclosing
from dataclasses import dataclass, field

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from graph.runner import InputRejected, SessionForbidden, TurnRunner
from guardrails.stream import StreamGuard
from server.auth import InvalidToken, bearer_user, verify_token
from server.frames import (
    REQUEST_ID_PATTERN,
    ClientMessage,
    ClientPing,
    ServerFrame,
    TurnFramer,
    error_text,
    framed_turn,
    new_request_id,
)
from server.ratelimit import RateLimiter, message_rule
from server.schemas import PROTOCOL_VERSIONS, preferred_language, valid_session_id
from server.telemetry import bind_request_id, count_rate_limited, unbind_request_id
from tools.registry import get_services

log = logging.getLogger("mangaassist.server.ws")
POLICY_VIOLATION = 1008


class _Refused(Exception):
    """A frame the socket answers with an error frame (and, if `close`, closes after)."""

    def __init__(self, code: str, request_id: str | None = None, close: bool = False, **values: object) -> None:
        super().__init__(code)
        self.code = code
        self.request_id = request_id
        self.close = close
        self.values = values


@dataclass
class _Connection:
    websocket: WebSocket
    runner: TurnRunner
    limiter: RateLimiter
    version: int
    language: str
    user_id: str | None = None
    session_id: str = ""
    queue: asyncio.Queue[tuple[TurnFramer, ClientMessage]] = field(default_factory=asyncio.Queue)
    recent: deque[float] = field(default_factory=deque)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: ServerFrame) -> bool:
        """Send one frame; False once the client is gone."""
        async with self.send_lock:
            try:
                await self.websocket.send_text(frame.model_dump_json())
            except (WebSocketDisconnect, WebSocketDisconnected):
                return False
        return True

    async def refuse(self, refusal: _Refused) -> None:
        """An error frame (a turn of its own unless it belongs to a request), then maybe close."""
        framer = TurnFramer(refusal.request_id or new_request_id(), StreamGuard([]))
        retry_after = refusal.values.get("retry_after")
        await self.send(framer.error(
            refusal.code, error_text(self.language, refusal.code, **refusal.values),
            retry_after=retry_after if isinstance(retry_after, int) else None,
        ))
        if refusal.close:
            try:
                await self.websocket.close(POLICY_VIOLATION)
            except (WebSocketDisconnect, WebSocketDisconnected, RuntimeError):
                pass

    def framer(self, request_id: str) -> TurnFramer:
        """A turn's framer: protocol 2 adds ratings from the catalog's reviews."""
        settings = self.runner.settings
        catalog = get_services().catalog if self.version >= 2 else None
        return TurnFramer(request_id, StreamGuard(settings.competitors), catalog)


def _version(raw: str | None) -> int | None:
    return {str(v): v for v in PROTOCOL_VERSIONS}.get(raw or "")


async def _identify(conn: _Connection) -> None:
    """Caller and session from the handshake: `Authorization` header or `?token=`, `?session_id=`."""
    ws, settings = conn.websocket, conn.runner.settings
    try:
        conn.user_id = bearer_user(ws, settings)
        token = ws.query_params.get("token")
        if conn.user_id is None and token:
            conn.user_id = verify_token(settings, token)
    except InvalidToken as exc:
        raise _Refused("invalid_token", close=True) from exc
    session_id = ws.query_params.get("session_id")
    if session_id is not None and not valid_session_id(session_id):
        raise _Refused("invalid_session_id", close=True)
    conn.session_id = session_id or new_request_id()
    # Refused at the handshake, so nothing of another caller's session is touched or queued;
    # the turn itself checks again (the session could be claimed in between).
    record = await conn.runner.store.get_session(conn.session_id)
    if record is not None and record.user_id != conn.user_id:
        raise _Refused("session_not_found", close=True)


def _flooding(conn: _Connection) -> bool:
    now = time.monotonic()
    conn.recent.append(now)
    while conn.recent and conn.recent[0] <= now - 1.0:
        conn.recent.popleft()
    return len(conn.recent) > conn.runner.settings.ws_max_frames_per_s


async def _receive_frame(conn: _Connection, text: str | None) -> None:
    """Handle one client frame: answer a ping, queue a message, or refuse it."""
    settings = conn.runner.settings
    if text is None:
        raise _Refused("binary_frame")
    if len(text.encode()) > settings.ws_max_frame_bytes:
        raise _Refused("frame_too_large", limit=settings.ws_max_frame_bytes)
    try:
        raw = json.loads(text)
        # A lone surrogate ("\\ud800") decodes but can be neither stored nor sent back.
        json.dumps(raw, ensure_ascii=False).encode()
    except (json.JSONDecodeError, UnicodeError, RecursionError) as exc:
        raise _Refused("invalid_json") from exc
    if not isinstance(raw, dict):
        raise _Refused("invalid_frame", detail="a frame is a JSON object")
    rid = raw.get("request_id")
    request_id = rid if isinstance(rid, str) and re.fullmatch(REQUEST_ID_PATTERN, rid) else None
    if raw.get("type") not in ("message", "ping"):
        raise _Refused("unknown_frame_type", request_id)
    try:
        if raw["type"] == "ping":
            ping = ClientPing.model_validate(raw)
            await conn.send(TurnFramer(ping.request_id or new_request_id(), StreamGuard([])).pong())
            return
        message = ClientMessage.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "frame"
        raise _Refused("invalid_frame", request_id, detail=f"{where}: {first['msg']}") from exc
    request_id = message.request_id or new_request_id()
    try:
        conn.runner.check_message(message.message)
    except InputRejected as exc:
        framer = TurnFramer(request_id, StreamGuard([]))
        await conn.send(framer.error(exc.issue.code, str(exc)))
        return
    rule = message_rule(settings, conn.user_id, conn.session_id)
    decision = await conn.limiter.take(rule)
    if not decision.allowed:
        count_rate_limited(rule.scope)
        raise _Refused("rate_limited", request_id, retry_after=decision.retry_after_s)
    framer = conn.framer(request_id)
    if conn.version >= 2:
        await conn.send(framer.ack())
    conn.queue.put_nowait((framer, message))


async def _answer(conn: _Connection) -> None:
    """The socket's turns, one at a time, in the order the messages came."""
    while True:
        framer, message = await conn.queue.get()
        bound = bind_request_id(framer.request_id)
        try:
            async with aclosing(framed_turn(
                conn.runner, framer, message.message, session_id=conn.session_id, user_id=conn.user_id,
                context_hints=message.context_hints,
            )) as frames:
                async for frame in frames:
                    if not await conn.send(frame):
                        return
        except InputRejected as exc:
            await conn.send(framer.error(exc.issue.code, str(exc)))
        except SessionForbidden:
            await conn.refuse(_Refused("session_not_found", framer.request_id, close=True))
            return
        except Exception:  # noqa: BLE001 - one failed turn must not end the socket or its later turns
            log.exception("turn failed")
            await conn.send(framer.error("internal", error_text(conn.language, "internal")))
        finally:
            unbind_request_id(bound)


async def _read(conn: _Connection) -> None:
    """Receive frames until the client leaves or is closed for flooding."""
    while True:
        received = await conn.websocket.receive()
        if received["type"] == "websocket.disconnect":
            return
        try:
            if _flooding(conn):
                raise _Refused("flood", close=True)
            # A binary frame arrives with `bytes` and no `text`.
            await _receive_frame(conn, received.get("text"))
        except _Refused as refusal:
            await conn.refuse(refusal)
            if refusal.close:
                return


async def chat_ws(websocket: WebSocket) -> None:
    """Serve one chat socket."""
    await websocket.accept()
    conn = _Connection(
        websocket=websocket,
        runner=websocket.state.runner,
        limiter=websocket.state.limiter,
        version=0,
        language=preferred_language(websocket.headers.get("accept-language")),
    )
    version = _version(websocket.query_params.get("protocol_version"))
    try:
        if version is None:
            raise _Refused("unsupported_protocol_version", close=True)
        conn.version = version
        await _identify(conn)
    except _Refused as refusal:
        await conn.refuse(refusal)
        return
    answering = asyncio.create_task(_answer(conn))
    reading = asyncio.create_task(_read(conn))
    try:
        # Whichever ends first ends the socket: the client left (cancel the answer in progress)
        # or the session turned out to be someone else's (stop reading).
        await asyncio.wait({answering, reading}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (answering, reading):
            task.cancel()
        for outcome in await asyncio.gather(answering, reading, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("chat socket failed", exc_info=outcome)
