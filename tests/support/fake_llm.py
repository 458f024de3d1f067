"""Scripted, local OpenAI-compatible chat-completions server for integration tests.

The server speaks enough of the OpenAI HTTP API for ``litellm`` (``openai/<name>``
models with ``api_base=...``) to talk to it:

* ``POST /v1/chat/completions`` (also ``/chat/completions``): non-streaming and
  streaming (``"stream": true`` -> ``text/event-stream`` of ``chat.completion.chunk``
  objects, a final chunk with ``finish_reason: "stop"``, then ``data: [DONE]``).
* ``GET /v1/models`` (also ``/models``).
* ``GET /health``.

Behaviour is scripted per model name (the ``model`` field of the request body)
through an admin API, so tests running in another process can drive it over HTTP:

* ``POST /_admin/script`` with ``{"model": "m", "steps": [step, ...], "default": step?}``
  replaces the script of model ``m``. Each chat request for ``m`` pops the next step;
  once the steps run out the ``default`` step is used for every further request
  (if none was given: ``{"kind": "ok", "text": "Hello from the scripted model."}``).
  Models never scripted also use that default.
* ``GET /_admin/requests?model=m`` -> JSON list of the request bodies received for
  ``m``, in order (without ``model``: every request, in order). Each entry is the
  body as sent (``model``, ``messages``, ...) with ``stream`` always present (bool).
* ``POST /_admin/reset`` clears all scripts and request logs.

Step kinds (JSON objects):

* ``{"kind": "ok", "text": "...", "chunk_chars": 8, "delay_s": 0}`` - answer ``text``;
  when streaming, in chunks of ``chunk_chars`` characters with ``delay_s`` seconds
  between chunks (non-streaming: waits ``delay_s`` per chunk, then answers at once).
* ``{"kind": "slow", "text": "...", "delay_s": 0.5, "chunk_chars": 8}`` - same as ``ok``
  but ``delay_s`` defaults to 0.5.
* ``{"kind": "error", "status": 500, "retry_after": 2, "message": "..."}`` - JSON error
  body in the OpenAI error format with that status (400, 401, 403, 404, 429, 500,
  503, ...); sets ``Retry-After`` when ``retry_after`` is given. Same for streaming
  and non-streaming requests (the error comes before any stream starts).
* ``{"kind": "stall", "seconds": 10, "text": "..."}`` - accept the request and send
  nothing for ``seconds``: before any header for non-streaming requests, after the
  response headers but before the first chunk for streaming ones. If the client is
  still there afterwards, it answers like ``ok`` with ``text``.
* ``{"kind": "die", "after_chunks": 2, "text": "...", "chunk_chars": 8}`` - streaming:
  send that many content chunks, then close the connection abruptly (no final chunk,
  no ``[DONE]``, no terminating HTTP chunk). Non-streaming: with ``after_chunks`` 0 the
  connection is closed before any byte is sent, otherwise the headers and half of
  the JSON body are sent before the connection is closed.

Every step also accepts ``"finish_reason"`` (default ``"stop"``). Streaming ``ok``/``slow``
steps accept ``"hold_s"``: seconds the stream stays open after the finish chunk, before
``[DONE]`` (default 0), as a server that is slow to end its stream.

Client disconnects are expected (timeouts, cancelled streams) and never produce a
traceback: waits are interrupted when the client goes away and later sends are
dropped silently.

Usage in-process::

    with FakeLLMServer() as server:
        server.script("m", [{"kind": "ok", "text": "hi"}])
        ... litellm.acompletion(model="openai/m", api_base=server.base_url, api_key="x", ...)
        assert server.requests("m")[0]["messages"][-1]["content"] == "..."

Or from a separate process: ``python -m tests.support.fake_llm --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = [
    "DEFAULT_TEXT",
    "FakeLLMServer",
    "FakeLLMState",
    "create_app",
    "main",
]

DEFAULT_TEXT = "Hello from the scripted model."
DEFAULT_STEP: dict[str, Any] = {"kind": "ok", "text": DEFAULT_TEXT}
STEP_KINDS = frozenset({"ok", "slow", "error", "stall", "die"})

_RAW_SEND_KEY = "fake_llm.raw_send"
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    409: ("conflict", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}

logger = logging.getLogger("tests.fake_llm")


# --------------------------------------------------------------------------- state


class StepError(ValueError):
    """A scripted step is malformed."""


def _validate_step(step: Any) -> dict[str, Any]:
    if not isinstance(step, Mapping):
        raise StepError(f"step must be a JSON object, got {step!r}")
    step = dict(step)
    kind = step.get("kind", "ok")
    if kind not in STEP_KINDS:
        raise StepError(f"unknown step kind {kind!r}; expected one of {sorted(STEP_KINDS)}")
    step["kind"] = kind
    if kind == "error":
        status = step.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise StepError(f"error step needs an HTTP error status (400-599), got {status!r}")
    for key in ("delay_s", "seconds", "retry_after", "hold_s"):
        if key in step and step[key] is not None:
            value = step[key]
            if not isinstance(value, (int, float)) or value < 0:
                raise StepError(f"{key} must be a non-negative number, got {value!r}")
    for key in ("chunk_chars", "after_chunks"):
        if key in step:
            value = step[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise StepError(f"{key} must be a non-negative integer, got {value!r}")
    if step.get("chunk_chars") == 0:
        raise StepError("chunk_chars must be >= 1")
    if "text" in step and not isinstance(step["text"], str):
        raise StepError("text must be a string")
    return step


class FakeLLMState:
    """Scripts and request logs, keyed by model name. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[dict[str, Any]]] = {}
        self._defaults: dict[str, dict[str, Any]] = {}
        self._log: list[dict[str, Any]] = []
        # Set (in the server's event loop) when the server is shutting down, so that
        # stalled / slow handlers finish at once instead of holding up the shutdown.
        self.shutdown_event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- scripting
    def set_script(
        self, model: str, steps: Iterable[Any], default: Any | None = None
    ) -> dict[str, Any]:
        validated = [_validate_step(s) for s in steps]
        validated_default = _validate_step(default) if default is not None else None
        with self._lock:
            self._scripts[model] = deque(validated)
            if validated_default is None:
                self._defaults.pop(model, None)
            else:
                self._defaults[model] = validated_default
        return {
            "model": model,
            "steps": len(validated),
            "default": validated_default or DEFAULT_STEP,
        }

    def next_step(self, model: str) -> dict[str, Any]:
        with self._lock:
            queue = self._scripts.get(model)
            if queue:
                return queue.popleft()
            return dict(self._defaults.get(model, DEFAULT_STEP))

    def remaining(self, model: str) -> int:
        with self._lock:
            return len(self._scripts.get(model, ()))

    def models(self) -> list[str]:
        with self._lock:
            names = set(self._scripts) | set(self._defaults)
            names.update(
                entry.get("model") for entry in self._log if isinstance(entry.get("model"), str)
            )
        return sorted(names)

    # -- request log
    def record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._log.append(body)

    def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if model is None:
                return list(self._log)
            return [entry for entry in self._log if entry.get("model") == model]

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()
            self._log.clear()

    # -- lifecycle
    def bind_loop(self) -> None:
        """Create the shutdown event in the running (server) loop."""
        self._loop = asyncio.get_running_loop()
        self.shutdown_event = asyncio.Event()

    def begin_shutdown(self) -> None:
        """Wake every waiting handler; callable from any thread."""
        loop, event = self._loop, self.shutdown_event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                event.set()
                return
        except RuntimeError:
            pass
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    @property
    def shutting_down(self) -> bool:
        return self.shutdown_event is not None and self.shutdown_event.is_set()


