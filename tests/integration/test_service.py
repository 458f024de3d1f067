"""The HTTP service and the CLI as shoppers and operators use them, on the embedded default."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from mangaassist.settings import Settings
from server.auth import mint_token
from tests.support.processes import run_cli, running_server, service_env

pytestmark = pytest.mark.integration
SECRET = "service-test-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    env = service_env(tmp_path_factory.mktemp("svc"), MANGAASSIST_LLM_MODE="off", MANGAASSIST_AUTH_SECRET=SECRET)
    with running_server(env) as base:
        yield base


def test_chat_message_returns_the_turn_result(server, services):
    response = httpx.post(f"{server}/v1/chat/message", json={"message": "ワンピースの5巻はいくら？"}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"request_id", "session_id", "intent", "intent_confidence", "language", "text",
                         "products", "quick_replies", "metadata"}
    assert body["intent"] == "price_check" and body["language"] == "ja"
    product = services.catalog.volume("one-piece", 5, "print", "JA")
    assert body["products"][0]["asin"] == product.asin and body["products"][0]["price"] == product.current_price
    assert set(body["metadata"]) >= {"model_tier", "guardrail_action", "guardrails_fired", "retrieval", "timings_ms"}
    assert response.headers["x-request-id"] == body["request_id"]


def test_conversation_continues_by_session(server):
    first = httpx.post(f"{server}/v1/chat/message", json={"message": "recommend a horror manga"}, timeout=30).json()
    follow = httpx.post(
        f"{server}/v1/chat/message",
        json={"message": "how much is the first one?", "session_id": first["session_id"]},
        timeout=30,
    ).json()
    assert follow["intent"] == "price_check"
    assert follow["products"][0]["asin"] == first["products"][0]["asin"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (json.dumps({"message": ""}).encode(), 400, "empty"),
        (json.dumps({"message": "x" * 4001}).encode(), 400, "too_long"),
        (json.dumps({"message": 5}).encode(), 422, "invalid_request"),
        (json.dumps({"nope": "hi"}).encode(), 422, "invalid_request"),
        (json.dumps({"message": "hi", "session_id": "../../etc"}).encode(), 422, "invalid_request"),
    ],
)
def test_bad_requests_get_json_errors(server, body, status, code):
    response = httpx.post(f"{server}/v1/chat/message", content=body,
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_unknown_route_and_method(server):
    assert httpx.get(f"{server}/nope").json()["error"]["code"] == "not_found"
    assert httpx.get(f"{server}/v1/chat/message").status_code == 405
    assert httpx.get(f"{server}/readyz").json() == {"status": "ready"}


def test_another_callers_session_is_not_found(server):
    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(Settings(auth_secret=SECRET), user, 600)}"}

    first = httpx.post(f"{server}/v1/chat/message", json={"message": "hi"}, headers=auth("C1001"), timeout=30).json()
    for headers in (auth("C1002"), {}):
        other = httpx.post(f"{server}/v1/chat/message", json={"message": "hi", "session_id": first["session_id"]},
                           headers=headers, timeout=30)
        assert other.status_code == 404 and other.json()["error"]["code"] == "session_not_found"


def test_cli_ask_jsonl(tmp_path, services):
    env = service_env(tmp_path, MANGAASSIST_LLM_MODE="off")
    lines = "\n".join([
        "recommend a romance manga",
        json.dumps({"message": "where is my order?", "user_id": "C1002"}),
        json.dumps({"message": "ベルセルクの1巻はいくら？", "session_id": "cli-1"}),
    ])
    proc = run_cli(["ask", "--jsonl"], env, stdin=lines)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["intent"] for r in results] == ["recommendation", "order_status", "price_check"]
    assert all("romance" in p["genres"] for p in results[0]["products"])
    assert results[2]["session_id"] == "cli-1"
    berserk = services.catalog.volume("berserk", 1, "print", "JA")
    assert results[2]["products"][0]["price"] == berserk.current_price


def test_cli_reports_bad_input_without_traceback(tmp_path):
    env = service_env(tmp_path, MANGAASSIST_LLM_MODE="off")
    empty = run_cli(["ask", ""], env)
    assert empty.returncode == 2 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    missing = run_cli(["ask"], env)
    assert missing.returncode == 2 and "needs a message" in missing.stderr
    batch = run_cli(["ask", "--jsonl"], env, stdin='{"message": 5}\nhello\n{broken\n')
    assert batch.returncode == 1
    out = [json.loads(line) for line in batch.stdout.splitlines()]
    assert out[0]["error"]["line"] == 1 and out[1]["intent"] == "chitchat" and out[2]["error"]["line"] == 3
    bad_setting = run_cli(["ask", "hi"], {**env, "MANGAASSIST_LLM_MODE": "sometimes"})
    assert bad_setting.returncode == 2 and "invalid settings" in bad_setting.stderr


def test_cli_chat_streams_a_conversation(tmp_path):
    env = service_env(tmp_path, MANGAASSIST_LLM_MODE="off")
    proc = run_cli(["chat", "--session", "chat-1"], env, stdin="recommend a horror manga\nhow much is the first one?\n\n")
    assert proc.returncode == 0, proc.stderr
    assert "horror picks" in proc.stdout
    assert proc.stdout.count("assistant> ") >= 2 and "Vol. 1" in proc.stdout


def test_a_server_that_cannot_start_reports_its_own_error(tmp_path):
    env = service_env(tmp_path, MANGAASSIST_LLM_MODE="off", MANGAASSIST_SESSION_TTL_HOURS="-1")
    with pytest.raises(RuntimeError, match="mangaassist serve exited early") as err, running_server(env):
        pass
    # The server's own output, not only its exit code, says what went wrong.
    assert "session_ttl_hours" in str(err.value)
