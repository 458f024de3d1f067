"""PostgreSQL backends shared by several server processes (replicas).

With `MANGAASSIST_DATABASE_URL` set, every replica keeps its conversations (LangGraph's Postgres
checkpointer), its sessions, feedback and tickets (`PostgresSessionStore`) in one database, so a
conversation begun on one process continues on another. Three things make that safe:

- schema creation runs under one advisory lock, so replicas starting together do not race on
  `CREATE TABLE` / the checkpointer's migrations;
- a session is claimed with `INSERT ... ON CONFLICT DO NOTHING`, so of two replicas racing for a
  new id exactly one owns it;
- a turn holds a transaction-scoped advisory lock on its session (`AdvisorySessionLocks`), so two
  replicas never interleave writes to one checkpoint thread.

Connections come from `psycopg_pool` (a dependency of langgraph-checkpoint-postgres).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Self

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection, OperationalError, ProgrammingError
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from graph.locks import SessionLocks
from graph.store import SCHEMA, FeedbackRecord, SessionRecord, SessionStore, TicketRecord
from mangaassist.settings import Settings

# Connections per pool and process. The checkpointer queues its own queries behind one lock, so it
# needs one connection plus one for the schema lock. The lock pool holds one connection per session
# with a turn in flight in this process; it is separate so that turns holding locks can never
# starve the queries those same turns need.
_CHECKPOINT_POOL_SIZE = 2
_DATA_POOL_SIZE = 4
_LOCK_POOL_SIZE = 16
_CONNECT_TIMEOUT_S = 10.0
_SETUP_LOCK_NAME = "mangaassist:schema"
_SETUP_POLL_S = 0.05
_TURN_LOCK_PREFIX = "mangaassist:turn:"


class DatabaseUnavailable(RuntimeError):
    """The configured PostgreSQL server cannot be reached."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def database_dsn(settings: Settings) -> str:
    """The PostgreSQL connection string; only called when `database_url` is set."""
    if settings.database_url is None:
        raise ValueError("MANGAASSIST_DATABASE_URL is not set")
    return settings.database_url.get_secret_value()


@asynccontextmanager
async def _pool(dsn: str, max_size: int) -> AsyncIterator[AsyncConnectionPool[AsyncConnection[DictRow]]]:
    # autocommit + dict rows + no server-side prepares: what AsyncPostgresSaver expects of its
    # connections (and what works behind a transaction-mode pooler).
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        timeout=_CONNECT_TIMEOUT_S,
    )
    try:
        await pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
    except (PoolTimeout, OperationalError) as exc:
        await pool.close()
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {_where(dsn)}") from exc
    try:
        yield pool
    finally:
        await pool.close()


def _where(dsn: str) -> str:
    # host:port/dbname only: the DSN may carry a password.
    try:
        parts = conninfo_to_dict(dsn)
    except ProgrammingError:
        return "the configured address (not a valid connection string)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


@asynccontextmanager
async def _setup_lock(pool: AsyncConnectionPool[AsyncConnection[DictRow]]) -> AsyncIterator[None]:
    """Serialise schema creation across processes (session-level advisory lock).

    Polled with `pg_try_advisory_lock` rather than waited for: the checkpointer's migrations run
    `CREATE INDEX CONCURRENTLY`, which waits for every open transaction, including a blocked
    `pg_advisory_lock` call of the next replica that is waiting for this one (a deadlock
    PostgreSQL does not detect).
    """
    key = lock_key(_SETUP_LOCK_NAME)
    async with pool.connection() as conn:
        while True:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (key,))
            row = await cur.fetchone()
            if row is not None and row["taken"]:
                break
            await asyncio.sleep(_SETUP_POLL_S)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


@asynccontextmanager
async def postgres_checkpointer(dsn: str) -> AsyncIterator[AsyncPostgresSaver]:
    """LangGraph's Postgres saver over its own pool, its tables set up once across replicas."""
    async with _pool(dsn, _CHECKPOINT_POOL_SIZE) as pool:
        saver = AsyncPostgresSaver(pool)
        async with _setup_lock(pool):
            await saver.setup()
        yield saver