# ----------------------------------------------------------------------- payloads

_ids = itertools.count(1)


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _prompt_tokens(messages: Any) -> int:
    total = 0
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, str):
                total += _estimate_tokens(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                        total += _estimate_tokens(part["text"])
            total += 4
    return max(total, 1)


def _chunks(text: str, size: int) -> list[str]:
    if not text:
        return []
    return [text[i : i + size] for i in range(0, len(text), size)]


def _error_payload(status: int, message: str | None) -> dict[str, Any]:
    err_type, code = _ERROR_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {
        "error": {
            "message": message or f"Scripted error {status} from the fake LLM server.",
            "type": err_type,
            "param": None,
            "code": code,
        }
    }


def _error_response(
    status: int, message: str | None = None, retry_after: float | None = None
) -> JSONResponse:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = (
            str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        )
    return JSONResponse(_error_payload(status, message), status_code=status, headers=headers)


class _Completion:
    """Identity shared by all chunks of one completion."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-fake-{next(_ids)}"
        self.created = int(time.time())
        self.model = model

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake_llm",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    def usage_chunk(self, usage: dict[str, int]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake_llm",
            "choices": [],
            "usage": usage,
        }

    def full(self, text: str, usage: dict[str, int], finish_reason: str = "stop") -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake_llm",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }


def _sse(payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


# ------------------------------------------------------------------ the response


class _ScriptedCompletion(Response):
    """Raw-ASGI response that plays one scripted step (ok/slow/stall/die)."""

    def __init__(self, state: FakeLLMState, step: dict[str, Any], body: dict[str, Any]) -> None:
        # Deliberately do not call Response.__init__: this object drives ASGI itself.
        self.state = state
        self.step = step
        self.body = body
        self.model = str(body.get("model"))
        self.stream = bool(body.get("stream"))
        stream_options = body.get("stream_options")
        self.include_usage = isinstance(stream_options, Mapping) and bool(
            stream_options.get("include_usage")
        )
        self.background = None
        self._disconnected = asyncio.Event()
        self._send: Send | None = None

    # -- helpers
    @property
    def _gone(self) -> bool:
        return self._disconnected.is_set() or self.state.shutting_down

    async def _watch_disconnect(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._disconnected.set()
                return

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; return False early if the client left or the server stops."""
        if self._gone:
            return False
        if seconds <= 0:
            await asyncio.sleep(0)
            return not self._gone
        waiters = [asyncio.ensure_future(self._disconnected.wait())]
        if self.state.shutdown_event is not None:
            waiters.append(asyncio.ensure_future(self.state.shutdown_event.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return not self._gone

    async def _emit(self, message: dict[str, Any]) -> bool:
        if self._gone or self._send is None:
            return False
        try:
            await self._send(message)
        except (OSError, RuntimeError):  # client went away mid-send
            self._disconnected.set()
            return False
        return True

    async def _start(self, status: int, headers: list[tuple[bytes, bytes]]) -> bool:
        return await self._emit(
            {"type": "http.response.start", "status": status, "headers": headers}
        )

    async def _body(self, data: bytes, more: bool) -> bool:
        return await self._emit({"type": "http.response.body", "body": data, "more_body": more})

    async def _drop_connection(self, scope: Scope) -> None:
        """Close the TCP connection abruptly, without finishing the HTTP response."""
        raw_send = scope.get(_RAW_SEND_KEY)
        transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
        if transport is not None:
            transport.close()  # flushes what was written, then FIN; no terminating chunk
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._disconnected.wait(), timeout=2.0)
        # Without a transport (other servers), returning without completing the
        # response makes the server close the connection; uvicorn's message about it
        # is filtered by _QuietDisconnectFilter.

    def _usage(self, text: str) -> dict[str, int]:
        prompt = _prompt_tokens(self.body.get("messages"))
        completion = _estimate_tokens(text)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    # -- ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._send = send
        watcher = asyncio.ensure_future(self._watch_disconnect(receive))
        try:
            kind = self.step["kind"]
            if kind == "stall":
                await self._play_stall(scope)
            elif kind == "die":
                await self._play_die(scope)
            else:
                delay = self.step.get("delay_s", 0.5 if kind == "slow" else 0) or 0
                if self.stream:
                    await self._start_stream()
                    await self._stream_text(self.step.get("text", DEFAULT_TEXT), delay)
                else:
                    await self._respond_full(self.step.get("text", DEFAULT_TEXT), delay)
        except asyncio.CancelledError:
            raise
        except (OSError, RuntimeError):
            if not self._disconnected.is_set():
                raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    async def _start_stream(self) -> bool:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        return await self._start(200, headers)

    async def _stream_text(self, text: str, delay: float) -> None:
        completion = _Completion(self.model)
        chunk_chars = self.step.get("chunk_chars", 8)
        pieces = _chunks(text, chunk_chars)
        if not await self._body(_sse(completion.chunk({"role": "assistant", "content": ""})), True):
            return
        for index, piece in enumerate(pieces):
            if index and delay and not await self._wait(delay):
                await self._finish_interrupted()
                return
            if not await self._body(_sse(completion.chunk({"content": piece})), True):
                return
        finish = self.step.get("finish_reason", "stop")
        if not await self._body(_sse(completion.chunk({}, finish_reason=finish)), True):
            return
        hold = float(self.step.get("hold_s", 0) or 0)
        if hold and not await self._wait(hold):
            await self._finish_interrupted()
            return
        if self.include_usage:
            if not await self._body(_sse(completion.usage_chunk(self._usage(text))), True):
                return
        await self._body(_sse("[DONE]"), True)
        await self._body(b"", False)

    async def _finish_interrupted(self) -> None:
        # Client gone: nothing to do. Server shutting down: end the body cleanly so the
        # connection can close (the client sees a stream without [DONE]).
        if self.state.shutting_down and not self._disconnected.is_set() and self._send is not None:
            with contextlib.suppress(OSError, RuntimeError):
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _respond_full(self, text: str, delay: float) -> None:
        pieces = max(1, len(_chunks(text, self.step.get("chunk_chars", 8))))
        if delay and not await self._wait(delay * pieces):
            await self._shutdown_reply()
            return
        completion = _Completion(self.model)
        payload = completion.full(text, self._usage(text), self.step.get("finish_reason", "stop"))
        data = json.dumps(payload).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ]
        if await self._start(200, headers):
            await self._body(data, False)

    async def _shutdown_reply(self) -> None:
        if self.state.shutting_down and not self._disconnected.is_set() and self._send is not None:
            data = json.dumps(_error_payload(503, "fake LLM server is shutting down")).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ]
            with contextlib.suppress(OSError, RuntimeError):
                await self._send({"type": "http.response.start", "status": 503, "headers": headers})
                await self._send({"type": "http.response.body", "body": data, "more_body": False})

    async def _play_stall(self, scope: Scope) -> None:
        seconds = float(self.step.get("seconds", 10))
        text = self.step.get("text", DEFAULT_TEXT)
        if self.stream:
            if not await self._start_stream():
                return
            if not await self._wait(seconds):
                await self._finish_interrupted()
                return
            await self._stream_text(text, float(self.step.get("delay_s", 0) or 0))
        else:
            if not await self._wait(seconds):
                await self._shutdown_reply()
                return
            await self._respond_full(text, float(self.step.get("delay_s", 0) or 0))

    async def _play_die(self, scope: Scope) -> None:
        after = int(self.step.get("after_chunks", 2))
        text = self.step.get("text", DEFAULT_TEXT)
        delay = float(self.step.get("delay_s", 0) or 0)
        if not self.stream:
            if after > 0:
                completion = _Completion(self.model)
                data = json.dumps(completion.full(text, self._usage(text))).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ]
                if await self._start(200, headers):
                    await self._body(data[: len(data) // 2], True)
            await self._drop_connection(scope)
            return
        if not await self._start_stream():
            return
        completion = _Completion(self.model)
        pieces = _chunks(text, self.step.get("chunk_chars", 8))
        for index, piece in enumerate(pieces[:after]):
            if index and delay and not await self._wait(delay):
                break
            delta: dict[str, Any] = {"content": piece}
            if index == 0:
                delta["role"] = "assistant"
            if not await self._body(_sse(completion.chunk(delta)), True):
                return
        await self._drop_connection(scope)


# ------------------------------------------------------------------------ the app


async def _read_json(request: Request) -> tuple[Any, JSONResponse | None]:
    raw = await request.body()
    try:
        return (json.loads(raw) if raw else {}), None
    except ValueError as exc:
        return None, _error_response(400, f"request body is not valid JSON: {exc}")


def create_app(state: FakeLLMState | None = None) -> Starlette:
    """Build the Starlette app. ``app.state.fake_llm`` is the :class:`FakeLLMState`."""
    state = state or FakeLLMState()

    async def chat_completions(request: Request) -> Response:
        body, error = await _read_json(request)
        if error is not None:
            return error
        if not isinstance(body, dict):
            return _error_response(400, "request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error_response(400, "you must provide a model parameter")
        if not isinstance(body.get("messages"), list):
            return _error_response(400, "'messages' must be a list")
        state.record({**body, "stream": bool(body.get("stream", False))})
        step = state.next_step(model)
        if step["kind"] == "error":
            return _error_response(
                int(step.get("status", 500)), step.get("message"), step.get("retry_after")
            )
        return _ScriptedCompletion(state, step, body)

    async def list_models(request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake-llm"}
            for m in state.models()
        ]
        return JSONResponse({"object": "list", "data": data})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def admin_script(request: Request) -> Response:
        body, error = await _read_json(request)
        if error is not None:
            return error
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _error_response(
                400, "body must be {'model': str, 'steps': [...], 'default': step?}"
            )
        steps = body.get("steps", [])
        if not isinstance(steps, list):
            return _error_response(400, "'steps' must be a list")
        try:
            result = state.set_script(body["model"], steps, body.get("default"))
        except StepError as exc:
            return _error_response(400, str(exc))
        return JSONResponse(result)

    async def admin_requests(request: Request) -> Response:
        return JSONResponse(state.requests(request.query_params.get("model")))

    async def admin_reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"status": "reset"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        state.bind_loop()
        yield

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/models", list_models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/_admin/script", admin_script, methods=["POST"]),
        Route("/_admin/requests", admin_requests, methods=["GET"]),
        Route("/_admin/reset", admin_reset, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.fake_llm = state
    return app


class _RawSendStash:
    """Outer ASGI wrapper: remembers the server's own ``send`` (for dropping connections)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state: FakeLLMState = app.state.fake_llm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_RAW_SEND_KEY] = send
        await self.app(scope, receive, send)


class _QuietDisconnectFilter(logging.Filter):
    """Hide uvicorn's noise about clients that went away (never a real failure here)."""

    _QUIET_MESSAGES = ("ASGI callable returned without completing response",)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            if isinstance(record.exc_info[1], (ConnectionError, asyncio.CancelledError)):
                return False
        message = record.getMessage()
        return not any(quiet in message for quiet in self._QUIET_MESSAGES)


_quiet_filter = _QuietDisconnectFilter()


def _install_log_filter() -> None:
    for name in ("uvicorn.error", "uvicorn", "asyncio"):
        log = logging.getLogger(name)
        if _quiet_filter not in log.filters:
            log.addFilter(_quiet_filter)


class _Server(uvicorn.Server):
    """uvicorn server that wakes stalled handlers before its graceful shutdown."""

    def __init__(self, config: uvicorn.Config, state: FakeLLMState) -> None:
        super().__init__(config)
        self.fake_state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.fake_state.begin_shutdown()
        await super().shutdown(sockets=sockets)


def _make_server(
    state: FakeLLMState, *, log_level: str, configure_logging: bool, **kwargs: Any
) -> _Server:
    app = _RawSendStash(create_app(state))
    config_kwargs: dict[str, Any] = {
        "log_level": log_level,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 3,
        "timeout_keep_alive": 5,
    }
    if not configure_logging:
        config_kwargs["log_config"] = None
    config_kwargs.update(kwargs)
    server = _Server(uvicorn.Config(app, **config_kwargs), state)
    _install_log_filter()
    return server


# ------------------------------------------------------------------ test helper


class FakeLLMServer:
    """Run the fake server in a background thread (uvicorn on ``host``).

    ``port=0`` picks a free port. Use as a context manager or call
    :meth:`start` / :meth:`stop`. The scripting helpers talk to the admin API over
    HTTP, exactly like a test in another process would.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.state = FakeLLMState()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._client: httpx.Client | None = None
        self._thread_error: BaseException | None = None

    # -- URLs
    @property
    def root_url(self) -> str:
        """``http://host:port`` (admin endpoints live under it)."""
        if self.port is None:
            raise RuntimeError("FakeLLMServer is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style API base, e.g. ``http://127.0.0.1:PORT/v1`` (pass as ``api_base``)."""
        return f"{self.root_url}/v1"

    # -- lifecycle
    def start(self) -> FakeLLMServer:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._server = _make_server(self.state, log_level=self.log_level, configure_logging=False)
        self._thread = threading.Thread(target=self._run, name=f"fake-llm-{self.port}", daemon=True)
        self._thread.start()

        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if self._thread_error is not None or not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError(f"fake LLM server failed to start: {self._thread_error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake LLM server did not start in time")
            time.sleep(0.01)
        self._client = httpx.Client(base_url=self.root_url, timeout=10.0, trust_env=False)
        self._client.get("/health").raise_for_status()
        return self

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # pragma: no cover - surfaced by start()
            self._thread_error = exc

    def stop(self, timeout: float = 10.0) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self.state.begin_shutdown()
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._socket = None
        self._thread = None
        self._server = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- admin API (over HTTP)
    def _http(self) -> httpx.Client:
        if self._client is None:
            raise RuntimeError("FakeLLMServer is not running")
        return self._client

    def script(
        self,
        model: str,
        steps: Iterable[Mapping[str, Any]],
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Replace the script of ``model``: ``steps`` in order, then ``default`` forever."""
        payload: dict[str, Any] = {"model": model, "steps": [dict(s) for s in steps]}
        if default is not None:
            payload["default"] = dict(default)
        response = self._http().post("/_admin/script", json=payload)
        if response.status_code >= 400:
            raise ValueError(f"bad script for {model!r}: {response.text}")
        return response.json()

    def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        """Bodies of the chat requests received for ``model`` (all models if None), in order."""
        params = {"model": model} if model is not None else None
        response = self._http().get("/_admin/requests", params=params)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget every script and logged request."""
        self._http().post("/_admin/reset").raise_for_status()


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible fake LLM server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    server = _make_server(
        FakeLLMState(),
        log_level=args.log_level,
        configure_logging=True,
        host=args.host,
        port=args.port,
    )
    server.run()


if __name__ == "__main__":
    main()
