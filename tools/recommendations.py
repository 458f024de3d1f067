"""Recommendations: series that fit asked genres, seed titles/authors and the buyer's history."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from tools.catalog import Catalog
from tools.models import Series


class RecommendationRequest(BaseModel):
    """What the shopper asked for, as entities."""

    genres: list[str] = Field(default_factory=list)
    seed_series: list[str] = Field(default_factory=list)
    seed_authors: list[str] = Field(default_factory=list)
    # "like X" rather than "by X": an author's own works earn no extra weight over similar series.
    similar_to: bool = False
    demographic: str | None = None
    status: str | None = None
    max_volumes: int | None = None
    purchased_series: list[str] = Field(default_factory=list)
    limit: int = 5


class Recommendation(BaseModel):
    """One recommended series and why."""

    series_id: str
    score: float
    reasons: list[str]


class RecommendationsTool:
    """Content-based ranking over the catalog (genres, themes, demographic, authors, history)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def _score(self, s: Series, req: RecommendationRequest, seeds: list[Series], history: list[Series]) -> tuple[float, list[str]]:
        reasons: list[str] = []
        score = 0.0
        if req.genres:
            hit = [g for g in req.genres if g in s.genres]
            score += 2.0 * len(hit) / len(req.genres)
            reasons += [f"genre:{g}" for g in hit]
        for seed in seeds:
            shared = set(seed.genres) & set(s.genres)
            score += 1.2 * len(shared) / max(len(seed.genres), 1)
            themes = set(seed.themes) & set(s.themes)
            score += 0.4 * len(themes)
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
            author_genres = {g for a in req.seed_authors for w in self._catalog.by_author(a) for g in w.genres}
            shared = author_genres & set(s.genres)
            score += 1.0 * len(shared) / max(len(author_genres), 1)
        if req.demographic and req.demographic == s.demographic:
            score += 0.8
            reasons.append(f"demographic:{s.demographic}")
        if history:
            liked = {g for h in history for g in h.genres}
            score += 0.5 * len(liked & set(s.genres)) / max(len(liked), 1)
            if liked & set(s.genres):
                reasons.append("history")
        # Long-running, reviewed series are safer first picks.
        score += 0.05 * math.log1p(s.volumes) + (0.1 if self._catalog.reviews.get(s.series_id) else 0.0)
        return score, reasons

    async def recommend(self, req: RecommendationRequest) -> list[Recommendation]:
        """The best `limit` series for the request, never one of the seeds or already bought."""
        cat = self._catalog
        seeds = [cat.series[i] for i in req.seed_series if i in cat.series]
        history = [cat.series[i] for i in req.purchased_series if i in cat.series]
        excluded = set(req.seed_series) | set(req.purchased_series)
        candidates = [s for s in cat.series.values() if s.series_id not in excluded]
        if req.genres:
            matching = [s for s in candidates if set(req.genres) & set(s.genres)]
            if len(matching) >= min(req.limit, 3):
                candidates = matching
        # Status and length are hard constraints: a shopper who asks for short or finished
        # series does not want a long-running one, however well it matches otherwise.
        if req.status:
            candidates = [s for s in candidates if s.status == req.status]
        if req.max_volumes:
            candidates = [s for s in candidates if s.volumes <= req.max_volumes]
        if req.demographic:
            matching = [s for s in candidates if s.demographic == req.demographic]
            if len(matching) >= min(req.limit, 3):
                candidates = matching
        scored = [(self._score(s, req, seeds, history), s.series_id) for s in candidates]
        scored.sort(key=lambda item: (-item[0][0], item[1]))
        return [
            Recommendation(series_id=sid, score=round(sc, 4), reasons=reasons)
            for (sc, reasons), sid in scored[: req.limit]
        ]


# How much a series' match to the shopper's own words (its best search score, relative to the
# turn's top hit) adds to its recommendation score.
RETRIEVAL_WEIGHT = 0.6


def blend_retrieval(
    picks: list[Recommendation], hits: list[dict[str, Any]], limit: int
) -> list[Recommendation]:
    """The best `limit` of the service's `picks` once the turn's search hits are added in.

    Done beside the service rather than by it, so its call does not have to wait for the search.
    """
    series_hits = [h for h in hits if h.get("series_id")]
    top = max((h["score"] for h in series_hits), default=0.0) or 1.0
    matched: dict[str, float] = {}
    for h in series_hits:
        matched[h["series_id"]] = max(matched.get(h["series_id"], 0.0), h["score"] / top)
    blended = [
        r.model_copy(update={"score": round(r.score + RETRIEVAL_WEIGHT * matched.get(r.series_id, 0.0), 4)})
        for r in picks
    ]
    blended.sort(key=lambda r: (-r.score, r.series_id))
    return blended[:limit]
