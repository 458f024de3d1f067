"""Model tiers as graph nodes: primary, then secondary; each failure falls to the next edge."""

from __future__ import annotations

import time
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from graph.breakers import get_breakers
from graph.models import ChatMessage, TierName, TierUnavailable, get_model_tiers
from graph.state import Context, State, context_of
from graph.timing import timed
from mangaassist.settings import get_settings
from tools.latency import simulate
from tools.response_cache import AnswerCache, get_answer_cache


def prompt_messages(prompt: dict[str, Any]) -> list[ChatMessage]:
    """The chat messages a model tier receives."""
    # The prompt's history is already in this shape (assemble_prompt builds it).
    return [{"role": "system", "content": prompt["system"]}, *prompt["history"], {"role": "user", "content": prompt["user"]}]


async def _generate(tier_name: TierName, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    tier = get_model_tiers()[tier_name]
    settings = get_settings()
    writer = get_stream_writer()
    prompt = state["prompt"]
    cache = get_answer_cache()
    key = AnswerCache.key(tier.model, AnswerCache.digest(prompt))
    if cached := cache.get(key, prompt["user"]):
        await simulate("model_first_token")
        writer({"type": "reset", "tier": "cache"})
        writer({"type": "token", "delta": cached, "tier": "cache"})
        return {"draft": {"text": cached, "tier": "cache"}}
    # The shopper sees tokens as they come; a later tier's answer replaces them (client resets).
    await simulate("model_first_token")
    writer({"type": "reset", "tier": tier_name})

    async def on_token(delta: str) -> None:
        writer({"type": "token", "delta": delta, "tier": tier_name})

    # Keep back enough of the turn's budget for the cache/grounded fallbacks after this tier.
    deadline = context_of(runtime).started + settings.turn_deadline_s - settings.deadline_reserve_s
    start = time.monotonic()
    try:
        text = await tier.generate(prompt_messages(prompt), on_token, deadline)
    except TierUnavailable as exc:
        get_breakers().model_outcome(answered=False)
        return {"draft": None, "tier_errors": {tier_name: str(exc)}}
    get_breakers().model_outcome(answered=True)
    cache.put(key, prompt["user"], text, time.monotonic() - start)
    return {"draft": {"text": text, "tier": tier_name}}


@timed
async def generate_primary(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer with the primary model (Claude Sonnet on Bedrock by default)."""
    return await _generate("primary", state, runtime)


@timed
async def generate_secondary(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer with the secondary model when the primary could not."""
    return await _generate("secondary", state, runtime)
