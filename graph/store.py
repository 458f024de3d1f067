"""The service's own durable tables: sessions, feedback and escalation tickets.

LangGraph's checkpointer keeps the conversation itself; this store keeps what the service needs
around it. `SessionStore` fixes the semantics every backend implements; `SqliteSessionStore` is
the embedded default and `open_store(settings)` picks the backend for a process.

Times are POSIX seconds (float). The SQL here is plain enough to run on PostgreSQL too
(`INSERT ... ON CONFLICT`, no SQLite-only functions), apart from the `?` placeholders.
"""

from __future__ import annotations

import abc
import json
import uuid
from typing import Any, Literal, Self

import aiosqlite
from pydantic import BaseModel, Field

from mangaassist.contracts import Language
from mangaassist.settings import Settings

Rating = Literal["up", "down"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        last_active DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS feedback (
        session_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        rating TEXT NOT NULL,
        comment TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (session_id, message_id)
    )""",
    """CREATE TABLE IF NOT EXISTS tickets (
        ticket_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        user_id TEXT,
        reason TEXT,
        summary TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    # Expiry scans by last use (startup, readiness probes).
    "CREATE INDEX IF NOT EXISTS sessions_last_active ON sessions (last_active)",
    "CREATE INDEX IF NOT EXISTS tickets_session ON tickets (session_id)",
    "CREATE INDEX IF NOT EXISTS tickets_open ON tickets (status, created_at)",
)


class SessionRecord(BaseModel):
    """One session: who owns it (None = a guest bound to the id) and when it was last used."""

    session_id: str
    user_id: str | None
    created_at: float
    last_active: float


class FeedbackRecord(BaseModel):
    """A shopper's rating of one assistant answer; `message_id` is that turn's request_id."""

    session_id: str
    message_id: str
    rating: Rating
    comment: str | None = None
    created_at: float


class ProductRef(BaseModel):
    """A product discussed in the conversation."""

    asin: str
    title: str


class TranscriptLine(BaseModel):
    """One line of the redacted transcript a human agent reads."""

    role: Literal["user", "assistant"]
    text: str


class EscalationSummary(BaseModel):
    """What a human agent needs to pick the conversation up."""

    language: Language | None = Field(default=None, description="The shopper's language in the last turn.")
    intents: list[str] = Field(description="Intents seen in the conversation, first occurrence order.")
    products: list[ProductRef] = Field(description="Products shown to the shopper, first occurrence order.")
    transcript: list[TranscriptLine] = Field(description="The conversation, PII redacted.")


class TicketRecord(BaseModel):
    """A handoff to a human agent. New tickets are `open`; agents' tools close them."""

    ticket_id: str
    session_id: str
    user_id: str | None
    reason: str | None
    summary: EscalationSummary
    status: Literal["open", "closed"] = "open"
    created_at: float


def new_ticket_id() -> str:
    """Ticket ids are `ESC-` followed by 12 upper-case hex digits, e.g. `ESC-3F9A0B12C4D5`."""
    return f"ESC-{uuid.uuid4().hex[:12].upper()}"


class SessionStore(abc.ABC):
    """The service's durable tables; one instance per process, shared by all requests.

    An instance is an async context manager: entering it connects and creates missing tables
    (idempotent, safe when several processes start at once); leaving it closes the connection.
    Every method commits before it returns.
    """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the tables and indexes if they do not exist."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection(s)."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Run a trivial query against the backend; raise if it cannot answer (readiness)."""

    @abc.abstractmethod
    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session row, or None if there is none (expired rows are returned as they are)."""

    @abc.abstractmethod
    async def create_session(self, session_id: str, user_id: str | None, now: float) -> bool:
        """Insert a session owned by `user_id` with `created_at = last_active = now`.

        Returns:
            True if the row was inserted; False if the id already existed (that row is left
            unchanged, so of two processes racing for one id exactly one wins).
        """

    @abc.abstractmethod
    async def touch_session(self, session_id: str, now: float) -> None:
        """Set `last_active = now`; no-op for an unknown id."""

    @abc.abstractmethod
    async def expired_sessions(self, cutoff: float) -> list[str]:
        """Ids of sessions whose `last_active` is strictly before `cutoff`, oldest first."""

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> bool:
        """Erase the session row and all its feedback and tickets, in one transaction.

        Checkpoints are not the store's: the caller deletes the checkpointer thread too.

        Returns:
            True if a session row existed.
        """

    @abc.abstractmethod
    async def add_feedback(self, feedback: FeedbackRecord) -> None:
        """Record a rating; rating the same (session_id, message_id) again replaces the earlier one."""

    @abc.abstractmethod
    async def feedback_for(self, session_id: str) -> list[FeedbackRecord]:
        """The session's feedback, oldest first."""

    @abc.abstractmethod
    async def add_ticket(self, ticket: TicketRecord) -> int:
        """Store a new ticket (its `summary` as JSON text).

        Returns:
            Its queue position: 1 + the number of other `open` tickets (any session) created
            before it (ordered by `created_at`, then `ticket_id`). 1 means next in line.
        """

    @abc.abstractmethod
    async def tickets_for(self, session_id: str) -> list[TicketRecord]:
        """The session's tickets, oldest first."""


class SqliteSessionStore(SessionStore):
    """The embedded default: one SQLite file (`settings.sessions_path`) through aiosqlite."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.sessions_path
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError("the session store is not open")
        return self._db

    async def open(self) -> None:
        """Connect and create the tables."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        # Another process may hold the file briefly (CLI next to the server): wait, don't fail.
        await self._db.execute("PRAGMA busy_timeout = 5000")
        for statement in SCHEMA:
            await self._db.execute(statement)
        await self._db.commit()

    async def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with self.db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        async with self.db.execute(sql, params) as cur:
            count = cur.rowcount
        await self.db.commit()
        return count

    async def ping(self) -> None:
        """`SELECT 1` on the store's connection."""
        await self._rows("SELECT 1")

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session row, or None."""
        rows = await self._rows(
            "SELECT session_id, user_id, created_at, last_active FROM sessions WHERE session_id = ?", (session_id,)
        )
        if not rows:
            return None
        sid, user_id, created_at, last_active = rows[0]
        return SessionRecord(session_id=sid, user_id=user_id, created_at=created_at, last_active=last_active)

    async def create_session(self, session_id: str, user_id: str | None, now: float) -> bool:
        """Insert unless the id exists."""
        inserted = await self._write(
            "INSERT INTO sessions (session_id, user_id, created_at, last_active) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (session_id) DO NOTHING",
            (session_id, user_id, now, now),
        )
        return inserted == 1

    async def touch_session(self, session_id: str, now: float) -> None:
        """Mark the session used now."""
        await self._write("UPDATE sessions SET last_active = ? WHERE session_id = ?", (now, session_id))

    async def expired_sessions(self, cutoff: float) -> list[str]:
        """Sessions idle since before `cutoff`."""
        rows = await self._rows(
            "SELECT session_id FROM sessions WHERE last_active < ? ORDER BY last_active", (cutoff,)
        )
        return [row[0] for row in rows]

    async def delete_session(self, session_id: str) -> bool:
        """Erase the session, its feedback and tickets together."""
        db = self.db
        await db.execute("DELETE FROM feedback WHERE session_id = ?", (session_id,))
        await db.execute("DELETE FROM tickets WHERE session_id = ?", (session_id,))
        async with db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)) as cur:
            existed = cur.rowcount == 1
        await db.commit()
        return existed

    async def add_feedback(self, feedback: FeedbackRecord) -> None:
        """Insert or replace the rating of one answer."""
        await self._write(
            "INSERT INTO feedback (session_id, message_id, rating, comment, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (session_id, message_id) DO UPDATE SET "
            "rating = excluded.rating, comment = excluded.comment, created_at = excluded.created_at",
            (feedback.session_id, feedback.message_id, feedback.rating, feedback.comment, feedback.created_at),
        )

    async def feedback_for(self, session_id: str) -> list[FeedbackRecord]:
        """The session's ratings, oldest first."""
        rows = await self._rows(
            "SELECT session_id, message_id, rating, comment, created_at FROM feedback "
            "WHERE session_id = ? ORDER BY created_at",
            (session_id,),
        )
        keys = ("session_id", "message_id", "rating", "comment", "created_at")
        return [FeedbackRecord.model_validate(dict(zip(keys, row, strict=True))) for row in rows]

    async def add_ticket(self, ticket: TicketRecord) -> int:
        """Insert the ticket and count its place among open tickets."""
        await self._write(
            "INSERT INTO tickets (ticket_id, session_id, user_id, reason, summary, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ticket.ticket_id, ticket.session_id, ticket.user_id, ticket.reason,
             ticket.summary.model_dump_json(), ticket.status, ticket.created_at),
        )
        rows = await self._rows(
            "SELECT COUNT(*) FROM tickets WHERE status = 'open' AND "
            "(created_at < ? OR (created_at = ? AND ticket_id <= ?))",
            (ticket.created_at, ticket.created_at, ticket.ticket_id),
        )
        return int(rows[0][0])

    async def tickets_for(self, session_id: str) -> list[TicketRecord]:
        """The session's tickets, oldest first."""
        rows = await self._rows(
            "SELECT ticket_id, session_id, user_id, reason, summary, status, created_at FROM tickets "
            "WHERE session_id = ? ORDER BY created_at, ticket_id",
            (session_id,),
        )
        keys = ("ticket_id", "session_id", "user_id", "reason", "summary", "status", "created_at")
        records = []
        for row in rows:
            fields = dict(zip(keys, row, strict=True))
            fields["summary"] = json.loads(fields["summary"])
            records.append(TicketRecord.model_validate(fields))
        return records


def open_store(settings: Settings) -> SessionStore:
    """The store backend for these settings (not yet opened: use it as `async with`)."""
    if settings.database_url is not None:
        # Imported here: the PostgreSQL backend builds on this module's classes.
        from graph.store_postgres import PostgresSessionStore

        return PostgresSessionStore(settings)
    return SqliteSessionStore(settings)
