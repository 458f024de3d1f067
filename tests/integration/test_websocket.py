"""The streaming protocol against the real server: WebSocket v1/v2 and SSE frames.

The server runs as a subprocess on loopback; the model tiers talk to the scripted
OpenAI-compatible server over HTTP where a test needs a model's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from mangaassist.settings import Settings
from server.auth import mint_token
from server.frames import (
    AckFrame,
    CorrectionFrame,
    ErrorFrame,
    FinalFrame,
    PongFrame,
    RatedTurnResult,
    TokenFrame,
)
from tests.support.fake_llm import FakeLLMServer
from tests.support.processes import running_server, service_env

pytestmark = pytest.mark.integration
SECRET = "ws-test-secret-0123456789abcdef-0123456789"
FRAME_MODELS = {"token": TokenFrame, "correction": CorrectionFrame, "final": FinalFrame, "ack": AckFrame,
                "error": ErrorFrame, "pong": PongFrame}


def token(user_id: str) -> str:
    return mint_token(Settings(auth_secret=SECRET), user_id, 600)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    env = service_env(tmp_path_factory.mktemp("ws"), MANGAASSIST_LLM_MODE="off", MANGAASSIST_AUTH_SECRET=SECRET)
    with running_server(env) as base:
        yield base


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def model_server(tmp_path_factory, llm) -> Iterator[str]:
    """Both tiers on the scripted model server; a turn budget long enough for slow streams."""
    env = service_env(
        tmp_path_factory.mktemp("ws-llm"),
        MANGAASSIST_AUTH_SECRET=SECRET,
        MANGAASSIST_LLM_PRIMARY="openai/ws-primary",
        MANGAASSIST_LLM_PRIMARY_API_BASE=llm.base_url,
        MANGAASSIST_LLM_PRIMARY_API_KEY="sk-test",
        MANGAASSIST_LLM_SECONDARY="openai/ws-secondary",
        MANGAASSIST_LLM_SECONDARY_API_BASE=llm.base_url,
        MANGAASSIST_LLM_SECONDARY_API_KEY="sk-test",
        MANGAASSIST_LLM_MAX_RETRIES="0",
        MANGAASSIST_TURN_DEADLINE_S="60",
        MANGAASSIST_LLM_TIMEOUT_S="60",
        MANGAASSIST_LLM_FIRST_TOKEN_TIMEOUT_S="10",
        MANGAASSIST_TTFT_TARGET_S="10",
    )
    with running_server(env) as base:
        yield base


def ws_url(base: str, **query: str) -> str:
    return base.replace("http://", "ws://") + "/v1/chat/ws?" + "&".join(f"{k}={v}" for k, v in query.items())


def parse(raw: str | bytes) -> dict:
    """Decode a server frame and check it against the protocol's schema (extra fields refused)."""
    frame = json.loads(raw)
    model = FRAME_MODELS[frame["type"]]
    assert set(frame) <= set(model.model_fields), frame
    model.model_validate(frame)
    return frame


async def recv(ws) -> dict:
    return parse(await asyncio.wait_for(ws.recv(), timeout=60))


async def turn(ws, message: str, **extra) -> list[dict]:
    """Send a message; the frames up to its final (or error) frame."""
    await ws.send(json.dumps({"type": "message", "message": message, **extra}))
    frames = []
    while not frames or frames[-1]["type"] not in ("final", "error"):
        frames.append(await recv(ws))
    return frames


def check_turn(frames: list[dict], version: int) -> dict:
    """One turn's frames: seq 1..n, one request id, tokens (+ correction) = the answer; the result."""
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert len({f["request_id"] for f in frames}) == 1
    kinds = [f["type"] for f in frames]
    assert kinds[0] == ("ack" if version == 2 else "token")
    assert kinds[-1] == "final" and "ack" not in kinds[1:]
    result = frames[-1]["result"]
    assert result["request_id"] == frames[-1]["request_id"]
    streamed = "".join(f["delta"] for f in frames if f["type"] == "token")
    corrections = [f for f in frames if f["type"] == "correction"]
    if corrections:
        assert kinds[-2] == "correction" and corrections[-1]["text"] == result["text"]
    else:
        assert streamed.strip() == result["text"]
    return result


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("message", "language"), [("how much is Frieren volume 1?", "en"),
                                                   ("フリーレンの1巻はいくらですか？", "ja")])
