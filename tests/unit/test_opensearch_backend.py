"""The OpenSearch backend against a local stand-in cluster on 127.0.0.1.

No OpenSearch server can run here, so a small aiohttp app speaks the REST subset the backend uses
(index template, index create, `_bulk`, `_aliases`, `_alias`, `_mapping`, `_settings`, `_refresh`,
`_msearch`, `_search`), keeps indices and aliases the way the cluster does, records every request,
and answers with responses shaped like OpenSearch 2.x's. opensearch-py's own transport, serializer,
retries and error classes run unchanged in between.
"""

from __future__ import annotations

import base64
import fnmatch
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from opensearchpy.exceptions import RequestError

from graph.breakers import TOOL_FAILURES, BreakerPolicy, DependencyBreaker
from mangaassist.settings import Settings
from tests.support.processes import free_port
from tools.embedded_backend import leg_weights
from tools.opensearch_backend import OpenSearchBackend, SearchUnavailable, rrf_fuse
from tools.search_backend import EmbeddingIdentity, IndexedDoc, NoIndex, SearchFilters

ALIAS = "manga-test"
EMBEDDING = EmbeddingIdentity(model_id="test-embedder", version="1", dim=3)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    content_type: str
    authorization: str | None = None


@dataclass
class FakeCluster:
    """Indices, aliases and documents, plus scripted failures and search results."""

    requests: list[Recorded] = field(default_factory=list)
    templates: dict[str, Any] = field(default_factory=dict)
    indices: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (method, path) -> queued (status, body) answers served before the normal handling.
    failures: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    # Document ids whose first bulk attempt is rejected with 429.
    reject_once: set[str] = field(default_factory=set)
    # Per `_msearch` leg: the (doc_id, _score) ranking that leg returns.
    rankings: list[list[tuple[str, float]]] = field(default_factory=list)

    def fail(self, method: str, path: str, status: int, body: Any, times: int = 1) -> None:
        self.failures.setdefault((method, path), []).extend([(status, body)] * times)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def aliases(self) -> dict[str, str]:
        return {a: name for name, idx in self.indices.items() for a in idx["aliases"]}

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ctype = request.headers.get("content-type", "")
        body: Any = None
        if raw:
            text = raw.decode("utf-8")
            # `_bulk` and `_msearch` take newline-delimited JSON, whatever the content type says.
            ndjson = request.path.endswith(("/_bulk", "/_msearch"))
            body = [json.loads(line) for line in text.splitlines() if line] if ndjson else json.loads(text)
        self.requests.append(Recorded(request.method, request.path, dict(request.query), body, ctype,
                                      request.headers.get("authorization")))
        queued = self.failures.get((request.method, request.path))
        if queued:
            status, payload = queued.pop(0)
            return web.json_response(payload, status=status)
        status, payload = self.route(request.method, request.path.strip("/").split("/"), body)
        return web.json_response(payload, status=status)

    def route(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        match method, parts:
            case "PUT", ["_index_template", name]:
                self.templates[name] = body
                return 200, {"acknowledged": True}
            case "PUT", [index]:
                return self.create_index(index, body)
            case "GET", [pattern, "_alias"]:
                return 200, {
                    name: {"aliases": {a: {} for a in idx["aliases"]}}
                    for name, idx in self.indices.items() if fnmatch.fnmatch(name, pattern)
                }
            case "GET", [index, "_mapping"]:
                if index not in self.indices:
                    return 404, _missing(index)
                return 200, {index: {"mappings": self.indices[index]["mappings"]}}
            case "PUT", [index, "_settings"]:
                self.indices[index]["settings"]["index"].update(body["index"])
                return 200, {"acknowledged": True}
            case "POST", [index, "_refresh"]:
                return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
            case "POST", ["_bulk"]:
                return self.bulk(body)
            case "POST", ["_aliases"]:
                return self.update_aliases(body["actions"])
            case "POST", ["_msearch"]:
                return self.msearch(body)
            case "POST", [alias, "_search"]:
                return self.search_hashes(alias, body)
        return 400, _error(400, "illegal_argument_exception", f"no handler for {method} {parts}")

    def create_index(self, index: str, body: dict[str, Any]) -> tuple[int, Any]:
        if index in self.indices:
            return 400, _error(400, "resource_already_exists_exception", f"index [{index}] exists")
        template = next(
            t for t in self.templates.values() if fnmatch.fnmatch(index, t["index_patterns"][0])
        )
        mappings = {**template["template"]["mappings"], **body.get("mappings", {})}
        settings = {"index": {**template["template"]["settings"]["index"], **body["settings"]["index"]}}
        self.indices[index] = {"mappings": mappings, "settings": settings, "aliases": set(), "docs": {}}
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}

    def bulk(self, lines: list[dict[str, Any]]) -> tuple[int, Any]:
        items = []
        for action, source in zip(lines[::2], lines[1::2], strict=True):
            meta = action["index"]
            if meta["_id"] in self.reject_once:
                self.reject_once.discard(meta["_id"])
                items.append({"index": {"_index": meta["_index"], "_id": meta["_id"], "status": 429, "error": {
                    "type": "rejected_execution_exception",
                    "reason": "rejected execution of coordinating operation [shard_detail=[manga][0]]"}}})
                continue
            self.indices[meta["_index"]]["docs"][meta["_id"]] = source
            items.append({"index": {"_index": meta["_index"], "_id": meta["_id"], "_version": 1, "result": "created",
                                    "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 0,
                                    "_primary_term": 1, "status": 201}})
        errors = any("error" in item["index"] for item in items)
        return 200, {"took": 7, "errors": errors, "items": items}

    def update_aliases(self, actions: list[dict[str, Any]]) -> tuple[int, Any]:
        # All or nothing, as the cluster applies `_aliases`.
        staged = {name: set(idx["aliases"]) for name, idx in self.indices.items()}
        for action in actions:
            (kind, spec), = action.items()
            if spec["index"] not in staged:
                return 404, _missing(spec["index"])
            if kind == "add":
                staged[spec["index"]].add(spec["alias"])
            elif spec["alias"] in staged[spec["index"]]:
                staged[spec["index"]].remove(spec["alias"])
            else:
                return 404, _error(404, "aliases_not_found_exception", f"aliases [{spec['alias']}] missing")
        for name, aliases in staged.items():
            self.indices[name]["aliases"] = aliases
        return 200, {"acknowledged": True}

    def live_docs(self, alias: str) -> dict[str, Any]:
        return self.indices[self.aliases()[alias]]["docs"]

    def msearch(self, lines: list[dict[str, Any]]) -> tuple[int, Any]:
        responses = []
        for header, ranking in zip(lines[::2], self.rankings, strict=False):
            docs = self.live_docs(header["index"])
            hits = [{"_index": self.aliases()[header["index"]], "_id": doc_id, "_score": score,
                     "_source": {k: v for k, v in docs[doc_id].items() if k in IndexedDoc.model_fields}}
                    for doc_id, score in ranking]
            responses.append({"took": 2, "timed_out": False,
                              "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                              "hits": {"total": {"value": len(hits), "relation": "eq"},
                                       "max_score": max((s for _, s in ranking), default=None), "hits": hits},
                              "status": 200})
        return 200, {"took": 3, "responses": responses}

    def search_hashes(self, alias: str, body: dict[str, Any]) -> tuple[int, Any]:
        wanted = set(body["query"]["bool"]["filter"][0]["terms"]["content_hash"])
        hits = [{"_index": self.aliases()[alias], "_id": doc_id, "_score": 0.0,
                 "_source": {"content_hash": d["content_hash"], "vector": d["vector"]}}
                for doc_id, d in self.live_docs(alias).items() if d["content_hash"] in wanted and "vector" in d]
        return 200, {"took": 1, "timed_out": False, "hits": {"total": {"value": len(hits), "relation": "eq"},
                                                             "max_score": 0.0, "hits": hits}}


