"""The grounded responder: a complete answer composed only from tool and retrieval results."""

from __future__ import annotations

import re
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

import prompts
from graph.state import Context, State, context_of
from graph.timing import timed
from tools.latency import simulate


def compose_grounded(facts: dict[str, Any]) -> str:
    """Render the grounded answer template for the facts' intent and language."""
    text = prompts.render(f"grounded.{facts['language']}.j2", **facts)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@timed
async def respond_grounded(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer without a model; streams the text in chunks like a model would."""
    text = compose_grounded(state["tool_results"]["facts"])
    writer = get_stream_writer()
    await simulate("model_first_token")
    writer({"type": "reset", "tier": "grounded"})
    size = max(context_of(runtime).stream_chunk_chars, 1)
    for start in range(0, len(text), size):
        writer({"type": "token", "delta": text[start : start + size], "tier": "grounded"})
    return {"draft": {"text": text, "tier": "grounded"}}
