"""The embedded search backend: versioned numpy arrays on local disk, searched in-process.

Layout under the index root::

    LIVE                      {"live": "<version>", "previous": "<version>" | null}, replaced atomically
    versions/<version>/
        identity.json         IndexIdentity (embedding model id + version included)
        docs.jsonl            the documents' metadata and text, one line each, in index order
        doc_offsets.npy       byte offset of each line (documents are parsed only when hit)
        columns.npz           per-document filter codes; codes.json maps values to codes
        vectors.npy           float32 (embedded docs x dim), memory-mapped
        dense_docs.npy        int32 row -> document index
        terms.json            the lexical vocabulary, in posting order
        postings_*.npy        CSR postings: per term, the documents and their BM25 weight

BM25 weights (k1=1.2, b=0.75; titles count twice) are computed when a version is built, so a
query only sums precomputed weights. The dense leg is one matrix-vector product. Both legs mask
out filtered documents before taking their top candidates; the two rankings are fused with
weighted reciprocal rank fusion.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import numpy as np

from tools.search_backend import (
    DocType,
    EmbeddingIdentity,
    IndexedDoc,
    IndexIdentity,
    NoIndex,
    SearchBackend,
    SearchFilters,
    SearchHit,
)
from tools.text import search_terms

BM25_K1 = 1.2
BM25_B = 0.75
# Reciprocal rank fusion: 60 is the constant of the original RRF paper; each leg sees this many
# candidates. Equal leg weights: the generated training queries are verbatim catalog text, which
# favours the lexical leg (tuning on them drives the dense weight to 0, while the handwritten
# golden set gains from it), and tuning on the golden set would be tuning on the evaluation.
RRF_K = 60
LEG_CANDIDATES = 50
POINTER_CHECK_S = 5.0
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
# Policy sections answer questions in the store's words, which a shopper's question rarely shares
# ("amex" for "American Express", "the UK" for "internationally", while "how much" matches every
# section about costs): among them the dense leg leads, and the lexical one only orders the
# sections the dense leg ranks alike. On the golden policy questions, as a turn searches them (its
# language's sections), recall@3 rises from 0.923 to 0.962, reranked or not.
POLICY_LEXICAL_WEIGHT = 0.05
# Parsed documents kept per version: more than a turn's whole corpus (series, reviews and policy
# documents, under a thousand), so turns stop re-parsing the same hits; volume look-ups share it.
PARSED_DOCS = 4096
# Masks kept per version, by filters (all dropped when full): a turn's few filter sets recur.
FILTER_MASKS = 128

_DOC_TYPES: tuple[str, ...] = get_args(DocType)
_LANGUAGES = ("en", "ja")
_FORMATS = ("print", "digital")


def leg_weights(filters: SearchFilters | None) -> tuple[float, float]:
    """The (dense, lexical) weights with which a search's legs are fused."""
    if filters is not None and filters.doc_types == ["policy"]:
        return DENSE_WEIGHT, POLICY_LEXICAL_WEIGHT
    return DENSE_WEIGHT, LEXICAL_WEIGHT


def lexical_terms(doc: IndexedDoc) -> Counter[str]:
    """Term counts of a document; the title counts twice, a title hit being the strongest evidence."""
    return Counter(search_terms(doc.title) * 2 + search_terms(doc.text))


class DocStore:
    """The documents of a version, one JSON line each, parsed only when a hit needs one.

    Parsing every document up front would dominate load time (29,000 volume entries); a search
    touches a few dozen.
    """

    def __init__(self, path: Path) -> None:
        self._data = path.read_bytes()
        self._offsets = np.load(path.with_name("doc_offsets.npy"))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, idx: int) -> dict[str, Any]:
        start, end = int(self._offsets[idx]), int(self._offsets[idx + 1])
        doc: dict[str, Any] = json.loads(self._data[start:end])
        return doc

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))


