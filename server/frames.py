"""The streaming protocol's frames, shared by Server-Sent Events and the WebSocket.

A turn is a run of frames with `seq` 1, 2, 3, … (a client sees a gap as a missing number):
`ack` (protocol 2 only), `token`s, a `correction` when the text streamed is not the answer the
output guardrails let through, then `final` with the turn result. Errors are `error` frames.
`TurnFramer` turns the runner's events (`reset`, `token`, `final`) into these frames.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import prompts
from graph.locks import SessionLocks
from graph.runner import TurnRunner
from guardrails.stream import StreamGuard
from mangaassist.contracts import ProductCard, TurnResult
from server.schemas import HintKey, HintValue
from server.telemetry import emit_turn
from tools.catalog import Catalog

# What `X-Request-ID` accepts too (`server/telemetry.py`): 1-128 printable ASCII characters.
REQUEST_ID_PATTERN = r"^[ -~]{1,128}$"


class TokenFrame(BaseModel):
    """A piece of the answer, already masked by the inline stream guard."""

    type: Literal["token"] = "token"
    seq: int
    request_id: str
    delta: str


class CorrectionFrame(BaseModel):
    """The whole answer, replacing everything streamed so far (sent just before `final`)."""

    type: Literal["correction"] = "correction"
    seq: int
    request_id: str
    text: str


class Rating(BaseModel):
    """Reader reviews of the card's series (all languages, as the answer text counts them)."""

    average: float = Field(description="Average stars, 1 to 5, one decimal.")
    count: int


class RatedProductCard(ProductCard):
    """A product card as protocol 2 sends it."""

    rating: Rating | None = None


class RatedTurnResult(TurnResult):
    """The turn result as protocol 2 sends it: product cards carry ratings."""

    products: list[RatedProductCard] = Field(default_factory=list)  # type: ignore[assignment]


class FinalFrame(BaseModel):
    """The turn result; the last frame of a turn."""

    type: Literal["final"] = "final"
    seq: int
    request_id: str
    result: TurnResult | RatedTurnResult


class AckFrame(BaseModel):
    """Protocol 2: the message was accepted and queued (rate limit passed)."""

    type: Literal["ack"] = "ack"
    seq: int
    request_id: str


class ErrorFrame(BaseModel):
    """Something the client sent or asked for cannot be served."""

    type: Literal["error"] = "error"
    seq: int
    request_id: str
    code: str
    message: str
    retry_after: int | None = Field(default=None, description="Seconds, with code `rate_limited`.")


class PongFrame(BaseModel):
    """The answer to a `ping`."""

    type: Literal["pong"] = "pong"
    seq: int
    request_id: str


ServerFrame = TokenFrame | CorrectionFrame | FinalFrame | AckFrame | ErrorFrame | PongFrame


class ClientMessage(BaseModel):
    """`{"type": "message", "message", "context_hints"?, "request_id"?}`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["message"]
    message: str
    context_hints: dict[HintKey, HintValue] | None = Field(default=None, max_length=16)
    request_id: str | None = Field(default=None, pattern=REQUEST_ID_PATTERN)


class ClientPing(BaseModel):
    """`{"type": "ping", "request_id"?}`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]
    request_id: str | None = Field(default=None, pattern=REQUEST_ID_PATTERN)


def error_text(language: str, code: str, **values: Any) -> str:
    """The shopper-facing message of an error code, from `prompts/strings.<lang>.toml`."""
    texts: dict[str, str] = prompts.strings(language if language in ("en", "ja") else "en")["stream_errors"]
    return texts.get(code, texts["internal"]).format(**values)


def rated(result: TurnResult, catalog: Catalog) -> RatedTurnResult:
    """Add each card's series rating for protocol 2."""
    cards = []
    for card in result.products:
        reviews = catalog.reviews.get(card.series_id or "", [])
        rating = None
        if reviews:
            rating = Rating(average=round(sum(r.rating for r in reviews) / len(reviews), 1), count=len(reviews))
        cards.append(RatedProductCard(**card.model_dump(), rating=rating))
    return RatedTurnResult(**{**result.model_dump(), "products": cards})


