"""The recommendation service's ranking, and the search hits blended in beside it."""

from __future__ import annotations

import math
import random
from typing import Any

from tools.catalog import Catalog
from tools.models import Series
from tools.recommendations import (
    RETRIEVAL_WEIGHT,
    Ranking,
    Recommendation,
    RecommendationRequest,
    RecommendationsTool,
    blend_retrieval,
)


def _ranking(scores: dict[str, float]) -> Ranking:
    return Ranking(scores=scores, explain=lambda sid: [f"why:{sid}"])


def test_hits_re_rank_the_candidates_by_how_well_they_matched_the_words():
    picks = _ranking({"a": 2.0, "b": 1.8, "c": 0.1})
    # "b" is the top series hit (relative score 1): the weight lifts it above "a"; "c" gets half
    # of it, not enough. A better-scoring policy document is no series and sets no scale.
    hits: list[dict[str, Any]] = [
        {"series_id": "b", "score": 0.04}, {"series_id": "c", "score": 0.02}, {"series_id": None, "score": 0.09}
    ]
    blended = blend_retrieval(picks, hits, 2)
    assert [r.series_id for r in blended] == ["b", "a"]
    assert blended[0].score == round(1.8 + RETRIEVAL_WEIGHT, 4)
    # Reasons are asked for the picks only.
    assert blended[0].reasons == ["why:b"]


def test_without_hits_the_service_order_stands_and_the_limit_applies():
    picks = _ranking({"c": 1.0, "a": 2.0, "b": 1.8})
    assert [r.series_id for r in blend_retrieval(picks, [], 2)] == ["a", "b"]


def test_blending_shows_and_orders_by_the_service_score_rounded_as_recommend_shows_it():
    # 1.00004 and 1.00002 both show as 1.0: the tie goes to the lower id, as in a ranking of
    # shown scores, although "b" scored higher before rounding.
    picks = _ranking({"b": 1.00004, "a": 1.00002})
    assert [(r.series_id, r.score) for r in blend_retrieval(picks, [], 2)] == [("a", 1.0), ("b", 1.0)]


async def test_the_service_never_recommends_a_seed_or_something_bought(services):
    seed = next(iter(services.catalog.series))
    bought = list(services.catalog.series)[1]
    picks = await services.recommendations.recommend(
        RecommendationRequest(seed_series=[seed], purchased_series=[bought], limit=10)
    )
    assert len(picks) == 10 and not {seed, bought} & {r.series_id for r in picks}


async def test_a_sequel_is_recommended_only_to_readers_of_its_original(services):
    assert services.catalog.originals["tokyo-ghoul-re"] == {"tokyo-ghoul"}
    horror = RecommendationRequest(genres=["horror"], limit=400)
    ranked = {r.series_id for r in await services.recommendations.recommend(horror)}
    assert "tokyo-ghoul" in ranked and "tokyo-ghoul-re" not in ranked
    for read in ({"seed_series": ["tokyo-ghoul"]}, {"purchased_series": ["tokyo-ghoul"]}):
        picks = await services.recommendations.recommend(horror.model_copy(update=read))
        assert "tokyo-ghoul-re" in {r.series_id for r in picks}


async def test_like_an_author_finds_other_authors_while_by_an_author_finds_their_works(services):
    ito = [s.series_id for s in services.catalog.by_author("Junji Ito")]
    assert len(ito) >= 3
    by = await services.recommendations.recommend(RecommendationRequest(seed_authors=["Junji Ito"], limit=3))
    assert {r.series_id for r in by} <= set(ito)
    like = await services.recommendations.recommend(
        RecommendationRequest(seed_authors=["Junji Ito"], similar_to=True, limit=3)
    )
    # No extra weight for the author's own works: other authors' series lead.
    assert like[0].series_id not in ito and len({r.series_id for r in like} - set(ito)) >= 2
    # Similar by what the author writes: every pick shares a genre with the author's series.
    ito_genres = {g for sid in ito for g in services.catalog.series[sid].genres}
    assert all(set(services.catalog.series[r.series_id].genres) & ito_genres for r in like)


