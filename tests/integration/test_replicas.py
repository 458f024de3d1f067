"""Two `mangaassist serve` replicas over one real PostgreSQL and one real Redis.

The replicas have separate data dirs, so nothing they share can come from the local disk: a
conversation begun on A continues on B because the checkpoints, sessions, feedback and tickets
live in PostgreSQL, and a guest's rate limit holds across both because the buckets live in Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from graph.store_postgres import PostgresSessionStore
from mangaassist.settings import Settings
from server.auth import mint_token
from tests.support.processes import run_cli, running_server, service_env
from tests.support.servers import postgres_server, redis_server

pytestmark = pytest.mark.integration
SECRET = "replica-test-secret-of-at-least-32-bytes"
GUEST_PER_MIN = 3


@dataclass(frozen=True)
class Replicas:
    a: str
    b: str
    dsn: str
    env_a: dict[str, str]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    with postgres_server() as dsn, redis_server() as redis_url, ExitStack() as stack:
        shared = {
            "MANGAASSIST_DATABASE_URL": dsn,
            "MANGAASSIST_REDIS_URL": redis_url,
            "MANGAASSIST_AUTH_SECRET": SECRET,
            "MANGAASSIST_LLM_MODE": "off",
            "MANGAASSIST_RATE_GUEST_PER_MIN": str(GUEST_PER_MIN),
        }
        envs = [service_env(tmp_path_factory.mktemp(name), **shared) for name in ("replica-a", "replica-b")]
        # One after the other, each within its own start-up budget; replicas creating the schema at
        # the same moment is covered in test_store_contract.py.
        a, b = (stack.enter_context(running_server(env)) for env in envs)
        yield Replicas(a=a, b=b, dsn=dsn, env_a=envs[0])


@pytest.fixture(scope="module")
def c1001(replicas: Replicas) -> dict[str, str]:
    """A token minted by replica A's side (`mangaassist token`), used on both replicas."""
    minted = run_cli(["token", "--user", "C1001"], replicas.env_a)
    assert minted.returncode == 0, minted.stderr
    return {"Authorization": f"Bearer {minted.stdout.strip()}"}


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(Settings(auth_secret=SECRET), user, 600)}"}


def post(base: str, path: str, body: dict[str, object], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30)


async def stored(dsn: str, session_id: str) -> tuple[int, int, bool, int]:
    """(feedback rows, tickets, session row present, checkpoint rows) straight from PostgreSQL."""
    async with PostgresSessionStore(Settings(database_url=dsn)) as store:
        feedback, tickets = await store.feedback_for(session_id), await store.tickets_for(session_id)
        present = await store.get_session(session_id) is not None
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = %s", (session_id,))
        row = await cur.fetchone()
    assert row is not None
    return len(feedback), len(tickets), present, int(row[0])


