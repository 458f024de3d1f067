"""Query vectors: computed once per text, even by searches that start together."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest

from mangaassist.settings import get_settings
from tools.activity import turn_in_flight
from tools.embeddings import Embedder, idle_cores, usable_cores


class CountingEmbedder(Embedder):
    """The real embedder, counting the queries it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.queries: list[str] = []
        self.spare_cores: list[bool] = []
        self._lock = threading.Lock()

    def embed_documents(self, texts: Any) -> np.ndarray:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str, *, spare_cores: bool = False) -> np.ndarray:
        with self._lock:
            self.queries.append(text)
            self.spare_cores.append(spare_cores)
        return self.inner.embed_query(text)


async def test_concurrent_searches_of_one_text_embed_it_once(services):
    counting = CountingEmbedder(services.retrieval.embedder)
    retrieval = dataclasses.replace(services.retrieval, embedder=counting)
    text = "ホラー漫画のおすすめ horror"
    first, second = await asyncio.gather(retrieval.search(text, 5), retrieval.search(text, 5))
    assert counting.queries == [text]
    assert [h.doc_id for h in first] == [h.doc_id for h in second]
    # Later searches reuse the cached vector; another text is embedded on its own.
    await retrieval.search(text, 3)
    await retrieval.search("cooking manga", 3)
    assert counting.queries == [text, "cooking manga"]


async def test_a_caller_giving_up_does_not_cancel_the_shared_embedding(services):
    counting = CountingEmbedder(services.retrieval.embedder)
    retrieval = dataclasses.replace(services.retrieval, embedder=counting)
    text = "バレーボールの漫画"
    impatient = asyncio.create_task(retrieval.embed_query(text))
    patient = asyncio.create_task(retrieval.embed_query(text))
    await asyncio.sleep(0)
    impatient.cancel()
    vector = await patient
    assert vector is not None and vector.shape == (counting.identity.dim,)
    assert counting.queries == [text]


async def test_a_query_naming_a_series_or_an_author_is_searched_without_its_vector(services):
    counting = CountingEmbedder(services.retrieval.embedder)
    retrieval = dataclasses.replace(services.retrieval, embedder=counting)
    named = {
        "is volume 3 of Vinland Saga in stock": "series:vinland-saga",
        "チェンソーマンの新刊ある？": "series:chainsaw-man",
        "anything by Junji Ito?": "series:uzumaki",
    }
    for query, expected in named.items():
        hits = await retrieval.search(query, 10)
        assert expected in {f"series:{h.series_id}" for h in hits}, query
    assert counting.queries == []
    # Without a name, with a title that is also a word, a misspelt name or a short Japanese name
    # found inside another word ("ドラ" of "ドラゴン"), the query's meaning still counts.
    unnamed = ("astronauts fighting giant cockroaches on Mars", "a monster story that feels like a thriller",
               "切ない恋愛漫画", "chainsaw mna volume 2", "ドラゴンが出てくる漫画", "モブキャラが主人公の漫画")
    for query in unnamed:
        await retrieval.search(query, 3)
    assert counting.queries == list(unnamed)


