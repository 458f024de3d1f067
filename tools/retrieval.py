"""Retrieval over the catalog, reviews and policy documents.

The embedded backend is an in-process BM25 index over English words and Japanese character
bigrams; every backend answers the same `search` call.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from tools.catalog import Catalog
from tools.models import PolicySection
from tools.text import normalize, tokenize
from tools.vocab import DEMOGRAPHICS, GENRES, STATUS_JA

DocType = Literal["series", "reviews", "policy"]


class Document(BaseModel):
    """A retrievable unit with the metadata filters apply to."""

    doc_id: str
    doc_type: DocType
    language: Literal["en", "ja"]
    title: str
    text: str
    series_id: str | None = None
    topic: str | None = None
    genres: list[str] = Field(default_factory=list)


class SearchFilters(BaseModel):
    """Metadata filters pushed into the search."""

    doc_types: list[DocType] | None = None
    language: Literal["en", "ja"] | None = None
    genres: list[str] | None = None
    topics: list[str] | None = None


class SearchHit(BaseModel):
    """One ranked document."""

    doc_id: str
    doc_type: DocType
    language: str
    title: str
    text: str
    series_id: str | None = None
    topic: str | None = None
    score: float


class RetrievalBackend(Protocol):
    """What every retrieval backend offers."""

    async def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[SearchHit]:
        """Rank documents for `query`."""
        ...

    def unknown_terms(self, query: str) -> list[str]:
        """Words of `query` that no document contains (a title the store does not carry)."""
        ...


def build_documents(catalog: Catalog, policies: list[PolicySection]) -> list[Document]:
    """Series (EN and JA views), review digests and policy sections."""
    docs: list[Document] = []
    for s in catalog.series.values():
        genres_ja = " ".join(GENRES[g][0] for g in s.genres)
        docs.append(Document(
            doc_id=f"series:{s.series_id}:en", doc_type="series", language="en", title=s.title,
            series_id=s.series_id, genres=list(s.genres),
            text=(f"{s.title}. {' / '.join(s.aliases)}. By {', '.join(s.authors)}. "
                  f"{' '.join(s.genres)} {s.demographic} manga, {' '.join(s.themes)}. {s.status}, "
                  f"{s.volumes} volumes. {s.synopsis}"),
        ))
        docs.append(Document(
            doc_id=f"series:{s.series_id}:ja", doc_type="series", language="ja", title=s.title_ja,
            series_id=s.series_id, genres=list(s.genres),
            text=(f"{s.title_ja}（{s.title_ja_reading}） {' / '.join(s.aliases)} 作者：{'、'.join(s.authors_ja)}。"
                  f"{genres_ja} {DEMOGRAPHICS[s.demographic][0]}漫画。{STATUS_JA[s.status]}、全{s.volumes}巻。"
                  f"{s.synopsis_ja}"),
        ))
        for language in ("en", "ja"):
            reviews = [r for r in catalog.reviews.get(s.series_id, []) if r.language == language]
            if reviews:
                title = s.title if language == "en" else s.title_ja
                docs.append(Document(
                    doc_id=f"reviews:{s.series_id}:{language}", doc_type="reviews", language=language,
                    title=title, series_id=s.series_id, genres=list(s.genres),
                    text=f"{title} " + " ".join(r.text for r in reviews),
                ))
    for p in policies:
        docs.append(Document(
            doc_id=p.doc_id, doc_type="policy", language=p.language, title=f"{p.title}: {p.heading}",
            topic=p.topic, text=f"{p.heading} {p.body}",
        ))
    return docs


def _name_like(query: str, word: str) -> bool:
    """Katakana runs, capitalised words, or any word of a short request ("got frieran?")."""
    if not word.isascii():
        return True
    if re.search(rf"(?<!^)\b{re.escape(word.capitalize())}", query.strip()):
        return True
    return len(query.split()) <= 5


class EmbeddedIndex:
    """In-process BM25 (k1=1.2, b=0.75) with filters applied while scoring."""

    def __init__(self, documents: list[Document], k1: float = 1.2, b: float = 0.75) -> None:
        self._docs = documents
        self._k1, self._b = k1, b
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._lengths: list[int] = []
        for idx, doc in enumerate(documents):
            # The title counts twice: a title hit is the strongest evidence a shopper gives.
            counts = Counter(tokenize(doc.title) * 2 + tokenize(doc.text))
            self._lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self._postings[term].append((idx, tf))
        self._avg_len = sum(self._lengths) / max(len(self._lengths), 1)
        n = len(documents)
        self._idf = {
            term: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for term, p in self._postings.items()
        }

    def unknown_terms(self, query: str) -> list[str]:
        """Words (4+ letters) and katakana names that cannot occur in any document."""
        unknown = []
        # Katakana runs before folding: a hiragana particle must not glue onto the name.
        for word in re.findall(r"[a-z][a-z0-9'-]{3,}|[\u30a0-\u30ffー]{3,}", normalize(query)):
            terms = tokenize(word)
            # Every bigram of a name in some document is necessary for the name to be there at all.
            if terms and any(t not in self._idf for t in terms) and _name_like(query, word):
                unknown.append(word)
        return unknown

    def _allowed(self, doc: Document, f: SearchFilters | None) -> bool:
        if f is None:
            return True
        if f.doc_types and doc.doc_type not in f.doc_types:
            return False
        if f.language and doc.language != f.language:
            return False
        if f.topics and doc.topic not in f.topics:
            return False
        return not (f.genres and not set(f.genres) & set(doc.genres))

    def search_sync(self, query: str, k: int, filters: SearchFilters | None = None) -> list[SearchHit]:
        """Top-k documents by BM25 score among those the filters allow."""
        scores: dict[int, float] = defaultdict(float)
        for term in set(tokenize(query)):
            idf = self._idf.get(term)
            if idf is None:
                continue
            for idx, tf in self._postings[term]:
                norm = tf + self._k1 * (1 - self._b + self._b * self._lengths[idx] / self._avg_len)
                scores[idx] += idf * tf * (self._k1 + 1) / norm
        ranked = sorted(
            ((score, idx) for idx, score in scores.items() if self._allowed(self._docs[idx], filters)),
            key=lambda item: (-item[0], item[1]),
        )[:k]
        hits = []
        for score, idx in ranked:
            d = self._docs[idx]
            hits.append(SearchHit(doc_id=d.doc_id, doc_type=d.doc_type, language=d.language, title=d.title,
                                  text=d.text, series_id=d.series_id, topic=d.topic, score=round(score, 4)))
        return hits

    async def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[SearchHit]:
        """Async face of `search_sync` (sub-millisecond for the shipped catalog)."""
        return self.search_sync(query, k, filters)
