"""The chat widget at `/`, driven in headless Chromium against the real server (embedded default).

The page talks to the service exactly as a shopper's browser would: `/v1/chat/init` over HTTP, the
turn over the WebSocket protocol v2, feedback and escalation over HTTP. What the page shows is
checked against what the service sent and what it stored.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, Request, WebSocket, async_playwright

from tests.support.fake_llm import FakeLLMServer
from tests.support.processes import run_cli, running_server, service_env

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    # No DNS look-up of any outside host: a stray external request fails instead of leaving the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    data_dir = tmp_path_factory.mktemp("widget")
    env = service_env(data_dir, MANGAASSIST_LLM_MODE="off", MANGAASSIST_AUTH_SECRET="widget-test-secret")
    with running_server(env) as base:
        yield base, env, data_dir


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    # `launch` gives Chromium a fresh throwaway profile of its own.
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class Recorder:
    """Everything the page did that a test may need to check: console, requests, socket frames."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self.urls: list[str] = []
        self.frames: list[dict[str, Any]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("request", self._request)
        page.on("websocket", self._websocket)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _request(self, request: Request) -> None:
        self.urls.append(request.url)

    def _websocket(self, ws: WebSocket) -> None:
        self.urls.append(ws.url)
        ws.on("framereceived", lambda payload: self.frames.append(json.loads(payload)))

    def frames_of(self, request_id: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("request_id") == request_id]

    def assert_clean(self, *expected: str) -> None:
        """No console error or page error but the `expected` ones, and no request off loopback."""
        assert self.problems == list(expected)
        outside = [u for u in self.urls if not u.startswith("data:") and urlsplit(u).hostname != "127.0.0.1"]
        assert outside == []


async def open_widget(browser: Browser, base: str, locale: str) -> tuple[Page, Recorder]:
    context = await browser.new_context(locale=locale, viewport={"width": 900, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    recorder = Recorder(page)
    await page.goto(f"{base}/")
    await page.locator(".status[data-state='open']").wait_for()
    return page, recorder


# Records every text the streaming answer shows, so the test sees it grow frame by frame.
WATCH_STREAM = """() => {
  window.partials = [];
  new MutationObserver(() => {
    const body = document.querySelector('.msg-assistant.streaming .text');
    if (body && body.textContent && window.partials.at(-1) !== body.textContent) window.partials.push(body.textContent);
  }).observe(document.querySelector('.messages'), {subtree: true, childList: true, characterData: true});
}"""


async def ask(page: Page, message: str) -> Locator:
    """Type a message, send it, and return the answer's list item once its final frame is shown."""
    answers = page.locator(".msg-assistant[data-request-id]")
    before = await answers.count()
    await page.fill("#message-input", message)
    await page.click(".send")
    await answers.nth(before).wait_for()
    return answers.nth(before)


async def analytics_events(data_dir: Path, kind: str, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """The analytics events of one type; the sink writes from its own thread, so allow it a moment."""
    path = data_dir / "analytics.jsonl"
    deadline = time.monotonic() + timeout_s
    while True:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        events = [e for e in map(json.loads, lines) if e["type"] == kind]
        if events or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.1)


async def test_english_turn_streams_cards_feedback_and_chips(service, browser):
    base, _, data_dir = service
    page, recorder = await open_widget(browser, base, "en-US")

    assert await page.get_attribute("html", "lang") == "en"
    assert await page.inner_text("h1") == "MangaAssist"
    greeting = page.locator(".msg-assistant.greeting .text")
    assert (await greeting.inner_text()).strip()
    chips = page.locator(".chip")
    assert await chips.count() >= 1

    await page.evaluate(WATCH_STREAM)
    answer = await ask(page, "recommend horror manga like Junji Ito")
    request_id = await answer.get_attribute("data-request-id")
    final_text = await answer.locator(".text").inner_text()

    frames = recorder.frames_of(request_id)
    tokens = [f for f in frames if f["type"] == "token"]
    assert len(tokens) >= 2
    assert [f["seq"] for f in frames] == list(range(frames[0]["seq"], frames[0]["seq"] + len(frames)))
    final = frames[-1]
    assert final["type"] == "final"
    result = final["result"]
    assert "Junji Ito" in final_text
    # The answer grew on screen as the tokens came, before the final frame replaced it.
    partials = await page.evaluate("window.partials")
    assert len(partials) >= 2 and len(partials[0]) < len(partials[-1])
    assert result["text"].replace("**", "").startswith(partials[0].replace("**", ""))

    cards = answer.locator(".card")
    assert await cards.count() == len(result["products"]) > 0
    for index, product in enumerate(result["products"]):
        card = cards.nth(index)
        assert await card.get_attribute("data-asin") == product["asin"]
        assert await card.locator(".card-title").inner_text() == product["title"]
        assert product["currency"] == "USD"
        assert await card.locator(".price").inner_text() == f"${product['price']:,.2f}"
        assert await card.locator(".badge").inner_text() == ("In stock" if product["in_stock"] else "Out of stock")
        assert await card.locator("svg.cover").count() == 1
        assert await card.locator(".stars").count() == (1 if product.get("rating") else 0)

    await answer.locator(".thumb-up").click()
    await answer.locator(".feedback-note", has_text="recorded").wait_for()
    assert await answer.locator(".thumb-up").get_attribute("aria-pressed") == "true"
    feedback = await analytics_events(data_dir, "feedback")
    assert [(e["message_id"], e["rating"]) for e in feedback] == [(request_id, "up")]

    chip_texts = [await c.inner_text() for c in await page.locator(".chip").all()]
    assert chip_texts == result["quick_replies"]
    await page.locator(".chip").first.click()
    follow_up = page.locator(".msg-assistant[data-request-id]").nth(1)
    await follow_up.wait_for()
    assert await page.locator(".msg-user .text").nth(1).inner_text() == chip_texts[0]
    assert (await follow_up.locator(".text").inner_text()).strip()

    recorder.assert_clean()


async def test_japanese_shopper_gets_japanese_answer_and_yen(service, browser):
    base, _, _ = service
    page, recorder = await open_widget(browser, base, "ja-JP")
    assert await page.get_attribute("html", "lang") == "ja"
    assert await page.inner_text(".send") == "送信"

    answer = await ask(page, "ワンピースの5巻はいくら？")
    result = recorder.frames_of(await answer.get_attribute("data-request-id"))[-1]["result"]
    assert result["language"] == "ja"
    text = await answer.locator(".text").inner_text()
    assert JAPANESE.search(text)
    card = answer.locator(".card").first
    product = result["products"][0]
    assert product["currency"] == "JPY"
    assert await card.locator(".card-title").inner_text() == product["title_ja"]
    assert await card.locator(".price").inner_text() == f"¥{round(product['price']):,}"
    assert await card.locator(".badge").inner_text() == ("在庫あり" if product["in_stock"] else "在庫切れ")
    # Protocol 2 rates the card from the series' Japanese reviews; the stars show that average.
    assert product["rating"]["count"] > 0
    stars = card.locator(".stars")
    assert await stars.get_attribute("aria-label") == f"5段階中 {product['rating']['average']:.1f} の評価"

    await page.click(".lang-toggle")
    assert await page.inner_text(".send") == "Send"
    assert await page.get_attribute("html", "lang") == "en"
    recorder.assert_clean()


async def test_agent_button_opens_a_ticket(service, browser):
    base, _, data_dir = service
    page, recorder = await open_widget(browser, base, "en-US")
    await ask(page, "is volume 3 of Frieren in stock?")
    await page.click(".agent")
    notice = page.locator(".notice-ticket")
    await notice.wait_for()
    ticket_id = await notice.get_attribute("data-ticket-id")
    assert ticket_id and ticket_id in await notice.inner_text()
    assert re.search(r"number \d+ in the queue", await notice.inner_text())
    assert ticket_id in [e.get("ticket_id") for e in await analytics_events(data_dir, "escalation")]
    recorder.assert_clean()


# Closes every WebSocket the page holds, the way a network drop would end it, from outside the widget.
CLOSE_SOCKETS = "function() { this.forEach((ws) => ws.close(4000)); return this.length; }"


async def drop_sockets(page: Page) -> int:
    cdp = await page.context.new_cdp_session(page)
    prototype = await cdp.send("Runtime.evaluate", {"expression": "WebSocket.prototype"})
    sockets = await cdp.send("Runtime.queryObjects", {"prototypeObjectId": prototype["result"]["objectId"]})
    closed = await cdp.send("Runtime.callFunctionOn", {
        "objectId": sockets["objects"]["objectId"], "functionDeclaration": CLOSE_SOCKETS, "returnByValue": True,
    })
    return int(closed["result"]["value"])


async def test_dropped_socket_reconnects_to_the_same_conversation(service, browser):
    base, _, _ = service
    page, recorder = await open_widget(browser, base, "en-US")
    first = await ask(page, "recommend a horror manga")
    first_asin = await first.locator(".card").first.get_attribute("data-asin")

    assert await drop_sockets(page) == 1
    await page.locator(".status[data-state='reconnecting']").wait_for()
    await page.locator(".status[data-state='open']").wait_for()
    sockets = [u for u in recorder.urls if u.startswith("ws:")]
    assert len(sockets) == 2 and sockets[0] == sockets[1]

    # The follow-up resolves "the first one" from the session's memory: same session after the drop.
    follow_up = await ask(page, "how much is the first one?")
    result = recorder.frames_of(await follow_up.get_attribute("data-request-id"))[-1]["result"]
    assert result["intent"] == "price_check"
    assert await follow_up.locator(".card").first.get_attribute("data-asin") == first_asin
    recorder.assert_clean()


async def test_demo_sign_in_sends_the_token(service, browser):
    base, env, _ = service
    minted = run_cli(["token", "--user", "C1001"], env)
    assert minted.returncode == 0, minted.stderr
    page, recorder = await open_widget(browser, base, "en-US")

    await page.click(".signin summary")
    await page.fill("#token-input", "not-a-token")
    await page.click(".signin-form button[type=submit]")
    await page.locator(".signin-state", has_text="not accepted").wait_for()
    await page.locator(".status[data-state='open']").wait_for()

    await page.fill("#token-input", minted.stdout.strip())
    await page.click(".signin-form button[type=submit]")
    await page.locator(".signin-state", has_text="Signed in as C1001").wait_for()
    await page.locator(".status[data-state='open']").wait_for()
    sockets = [u for u in recorder.urls if u.startswith("ws:")]
    assert ["token=" in u for u in sockets] == [False, False, True]

    # Order tools answer only for the order's owner (a guest is asked to sign in), so order ids on
    # screen prove the socket carried the customer's token.
    answer = await ask(page, "where is my order?")
    result = recorder.frames_of(await answer.get_attribute("data-request-id"))[-1]["result"]
    assert result["intent"] == "order_status"
    assert re.search(r"MA-\d{5}", await answer.locator(".text").inner_text())
    # Chromium logs every 4xx response; the refused token's is the only one expected.
    recorder.assert_clean(
        "console error: Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    )


@pytest.fixture(scope="module")
def degraded_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose model tiers (a local OpenAI-compatible server) fail every call with a 503."""
    with FakeLLMServer() as llm:
        llm.script("p-down", [], default={"kind": "error", "status": 503})
        llm.script("s-down", [], default={"kind": "error", "status": 503})
        tiers = {
            f"MANGAASSIST_LLM_{tier}{suffix}": value
            for tier, model in (("PRIMARY", "p-down"), ("SECONDARY", "s-down"))
            for suffix, value in (("", f"openai/{model}"), ("_API_BASE", llm.base_url), ("_API_KEY", "sk-test"))
        }
        env = service_env(
            tmp_path_factory.mktemp("widget-degraded"), MANGAASSIST_LLM_MODE="on", MANGAASSIST_LLM_MAX_RETRIES="0",
            # The banner's clock starts at the first failed model call; no need to wait 15 minutes here.
            MANGAASSIST_DEGRADED_BANNER_AFTER_S="0.001", **tiers,
        )
        with running_server(env) as base:
            yield base


async def test_degraded_banner_from_the_answer_and_from_init(degraded_service, browser):
    page, recorder = await open_widget(browser, degraded_service, "en-US")
    banner = page.locator(".banner")
    assert await banner.is_hidden()

    answer = await ask(page, "tell me about Frieren")
    result = recorder.frames_of(await answer.get_attribute("data-request-id"))[-1]["result"]
    assert result["metadata"]["model_tier"] in ("grounded", "cache")
    assert result["metadata"]["banner"]
    assert await banner.is_visible()
    assert await banner.inner_text() == result["metadata"]["banner"]

    await page.reload()
    await page.locator(".status[data-state='open']").wait_for()
    assert await banner.inner_text() == result["metadata"]["banner"]
    recorder.assert_clean()
