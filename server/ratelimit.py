"""Token-bucket rate limits: chat messages per caller, in memory or shared through Redis.

A signed-in customer gets `rate_customer_per_min` messages a minute, a guest session
`rate_guest_per_min`; the bucket holds a minute's worth, so a burst is allowed and then the
steady rate. With `MANGAASSIST_REDIS_URL` every server process draws from the same buckets,
through one atomic Lua script (the check and the take cannot interleave between processes).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from graph.token_bucket import RateDecision, TokenBucket, retry_after
from mangaassist.settings import Settings

Scope = Literal["user", "guest"]
log = logging.getLogger("mangaassist.ratelimit")


@dataclass(frozen=True)
class RateRule:
    """Which bucket a caller draws from and how fast it refills."""

    scope: Scope
    key: str
    per_minute: int

    @property
    def capacity(self) -> float:
        """A minute's worth of messages."""
        return float(self.per_minute)

    @property
    def per_second(self) -> float:
        """Refill rate."""
        return self.per_minute / 60.0


def message_rule(settings: Settings, user_id: str | None, session_id: str) -> RateRule:
    """Customers are limited per customer (all their sessions together), guests per session."""
    if user_id is not None:
        return RateRule("user", f"user:{user_id}", settings.rate_customer_per_min)
    return RateRule("guest", f"guest:{session_id}", settings.rate_guest_per_min)


class RateLimiter(Protocol):
    """Where message buckets live."""

    async def take(self, rule: RateRule) -> RateDecision:
        """Take one token from the rule's bucket."""


class InMemoryRateLimiter:
    """Buckets in this process only (the embedded default: one server process)."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    async def take(self, rule: RateRule) -> RateDecision:
        """Take one token; no await inside, so the event loop makes it atomic."""
        bucket = self._buckets.get(rule.key)
        if bucket is None:
            bucket = self._buckets[rule.key] = TokenBucket(rule.capacity, rule.per_second)
        return bucket.take()


# KEYS[1] bucket; ARGV capacity, tokens per second. Redis' own clock, so every process agrees.
_TAKE_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by every server process pointed at it."""

    def __init__(self, url: str, prefix: str = "mangaassist:rate:") -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.from_url(url)
        self._take = self._client.register_script(_TAKE_SCRIPT)
        self._prefix = prefix

    async def take(self, rule: RateRule) -> RateDecision:
        """Take one token atomically; while Redis is unreachable, messages go through (logged)."""
        from redis.exceptions import RedisError

        try:
            allowed, tokens = await self._take(
                keys=[self._prefix + rule.key], args=[rule.capacity, rule.per_second]
            )
        except RedisError as exc:
            # Shoppers are not refused because the limiter's store is down; the model-call cap
            # still bounds the cost.
            log.warning("rate limiter unavailable, message admitted: %s", type(exc).__name__)
            return RateDecision(allowed=True)
        if int(allowed):
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after_s=retry_after(float(tokens), rule.per_second))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


@asynccontextmanager
async def open_rate_limiter(settings: Settings) -> AsyncIterator[RateLimiter]:
    """Redis-backed when `redis_url` is set, else in memory."""
    if settings.redis_url is None:
        yield InMemoryRateLimiter()
        return
    limiter = RedisRateLimiter(settings.redis_url)
    try:
        yield limiter
    finally:
        await limiter.aclose()
