"""Circuit breakers per dependency (each model tier, catalog, pricing, orders, recommendations,
retrieval), with a sliding-window failure-rate policy on top of pybreaker's consecutive count.

pybreaker opens after `fail_max` consecutive failures; the `SlidingWindow` listener also opens the
breaker when more than `failure_rate` of the calls in the last `window_s` seconds failed or timed
out, once `min_calls` calls were seen (so one early failure cannot open a quiet breaker). After
`reset_s` an open breaker goes half-open and admits only `half_open_fraction` of the traffic;
the first admitted call that succeeds closes it, one that fails opens it again.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

import httpx
import pybreaker

from mangaassist.settings import Settings, get_settings

Dependency = Literal[
    "primary", "secondary", "catalog", "pricing", "orders", "recommendations", "retrieval"
]
DEPENDENCIES: tuple[Dependency, ...] = Dependency.__args__  # type: ignore[attr-defined]
MODEL_DEPENDENCIES: tuple[Dependency, ...] = ("primary", "secondary")

# What a failing store tool raises: timeouts, I/O, its database, its HTTP client, an open breaker.
# Anything else is a bug and must surface, not be turned into a degraded answer.
TOOL_FAILURES = (
    TimeoutError, OSError, sqlite3.Error, httpx.HTTPError, pybreaker.CircuitBreakerError
)


def _client_error(exc: BaseException) -> bool:
    """A 4xx other than 408/429 is our request's fault, not the dependency's: never a failure."""
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in (408, 429)


@dataclass(frozen=True)
class BreakerPolicy:
    """One dependency's breaker settings."""

    window_s: float
    failure_rate: float
    min_calls: int
    fail_max: int
    reset_s: float
    half_open_fraction: float

    @classmethod
    def for_dependency(cls, settings: Settings, name: str) -> BreakerPolicy:
        """The configured defaults with the dependency's overrides applied."""
        override = settings.breaker_overrides.get(name, {})
        return cls(
            window_s=override.get("window_s", settings.breaker_window_s),
            failure_rate=override.get("failure_rate", settings.breaker_failure_rate),
            min_calls=int(override.get("min_calls", settings.breaker_min_calls)),
            fail_max=int(override.get("fail_max", settings.breaker_fail_max)),
            reset_s=override.get("reset_s", settings.breaker_reset_s),
            half_open_fraction=override.get("half_open_fraction", settings.breaker_half_open_fraction),
        )


class SlidingWindow(pybreaker.CircuitBreakerListener):
    """Keeps each call's outcome for `window_s` seconds and opens the breaker on a high failure rate."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: deque[tuple[float, bool]] = deque()
        # Failures among `_calls`, kept as calls come and go: a busy window holds thousands of
        # calls, and every call's outcome is checked against it.
        self._failures = 0

    def _expire(self, now: float) -> None:
        cutoff = now - self.policy.window_s
        while self._calls and self._calls[0][0] < cutoff:
            self._failures -= self._calls.popleft()[1]

    def _record(self, failed: bool) -> tuple[int, int]:
        now = self._clock()
        with self._lock:
            self._calls.append((now, failed))
            self._failures += failed
            self._expire(now)
            return len(self._calls), self._failures

    def counts(self) -> tuple[int, int]:
        """Calls and failures currently in the window."""
        with self._lock:
            self._expire(self._clock())
            return len(self._calls), self._failures

    def success(self, cb: pybreaker.CircuitBreaker) -> None:
        """Count a call that succeeded."""
        self._record(False)

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        """Count a failed or timed-out call; open the breaker when the window's rate is too high."""
        calls, failures = self._record(True)
        if (
            cb.current_state == pybreaker.STATE_CLOSED
            and calls >= self.policy.min_calls
            and failures / calls > self.policy.failure_rate
        ):
            cb.open()

    def state_change(self, cb: pybreaker.CircuitBreaker, old: Any, new: Any) -> None:
        """Start a fresh window when the breaker closes."""
        # A closed breaker starts a fresh window: the failures that opened it are history.
        if new.name == pybreaker.STATE_CLOSED:
            with self._lock:
                self._calls.clear()
                self._failures = 0


