"""The OpenSearch search backend: versioned indices behind an alias, hybrid kNN + BM25 search.

Layout on the cluster, for an alias `A` (`MANGAASSIST_OPENSEARCH_INDEX`):

- `_index_template/A` matches `A-*`: a `knn_vector` field (HNSW, cosine), BM25 text fields per
  language (`cjk` bigrams for Japanese unless a kuromoji/ICU analyzer is configured, `english`
  for English) and keyword metadata fields.
- Every build is a new index `A-<version>`, written with refresh off and no replicas, then
  refreshed and given its replicas; the live one is not touched while it is built.
- `swap` moves alias `A` to the new index and alias `A-previous` to the one it replaces in one
  `_aliases` request, so readers see either the old or the new index, never neither.
  `rollback` is the same move back. Older versions stay until an operator deletes them.

Search sends both legs in one `_msearch` round trip (kNN with the filters inside its `filter`
clause, so the filter narrows the HNSW candidates instead of emptying a post-filtered top-k; BM25
with the same filters in a `bool` filter) and fuses the two rankings client-side with reciprocal
rank fusion. Client-side RRF was chosen over the `hybrid` query: it needs no neural-search plugin
or search pipeline on the cluster, it fuses exactly as the embedded backend does (same constant,
weights and candidate depth), and it keeps each leg's score for `mangaassist search` to show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import HTTP_EXCEPTIONS, NotFoundError, TransportError
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.helpers import async_bulk

from mangaassist.settings import Settings
from tools.embedded_backend import LEG_CANDIDATES, RRF_K, leg_weights
from tools.search_backend import (
    EmbeddingIdentity,
    IndexedDoc,
    IndexIdentity,
    Leg,
    NoIndex,
    SearchBackend,
    SearchFilters,
    SearchHit,
)

# Statuses that say the cluster is overloaded or down rather than our request being wrong.
_UNAVAILABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DOC_FIELDS = tuple(IndexedDoc.model_fields)
_KEYWORD_FIELDS = (
    "doc_id", "doc_type", "language", "store_id", "series_id", "genres", "demographic", "format",
    "topic", "source_version", "content_hash",
)


class SearchUnavailable(OSError):
    """The search cluster failed or refused a request it should have served.

    An `OSError`, so the retrieval breaker counts it like any other failing dependency; it keeps
    the HTTP status for the breaker's client-error check.
    """

    def __init__(self, message: str, status_code: int | str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def _as_unavailable(exc: TransportError) -> SearchUnavailable | None:
    """Cluster trouble as `SearchUnavailable`; None for a request the cluster rejected (our bug)."""
    status = exc.status_code
    if isinstance(exc, TransportConnectionError):
        return SearchUnavailable(f"OpenSearch unreachable: {exc.error}", status)
    if status in _UNAVAILABLE_STATUSES:
        return SearchUnavailable(f"OpenSearch answered {status}: {exc.error}", status)
    return None


def _raise_for_response(response: dict[str, Any]) -> None:
    """An `_msearch` leg carries its own error; raise it as the client would have."""
    error = response.get("error")
    if error is None:
        return
    status = int(response.get("status", 500))
    kind = error.get("type", "error") if isinstance(error, dict) else str(error)
    exc = HTTP_EXCEPTIONS.get(status, TransportError)(status, kind, response)
    raise _as_unavailable(exc) or exc


def index_mappings(dim: int, *, engine: str, ja_analyzer: str, en_analyzer: str) -> dict[str, Any]:
    """Field mappings shared by every version (the template's), for vectors of `dim` dimensions."""
    properties: dict[str, Any] = {name: {"type": "keyword"} for name in _KEYWORD_FIELDS}
    properties |= {
        "in_stock": {"type": "boolean"},
        "embedded": {"type": "boolean"},
        # Shown in answers, searched through the per-language copies below.
        "title": {"type": "text", "index": False},
        "text": {"type": "text", "index": False},
        "title_en": {"type": "text", "analyzer": en_analyzer},
        "text_en": {"type": "text", "analyzer": en_analyzer},
        "title_ja": {"type": "text", "analyzer": ja_analyzer},
        "text_ja": {"type": "text", "analyzer": ja_analyzer},
        "vector": {
            "type": "knn_vector",
            "dimension": dim,
            "method": {
                "name": "hnsw",
                "space_type": "cosinesimil",
                "engine": engine,
                "parameters": {"m": 16, "ef_construction": 128},
            },
        },
    }
    return {
        "dynamic": "strict",
        # The per-language copies exist only to be analysed; `title`/`text` already hold the text.
        "_source": {"excludes": ["title_en", "text_en", "title_ja", "text_ja"]},
        "properties": properties,
    }


def _either_or_missing(field: str, value: object) -> dict[str, Any]:
    """`field == value`, or the document has no such field (a series has no format or stock)."""
    return {
        "bool": {
            "should": [
                {"term": {field: value}},
                {"bool": {"must_not": {"exists": {"field": field}}}},
            ],
            "minimum_should_match": 1,
        }
    }


def filter_clauses(filters: SearchFilters | None) -> list[dict[str, Any]]:
    """`SearchFilters.allows` as query DSL filter clauses (same semantics, run by the cluster)."""
    if filters is None:
        return []
    clauses: list[dict[str, Any]] = []
    if filters.doc_types:
        clauses.append({"terms": {"doc_type": list(filters.doc_types)}})
    if filters.language:
        clauses.append({"term": {"language": filters.language}})
    if filters.genres:
        clauses.append({"terms": {"genres": list(filters.genres)}})
    if filters.format:
        clauses.append(_either_or_missing("format", filters.format))
    if filters.in_stock is not None:
        clauses.append(_either_or_missing("in_stock", filters.in_stock))
    if filters.series_ids:
        clauses.append({"terms": {"series_id": list(filters.series_ids)}})
    if filters.topics:
        clauses.append({"terms": {"topic": list(filters.topics)}})
    return clauses


def lexical_query(text: str, size: int, filters: SearchFilters | None) -> dict[str, Any]:
    """The BM25 leg: both languages' fields (a mixed-script query hits either), filters inside."""
    return {
        "size": size,
        "_source": list(_DOC_FIELDS),
        "query": {
            "bool": {
                "must": {
                    "multi_match": {
                        "query": text,
                        "fields": ["title_en^2", "text_en", "title_ja^2", "text_ja"],
                        "type": "best_fields",
                    }
                },
                "filter": filter_clauses(filters),
            }
        },
    }


def knn_query(vector: np.ndarray, size: int, filters: SearchFilters | None) -> dict[str, Any]:
    """The dense leg: HNSW kNN with the filters inside the clause (applied during the walk)."""
    knn: dict[str, Any] = {"vector": [float(x) for x in vector], "k": size}
    clauses = filter_clauses(filters)
    if clauses:
        knn["filter"] = {"bool": {"filter": clauses}}
    return {"size": size, "_source": list(_DOC_FIELDS), "query": {"knn": {"vector": knn}}}


def rrf_fuse(
    legs: dict[Leg, list[dict[str, Any]]], k: int, filters: SearchFilters | None = None
) -> list[SearchHit]:
    """Reciprocal rank fusion of the legs' hits (`_id`, `_score`, `_source`), as embedded fuses."""
    dense, lexical = leg_weights(filters)
    weights: dict[Leg, float] = {"dense": dense, "lexical": lexical}
    fused: dict[str, float] = {}
    scores: dict[str, dict[Leg, float]] = {}
    sources: dict[str, dict[str, Any]] = {}
    for leg, hits in legs.items():
        for rank, hit in enumerate(hits, start=1):
            doc_id = hit["_id"]
            fused[doc_id] = fused.get(doc_id, 0.0) + weights[leg] / (RRF_K + rank)
            score = float(hit["_score"])
            # Cosine scores arrive as (1 + cos) / 2; report the cosine, as the embedded one does.
            shown = score * 2.0 - 1.0 if leg == "dense" else score
            scores.setdefault(doc_id, {})[leg] = round(shown, 4)
            sources[doc_id] = hit["_source"]
    hits_out = []
    for d in sorted(fused, key=lambda d: (-fused[d], d))[:k]:
        leg_scores = dict(scores[d])
        leg_scores["fused"] = round(fused[d], 6)
        hits_out.append(SearchHit(doc_id=d, score=round(fused[d], 6), scores=leg_scores,
                                  doc=IndexedDoc.model_validate(sources[d])))
    return hits_out


def _new_version() -> str:
    # Microseconds, so two builds in one second never collide; lowercase, as index names must be.
    return datetime.now(UTC).strftime("%Y%m%dt%H%M%S%fz")


class OpenSearchBackend(SearchBackend):
    """Versioned hybrid search on an OpenSearch cluster (2.9+; 2.19+ for cosine on faiss)."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.alias = settings.opensearch_index
        self.previous_alias = f"{self.alias}-previous"

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenSearchBackend:
        """A client for `MANGAASSIST_OPENSEARCH_*`: URL, basic auth, TLS verification, timeouts."""
        auth = None
        if settings.opensearch_user is not None:
            secret = settings.opensearch_password
            auth = (settings.opensearch_user, secret.get_secret_value() if secret else "")
        client = AsyncOpenSearch(
            hosts=[settings.opensearch_url],
            http_auth=auth,
            verify_certs=settings.opensearch_verify_certs,
            ssl_show_warn=settings.opensearch_verify_certs,
            timeout=settings.opensearch_timeout_s,
            max_retries=settings.opensearch_max_retries,
            retry_on_timeout=True,
        )
        return cls(client, settings)

    async def aclose(self) -> None:
        """Close the client's connection pool."""
        await self.client.close()

    def _index_name(self, version: str) -> str:
        return f"{self.alias}-{version}"

    async def _call(self, request: Any) -> Any:
        """Await one client call, mapping cluster failures to `SearchUnavailable`."""
        try:
            return await request
        except TransportError as exc:
            mapped = _as_unavailable(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def _aliases(self) -> tuple[str | None, str | None]:
        """The indices the live and the previous alias point at (one request)."""
        held = await self._call(self.client.indices.get_alias(index=f"{self.alias}-*"))
        live = previous = None
        for index, body in held.items():
            names = body.get("aliases", {})
            if self.alias in names:
                live = index
            if self.previous_alias in names:
                previous = index
        return live, previous

    async def put_template(self, dim: int) -> None:
        """Create or update the index template every version is created from."""
        s = self.settings
        body = {
            "index_patterns": [f"{self.alias}-*"],
            "priority": 100,
            "template": {
                "settings": {
                    "index": {
                        "knn": True,
                        "number_of_shards": s.opensearch_shards,
                        "number_of_replicas": s.opensearch_replicas,
                    },
                },
                "mappings": index_mappings(
                    dim, engine=s.opensearch_knn_engine, ja_analyzer=s.opensearch_ja_analyzer,
                    en_analyzer=s.opensearch_en_analyzer,
                ),
            },
        }
        await self._call(self.client.indices.put_index_template(name=self.alias, body=body))

    async def build(
        self,
        docs: Sequence[IndexedDoc],
        vectors: np.ndarray,
        embedding: EmbeddingIdentity,
        *,
        build_seconds: float = 0.0,
    ) -> IndexIdentity:
        """Write a new `<alias>-<version>` index beside the live one, without making it live."""
        embedded = [d for d in docs if d.embedded]
        if vectors.shape != (len(embedded), embedding.dim):
            raise ValueError(
                f"vectors {vectors.shape} do not match {len(embedded)} docs x {embedding.dim} dims"
            )
        version = _new_version()
        index = self._index_name(version)
        live, _ = await self._aliases()
        identity = IndexIdentity(
            backend="opensearch", name=self.alias, version=version, embedding=embedding,
            doc_count=len(docs), embedded_count=len(embedded),
            built_at=datetime.now(UTC).isoformat(), build_seconds=build_seconds,
            previous_version=self._version_of(live),
        )
        await self.put_template(embedding.dim)
        # Bulk loading is faster without refreshes or replica copies; both return once it is full.
        body = {
            "settings": {"index": {"refresh_interval": "-1", "number_of_replicas": 0}},
            "mappings": {"_meta": {"identity": identity.model_dump(mode="json")}},
        }
        await self._call(self.client.indices.create(index=index, body=body))
        await self._load(index, docs, vectors)
        await self._call(self.client.indices.put_settings(index=index, body={"index": {
            "refresh_interval": None, "number_of_replicas": self.settings.opensearch_replicas,
        }}))
        await self._call(self.client.indices.refresh(index=index))
        return identity

    async def _load(self, index: str, docs: Sequence[IndexedDoc], vectors: np.ndarray) -> None:
        """Bulk-index `docs` in chunks; documents rejected with 429 are resent with back-off."""
        # raise_on_error=False: the helper retries items rejected with 429 only when it does not
        # raise on the first failed item; what still failed after the retries comes back here.
        _, failed = await self._call(async_bulk(
            self.client,
            self._actions(index, docs, vectors),
            chunk_size=self.settings.opensearch_bulk_chunk,
            max_retries=self.settings.opensearch_bulk_retries,
            initial_backoff=self.settings.opensearch_bulk_backoff_s,
            max_backoff=30,
            raise_on_error=False,
            request_timeout=self.settings.opensearch_bulk_timeout_s,
        ))
        if failed:
            errors = [item for row in failed for item in row.values()]
            sample = [(e.get("_id"), e.get("status"), e.get("error")) for e in errors[:3]]
            raise SearchUnavailable(f"{len(errors)} documents not indexed into {index}: {sample}")

    async def _actions(
        self, index: str, docs: Sequence[IndexedDoc], vectors: np.ndarray
    ) -> AsyncIterator[dict[str, Any]]:
        rows = iter(vectors)
        for doc in docs:
            source = doc.model_dump(mode="json")
            source[f"title_{doc.language}"] = doc.title
            source[f"text_{doc.language}"] = doc.text
            if doc.embedded:
                source["vector"] = [float(x) for x in next(rows)]
            yield {"_op_type": "index", "_index": index, "_id": doc.doc_id, "_source": source}

    async def _move_alias(self, target: str, live: str | None, previous: str | None) -> None:
        """Point the alias at `target` and the previous alias at `live`, in one atomic request."""
        actions: list[dict[str, Any]] = []
        if previous is not None:
            actions.append({"remove": {"index": previous, "alias": self.previous_alias}})
        if live is not None:
            actions.append({"remove": {"index": live, "alias": self.alias}})
            actions.append({"add": {"index": live, "alias": self.previous_alias}})
        actions.append({"add": {"index": target, "alias": self.alias}})
        await self._call(self.client.indices.update_aliases(body={"actions": actions}))

    async def swap(self, version: str) -> IndexIdentity:
        """Make `<alias>-<version>` live; the index it replaces keeps the previous alias."""
        target = self._index_name(version)
        live, previous = await self._aliases()
        identity = await self._identity(target)
        if target == live:
            return identity.model_copy(update={"previous_version": self._version_of(previous)})
        await self._move_alias(target, live, previous)
        return identity.model_copy(update={"previous_version": self._version_of(live)})

    async def rollback(self) -> IndexIdentity:
        """Make the previous version live again (the rolled-back one becomes the previous)."""
        live, previous = await self._aliases()
        if previous is None:
            raise NoIndex(f"{self.alias} has no previous version")
        await self._move_alias(previous, live, previous)
        identity = await self._identity(previous)
        return identity.model_copy(update={"previous_version": self._version_of(live)})

    async def describe(self) -> IndexIdentity:
        """The live version's identity, read from the index's `_meta`."""
        live, previous = await self._aliases()
        if live is None:
            raise NoIndex(f"{self.alias} points at no index")
        identity = await self._identity(live)
        return identity.model_copy(update={"previous_version": self._version_of(previous)})

    def _version_of(self, index: str | None) -> str | None:
        return index.removeprefix(f"{self.alias}-") if index else None

    async def _identity(self, index: str) -> IndexIdentity:
        try:
            mapping = await self._call(self.client.indices.get_mapping(index=index))
        except NotFoundError as exc:
            raise NoIndex(f"no index {index}") from exc
        meta = mapping[index]["mappings"].get("_meta", {})
        if "identity" not in meta:
            raise NoIndex(f"{index} was not built by this service (no identity in its _meta)")
        return IndexIdentity.model_validate(meta["identity"])

    async def stored_vectors(self, content_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the live version for the given content hashes (none when nothing is live)."""
        live, _ = await self._aliases()
        if live is None:
            return {}
        found: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(content_hashes))
        batch = self.settings.opensearch_bulk_chunk
        for start in range(0, len(wanted), batch):
            chunk = wanted[start:start + batch]
            body = {
                "size": len(chunk),
                "_source": ["content_hash", "vector"],
                "query": {"bool": {"filter": [
                    {"terms": {"content_hash": chunk}},
                    {"exists": {"field": "vector"}},
                ]}},
            }
            result = await self._call(self.client.search(index=self.alias, body=body))
            for hit in result["hits"]["hits"]:
                source = hit["_source"]
                found[source["content_hash"]] = np.asarray(source["vector"], dtype=np.float32)
        return found

    async def search(
        self,
        text: str,
        vector: np.ndarray | None,
        k: int,
        filters: SearchFilters | None = None,
    ) -> list[SearchHit]:
        """Both legs in one `_msearch`, fused with RRF; each hit keeps its legs' scores."""
        size = max(k, LEG_CANDIDATES)
        legs: list[Leg] = ["lexical"]
        body: list[dict[str, Any]] = [{"index": self.alias}, lexical_query(text, size, filters)]
        if vector is not None:
            legs.append("dense")
            body += [{"index": self.alias}, knn_query(vector, size, filters)]
        result = await self._call(self.client.msearch(body=body))
        ranked: dict[Leg, list[dict[str, Any]]] = {}
        for leg, response in zip(legs, result["responses"], strict=True):
            _raise_for_response(response)
            ranked[leg] = response["hits"]["hits"]
        return rrf_fuse(ranked, k, filters)