def _reference_score(
    catalog: Catalog, s: Series, req: RecommendationRequest, seeds: list[Series], history: list[Series]
) -> tuple[float, list[str]]:
    """The scoring rules applied to one series, spelt out plainly."""
    reasons: list[str] = []
    score = 0.0
    if req.genres:
        hit = [g for g in req.genres if g in s.genres]
        score += 2.0 * len(hit) / len(req.genres)
        score += 0.5 if s.genres[0] in req.genres else 0.0  # what the series is above all
        reasons += [f"genre:{g}" for g in hit]
    for seed in seeds:
        shared = set(seed.genres) & set(s.genres)
        score += 1.2 * len(shared) / max(len(seed.genres), 1)
        score += 0.4 * len(set(seed.themes) & set(s.themes))
        if seed.demographic == s.demographic:
            score += 0.3
        if set(seed.authors) & set(s.authors):
            score += 0.6
            reasons.append(f"same_author:{seed.series_id}")
        if shared:
            reasons.append(f"like:{seed.series_id}")
    for author in req.seed_authors:
        if author in s.authors:
            score += 0.0 if req.similar_to else 1.5
            reasons.append(f"author:{author}")
    if req.seed_authors and not seeds:
        author_genres = {g for a in req.seed_authors for w in catalog.by_author(a) for g in w.genres}
        score += 1.0 * len(author_genres & set(s.genres)) / max(len(author_genres), 1)
    if req.demographic and req.demographic == s.demographic:
        score += 0.8
        reasons.append(f"demographic:{s.demographic}")
    if history:
        liked = {g for h in history for g in h.genres}
        score += 0.5 * len(liked & set(s.genres)) / max(len(liked), 1)
        if liked & set(s.genres):
            reasons.append("history")
    score += 0.05 * math.log1p(s.volumes) + (0.1 if catalog.reviews.get(s.series_id) else 0.0)
    return score, reasons


def _reference_ranking(catalog: Catalog, req: RecommendationRequest, *, besides: bool = False) -> list[Recommendation]:
    """Every eligible series scored with its reasons, best first: the straightforward way. With
    `besides`, the series only the genres asked for kept out instead."""
    seeds = [catalog.series[i] for i in req.seed_series if i in catalog.series]
    history = [catalog.series[i] for i in req.purchased_series if i in catalog.series]
    excluded = set(req.seed_series) | set(req.purchased_series)
    # A sequel only for readers of its original, and never as like its original.
    excluded |= {c for c, originals in catalog.originals.items() if not originals & excluded}
    if req.similar_to:
        excluded |= set(catalog.continuations(*req.seed_series))
    eligible = [
        s for s in catalog.series.values()
        if s.series_id not in excluded and req.status in (None, s.status)
        and (not req.max_volumes or s.volumes <= req.max_volumes)
        and (req.from_year or 0) <= s.start_year <= (req.to_year or 9999)
    ]
    of_genres = [s for s in catalog.series.values() if set(req.genres) & set(s.genres) and s.series_id not in excluded]
    narrowed = bool(req.genres) and len(of_genres) >= min(req.limit, 3)
    candidates = [s for s in eligible if not narrowed or set(req.genres) & set(s.genres)]
    others = [s for s in eligible if narrowed and not set(req.genres) & set(s.genres)]
    if req.demographic and sum(s.reads_as(req.demographic) for s in candidates) >= min(req.limit, 3):
        candidates = [s for s in candidates if s.reads_as(req.demographic)]
        others = [s for s in others if s.reads_as(req.demographic)]
    if besides:
        candidates = others
    scored = sorted(
        ((_reference_score(catalog, s, req, seeds, history), s.series_id) for s in candidates),
        key=lambda item: (-item[0][0], item[1]),
    )
    return [Recommendation(series_id=sid, score=round(sc, 4), reasons=why) for (sc, why), sid in scored]


def _reference_blend(
    ranking: list[Recommendation], besides: list[Recommendation], hits: list[dict[str, Any]], limit: int
) -> list[Recommendation]:
    series_hits = [h for h in hits if h.get("series_id")]
    # The search's first series joins, whatever its genres, if the reranker is sure of it.
    first = series_hits[0] if series_hits and series_hits[0]["score"] >= 0.5 else None
    ranking = ranking + [r for r in besides if first and r.series_id == first["series_id"]]
    top = max((h["score"] for h in series_hits), default=0.0) or 1.0
    matched: dict[str, float] = {}
    # A series' place among the hits (its first) counts at least its reciprocal rank.
    places = list(dict.fromkeys(h["series_id"] for h in series_hits))
    for h in series_hits:
        sid = h["series_id"]
        matched[sid] = max(matched.get(sid, 0.0), h["score"] / top, 1.0 / (places.index(sid) + 1))
    blended = [
        r.model_copy(update={"score": round(r.score + RETRIEVAL_WEIGHT * matched.get(r.series_id, 0.0), 4)})
        for r in ranking
    ]
    blended.sort(key=lambda r: (-r.score, r.series_id))
    return blended[:limit]


