"""Model tiers without a network: the litellm call is replaced by a scripted stream.

The real HTTP path (fake OpenAI-compatible server, retries, stalls, dying streams) is covered by
tests/integration/test_faults.py and test_model_tiers.py; these pin what those cannot see.
"""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litellm import ModelResponseStream
from litellm.types.utils import Delta, StreamingChoices

from graph import models, token_bucket
from graph.breakers import BreakerPolicy, DependencyBreaker
from graph.models import ModelTier, TierUnavailable
from graph.token_bucket import TokenBucket
from mangaassist.settings import get_settings
from server import telemetry


def _chunk(content: str | None = None, role: str | None = None, finish_reason: str | None = None) -> ModelResponseStream:
    return ModelResponseStream(
        choices=[StreamingChoices(delta=Delta(content=content, role=role), finish_reason=finish_reason)]
    )


class ScriptedStream:
    """Plays back chunks like litellm's stream wrapper; `pause_after` stalls after that many."""

    def __init__(self, chunks: list[ModelResponseStream], pause_after: int | None = None) -> None:
        self._chunks = list(chunks)
        self._sent = 0
        self._pause_after = pause_after
        self.closed = False

    def __aiter__(self) -> ScriptedStream:
        return self

    async def __anext__(self) -> ModelResponseStream:
        if self._sent == self._pause_after:
            await asyncio.sleep(3600)
        if not self._chunks:
            raise StopAsyncIteration
        self._sent += 1
        return self._chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


class FakeLiteLLM:
    """Stands in for `litellm.acompletion`, recording every call's arguments."""

    def __init__(self, streams: list[ScriptedStream]) -> None:
        self.streams = streams
        self.calls: list[dict[str, object]] = []

    async def acompletion(self, **kwargs: object) -> ScriptedStream:
        self.calls.append(kwargs)
        return self.streams[len(self.calls) - 1]


def _tier(cap: TokenBucket | None = None) -> ModelTier:
    settings = get_settings()
    breaker = DependencyBreaker("primary", BreakerPolicy.for_dependency(settings, "primary"))
    return ModelTier(
        "primary", "openai/scripted", "http://127.0.0.1:9", "key", True, breaker, settings,
        cap or TokenBucket(100.0, 100.0),
    )


@pytest.fixture
def fake_litellm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLiteLLM]:
    fake = FakeLiteLLM([])
    monkeypatch.setattr(models.litellm, "acompletion", fake.acompletion)
    yield fake


REPO = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]


async def test_deltas_stream_in_order_and_role_only_chunks_add_nothing(fake_litellm):
    stream = ScriptedStream([_chunk(role="assistant"), _chunk("Hel"), _chunk("lo"), _chunk(None)])
    fake_litellm.streams = [stream]
    seen: list[str] = []

    async def on_token(delta: str) -> None:
        seen.append(delta)

    text = await _tier().generate(MESSAGES, on_token, time.monotonic() + 5)
    assert (text, seen) == ("Hello", ["Hel", "lo"])
    assert stream.closed
    sent = fake_litellm.calls[0]
    assert sent["messages"] == MESSAGES and sent["stream"] is True and sent["max_retries"] == 0


async def test_the_answer_ends_at_its_finish_reason_without_waiting_for_the_stream_to_end(fake_litellm):
    # The server holds the stream open after the finish chunk: the answer is whole already.
    stream = ScriptedStream([_chunk("Hel"), _chunk("lo", finish_reason="stop"), _chunk("never")], pause_after=2)
    fake_litellm.streams = [stream]
    seen: list[str] = []

    async def on_token(delta: str) -> None:
        seen.append(delta)

    text = await _tier().generate(MESSAGES, on_token, time.monotonic() + 5)
    assert (text, seen) == ("Hello", ["Hel", "lo"])
    assert stream.closed


async def test_every_call_sends_the_same_arguments_whatever_the_deadline(fake_litellm):
    # litellm caches its HTTP client by these arguments (the timeout among them): a value that
    # changed per call would build a new client and connection for every call.
    fake_litellm.streams = [ScriptedStream([_chunk("a")]), ScriptedStream([_chunk("b")])]
    tier = _tier()

    async def on_token(delta: str) -> None:
        pass

    await tier.generate(MESSAGES, on_token, time.monotonic() + 5)
    await tier.generate(MESSAGES, on_token, time.monotonic() + 2.5)
    first, second = fake_litellm.calls
    assert first == second
    assert first["timeout"] == get_settings().llm_timeout_s


async def test_a_stream_cut_by_the_deadline_is_closed_and_not_retried(fake_litellm):
    stream = ScriptedStream([_chunk("partial "), _chunk("never")], pause_after=1)
    fake_litellm.streams = [stream]
    seen: list[str] = []

    async def on_token(delta: str) -> None:
        seen.append(delta)

    with pytest.raises(TierUnavailable, match="TimeoutError"):
        await _tier().generate(MESSAGES, on_token, time.monotonic() + 0.3)
    assert seen == ["partial "]
    assert stream.closed
    assert len(fake_litellm.calls) == 1


async def test_the_first_token_timeout_covers_the_request_itself(fake_litellm, monkeypatch):
    monkeypatch.setattr(get_settings(), "llm_first_token_timeout_s", 0.2)
    monkeypatch.setattr(get_settings(), "llm_max_retries", 0)

    async def never_answers(**kwargs: object) -> ScriptedStream:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    monkeypatch.setattr(models.litellm, "acompletion", never_answers)

    async def on_token(delta: str) -> None:
        pass

    started = time.monotonic()
    with pytest.raises(TierUnavailable):
        await _tier().generate(MESSAGES, on_token, time.monotonic() + 5)
    assert time.monotonic() - started < 1.0


async def test_cap_refusals_go_to_the_registered_reporter_and_into_metrics(fake_litellm):
    cap = TokenBucket(1.0, 1e-9)
    tier = _tier(cap)
    assert cap.take().allowed  # the one token is gone: the next call is over the cap

    async def on_token(delta: str) -> None:
        pass

    app_telemetry = telemetry.Telemetry(get_settings(), telemetry.NullSink())
    telemetry.activate(app_telemetry)
    try:
        with pytest.raises(TierUnavailable, match="cap reached"):
            await tier.generate(MESSAGES, on_token, time.monotonic() + 5)
    finally:
        telemetry.activate(None)
    metrics = app_telemetry.exposition().decode()
    assert 'mangaassist_rate_limited_total{scope="model"} 1.0' in metrics
    assert fake_litellm.calls == []
    # With no app serving, a refusal is still a refusal, reported to nobody.
    with pytest.raises(TierUnavailable, match="cap reached"):
        await tier.generate(MESSAGES, on_token, time.monotonic() + 5)


def test_token_bucket_refills_at_its_rate(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(token_bucket.time, "monotonic", lambda: now[0])
    bucket = TokenBucket(2.0, 0.5)
    assert bucket.take().allowed and bucket.take().allowed
    refused = bucket.take()
    assert not refused.allowed and refused.retry_after_s == 2
    now[0] += 2.0
    assert bucket.take().allowed


def test_graph_and_node_code_import_nothing_from_the_server():
    # The server imports the graph, never the other way round (the CLI's commands may import both).
    offenders = []
    for package in ("graph", "nodes", "tools", "guardrails"):
        for path in sorted((REPO / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n == "server" or n.startswith("server.") for n in names):
                    offenders.append(f"{package}/{path.name}")
    assert offenders == []
