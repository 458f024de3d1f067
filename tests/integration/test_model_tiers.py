"""Model tiers through litellm over HTTP to a local OpenAI-compatible server.

The service runs as a real subprocess; the fake model server is scripted per model name, so
streaming, HTTP errors and fallbacks are real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fake_llm import FakeLLMServer
from tests.support.processes import run_cli, running_server, service_env

pytestmark = pytest.mark.integration

PRIMARY_TEXT = "Frieren is a gentle fantasy about time and memory; volume one is a lovely start."
SECONDARY_TEXT = "From the secondary model: Frieren volume one is a great place to begin."


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


# Two of litellm's routes to an OpenAI-compatible server: the OpenAI SDK's, and its own HTTP
# client's (the self-hosted vLLM provider). Each streams chunks of its own shape.
PROVIDERS = ["openai", "hosted_vllm"]


def _env(tmp_path, llm: FakeLLMServer, primary: str, secondary: str, provider: str = "openai") -> dict[str, str]:
    return service_env(
        tmp_path,
        MANGAASSIST_LLM_PRIMARY=f"{provider}/{primary}",
        MANGAASSIST_LLM_PRIMARY_API_BASE=llm.base_url,
        MANGAASSIST_LLM_PRIMARY_API_KEY="sk-test",
        MANGAASSIST_LLM_SECONDARY=f"{provider}/{secondary}",
        MANGAASSIST_LLM_SECONDARY_API_BASE=llm.base_url,
        MANGAASSIST_LLM_SECONDARY_API_KEY="sk-test",
        MANGAASSIST_LLM_MAX_RETRIES="0",
        MANGAASSIST_LLM_FIRST_TOKEN_TIMEOUT_S="5",
    )


def _ask(env, message: str) -> dict:
    proc = run_cli(["ask", "--json", message], env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_primary_answers_and_gets_the_grounded_prompt(tmp_path, llm, provider):
    llm.script(f"p-ok-{provider}", [{"kind": "ok", "text": PRIMARY_TEXT, "chunk_chars": 6}])
    result = _ask(_env(tmp_path, llm, f"p-ok-{provider}", "s-unused", provider), "tell me about Frieren")
    assert result["metadata"]["model_tier"] == "primary"
    assert result["text"] == PRIMARY_TEXT
    sent = llm.requests(f"p-ok-{provider}")[0]
    assert sent["stream"] is True
    system = sent["messages"][0]["content"]
    assert "<product_data>" in system and "Frieren" in system and "never instructions" in system
    assert sent["messages"][-1] == {"role": "user", "content": "tell me about Frieren"}
    assert llm.requests("s-unused") == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_is_whole_at_its_finish_chunk_however_long_the_server_keeps_the_stream(tmp_path, llm, provider):
    llm.script(f"p-hold-{provider}", [{"kind": "ok", "text": PRIMARY_TEXT, "chunk_chars": 6, "hold_s": 120}])
    result = _ask(_env(tmp_path, llm, f"p-hold-{provider}", "s-unused2", provider), "tell me about Frieren")
    assert result["metadata"]["model_tier"] == "primary"
    assert result["text"] == PRIMARY_TEXT
    assert llm.requests("s-unused2") == []


def test_primary_500_falls_back_to_secondary(tmp_path, llm):
    llm.script("p-500", [], default={"kind": "error", "status": 500})
    llm.script("s-ok", [{"kind": "ok", "text": SECONDARY_TEXT}])
    result = _ask(_env(tmp_path, llm, "p-500", "s-ok"), "tell me about Frieren")
    assert result["metadata"]["model_tier"] == "secondary"
    assert result["text"] == SECONDARY_TEXT
    assert len(llm.requests("p-500")) == 1


def test_both_failing_falls_back_to_grounded(tmp_path, llm, services):
    llm.script("p-503", [], default={"kind": "error", "status": 503})
    llm.script("s-429", [], default={"kind": "error", "status": 429, "retry_after": 1})
    result = _ask(_env(tmp_path, llm, "p-503", "s-429"), "how much is Frieren volume 2?")
    assert result["metadata"]["model_tier"] == "grounded"
    product = services.catalog.volume("frieren-beyond-journeys-end", 2, "print", "EN")
    assert f"${product.current_price:.2f}" in result["text"]
    assert llm.requests("p-503") and llm.requests("s-429")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_mid_stream_death_falls_back(tmp_path, llm, provider):
    llm.script(f"p-die-{provider}", [{"kind": "die", "after_chunks": 2, "text": PRIMARY_TEXT, "chunk_chars": 5}])
    llm.script(f"s-ok2-{provider}", [{"kind": "ok", "text": SECONDARY_TEXT}])
    result = _ask(_env(tmp_path, llm, f"p-die-{provider}", f"s-ok2-{provider}", provider), "tell me about Frieren")
    assert result["metadata"]["model_tier"] == "secondary"
    assert result["text"] == SECONDARY_TEXT


def test_model_prices_are_checked_by_the_guardrails(tmp_path, llm, services):
    product = services.catalog.volume("berserk", 1, "print", "EN")
    llm.script("p-price", [{"kind": "ok", "text": "Berserk Vol. 1 is $0.99 right now. It is 60% off this week!"}])
    result = _ask(_env(tmp_path, llm, "p-price", "s-x"), "how much is Berserk volume 1?")
    assert result["metadata"]["model_tier"] == "primary"
    assert "$0.99" not in result["text"] and "60%" not in result["text"]
    assert "price_accuracy" in result["metadata"]["guardrails_fired"]
    assert result["metadata"]["guardrail_action"] == "modified"
    assert product.asin in [p["asin"] for p in result["products"]]


def test_tokens_stream_over_sse(tmp_path, llm):
    llm.script("p-stream", [], default={"kind": "ok", "text": PRIMARY_TEXT, "chunk_chars": 4, "delay_s": 0.01})
    with running_server(_env(tmp_path, llm, "p-stream", "s-y")) as base:
        events = []
        with httpx.stream(
            "POST", f"{base}/v1/chat/message", json={"message": "tell me about Frieren"},
            headers={"Accept": "text/event-stream"}, timeout=60,
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
    tokens = [e for e in events if e["type"] == "token"]
    assert len(tokens) >= 10
    assert "".join(t["delta"] for t in tokens) == PRIMARY_TEXT
    assert events[-1]["type"] == "final"
    assert events[-1]["result"]["metadata"]["model_tier"] == "primary"
