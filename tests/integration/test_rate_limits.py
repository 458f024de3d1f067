"""Rate limits against the real server: HTTP 429 with Retry-After, limits shared through a real
Redis by two server processes, and the per-process cap on model calls."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from mangaassist.settings import Settings
from server.auth import mint_token
from tests.support.fake_llm import FakeLLMServer
from tests.support.processes import running_server, service_env
from tests.support.servers import redis_server

pytestmark = pytest.mark.integration
SECRET = "rate-test-secret-0123456789abcdef-0123456789"


def token(user_id: str) -> str:
    return mint_token(Settings(auth_secret=SECRET), user_id, 600)


def post(base: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{base}/v1/chat/message", json=body, headers=headers or {}, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    env = service_env(tmp_path_factory.mktemp("rate"), MANGAASSIST_LLM_MODE="off", MANGAASSIST_AUTH_SECRET=SECRET,
                      MANGAASSIST_RATE_GUEST_PER_MIN="3", MANGAASSIST_RATE_CUSTOMER_PER_MIN="4")
    with running_server(env) as base:
        yield base


def assert_429(response: httpx.Response, language: str = "en") -> int:
    assert response.status_code == 429
    retry_after = response.headers["retry-after"]
    assert re.fullmatch(r"\d+", retry_after) and 1 <= int(retry_after) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and retry_after in error["message"]
    if language == "ja":
        assert "秒後" in error["message"]
    return int(retry_after)


def test_guest_session_gets_429_with_retry_after(server):
    for _ in range(3):
        assert post(server, {"message": "hello", "session_id": "guest-a"}).status_code == 200
    assert_429(post(server, {"message": "hello", "session_id": "guest-a"}))
    # SSE is refused the same way, before any stream starts; Japanese callers read Japanese.
    sse = post(server, {"message": "こんにちは", "session_id": "guest-a"},
               {"Accept": "text/event-stream", "Accept-Language": "ja"})
    assert_429(sse, "ja")
    # Another guest session has its own bucket.
    assert post(server, {"message": "hello", "session_id": "guest-b"}).status_code == 200


def test_customer_limit_spans_their_sessions(server):
    headers = {"Authorization": f"Bearer {token('C1005')}"}
    for i in range(4):
        assert post(server, {"message": "hello", "session_id": f"c5-{i}"}, headers).status_code == 200
    assert_429(post(server, {"message": "hello", "session_id": "c5-new"}, headers))
    other = {"Authorization": f"Bearer {token('C1006')}"}
    assert post(server, {"message": "hello", "session_id": "c6-0"}, other).status_code == 200


def test_metrics_count_rejections(server):
    text = httpx.get(f"{server}/metrics", timeout=10).text
    counts = dict(re.findall(r'mangaassist_rate_limited_total\{scope="(\w+)"\} (\d+)', text.replace(".0", "")))
    assert int(counts.get("guest", 0)) >= 2 and int(counts.get("user", 0)) >= 1


def test_two_processes_share_one_limit_through_redis(tmp_path):
    with redis_server() as redis_url:
        envs = [service_env(tmp_path / name, MANGAASSIST_LLM_MODE="off", MANGAASSIST_REDIS_URL=redis_url)
                for name in ("a", "b")]
        with running_server(envs[0]) as first, running_server(envs[1]) as second:
            # Each process keeps its own sessions (no shared database here): one session per process,
            # the same guest bucket key in Redis.
            codes = [post((first, second)[i % 2], {"message": "hello", "session_id": "shared-guest"}).status_code
                     for i in range(10)]
            assert codes == [200] * 10
            assert_429(post(first, {"message": "hello", "session_id": "shared-guest"}))
            assert_429(post(second, {"message": "hello", "session_id": "shared-guest"}))
            assert post(second, {"message": "hello", "session_id": "other-guest"}).status_code == 200


def test_model_call_cap_skips_tiers_and_says_so(tmp_path):
    with FakeLLMServer() as llm:
        llm.script("cap-p", [], default={"kind": "ok", "text": "Frieren is a gentle fantasy about time."})
        llm.script("cap-s", [], default={"kind": "ok", "text": "From the secondary model."})
        env = service_env(
            tmp_path, MANGAASSIST_MODEL_CALLS_PER_S="0.01",
            MANGAASSIST_LLM_PRIMARY="openai/cap-p", MANGAASSIST_LLM_PRIMARY_API_BASE=llm.base_url,
            MANGAASSIST_LLM_PRIMARY_API_KEY="sk-test",
            MANGAASSIST_LLM_SECONDARY="openai/cap-s", MANGAASSIST_LLM_SECONDARY_API_BASE=llm.base_url,
            MANGAASSIST_LLM_SECONDARY_API_KEY="sk-test", MANGAASSIST_LLM_MAX_RETRIES="0",
        )
        with running_server(env) as base:
            first = post(base, {"message": "tell me about Frieren", "session_id": "cap-1"}).json()
            second = post(base, {"message": "tell me about Berserk", "session_id": "cap-2"}).json()
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert first["metadata"]["model_tier"] == "primary"
        # One call a 100 s: the second turn's tiers are both over the cap and the fallback answers.
        assert second["metadata"]["model_tier"] in ("cache", "grounded")
        assert {"primary", "secondary"} <= set(second["metadata"]["degraded"])
        assert "Berserk" in second["text"]
        assert len(llm.requests("cap-p")) == 1 and llm.requests("cap-s") == []
        assert re.search(r'mangaassist_rate_limited_total\{scope="model"\} 2', metrics)
