"""The embedded backend: filters inside each leg, fusion with leg scores, versions, swap and rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tools.embedded_backend import LEG_CANDIDATES, RRF_K, EmbeddedBackend, _top, leg_weights
from tools.indexing import build_documents
from tools.search_backend import EmbeddingIdentity, IndexedDoc, NoIndex, SearchFilters
from tools.text import search_terms

IDENT = EmbeddingIdentity(model_id="test/axis-vectors", version="1", dim=3)


def _docs() -> list[IndexedDoc]:
    return [
        IndexedDoc(doc_id="a", doc_type="series", language="en", title="Spiral town", text="horror curse spirals",
                   series_id="s1", genres=["horror"], content_hash="ha"),
        IndexedDoc(doc_id="b", doc_type="series", language="ja", title="うずまき", text="ホラー 呪い",
                   series_id="s1", genres=["horror"], content_hash="hb"),
        IndexedDoc(doc_id="c", doc_type="series", language="en", title="Pirate crew", text="pirates treasure sea",
                   series_id="s2", genres=["adventure"], content_hash="hc"),
        IndexedDoc(doc_id="v1", doc_type="volume", language="en", title="Spiral town, Vol. 1",
                   text="Spiral town vol 1 print", series_id="s1", genres=["horror"], format="print",
                   in_stock=False, store_id="B0AAAAAAAA", embedded=False, content_hash="hv1"),
        IndexedDoc(doc_id="v2", doc_type="volume", language="en", title="Spiral town, Vol. 1",
                   text="Spiral town vol 1 digital", series_id="s1", genres=["horror"], format="digital",
                   in_stock=True, store_id="B0BBBBBBBB", embedded=False, content_hash="hv2"),
    ]


def _vectors() -> np.ndarray:
    # One axis per embedded doc (a, b, c): the dense leg's answer is the axis the query points at.
    return np.eye(3, dtype=np.float32)


async def _built(root: Path) -> EmbeddedBackend:
    backend = EmbeddedBackend(root)
    identity = await backend.build(_docs(), _vectors(), IDENT)
    await backend.swap(identity.version)
    return backend


async def test_no_index_is_reported(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    assert not backend.has_index()
    with pytest.raises(NoIndex):
        await backend.describe()
    with pytest.raises(NoIndex):
        await backend.rollback()


async def test_hybrid_hits_carry_each_leg_score(tmp_path: Path) -> None:
    backend = await _built(tmp_path / "index")
    hits = await backend.search("spiral horror", np.array([1.0, 0.0, 0.0], np.float32), 5)
    assert hits[0].doc_id == "a"
    assert set(hits[0].scores) == {"dense", "lexical", "fused"}
    assert hits[0].scores["dense"] == pytest.approx(1.0)
    assert hits[0].scores["lexical"] > 0
    # Found by both legs, "a" outranks documents only one leg found.
    assert hits[0].score > max(h.score for h in hits[1:])
    # A lexical-only document (no vector) is still found by its words.
    assert {"v1", "v2"} <= {h.doc_id for h in hits}


async def test_dense_leg_finds_what_words_miss(tmp_path: Path) -> None:
    backend = await _built(tmp_path / "index")
    hits = await backend.search("nothing in common", np.array([0.0, 0.0, 1.0], np.float32), 2)
    assert hits[0].doc_id == "c"
    assert hits[0].scores["lexical"] == 0.0


async def test_a_phrase_outranks_its_words_apart(tmp_path: Path) -> None:
    # "Another" holds both words too, one in its title (counted twice); only the second holds the
    # phrase.
    docs = [
        IndexedDoc(doc_id="title", doc_type="series", language="en", title="Another",
                   text="A horror story. Its world is a cursed class.", series_id="s1",
                   content_hash="h1"),
        IndexedDoc(doc_id="phrase", doc_type="series", language="en", title="Magic Knights",
                   text="Three girls are summoned to another world.", series_id="s2",
                   content_hash="h2"),
    ]
    backend = EmbeddedBackend(tmp_path / "index")
    await backend.swap((await backend.build(docs, np.eye(2, 3, dtype=np.float32), IDENT)).version)
    hits = await backend.search("transported to another world", None, 2)
    assert [h.doc_id for h in hits] == ["phrase", "title"]
    # Words either side of a clause break are no phrase.
    assert "another_world" in search_terms("to another world")
    assert "horror_school" not in search_terms("horror, school life")
    assert "world_is" not in search_terms("a horror story. Its world is")


async def test_filters_apply_before_top_k(tmp_path: Path) -> None:
    backend = await _built(tmp_path / "index")
    vec = np.array([1.0, 0.0, 0.0], np.float32)
    # k=1: had the filter run after a top-1 cut, "a" would have taken the only slot and been dropped.
    ja = await backend.search("spiral horror", vec, 1, SearchFilters(language="ja"))
    assert [h.doc_id for h in ja] == ["b"]
    in_stock = await backend.search("spiral town", None, 5, SearchFilters(doc_types=["volume"], in_stock=True))
    assert [h.doc_id for h in in_stock] == ["v2"]
    printed = await backend.search("spiral town", None, 5, SearchFilters(doc_types=["volume"], format="print"))
    assert [h.doc_id for h in printed] == ["v1"]
    adventure = await backend.search("spiral", vec, 5, SearchFilters(genres=["adventure"]))
    assert [h.doc_id for h in adventure] == ["c"]
    assert await backend.search("spiral", vec, 5, SearchFilters(series_ids=["nope"])) == []


def test_mask_matches_the_reference_filter_semantics(services: object) -> None:
    """Every filter combination selects exactly the documents `SearchFilters.allows` accepts."""
    live = services.retrieval.backend.live_sync()  # type: ignore[attr-defined]
    docs = [IndexedDoc.model_construct(**d) for d in live.docs]
    cases = [
        SearchFilters(language="ja", genres=["horror", "mystery"]),
        SearchFilters(doc_types=["volume"], format="digital", in_stock=True),
        SearchFilters(doc_types=["volume", "series"], in_stock=False),
        SearchFilters(doc_types=["policy"], topics=["returns", "shipping"], language="en"),
        SearchFilters(series_ids=["berserk", "uzumaki"], doc_types=["reviews"]),
    ]
    for f in cases:
        mask = live.mask(f)
        expected = np.array([f.allows(d) for d in docs])
        assert mask is not None and expected.any()
        assert (mask == expected).all(), f


async def test_swap_keeps_previous_for_rollback(tmp_path: Path) -> None:
    root = tmp_path / "index"
    backend = await _built(root)
    first = await backend.describe()
    changed = _docs()
    changed[2] = changed[2].model_copy(update={"text": "pirates and a rubber boy", "content_hash": "hc2"})
    second = await backend.build(changed, _vectors(), IDENT)
    # Built beside the live version: nothing changes until the swap.
    assert (await backend.describe()).version == first.version
    live = await backend.swap(second.version)
    assert live.version == second.version and live.previous_version == first.version
    assert (await backend.search("rubber", None, 1))[0].doc_id == "c"
    pointer = json.loads((root / "LIVE").read_text())
    assert pointer == {"live": second.version, "previous": first.version}
    back = await backend.rollback()
    assert back.version == first.version
    assert await backend.search("rubber", None, 1) == []
    stored = await backend.stored_vectors(["ha", "hc", "missing"])
    assert set(stored) == {"ha", "hc"}
    assert np.allclose(stored["hc"], [0.0, 0.0, 1.0])


async def test_wrong_vector_shape_is_refused(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    with pytest.raises(ValueError, match="shape"):
        await backend.build(_docs(), np.eye(2, dtype=np.float32), IDENT)


def test_every_chunk_carries_metadata() -> None:
    from mangaassist.settings import get_settings

    docs = build_documents(get_settings().store_data_dir)
    ids = [d.doc_id for d in docs]
    assert len(ids) == len(set(ids))
    by_type: dict[str, list[IndexedDoc]] = {}
    for d in docs:
        by_type.setdefault(d.doc_type, []).append(d)
        assert d.content_hash and d.source_version and d.language in ("en", "ja")
    assert set(by_type) == {"series", "reviews", "policy", "volume"}
    assert all(d.series_id and d.genres and d.demographic and d.store_id for d in by_type["series"] + by_type["reviews"])
    assert all(d.store_id and d.format and d.in_stock is not None and not d.embedded for d in by_type["volume"])
    assert all(d.topic for d in by_type["policy"])
    assert sum(d.language == "ja" for d in by_type["series"]) == sum(d.language == "en" for d in by_type["series"])


def _plain_search(
    live: Any, text: str, vector: np.ndarray | None, k: int, filters: SearchFilters | None
) -> list[tuple[str, float, dict[str, float]]]:
    """Both legs over full per-document arrays and RRF summed hit by hit: the straightforward way."""
    n = len(live.docs)
    allowed = np.ones(n, dtype=bool) if filters is None else live.mask(filters)
    lexical = live.lexical_scores(text)
    dense = np.zeros(n, dtype=np.float32)
    # The same leg cut (`_top`) over every document: which of several equal scores at the cut
    # get in is argpartition's choice, and it must see the same candidates in the same order.
    rankings = [[], _top(lexical, allowed, LEG_CANDIDATES).tolist()]
    if vector is not None:
        dense[live.dense_docs] = (live.vectors @ vector + 1.0) / 2.0
        rankings[0] = _top(dense, allowed, LEG_CANDIDATES).tolist()
    fused: dict[int, float] = {}
    for weight, ranking in zip(leg_weights(filters), rankings, strict=True):
        for rank, idx in enumerate(ranking):
            fused[idx] = fused.get(idx, 0.0) + weight / (RRF_K + rank + 1)
    out = []
    for idx, score in sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]:
        scores = {"lexical": round(float(lexical[idx]), 4), "fused": round(score, 6)}
        if vector is not None:
            scores["dense"] = round(float(dense[idx]) * 2.0 - 1.0, 4) if dense[idx] else 0.0
        out.append((live.docs[idx]["doc_id"], round(score, 6), scores))
    return out


def test_search_matches_full_array_scoring_and_plain_fusion(services: object) -> None:
    """Hits, order and every leg score equal the straightforward computation, across filters."""
    backend = services.retrieval.backend  # type: ignore[attr-defined]
    live = backend.live_sync()
    rng = np.random.default_rng(3)
    texts = [
        "horror manga", "ホラー 漫画", "returns policy for damaged items", "pirates treasure", "volume 1 print",
    ]
    texts += [live.docs[int(i)]["title"] for i in rng.choice(len(live.docs), 15, replace=False)]
    filter_sets = [
        None,
        SearchFilters(doc_types=["series", "reviews", "policy"]),
        SearchFilters(language="ja", genres=["horror", "mystery"]),
        SearchFilters(doc_types=["volume"], format="digital", in_stock=True),
        SearchFilters(doc_types=["policy"], topics=["returns"]),
    ]
    for text in texts:
        # A stored document's vector, slightly moved: realistic similarities without the embedder.
        row = live.vectors[int(rng.integers(len(live.dense_docs)))]
        vector = (row + rng.normal(0, 0.02, row.shape)).astype(np.float32)
        for filters in filter_sets:
            for vec in (vector, None):
                # Twice: the second search reads the parsed documents and masks kept by the first.
                for _ in range(2):
                    hits = backend.search_sync(text, vec, 12, filters)
                    got = [(h.doc_id, h.score, dict(h.scores)) for h in hits]
                    assert got == _plain_search(live, text, vec, 12, filters), (text, filters, vec is None)
