"""Model tiers as graph nodes: primary, then secondary; each failure falls to the next edge."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from graph.models import TierName, TierUnavailable, get_model_tiers
from graph.state import Context, State
from graph.timing import timed


def prompt_messages(prompt: dict[str, Any]) -> list[BaseMessage]:
    """The chat messages a model tier receives."""
    messages: list[BaseMessage] = [SystemMessage(content=prompt["system"])]
    for turn in prompt["history"]:
        cls = HumanMessage if turn["role"] == "user" else AIMessage
        messages.append(cls(content=turn["content"]))
    messages.append(HumanMessage(content=prompt["user"]))
    return messages


async def _generate(tier_name: TierName, state: State) -> dict[str, Any]:
    tier = get_model_tiers()[tier_name]
    writer = get_stream_writer()
    # The shopper sees tokens as they come; a later tier's answer replaces them (client resets).
    writer({"type": "reset", "tier": tier_name})

    async def on_token(delta: str) -> None:
        writer({"type": "token", "delta": delta, "tier": tier_name})

    try:
        text = await tier.generate(prompt_messages(state["prompt"]), on_token)
    except TierUnavailable as exc:
        return {"draft": None, "tier_errors": {tier_name: str(exc)}}
    return {"draft": {"text": text, "tier": tier_name}}


@timed
async def generate_primary(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer with the primary model (Claude Sonnet on Bedrock by default)."""
    return await _generate("primary", state)


@timed
async def generate_secondary(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer with the secondary model when the primary could not."""
    return await _generate("secondary", state)
