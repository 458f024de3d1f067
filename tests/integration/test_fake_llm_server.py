"""The scripted fake LLM server, exercised through litellm (the client the service uses)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.fake_llm import DEFAULT_TEXT, FakeLLMServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [
    {"role": "system", "content": "You are a test double."},
    {"role": "user", "content": "Say something about order 1234."},
]

pytestmark = pytest.mark.integration


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def server():
    collector = _Collect()
    watched = [logging.getLogger(name) for name in ("uvicorn.error", "asyncio")]
    for log in watched:
        log.addHandler(collector)
    try:
        with FakeLLMServer() as srv:
            yield srv
    finally:
        for log in watched:
            log.removeHandler(collector)
    # Everything the server logged at WARNING+ (client disconnects, dropped
    # connections, stalls cut short) - there must be nothing, least of all tracebacks.
    noisy = [f"{r.name}: {r.getMessage()}" for r in collector.records]
    assert not noisy, noisy


@pytest.fixture
def llm(monkeypatch, server):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    monkeypatch.setattr(litellm, "suppress_debug_info", True)
    server.reset()
    return litellm


def _call(llm, server, model: str, **kwargs):
    params = {
        "model": f"openai/{model}",
        "api_base": server.base_url,
        "api_key": "sk-test",
        "messages": MESSAGES,
        "num_retries": 0,
        "max_retries": 0,
    }
    params.update(kwargs)
    return llm.acompletion(**params)


async def _collect_stream(response) -> list[str]:
    pieces = []
    async for chunk in response:
        content = chunk.choices[0].delta.content if chunk.choices else None
        if content:
            pieces.append(content)
    return pieces


def _chain(exc: BaseException):
    seen = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(
            [current.__cause__, current.__context__, getattr(current, "original_exception", None)]
        )


@pytest.mark.asyncio
async def test_streaming_text_reassembles(llm, server):
    text = "The quick brown fox jumps over the lazy dog, twice over."
    server.script("stream-ok", [{"kind": "ok", "text": text, "chunk_chars": 5}])

    response = await _call(llm, server, "stream-ok", stream=True)
    pieces = await _collect_stream(response)

    assert "".join(pieces) == text
    assert len(pieces) == len(range(0, len(text), 5))
    (request,) = server.requests("stream-ok")
    assert request["stream"] is True
    assert request["model"] == "stream-ok"
    assert request["messages"][-1]["content"] == "Say something about order 1234."


@pytest.mark.asyncio
async def test_non_streaming_and_default_step(llm, server):
    server.script("plain", [{"kind": "ok", "text": "first answer"}])

    first = await _call(llm, server, "plain")
    second = await _call(llm, server, "plain")  # steps exhausted -> default step

    assert first.choices[0].message.content == "first answer"
    assert first.choices[0].finish_reason == "stop"
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens > 0
    assert second.choices[0].message.content == DEFAULT_TEXT
    requests = server.requests("plain")
    assert [r["stream"] for r in requests] == [False, False]
    assert requests[0]["messages"] == MESSAGES


@pytest.mark.asyncio
async def test_scripts_are_per_model_and_default_is_scriptable(llm, server):
    server.script("model-a", [], default={"kind": "ok", "text": "always A"})
    server.script("model-b", [{"kind": "slow", "text": "B!", "delay_s": 0.05}])

    a1, b1, a2 = await asyncio.gather(
        _call(llm, server, "model-a"), _call(llm, server, "model-b"), _call(llm, server, "model-a")
    )

    assert a1.choices[0].message.content == a2.choices[0].message.content == "always A"
    assert b1.choices[0].message.content == "B!"
    assert len(server.requests("model-a")) == 2
    assert len(server.requests("model-b")) == 1
    assert len(server.requests()) == 3


@pytest.mark.asyncio
async def test_scripted_500_raises_internal_server_error(llm, server):
    server.script("err500", [{"kind": "error", "status": 500}])

    with pytest.raises(llm.InternalServerError) as info:
        await _call(llm, server, "err500")

    assert isinstance(info.value, openai.APIError)
    assert info.value.status_code == 500
    assert len(server.requests("err500")) == 1  # no hidden retries


@pytest.mark.asyncio
async def test_scripted_503_raises_service_unavailable(llm, server):
    server.script("err503", [{"kind": "error", "status": 503}])

    with pytest.raises(llm.ServiceUnavailableError):
        await _call(llm, server, "err503", stream=True)


@pytest.mark.asyncio
async def test_scripted_429_raises_rate_limit_error(llm, server):
    server.script("err429", [{"kind": "error", "status": 429, "retry_after": 2}])

    with pytest.raises(llm.RateLimitError):
        await _call(llm, server, "err429", stream=True)

    # The header itself, as seen by any client.
    server.script("err429", [{"kind": "error", "status": 429, "retry_after": 2}])
    async with httpx.AsyncClient(trust_env=False) as client:
        raw = await client.post(
            f"{server.base_url}/chat/completions", json={"model": "err429", "messages": MESSAGES}
        )
    assert raw.status_code == 429
    assert raw.headers["retry-after"] == "2"
    assert raw.json()["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.asyncio
async def test_die_raises_mid_stream_after_some_chunks(llm, server):
    server.script(
        "dies", [{"kind": "die", "after_chunks": 2, "text": "abcdefgh" * 6, "chunk_chars": 8}]
    )

    response = await _call(llm, server, "dies", stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError) as info:
        async for chunk in response:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    assert received == ["abcdefgh", "abcdefgh"]
    # litellm surfaces a broken stream as MidStreamFallbackError (a ServiceUnavailableError)
    # whose original exception is an APIConnectionError.
    assert isinstance(info.value, openai.APIError), repr(info.value)
    assert any(isinstance(e, llm.APIConnectionError) for e in _chain(info.value)), repr(info.value)


@pytest.mark.asyncio
async def test_stall_non_streaming_times_out(llm, server):
    server.script("stall", [{"kind": "stall", "seconds": 10}])

    started = time.monotonic()
    with pytest.raises(llm.Timeout):
        await _call(llm, server, "stall", timeout=1)
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_stall_streaming_times_out_before_first_chunk(llm, server):
    server.script("stall-stream", [{"kind": "stall", "seconds": 10}])

    started = time.monotonic()
    with pytest.raises(openai.APIError) as info:
        response = await _call(llm, server, "stall-stream", stream=True, timeout=1)
        await _collect_stream(response)
    assert time.monotonic() - started < 5

    # litellm reports a read timeout inside a stream as MidStreamFallbackError
    # (a ServiceUnavailableError) wrapping the httpx ReadTimeout.
    assert any(
        isinstance(e, (llm.Timeout, httpx.TimeoutException, asyncio.TimeoutError, TimeoutError))
        for e in _chain(info.value)
    ), repr(info.value)


@pytest.mark.asyncio
async def test_stall_then_answers_when_client_waits(llm, server):
    server.script("short-stall", [{"kind": "stall", "seconds": 0.3, "text": "late but fine"}])

    response = await _call(llm, server, "short-stall", stream=True, timeout=5)
    assert "".join(await _collect_stream(response)) == "late but fine"


def test_admin_api_rejects_bad_steps_and_lists_models(server):
    with pytest.raises(ValueError):
        server.script("bad", [{"kind": "explode"}])
    server.script("listed", [])
    models = httpx.get(f"{server.base_url}/models", trust_env=False).json()
    assert "listed" in {m["id"] for m in models["data"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
async def test_runs_as_separate_process(llm):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_llm", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=root, trust_env=False) as admin:
            deadline = time.monotonic() + 10
            while True:
                try:
                    if (await admin.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "server process did not come up"
                await asyncio.sleep(0.05)

            script = {
                "model": "remote",
                "steps": [{"kind": "ok", "text": "from afar"}, {"kind": "die", "after_chunks": 1}],
            }
            assert (await admin.post("/_admin/script", json=script)).status_code == 200

            response = await llm.acompletion(
                model="openai/remote",
                api_base=f"{root}/v1",
                api_key="sk-test",
                messages=MESSAGES,
                stream=True,
                num_retries=0,
                max_retries=0,
            )
            assert "".join(await _collect_stream(response)) == "from afar"

            dying = await llm.acompletion(
                model="openai/remote",
                api_base=f"{root}/v1",
                api_key="sk-test",
                messages=MESSAGES,
                stream=True,
                num_retries=0,
                max_retries=0,
            )
            with pytest.raises(openai.APIError):
                await _collect_stream(dying)

            logged = (await admin.get("/_admin/requests", params={"model": "remote"})).json()
            assert [r["stream"] for r in logged] == [True, True]
            assert (await admin.post("/_admin/reset")).status_code == 200
            assert (await admin.get("/_admin/requests")).json() == []
    finally:
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    assert "Traceback" not in stderr, stderr
    assert "ERROR" not in stderr, stderr
