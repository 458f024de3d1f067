"""The recommendation service's ranking, and the search hits blended in beside it."""

from __future__ import annotations

from typing import Any

from tools.recommendations import RETRIEVAL_WEIGHT, Recommendation, RecommendationRequest, blend_retrieval


def _pick(series_id: str, score: float) -> Recommendation:
    return Recommendation(series_id=series_id, score=score, reasons=[])


def test_hits_re_rank_the_candidates_by_how_well_they_matched_the_words():
    picks = [_pick("a", 2.0), _pick("b", 1.8), _pick("c", 1.0)]
    # "b" is the top series hit (relative score 1): +0.6 lifts it above "a"; "c" gets half of
    # that. A better-scoring policy document is no series and sets no scale.
    hits: list[dict[str, Any]] = [
        {"series_id": "b", "score": 0.04}, {"series_id": "c", "score": 0.02}, {"series_id": None, "score": 0.09}
    ]
    blended = blend_retrieval(picks, hits, 2)
    assert [r.series_id for r in blended] == ["b", "a"]
    assert blended[0].score == round(1.8 + RETRIEVAL_WEIGHT, 4)


def test_without_hits_the_service_order_stands_and_the_limit_applies():
    picks = [_pick("a", 2.0), _pick("b", 1.8), _pick("c", 1.0)]
    assert [r.series_id for r in blend_retrieval(picks, [], 2)] == ["a", "b"]


async def test_the_service_never_recommends_a_seed_or_something_bought(services):
    seed = next(iter(services.catalog.series))
    bought = list(services.catalog.series)[1]
    picks = await services.recommendations.recommend(
        RecommendationRequest(seed_series=[seed], purchased_series=[bought], limit=10)
    )
    assert len(picks) == 10 and not {seed, bought} & {r.series_id for r in picks}


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