def _error(status: int, kind: str, reason: str) -> dict[str, Any]:
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
            "status": status}


def _missing(index: str) -> dict[str, Any]:
    reason = f"no such index [{index}]"
    return {"error": {"root_cause": [{"type": "index_not_found_exception", "reason": reason, "index": index}],
                      "type": "index_not_found_exception", "reason": reason, "index": index}, "status": 404}


DOCS = [
    IndexedDoc(doc_id="series:frieren:en", doc_type="series", language="en", title="Frieren",
               text="An elf mage outlives her party.", series_id="frieren", genres=["fantasy"],
               content_hash="h-frieren-en"),
    IndexedDoc(doc_id="series:frieren:ja", doc_type="series", language="ja", title="葬送のフリーレン",
               text="勇者一行の魔法使いフリーレンの旅。", series_id="frieren", genres=["fantasy"],
               content_hash="h-frieren-ja"),
    IndexedDoc(doc_id="volume:B0FRIER001", doc_type="volume", language="ja", title="葬送のフリーレン 1巻",
               text="1巻", store_id="B0FRIER001", series_id="frieren", format="print", in_stock=True,
               content_hash="h-vol-1"),
    IndexedDoc(doc_id="policy:shipping:en", doc_type="policy", language="en", title="Shipping",
               text="Orders ship in two days.", topic="shipping", embedded=False, content_hash="h-ship"),
]
VECTORS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[FakeCluster, str]]:
    fake = FakeCluster()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def backend(cluster: tuple[FakeCluster, str]) -> AsyncIterator[OpenSearchBackend]:
    settings = Settings(
        opensearch_url=cluster[1], opensearch_index=ALIAS, opensearch_bulk_chunk=2,
        opensearch_bulk_backoff_s=0, opensearch_max_retries=1, opensearch_replicas=1,
    )
    b = OpenSearchBackend.from_settings(settings)
    yield b
    await b.aclose()