def _requests(catalog: Catalog, n: int) -> list[RecommendationRequest]:
    rng = random.Random(20261123)
    ids = sorted(catalog.series)
    genres = sorted({g for s in catalog.series.values() for g in s.genres})
    authors = sorted({a for s in catalog.series.values() for a in s.authors})
    # Authors with several works make the "by"/"like" author rules bite, and a seed sharing an
    # author with other series makes the same-author rule bite.
    prolific = sorted(a for a in authors if len(catalog.by_author(a)) >= 2)
    out = []
    for _ in range(n):
        out.append(RecommendationRequest(
            genres=rng.sample(genres, rng.choice([0, 0, 1, 1, 2, 3])),
            seed_series=rng.sample(ids, rng.choice([0, 0, 1, 2])) + rng.choice([[], [], ["no-such-series"]]),
            seed_authors=rng.sample(rng.choice([authors, prolific]), rng.choice([0, 0, 1, 2])),
            similar_to=rng.random() < 0.4,
            demographic=rng.choice([None, None, "shonen", "shojo", "seinen", "josei", "kodomo"]),
            status=rng.choice([None, None, "ongoing", "completed", "hiatus"]),
            max_volumes=rng.choice([None, None, 3, 10, 25]),
            from_year=rng.choice([None, None, 1980, 2000]),
            to_year=rng.choice([None, None, 1999, 2010]),
            purchased_series=rng.sample(ids, rng.choice([0, 0, 1, 4, 12])),
            limit=rng.choice([1, 2, 3, 5, 10, len(ids)]),
        ))
    return out


def _hits(catalog: Catalog, rng: random.Random) -> list[dict[str, Any]]:
    ids = sorted(catalog.series)
    return [
        {"series_id": rng.choice([*ids[:40], None]), "score": round(rng.uniform(0.01, 1.0), 4)}
        for _ in range(rng.choice([0, 3, 10]))
    ]


async def test_the_ranking_matches_scoring_every_candidate_with_its_reasons(services):
    """`recommend` and the node's ranking + blend pick exactly what scoring every series does."""
    catalog = services.catalog
    tool = RecommendationsTool(catalog)
    rng = random.Random(7)
    requests = _requests(catalog, 300)
    for req in requests:
        reference = _reference_ranking(catalog, req)
        assert await tool.recommend(req) == reference[: req.limit], req
        hits = _hits(catalog, rng)
        limit = rng.choice([1, 5, 8])
        blended = blend_retrieval(await tool.rank(req), hits, limit)
        assert blended == _reference_blend(reference, _reference_ranking(catalog, req, besides=True), hits, limit), req
    # The requests reach every rule: picks for seeds, authors, demographics, genres and histories.
    shown = [r for req in requests for r in _reference_ranking(catalog, req)[:10]]
    reasons = {why.split(":")[0] for r in shown for why in r.reasons}
    assert reasons == {"genre", "like", "same_author", "author", "demographic", "history"}


def test_a_hit_counts_by_its_place_when_the_scores_fall_steeply():
    # The reranker's scores fall from the first hit to the second by two orders of magnitude; the
    # second hit still fits the shopper's words better than a long series that only is popular.
    ranking = Ranking({"long-popular": 0.35, "quiet-fit": 0.12, "first-fit": 0.1}, lambda sid: [])
    hits = [{"series_id": "first-fit", "score": 0.98}, {"series_id": "quiet-fit", "score": 0.01}]
    picks = [r.series_id for r in blend_retrieval(ranking, hits, 3)]
    assert picks == ["first-fit", "quiet-fit", "long-popular"]


async def test_the_searchs_first_series_is_shown_whatever_its_genres(services):
    # 「ラスアスみたいなゾンビもののサバイバル漫画」: "survival" asks for thrillers, and the one zombie story
    # the search finds first is filed as horror.
    tool = RecommendationsTool(services.catalog)
    assert "thriller" not in services.catalog.series["i-am-a-hero"].genres
    ranking = await tool.rank(RecommendationRequest(genres=["thriller"], limit=5))
    assert "i-am-a-hero" not in ranking.scores and "i-am-a-hero" in ranking.besides
    hits = [{"series_id": "i-am-a-hero", "score": 0.9}, {"series_id": "monster", "score": 0.5}]
    assert "i-am-a-hero" in [r.series_id for r in blend_retrieval(ranking, hits, 3)]
    # Only the first: a later hit of another genre stays out.
    hits = [{"series_id": "monster", "score": 0.9}, {"series_id": "i-am-a-hero", "score": 0.5}]
    assert "i-am-a-hero" not in [r.series_id for r in blend_retrieval(ranking, hits, 5)]
    # And only when the reranker is sure of it (a probability of 0.5 or more).
    hits = [{"series_id": "i-am-a-hero", "score": 0.27}, {"series_id": "monster", "score": 0.2}]
    assert "i-am-a-hero" not in [r.series_id for r in blend_retrieval(ranking, hits, 5)]
