"""Input checks run before a message is routed, stored or sent to a model."""

from __future__ import annotations

from pydantic import BaseModel

from guardrails.injection import InjectionVerdict, detect_injection
from guardrails.pii import redact_pii
from tools.text import detect_language


class InputIssue(BaseModel):
    """Why a message cannot be handled as it is."""

    code: str  # "empty" | "too_long"
    message: str


class CheckedInput(BaseModel):
    """A message after size checks, PII redaction and injection scoring."""

    text: str
    language: str
    pii: list[str]
    injection: InjectionVerdict
    issue: InputIssue | None = None


def size_issue(text: str, max_chars: int) -> InputIssue | None:
    """The size problem of a raw message, if any."""
    stripped = text.strip()
    if not stripped:
        return InputIssue(code="empty", message="The message is empty.")
    if len(stripped) > max_chars:
        return InputIssue(
            code="too_long",
            message=f"The message is {len(stripped)} characters long; the limit is {max_chars}.",
        )
    return None


def check_input(text: str, max_chars: int) -> CheckedInput:
    """Run every input check; the returned text is the only form of the message kept."""
    issue = size_issue(text, max_chars)
    redacted, pii = redact_pii(text.strip())
    return CheckedInput(
        text=redacted,
        language=detect_language(redacted),
        pii=pii,
        injection=detect_injection(redacted),
        issue=issue,
    )
