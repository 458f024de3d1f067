"""Process-wide resources for nodes, loaded without blocking the event loop."""

from __future__ import annotations

import asyncio
import gc

import prompts
from graph.models import get_model_tiers
from tools.registry import Services, get_services


def load_all() -> Services:
    """Load data, the intent model, templates and model tiers (blocking: call from a thread)."""
    services = get_services()
    prompts.preload()
    get_model_tiers()
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
