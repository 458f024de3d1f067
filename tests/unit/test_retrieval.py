"""Retrieval on the shipped index, the indexing pipeline's reuse of vectors, model identity, reranking."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from evals.retrieval import load_cases, run_retrieval_suite
from mangaassist.commands import CliError
from mangaassist.commands.search import parse_filters
from mangaassist.settings import REPO_DATA_DIR
from tools.catalog import Catalog
from tools.embedded_backend import EmbeddedBackend
from tools.embeddings import get_embedder
from tools.indexing import build_documents, embedding_text, load_seed, run_index, seed_path, split_chunks
from tools.policies import load_policies
from tools.rerank import (
    RERANK_DEPTH,
    TRAINING_DOC_TYPES,
    TRAINING_QUERIES,
    TURN_DOC_TYPES,
    TrainingQuery,
    target_of,
    training_queries,
    training_sample,
)
from tools.retrieval import IndexMismatch, Retriever, with_leg_leaders
from tools.search_backend import EmbeddingIdentity, IndexedDoc, SearchFilters, SearchHit
from tools.vocab import GENRES

TURN = SearchFilters(doc_types=TURN_DOC_TYPES)


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("ベルセルク", "series:berserk"),
        ("a teenager whose right hand is taken over by an alien parasite", "series:parasyte"),
        ("名前を書くと人が死ぬノートの話", "series:death-note"),
        ("frieran", "series:frieren-beyond-journeys-end"),
        # Its words lead every other series' by far, but its vector is not among the dense leg's
        # best: fusion alone ranked it below a dozen school romances (`with_leg_leaders`).
        ("the one where a high schooler finds a notebook that kills people", "series:death-note"),
    ],
)
async def test_shipped_index_finds_the_answer_in_the_top_three(services: object, query: str, target: str) -> None:
    hits = await services.retrieval.search(query, 10, TURN)  # type: ignore[attr-defined]
    top = list(dict.fromkeys(target_of(h) for h in hits))[:3]
    assert target in top, top


async def test_a_search_of_every_kind_of_document_weighs_policy_sections_against_series(services: object) -> None:
    # `mangaassist search` with no filter: the reranker learned on such mixed lists.
    every_kind = SearchFilters(doc_types=TRAINING_DOC_TYPES)
    hits = await services.retrieval.search("返品の送料は誰が払うの", 10, every_kind)  # type: ignore[attr-defined]
    assert "policy:returns:5" in list(dict.fromkeys(target_of(h) for h in hits))[:3]


@pytest.mark.parametrize(
    ("query", "language", "target"),
    [
        # "how much" and "shipping" match the headings on US and Japan costs word for word.
        ("how much is shipping to the UK", "en", "policy:shipping:4"),
        ("what's the cost to send books abroad", "en", "policy:shipping:4"),
        # A country other than the US or Japan: the policies say "international" and name none.
        ("can I get manga delivered to Germany?", "en", "policy:shipping:4"),
        ("カナダまで送ってもらえますか", "ja", "policy:shipping:4"),
        ("イギリスへの送料は？", "ja", "policy:shipping:4"),
    ],
)
async def test_a_policy_question_is_answered_by_sense_before_shared_words(
    services: object, query: str, language: str, target: str
) -> None:
    # As a policy turn searches: its language's sections only.
    filters = SearchFilters(doc_types=["policy"], language=language)  # type: ignore[arg-type]
    hits = await services.retrieval.search(query, 3, filters)  # type: ignore[attr-defined]
    assert target_of(hits[0]) == target, [target_of(h) for h in hits]


@pytest.mark.parametrize(
    ("query", "target"),
    # Words of the series' Japanese themes only: neither its title nor its synopsis has them.
    [
        ("能登半島が舞台の漫画", "series:insomniacs-after-school"),
        ("古代アナトリアが舞台", "series:red-river"),
    ],
)
async def test_japanese_theme_queries_find_the_series(
    services: object, query: str, target: str
) -> None:
    hits = await services.retrieval.search(query, 10, TURN)  # type: ignore[attr-defined]
    assert target in list(dict.fromkeys(target_of(h) for h in hits))[:3]


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("any good mechas?", "series:bokurano-ours"),
        ("something with cyborgs", "series:ghost-in-the-shell"),
        ("ヤクザが出てくる漫画", "series:ichi-the-killer"),
        ("面白いサッカー漫画が読みたい", "series:captain-tsubasa"),
    ],
)
async def test_praise_and_request_words_do_not_pull_up_reviews(services: object, query: str, target: str) -> None:
    hits = await services.retrieval.search(query, 10, TURN)  # type: ignore[attr-defined]
    assert target in [target_of(h) for h in hits[:3]]
    # Reviews use these words about every kind of story: a review near the top must be there for a
    # series the search also finds by its own entry, not for its wording.
    entries = {h.doc.series_id for h in hits if h.doc.doc_type == "series"}
    reviews = [h.doc.series_id for h in hits[:3] if h.doc.doc_type == "reviews"]
    assert set(reviews) <= entries, [h.doc_id for h in hits]


@pytest.mark.parametrize(
    ("query", "author"),
    [("CLAMPの作品を友達の誕生日プレゼントにしたいのですが、何がありますか？", "CLAMP"),
     ("gift ideas for my cousin's birthday present, she collects Rumiko Takahashi", "Rumiko Takahashi")],
)
async def test_a_named_author_outranks_the_words_around_the_name(services: object, query: str, author: str) -> None:
    # "プレゼント" / "gift" score the policy sections on gifts above every series of the author: the
    # named author's series join the reranked head all the same.
    hits = await services.retrieval.search(query, 3, None)  # type: ignore[attr-defined]
    own = {f"series:{s.series_id}" for s in services.catalog.by_author(author)}  # type: ignore[attr-defined]
    assert target_of(hits[0]) in own, [h.doc_id for h in hits]


@pytest.mark.parametrize("query", ["more manga from the creator of Death Note", "デスノートを描いた人の漫画"])
async def test_a_series_named_for_its_author_finds_the_authors_other_works(services: object, query: str) -> None:
    hits = await services.retrieval.search(query, 10, TURN)  # type: ignore[attr-defined]
    top = list(dict.fromkeys(target_of(h) for h in hits))[:3]
    # Death Note's writer and artist made Bakuman together; its artist drew Hikaru no Go.
    assert {"series:bakuman", "series:hikaru-no-go"} <= set(top), top


def test_the_reranker_has_no_review_feature(services: object) -> None:
    reranker = services.retrieval.reranker  # type: ignore[attr-defined]
    # A review answers for its series; its type is no evidence that it answers the question.
    assert reranker is not None and "is_reviews" not in reranker.model.features


@pytest.mark.parametrize("query", ["manga with yokai", "妖怪が出てくる漫画"])
async def test_a_theme_named_in_the_query_lifts_the_series_with_that_theme(services: object, query: str) -> None:
    catalog = services.catalog  # type: ignore[attr-defined]
    retrieval = services.retrieval  # type: ignore[attr-defined]
    themed = {s.series_id for s in catalog.series.values() if "yokai" in s.themes}
    hits = await retrieval.search(query, RERANK_DEPTH, SearchFilters(doc_types=["series"]))
    rows = retrieval.reranker.features(query, hits)
    named = rows[:, list(retrieval.reranker.model.features).index("theme_named")]
    # Fully named for every series with the theme (in either language), not at all for the others.
    assert all((v == 1.0) == (h.series_id in themed) for h, v in zip(hits, named, strict=True))
    assert {h.series_id for h in hits[:5]} <= themed
    assert retrieval.reranker.model.coef[list(retrieval.reranker.model.features).index("theme_named")] > 0


@pytest.mark.parametrize("query", ["a romance with a creature from japanese folklore", "あやかしと人間の恋の話"])
async def test_a_kind_of_story_in_the_shoppers_words_names_the_catalogs_theme_to_the_reranker(
    services: object, query: str
) -> None:
    # The lexical leg searches the catalog's word for it (`STORY_KIND_WORDS`: yokai); the reranker's
    # theme feature must read the same words, or it weighs the yokai stories found as unthemed.
    catalog = services.catalog  # type: ignore[attr-defined]
    retrieval = services.retrieval  # type: ignore[attr-defined]
    themed = {s.series_id for s in catalog.series.values() if "yokai" in s.themes}
    hits = await retrieval.search(query, RERANK_DEPTH, SearchFilters(doc_types=["series"]), rerank=False)
    column = list(retrieval.reranker.model.features).index("theme_named")
    named = retrieval.reranker.features(query, hits)[:, column]
    assert any(h.series_id in themed for h in hits)
    assert all(v == 1.0 for h, v in zip(hits, named, strict=True) if h.series_id in themed)


@pytest.mark.parametrize(
    ("query", "genre"), [("scary stories set in a school", "horror"), ("ゆるく笑える日常系の漫画", "comedy")]
)
async def test_a_plain_word_for_a_kind_of_story_also_searches_the_genre_the_entries_list(
    services: object, query: str, genre: str
) -> None:
    # "scary" is no word of the entries, which say "horror": Prison School and Honey So Sweet (school
    # stories) had come first, and Goodnight Punpun among the light comedies.
    catalog = services.catalog  # type: ignore[attr-defined]
    hits = await services.retrieval.search(query, 10, TURN)  # type: ignore[attr-defined]
    top = list(dict.fromkeys(h.series_id for h in hits))[:3]
    assert len(top) == 3 and all(genre in catalog.series[s].genres for s in top)


async def test_a_word_the_entries_use_for_a_subject_is_searched_as_itself(services: object) -> None:
    # Its genre would widen it: "demons" is a supernatural word, "魔法" a fantasy one, and the whole
    # genre had lifted Devilman over Dead Dead Demons, and Witch Hat Atelier over the magical girls.
    catalog = services.catalog  # type: ignore[attr-defined]
    retrieval = services.retrieval  # type: ignore[attr-defined]
    hits = await retrieval.search("dead dead demons manga", 3, TURN)
    assert hits[0].series_id == "dead-dead-demons-dededede-destruction"
    hits = await retrieval.search("魔法少女もの", 10, TURN)
    top = list(dict.fromkeys(h.series_id for h in hits))[:3]
    assert sum("magical girl" in catalog.series[s].themes for s in top) >= 2


async def test_hits_are_reranked_with_their_leg_scores(services: object) -> None:
    retriever = services.retrieval  # type: ignore[attr-defined]
    assert retriever.reranker is not None
    fused = await retriever.search("spiral-shaped cosmic horror in a small town", 12, TURN, rerank=False)
    reranked = await retriever.search("spiral-shaped cosmic horror in a small town", 12, TURN, rerank=True)
    # Reranking reorders the fused top 10 and nothing else.
    assert {h.doc_id for h in reranked[:RERANK_DEPTH]} == {h.doc_id for h in fused[:RERANK_DEPTH]}
    assert [h.doc_id for h in reranked[RERANK_DEPTH:]] == [h.doc_id for h in fused[RERANK_DEPTH:]]
    assert all({"dense", "lexical", "fused", "rerank"} <= set(h.scores) for h in reranked[:RERANK_DEPTH])
    scores = [h.score for h in reranked]
    assert scores == sorted(scores, reverse=True)


async def test_turn_state_view_is_flat_json(services: object) -> None:
    hit = (await services.retrieval.search("Uzumaki", 1, TURN))[0]  # type: ignore[attr-defined]
    view = hit.state_view()
    assert view["series_id"] == "uzumaki" and view["doc_type"] in ("series", "reviews")
    assert view["score"] == hit.score and "rerank" in view["scores"]


def test_unknown_titles_are_reported(services: object) -> None:
    retriever = services.retrieval  # type: ignore[attr-defined]
    assert "zxqvorp" in retriever.unknown_terms("do you have Zxqvorp Chronicles?")
    assert retriever.unknown_terms("do you have Berserk?") == []
    # A word a story is told with is no title asked for, even in a short request.
    assert retriever.unknown_terms("manga about a shogi prodigy") == []
    assert "frieran" in retriever.unknown_terms("got frieran?")
    # A kind of story in a katakana compound is no title.
    assert retriever.unknown_terms("ゾンビが出てくるパニックホラー") == []
    assert retriever.unknown_terms("ダークファンタジーのおすすめ") == []
    assert retriever.unknown_terms("カグラバチの新刊") == ["カグラバチ"]


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "evals" / "data").glob("retrieval*.jsonl")),
                         ids=lambda p: p.stem)
def test_every_labelled_query_set_names_documents_that_exist(services: object, path: Path) -> None:
    catalog = services.catalog  # type: ignore[attr-defined]
    sections = {":".join(p.doc_id.split(":")[:3]) for p in load_policies(REPO_DATA_DIR)}
    cases = load_cases(path)
    assert len({c.id for c in cases}) == len(cases)
    for case in cases:
        assert case.relevant, case.id
        for target in case.relevant:
            kind, _, key = target.partition(":")
            assert (key in catalog.series) if kind == "series" else (target in sections), (case.id, target)
    # At least 40% Japanese, as the golden set must be.
    assert sum(c.language == "ja" for c in cases) >= 0.4 * len(cases)


async def test_shelf_scores_the_cards_of_real_turns_on_series_cases_only(tmp_path: Path, runner: object) -> None:
    cases = [
        {"id": "s1", "query": "Do you have Vinland Saga?", "language": "en", "category": "title",
         "relevant": ["series:vinland-saga"]},
        {"id": "s2", "query": "ヒーローアカデミアって面白い？", "language": "ja", "category": "partial",
         "relevant": ["series:my-hero-academia"]},
        {"id": "p1", "query": "返品の送料は誰が払うの", "language": "ja", "category": "policy",
         "relevant": ["policy:returns:5"]},
    ]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    # The suite runs its own event loop.
    report = await asyncio.to_thread(run_retrieval_suite, data, False)
    shelf = {r.id: r for r in report.shelf_records}
    assert list(shelf) == ["s1", "s2"] and report.shelf is not None and report.shelf.overall.n == 2
    assert "series:vinland-saga" in shelf["s1"].shelf[:3] and shelf["s1"].recall_at_3 == 1.0
    # Each record is what the same message shows as a turn of its own.
    for case in cases[:2]:
        result = await runner.run(case["query"], session_id=f"check-{case['id']}")  # type: ignore[attr-defined]
        record = shelf[case["id"]]
        assert record.intent == result.intent
        assert record.shelf == list(dict.fromkeys(f"series:{c.series_id}" for c in result.products))
    metrics = report.metrics
    assert metrics["shelf_recall_at_3"] == (shelf["s1"].recall_at_3 + shelf["s2"].recall_at_3) / 2
    assert metrics["shelf_recall_at_3.en"] == shelf["s1"].recall_at_3 == metrics["shelf_recall_at_3.category.title"]
    assert metrics["shelf_recall_at_3.ja"] == shelf["s2"].recall_at_3 == metrics["shelf_recall_at_3.category.partial"]
    assert "shelf_recall_at_3.category.policy" not in metrics and report.cases == 3


async def test_reindex_embeds_only_changed_documents_and_refuses_another_model(tmp_path: Path) -> None:
    from mangaassist.settings import get_settings

    settings = get_settings()
    embedder = get_embedder(settings)
    docs = [d for d in build_documents(settings.store_data_dir) if d.doc_type == "policy"][:4]
    docs += [d for d in build_documents(settings.store_data_dir) if d.doc_type == "volume"][:2]
    backend = EmbeddedBackend(tmp_path / "index")
    first = await run_index(backend, embedder, docs)
    assert (first.newly_embedded, first.reused_vectors) == (4, 0)
    edited = docs[0].model_copy(update={"text": docs[0].text + " Updated.", "content_hash": "changed"})
    second = await run_index(backend, embedder, [edited, *docs[1:]])
    assert (second.newly_embedded, second.reused_vectors) == (1, 3)
    assert second.identity.previous_version == first.identity.version
    forced = await run_index(backend, embedder, docs, rebuild=True)
    assert forced.newly_embedded == 4

    live = backend.live_sync()
    other = EmbeddingIdentity(model_id="someone/else", version="9", dim=embedder.identity.dim)

    class OtherModel(type(embedder)):  # type: ignore[misc]
        def __init__(self) -> None:
            self.identity = other

    with pytest.raises(IndexMismatch, match="rebuild"):
        Retriever(backend=backend, embedder=OtherModel(), reranker=None, identity=live.identity,
                  vocabulary=frozenset())


def test_shipped_vectors_are_in_sync_and_reproducible() -> None:
    """The vector file fresh builds reuse holds every embedded chunk, as the model computes it today."""
    from mangaassist.settings import get_settings

    settings = get_settings()
    embedder = get_embedder(settings)
    seed = load_seed(seed_path(settings.store_data_dir, embedder.identity), embedder.identity)
    embedded = [d for d in build_documents(settings.store_data_dir) if d.embedded]
    missing = [d.doc_id for d in embedded if d.content_hash not in seed]
    assert not missing, f"run `mangaassist index --export-vectors` after editing store data: {missing[:5]}"
    sample = sorted(embedded, key=lambda d: len(d.text))[:2]
    fresh = embedder.embed_documents([embedding_text(d) for d in sample])
    # Not bit for bit: the engine rounds activations to int8 per block, so the last bit of a float
    # that differs between CPUs (measured: two x86-64 machines) can move a value by one step,
    # up to 2e-3 in a vector (cosine 0.99995). Another model or text lands far below this.
    for d, vec in zip(sample, fresh, strict=True):
        assert float(seed[d.content_hash] @ vec) > 0.9999


def test_japanese_series_documents_carry_the_themes_in_japanese() -> None:
    docs = {d.doc_id: d.text for d in build_documents(REPO_DATA_DIR) if d.doc_type == "series"}
    # Neither synopsis names the Shinsengumi as such, nor calls Tomie a collection of stories.
    assert "新選組" in docs["series:kaze-hikaru:ja"] and "短編集" in docs["series:tomie:ja"]
    assert "Shinsengumi" in docs["series:kaze-hikaru:en"] and "新選組" not in docs["series:kaze-hikaru:en"]


def test_long_sections_are_split_at_sentence_ends() -> None:
    text = " ".join(f"Sentence number {i} says something about returns." for i in range(60))
    chunks = split_chunks(text, limit=300)
    assert len(chunks) > 1 and all(len(c) <= 300 for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    assert " ".join(chunks) == text
    ja = "。".join(f"これは返品についての説明文{i}です" for i in range(40)) + "。"
    assert "".join(split_chunks(ja, limit=100)) == ja


def test_search_filters_from_the_command_line() -> None:
    f = parse_filters(["genre=horror", "genre=mystery", "language=ja", "in_stock=true", "doc_type=volume"])
    assert f == SearchFilters(genres=["horror", "mystery"], language="ja", in_stock=True, doc_types=["volume"])
    for bad in (["genre=nope"], ["colour=red"], ["language=fr"], ["in_stock=maybe"], ["genre"], ["language=en", "language=ja"]):
        with pytest.raises(CliError):
            parse_filters(bad)


def test_query_vectors_are_unit_length(services: object) -> None:
    embedder = services.retrieval.embedder  # type: ignore[attr-defined]
    vec = embedder.embed_query("ホラー漫画")
    assert vec.shape == (embedder.identity.dim,) and np.isclose(np.linalg.norm(vec), 1.0, atol=1e-4)


@pytest.mark.parametrize("query", ["Uzumaki", "spiral-shaped cosmic horror in a small town", "返品の送料は誰が払うの"])
async def test_rerank_scores_are_the_model_probability_and_the_tail_stays_below(
    services: object, query: str
) -> None:
    retriever = services.retrieval  # type: ignore[attr-defined]
    reranker = retriever.reranker
    fused = await retriever.search(query, RERANK_DEPTH + 4, TURN, rerank=False)
    assert len(fused) > RERANK_DEPTH
    reranked = reranker.rerank(query, fused)
    head = fused[:RERANK_DEPTH]
    logits = reranker.features(query, head) @ np.array(reranker.model.coef) + reranker.model.intercept
    probs = [round(float(p), 4) for p in 1.0 / (1.0 + np.exp(-logits))]
    order = sorted(range(len(head)), key=lambda i: (-probs[i], i))
    assert [(h.doc_id, h.score, h.scores) for h in reranked[:RERANK_DEPTH]] == [
        (head[i].doc_id, probs[i], {**head[i].scores, "rerank": probs[i]}) for i in order
    ]
    floor = min(probs)
    assert [(h.doc_id, h.score, h.scores, h.doc) for h in reranked[RERANK_DEPTH:]] == [
        (h.doc_id, min(h.score, floor), h.scores, h.doc) for h in fused[RERANK_DEPTH:]
    ]
    # The fused hits themselves are left as they were.
    assert all("rerank" not in h.scores for h in fused)


@pytest.fixture(scope="module")
def generated() -> list[TrainingQuery]:
    return training_queries(Catalog(REPO_DATA_DIR), load_policies(REPO_DATA_DIR))


def test_policy_headings_are_searched_in_the_other_language_too(generated: list[TrainingQuery]) -> None:
    policies = load_policies(REPO_DATA_DIR)
    # Only policy questions are searched in one language: a series is found in either.
    crossed = sorted((q.query, q.targets, q.language) for q in generated if q.language is not None)
    expected = sorted(
        (p.heading, [":".join(p.doc_id.split(":")[:3])], "ja" if p.language == "en" else "en") for p in policies
    )
    assert crossed == expected


def test_japanese_genre_queries_target_every_series_of_both_genres(generated: list[TrainingQuery]) -> None:
    catalog = Catalog(REPO_DATA_DIR)
    by_label = {label: genre for genre, (label, _) in GENRES.items()}
    asked = 0
    for q in generated:
        if not q.query.endswith("漫画") or "の" not in q.query:
            continue
        first, _, second = q.query.removesuffix("漫画").partition("の")
        if first not in by_label or second not in by_label:
            continue
        pair = {by_label[first], by_label[second]}
        assert q.targets == sorted(f"series:{s.series_id}" for s in catalog.series.values() if pair <= set(s.genres))
        asked += 1
    assert asked > len(catalog.series) // 2


def test_training_sample_keeps_every_policy_query(generated: list[TrainingQuery]) -> None:
    sample = training_sample(generated)
    policy = [q for q in generated if q.targets[0].startswith("policy:")]
    assert len(generated) > TRAINING_QUERIES and len(sample) == TRAINING_QUERIES
    assert sample[: len(policy)] == policy
    assert all(q in generated for q in sample)
    assert training_sample(generated) == sample


def _hit(doc_id: str, fused: float, **legs: float) -> SearchHit:
    doc = IndexedDoc(doc_id=doc_id, doc_type="series", language="en", title=doc_id, text="")
    return SearchHit(doc_id=doc_id, score=fused, scores={**legs, "fused": fused}, doc=doc)


def test_each_legs_best_hit_reaches_the_reranked_head() -> None:
    both = [_hit(f"b{i}", 0.03 - i / 1000, lexical=5.0, dense=0.8) for i in range(RERANK_DEPTH + 2)]
    lexical_only = _hit("lex", 0.0164, lexical=27.5)
    dense_only = _hit("dense", 0.0163, dense=0.95)
    hits = [*both, lexical_only, dense_only]
    moved = with_leg_leaders(hits)
    head = moved[:RERANK_DEPTH]
    assert lexical_only in head and dense_only in head
    # The rest keep their fused order, and nothing is lost or repeated.
    assert head[: RERANK_DEPTH - 2] == both[: RERANK_DEPTH - 2]
    assert sorted(h.doc_id for h in moved) == sorted(h.doc_id for h in hits)
    # Leaders already in the head change nothing.
    assert with_leg_leaders([lexical_only, dense_only, *both]) == [lexical_only, dense_only, *both]
