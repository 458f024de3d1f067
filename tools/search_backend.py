"""The one interface every search backend implements (embedded on-disk index, OpenSearch).

A backend stores documents with their vectors in *versions*. The indexing pipeline builds a new
version beside the live one, then swaps it in atomically; the previous version is kept so a bad
build can be rolled back. A search runs a dense kNN leg and a lexical BM25 leg, with the filters
applied inside each leg's candidate selection, and fuses the two rankings.

Every version carries the identity of the embedding model that produced its vectors: a query
vector must come from the same model, so callers compare `IndexIdentity.embedding` with their
embedder before they search.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

DocType = Literal["series", "volume", "reviews", "policy"]
Language = Literal["en", "ja"]
Format = Literal["print", "digital"]
Leg = Literal["dense", "lexical", "fused", "rerank"]


class IndexedDoc(BaseModel):
    """One retrievable chunk with the metadata filters and answers use."""

    doc_id: str
    doc_type: DocType
    language: Language
    title: str
    text: str
    store_id: str | None = None
    series_id: str | None = None
    # A plain default, not a factory: pydantic copies it per document, and `model_construct` (the
    # stored documents' loader) inspects a factory's signature on every call.
    genres: list[str] = []
    demographic: str | None = None
    format: Format | None = None
    in_stock: bool | None = None
    topic: str | None = None
    # Which source file (and its hash) the chunk came from, for tracing a hit back to its data.
    source_version: str = ""
    # sha256 of everything that is embedded: an unchanged hash means the stored vector is reused.
    content_hash: str = ""
    # False for documents kept out of the dense leg (only the lexical leg can find them).
    embedded: bool = True


class SearchFilters(BaseModel):
    """Metadata filters, applied inside each leg before its top-k (never after fusion).

    List fields match any of their values; `None` means no constraint.
    """

    doc_types: list[DocType] | None = None
    language: Language | None = None
    genres: list[str] | None = None
    format: Format | None = None
    in_stock: bool | None = None
    series_ids: list[str] | None = None
    topics: list[str] | None = None

    def allows(self, doc: IndexedDoc) -> bool:
        """Whether `doc` passes every filter (the reference semantics every backend follows)."""
        if self.doc_types and doc.doc_type not in self.doc_types:
            return False
        if self.language and doc.language != self.language:
            return False
        if self.genres and not set(self.genres) & set(doc.genres):
            return False
        # Format and stock describe editions: a series or policy document has neither and is kept.
        if self.format and doc.format is not None and doc.format != self.format:
            return False
        if self.in_stock is not None and doc.in_stock is not None and doc.in_stock != self.in_stock:
            return False
        if self.series_ids and doc.series_id not in self.series_ids:
            return False
        return not (self.topics and doc.topic not in self.topics)


class SearchHit(BaseModel):
    """One ranked document: its final score and the score each leg gave it."""

    doc_id: str
    score: float
    scores: dict[Leg, float] = Field(default_factory=dict)
    doc: IndexedDoc

    @property
    def doc_type(self) -> DocType:
        """The document's type."""
        return self.doc.doc_type

    @property
    def series_id(self) -> str | None:
        """The series the document belongs to, if any."""
        return self.doc.series_id

    @property
    def language(self) -> Language:
        """The document's language."""
        return self.doc.language

    @property
    def title(self) -> str:
        """The document's title."""
        return self.doc.title

    def state_view(self) -> dict[str, object]:
        """The flat, JSON-ready form graph state carries for a hit."""
        d = self.doc
        return {
            "doc_id": self.doc_id, "doc_type": d.doc_type, "language": d.language, "title": d.title,
            "text": d.text, "series_id": d.series_id, "store_id": d.store_id, "topic": d.topic,
            "score": self.score, "scores": dict(self.scores),
        }


class EmbeddingIdentity(BaseModel):
    """Which model produced an index's vectors."""

    model_id: str
    version: str
    dim: int


class IndexIdentity(BaseModel):
    """What a live (or built) index version is."""

    backend: str
    name: str
    version: str
    embedding: EmbeddingIdentity
    doc_count: int
    embedded_count: int
    built_at: str
    build_seconds: float = 0.0
    previous_version: str | None = None


class NoIndex(Exception):
    """The backend has no live version (or no version to roll back to)."""


class SearchBackend(ABC):
    """Versioned hybrid search over `IndexedDoc`s."""

    @abstractmethod
    async def build(
        self,
        docs: Sequence[IndexedDoc],
        vectors: np.ndarray,
        embedding: EmbeddingIdentity,
        *,
        build_seconds: float = 0.0,
    ) -> IndexIdentity:
        """Write a new version beside the live one, without making it live.

        `vectors` is float32, shape (number of docs with `embedded=True`, embedding.dim), in the
        order those docs appear in `docs`, L2-normalised.
        """

    @abstractmethod
    async def swap(self, version: str) -> IndexIdentity:
        """Make `version` live atomically; the version it replaces is kept for `rollback`."""

    @abstractmethod
    async def rollback(self) -> IndexIdentity:
        """Make the previous live version live again (raises `NoIndex` when there is none)."""

    @abstractmethod
    async def describe(self) -> IndexIdentity:
        """The live version's identity (raises `NoIndex` when nothing is live)."""

    @abstractmethod
    async def stored_vectors(self, content_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the live version keyed by content hash, for those of `content_hashes` it holds.

        The indexing pipeline re-embeds only documents whose hash is missing here.
        """

    @abstractmethod
    async def search(
        self,
        text: str,
        vector: np.ndarray | None,
        k: int,
        filters: SearchFilters | None = None,
    ) -> list[SearchHit]:
        """The top `k` documents by fused dense + lexical score, each with its leg scores.

        `vector` is the query embedded by the index's own model (`None`: lexical leg only).
        """

    async def aclose(self) -> None:
        """Release the backend's connections (nothing to release by default)."""
        return None
