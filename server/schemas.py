"""Request bodies of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ChatMessageRequest(BaseModel):
    """`POST /v1/chat/message`."""

    # Identity comes only from the bearer token; a body naming a customer is refused.
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="The shopper's message (1 to 4,000 characters).")
    session_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    context_hints: dict[str, str] | None = None


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"code", "message"}}`."""

    code: str
    message: str