async def test_build_writes_template_then_a_new_index_with_bulk_retrying_a_429(backend, cluster):
    fake, _ = cluster
    fake.reject_once.add("series:frieren:ja")
    identity = await backend.build(DOCS, VECTORS, EMBEDDING, build_seconds=1.5)
    index = f"{ALIAS}-{identity.version}"

    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", f"/{ALIAS}-*/_alias"),
        ("PUT", f"/_index_template/{ALIAS}"),
        ("PUT", f"/{index}"),
        ("POST", "/_bulk"),  # the first chunk of two documents
        ("POST", "/_bulk"),  # its document rejected with 429, alone, before the next chunk
        ("POST", "/_bulk"),  # the second chunk
        ("PUT", f"/{index}/_settings"),
        ("POST", f"/{index}/_refresh"),
    ]
    template = fake.requests[1].body
    assert template["index_patterns"] == [f"{ALIAS}-*"]
    assert template["template"]["settings"]["index"] == {
        "knn": True, "number_of_shards": 1, "number_of_replicas": 1}
    props = template["template"]["mappings"]["properties"]
    assert props["vector"] == {"type": "knn_vector", "dimension": 3, "method": {
        "name": "hnsw", "space_type": "cosinesimil", "engine": "lucene",
        "parameters": {"m": 16, "ef_construction": 128}}}
    assert props["title_ja"] == {"type": "text", "analyzer": "cjk"}
    assert props["text_en"] == {"type": "text", "analyzer": "english"}
    keywords = ("doc_type", "language", "genres", "format", "store_id", "topic", "content_hash")
    assert {props[f]["type"] for f in keywords} == {"keyword"}
    assert props["in_stock"] == {"type": "boolean"}
    assert template["template"]["mappings"]["dynamic"] == "strict"

    created = fake.requests[2].body
    assert created["settings"] == {"index": {"refresh_interval": "-1", "number_of_replicas": 0}}
    assert created["mappings"]["_meta"]["identity"]["embedding"] == EMBEDDING.model_dump()

    first, retry, second = (r.body for r in fake.calls("POST", "/_bulk"))
    assert first[0] == {"index": {"_index": index, "_id": "series:frieren:en"}}
    assert first[1]["vector"] == [1.0, 0.0, 0.0]
    assert first[1]["title_en"] == "Frieren" and "title_ja" not in first[1]
    assert first[3]["title_ja"] == "葬送のフリーレン" and first[3]["vector"] == [0.0, 1.0, 0.0]
    assert second[2] == {"index": {"_index": index, "_id": "policy:shipping:en"}}
    assert "vector" not in second[3]  # kept out of the dense leg
    assert retry == first[2:4]
    assert set(fake.indices[index]["docs"]) == {d.doc_id for d in DOCS}

    assert fake.requests[6].body == {"index": {"refresh_interval": None, "number_of_replicas": 1}}
    assert fake.indices[index]["aliases"] == set()  # built beside, not live
    assert (identity.doc_count, identity.embedded_count, identity.previous_version) == (4, 3, None)


