"""Runs turns of the compiled graph against a durable checkpointer, with session bookkeeping.

The CLI and the HTTP service both go through `TurnRunner`, so memory, session expiry and input
rejection behave the same everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any, Literal

from langchain_core.messages import RemoveMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from graph.builder import builder
from graph.locks import SessionLocks
from graph.resources import load_all
from graph.state import Context
from guardrails.input import InputIssue, size_issue
from guardrails.pii import redact_pii
from graph.store import (
    EscalationSummary,
    FeedbackRecord,
    ProductRef,
    Rating,
    SessionRecord,
    SessionStore,
    TicketRecord,
    TranscriptLine,
    new_ticket_id,
    open_store,
)
from graph.store_postgres import AdvisorySessionLocks, database_dsn, postgres_checkpointer
from mangaassist.contracts import Intent, Language, ProductCard, TurnResult
from mangaassist.settings import Settings
from tools.activity import turn_in_flight

log = logging.getLogger("mangaassist.graph.runner")

# How often a readiness probe may also sweep expired sessions. Probes come every few seconds, and
# the sweep only frees storage: an expired session is already refused or restarted when it is used.
PURGE_INTERVAL_S = 60.0


class InputRejected(ValueError):
    """The message cannot be processed as sent (empty or too long)."""

    def __init__(self, issue: InputIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class SessionForbidden(PermissionError):
    """The session belongs to another caller; it is reported as not found."""


class SessionNotFound(LookupError):
    """No live session of this caller has that id (unknown, expired, or someone else's)."""


class MessageNotFound(LookupError):
    """The session has no answer with that request id."""


class ConversationTurn(BaseModel):
    """One line of a conversation; a shopper's message and its answer share the request id."""

    role: Literal["user", "assistant"]
    text: str
    intent: Intent
    language: Language
    request_id: str
    products: list[ProductCard] = Field(default_factory=list)


class TurnRunner:
    """Owns the checkpointer, the compiled graph and the sessions table for one process."""

    def __init__(self, settings: Settings, checkpointer: BaseCheckpointSaver[Any] | None = None) -> None:
        self.settings = settings
        self._checkpointer = checkpointer
        self._stack = AsyncExitStack()
        self._locks: SessionLocks | AdvisorySessionLocks = SessionLocks()
        self.graph: CompiledStateGraph[Any, Any, Any, Any]
        self.store: SessionStore
        self._last_purge = -math.inf

    async def __aenter__(self) -> TurnRunner:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Data, index, intent model, templates: now, not on the first shopper's turn, and in a
        # worker thread so a server's loop keeps answering health checks meanwhile.
        await asyncio.to_thread(load_all)
        if self._checkpointer is None and self.settings.database_url is not None:
            dsn = database_dsn(self.settings)
            self._checkpointer = await self._stack.enter_async_context(postgres_checkpointer(dsn))
            # Replicas share threads: a turn must also exclude the same session's turns elsewhere.
            self._locks = await self._stack.enter_async_context(AdvisorySessionLocks(dsn))
        elif self._checkpointer is None:
            saver = await self._stack.enter_async_context(
                AsyncSqliteSaver.from_conn_string(str(self.settings.checkpoint_path))
            )
            # Tables now, not on the first turn: the start-up purge may delete threads before any turn.
            await saver.setup()
            self._checkpointer = saver
        self.graph = builder.compile(checkpointer=self._checkpointer)
        self.store = await self._stack.enter_async_context(open_store(self.settings))
        await self.purge_expired()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    @property
    def checkpointer(self) -> BaseCheckpointSaver[Any]:
        """The saver holding every session's thread."""
        assert self._checkpointer is not None
        return self._checkpointer

    async def purge_expired(self) -> int:
        """Delete sessions idle longer than the configured time, with their checkpoints."""
        # Stamped before the first await, so concurrent probes do not start a second sweep.
        self._last_purge = time.monotonic()
        expired = await self.store.expired_sessions(time.time() - self.settings.session_ttl_hours * 3600)
        for session_id in expired:
            await self._erase(session_id)
        return len(expired)

    async def purge_expired_if_due(self) -> int:
        """`purge_expired`, unless a purge started less than `PURGE_INTERVAL_S` ago (then 0)."""
        if time.monotonic() - self._last_purge < PURGE_INTERVAL_S:
            return 0
        return await self.purge_expired()

    async def _erase(self, session_id: str) -> None:
        await self.checkpointer.adelete_thread(session_id)
        await self.store.delete_session(session_id)

    def _expired(self, record: SessionRecord, now: float) -> bool:
        return record.last_active < now - self.settings.session_ttl_hours * 3600

    async def _claim(self, session_id: str, user_id: str | None) -> None:
        """Bind a new session to its caller; refuse another caller's; restart an expired one."""
        now = time.time()
        record = await self.store.get_session(session_id)
        if record is not None and record.user_id == user_id and self._expired(record, now):
            await self._erase(session_id)
            record = None
        if record is None and await self.store.create_session(session_id, user_id, now):
            return
        # Either it existed, or another process created it between our read and our insert.
        record = record or await self.store.get_session(session_id)
        if record is None or record.user_id != user_id:
            raise SessionForbidden(session_id)
        await self.store.touch_session(session_id, now)

    async def start_session(self, user_id: str | None) -> str:
        """A new session owned by the caller (a guest when `user_id` is None); returns its id."""
        session_id = uuid.uuid4().hex
        await self.store.create_session(session_id, user_id, time.time())
        return session_id

    async def _owned(self, session_id: str, user_id: str | None) -> SessionRecord:
        """The caller's live session; anyone else's, an expired or an unknown one is not found."""
        record = await self.store.get_session(session_id)
        if record is None or record.user_id != user_id or self._expired(record, time.time()):
            raise SessionNotFound(session_id)
        return record

    async def conversation(self, session_id: str, user_id: str | None) -> list[ConversationTurn]:
        """The caller's conversation, oldest first, read from the checkpointed turns.

        The checkpoint history is read rather than the message list, because the message list
        forgets turns once they are folded into the running summary.
        """
        await self._owned(session_id, user_id)
        config: Any = {"configurable": {"thread_id": session_id}}
        turns: list[ConversationTurn] = []
        async for snapshot in self.graph.aget_state_history(config):
            result = snapshot.values.get("result")
            if snapshot.next or not result:
                continue
            shown = [ProductCard.model_validate(p) for p in result.get("products", [])]
            common = {"intent": result["intent"], "language": result["language"], "request_id": result["request_id"]}
            turns.append(ConversationTurn(role="assistant", text=result["text"], products=shown, **common))
            turns.append(ConversationTurn(role="user", text=snapshot.values.get("user_text", ""), **common))
        turns.reverse()
        return turns

    async def delete_session(self, session_id: str, user_id: str | None) -> None:
        """Erase the caller's session: checkpoints, session row, feedback and tickets."""
        async with self._locks[session_id]:
            await self._owned(session_id, user_id)
            await self._erase(session_id)

    async def add_feedback(
        self, session_id: str, user_id: str | None, message_id: str, rating: Rating, comment: str | None
    ) -> ConversationTurn:
        """Rate one answer of the caller's session (`message_id` is its request_id); returns that answer."""
        turns = await self.conversation(session_id, user_id)
        rated = next((t for t in turns if t.request_id == message_id and t.role == "assistant"), None)
        if rated is None:
            raise MessageNotFound(message_id)
        feedback = FeedbackRecord(
            session_id=session_id, message_id=message_id, rating=rating,
            comment=redact_pii(comment)[0] if comment else comment, created_at=time.time(),
        )
        await self.store.add_feedback(feedback)
        return rated

    async def escalate(self, session_id: str, user_id: str | None, reason: str | None) -> tuple[TicketRecord, int]:
        """Open a handoff ticket carrying the redacted conversation; returns it and its queue position."""
        turns = await self.conversation(session_id, user_id)
        products: dict[str, ProductRef] = {}
        for turn in turns:
            for card in turn.products:
                products.setdefault(card.asin, ProductRef(asin=card.asin, title=card.title))
        # Redacted again: the transcript leaves the assistant for people, whatever the guard policy was.
        summary = EscalationSummary(
            language=turns[-1].language if turns else None,
            intents=list(dict.fromkeys(t.intent for t in turns if t.role == "user")),
            products=list(products.values()),
            transcript=[TranscriptLine(role=t.role, text=redact_pii(t.text)[0]) for t in turns],
        )
        ticket = TicketRecord(
            ticket_id=new_ticket_id(), session_id=session_id, user_id=user_id,
            reason=redact_pii(reason)[0] if reason else reason, summary=summary, created_at=time.time(),
        )
        return ticket, await self.store.add_ticket(ticket)

    def check_message(self, message: str) -> str:
        """Reject empty or oversized messages; return the PII-redacted text the graph gets."""
        issue = size_issue(message, self.settings.max_message_chars)
        if issue is not None:
            raise InputRejected(issue)
        # Redact before the graph sees it, so not even the input checkpoint holds the original.
        return redact_pii(message)[0]

    async def stream(
        self,
        message: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        request_id: str | None = None,
        context_hints: dict[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Run one turn, yielding `reset`/`token` events and finally `{"type": "final", "result"}`."""
        text = self.check_message(message)
        session_id = session_id or uuid.uuid4().hex
        request_id = request_id or uuid.uuid4().hex
        context = Context(session_id=session_id, user_id=user_id, context_hints=context_hints or {})
        config = {"configurable": {"thread_id": session_id}}
        async with self._locks[session_id]:
            with turn_in_flight():
                await self._claim(session_id, user_id)
                result: dict[str, Any] | None = None
                async for event in self.graph.astream(
                    {"message": text, "request_id": request_id},
                    config,  # type: ignore[arg-type]
                    context=context,
                    stream_mode="custom",
                    # Memory only has to survive between turns: one checkpoint at the end of the turn
                    # instead of one per step (a step's writes cost a SQLite commit each).
                    durability="exit",
                ):
                    # `finalize` sends the result; it is yielded once the turn is in memory.
                    if event["type"] == "final":
                        result = event["result"]
                    else:
                        yield event
                if result is None:
                    raise RuntimeError("the turn ended without a result")
                yield {"type": "final", "result": result}

    async def run(self, message: str, **kwargs: Any) -> TurnResult:
        """Run one turn to completion and return its result."""
        result: dict[str, Any] | None = None
        async for event in self.stream(message, **kwargs):
            if event["type"] == "final":
                result = event["result"]
        assert result is not None
        return TurnResult.model_validate(result)

    async def discard_unfinished_turn(self, session_id: str, request_id: str) -> bool:
        """Leave a session as it was before a turn that did not finish (client gone, cancelled).

        LangGraph writes a checkpoint when a run stops, finished or not, so an interrupted turn would
        leave the shopper's message in memory with no answer to it. This removes the messages the
        turn added and closes the run, so the session holds the whole turn or none of it. It only
        acts while that turn is the session's latest run and has no result. Returns whether it undid
        anything.
        """
        config: Any = {"configurable": {"thread_id": session_id}}
        latest = await self.graph.aget_state(config)
        values = latest.values
        # `finalize` writes the turn's result last: a result with this request id is a whole turn.
        if values.get("request_id") != request_id or (values.get("result") or {}).get("request_id") == request_id:
            return False
        before: set[str | None] = set()
        async for snapshot in self.graph.aget_state_history(config):
            if snapshot.values.get("request_id") != request_id:
                before = {m.id for m in snapshot.values.get("messages", [])}
                break
        added = [m.id for m in values.get("messages", []) if m.id not in before]
        if not added and not latest.next:
            return False  # nothing of the turn was kept (or it was undone already)
        await self.graph.aupdate_state(
            config, {"messages": [RemoveMessage(id=i) for i in added if i]}, as_node="finalize"
        )
        log.info("unfinished turn discarded", extra={"messages_removed": len(added)})
        return True
