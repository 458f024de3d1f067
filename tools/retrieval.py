"""Retrieval for turns, tools and commands: embed the query, hybrid search, rerank.

`Retriever` joins a `SearchBackend` (embedded on-disk index by default, OpenSearch when
configured), the embedder the index was built with, and the reranker trained with it. It refuses
to start when the configured embedding model differs from the index's: a query vector from one
model compared against another model's document vectors would rank noise.

A "like X" query ("horror like Uzumaki", "ベルセルクみたいな") is searched for X's neighbours instead:
X's own stored vector and the request's other words, the hits reordered by likeness to X in
catalog facts, X left out (`tools.similar`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from mangaassist.settings import Settings
from tools.activity import turns_in_flight
from tools.catalog import Catalog, NameMatch
from tools.embeddings import Embedder, get_embedder, normalise
from tools.entities import READER_AGE, extract_entities
from tools.indexing import IndexReport, Progress, build_documents, load_seed, run_index, seed_path
from tools.latency import simulate
from tools.models import Series
from tools.policies import load_policies
from tools.rerank import RERANK_DEPTH, Reranker, RerankerModel, train
from tools.rerank import load as load_reranker
from tools.rerank import save as save_reranker
from tools.search_backend import DocType, IndexedDoc, IndexIdentity, SearchBackend, SearchFilters, SearchHit
from tools.similar import (
    FUSED_WEIGHT,
    Profile,
    SimilarRequest,
    compared_span,
    likeness,
    parse_similar,
    spelled_like,
)
from tools.text import KANJI, detect_language, normalize, singular, tokenize, words_pattern
from tools.vocab import (
    ABROAD_TERMS,
    ABROAD_WORDS,
    GENRE_TERMS,
    GENRES,
    REQUEST_TERMS,
    STORY_KINDS,
    story_kinds,
)

__all__ = ["IndexMismatch", "Retriever", "SearchFilters", "SearchHit", "make_backend", "open_retriever"]

log = logging.getLogger(__name__)

_QUERY_CACHE = 512
# Documents that describe a series: what a "like X" search ranks (policies never answer one).
_SERIES_DOC_TYPES: tuple[DocType, ...] = ("series", "reviews")
# Candidates a "like X" search scores: catalog facts may lift a series from far down the fused list.
SIMILAR_POOL = 50


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


# A lower-case word a story is told with ("a manga about a shogi prodigy"), not a title asked for.
_DESCRIBED = re.compile(r"\b(?:about|featuring|involving|with|where)\s+(?:(?:a|an|the|some)\s+)?$")


def _name_like(query: str, word: str) -> bool:
    """Katakana runs, capitalised words, or any word of a short request ("got frieran?") but one
    that describes ("about a shogi prodigy")."""
    if not word.isascii():
        return True
    if re.search(rf"(?<!^)\b{re.escape(word.capitalize())}", query.strip()):
        return True
    norm = normalize(query)
    at = re.search(rf"\b{re.escape(word)}\b", norm)
    if at is not None and _DESCRIBED.search(norm[: at.start()]):
        return False
    return len(query.split()) <= 5


class Interest(Protocol):
    """A caller's interest in a search it started before knowing whether it would read it."""

    def wanted(self) -> bool:
        """Whether the caller may still read the search."""

    async def settled(self) -> None:
        """Return once the caller knows whether it will read the search (or has waited enough)."""


