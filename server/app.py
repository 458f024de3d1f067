"""The Starlette application: chat endpoints over the shared turn runner."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graph.breakers import get_breakers
from graph.runner import InputRejected, SessionForbidden, TurnRunner
from mangaassist.settings import Settings, get_settings
from server.auth import bearer_user
from server.mcp import McpEndpoint
from server.schemas import ChatMessageRequest

log = logging.getLogger("mangaassist.server")
MAX_BODY_BYTES = 64 * 1024


class AppState(TypedDict):
    """What the lifespan hands to every request."""

    runner: TurnRunner


class ApiError(HTTPException):
    """An HTTP error with a machine-readable code."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)
        self.code = code


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"request body over {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from exc


async def chat_message(request: Request) -> Response:
    """Run one turn; JSON by default, Server-Sent Events with `Accept: text/event-stream`."""
    try:
        body = ChatMessageRequest.model_validate(await _json_body(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(422, "invalid_request", f"{where}: {first['msg']}") from exc
    runner: TurnRunner = request.state.runner
    kwargs = {
        "session_id": body.session_id,
        "user_id": bearer_user(request, runner.settings),
        "request_id": request.headers.get("x-request-id"),
        "context_hints": body.context_hints,
    }
    try:
        if "text/event-stream" in request.headers.get("accept", ""):
            runner.check_message(body.message)
            return EventSourceResponse(_sse(runner, body.message, kwargs))
        result = await runner.run(body.message, **kwargs)
    except InputRejected as exc:
        raise ApiError(400, exc.issue.code, str(exc)) from exc
    except SessionForbidden as exc:
        raise ApiError(404, "session_not_found", "unknown session") from exc
    return JSONResponse(result.model_dump(mode="json"), headers={"x-request-id": result.request_id})


async def _sse(runner: TurnRunner, message: str, kwargs: dict[str, Any]) -> AsyncIterator[dict[str, str]]:
    try:
        async for event in runner.stream(message, **kwargs):
            yield {"event": event["type"], "data": json.dumps(event, ensure_ascii=False)}
    except InputRejected as exc:
        yield {"event": "error", "data": json.dumps({"type": "error", "code": exc.issue.code, "message": str(exc)})}
    except SessionForbidden:
        yield {"event": "error", "data": json.dumps({"type": "error", "code": "session_not_found", "message": "unknown session"})}


async def metrics(request: Request) -> Response:
    """Breaker state and window counts per dependency, and how long the model path has been down."""
    breakers = get_breakers()
    return JSONResponse({
        "breakers": breakers.snapshot(),
        "models_down_s": round(breakers.models_down_for(), 1),
        "degraded_banner": breakers.banner_due(),
    })


async def healthz(request: Request) -> Response:
    """Liveness."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: graph compiled and stores reachable."""
    runner: TurnRunner = request.state.runner
    await runner.purge_expired()
    return JSONResponse({"status": "ready"})


async def http_error(request: Request, exc: Exception) -> Response:
    """Render every HTTP error as `{"error": {"code", "message"}}`."""
    assert isinstance(exc, HTTPException)
    code = getattr(exc, "code", None) or {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return JSONResponse(
        {"error": {"code": code, "message": exc.detail}}, status_code=exc.status_code, headers=exc.headers
    )


async def server_error(request: Request, exc: Exception) -> Response:
    """Never a traceback to the client; the log keeps it."""
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse({"error": {"code": "internal", "message": "internal error"}}, status_code=500)


def create_app(settings: Settings | None = None) -> Starlette:
    """The service application for these settings."""
    settings = settings or get_settings()
    mcp = McpEndpoint(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        async with TurnRunner(settings) as runner, mcp.serving(runner):
            yield {"runner": runner}

    return Starlette(
        routes=[
            Route("/v1/chat/message", chat_message, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            mcp.route,
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
