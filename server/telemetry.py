"""Request ids, structured logs, Prometheus metrics and analytics events of the service.

One `Telemetry` per application owns a private Prometheus registry and an analytics sink. The
module-level functions (`emit_turn`, `count_rate_limited`, ...) act on the telemetry of the app
being served, so code that only has a turn result in hand (the HTTP and WebSocket handlers, the
rate limiter) records it the same way.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import json
import logging
import queue
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily
from pydantic import BaseModel, Field

from graph.breakers import get_breakers
from graph.models import report_cap_refusals_to
from guardrails import metrics as guard_metrics
from mangaassist.contracts import TurnResult
from mangaassist.settings import Settings

log = logging.getLogger("mangaassist.telemetry")

_MAX_REQUEST_ID = 128
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def request_id_from(header: str | None) -> str:
    """The caller's `X-Request-ID` when it is 1–128 printable ASCII characters, else a new id."""
    if header and len(header) <= _MAX_REQUEST_ID and all(" " <= ch <= "~" for ch in header) and header.strip():
        return header
    return uuid.uuid4().hex


def bind_request_id(request_id: str) -> contextvars.Token[str | None]:
    """Tag every log line of the current task (and tasks it starts) with `request_id`."""
    return _request_id.set(request_id)


def unbind_request_id(token: contextvars.Token[str | None]) -> None:
    """Undo `bind_request_id`."""
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds the bound request id (or None) to every record as `record.request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate; never drops a record."""
        record.request_id = _request_id.get()
        return True


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, request_id, and any `extra` fields."""

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        line = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """Send the service's own loggers (`mangaassist.*`) to stderr as JSON lines, once per process."""
    root = logging.getLogger("mangaassist")
    root.setLevel(level.upper())
    if any(isinstance(h.formatter, JsonLogFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.propagate = False


class AnalyticsEvent(BaseModel):
    """What analytics learns about a turn, a rating or an escalation: never message text."""

    type: Literal["turn", "feedback", "escalation"]
    ts: float = Field(default_factory=time.time)
    request_id: str
    session_hash: str = Field(description="Keyed hash of the session id: joins events, reveals no id.")
    intent: str | None = None
    language: str | None = None
    tier: str | None = None
    guardrail_action: str | None = None
    guardrails_fired: list[str] = Field(default_factory=list)
    latencies_ms: dict[str, float] = Field(default_factory=dict)
    rating: Literal["up", "down"] | None = None
    message_id: str | None = None
    ticket_id: str | None = None


class AnalyticsSink(Protocol):
    """Where analytics events go. `emit` must not block the event loop."""

    def emit(self, event: AnalyticsEvent) -> None:
        """Queue one event."""

    async def aclose(self) -> None:
        """Deliver what is queued and release resources."""


class NullSink:
    """Drops every event (`MANGAASSIST_ANALYTICS_SINK=none`)."""

    def emit(self, event: AnalyticsEvent) -> None:
        """Drop it."""

    async def aclose(self) -> None:
        """Nothing to release."""


class JsonlSink:
    """Appends events to a JSONL file from a writer thread, so a slow disk never stalls a request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="analytics-jsonl", daemon=True)
        self._thread.start()

    def emit(self, event: AnalyticsEvent) -> None:
        """Queue the event's JSON line."""
        self._queue.put(event.model_dump_json(exclude_none=True) + "\n")

    def _drain(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            while (line := self._queue.get()) is not None:
                fh.write(line)
                if self._queue.empty():
                    fh.flush()

    async def aclose(self) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join, 10)


def sink_for(settings: Settings) -> AnalyticsSink:
    """The configured analytics sink."""
    if settings.analytics_sink == "none":
        return NullSink()
    return JsonlSink(settings.data_dir / "analytics.jsonl")


# `*_created` series double the exposition and no dashboard of ours reads them.
disable_created_metrics()

_NODE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
# pybreaker's state names, as a number a dashboard can plot and alert on.
BREAKER_STATE_VALUES = {"closed": 0.0, "half-open": 1.0, "open": 2.0}


class GuardEventCollector:
    """The guards' own process counters (`guardrails/metrics.py`) as `mangaassist_guard_events_total`:
    injections refused and PII redacted on input (by language or kind), output stages fired and
    stage errors (by stage)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        """One sample per event and label, read at scrape time."""
        family = CounterMetricFamily(
            "mangaassist_guard_events", "Guardrail events by kind.", labels=["event", "label"]
        )
        for key, value in sorted(guard_metrics.snapshot().items()):
            event, _, label = key.partition(":")
            if label:
                family.add_metric([event, label], value)
        yield family


class Telemetry:
    """The metrics registry and analytics sink of one application."""

    def __init__(self, settings: Settings, sink: AnalyticsSink) -> None:
        self.sink = sink
        self._hash_key = settings.token_secret.encode()
        self.registry = CollectorRegistry()
        r = self.registry
        self.turns = Counter("mangaassist_turns", "Turns answered.",
                             ["intent", "language", "tier", "guardrail_action"], registry=r)
        self.turn_latency = Histogram("mangaassist_turn_latency_seconds", "Whole-turn latency.",
                                      ["language"], buckets=_TURN_BUCKETS, registry=r)
        self.node_latency = Histogram("mangaassist_node_latency_seconds", "Latency of each graph node.",
                                      ["node", "language"], buckets=_NODE_BUCKETS, registry=r)
        self.guardrails = Counter("mangaassist_guardrail_fired", "Guardrail stages that fired.",
                                  ["stage", "language"], registry=r)
        self.breaker_state = Gauge("mangaassist_breaker_state",
                                   "Breaker per dependency: 0 closed, 1 half-open, 2 open.", ["dependency"], registry=r)
        self.rate_limited = Counter("mangaassist_rate_limited", "Requests refused by a rate limit.",
                                    ["scope"], registry=r)
        self.feedback = Counter("mangaassist_feedback", "Ratings of answers.", ["rating", "language"], registry=r)
        self.escalations = Counter("mangaassist_escalations", "Handoff tickets opened.", ["language"], registry=r)
        r.register(GuardEventCollector())

    def session_hash(self, session_id: str) -> str:
        """Keyed, so a session id cannot be confirmed by hashing guesses."""
        return hmac.new(self._hash_key, session_id.encode(), hashlib.sha256).hexdigest()[:16]

    def turn(self, result: TurnResult) -> None:
        """Count a finished turn and emit its analytics event."""
        meta = result.metadata
        lang = result.language
        self.turns.labels(result.intent, lang, meta.model_tier, meta.guardrail_action).inc()
        if meta.elapsed_ms is not None:
            self.turn_latency.labels(lang).observe(meta.elapsed_ms / 1000)
        for node, ms in meta.timings_ms.items():
            self.node_latency.labels(node, lang).observe(ms / 1000)
        for stage in meta.guardrails_fired:
            self.guardrails.labels(stage, lang).inc()
        latencies = dict(meta.timings_ms)
        if meta.elapsed_ms is not None:
            latencies["turn"] = meta.elapsed_ms
        self.sink.emit(AnalyticsEvent(
            type="turn", request_id=result.request_id, session_hash=self.session_hash(result.session_id),
            intent=result.intent, language=lang, tier=meta.model_tier, guardrail_action=meta.guardrail_action,
            guardrails_fired=meta.guardrails_fired, latencies_ms=latencies,
        ))
        log.info("turn finished", extra={"intent": result.intent, "language": lang, "tier": meta.model_tier,
                                         "elapsed_ms": meta.elapsed_ms})

    def rated(self, request_id: str, session_id: str, message_id: str, rating: Literal["up", "down"],
              intent: str, language: str) -> None:
        """Count a rating and emit its event."""
        self.feedback.labels(rating, language).inc()
        self.sink.emit(AnalyticsEvent(
            type="feedback", request_id=request_id, session_hash=self.session_hash(session_id),
            intent=intent, language=language, rating=rating, message_id=message_id,
        ))

    def escalated(self, request_id: str, session_id: str, ticket_id: str, language: str,
                  intent: str | None) -> None:
        """Count an escalation and emit its event."""
        self.escalations.labels(language).inc()
        self.sink.emit(AnalyticsEvent(
            type="escalation", request_id=request_id, session_hash=self.session_hash(session_id),
            intent=intent, language=language, ticket_id=ticket_id,
        ))

    def exposition(self) -> bytes:
        """The Prometheus text exposition, with breaker states read now."""
        for name, breaker in get_breakers().by_name.items():
            self.breaker_state.labels(name).set(BREAKER_STATE_VALUES.get(breaker.state, 2.0))
        return generate_latest(self.registry)


_active: Telemetry | None = None


def activate(telemetry: Telemetry | None) -> None:
    """Make `telemetry` the one the module-level functions report to (the served app's)."""
    global _active
    _active = telemetry


def emit_turn(result: TurnResult) -> None:
    """Record a finished turn (metrics and analytics) on the served app's telemetry."""
    if _active is not None:
        _active.turn(result)


def count_rate_limited(scope: str) -> None:
    """Count one request refused by the rate limit named `scope` (e.g. "user", "guest", "model")."""
    if _active is not None:
        _active.rate_limited.labels(scope).inc()


# The model-call cap lives in graph code, which does not import the server: its refusals are counted
# here (nowhere while no app is active).
report_cap_refusals_to(count_rate_limited)