async def test_swap_moves_both_aliases_atomically_and_rollback_moves_them_back(backend, cluster):
    fake, _ = cluster
    with pytest.raises(NoIndex):
        await backend.describe()
    with pytest.raises(NoIndex):
        await backend.rollback()
    v1 = (await backend.build(DOCS, VECTORS, EMBEDDING)).version
    first = await backend.swap(v1)
    assert (first.version, first.previous_version) == (v1, None)
    assert fake.calls("POST", "/_aliases")[-1].body == {
        "actions": [{"add": {"index": f"{ALIAS}-{v1}", "alias": ALIAS}}]}

    v2 = (await backend.build(DOCS, VECTORS, EMBEDDING)).version
    assert (await backend.describe()).version == v1  # building never touches the live alias
    swapped = await backend.swap(v2)
    assert (swapped.version, swapped.previous_version) == (v2, v1)
    assert fake.calls("POST", "/_aliases")[-1].body == {"actions": [
        {"remove": {"index": f"{ALIAS}-{v1}", "alias": ALIAS}},
        {"add": {"index": f"{ALIAS}-{v1}", "alias": f"{ALIAS}-previous"}},
        {"add": {"index": f"{ALIAS}-{v2}", "alias": ALIAS}},
    ]}
    assert fake.aliases() == {ALIAS: f"{ALIAS}-{v2}", f"{ALIAS}-previous": f"{ALIAS}-{v1}"}

    rolled = await backend.rollback()
    assert (rolled.version, rolled.previous_version) == (v1, v2)
    assert fake.calls("POST", "/_aliases")[-1].body == {"actions": [
        {"remove": {"index": f"{ALIAS}-{v1}", "alias": f"{ALIAS}-previous"}},
        {"remove": {"index": f"{ALIAS}-{v2}", "alias": ALIAS}},
        {"add": {"index": f"{ALIAS}-{v2}", "alias": f"{ALIAS}-previous"}},
        {"add": {"index": f"{ALIAS}-{v1}", "alias": ALIAS}},
    ]}
    described = await backend.describe()
    assert (described.version, described.previous_version, described.embedding) == (v1, v2, EMBEDDING)

    with pytest.raises(NoIndex):
        await backend.swap("20000101t000000000000z")


async def test_search_sends_both_legs_with_filters_inside_and_fuses_by_rank(backend, cluster):
    fake, _ = cluster
    await backend.swap((await backend.build(DOCS, VECTORS, EMBEDDING)).version)
    fake.rankings = [
        [("series:frieren:ja", 7.5), ("volume:B0FRIER001", 3.0)],  # BM25
        [("volume:B0FRIER001", 0.95), ("series:frieren:ja", 0.9)],  # kNN: (1 + cos) / 2
    ]
    filters = SearchFilters(
        language="ja", genres=["fantasy"], in_stock=True, doc_types=["series", "volume"])
    query_vector = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    hits = await backend.search("フリーレン 在庫", query_vector, 2, filters)

    (call,) = fake.calls("POST", "/_msearch")
    header_lex, lexical, header_knn, dense = call.body
    assert header_lex == header_knn == {"index": ALIAS}
    clauses = [
        {"terms": {"doc_type": ["series", "volume"]}},
        {"term": {"language": "ja"}},
        {"terms": {"genres": ["fantasy"]}},
        {"bool": {"should": [{"term": {"in_stock": True}},
                             {"bool": {"must_not": {"exists": {"field": "in_stock"}}}}],
                  "minimum_should_match": 1}},
    ]
    assert lexical["query"] == {"bool": {
        "must": {"multi_match": {"query": "フリーレン 在庫",
                                 "fields": ["title_en^2", "text_en", "title_ja^2", "text_ja"],
                                 "type": "best_fields"}},
        "filter": clauses}}
    assert dense["query"] == {"knn": {"vector": {
        "vector": [0.0, 1.0, 0.0], "k": 50, "filter": {"bool": {"filter": clauses}}}}}
    assert lexical["size"] == dense["size"] == 50
    assert "vector" not in lexical["_source"]

    # Both documents are in both legs at ranks (1, 2) and (2, 1): a tie broken by id.
    assert [h.doc_id for h in hits] == ["series:frieren:ja", "volume:B0FRIER001"]
    assert hits[0].score == round(1 / 61 + 1 / 62, 6)
    assert hits[0].scores["lexical"] == 7.5 and hits[0].scores["dense"] == pytest.approx(0.8)
    assert hits[1].doc.store_id == "B0FRIER001" and hits[1].doc.in_stock is True