@dataclass
class _Version:
    """One loaded index version."""

    identity: IndexIdentity
    docs: DocStore
    vectors: np.ndarray
    dense_docs: np.ndarray
    term_ids: dict[str, int]
    ptr: np.ndarray
    post_doc: np.ndarray
    post_w: np.ndarray
    doc_type: np.ndarray
    language: np.ndarray
    fmt: np.ndarray
    in_stock: np.ndarray
    genre_bits: np.ndarray
    genre_ids: dict[str, int]
    series: np.ndarray
    series_ids: dict[str, int]
    topic: np.ndarray
    topic_ids: dict[str, int]
    # The vectors' row of each document, -1 for one the dense leg does not hold.
    dense_row: np.ndarray = field(init=False, repr=False)
    _doc: Callable[[int], IndexedDoc] = field(init=False, repr=False)
    _masks: dict[str, np.ndarray] = field(init=False, repr=False, default_factory=dict)
    _hash_rows: dict[str, int] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        # The dense leg ranks vector rows and breaks ties by row: the same order as by document
        # only while rows follow document order, as `write_version` writes them.
        if np.any(np.diff(self.dense_docs) <= 0):
            raise ValueError("dense_docs must be in ascending document order")
        self.dense_row = np.full(len(self.docs), -1, dtype=np.int32)
        self.dense_row[self.dense_docs] = np.arange(len(self.dense_docs), dtype=np.int32)
        # Per version, and holding the store rather than the version: no reference cycle, so a
        # swapped-out version and its cache are freed at once.
        self._doc = functools.lru_cache(maxsize=PARSED_DOCS)(functools.partial(_parse_doc, self.docs))

    def hash_rows(self) -> dict[str, int]:
        """The vector row of each embedded document, by content hash (read once per version:
        looking a "like X" anchor up had parsed every embedded document's JSON)."""
        if self._hash_rows is None:
            self._hash_rows = {self.docs[int(idx)].get("content_hash", ""): row for row, idx in enumerate(self.dense_docs)}
        return self._hash_rows

    def mask(self, f: SearchFilters | None) -> np.ndarray | None:
        """Documents `f` allows (same rules as `SearchFilters.allows`), or None for all.

        The array is shared by every search with the same filters, so it is read-only.
        """
        if f is None:
            return None
        key = f.model_dump_json()
        m = self._masks.get(key)
        if m is None:
            if len(self._masks) >= FILTER_MASKS:
                self._masks.clear()
            m = self._masks[key] = self._build_mask(f)
        return m

    def _build_mask(self, f: SearchFilters) -> np.ndarray:
        m = np.ones(len(self.docs), dtype=bool)
        if f.doc_types:
            m &= np.isin(self.doc_type, [_DOC_TYPES.index(t) for t in f.doc_types])
        if f.language:
            m &= self.language == _LANGUAGES.index(f.language)
        if f.genres:
            bits = 0
            for g in f.genres:
                if g in self.genre_ids:
                    bits |= 1 << self.genre_ids[g]
            m &= (self.genre_bits & np.uint64(bits)) != 0
        if f.format:
            m &= (self.fmt == -1) | (self.fmt == _FORMATS.index(f.format))
        if f.in_stock is not None:
            m &= (self.in_stock == -1) | (self.in_stock == int(f.in_stock))
        if f.series_ids:
            m &= np.isin(self.series, [self.series_ids.get(s, -2) for s in f.series_ids])
        if f.topics:
            m &= np.isin(self.topic, [self.topic_ids.get(t, -2) for t in f.topics])
        m.flags.writeable = False
        return m

    def lexical_scores(self, text: str) -> np.ndarray:
        """BM25 score of every document for `text`."""
        scores = np.zeros(len(self.docs), dtype=np.float32)
        for term in set(search_terms(text)):
            t = self.term_ids.get(term)
            if t is not None:
                lo, hi = self.ptr[t], self.ptr[t + 1]
                # A term's postings name each document once, so fancy-index addition is exact.
                scores[self.post_doc[lo:hi]] += self.post_w[lo:hi]
        return scores

    def doc(self, idx: int) -> IndexedDoc:
        """The stored document at index position `idx` (one shared instance: never mutate it)."""
        return self._doc(idx)


def _parse_doc(docs: DocStore, idx: int) -> IndexedDoc:
    return IndexedDoc.model_construct(**docs[idx])


def _top(scores: np.ndarray, allowed: np.ndarray | None, n: int) -> np.ndarray:
    """Indices of the `n` best allowed positive scores, best first (ties: lower index first).

    `allowed` None allows every index.
    """
    positive = scores > 0
    candidates = np.flatnonzero(positive if allowed is None else allowed & positive)
    if len(candidates) > n:
        part = np.argpartition(-scores[candidates], n - 1)[:n]
        candidates = candidates[part]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def write_docs(directory: Path, docs_json: Sequence[str]) -> None:
    """Write `docs.jsonl` and its line offsets (documents already serialised as JSON)."""
    lines = [d.encode("utf-8") + b"\n" for d in docs_json]
    (directory / "docs.jsonl").write_bytes(b"".join(lines))
    offsets = np.concatenate([[0], np.cumsum([len(line) for line in lines])]).astype(np.int64)
    np.save(directory / "doc_offsets.npy", offsets)