class DependencyBreaker:
    """A pybreaker breaker plus its window and the half-open admission fraction."""

    def __init__(
        self, name: str, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.policy = policy
        self.window = SlidingWindow(policy, clock)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=policy.fail_max,
            reset_timeout=policy.reset_s,
            exclude=[_client_error],
            listeners=[self.window],
            name=name,
        )
        self._clock = clock

    @property
    def state(self) -> str:
        """closed, open or half-open (an open breaker past its reset time reports half-open)."""
        state = self.breaker.current_state
        if state == pybreaker.STATE_OPEN and self._open_elapsed() >= self.policy.reset_s:
            return pybreaker.STATE_HALF_OPEN
        return str(state)

    def _open_elapsed(self) -> float:
        opened_at = self.breaker._state_storage.opened_at  # pybreaker keeps it only there
        if opened_at is None:
            return 0.0
        return (datetime.now(UTC) - opened_at).total_seconds()

    def admits(self) -> bool:
        """Whether a call may go through now; half-open lets only a fraction of callers try."""
        state = self.state
        if state == pybreaker.STATE_CLOSED:
            return True
        if state == pybreaker.STATE_OPEN:
            return False
        return random.random() < self.policy.half_open_fraction

    def calling(self) -> Any:
        """pybreaker's context manager: counts the block's outcome, raises if the breaker is open."""
        return self.breaker.calling()

    def snapshot(self) -> dict[str, Any]:
        """State and window counts, for /metrics."""
        calls, failures = self.window.counts()
        return {
            "state": self.state,
            "window_calls": calls,
            "window_failures": failures,
            "consecutive_failures": self.breaker.fail_counter,
        }


class Breakers:
    """The process's breakers, one per dependency, and how long the model path has been down."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.by_name = {
            name: DependencyBreaker(name, BreakerPolicy.for_dependency(settings, name))
            for name in DEPENDENCIES
        }
        self._models_down_since: float | None = None

    def __getitem__(self, name: Dependency) -> DependencyBreaker:
        return self.by_name[name]

    def states(self) -> dict[str, str]:
        """Every breaker's state, for the turn's metadata."""
        return {name: b.state for name, b in self.by_name.items()}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every breaker's state and counts, for /metrics."""
        return {name: b.snapshot() for name, b in self.by_name.items()}

    def model_outcome(self, answered: bool) -> None:
        """Note whether a model tier answered; the banner clock runs while none does."""
        if answered:
            self._models_down_since = None
        elif self._models_down_since is None:
            self._models_down_since = time.monotonic()

    def models_down_for(self) -> float:
        """Seconds since a model tier last answered after failing (0 while the path is healthy)."""
        if self._models_down_since is None:
            return 0.0
        return time.monotonic() - self._models_down_since

    def banner_due(self) -> bool:
        """Tier 3: the model path has been unavailable longer than configured."""
        return self.models_down_for() >= self.settings.degraded_banner_after_s


@lru_cache(maxsize=1)
def get_breakers() -> Breakers:
    """The process's breakers, built once so their state lasts across turns."""
    return Breakers(get_settings())


def remaining_s(started: float, settings: Settings) -> float:
    """Seconds left in a turn that started at `started` (monotonic)."""
    return started + settings.turn_deadline_s - time.monotonic()


Node = Callable[..., Awaitable[dict[str, Any]]]
# Key prefix of a failed tool call's marker in `tool_results`.
UNAVAILABLE = "unavailable:"


def protected(
    node: Node, dependency: Dependency, on_failure: Callable[[str], dict[str, Any]]
) -> Node:
    """Run a tool node behind its dependency's breaker and timeout; failing, `on_failure(reason)`.

    The timeout is the tool's configured one, cut to what is left of the turn's deadline.
    """

    @functools.wraps(node)
    async def wrapper(state: Any, runtime: Any) -> dict[str, Any]:
        settings = get_settings()
        breakers = get_breakers()
        breaker = breakers[dependency]
        if not breaker.admits():
            return on_failure("circuit open")
        context = runtime.context
        started = context.started if context is not None else time.monotonic()
        left = max(remaining_s(started, settings), 0.05)
        timeout = min(settings.tool_timeouts_s.get(dependency, 1.0), left)
        try:
            with breaker.calling():
                async with asyncio.timeout(timeout):
                    return await node(state, runtime)
        except TimeoutError:
            return on_failure(f"timed out after {timeout * 1000:.0f} ms")
        except TOOL_FAILURES as exc:
            return on_failure(type(exc).__name__)

    return wrapper


def unavailable_tool(node_name: str, dependency: Dependency) -> Callable[[str], dict[str, Any]]:
    """The update a failed tool node leaves: a marker under its own key of `tool_results`.

    One key per node, because parallel tool nodes merge their `tool_results` shallowly.
    """

    def update(reason: str) -> dict[str, Any]:
        marker = {"dependency": dependency, "reason": reason}
        return {"tool_results": {f"{UNAVAILABLE}{node_name}": marker}}

    return update



def unavailable_dependencies(tool_results: dict[str, Any]) -> list[str]:
    """The dependencies whose tool calls failed this turn."""
    return sorted(
        {v["dependency"] for k, v in tool_results.items() if k.startswith(UNAVAILABLE)}
    )
