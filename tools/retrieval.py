"""Retrieval for turns, tools and commands: embed the query, hybrid search, rerank.

`Retriever` joins a `SearchBackend` (embedded on-disk index by default, OpenSearch when
configured), the embedder the index was built with, and the reranker trained with it. It refuses
to start when the configured embedding model differs from the index's: a query vector from one
model compared against another model's document vectors would rank noise.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mangaassist.settings import Settings
from tools.catalog import Catalog
from tools.embeddings import Embedder, get_embedder
from tools.indexing import IndexReport, Progress, build_documents, load_seed, run_index, seed_path
from tools.latency import simulate
from tools.policies import load_policies
from tools.rerank import RERANK_DEPTH, Reranker, RerankerModel, train
from tools.rerank import load as load_reranker
from tools.rerank import save as save_reranker
from tools.search_backend import IndexedDoc, IndexIdentity, SearchBackend, SearchFilters, SearchHit
from tools.text import normalize, tokenize

__all__ = ["IndexMismatch", "Retriever", "SearchFilters", "SearchHit", "make_backend", "open_retriever"]

log = logging.getLogger(__name__)

_QUERY_CACHE = 512


class IndexMismatch(RuntimeError):
    """The index was built with another embedding model than the one configured."""


def make_backend(settings: Settings) -> SearchBackend:
    """The configured search backend (not yet checked for a live index)."""
    if settings.search_backend == "opensearch":
        from tools.opensearch_backend import OpenSearchBackend

        return OpenSearchBackend.from_settings(settings)
    from tools.embedded_backend import EmbeddedBackend

    return EmbeddedBackend(settings.index_path)


def reranker_path(settings: Settings) -> Path:
    """Where the trained reranker of the configured index is kept."""
    name = "reranker.json" if settings.search_backend == "embedded" else f"reranker.{settings.search_backend}.json"
    return settings.index_path / name


def _name_like(query: str, word: str) -> bool:
    """Katakana runs, capitalised words, or any word of a short request ("got frieran?")."""
    if not word.isascii():
        return True
    if re.search(rf"(?<!^)\b{re.escape(word.capitalize())}", query.strip()):
        return True
    return len(query.split()) <= 5


@dataclass
class Retriever:
    """Query embedding, hybrid search and reranking over one live index.

    `identity` is None for a remote backend until the first search asks it (its client belongs to
    the serving event loop); the embedding check runs then.
    """

    backend: SearchBackend
    embedder: Embedder | None
    reranker: Reranker | None
    identity: IndexIdentity | None
    vocabulary: frozenset[str]
    rerank_default: bool = True

    def __post_init__(self) -> None:
        if self.identity is not None:
            self._check(self.identity)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _check(self, identity: IndexIdentity) -> None:
        if self.embedder is not None and self.embedder.identity != identity.embedding:
            raise IndexMismatch(
                f"the index was built with {identity.embedding.model_id} ({identity.embedding.version}) "
                f"but {self.embedder.identity.model_id} ({self.embedder.identity.version}) is configured: "
                "rebuild it with `mangaassist index --rebuild`"
            )
        if self.reranker is not None and self.reranker.model.embedding != identity.embedding:
            log.warning("the stored reranker was trained for another embedding model: not used")
            self.reranker = None
        self.identity = identity

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (for timing runs)."""
        self._cache.clear()

    async def embed_query(self, text: str) -> np.ndarray | None:
        """The query vector from the index's own model (cached: a turn searches its text twice)."""
        if self.embedder is None:
            return None
        key = text
        vec = self._cache.get(key)
        if vec is None:
            await simulate("embed")
            vec = await asyncio.to_thread(self.embedder.embed_query, text)
            self._cache[key] = vec
            if len(self._cache) > _QUERY_CACHE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return vec

    async def search(
        self, query: str, k: int, filters: SearchFilters | None = None, *, rerank: bool | None = None
    ) -> list[SearchHit]:
        """The `k` best documents; the fused top-10 reranked unless `rerank` is False."""
        if self.identity is None:
            self._check(await self.backend.describe())
        vector = await self.embed_query(query)
        await simulate("knn")
        hits = await self.backend.search(query, vector, max(k, RERANK_DEPTH), filters)
        use_rerank = self.rerank_default if rerank is None else rerank
        if use_rerank and self.reranker is not None:
            await simulate("rerank")
            hits = self.reranker.rerank(query, hits)
        return hits[:k]

    def unknown_terms(self, query: str) -> list[str]:
        """Words (4+ letters) and katakana names that cannot occur in any document."""
        unknown = []
        # Katakana runs before folding: a hiragana particle must not glue onto the name.
        for word in re.findall(r"[a-z][a-z0-9'-]{3,}|[\u30a0-\u30ffー]{3,}", normalize(query)):
            terms = tokenize(word)
            # Every bigram of a name in some document is necessary for the name to be there at all.
            if terms and any(t not in self.vocabulary for t in terms) and _name_like(query, word):
                unknown.append(word)
        return unknown