def write_version(
    root: Path, docs: Sequence[IndexedDoc], vectors: np.ndarray, embedding: EmbeddingIdentity,
    previous: str | None, build_seconds: float,
) -> IndexIdentity:
    """Write a complete version directory (blocking) and return its identity."""
    started = time.perf_counter()
    embedded = [i for i, d in enumerate(docs) if d.embedded]
    if vectors.shape != (len(embedded), embedding.dim):
        raise ValueError(f"expected vectors of shape {(len(embedded), embedding.dim)}, got {vectors.shape}")
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    tmp = root / "versions" / f".{version}.tmp"
    tmp.mkdir(parents=True)
    counts = [lexical_terms(d) for d in docs]
    lengths = np.array([sum(c.values()) for c in counts], dtype=np.float32)
    avg = float(lengths.mean()) if len(docs) else 1.0
    postings: dict[str, list[tuple[int, int]]] = {}
    for idx, c in enumerate(counts):
        for term, tf in c.items():
            postings.setdefault(term, []).append((idx, tf))
    terms = sorted(postings)
    ptr = np.zeros(len(terms) + 1, dtype=np.int64)
    post_doc: list[int] = []
    post_w: list[float] = []
    n = len(docs)
    for t, term in enumerate(terms):
        plist = postings[term]
        idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
        for idx, tf in plist:
            norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * lengths[idx] / avg)
            post_doc.append(idx)
            post_w.append(idf * tf * (BM25_K1 + 1) / norm)
        ptr[t + 1] = len(post_doc)
    np.save(tmp / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    np.save(tmp / "dense_docs.npy", np.array(embedded, dtype=np.int32))
    np.save(tmp / "postings_ptr.npy", ptr)
    np.save(tmp / "postings_doc.npy", np.array(post_doc, dtype=np.int32))
    np.save(tmp / "postings_w.npy", np.array(post_w, dtype=np.float32))
    _write_json(tmp / "terms.json", terms)
    write_docs(tmp, [d.model_dump_json(exclude_defaults=True) for d in docs])
    columns, codes = filter_columns(docs)
    np.savez(tmp / "columns.npz", **columns)
    _write_json(tmp / "codes.json", codes)
    identity = IndexIdentity(
        backend="embedded", name=root.name, version=version, embedding=embedding, doc_count=len(docs),
        embedded_count=len(embedded), built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(build_seconds + time.perf_counter() - started, 2), previous_version=previous,
    )
    (tmp / "identity.json").write_text(identity.model_dump_json(indent=1), encoding="utf-8")
    tmp.rename(root / "versions" / version)
    return identity


def _mapped(path: Path) -> np.ndarray:
    """A memory-mapped array as a plain ndarray view of the same pages.

    Every slice or product of an `np.memmap` runs its Python-level hooks; a query takes hundreds.
    """
    return np.asarray(np.load(path, mmap_mode="r"))


def load_version(path: Path) -> _Version:
    """Load a version directory; the arrays are memory-mapped."""
    identity = IndexIdentity.model_validate_json((path / "identity.json").read_text(encoding="utf-8"))
    docs = DocStore(path / "docs.jsonl")
    terms: list[str] = json.loads((path / "terms.json").read_text(encoding="utf-8"))
    columns = np.load(path / "columns.npz")
    codes: dict[str, dict[str, int]] = json.loads((path / "codes.json").read_text(encoding="utf-8"))
    return _Version(
        identity=identity, docs=docs,
        vectors=_mapped(path / "vectors.npy"),
        dense_docs=np.load(path / "dense_docs.npy"),
        term_ids={t: i for i, t in enumerate(terms)},
        ptr=np.load(path / "postings_ptr.npy"),
        post_doc=_mapped(path / "postings_doc.npy"),
        post_w=_mapped(path / "postings_w.npy"),
        doc_type=columns["doc_type"], language=columns["language"], fmt=columns["fmt"],
        in_stock=columns["in_stock"], genre_bits=columns["genre_bits"], series=columns["series"],
        topic=columns["topic"], genre_ids=codes["genres"], series_ids=codes["series"], topic_ids=codes["topics"],
    )


def filter_columns(docs: Sequence[IndexedDoc]) -> tuple[dict[str, np.ndarray], dict[str, dict[str, int]]]:
    """Per-document filter codes as arrays (what the masks compare), and the code tables."""
    genre_ids: dict[str, int] = {}
    series_ids: dict[str, int] = {}
    topic_ids: dict[str, int] = {}
    n = len(docs)
    cols = {
        "doc_type": np.empty(n, dtype=np.int8), "language": np.empty(n, dtype=np.int8),
        "fmt": np.full(n, -1, dtype=np.int8), "in_stock": np.full(n, -1, dtype=np.int8),
        "genre_bits": np.zeros(n, dtype=np.uint64), "series": np.full(n, -1, dtype=np.int32),
        "topic": np.full(n, -1, dtype=np.int32),
    }
    for i, d in enumerate(docs):
        cols["doc_type"][i] = _DOC_TYPES.index(d.doc_type)
        cols["language"][i] = _LANGUAGES.index(d.language)
        if d.format:
            cols["fmt"][i] = _FORMATS.index(d.format)
        if d.in_stock is not None:
            cols["in_stock"][i] = int(d.in_stock)
        bits = 0
        for g in d.genres:
            bits |= 1 << genre_ids.setdefault(g, len(genre_ids))
        cols["genre_bits"][i] = bits
        if d.series_id:
            cols["series"][i] = series_ids.setdefault(d.series_id, len(series_ids))
        if d.topic:
            cols["topic"][i] = topic_ids.setdefault(d.topic, len(topic_ids))
    if len(genre_ids) > 64:
        raise ValueError("the genre filter bitmask holds at most 64 genres")
    return cols, {"genres": genre_ids, "series": series_ids, "topics": topic_ids}


class EmbeddedBackend(SearchBackend):
    """Versioned on-disk index under `root`, held in memory once loaded."""

    def __init__(self, root: Path, keep_versions: int = 3) -> None:
        self.root = root
        self._keep = max(2, keep_versions)
        self._live: _Version | None = None
        self._live_name: str | None = None
        self._checked_at = 0.0

    # --- versions -------------------------------------------------------------------------------

    def _pointer(self) -> dict[str, str | None]:
        try:
            data: dict[str, str | None] = json.loads((self.root / "LIVE").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"live": None, "previous": None}
        return data

    def _set_pointer(self, live: str, previous: str | None) -> None:
        tmp = self.root / f".LIVE.{uuid.uuid4().hex}"
        _write_json(tmp, {"live": live, "previous": previous})
        # os.replace is atomic: a reader sees the old pointer or the new one, never a torn file.
        os.replace(tmp, self.root / "LIVE")
        self._checked_at = 0.0

    def _prune(self, keep: set[str]) -> None:
        versions = sorted(p for p in (self.root / "versions").iterdir() if not p.name.startswith("."))
        for path in versions[: -self._keep]:
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def live_sync(self) -> _Version:
        """The live version, loaded on first use or when the pointer moved (blocking)."""
        live = self._pointer()["live"]
        if live is None:
            raise NoIndex(f"no index has been built in {self.root}")
        if self._live is None or self._live_name != live:
            self._live = load_version(self.root / "versions" / live)
            self._live_name = live
        return self._live

    def has_index(self) -> bool:
        """Whether a live version exists."""
        return self._pointer()["live"] is not None

    async def build(
        self, docs: Sequence[IndexedDoc], vectors: np.ndarray, embedding: EmbeddingIdentity, *,
        build_seconds: float = 0.0,
    ) -> IndexIdentity:
        """Write a new version beside the live one (not live yet)."""
        previous = self._pointer()["live"]
        return await asyncio.to_thread(write_version, self.root, docs, vectors, embedding, previous, build_seconds)

    async def swap(self, version: str) -> IndexIdentity:
        """Point LIVE at `version`; the replaced version becomes the rollback target."""
        if not (self.root / "versions" / version / "identity.json").is_file():
            raise NoIndex(f"index version {version} does not exist")
        current = self._pointer()["live"]
        self._set_pointer(version, current if current != version else self._pointer()["previous"])
        self._prune({version, current or ""})
        return await self.describe()

    async def rollback(self) -> IndexIdentity:
        """Make the previous version live again; the current one becomes the new rollback target."""
        pointer = self._pointer()
        previous, live = pointer["previous"], pointer["live"]
        if not previous or not (self.root / "versions" / previous).is_dir():
            raise NoIndex("there is no previous index version to roll back to")
        self._set_pointer(previous, live)
        return await self.describe()

    async def describe(self) -> IndexIdentity:
        """The live version's identity."""
        live = self._pointer()["live"]
        if live is None:
            raise NoIndex(f"no index has been built in {self.root}")
        text = await asyncio.to_thread((self.root / "versions" / live / "identity.json").read_text, "utf-8")
        return IndexIdentity.model_validate_json(text)

    async def stored_vectors(self, content_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Live vectors by content hash, for the hashes the live version holds."""
        if not self.has_index():
            return {}
        v = await asyncio.to_thread(self.live_sync)
        rows = await asyncio.to_thread(v.hash_rows)
        return {h: np.array(v.vectors[rows[h]]) for h in content_hashes if h in rows}

    # --- search ---------------------------------------------------------------------------------

    def search_sync(
        self, text: str, vector: np.ndarray | None, k: int, filters: SearchFilters | None = None,
        candidates: int = LEG_CANDIDATES,
    ) -> list[SearchHit]:
        """Hybrid search on the live version (blocking: reads the live pointer first)."""
        return _search(self.live_sync(), text, vector, k, filters, candidates)

    async def search(
        self, text: str, vector: np.ndarray | None, k: int, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """Hybrid search; the numpy work (a few milliseconds) runs inline.

        The live pointer is re-read at most every `POINTER_CHECK_S`, in a worker thread, so a swap
        by another process (`mangaassist index`) is picked up without a file read per query.
        """
        now = time.monotonic()
        if self._live is None or now - self._checked_at > POINTER_CHECK_S:
            await asyncio.to_thread(self.live_sync)
            self._checked_at = now
        assert self._live is not None
        return _search(self._live, text, vector, k, filters, LEG_CANDIDATES)


def _search(
    v: _Version, text: str, vector: np.ndarray | None, k: int, filters: SearchFilters | None, candidates: int
) -> list[SearchHit]:
    """Both legs over one version, masked by `filters`, fused by weighted RRF."""
    allowed = v.mask(filters)
    lexical = v.lexical_scores(text)
    lex_top = _top(lexical, allowed, candidates)
    # Per vector row, not per document: only the embedded documents (a few percent) have one.
    dense: np.ndarray | None = None
    dense_top = np.empty(0, dtype=np.int64)
    if vector is not None and len(v.dense_docs):
        if vector.shape != (v.identity.embedding.dim,):
            raise ValueError(f"query vector has shape {vector.shape}, the index expects {v.identity.embedding.dim}")
        sims = v.vectors @ vector.astype(np.float32)
        # Cosine can be negative; shift so "no evidence" (0) stays below every real candidate.
        dense = (sims + 1.0) / 2.0
        rows = _top(dense, None if allowed is None else allowed[v.dense_docs], candidates)
        dense_top = v.dense_docs[rows]
    # Weighted RRF in numpy: `bincount` adds each document's contributions in input order (dense
    # leg first) from 0.0, the same float sums as adding them one at a time.
    legs = (dense_top, lex_top)
    ids, slot = np.unique(np.concatenate(legs), return_inverse=True)
    contributions = np.concatenate([
        weight / (RRF_K + 1 + np.arange(len(ranking), dtype=np.float64))
        for weight, ranking in zip(leg_weights(filters), legs, strict=True)
    ])
    fused = np.bincount(slot, weights=contributions, minlength=len(ids))
    best = np.lexsort((ids, -fused))[:k]
    best_ids = ids[best]
    shifted_scores: list[float] = [0.0] * len(best_ids)
    if dense is not None:
        best_rows = v.dense_row[best_ids]
        shifted_scores = np.where(best_rows >= 0, dense[best_rows], 0.0).tolist()
    hits = []
    for idx, score, lex, shifted in zip(
        best_ids.tolist(), fused[best].tolist(), lexical[best_ids].tolist(), shifted_scores, strict=True
    ):
        scores: dict[str, float] = {"lexical": round(lex, 4), "fused": round(score, 6)}
        if vector is not None:
            scores["dense"] = round(shifted * 2.0 - 1.0, 4) if shifted else 0.0
        doc = v.doc(idx)
        hits.append(SearchHit(doc_id=doc.doc_id, score=round(score, 6), scores=scores, doc=doc))  # type: ignore[arg-type]
    return hits
