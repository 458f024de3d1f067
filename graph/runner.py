"""Runs turns of the compiled graph against a durable checkpointer, with session bookkeeping.

The CLI and the HTTP service both go through `TurnRunner`, so memory, session expiry and input
rejection behave the same everywhere.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph

from graph.builder import builder
from graph.state import Context
from guardrails.input import InputIssue, size_issue
from guardrails.pii import redact_pii
from mangaassist.contracts import TurnResult
from mangaassist.settings import Settings
from graph.resources import load_all

_SESSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT,
    created_at REAL NOT NULL,
    last_active REAL NOT NULL
)
"""


class InputRejected(ValueError):
    """The message cannot be processed as sent (empty or too long)."""

    def __init__(self, issue: InputIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class SessionForbidden(PermissionError):
    """The session belongs to another caller; it is reported as not found."""


class TurnRunner:
    """Owns the checkpointer, the compiled graph and the sessions table for one process."""

    def __init__(self, settings: Settings, checkpointer: BaseCheckpointSaver[Any] | None = None) -> None:
        self.settings = settings
        self._checkpointer = checkpointer
        self._stack = AsyncExitStack()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.graph: CompiledStateGraph[Any, Any, Any, Any]
        self._db: aiosqlite.Connection

    async def __aenter__(self) -> TurnRunner:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        load_all()  # data, intent model, templates: now, not on the first shopper's turn
        if self._checkpointer is None:
            self._checkpointer = await self._stack.enter_async_context(
                AsyncSqliteSaver.from_conn_string(str(self.settings.checkpoint_path))
            )
        self.graph = builder.compile(checkpointer=self._checkpointer)
        self._db = await self._stack.enter_async_context(aiosqlite.connect(self.settings.sessions_path))
        await self._db.execute(_SESSIONS_SCHEMA)
        await self._db.commit()
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
        cutoff = time.time() - self.settings.session_ttl_hours * 3600
        async with self._db.execute("SELECT session_id FROM sessions WHERE last_active < ?", (cutoff,)) as cur:
            expired = [row[0] for row in await cur.fetchall()]
        for session_id in expired:
            await self.checkpointer.adelete_thread(session_id)
            await self._db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
        await self._db.commit()
        return len(expired)

    async def _claim(self, session_id: str, user_id: str | None) -> None:
        """Bind a new session to its caller; refuse another caller's; restart an expired one."""
        now = time.time()
        async with self._db.execute(
            "SELECT user_id, last_active FROM sessions WHERE session_id = ?", (session_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is not None:
            owner, last_active = row
            if owner != user_id:
                raise SessionForbidden(session_id)
            if last_active < now - self.settings.session_ttl_hours * 3600:
                await self.checkpointer.adelete_thread(session_id)
                await self._db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
                row = None
        if row is None:
            await self._db.execute(
                "INSERT INTO sessions (session_id, user_id, created_at, last_active) VALUES (?,?,?,?)",
                (session_id, user_id, now, now),
            )
        else:
            await self._db.execute("UPDATE sessions SET last_active = ? WHERE session_id = ?", (now, session_id))
        await self._db.commit()

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
            await self._claim(session_id, user_id)
            result: dict[str, Any] | None = None
            async for mode, chunk in self.graph.astream(
                {"message": text, "request_id": request_id},
                config,  # type: ignore[arg-type]
                context=context,
                stream_mode=["custom", "updates"],
            ):
                if mode == "custom":
                    yield chunk
                elif mode == "updates" and "finalize" in chunk:
                    result = chunk["finalize"]["result"]
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