class AdvisorySessionLocks:
    """`locks[session_id]` is held around a turn; it excludes that session's turns in every replica.

    It stands in for the runner's per-process `SessionLocks`: within the process an
    asyncio lock still queues the session's turns (so a process holds at most one connection per
    session); across processes `pg_advisory_xact_lock` on a hash of the session id does. The lock
    is transaction-scoped: whatever ends the turn (result, error, cancellation, a dropped
    connection), the transaction ends and PostgreSQL releases it.
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._local = SessionLocks()
        self._stack = AsyncExitStack()
        self._pool: AsyncConnectionPool[AsyncConnection[DictRow]] | None = None

    async def __aenter__(self) -> Self:
        self._pool = await self._stack.enter_async_context(_pool(self._dsn, _LOCK_POOL_SIZE))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._pool = None
        await self._stack.aclose()

    def __getitem__(self, session_id: str) -> AbstractAsyncContextManager[None]:
        return self._hold(session_id)

    @asynccontextmanager
    async def _hold(self, session_id: str) -> AsyncIterator[None]:
        if self._pool is None:
            raise RuntimeError("the session locks are not open")
        async with self._local[session_id], self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(_TURN_LOCK_PREFIX + session_id),))
            yield


class PostgresSessionStore(SessionStore):
    """Sessions, feedback and tickets in PostgreSQL, shared by every replica."""

    def __init__(self, settings: Settings) -> None:
        self._dsn = database_dsn(settings)
        self._stack = AsyncExitStack()
        self._pool: AsyncConnectionPool[AsyncConnection[DictRow]] | None = None

    @property
    def pool(self) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
        """The open connection pool."""
        if self._pool is None:
            raise RuntimeError("the session store is not open")
        return self._pool

    async def open(self) -> None:
        """Connect and create the tables under the schema lock."""
        self._pool = await self._stack.enter_async_context(_pool(self._dsn, _DATA_POOL_SIZE))
        async with _setup_lock(self._pool), self._pool.connection() as conn:
            for statement in SCHEMA:
                await conn.execute(statement)  # type: ignore[arg-type]  # constant DDL, no parameters

    async def close(self) -> None:
        """Close the pool."""
        self._pool = None
        await self._stack.aclose()

    async def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[DictRow]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)  # type: ignore[arg-type]  # module-constant SQL
            return await cur.fetchall()

    async def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)  # type: ignore[arg-type]  # module-constant SQL
            return cur.rowcount

    async def ping(self) -> None:
        """`SELECT 1` on a pooled connection."""
        await self._rows("SELECT 1")

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session row, or None."""
        rows = await self._rows(
            "SELECT session_id, user_id, created_at, last_active FROM sessions WHERE session_id = %s",
            (session_id,),
        )
        return SessionRecord.model_validate(rows[0]) if rows else None

    async def create_session(self, session_id: str, user_id: str | None, now: float) -> bool:
        """Insert unless the id exists; the database decides which racing replica wins."""
        inserted = await self._write(
            "INSERT INTO sessions (session_id, user_id, created_at, last_active) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (session_id) DO NOTHING",
            (session_id, user_id, now, now),
        )
        return inserted == 1

    async def touch_session(self, session_id: str, now: float) -> None:
        """Mark the session used now."""
        await self._write("UPDATE sessions SET last_active = %s WHERE session_id = %s", (now, session_id))

    async def expired_sessions(self, cutoff: float) -> list[str]:
        """Sessions idle since before `cutoff`."""
        rows = await self._rows(
            "SELECT session_id FROM sessions WHERE last_active < %s ORDER BY last_active", (cutoff,)
        )
        return [row["session_id"] for row in rows]

    async def delete_session(self, session_id: str) -> bool:
        """Erase the session, its feedback and tickets in one transaction."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM feedback WHERE session_id = %s", (session_id,))
            await conn.execute("DELETE FROM tickets WHERE session_id = %s", (session_id,))
            cur = await conn.execute("DELETE FROM sessions WHERE session_id = %s", (session_id,))
            return cur.rowcount == 1

    async def add_feedback(self, feedback: FeedbackRecord) -> None:
        """Insert or replace the rating of one answer."""
        await self._write(
            "INSERT INTO feedback (session_id, message_id, rating, comment, created_at) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (session_id, message_id) DO UPDATE SET "
            "rating = excluded.rating, comment = excluded.comment, created_at = excluded.created_at",
            (feedback.session_id, feedback.message_id, feedback.rating, feedback.comment, feedback.created_at),
        )

    async def feedback_for(self, session_id: str) -> list[FeedbackRecord]:
        """The session's ratings, oldest first."""
        rows = await self._rows(
            "SELECT session_id, message_id, rating, comment, created_at FROM feedback "
            "WHERE session_id = %s ORDER BY created_at",
            (session_id,),
        )
        return [FeedbackRecord.model_validate(row) for row in rows]

    async def add_ticket(self, ticket: TicketRecord) -> int:
        """Insert the ticket and count its place among open tickets, on one connection."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO tickets (ticket_id, session_id, user_id, reason, summary, status, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (ticket.ticket_id, ticket.session_id, ticket.user_id, ticket.reason,
                 ticket.summary.model_dump_json(), ticket.status, ticket.created_at),
            )
            cur = await conn.execute(
                "SELECT COUNT(*) AS ahead FROM tickets WHERE status = 'open' AND "
                "(created_at < %s OR (created_at = %s AND ticket_id <= %s))",
                (ticket.created_at, ticket.created_at, ticket.ticket_id),
            )
            row = await cur.fetchone()
        assert row is not None  # COUNT(*) always returns one row
        return int(row["ahead"])

    async def tickets_for(self, session_id: str) -> list[TicketRecord]:
        """The session's tickets, oldest first."""
        rows = await self._rows(
            "SELECT ticket_id, session_id, user_id, reason, summary, status, created_at FROM tickets "
            "WHERE session_id = %s ORDER BY created_at, ticket_id",
            (session_id,),
        )
        return [TicketRecord.model_validate({**row, "summary": json.loads(row["summary"])}) for row in rows]