async def test_happy_path(server, version, message, language):
    session = f"happy-{version}-{language}"
    async with websockets.connect(ws_url(server, protocol_version=str(version), session_id=session)) as ws:
        frames = await turn(ws, message, request_id=f"rid-{version}-{language}")
        result = check_turn(frames, version)
        assert frames[0]["request_id"] == f"rid-{version}-{language}"
        assert result["language"] == language and result["session_id"] == session
        assert len([f for f in frames if f["type"] == "token"]) > 1
        assert result["products"]
        if version == 2:
            RatedTurnResult.model_validate(result)
            rated = [p for p in result["products"] if p["rating"]]
            assert rated and all(1 <= p["rating"]["average"] <= 5 and p["rating"]["count"] > 0 for p in rated)
        else:
            assert all("rating" not in p for p in result["products"])
        # The same socket serves the next turn with its own numbering.
        follow = await turn(ws, "is it in stock?" if language == "en" else "在庫はありますか？")
        assert check_turn(follow, version)["session_id"] == session


@pytest.mark.parametrize("query", [{}, {"protocol_version": "3"}, {"protocol_version": "two"},
                                   {"protocol_version": "²"}])
async def test_unsupported_version_gets_an_error_then_1008(server, query):
    async with websockets.connect(ws_url(server, session_id="v", **query)) as ws:
        frame = await recv(ws)
        assert frame["type"] == "error" and frame["code"] == "unsupported_protocol_version"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1008


async def test_sessions_are_isolated(server):
    async with websockets.connect(ws_url(server, protocol_version="1", session_id="iso-1",
                                         token=token("C1001"))) as ws:
        assert check_turn(await turn(ws, "where is my order?"), 1)["intent"] == "order_status"
    intruders = [
        {"additional_headers": {"Authorization": f"Bearer {token('C1002')}"}},  # another customer
        {},  # a guest
    ]
    for extra in intruders:
        async with websockets.connect(ws_url(server, protocol_version="2", session_id="iso-1"), **extra) as ws:
            frame = await recv(ws)
            assert frame["type"] == "error" and frame["code"] == "session_not_found"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
    # The owner's conversation is intact and continues.
    async with websockets.connect(ws_url(server, protocol_version="1", session_id="iso-1"),
                                  additional_headers={"Authorization": f"Bearer {token('C1001')}"}) as ws:
        check_turn(await turn(ws, "recommend horror manga"), 1)
    async with websockets.connect(ws_url(server, protocol_version="1", session_id="iso-2", token="not-a-jwt")) as ws:
        assert (await recv(ws))["code"] == "invalid_token"
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()


async def test_bad_frames_get_error_frames_and_the_socket_stays_open(server):
    async with websockets.connect(ws_url(server, protocol_version="2", session_id="bad-frames")) as ws:
        cases = [
            (b"\x00\xff binary", "binary_frame"),
            ("{not json", "invalid_json"),
            ('{"type": "message", "message": "\\ud800"}', "invalid_json"),
            ("[1, 2, 3]", "invalid_frame"),
            (json.dumps({"type": "subscribe", "request_id": "u1"}), "unknown_frame_type"),
            (json.dumps({"type": "message"}), "invalid_frame"),
            (json.dumps({"type": "message", "message": 42}), "invalid_frame"),
            (json.dumps({"type": "message", "message": "hi", "user_id": "C1001"}), "invalid_frame"),
            (json.dumps({"type": "message", "message": "x" * 20_000}), "frame_too_large"),
            (json.dumps({"type": "message", "message": "   "}), "empty"),
            (json.dumps({"type": "message", "message": "あ" * 4001}, ensure_ascii=False), "too_long"),
        ]
        for raw, code in cases:
            await ws.send(raw)
            frame = await recv(ws)
            assert frame["type"] == "error" and frame["code"] == code, (raw[:40], frame)
            assert frame["seq"] == 1 and frame["message"]
        await ws.send(json.dumps({"type": "subscribe", "request_id": "u1"}))
        assert (await recv(ws))["request_id"] == "u1"
        await ws.send(json.dumps({"type": "ping", "request_id": "p1"}))
        assert await recv(ws) == {"type": "pong", "seq": 1, "request_id": "p1"}
        check_turn(await turn(ws, "recommend a fantasy manga"), 2)


