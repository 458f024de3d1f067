"""One contract, every session-store backend: the same assertions on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import psycopg
import pytest

from graph.store import (
    EscalationSummary,
    FeedbackRecord,
    ProductRef,
    SessionStore,
    SqliteSessionStore,
    TicketRecord,
    TranscriptLine,
    new_ticket_id,
    open_store,
)
from graph.store_postgres import AdvisorySessionLocks, PostgresSessionStore, postgres_checkpointer
from mangaassist.settings import Settings
from tests.support.servers import postgres_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    with postgres_server() as dsn:
        yield dsn


@pytest.fixture
def fresh_pg(pg_server: str) -> str:
    """A new, empty database on the shared server, so every test starts from no rows."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return pg_server.rsplit("/", 1)[0] + f"/{name}"


StoreFactory = Callable[[], SessionStore]


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Builds unopened stores that share one backend (as the processes of one deployment do)."""
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path)
        return lambda: SqliteSessionStore(settings)
    settings = Settings(data_dir=tmp_path, database_url=request.getfixturevalue("fresh_pg"))
    return lambda: PostgresSessionStore(settings)


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[SessionStore]:
    async with make_store() as opened:
        yield opened


def ticket(session_id: str, created_at: float, reason: str | None = None) -> TicketRecord:
    return TicketRecord(
        ticket_id=new_ticket_id(), session_id=session_id, user_id="C1001", reason=reason,
        summary=EscalationSummary(
            intents=["order_status"],
            products=[ProductRef(asin="B0TESTASIN", title="ONE PIECE 5巻")],
            transcript=[TranscriptLine(role="user", text="注文はどこ？ [EMAIL]"),
                        TranscriptLine(role="assistant", text="Your order is in transit.")],
        ),
        created_at=created_at,
    )


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_store(Settings(data_dir=tmp_path)), SqliteSessionStore)
    pg = open_store(Settings(data_dir=tmp_path, database_url="postgresql://127.0.0.1:1/none"))
    assert isinstance(pg, PostgresSessionStore)


async def test_tables_are_created_once_when_processes_start_together(make_store: StoreFactory) -> None:
    stores = [make_store() for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert await stores[0].create_session("s", None, 1.0)
        for s in stores:
            await s.ping()
            assert (await s.get_session("s")) is not None
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_checkpointer_tables_are_set_up_once_when_processes_start_together(fresh_pg: str) -> None:
    async with AsyncExitStack() as stack:
        # Bounded: a lock that deadlocks with CREATE INDEX CONCURRENTLY must fail, not hang the suite.
        savers = await asyncio.wait_for(asyncio.gather(
            *(stack.enter_async_context(postgres_checkpointer(fresh_pg)) for _ in range(3))
        ), timeout=60)
        for saver in savers:
            assert await saver.aget_tuple({"configurable": {"thread_id": "t"}}) is None
    async with await psycopg.AsyncConnection.connect(fresh_pg) as conn:
        cur = await conn.execute("SELECT v FROM checkpoint_migrations ORDER BY v")
        versions = [row[0] for row in await cur.fetchall()]
    assert versions == list(range(len(versions))) and versions


async def test_a_session_has_one_owner(store: SessionStore) -> None:
    assert await store.get_session("s1") is None
    assert await store.create_session("s1", "C1001", 100.0)
    assert not await store.create_session("s1", "C1002", 200.0)
    record = await store.get_session("s1")
    assert record is not None
    assert (record.user_id, record.created_at, record.last_active) == ("C1001", 100.0, 100.0)
    assert await store.create_session("guest", None, 100.0)
    guest = await store.get_session("guest")
    assert guest is not None and guest.user_id is None


async def test_racing_claims_have_exactly_one_winner(make_store: StoreFactory) -> None:
    async with make_store() as a, make_store() as b:
        users = [f"C10{i:02d}" for i in range(10)]
        wins = await asyncio.gather(
            *((a if i % 2 else b).create_session("contested", user, 5.0) for i, user in enumerate(users))
        )
        assert wins.count(True) == 1
        owner = await a.get_session("contested")
        assert owner is not None and owner.user_id == users[wins.index(True)]


async def test_touch_and_expiry(store: SessionStore) -> None:
    await store.create_session("old", None, 10.0)
    await store.create_session("older", None, 5.0)
    await store.create_session("edge", None, 20.0)
    await store.create_session("fresh", None, 30.0)
    await store.touch_session("fresh", 40.0)
    await store.touch_session("missing", 40.0)
    fresh = await store.get_session("fresh")
    assert fresh is not None and (fresh.created_at, fresh.last_active) == (30.0, 40.0)
    assert await store.get_session("missing") is None
    assert await store.expired_sessions(20.0) == ["older", "old"]


async def test_feedback_replaces_and_keeps_order(store: SessionStore) -> None:
    await store.create_session("s", None, 1.0)
    for message_id, rating, comment, at in [("m1", "down", None, 1.0), ("m2", "up", "ありがとう", 2.0),
                                            ("m1", "up", "fixed", 3.0)]:
        await store.add_feedback(
            FeedbackRecord(session_id="s", message_id=message_id, rating=rating, comment=comment, created_at=at)
        )
    got = [(f.message_id, f.rating, f.comment) for f in await store.feedback_for("s")]
    assert got == [("m2", "up", "ありがとう"), ("m1", "up", "fixed")]
    assert await store.feedback_for("other") == []


async def test_tickets_round_trip_and_queue_positions(store: SessionStore) -> None:
    first, second, third = ticket("a", 10.0, "agent please"), ticket("b", 11.0), ticket("a", 12.0)
    assert await store.add_ticket(first) == 1
    assert await store.add_ticket(second) == 2
    assert await store.add_ticket(third) == 3
    assert await store.tickets_for("a") == [first, third]
    assert (await store.tickets_for("b"))[0].summary.transcript[0].text == "注文はどこ？ [EMAIL]"


async def test_delete_erases_the_session_feedback_and_tickets(store: SessionStore) -> None:
    for sid in ("gone", "kept"):
        await store.create_session(sid, "C1001", 1.0)
        await store.add_feedback(FeedbackRecord(session_id=sid, message_id="m", rating="up", created_at=1.0))
    await store.add_ticket(ticket("gone", 1.0))
    await store.add_ticket(ticket("kept", 2.0))
    assert await store.delete_session("gone")
    assert not await store.delete_session("gone")
    assert await store.get_session("gone") is None
    assert await store.feedback_for("gone") == [] and await store.tickets_for("gone") == []
    assert len(await store.feedback_for("kept")) == 1 and len(await store.tickets_for("kept")) == 1
    # The erased ticket no longer holds a place in the queue.
    assert await store.add_ticket(ticket("kept", 3.0)) == 2


async def test_turn_lock_excludes_the_same_session_in_another_process(fresh_pg: str) -> None:
    order: list[str] = []
    async with AdvisorySessionLocks(fresh_pg) as a, AdvisorySessionLocks(fresh_pg) as b:
        async def turn(locks: AdvisorySessionLocks, name: str, hold_s: float) -> None:
            async with locks["s"]:
                order.append(f"{name}-start")
                await asyncio.sleep(hold_s)
                order.append(f"{name}-end")

        first = asyncio.create_task(turn(a, "a", 0.3))
        while not order:
            await asyncio.sleep(0.01)
        second = asyncio.create_task(turn(b, "b", 0))
        # Another session is not held up by the first one's turn.
        async with b["other"]:
            assert order == ["a-start"]
        await asyncio.gather(first, second)
    assert order == ["a-start", "a-end", "b-start", "b-end"]
