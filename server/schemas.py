"""Request and response bodies of the HTTP API; `/openapi.json` is generated from these."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from graph.runner import ConversationTurn
from graph.store import EscalationSummary, Rating
from mangaassist.contracts import Language

SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
SESSION_ID_MAX = 128
SessionId = Annotated[str, Field(min_length=1, max_length=SESSION_ID_MAX, pattern=SESSION_ID_PATTERN)]


def valid_session_id(session_id: str) -> bool:
    """Whether a session id from a path or query string has the form bodies require."""
    return len(session_id) <= SESSION_ID_MAX and re.fullmatch(SESSION_ID_PATTERN, session_id) is not None

HintKey = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
HintValue = Annotated[str, Field(max_length=256)]

PROTOCOL_VERSIONS = (1, 2)


class _Body(BaseModel):
    # Unknown fields are refused: a typo should fail loudly, and no body may claim an identity.
    model_config = ConfigDict(extra="forbid")


class ChatInitRequest(_Body):
    """`POST /v1/chat/init` (the body may be empty)."""

    language: Language | None = Field(
        default=None, description="Greeting language; without it, `Accept-Language` decides (English by default)."
    )


class ChatInitResponse(BaseModel):
    """A new session, owned by the caller, and what the widget shows before the first message."""

    session_id: str
    protocol_versions: list[int] = Field(description="WebSocket protocol versions this server speaks.")
    greeting: str
    quick_replies: list[str]
    banner: str | None = Field(description="Set while the assistant runs in limited (degraded) mode.")


class ChatMessageRequest(_Body):
    """`POST /v1/chat/message`."""

    message: str = Field(description="The shopper's message (1 to 4,000 characters).")
    session_id: SessionId | None = None
    context_hints: dict[HintKey, HintValue] | None = Field(
        default=None, max_length=16, description='Where the shopper is, e.g. {"page": "product", "asin": "B0…"}.'
    )


class FeedbackRequest(_Body):
    """`POST /v1/chat/feedback`: a rating of one answer."""

    session_id: SessionId
    message_id: str = Field(min_length=1, max_length=128, description="The rated turn's `request_id`.")
    rating: Rating
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackResponse(BaseModel):
    """The recorded rating (a second rating of the same answer replaces the first)."""

    session_id: str
    message_id: str
    rating: Rating


class EscalateRequest(_Body):
    """`POST /v1/chat/escalate`: hand the conversation to a person."""

    session_id: SessionId
    reason: str | None = Field(default=None, max_length=1000)


class EscalateResponse(BaseModel):
    """The handoff ticket."""

    ticket_id: str = Field(description="`ESC-` and 12 upper-case hex digits.")
    queue_position: int = Field(ge=1, description="1 means next in line.")
    summary: EscalationSummary


class SessionResponse(BaseModel):
    """`GET /v1/sessions/{id}`: the conversation, oldest first."""

    session_id: str
    turns: list[ConversationTurn]


class HealthResponse(BaseModel):
    """Liveness and readiness."""

    status: Literal["ok", "ready"]


class ErrorBody(BaseModel):
    """What went wrong, for machines (`code`) and people (`message`)."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error response: `{"error": {"code", "message"}}`."""

    error: ErrorBody


def preferred_language(accept_language: str | None) -> Language:
    """English or Japanese, whichever `Accept-Language` ranks higher; English when it names neither."""
    best: tuple[float, Language] = (0.0, "en")
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("en", "ja"):
            continue
        try:
            quality = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            continue
        if quality > best[0]:
            best = (quality, "ja" if primary == "ja" else "en")
    return best[1]