async def test_error_messages_follow_accept_language(server):
    async with websockets.connect(ws_url(server, protocol_version="1", session_id="ja-errors"),
                                  additional_headers={"Accept-Language": "ja-JP,ja;q=0.9"}) as ws:
        await ws.send("{oops")
        frame = await recv(ws)
        assert frame["code"] == "invalid_json" and "JSON" in frame["message"] and "ません" in frame["message"]


async def test_flood_closes_the_socket(server):
    async with websockets.connect(ws_url(server, protocol_version="1", session_id="flood")) as ws:
        with contextlib.suppress(websockets.ConnectionClosed):  # the server may close before the last
            for _ in range(60):
                await ws.send(json.dumps({"type": "ping"}))
        frames = []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                frames.append(await recv(ws))
    assert closed.value.rcvd.code == 1008
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "flood"
    assert 1 <= sum(f["type"] == "pong" for f in frames) <= 20
    # The server is still up and serving.
    async with websockets.connect(ws_url(server, protocol_version="1", session_id="after-flood")) as ws:
        check_turn(await turn(ws, "hello"), 1)


async def test_messages_beyond_the_rate_limit_get_rate_limited_frames(server):
    async with websockets.connect(ws_url(server, protocol_version="2", session_id="rate-ws")) as ws:
        for i in range(11):  # a guest session: 10 messages a minute
            await ws.send(json.dumps({"type": "message", "message": "hello", "request_id": f"m{i}"}))
        finals, errors = {}, {}
        while len(finals) + len(errors) < 11:
            frame = await recv(ws)
            if frame["type"] == "final":
                finals[frame["request_id"]] = frame
            elif frame["type"] == "error":
                errors[frame["request_id"]] = frame
    assert sorted(finals) == sorted(f"m{i}" for i in range(10))
    assert list(errors) == ["m10"]
    assert errors["m10"]["code"] == "rate_limited" and isinstance(errors["m10"]["retry_after"], int)
    assert 1 <= errors["m10"]["retry_after"] <= 60


async def test_correction_frame_after_inline_masking(model_server, llm):
    answer = ("Berserk Vol. 1 is a dark fantasy classic. You can also find it at Amazon for less. "
              "Guts' story starts here.")
    llm.script("ws-primary", [{"kind": "ok", "text": answer, "chunk_chars": 3}])
    async with websockets.connect(ws_url(model_server, protocol_version="1", session_id="correct")) as ws:
        frames = await turn(ws, "tell me about Berserk")
    result = check_turn(frames, 1)
    assert result["metadata"]["model_tier"] == "primary"
    streamed = "".join(f["delta"] for f in frames if f["type"] == "token")
    assert "Amazon" not in streamed and "[…]" in streamed  # masked inline, though split over chunks
    corrections = [f for f in frames if f["type"] == "correction"]
    assert len(corrections) == 1 and frames[-2] is corrections[0]
    assert "Amazon" not in result["text"] and "[…]" not in result["text"]
    assert "Guts' story starts here." in result["text"] and "competitor" in result["metadata"]["guardrails_fired"]


async def test_model_dying_mid_stream_ends_in_a_correction(model_server, llm):
    llm.script("ws-primary", [{"kind": "die", "after_chunks": 3, "chunk_chars": 5,
                               "text": "Vinland Saga begins as a revenge story and becomes something else."}])
    llm.script("ws-secondary", [{"kind": "ok", "text": "From the secondary model: Vinland Saga is a Viking epic.",
                                 "chunk_chars": 6}])
    async with websockets.connect(ws_url(model_server, protocol_version="2", session_id="dies")) as ws:
        frames = await turn(ws, "tell me about Vinland Saga")
    result = check_turn(frames, 2)
    assert result["metadata"]["model_tier"] == "secondary"
    streamed = "".join(f["delta"] for f in frames if f["type"] == "token")
    # Only the dead model's beginning was shown; the fallback's answer comes whole as the correction.
    assert streamed and "Vinland Saga begins as a revenge story".startswith(streamed)
    assert [f["type"] for f in frames][-2:] == ["correction", "final"]
    assert frames[-2]["text"] == result["text"] == "From the secondary model: Vinland Saga is a Viking epic."