async def test_a_conversation_moves_between_replicas(replicas: Replicas, c1001: dict[str, str]) -> None:
    a, b = replicas.a, replicas.b
    for base in (a, b):
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
    first = post(a, "/v1/chat/message", {"message": "recommend horror manga like Junji Ito"}, c1001)
    assert first.status_code == 200, first.text
    first_body = first.json()
    sid = first_body["session_id"]
    assert first_body["intent"] == "recommendation" and first_body["products"]

    follow = post(b, "/v1/chat/message", {"message": "how much is the first one?", "session_id": sid}, c1001)
    assert follow.status_code == 200, follow.text
    assert follow.json()["intent"] == "price_check"
    assert follow.json()["products"][0]["asin"] == first_body["products"][0]["asin"]

    for base in (a, b):
        turns = httpx.get(f"{base}/v1/sessions/{sid}", headers=c1001, timeout=30).json()["turns"]
        assert [(t["role"], t["request_id"]) for t in turns] == [
            ("user", first_body["request_id"]), ("assistant", first_body["request_id"]),
            ("user", follow.json()["request_id"]), ("assistant", follow.json()["request_id"]),
        ]

    rated = post(a, "/v1/chat/feedback",
                 {"session_id": sid, "message_id": first_body["request_id"], "rating": "up"}, c1001)
    assert rated.status_code == 200, rated.text
    ticket = post(b, "/v1/chat/escalate", {"session_id": sid, "reason": "talk to a person"}, c1001)
    assert ticket.status_code in (200, 201), ticket.text
    assert ticket.json()["queue_position"] == 1
    assert ticket.json()["summary"]["products"][0]["asin"] == first_body["products"][0]["asin"]
    feedback, tickets, present, checkpoints = await stored(replicas.dsn, sid)
    assert (feedback, tickets, present) == (1, 1, True) and checkpoints > 0

    # Nobody else reads, continues or deletes it, on either replica.
    for headers in (bearer("C1002"), {}):
        for base in (a, b):
            assert httpx.get(f"{base}/v1/sessions/{sid}", headers=headers, timeout=30).status_code == 404
            assert httpx.delete(f"{base}/v1/sessions/{sid}", headers=headers, timeout=30).status_code == 404
            hijack = post(base, "/v1/chat/message", {"message": "hi", "session_id": sid}, headers)
            assert hijack.status_code == 404

    deleted = httpx.delete(f"{b}/v1/sessions/{sid}", headers=c1001, timeout=30)
    assert deleted.status_code in (200, 204), deleted.text
    assert httpx.get(f"{a}/v1/sessions/{sid}", headers=c1001, timeout=30).status_code == 404
    assert await stored(replicas.dsn, sid) == (0, 0, False, 0)


async def test_simultaneous_turns_on_two_replicas_form_one_history(
    replicas: Replicas, c1001: dict[str, str]
) -> None:
    opened = post(replicas.a, "/v1/chat/message", {"message": "recommend a sports manga"}, c1001).json()
    sid = opened["session_id"]
    sends = [(replicas.a, "how much is the first one?"), (replicas.b, "how much is the second one?"),
             (replicas.a, "what do readers say about it?"), (replicas.b, "is the first one in stock?")]
    with ThreadPoolExecutor(len(sends)) as pool:
        answers = list(pool.map(
            lambda send: post(send[0], "/v1/chat/message", {"message": send[1], "session_id": sid}, c1001), sends
        ))
    assert [r.status_code for r in answers] == [200] * len(sends)
    turns = httpx.get(f"{replicas.b}/v1/sessions/{sid}", headers=c1001, timeout=30).json()["turns"]
    assert sorted(t["request_id"] for t in turns if t["role"] == "assistant") == sorted(
        [opened["request_id"], *(r.json()["request_id"] for r in answers)]
    )
    # Serialised by the session lock, each turn built on the one before: one linear chain of
    # checkpoints. Interleaved turns would fork it (two checkpoints with the same parent).
    async with await psycopg.AsyncConnection.connect(replicas.dsn) as conn:
        cur = await conn.execute(
            "SELECT parent_checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
            "GROUP BY parent_checkpoint_id HAVING COUNT(*) > 1",
            (sid,),
        )
        assert await cur.fetchall() == []


def test_a_guest_limit_is_shared_by_the_replicas(replicas: Replicas) -> None:
    first = post(replicas.a, "/v1/chat/message", {"message": "hello"}, {})
    assert first.status_code == 200, first.text
    sid = first.json()["session_id"]
    statuses = [
        post(base, "/v1/chat/message", {"message": "hello again", "session_id": sid}, {}).status_code
        for base in (replicas.b, replicas.a, replicas.b)
    ]
    # GUEST_PER_MIN messages pass in total, whichever replica took them; the next is refused.
    assert statuses == [200] * (GUEST_PER_MIN - 1) + [429]
    refused = post(replicas.a, "/v1/chat/message", {"message": "and again", "session_id": sid}, {})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
