"""A policy-free token bucket: the graph caps model calls with it, the server limits messages."""

from __future__ import annotations

import math
import time

from pydantic import BaseModel


class RateDecision(BaseModel):
    """Whether one more call or message may go through, and if not, when to try again."""

    allowed: bool
    retry_after_s: int = 0


def retry_after(tokens: float, per_second: float) -> int:
    """Seconds until a bucket holding `tokens` has one again, for a Retry-After header."""
    # Whole seconds (the Retry-After header has no fractions), never 0 for a refusal.
    return max(1, math.ceil((1.0 - tokens) / per_second))


class TokenBucket:
    """One in-process bucket: `capacity` tokens at most, refilled at `per_second`."""

    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._tokens = capacity
        self._at = time.monotonic()

    def take(self) -> RateDecision:
        """Take one token if there is one."""
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after_s=retry_after(self._tokens, self.per_second))