class _PendingEmbedding:
    """A query embedding under way and whether any of its callers still wants it."""

    task: asyncio.Task[np.ndarray | None]

    def __init__(self) -> None:
        # None: a caller that reads the search whatever happens.
        self.callers: list[Interest | None] = []

    def wanted(self) -> bool:
        return any(caller is None or caller.wanted() for caller in self.callers)

    async def settled(self) -> None:
        """Return once every caller knows whether it wants the vector (at once if one surely does)."""
        if all(caller is not None for caller in self.callers):
            await asyncio.gather(*(c.settled() for c in self.callers if c is not None))


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
    catalog: Catalog | None = None

    def __post_init__(self) -> None:
        if self.identity is not None:
            self._check(self.identity)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # Stored document vectors by content hash: a hash names one text embedded by the index's model.
        self._doc_vectors: dict[str, np.ndarray] = {}
        self._pending: dict[str, _PendingEmbedding] = {}
        # Query embeddings run on threads of their own, as many as usefully run at once (one for
        # a local engine): an OpenMP engine called from ever other threads starts a team of workers
        # for each, and their idle spinning took the cores its next query needed (10 -> 25 ms median).
        self._embedding_threads = ThreadPoolExecutor(
            max_workers=self.embedder.parallel_queries if self.embedder is not None else 1,
            thread_name_prefix="query-embedding",
        )
        # Per event loop (tests run several): embeddings waiting for the engine wait here, where
        # one nobody wants any more is dropped before it costs anything.
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

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

    async def embed_query(self, text: str, interest: Interest | None = None) -> np.ndarray | None:
        """The query vector from the index's own model.

        Cached, and shared while it is computed: a turn's speculative search and its tool's own
        search start moments apart with the same text, and must not embed it twice. `interest` says
        whether the caller still needs the vector: when no caller does once routing has decided and
        the engine is free (the turn reads no search), nothing is embedded and None comes back.
        """
        if self.embedder is None:
            return None
        vec = self._cache.get(text)
        if vec is not None:
            self._cache.move_to_end(text)
            return vec
        loop = asyncio.get_running_loop()
        pending = self._pending.get(text)
        if pending is None or pending.task.get_loop() is not loop:
            pending = self._pending[text] = _PendingEmbedding()
            pending.task = loop.create_task(self._embed(text, pending))
        pending.callers.append(interest)
        # Shielded: one caller giving up (its timeout) must not cancel the others' embedding.
        return await asyncio.shield(pending.task)

    async def _embed(self, text: str, pending: _PendingEmbedding) -> np.ndarray | None:
        assert self.embedder is not None
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.embedder.parallel_queries)
        try:
            await simulate("embed")
            # A speculative caller learns from routing, moments later, whether it reads the search
            # at all: the vector is paid for only once someone surely does (or the wait ran out).
            await pending.settled()
            async with slots:
                if not pending.wanted():
                    return None
                # Alone in the process (one turn at most, no other search embedding), the engine
                # may use the idle cores; under load each embedding keeps to one.
                spare_cores = turns_in_flight() <= 1 and len(self._pending) <= 1
                embed = functools.partial(self.embedder.embed_query, text, spare_cores=spare_cores)
                vec = await loop.run_in_executor(self._embedding_threads, embed)
        finally:
            if self._pending.get(text) is pending:
                del self._pending[text]
        self._cache[text] = vec
        if len(self._cache) > _QUERY_CACHE:
            self._cache.popitem(last=False)
        return vec

    async def search(
        self, query: str, k: int, filters: SearchFilters | None = None, *, rerank: bool | None = None,
        interest: Interest | None = None,
    ) -> list[SearchHit]:
        """The `k` best documents; the fused top-10 reranked unless `rerank` is False.

        `interest` (see `embed_query`): a search whose caller stops wanting it before the query is
        embedded skips the embedding and comes back empty.

        A "like X" query is ordered by likeness to X instead, whatever `rerank` says: the reranker
        learned to put the series a query names first, the one series such a query does not want.
        """
        if self.identity is None:
            self._check(await self.backend.describe())
        if self.catalog is not None:
            # No entry names a work the store does not carry: it is searched by what it is about.
            query = self.catalog.references.described(query)
        asked = filters.doc_types if filters and filters.doc_types else _SERIES_DOC_TYPES
        # Only a search that may return series asks for the "like X" reading (a policy search never).
        doc_types = [t for t in asked if t in _SERIES_DOC_TYPES]
        similar = await self._similar(query, self.catalog, interest) if doc_types and self.catalog is not None else None
        if similar is not None:
            narrowed = (filters or SearchFilters()).model_copy(update={"doc_types": doc_types})
            return await self._search_similar(similar, k, narrowed, self.catalog, interest)
        # A named series or author decides the ranking without the query's vector (`Catalog.names_decide`).
        named = self.catalog is not None and self.catalog.names_decide(query)
        vector = None if named else await self.embed_query(query, interest)
        if interest is not None and not interest.wanted():
            return []  # routing sent the turn elsewhere: nobody reads this search
        await simulate("knn")
        lexical = self._lexical_text(query)
        if filters is not None and filters.doc_types == ["policy"]:
            lexical = abroad_expanded(lexical, filters.language)
        reranker = self.reranker if (self.rerank_default if rerank is None else rerank) else None
        depth = max(k, LEADER_DEPTH if reranker is not None else RERANK_DEPTH)
        hits = await self.backend.search(lexical, vector, depth, filters)
        if reranker is not None:
            await simulate("rerank")
            named_docs = await self._named_docs(query, lexical, hits, filters) if named else []
            hits = reranker.rerank(query, with_leg_leaders(hits, named_docs), k)
        return hits[:k]

    async def _named_docs(
        self, query: str, lexical: str, hits: list[SearchHit], filters: SearchFilters | None
    ) -> list[SearchHit]:
        """The best document of each series the query names, or of its named authors', that the
        fused head lacks (at most half the head), for the reranker to weigh.

        The rest of a message can outscore its names: in 「CLAMPの漫画を娘の誕生日にプレゼントしたい…」
        "プレゼント" ranks the gift policies above every CLAMP series. They join at the head's lowest
        fused score, so only the reranker's name features lift them.
        """
        assert self.catalog is not None  # `names_decide` needs the catalog
        ents = extract_entities(query, self.catalog)
        named = [*ents.series_ids, *(s.series_id for a in ents.authors for s in self.catalog.by_author(a))]
        head = hits[:RERANK_DEPTH]
        shown = {h.series_id for h in head}
        missing = [sid for sid in dict.fromkeys(named) if sid not in shown]
        if filters is not None and filters.series_ids:
            missing = [sid for sid in missing if sid in filters.series_ids]
        missing = missing[: RERANK_DEPTH // 2]
        if not missing:
            return []
        found = await self._below(lexical, None, missing, filters or SearchFilters(), head)
        best = {h.series_id: h for h in reversed(found)}  # each series' best document
        return [best[sid] for sid in missing if sid in best]

    def _lexical_text(self, query: str) -> str:
        """The words the lexical leg searches.

        The query's, the catalog's words for a kind of story the query names otherwise ("bl" for
        "boys' love"), the genre every entry lists for a kind named in a plain or mood word ("scary":
        horror, 「ゆるく笑える」: コメディ), and the names of the authors a series named for its author
        stands for ("the guy who drew Death Note" finds Bakuman).
        """
        # A young reader's age is no term ("my 8 year old" is no "8" of Kaiju No. 8).
        lexical = ", ".join([READER_AGE.sub(" ", normalize(query)), *story_kinds(query)])
        if self.catalog is None:
            return lexical
        # Read from the message itself: the reading is remembered per text (routing has it already).
        ents = extract_entities(query, self.catalog)
        if genres := self._genre_words(query, lexical, ents.genres):
            lexical = f"{lexical}, {' '.join(genres)}"
        return f"{lexical} {' '.join(ents.authors)}" if ents.author_of else lexical

    def _genre_words(self, query: str, lexical: str, named: list[str]) -> list[str]:
        """The catalog's own word for each genre the query names in another word ("scary": horror)."""
        if not named:
            return []
        assert self.catalog is not None
        terms = frozenset(tokenize(lexical))
        ja = detect_language(query) == "ja"
        out = []
        for genre in named:
            en_name, ja_name, words = GENRE_TERMS[genre]
            cues = [c for c in words if c <= terms]
            # A word the entries use for a subject ("yakuza", "demons", 「魔法」) finds its stories
            # itself: the whole genre would only widen it (Devilman over Dead Dead Demons).
            if cues and not (ja_name if ja else en_name) <= terms and not any(
                c <= self.catalog.theme_vocabulary for c in cues
            ):
                out.append(GENRES[genre][0] if ja else genre)
        return out

    async def _similar(self, query: str, catalog: Catalog, interest: Interest | None = None) -> SimilarRequest | None:
        """The "like X" reading of `query`, with an X the name look-up missed resolved from its span.

        The catalog's look-up already finds a long Latin name one letter off; this resolves what it
        cannot (a kana misspelling, a short name: "ベルセルグ", "berserck"). A compared span with a
        word no document contains is taken to be a title when one series is the best match of both legs (a misspelling keeps most of its
        letters and its sense) and the span is spelt close to one of its names ("smells like
        smoke" is no title); otherwise it stays unresolved.
        """
        similar = parse_similar(query, catalog)
        if similar is not None:
            return similar
        span = compared_span(query)
        if span is None:
            return None
        text = normalize(query)[span[0]:span[1]]
        if not self.unknown_terms(text):
            return None
        hits = await self.backend.search(text, await self.embed_query(text, interest), RERANK_DEPTH,
                                         SearchFilters(doc_types=["series"]))
        if not hits:
            return None
        best = hits[0]
        # Both legs must rank the same series first: one leg alone is fooled by a shared common word.
        lexical = max(hits, key=lambda h: h.scores.get("lexical", 0.0))
        dense = max(hits, key=lambda h: h.scores.get("dense", 0.0))
        if best.series_id is None or {lexical.series_id, dense.series_id} != {best.series_id}:
            return None
        if not spelled_like(text, catalog.series[best.series_id]):
            return None
        return parse_similar(query, catalog, [NameMatch("series", best.series_id, *span)])

    async def _anchor_vector(self, anchors: list[Series]) -> np.ndarray | None:
        """The mean stored vector of the anchors' series documents (more-like-this on X's own text)."""
        # The lexical leg alone finds them: every series document holds its titles (no query vector).
        names = " ".join(f"{s.title} {s.title_ja} {' '.join(s.authors)}" for s in anchors)
        docs = await self.backend.search(
            names, None, 2 * len(anchors), SearchFilters(doc_types=["series"], series_ids=[s.series_id for s in anchors])
        )
        hashes = [h.doc.content_hash for h in docs if h.doc.content_hash]
        missing = [h for h in hashes if h not in self._doc_vectors]
        if missing:
            self._doc_vectors.update(await self.backend.stored_vectors(missing))
        found = [self._doc_vectors[h] for h in hashes if h in self._doc_vectors]
        if not found:
            return None
        return normalise(np.mean(found, axis=0))

    async def _search_similar(
        self, similar: SimilarRequest, k: int, filters: SearchFilters, catalog: Catalog,
        interest: Interest | None = None,
    ) -> list[SearchHit]:
        """Series like the anchors: a search with X's vector and the request's words (plus X's genre
        and theme words), reordered by the candidates' likeness to X in catalog facts.

        X's own series are left out; an author's own series follow the other authors' (`tools.similar`).
        """
        anchors = [catalog.series[s] for s in similar.anchors]
        profile = Profile.of(anchors, catalog)
        # X's own vector and the request's words: neither waits for the other.
        rest = self.embed_query(similar.rest, interest) if tokenize(similar.rest) else asyncio.sleep(0)  # None
        anchor, words = await asyncio.gather(self._anchor_vector(anchors), rest)
        if interest is not None and not interest.wanted():
            return []
        vectors = [v for v in (anchor, words) if v is not None]
        vector = normalise(np.sum(vectors, axis=0)) if vectors else None
        await simulate("knn")
        terms = f"{similar.rest}, {profile.terms()}"
        hits = await self.backend.search(terms, vector, SIMILAR_POOL, filters)
        hits += await self._kin(anchors, catalog, terms, vector, filters, hits)
        own_ids = {s.series_id for s in catalog.by_author(similar.author)} if similar.author else set()
        # Sequels and spin-offs are left out: X's ("Tokyo Ghoul:re") are more of X, not like it, and
        # another series' stands after its original, which the search shows in its place.
        excluded = (set(similar.anchors) - own_ids) | set(catalog.originals)
        fused_max = max((h.scores.get("fused", h.score) for h in hits), default=1.0) or 1.0
        scored = []
        for h in hits:
            series = catalog.series.get(h.series_id or "")
            if series is None or series.series_id in excluded:
                continue
            fused = h.scores.get("fused", h.score) / fused_max
            score = FUSED_WEIGHT * fused + likeness(profile, similar, series)
            scores = dict(h.scores)
            scores["rerank"] = round(score, 4)
            scored.append(h.model_copy(update={"score": round(score, 4), "scores": scores}))
        scored.sort(key=lambda h: (h.series_id in own_ids, -h.score))
        return scored[:k]

    async def _kin(
        self, anchors: list[Series], catalog: Catalog, terms: str, vector: np.ndarray | None,
        filters: SearchFilters, hits: list[SearchHit],
    ) -> list[SearchHit]:
        """The anchors' authors' other series the fused list left out, below all of it.

        A reader of Hellsing is glad to hear of Drifters, whatever its genres; the fused list holds
        X's neighbours in words and vector, where another genre by the same hand may not be. They
        join with the list's lowest fused score, so catalog facts alone lift them.
        """
        kin = {
            s.series_id for a in {a for x in anchors for a in x.authors} for s in catalog.by_author(a)
        } - {x.series_id for x in anchors} - {h.series_id for h in hits}
        if filters.series_ids:
            kin &= set(filters.series_ids)
        if not kin:
            return []
        return await self._below(terms, vector, sorted(kin), filters, hits)

    async def _below(
        self, terms: str, vector: np.ndarray | None, series_ids: list[str], filters: SearchFilters,
        ranked: list[SearchHit],
    ) -> list[SearchHit]:
        """The documents of `series_ids` (under the caller's other filters), at the lowest fused
        score of `ranked`: found for a reason of their own, they join that ranking below all of it."""
        found = await self.backend.search(
            # A series has up to three documents to rank here (English, Japanese, its reviews).
            terms, vector, 3 * len(series_ids), filters.model_copy(update={"series_ids": series_ids})
        )
        floor = min((h.scores.get("fused", h.score) for h in ranked), default=0.0)
        return [h.model_copy(update={"score": floor, "scores": {**h.scores, "fused": floor}}) for h in found]

    def names_not_carried(self, query: str) -> list[str]:
        """The names of titles the store does not carry, in a message that asks for nothing else.

        A word no document holds ("Kagurabachi") is a title the store does not carry when the rest
        of the message only asks for it ("do you carry …", "…の新刊"). Beside a word that says
        what the story is about ("rakugo storytellers") it is just a word the catalog never uses,
        and the message a search for that subject.
        """
        terms_of = {w: set(tokenize(w)) for w in self.unknown_terms(query)}
        unknown = [w for w, terms in terms_of.items() if not terms <= REQUEST_TERMS]
        if not unknown:
            return []
        names = {t for w in unknown for t in terms_of[w]}
        told = [
            t for t in tokenize(query)
            if t not in names and t not in REQUEST_TERMS and not t.isdigit()
            and t in self.vocabulary
            # A Japanese term of kana alone is grammar ("って"), seldom a subject.
            and (t.isascii() or KANJI.search(t))
        ]
        return [] if told else unknown

    def unknown_terms(self, query: str) -> list[str]:
        """Words (4+ letters) and katakana names that cannot occur in any document.

        A shopper's word for a kind of story ("lgbtq") is known: its search uses the catalog's words.
        """
        unknown = []
        # Katakana runs before folding: a hiragana particle must not glue onto the name.
        for word in re.findall(r"[a-z][a-z0-9'-]{3,}|[\u30a0-\u30ffー]{3,}", normalize(query)):
            terms = tokenize(word)
            # Every bigram of a name in some document is necessary for the name to be there at all.
            if (terms and any(t not in self.vocabulary for t in terms) and _name_like(query, word)
                    and not any(pattern.fullmatch(word) for _, pattern in STORY_KINDS)
                    and word not in _KIND_WORDS and singular(word) not in _KIND_WORDS
                    and not word.endswith(_KIND_KATAKANA) and not word.startswith(_KIND_KATAKANA)):
                unknown.append(word)
        return unknown


# How deep in the fused list a leg's best hit is looked for (fusion ranks a document only one leg
# found after every document both legs found, however far it leads its leg).
LEADER_DEPTH = 60


def with_leg_leaders(hits: list[SearchHit], guests: Sequence[SearchHit] = ()) -> list[SearchHit]:
    """`hits` with each leg's best hit moved into the reranked head if fusion left it below, and
    `guests` (documents found otherwise, not in the head) put there too.

    "the one where a high schooler finds a notebook that kills people": Death Note's words score
    twice any other series', but its vector is not among the dense leg's 50 best, so fusion ranks
    it after every school romance both legs found and the reranker never saw it.
    """
    placed = {h.doc_id for h in hits[:RERANK_DEPTH]}
    leaders = [g for g in guests if g.doc_id not in placed]
    placed |= {g.doc_id for g in leaders}
    for leg in ("lexical", "dense"):
        best = max(hits, key=lambda h: h.scores.get(leg, 0.0), default=None)
        if best is not None and best.scores.get(leg, 0.0) > 0 and best.doc_id not in placed:
            placed.add(best.doc_id)
            leaders.append(best)
    if not leaders:
        return hits
    kept = hits[: RERANK_DEPTH - len(leaders)]
    moved = {h.doc_id for h in (*kept, *leaders)}
    return kept + leaders + [h for h in hits if h.doc_id not in moved]


_ABROAD = words_pattern(ABROAD_WORDS)
# A kind of story in katakana, alone or in a compound: 「パニックホラー」「ダークファンタジー」 are no titles.
_KIND_KATAKANA = tuple(
    w for _, words in GENRES.values() for w in words if len(w) >= 3 and all("\u30a0" <= c <= "\u30ff" for c in w)
)
# A genre word no entry uses ("romcom", "romcoms") is a kind of story asked for, no title.
_KIND_WORDS = frozenset(w for _, words in GENRES.values() for w in words)


def abroad_expanded(query: str, language: str | None) -> str:
    """A policy question naming a place abroad, with the word the policies use for it.

    "Shipping to the UK", "カナダに送れる？": the policies speak of international shipping and name
    no country.
    """
    if not _ABROAD.search(normalize(query)):
        return query
    return f"{query} {ABROAD_TERMS[language or detect_language(query)]}"


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
                         vocabulary=vocabulary, rerank_default=settings.rerank, catalog=catalog)
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
                     vocabulary=frozenset(live.term_ids), rerank_default=settings.rerank, catalog=catalog)