def vocabulary_of(docs: list[IndexedDoc]) -> frozenset[str]:
    """Every lexical term of `docs` (titles and texts)."""
    terms: set[str] = set()
    for d in docs:
        terms.update(tokenize(d.title))
        terms.update(tokenize(d.text))
    return frozenset(terms)


async def build_and_train(
    settings: Settings, catalog: Catalog, backend: SearchBackend, embedder: Embedder, *,
    rebuild: bool = False, progress: Progress | None = None,
) -> tuple[IndexReport, RerankerModel, list[IndexedDoc]]:
    """Index the store data (a new live version), then train and store its reranker."""
    docs = await asyncio.to_thread(build_documents, settings.store_data_dir, catalog)
    seed = await asyncio.to_thread(load_seed, seed_path(settings.store_data_dir, embedder.identity), embedder.identity)
    report = await run_index(backend, embedder, docs, rebuild=rebuild, seed=seed, progress=progress)
    model = await train(backend, embedder, catalog, load_policies(settings.store_data_dir))
    path = reranker_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(save_reranker, model, path)
    return report, model, docs


def open_retriever(settings: Settings, catalog: Catalog) -> Retriever:
    """The retriever over the live index (blocking: call from a worker thread).

    With no index yet, the embedded backend builds one here first, so a fresh checkout serves
    without a separate step; `make` builds it ahead of time.
    """
    from tools.embedded_backend import EmbeddedBackend

    backend = make_backend(settings)
    embedder = get_embedder(settings)
    model = load_reranker(reranker_path(settings))
    reranker = Reranker(model, catalog) if model is not None else None
    if not isinstance(backend, EmbeddedBackend):
        vocabulary = vocabulary_of(build_documents(settings.store_data_dir, catalog))
        return Retriever(backend=backend, embedder=embedder, reranker=reranker, identity=None,
                         vocabulary=vocabulary, rerank_default=settings.rerank)
    if not backend.has_index():
        log.warning("no search index in %s: building it now", settings.index_path)
        # A thread of its own: the caller may be a thread whose event loop is running.
        with ThreadPoolExecutor(max_workers=1) as pool:
            report, _, _ = pool.submit(asyncio.run, build_and_train(settings, catalog, backend, embedder)).result()
        log.info("built index %s: %d documents, %d newly embedded", report.identity.version, report.documents,
                 report.newly_embedded)
        model = load_reranker(reranker_path(settings))
        reranker = Reranker(model, catalog) if model is not None else None
    if settings.rerank and reranker is None:
        log.warning("no reranker trained for this index: results keep their fused order")
    live = backend.live_sync()
    return Retriever(backend=backend, embedder=embedder, reranker=reranker, identity=live.identity,
                     vocabulary=frozenset(live.term_ids), rerank_default=settings.rerank)
