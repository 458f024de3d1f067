"""Size limits, PII redaction and prompt-injection screening of the shopper's message."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from graph.speculation import no_retrieval
from graph.state import RESET, Context, State
from graph.timing import timed
from guardrails.input import check_input
from graph.resources import services as load_services


@timed
async def validate_input(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Check the message and start a fresh turn; only the redacted text is kept."""
    settings = (await load_services()).settings
    checked = check_input(state["message"], settings.max_message_chars)
    update: dict[str, Any] = {
        "message": checked.text,
        "request_id": state.get("request_id") or uuid.uuid4().hex,
        "user_text": checked.text,
        "language": checked.language,
        "input_issue": None,
        "input_pii": checked.pii,
        "intent": "out_of_scope",
        "intent_confidence": 0.0,
        "intent_stage": "none",
        "entities": {},
        "retrieval": no_retrieval(True),
        "plan": {},
        "prompt": {},
        "draft": None,
        "guarded": {},
        "result": {},
        "tool_results": {RESET: True},
        "tier_errors": {RESET: True},
        "timings_ms": {RESET: True},
    }
    if checked.issue is not None:
        update["input_issue"] = {"code": checked.issue.code, "message": checked.issue.message}
    elif checked.injection.injection:
        # Only the verdict is kept (score, signal names, language): the message never reaches a model.
        update["input_issue"] = {
            "code": "prompt_injection",
            "message": "The message tries to change the assistant's instructions.",
            "reasons": checked.injection.reasons,
            "score": checked.injection.score,
            "language": checked.injection.language,
            "refusal": checked.refusal,
        }
    else:
        update["messages"] = [HumanMessage(content=checked.text, id=f"u-{update['request_id']}")]
    return update