class HeldEmbedder(CountingEmbedder):
    """Holds the engine until released, as a busy service's queue of queries does."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.started = threading.Event()
        self.release = threading.Event()

    def embed_query(self, text: str, *, spare_cores: bool = False) -> np.ndarray:
        self.started.set()
        self.release.wait(10)
        return super().embed_query(text, spare_cores=spare_cores)


class Reader:
    """A caller that knows at once whether it reads the search (`Interest`)."""

    def __init__(self, reads: bool) -> None:
        self.reads = reads

    def wanted(self) -> bool:
        return self.reads

    async def settled(self) -> None:
        return None


async def test_an_embedding_nobody_wants_by_the_time_the_engine_is_free_is_skipped(services):
    slow = HeldEmbedder(services.retrieval.embedder)
    retrieval = dataclasses.replace(services.retrieval, embedder=slow)
    reader = Reader(reads=True)
    busy = asyncio.create_task(retrieval.search("quiet stories about grief and healing", 5))
    assert await asyncio.to_thread(slow.started.wait, 10)  # the engine is busy with the first query
    abandoned = asyncio.create_task(retrieval.search("a cozy story about baking bread", 5, interest=reader))
    shared_text = "sports manga about a volleyball team"
    unwanted_by_one = asyncio.create_task(retrieval.search(shared_text, 5, interest=Reader(reads=False)))
    wanted_by_other = asyncio.create_task(retrieval.search(shared_text, 5))
    await asyncio.sleep(0.05)  # the other searches queue for the engine
    reader.reads = False  # routing decided no node reads that search
    slow.release.set()
    await busy
    # Nobody reads it: the engine never saw the query, and the search stopped there.
    assert await abandoned == []
    assert "a cozy story about baking bread" not in slow.queries
    # A text another caller still wants is embedded once, and searched in full for that caller.
    first, second = await asyncio.gather(unwanted_by_one, wanted_by_other)
    assert slow.queries.count(shared_text) == 1
    assert first == [] and second and all("dense" in h.scores for h in second)
    # A skipped embedding is not remembered as no vector: asked again, it is computed.
    await retrieval.search("a cozy story about baking bread", 5)
    assert "a cozy story about baking bread" in slow.queries


@pytest.mark.parametrize(
    "text",
    [
        "two sisters run a small bakery by the sea and slowly rebuild their family after their father leaves",
        "海辺の小さなパン屋を営む姉妹が父のいなくなった家族を少しずつ立て直していく話",
    ],
)
def test_a_long_query_is_embedded_from_its_first_tokens(services, text):
    embedder = services.retrieval.embedder
    clipped = embedder.clipped(text)
    # A prefix, cut at a word break where the text has spaces, already within the budget.
    assert text.startswith(clipped) and len(clipped) < len(text)
    assert " " not in text or text[len(clipped)] == " "
    assert embedder.clipped(clipped) == clipped
    assert np.array_equal(embedder.embed_query(text), embedder.embed_query(clipped))
    # A query within the budget is read whole.
    assert embedder.clipped("horror manga like Uzumaki") == "horror manga like Uzumaki"


async def test_a_query_embedded_alone_may_use_the_idle_cores_and_under_load_keeps_to_one(services):
    counting = CountingEmbedder(services.retrieval.embedder)
    retrieval = dataclasses.replace(services.retrieval, embedder=counting)
    await retrieval.search("a quiet story about lighthouse keepers", 3)
    # One turn in flight is the searching one; beside another, the cores are the event loop's.
    with turn_in_flight():
        await retrieval.search("a quiet story about a lighthouse keeper's daughter", 3)
        with turn_in_flight():
            await retrieval.search("lighthouse keepers in a storm", 3)
    assert counting.spare_cores == [True, True, False]


@pytest.mark.parametrize(("others", "idle"), [(0, usable_cores()), (1, max(1, usable_cores() - 1)), (64, 1)])
def test_idle_cores_are_those_no_other_processs_task_holds(tmp_path, others, idle):
    # A process of one thread, running (the caller), with `others` runnable tasks elsewhere.
    task = tmp_path / "task" / "1"
    task.mkdir(parents=True)
    (task / "stat").write_text("1 (python (worker)) R 0 1 1 0 -1")
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.52 0.58 0.59 {1 + others}/467 1234\n")
    assert idle_cores(loadavg, tmp_path / "task") == idle


def test_idle_cores_without_a_reading_counts_the_machine_busy(tmp_path):
    assert idle_cores(tmp_path / "missing") == 1
    (tmp_path / "garbled").write_text("not a load average")
    assert idle_cores(tmp_path / "garbled") == 1
    assert idle_cores(own_tasks=tmp_path / "no-such-process") == 1


def test_a_machine_busy_with_other_processes_has_no_idle_core():
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(usable_cores())]
    try:
        time.sleep(0.3)
        assert idle_cores() == 1
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def test_spreading_a_query_over_more_threads_gives_the_same_vector(services):
    embedder = services.retrieval.embedder
    for text in ("horror manga like Uzumaki", "静かな雰囲気の漫画"):
        np.testing.assert_allclose(
            embedder.embed_query(text, spare_cores=True), embedder.embed_query(text), atol=1e-5
        )


async def test_a_speculative_embedding_waits_for_routings_verdict(services, monkeypatch):
    from graph.speculation import Speculation

    counting = CountingEmbedder(services.retrieval.embedder)
    retrieval = dataclasses.replace(services.retrieval, embedder=counting)
    # Long enough that only the verdict can end the wait within this test.
    monkeypatch.setattr(get_settings(), "speculative_routing_wait_ms", 60_000.0)
    elsewhere, searching = Speculation(), Speculation()
    texts = ("hello, who are you?", "a quiet story about a lighthouse keeper")
    for speculation, text in zip((elsewhere, searching), texts, strict=True):
        speculation.start_search(retrieval.search(text, 5, interest=speculation))
    await asyncio.sleep(0.05)
    assert counting.queries == []  # neither is paid for before routing decides
    elsewhere.routed(read=False)  # a greeting: no node reads its search
    searching.routed(read=True)
    assert await asyncio.wait_for(searching.search(), 10)
    await asyncio.sleep(0.05)
    assert counting.queries == [texts[1]]
    assert await elsewhere.search() is None


async def test_without_a_verdict_the_speculative_embedding_starts_after_the_wait(services, monkeypatch):
    from graph.speculation import Speculation

    counting = CountingEmbedder(services.retrieval.embedder)
    retrieval = dataclasses.replace(services.retrieval, embedder=counting)
    monkeypatch.setattr(get_settings(), "speculative_routing_wait_ms", 20.0)
    speculation = Speculation()
    text = "a quiet story about a lighthouse keeper"
    speculation.start_search(retrieval.search(text, 5, interest=speculation))
    hits = await asyncio.wait_for(speculation.search(), 10)  # routing slow: the search goes on
    assert counting.queries == [text] and hits and all("dense" in h.scores for h in hits)