def test_policy_searches_are_fused_with_the_embedded_backends_weights():
    # Two sections, each first in one leg: the embedded default's weights decide, as they do there.
    def section(n: int) -> dict[str, object]:
        return IndexedDoc(doc_id=f"policy:shipping:{n}:en", doc_type="policy", language="en", title=f"Q{n}",
                          text="...", topic="shipping", content_hash=f"h{n}").model_dump()

    legs = {
        "lexical": [{"_id": "policy:shipping:1:en", "_score": 9.0, "_source": section(1)},
                    {"_id": "policy:shipping:2:en", "_score": 3.0, "_source": section(2)}],
        "dense": [{"_id": "policy:shipping:2:en", "_score": 0.95, "_source": section(2)},
                  {"_id": "policy:shipping:1:en", "_score": 0.9, "_source": section(1)}],
    }
    policies = SearchFilters(doc_types=["policy"], language="en")
    dense, lexical = leg_weights(policies)
    assert dense > lexical
    hits = rrf_fuse(legs, 2, policies)  # type: ignore[arg-type]
    assert [h.doc_id for h in hits] == ["policy:shipping:2:en", "policy:shipping:1:en"]
    assert hits[0].score == round(dense / 61 + lexical / 62, 6)
    # Any other search weighs the legs alike: the tie goes by id.
    assert [h.doc_id for h in rrf_fuse(legs, 2, SearchFilters())] == ["policy:shipping:1:en", "policy:shipping:2:en"]  # type: ignore[arg-type]


async def test_search_without_a_query_vector_runs_the_lexical_leg_only(backend, cluster):
    fake, _ = cluster
    await backend.swap((await backend.build(DOCS, VECTORS, EMBEDDING)).version)
    fake.rankings = [[("policy:shipping:en", 4.2)]]
    hits = await backend.search("shipping", None, 3)
    (call,) = fake.calls("POST", "/_msearch")
    assert len(call.body) == 2 and call.body[1]["query"]["bool"]["filter"] == []
    assert [(h.doc_id, h.scores) for h in hits] == [
        ("policy:shipping:en", {"lexical": 4.2, "fused": round(1 / 61, 6)})]


async def test_stored_vectors_come_from_the_live_version_by_content_hash(backend, cluster):
    fake, _ = cluster
    assert await backend.stored_vectors(["h-frieren-en"]) == {}  # nothing live yet
    await backend.swap((await backend.build(DOCS, VECTORS, EMBEDDING)).version)
    found = await backend.stored_vectors(["h-frieren-ja", "h-ship", "h-unknown"])
    assert list(found) == ["h-frieren-ja"]  # the policy chunk has no vector
    np.testing.assert_array_equal(found["h-frieren-ja"], VECTORS[1])
    # Looked up in batches of the bulk chunk size (two here).
    assert [r.body["query"]["bool"]["filter"] for r in fake.calls("POST", f"/{ALIAS}/_search")] == [
        [{"terms": {"content_hash": ["h-frieren-ja", "h-ship"]}}, {"exists": {"field": "vector"}}],
        [{"terms": {"content_hash": ["h-unknown"]}}, {"exists": {"field": "vector"}}],
    ]


