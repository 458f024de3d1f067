"""Process-wide resources for nodes, loaded without blocking the event loop."""

from __future__ import annotations

import asyncio
import gc

import prompts
from graph.models import get_model_tiers
from tools.registry import Services, get_services
from tools.response_cache import get_response_cache


def load_all() -> Services:
    """Load data, the intent model, templates, model tiers and the response cache (blocking: call from a thread)."""
    services = get_services()
    prompts.preload()
    get_model_tiers()
    get_response_cache()
    # The store data, indexes and models are half a million objects that live as long as the
    # process; a full collection walking them holds the event loop for most of a second.
    # Collect once now, then leave them out of every later collection.
    gc.collect()
    gc.freeze()
    return services


async def services() -> Services:
    """The loaded services; the first call loads them in a worker thread."""
    if get_services.cache_info().currsize and prompts.environment.cache_info().currsize:
        return get_services()
    return await asyncio.to_thread(load_all)
