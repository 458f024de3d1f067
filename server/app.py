"""The Starlette application: API v1 over the shared turn runner, plus health, metrics and the widget."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import prompts
from graph.breakers import get_breakers
from graph.runner import InputRejected, MessageNotFound, SessionForbidden, SessionNotFound, TurnRunner
from guardrails.stream import StreamGuard
from mangaassist.settings import Settings, get_settings
from server import telemetry
from server.auth import bearer_user
from server.mcp import McpEndpoint
from server.openapi import openapi_document
from server.schemas import (
    PROTOCOL_VERSIONS,
    ChatInitRequest,
    ChatInitResponse,
    ChatMessageRequest,
    EscalateRequest,
    EscalateResponse,
    FeedbackRequest,
    FeedbackResponse,
    SessionResponse,
    preferred_language,
    valid_session_id,
)
from server.frames import ServerFrame, TurnFramer, error_text, framed_turn
from server.ratelimit import RateLimiter, message_rule, open_rate_limiter
from server.sse import Event, EventStream
from server.telemetry import Telemetry
from server.ws import chat_ws
from tools.response_cache import strings as degraded_strings

log = logging.getLogger("mangaassist.server")
STATIC_DIR = Path(__file__).resolve().parent / "static"
Body = TypeVar("Body", bound=BaseModel)


class AppState(TypedDict):
    """What the lifespan hands to every request."""

    runner: TurnRunner
    telemetry: Telemetry
    limiter: RateLimiter


class ApiError(HTTPException):
    """An HTTP error with a machine-readable code."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)
        self.code = code


class RequestIdMiddleware:
    """Gives every request an id (the caller's valid `X-Request-ID`, else a new one).

    The id is bound to the request's log lines, kept in `request.state.request_id` and echoed in
    the `X-Request-ID` header of every response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request; other scopes pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"x-request-id")
        request_id = telemetry.request_id_from(header.decode("latin-1") if header is not None else None)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode("latin-1"))]}
            await send(message)

        token = telemetry.bind_request_id(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            telemetry.unbind_request_id(token)


async def _json_body(request: Request, *, allow_empty: bool = False) -> Any:
    limit = request.state.runner.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
    if allow_empty and not body.strip():
        return {}
    try:
        data = json.loads(body)
        # A lone surrogate (e.g. "\ud800") decodes but can be neither stored nor sent back.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (json.JSONDecodeError, UnicodeError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from exc
    return data


def _parse(model: type[Body], data: Any) -> Body:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(422, "invalid_request", f"{where}: {first['msg']}") from exc


def _json(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))


def _not_found(exc: LookupError | PermissionError) -> ApiError:
    if isinstance(exc, MessageNotFound):
        return ApiError(404, "message_not_found", "no answer of this session has that message_id")
    return ApiError(404, "session_not_found", "unknown session")


async def chat_init(request: Request) -> Response:
    """Start a session owned by the caller, with the greeting and quick replies in its language."""
    body = _parse(ChatInitRequest, await _json_body(request, allow_empty=True))
    runner: TurnRunner = request.state.runner
    user_id = bearer_user(request, runner.settings)
    language = body.language or preferred_language(request.headers.get("accept-language"))
    session_id = await runner.start_session(user_id)
    texts = prompts.strings(language)
    return _json(ChatInitResponse(
        session_id=session_id,
        protocol_versions=list(PROTOCOL_VERSIONS),
        greeting=texts["notices"]["greeting"],
        quick_replies=texts["welcome"]["quick_replies"],
        banner=degraded_strings(language)["banner"] if get_breakers().banner_due() else None,
    ))


async def chat_message(request: Request) -> Response:
    """Run one turn; JSON by default, Server-Sent Events with `Accept: text/event-stream`."""
    body = _parse(ChatMessageRequest, await _json_body(request))
    runner: TurnRunner = request.state.runner
    kwargs = {
        # Named here rather than by the runner: the rate limit and the stream's clean-up need it.
        "session_id": body.session_id or uuid.uuid4().hex,
        "user_id": bearer_user(request, runner.settings),
        "request_id": request.state.request_id,
        "context_hints": body.context_hints,
    }
    await _rate_limit(request, kwargs["user_id"], kwargs["session_id"])
    try:
        if "text/event-stream" in request.headers.get("accept", ""):
            runner.check_message(body.message)
            return await _sse_response(runner, body.message, kwargs)
        result = await runner.run(body.message, **kwargs)
    except InputRejected as exc:
        raise ApiError(400, exc.issue.code, str(exc)) from exc
    except SessionForbidden as exc:
        raise _not_found(exc) from exc
    telemetry.emit_turn(result)
    return _json(result)


async def _rate_limit(request: Request, user_id: str | None, session_id: str) -> None:
    """429 with `Retry-After` once the caller's bucket is empty."""
    rule = message_rule(request.state.runner.settings, user_id, session_id)
    decision = await request.state.limiter.take(rule)
    if decision.allowed:
        return
    telemetry.count_rate_limited(rule.scope)
    language = preferred_language(request.headers.get("accept-language"))
    error = ApiError(429, "rate_limited", error_text(language, "rate_limited", retry_after=decision.retry_after_s))
    error.headers = {"Retry-After": str(decision.retry_after_s)}
    raise error


async def _sse_response(runner: TurnRunner, message: str, kwargs: dict[str, Any]) -> Response:
    """The turn as Server-Sent Events carrying the streaming protocol's frames.

    The first frame is awaited here, before the 200 goes out, so another caller's session is
    still a 404 like in JSON mode.
    """
    framer = TurnFramer(kwargs["request_id"], StreamGuard(runner.settings.competitors))
    frames = framed_turn(runner, framer, message, session_id=kwargs["session_id"], user_id=kwargs["user_id"],
                         context_hints=kwargs["context_hints"])
    try:
        first = await anext(frames)
    except SessionForbidden as exc:
        raise _not_found(exc) from exc
    return EventStream(_sse(first, frames))