async def test_a_5xx_retries_once_then_becomes_the_error_the_retrieval_breaker_counts(backend, cluster):
    fake, _ = cluster
    await backend.swap((await backend.build(DOCS, VECTORS, EMBEDDING)).version)
    unavailable = _error(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE]")
    fake.rankings = [[("policy:shipping:en", 1.0)]]
    fake.fail("POST", "/_msearch", 503, unavailable)
    assert [h.doc_id for h in await backend.search("shipping", None, 1)] == ["policy:shipping:en"]
    assert len(fake.calls("POST", "/_msearch")) == 2  # the transport retried the 503

    fake.fail("POST", "/_msearch", 503, unavailable, times=2)
    breaker = DependencyBreaker("retrieval", BreakerPolicy(60, 0.2, 10, 3, 30, 0.2))
    with pytest.raises(SearchUnavailable) as raised, breaker.calling():
        await backend.search("shipping", None, 1)
    assert raised.value.status_code == 503 and isinstance(raised.value, TOOL_FAILURES)
    assert breaker.breaker.fail_counter == 1


async def test_a_failing_leg_inside_msearch_is_mapped_like_a_failing_request(backend, cluster):
    fake, _ = cluster
    await backend.swap((await backend.build(DOCS, VECTORS, EMBEDDING)).version)
    fake.fail("POST", "/_msearch", 200, {"took": 1, "responses": [
        {"error": {"type": "circuit_breaking_exception", "reason": "[parent] Data too large"}, "status": 429}]})
    with pytest.raises(SearchUnavailable):
        await backend.search("shipping", None, 1)


async def test_a_rejected_query_is_our_bug_and_not_a_dependency_failure(backend, cluster):
    fake, _ = cluster
    await backend.swap((await backend.build(DOCS, VECTORS, EMBEDDING)).version)
    fake.fail("POST", "/_msearch", 400, _error(400, "parsing_exception", "unknown query [knn]"))
    breaker = DependencyBreaker("retrieval", BreakerPolicy(60, 0.2, 10, 3, 30, 0.2))
    with pytest.raises(RequestError), breaker.calling():
        await backend.search("shipping", None, 1)
    assert breaker.breaker.fail_counter == 0


async def test_an_unreachable_cluster_is_unavailable_not_a_crash():
    settings = Settings(opensearch_url=f"http://127.0.0.1:{free_port()}", opensearch_max_retries=0)
    b = OpenSearchBackend.from_settings(settings)
    try:
        with pytest.raises(SearchUnavailable):
            await b.describe()
    finally:
        await b.aclose()


async def test_bulk_items_failing_for_good_stop_the_build(backend, cluster):
    fake, _ = cluster
    fake.reject_once.update(d.doc_id for d in DOCS)
    b = OpenSearchBackend.from_settings(backend.settings.model_copy(update={"opensearch_bulk_retries": 0}))
    try:
        with pytest.raises(SearchUnavailable, match="not indexed"):
            await b.build(DOCS, VECTORS, EMBEDDING)
    finally:
        await b.aclose()
    assert fake.aliases() == {}


async def test_credentials_engine_and_analyzers_come_from_settings(cluster):
    fake, url = cluster
    settings = Settings(
        opensearch_url=url, opensearch_index=ALIAS, opensearch_user="svc-manga",
        opensearch_password="s3cret", opensearch_knn_engine="faiss", opensearch_ja_analyzer="kuromoji",
    )
    b = OpenSearchBackend.from_settings(settings)
    try:
        await b.put_template(EMBEDDING.dim)
    finally:
        await b.aclose()
    (call,) = fake.requests
    assert call.authorization == "Basic " + base64.b64encode(b"svc-manga:s3cret").decode()
    props = call.body["template"]["mappings"]["properties"]
    assert props["vector"]["method"]["engine"] == "faiss"
    assert props["text_ja"] == {"type": "text", "analyzer": "kuromoji"}
