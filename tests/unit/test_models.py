"""Model tiers without a network: the litellm call is replaced by a scripted stream.

The real HTTP path (fake OpenAI-compatible server, retries, stalls, dying streams) is covered by
tests/integration/test_faults.py and test_model_tiers.py; these pin what those cannot see.
"""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import Iterator
from typing import cast
from pathlib import Path

import pytest
from litellm import ModelResponseStream
from litellm.types.utils import Delta, StreamingChoices
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import Choice as SdkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta

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
    """Plays back chunks like litellm's stream wrapper; `pause_after` stalls after that many.

    Like the wrapper it holds the provider's parsed stream as `completion_stream` (here: itself,
    playing back the chunks as the provider parsed them), which `opened` says when it is there:
    "now", "lazily" (at `fetch_stream`, as litellm opens a Bedrock stream) or "sync" (a
    synchronous provider stream, which only the wrapper reads). `chunk_creator` converts a chunk
    the way the wrapper's does.
    """

    custom_llm_provider = "openai"

    def __init__(self, chunks: list[object], pause_after: int | None = None, opened: str = "now") -> None:
        self._chunks = list(chunks)
        self._sent = 0
        self._pause_after = pause_after
        self._opened = opened
        self.closed = False
        self.completion_stream: object = self if opened == "now" else None
        self.converted: list[object] = []

    async def fetch_stream(self) -> object:
        if self.completion_stream is None:
            self.completion_stream = self if self._opened == "lazily" else iter(())
        return self.completion_stream

    def __aiter__(self) -> ScriptedStream:
        return self

    async def __anext__(self) -> object:
        if self._sent == self._pause_after:
            await asyncio.sleep(3600)
        if not self._chunks:
            raise StopAsyncIteration
        self._sent += 1
        return self._chunks.pop(0)

    def chunk_creator(self, chunk: object) -> ModelResponseStream | None:
        """A provider's own shape, here `("text", "finish reason")`, as a litellm chunk."""
        self.converted.append(chunk)
        text, finish = cast(tuple[str, str | None], chunk)
        return _chunk(text or None, finish_reason=finish) if text or finish else None

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


def _sdk_chunk(content: str | None, finish_reason: str | None = None) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c", object="chat.completion.chunk", created=0, model="m",
        choices=[SdkChoice(index=0, delta=ChoiceDelta(content=content), finish_reason=finish_reason)],
    )


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([_chunk(role="assistant"), _chunk("Hel"), _chunk("lo", finish_reason="stop"), _chunk("x")], id="litellm"),
        pytest.param([_sdk_chunk(None), _sdk_chunk("Hel"), _sdk_chunk("lo"), _sdk_chunk(None, "stop"), _sdk_chunk("x")], id="openai-sdk"),
        pytest.param(
            [
                {"text": "Hel", "is_finished": False, "finish_reason": "", "usage": None},
                {"text": "lo", "is_finished": True, "finish_reason": "stop", "usage": None},
                {"text": "x", "is_finished": False, "finish_reason": "", "usage": None},
            ],
            id="generic",
        ),
        pytest.param([None, ("Hel", None), ("", None), ("lo", "stop"), ("x", None)], id="converted-by-litellm"),
    ],
)
async def test_every_shape_a_provider_streams_gives_the_answer_up_to_its_finish(fake_litellm, chunks):
    stream = ScriptedStream(chunks)
    fake_litellm.streams = [stream]
    seen: list[str] = []

    async def on_token(delta: str) -> None:
        seen.append(delta)

    text = await _tier().generate(MESSAGES, on_token, time.monotonic() + 5)
    assert (text, seen) == ("Hello", ["Hel", "lo"])
    assert stream.closed
    # Only a shape this tier does not read goes through litellm's conversion.
    assert stream.converted == ([("Hel", None), ("", None), ("lo", "stop")] if isinstance(chunks[1], tuple) else [])


@pytest.mark.parametrize("opened", ["lazily", "sync"])
async def test_a_provider_stream_opened_at_the_first_read_or_synchronous_is_read_too(fake_litellm, opened):
    stream = ScriptedStream([_chunk("Hel"), _chunk("lo", finish_reason="stop"), _chunk("x")], opened=opened)
    fake_litellm.streams = [stream]

    async def on_token(delta: str) -> None:
        pass

    assert await _tier().generate(MESSAGES, on_token, time.monotonic() + 5) == "Hello"
    assert stream.closed


class BrokenChunk:
    """A chunk the provider's parser chokes on."""

    @property
    def choices(self) -> list[object]:
        raise ValueError("unparseable chunk")


async def test_a_provider_stream_that_fails_to_parse_is_a_provider_failure_and_retried(fake_litellm, monkeypatch):
    monkeypatch.setattr(get_settings(), "llm_max_retries", 1)
    fake_litellm.streams = [ScriptedStream([BrokenChunk()]), ScriptedStream([_chunk("ok", finish_reason="stop")])]

    async def on_token(delta: str) -> None:
        pass

    assert await _tier().generate(MESSAGES, on_token, time.monotonic() + 5) == "ok"
    assert len(fake_litellm.calls) == 2

    fake_litellm.calls.clear()
    monkeypatch.setattr(get_settings(), "llm_max_retries", 0)
    fake_litellm.streams = [ScriptedStream([BrokenChunk()])]
    with pytest.raises(TierUnavailable, match="APIConnectionError"):
        await _tier().generate(MESSAGES, on_token, time.monotonic() + 5)


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
