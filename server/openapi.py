"""The OpenAPI 3.1 document of the HTTP API, generated from the pydantic models of every body."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mangaassist.contracts import TurnResult
from server.schemas import (
    SESSION_ID_MAX,
    SESSION_ID_PATTERN,
    ChatInitRequest,
    ChatInitResponse,
    ChatMessageRequest,
    EscalateRequest,
    EscalateResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    SessionResponse,
)

_REF = "#/components/schemas/{model}"

# Errors every JSON-body operation can return, besides its own.
_BODY_ERRORS = {
    400: "Malformed JSON, or a message that is empty or too long.",
    401: "The bearer token is malformed, wrongly signed or expired.",
    413: "The body is larger than the configured limit.",
    422: "The body does not match the schema.",
}
_SESSION_ERRORS = {404: "No session of this caller has that id (another caller's session is not found too)."}
_RATE_ERRORS = {429: "Rate limited; retry after `Retry-After` seconds."}


@dataclass(frozen=True)
class Operation:
    """One documented method on one path."""

    path: str
    method: str
    summary: str
    ok: tuple[int, type[BaseModel] | None, str]
    body: type[BaseModel] | None = None
    errors: dict[int, str] = field(default_factory=dict)
    session_param: bool = False
    ok_media: str = "application/json"


OPERATIONS = (
    Operation("/v1/chat/init", "post", "Start a session owned by the caller; greeting and quick replies.",
              (200, ChatInitResponse, "The new session."), ChatInitRequest, _BODY_ERRORS),
    Operation("/v1/chat/message", "post", "Run one turn (JSON; `Accept: text/event-stream` streams it as SSE).",
              (200, TurnResult, "The turn result."), ChatMessageRequest,
              {**_BODY_ERRORS, **_SESSION_ERRORS, **_RATE_ERRORS}),
    Operation("/v1/chat/feedback", "post", "Rate one answer (thumbs up or down).",
              (200, FeedbackResponse, "The recorded rating."), FeedbackRequest,
              {**_BODY_ERRORS, 404: "Unknown session, or no answer of that session has that `message_id`."}),
    Operation("/v1/chat/escalate", "post", "Hand the conversation to a person.",
              (200, EscalateResponse, "The handoff ticket."), EscalateRequest, {**_BODY_ERRORS, **_SESSION_ERRORS}),
    Operation("/v1/sessions/{session_id}", "get", "The conversation, oldest first (owner only).",
              (200, SessionResponse, "The conversation."), None, {401: _BODY_ERRORS[401], **_SESSION_ERRORS},
              session_param=True),
    Operation("/v1/sessions/{session_id}", "delete",
              "Erase the conversation, its feedback and its tickets (owner only).",
              (204, None, "Erased."), None, {401: _BODY_ERRORS[401], **_SESSION_ERRORS}, session_param=True),
    Operation("/healthz", "get", "Liveness.", (200, HealthResponse, "The process is up.")),
    Operation("/readyz", "get", "Readiness: graph compiled and session store reachable.",
              (200, HealthResponse, "Ready."), errors={503: "A store cannot be reached."}),
    Operation("/metrics", "get", "Prometheus metrics (`?format=json`: breaker states as JSON).",
              (200, None, "Prometheus text exposition format."), ok_media="text/plain"),
)

_ERROR_REF = {"$ref": _REF.format(model="ErrorResponse")}


def _response(schema: dict[str, Any] | None, description: str, media: str) -> dict[str, Any]:
    if media != "application/json":
        return {"description": description, "content": {media: {"schema": {"type": "string"}}}}
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {media: {"schema": schema}}}


def _operation(op: Operation, refs: dict[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    status, model, description = op.ok
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
        "responses": {
            str(status): _response(refs[(model, "serialization")] if model else None, description, op.ok_media),
            **{str(code): _response(_ERROR_REF, text, "application/json") for code, text in sorted(op.errors.items())},
        },
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body is not ChatInitRequest,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    if op.session_param:
        out["parameters"] = [{
            "name": "session_id", "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": SESSION_ID_MAX, "pattern": SESSION_ID_PATTERN},
        }]
    return out


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The complete document (built once: the models do not change at run time)."""
    models: list[tuple[type[BaseModel], str]] = [(ErrorResponse, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.ok[1] is not None:
            models.append((op.ok[1], "serialization"))
    refs, schema = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)  # type: ignore[arg-type]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MangaAssist",
            "version": "1",
            "description": "Shopping assistant of an online manga store, in English and Japanese. Every error "
                           "is `{\"error\": {\"code\", \"message\"}}`. Signed-in callers send "
                           "`Authorization: Bearer <token>`; without one the caller is a guest bound to its "
                           "session id. Every response carries `X-Request-ID`.",
        },
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{}, {"bearer": []}],
        "paths": paths,
    }