def _sse_event(frame: ServerFrame) -> Event:
    return Event(event=frame.type, id=str(frame.seq), data=frame.model_dump_json())


async def _sse(first: ServerFrame, frames: AsyncIterator[ServerFrame]) -> AsyncIterator[Event]:
    async with aclosing(frames):  # type: ignore[type-var]
        yield _sse_event(first)
        async for frame in frames:
            yield _sse_event(frame)


async def chat_feedback(request: Request) -> Response:
    """Rate one answer of the caller's session."""
    body = _parse(FeedbackRequest, await _json_body(request))
    runner: TurnRunner = request.state.runner
    try:
        rated = await runner.add_feedback(
            body.session_id, bearer_user(request, runner.settings), body.message_id, body.rating, body.comment
        )
    except (SessionNotFound, MessageNotFound) as exc:
        raise _not_found(exc) from exc
    request.state.telemetry.rated(
        request.state.request_id, body.session_id, body.message_id, body.rating, rated.intent, rated.language
    )
    return _json(FeedbackResponse(session_id=body.session_id, message_id=body.message_id, rating=body.rating))


async def chat_escalate(request: Request) -> Response:
    """Open a handoff ticket with the redacted conversation."""
    body = _parse(EscalateRequest, await _json_body(request))
    runner: TurnRunner = request.state.runner
    try:
        ticket, position = await runner.escalate(body.session_id, bearer_user(request, runner.settings), body.reason)
    except SessionNotFound as exc:
        raise _not_found(exc) from exc
    summary = ticket.summary
    request.state.telemetry.escalated(
        request.state.request_id, body.session_id, ticket.ticket_id,
        summary.language or preferred_language(request.headers.get("accept-language")),
        summary.intents[-1] if summary.intents else None,
    )
    return _json(EscalateResponse(ticket_id=ticket.ticket_id, queue_position=position, summary=summary))


def _path_session(request: Request) -> str:
    session_id: str = request.path_params["session_id"]
    # An id that could never have been issued is as unknown as any other.
    if not valid_session_id(session_id):
        raise ApiError(404, "session_not_found", "unknown session")
    return session_id


async def session(request: Request) -> Response:
    """GET: the caller's conversation. DELETE: erase it with its feedback and tickets."""
    session_id = _path_session(request)
    runner: TurnRunner = request.state.runner
    user_id = bearer_user(request, runner.settings)
    try:
        if request.method == "DELETE":
            await runner.delete_session(session_id, user_id)
            return Response(status_code=204)
        turns = await runner.conversation(session_id, user_id)
    except SessionNotFound as exc:
        raise _not_found(exc) from exc
    return _json(SessionResponse(session_id=session_id, turns=turns))


async def metrics(request: Request) -> Response:
    """Breaker state and window counts per dependency, and how long the model path has been down."""
    breakers = get_breakers()
    return JSONResponse({
        "breakers": breakers.snapshot(),
        "models_down_s": round(breakers.models_down_for(), 1),
        "degraded_banner": breakers.banner_due(),
    })


async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text; `?format=json` gives the breaker view as JSON."""
    if request.query_params.get("format") == "json":
        return await metrics(request)
    return Response(request.state.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document."""
    return JSONResponse(openapi_document())


async def index(request: Request) -> Response:
    """The chat widget."""
    return FileResponse(STATIC_DIR / "index.html")


async def healthz(request: Request) -> Response:
    """Liveness."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the graph is compiled (the lifespan got this far) and the session store answers.

    Probes also sweep expired sessions, at most once per `PURGE_INTERVAL_S`, so a probe stays cheap.
    """
    runner: TurnRunner = request.state.runner
    try:
        await runner.store.ping()
        await runner.purge_expired_if_due()
    # Whatever the backend raises (SQLite, PostgreSQL, network), the answer is the same: not ready.
    except Exception as exc:
        log.warning("store not ready", extra={"error": repr(exc)})
        raise ApiError(503, "not_ready", "the session store cannot be reached") from exc
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
    # This response bypasses the request-id middleware (it comes from the outermost layer).
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(
        {"error": {"code": "internal", "message": "internal error"}}, status_code=500,
        headers={"x-request-id": request_id} if request_id else None,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The service application for these settings."""
    settings = settings or get_settings()
    telemetry.configure_logging(settings.log_level)
    mcp = McpEndpoint(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        sink = telemetry.sink_for(settings)
        app_telemetry = Telemetry(settings, sink)
        telemetry.activate(app_telemetry)
        try:
            async with TurnRunner(settings) as runner, mcp.serving(runner), open_rate_limiter(settings) as limiter:
                yield {"runner": runner, "telemetry": app_telemetry, "limiter": limiter}
        finally:
            telemetry.activate(None)
            await sink.aclose()

    return Starlette(
        routes=[
            Route("/v1/chat/init", chat_init, methods=["POST"]),
            Route("/v1/chat/message", chat_message, methods=["POST"]),
            WebSocketRoute("/v1/chat/ws", chat_ws),
            Route("/v1/chat/feedback", chat_feedback, methods=["POST"]),
            Route("/v1/chat/escalate", chat_escalate, methods=["POST"]),
            Route("/v1/sessions/{session_id}", session, methods=["GET", "DELETE"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus_metrics, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/", index, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            mcp.route,
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