class TurnFramer:
    """Frames of one turn, numbered from 1.

    Args:
        request_id: The turn's id, carried by every frame.
        guard: The inline stream guard (masks PII and competitor names before a token is sent).
        catalog: Given for protocol 2: final frames carry ratings from its reviews.
    """

    def __init__(self, request_id: str, guard: StreamGuard, catalog: Catalog | None = None) -> None:
        self.request_id = request_id
        self._guard = guard
        self._catalog = catalog
        self._seq = 0
        self._shown: list[str] = []
        # Once a fallback tier restarts after text was shown, a client appending deltas would
        # show two answers glued together: the rest of the turn comes as the correction instead.
        self._held = False

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def ack(self) -> AckFrame:
        """The acknowledgement of an accepted message (protocol 2)."""
        return AckFrame(seq=self._next(), request_id=self.request_id)

    def error(self, code: str, message: str, retry_after: int | None = None) -> ErrorFrame:
        """An error frame in this turn's numbering."""
        return ErrorFrame(seq=self._next(), request_id=self.request_id, code=code, message=message,
                          retry_after=retry_after)

    def pong(self) -> PongFrame:
        """The answer to a ping."""
        return PongFrame(seq=self._next(), request_id=self.request_id)

    def feed(self, event: dict[str, Any]) -> list[ServerFrame]:
        """Frames for one runner event (none, one token, or correction + final)."""
        kind = event["type"]
        if kind == "reset":
            self._guard.reset()
            self._held = self._held or bool(self._shown)
            return []
        if kind == "token":
            if self._held:
                return []
            return self._token(self._guard.feed(event["delta"]))
        if kind == "final":
            return self._final(TurnResult.model_validate(event["result"]))
        return []

    def _token(self, delta: str) -> list[ServerFrame]:
        if not delta:
            return []
        self._shown.append(delta)
        return [TokenFrame(seq=self._next(), request_id=self.request_id, delta=delta)]

    def _final(self, result: TurnResult) -> list[ServerFrame]:
        frames = [] if self._held else self._token(self._guard.flush())
        # Models' leading/trailing whitespace is trimmed from the answer; that is no correction.
        if "".join(self._shown).strip() != result.text.strip():
            frames.append(CorrectionFrame(seq=self._next(), request_id=self.request_id, text=result.text))
        shown = rated(result, self._catalog) if self._catalog is not None else result
        frames.append(FinalFrame(seq=self._next(), request_id=self.request_id, result=shown))
        return frames


_turn_locks = SessionLocks()


async def _drive(events: AsyncIterator[dict[str, Any]], queue: asyncio.Queue[dict[str, Any] | Exception | None]) -> None:
    try:
        async for event in events:
            queue.put_nowait(event)
    except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
        queue.put_nowait(exc)
    else:
        queue.put_nowait(None)


async def framed_turn(
    runner: TurnRunner,
    framer: TurnFramer,
    message: str,
    *,
    session_id: str,
    user_id: str | None,
    context_hints: dict[str, str] | None,
) -> AsyncIterator[ServerFrame]:
    """Run one turn and yield its frames; a turn cut short leaves no trace in the session.

    Raises what `TurnRunner.stream` raises (`InputRejected`, `SessionForbidden`) before any frame.
    """
    # The graph runs in its own task that never waits on the client. Stopping it is then a
    # cancellation inside the graph's own awaits, so LangGraph finishes its run (last checkpoint
    # written, session lock released) before the turn's traces are undone; an abandoned
    # generator would instead be finalised whenever it is collected, after the clean-up.
    # The runner's session lock is released when the graph run ends, before the clean-up: this
    # lock also covers the clean-up, so the session's next streamed turn starts from a clean state.
    async with _turn_locks[session_id]:
        queue: asyncio.Queue[dict[str, Any] | Exception | None] = asyncio.Queue()
        graph_run = asyncio.create_task(_drive(runner.stream(
            message, session_id=session_id, user_id=user_id, request_id=framer.request_id,
            context_hints=context_hints,
        ), queue))
        finished = False
        try:
            while (event := await queue.get()) is not None:
                if isinstance(event, Exception):
                    raise event
                for frame in framer.feed(event):
                    if isinstance(frame, FinalFrame):
                        emit_turn(TurnResult.model_validate(event["result"]))
                        finished = True
                    yield frame
        finally:
            graph_run.cancel()
            # Shielded: the client's disconnect cancels this task, and the clean-up must still run.
            await asyncio.shield(_settle(graph_run, runner, session_id, framer.request_id, finished))


async def _settle(graph_run: asyncio.Task[None], runner: TurnRunner, session_id: str, request_id: str,
                  finished: bool) -> None:
    await asyncio.gather(graph_run, return_exceptions=True)
    if not finished:
        await runner.discard_unfinished_turn(session_id, request_id)


def new_request_id() -> str:
    """A fresh request id (a client may send its own instead)."""
    return uuid.uuid4().hex
