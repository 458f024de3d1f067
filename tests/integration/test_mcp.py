"""The MCP server through the SDK's own client: over stdio (`mangaassist mcp`) and streamable HTTP."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from mangaassist.settings import REPO_DATA_DIR, Settings
from server.auth import InvalidToken, mint_token, verify_token
from tests.support.processes import REPO, running_server, service_env
from tools.catalog import Catalog

SECRET = "test-secret-for-mcp-tokens-0123456789"
TOOL_NAMES = {
    "search_catalog", "get_product", "check_price", "recommend_similar", "get_order_status",
    "check_return_eligibility", "store_policy", "ask_assistant",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(REPO_DATA_DIR)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return service_env(tmp_path_factory.mktemp("mcp"), MANGAASSIST_AUTH_SECRET=SECRET, MANGAASSIST_LLM_MODE="off")


@pytest.fixture(scope="module")
def server_url(env: dict[str, str]) -> Iterator[str]:
    with running_server(env) as base:
        yield f"{base}/mcp"


def token(user_id: str, ttl_s: int = 600) -> str:
    return mint_token(Settings(auth_secret=SECRET), user_id, ttl_s)


def orders_of(owner: str | None = None, other_than: str | None = None) -> list[tuple[str, str, str]]:
    """(order_id, customer_id, status) rows from the shipped orders fixture."""
    with sqlite3.connect(REPO_DATA_DIR / "orders.sqlite") as conn:
        rows = conn.execute("SELECT order_id, customer_id, status FROM orders ORDER BY order_id").fetchall()
    return [r for r in rows if (owner is None or r[1] == owner) and (other_than is None or r[1] != other_than)]


@asynccontextmanager
async def stdio_session(env: dict[str, str], user_id: str | None = None) -> AsyncIterator[ClientSession]:
    args = ["-m", "mangaassist", "mcp"] + (["--token", token(user_id)] if user_id else [])
    params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(REPO))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def http_session(url: str, user_id: str | None = None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token(user_id)}"} if user_id else None
    async with (
        create_mcp_http_client(headers=headers) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def error_text(result) -> str:  # type: ignore[no-untyped-def]
    assert result.is_error, result
    return result.content[0].text


# --- tokens -----------------------------------------------------------------------------------


def test_token_mint_verify_and_expiry(tmp_path: Path) -> None:
    settings = Settings(auth_secret=SECRET)
    assert verify_token(settings, mint_token(settings, "C1002", 60)) == "C1002"
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(settings, mint_token(settings, "C1002", -1))
    with pytest.raises(InvalidToken, match="not valid"):
        verify_token(Settings(auth_secret="another-secret-another-secret-0000"), mint_token(settings, "C1002", 60))
    with pytest.raises(InvalidToken):
        verify_token(settings, "not-a-jwt")
    # Without a configured secret, a per-data-dir key is made once (0600) and reused.
    first = Settings(data_dir=tmp_path)
    minted = mint_token(first, "C1001", 60)
    assert (tmp_path / "auth_secret").stat().st_mode & 0o777 == 0o600
    assert verify_token(Settings(data_dir=tmp_path), minted) == "C1001"


# --- stdio ------------------------------------------------------------------------------------


async def test_stdio_tools_schemas_and_calls(env: dict[str, str], catalog: Catalog) -> None:
    mine = orders_of(owner="C1002")
    theirs = orders_of(other_than="C1002")[0][0]
    async with stdio_session(env, "C1002") as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOL_NAMES
        for tool in tools.values():
            assert tool.description and tool.input_schema["type"] == "object"
        price_schema = tools["check_price"].input_schema
        assert price_schema["required"] == ["store_ids"]
        assert price_schema["properties"]["store_ids"]["items"]["pattern"] == r"^B0[A-Z0-9]{8}$"
        assert tools["get_product"].input_schema["required"] == ["store_id"]
        assert tools["search_catalog"].input_schema["required"] == ["query"]
        assert "user_id" not in tools["get_order_status"].input_schema["properties"]
        assert tools["ask_assistant"].input_schema["required"] == ["message"]

        frieren = catalog.volume("frieren-beyond-journeys-end", 3, "print", "EN")
        one_piece = catalog.volume("one-piece", 5, "print", "JA")
        prices = await session.call_tool("check_price", {"store_ids": [frieren.asin, one_piece.asin]})
        assert not prices.is_error
        quoted = {p["asin"]: p for p in prices.structured_content["prices"]}
        for product in (frieren, one_piece):
            assert quoted[product.asin]["price"] == product.current_price
            assert quoted[product.asin]["list_price"] == product.list_price
            assert quoted[product.asin]["currency"] == product.currency

        found = await session.call_tool("search_catalog", {"query": "Frieren", "language": "ja", "format": "digital"})
        top = found.structured_content["results"][0]
        assert top["series_id"] == "frieren-beyond-journeys-end"
        assert top["product"]["asin"] == catalog.volume(top["series_id"], 1, "digital", "JA").asin
        horror = await session.call_tool("search_catalog", {"query": "Junji Ito", "genre": "horror"})
        assert horror.structured_content["results"]
        assert all("horror" in r["genres"] for r in horror.structured_content["results"])

        product = await session.call_tool("get_product", {"store_id": frieren.asin})
        assert product.structured_content["product"]["price"] == frieren.current_price
        assert len(product.structured_content["other_editions"]) == 3

        similar = await session.call_tool("recommend_similar", {"title": "Frieren", "limit": 3})
        recs = similar.structured_content["recommendations"]
        assert len(recs) == 3 and all(r["series_id"] != "frieren-beyond-journeys-end" for r in recs)
        by_id = await session.call_tool("recommend_similar", {"store_id": frieren.asin, "limit": 3})
        assert by_id.structured_content["seed_series_id"] == "frieren-beyond-journeys-end"

        status = await session.call_tool("get_order_status", {"order_ids": [mine[0][0]]})
        assert [o["order_id"] for o in status.structured_content["orders"]] == [mine[0][0]]
        assert status.structured_content["orders"][0]["status"] == mine[0][2]
        recent = await session.call_tool("get_order_status", {})
        assert {o["order_id"] for o in recent.structured_content["orders"]} <= {o[0] for o in mine}
        returns = await session.call_tool("check_return_eligibility", {"order_ids": [mine[0][0]]})
        assert returns.structured_content["orders"][0]["order_id"] == mine[0][0]

        # Ownership: another customer's order is "not yours", never its contents.
        for name in ("get_order_status", "check_return_eligibility"):
            text = error_text(await session.call_tool(name, {"order_ids": [theirs]}))
            assert theirs in text and "your orders" in text

        policy = await session.call_tool("store_policy", {"topic": "returns", "language": "ja"})
        sections = policy.structured_content["sections"]
        assert sections and all(s["topic"] == "returns" and s["language"] == "ja" for s in sections)
        asked = await session.call_tool("store_policy", {"topic": "shipping", "question": "how long does shipping take?"})
        assert 0 < len(asked.structured_content["sections"]) <= 3

        turn = await session.call_tool("ask_assistant", {"message": "how much is volume 3 of Frieren?"})
        result = turn.structured_content
        assert result["intent"] == "price_check" and result["products"][0]["price"] == frieren.current_price


async def test_stdio_bad_arguments_are_tool_errors(env: dict[str, str], catalog: Catalog) -> None:
    async with stdio_session(env) as session:
        assert "pattern" in error_text(await session.call_tool("get_product", {"store_id": "not-an-id"}))
        assert "unknown store id B0ZZZZZZZZ" in error_text(await session.call_tool("get_product", {"store_id": "B0ZZZZZZZZ"}))
        assert "store_ids" in error_text(await session.call_tool("check_price", {}))
        assert "unknown store id" in error_text(await session.call_tool("check_price", {"store_ids": ["B0ZZZZZZZZ"]}))
        assert "exactly one" in error_text(await session.call_tool("recommend_similar", {}))
        assert "no series" in error_text(await session.call_tool("recommend_similar", {"title": "zzqx qqq"}))
        assert "genre" in error_text(await session.call_tool("search_catalog", {"query": "x", "genre": "cookbooks"}))
        assert "topic" in error_text(await session.call_tool("store_policy", {"topic": "refunds"}))
        assert "message" in error_text(await session.call_tool("ask_assistant", {"message": ""}))
        assert "unknown tool" in error_text(await session.call_tool("delete_everything", {}))
        # A guest is asked to sign in, and the server keeps answering.
        assert "sign in" in error_text(await session.call_tool("get_order_status", {"order_ids": ["MA-10001"]}))
        assert "sign in" in error_text(await session.call_tool("check_return_eligibility", {}))
        asin = next(iter(catalog.products))
        ok = await session.call_tool("check_price", {"store_ids": [asin]})
        assert ok.structured_content["prices"][0]["price"] == catalog.product(asin).current_price

        resources = {str(r.uri) for r in (await session.list_resources()).resources}
        assert {"policy://returns/en", "policy://shipping/ja"} <= resources
        read = await session.read_resource("policy://returns/en")
        assert read.contents[0].text == (REPO_DATA_DIR / "policies" / "returns.en.md").read_text(encoding="utf-8")
        with pytest.raises(MCPError):
            await session.read_resource("policy://refunds/en")
        prompts = {p.name for p in (await session.list_prompts()).prompts}
        assert prompts == {"system", "instructions"}
        system = await session.get_prompt("system", {"language": "ja"})
        assert "MangaAssist" in system.messages[0].content.text
        with pytest.raises(MCPError):
            await session.get_prompt("system", {"language": "fr"})


async def test_stdio_rate_limits_assistant_turns(tmp_path: Path) -> None:
    env = service_env(tmp_path, MANGAASSIST_LLM_MODE="off", MANGAASSIST_MCP_TURNS_PER_MINUTE="1")
    async with stdio_session(env) as session:
        first = await session.call_tool("ask_assistant", {"message": "hello"})
        assert not first.is_error
        assert "rate limited" in error_text(await session.call_tool("ask_assistant", {"message": "hello"}))
        assert not (await session.call_tool("store_policy", {"topic": "payment"})).is_error


# --- streamable HTTP ----------------------------------------------------------------------------


async def test_http_identity_comes_from_the_bearer_token(server_url: str, catalog: Catalog) -> None:
    mine = orders_of(owner="C1002")
    theirs = orders_of(other_than="C1002")[0][0]
    async with http_session(server_url, "C1002") as session:
        assert {t.name for t in (await session.list_tools()).tools} == TOOL_NAMES
        status = await session.call_tool("get_order_status", {"order_ids": [mine[0][0]]})
        assert status.structured_content["orders"][0]["order_id"] == mine[0][0]
        assert "your orders" in error_text(await session.call_tool("get_order_status", {"order_ids": [theirs]}))
        asin = catalog.volume("one-piece", 5, "print", "JA").asin
        prices = await session.call_tool("check_price", {"store_ids": [asin]})
        assert prices.structured_content["prices"][0]["price"] == catalog.product(asin).current_price
        turn = await session.call_tool("ask_assistant", {"message": f"where is my order {mine[0][0]}?"})
        assert turn.structured_content["intent"] == "order_status" and mine[0][0] in turn.structured_content["text"]
        assert "pattern" in error_text(await session.call_tool("get_product", {"store_id": "B0"}))
        read = await session.read_resource("policy://shipping/en")
        assert "Shipping" in read.contents[0].text
        prompt = await session.get_prompt("instructions", {"language": "en", "intent": "price_check"})
        assert "price" in prompt.messages[0].content.text
    async with http_session(server_url) as guest:
        assert "sign in" in error_text(await guest.call_tool("get_order_status", {"order_ids": [mine[0][0]]}))


def test_http_rejects_invalid_tokens_and_claimed_users(server_url: str) -> None:
    base = server_url.removesuffix("/mcp")
    expired = mint_token(Settings(auth_secret=SECRET), "C1002", -5)
    for bad in (expired, "garbage"):
        response = httpx.post(server_url, json={}, headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    chat = f"{base}/v1/chat/message"
    claimed = httpx.post(chat, json={"message": "hi", "user_id": "C1001"},
                         headers={"Authorization": f"Bearer {token('C1002')}"}, timeout=30)
    assert claimed.status_code == 422 and "user_id" in claimed.json()["error"]["message"]
    order_id = orders_of(owner="C1002")[0][0]
    signed = httpx.post(chat, json={"message": f"where is my order {order_id}?"},
                        headers={"Authorization": f"Bearer {token('C1002')}"}, timeout=30)
    assert signed.status_code == 200 and order_id in signed.json()["text"]
    assert "sign in" in httpx.post(chat, json={"message": f"where is my order {order_id}?"}, timeout=30).json()["text"]
