"""Simulated downstream latencies, so benchmarks and load tests see a production-shaped turn.

In-process, every dependency of a turn answers in well under a millisecond, which hides what
running steps in parallel buys. `MANGAASSIST_SIMULATED_LATENCY_MS` (JSON, step -> milliseconds)
makes each named step sleep that long where it happens; unset, `simulate` returns at once.
`REFERENCE_CHAIN_MS` is the reference call chain's figure for each step.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from mangaassist.settings import get_settings

Step = Literal[
    "intent", "embed", "knn", "rerank", "recommendations", "profile", "model_first_token"
]

REFERENCE_CHAIN_MS: dict[Step, float] = {
    "intent": 15,
    "embed": 30,
    "knn": 40,
    "rerank": 50,
    "recommendations": 200,
    "profile": 50,
    "model_first_token": 500,
}


async def simulate(step: Step) -> None:
    """Sleep for the configured latency of `step` (no-op when none is configured)."""
    delay_ms = get_settings().simulated_latency_ms.get(step, 0.0)
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)