async def test_disconnect_mid_answer_cancels_and_the_session_stays_consistent(model_server, llm):
    slow = "Frieren is a slow, gentle story. " * 8
    llm.script("ws-primary", [{"kind": "slow", "text": slow, "chunk_chars": 4, "delay_s": 0.5}],
               default={"kind": "ok", "text": "One Piece is a long sea adventure by Eiichiro Oda."})
    url = ws_url(model_server, protocol_version="1", session_id="cut")
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "message", "message": "tell me about Frieren"}))
        first = await recv(ws)
        assert first["type"] == "token"
    cut_at = time.monotonic()
    async with websockets.connect(url) as ws:
        result = check_turn(await turn(ws, "tell me about One Piece"), 1)
    # The slow answer had ~30 s to go: the next turn on the session got its lock at once.
    assert time.monotonic() - cut_at < 20
    assert result["metadata"]["model_tier"] == "primary" and "One Piece" in result["text"]
    # The model saw a conversation without the abandoned turn.
    sent = llm.requests("ws-primary")[-1]["messages"]
    assert not any("Frieren" in m["content"] for m in sent if m["role"] in ("user", "assistant"))
    async with websockets.connect(url) as ws:
        check_turn(await turn(ws, "how much is volume 1?"), 1)
    history = llm.requests("ws-primary")[-1]["messages"]
    assert [m["content"] for m in history if m["role"] == "user"][-2] == "tell me about One Piece"


def sse_frames(base: str, body: dict, headers: dict | None = None) -> list[dict]:
    frames = []
    with httpx.stream("POST", f"{base}/v1/chat/message", json=body, timeout=60,
                      headers={"Accept": "text/event-stream", **(headers or {})}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict = {}
        for line in response.iter_lines():
            if not line:
                if event:
                    frame = parse(event["data"])
                    assert event["event"] == frame["type"] and int(event["id"]) == frame["seq"]
                    frames.append(frame)
                event = {}
                continue
            name, _, value = line.partition(":")
            if name in ("event", "id", "data"):
                event[name] = value.strip()
    return frames


def test_sse_carries_the_same_frames(server):
    frames = sse_frames(server, {"message": "how much is Berserk volume 1?", "session_id": "sse-1"},
                        {"X-Request-ID": "sse-rid-1"})
    result = check_turn(frames, 1)
    assert {f["request_id"] for f in frames} == {"sse-rid-1"}
    assert result["intent"] == "price_check"
    ja = sse_frames(server, {"message": "ベルセルクの1巻はいくら？", "session_id": "sse-2"})
    assert check_turn(ja, 1)["language"] == "ja"


async def test_an_sse_client_hanging_up_mid_answer_cancels_the_turn_and_leaves_no_trace(
    model_server, llm
):
    slow = "Frieren is a slow, gentle story. " * 8
    llm.script("ws-primary", [{"kind": "slow", "text": slow, "chunk_chars": 4, "delay_s": 0.5}],
               default={"kind": "ok", "text": "Monster is a thriller by Naoki Urasawa."})
    body = {"message": "tell me about Frieren", "session_id": "sse-cut"}
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", f"{model_server}/v1/chat/message", json=body,
                                 headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    assert line.split(":", 1)[1].strip() == "token"
                    break
    # The hang-up came while the turn waited on the model's next chunk, with ~30 s of answer to go.
    cut_at = time.monotonic()
    frames = await asyncio.to_thread(sse_frames, model_server, {"message": "tell me about Monster",
                                                                "session_id": "sse-cut"})
    assert time.monotonic() - cut_at < 20
    result = check_turn(frames, 1)
    assert result["metadata"]["model_tier"] == "primary" and "Monster" in result["text"]
    sent = llm.requests("ws-primary")[-1]["messages"]
    assert not any("Frieren" in m["content"] for m in sent if m["role"] in ("user", "assistant"))


def test_sse_errors_before_the_stream_are_http_errors(server):
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token('C1003')}"}
    owned = httpx.post(f"{server}/v1/chat/message", json={"message": "hello", "session_id": "sse-own"},
                       headers={"Authorization": f"Bearer {token('C1004')}"}, timeout=60)
    assert owned.status_code == 200
    other = httpx.post(f"{server}/v1/chat/message", json={"message": "hello", "session_id": "sse-own"},
                       headers=headers, timeout=60)
    assert other.status_code == 404 and other.json()["error"]["code"] == "session_not_found"
    empty = httpx.post(f"{server}/v1/chat/message", json={"message": ""}, headers=headers, timeout=60)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty"
