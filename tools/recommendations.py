"""Recommendations: series that fit asked genres, seed titles/authors and the buyer's history."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel, Field

from tools.catalog import Catalog
from tools.rerank import SURE


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
    # The era asked for: the first and last year a series may have begun (either open).
    from_year: int | None = None
    to_year: int | None = None
    purchased_series: list[str] = Field(default_factory=list)
    excluded_series: list[str] = Field(default_factory=list)  # ruled out by the shopper
    limit: int = 5


class Recommendation(BaseModel):
    """One recommended series and why."""

    series_id: str
    score: float
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class _Traits:
    """What scoring reads of a series, as sets built once for the catalog, not once per request."""

    series_id: str
    genres: frozenset[str]
    # As listed: a seed's genre overlap is a share of its listed genres.
    genre_count: int
    first_genre: str  # the records list genres most characteristic first
    themes: frozenset[str]
    authors: frozenset[str]  # the English names a shopper types, and `Series.author_keys`
    demographic: str
    status: str
    volumes: int
    start_year: int
    # Long-running, reviewed series are safer first picks.
    prior: float


@dataclass(frozen=True, slots=True)
class _Plan:
    """One request's side of the scoring, worked out once rather than for every candidate."""

    genres: list[str]
    seeds: list[_Traits]
    seed_authors: list[str]
    similar_to: bool
    # The genres of the seed authors' works, when authors are the only seeds.
    author_genres: frozenset[str] | None
    demographic: str | None
    liked: frozenset[str]


@dataclass(frozen=True, slots=True)
class Ranking:
    """Every eligible series' score for one request (unordered, unrounded).

    Reasons are worked out only for the series picked from it: the ranking holds a few hundred.
    """

    scores: dict[str, float]
    explain: Callable[[str], list[str]]
    # The series only the genres asked for kept out, scored alike: the turn's search may be surer of
    # one of them than the genre words are ("a zombie survival manga": "survival" asks for
    # thrillers, and the one zombie story is a horror).
    besides: dict[str, float] = field(default_factory=dict)

    def recommendations(self, picks: Iterable[tuple[str, float]]) -> list[Recommendation]:
        """`picks` (series and the score to show) as recommendations with their reasons."""
        return [
            Recommendation(series_id=sid, score=score, reasons=self.explain(sid)) for sid, score in picks
        ]


def _best(scored: Iterable[tuple[str, float]], limit: int) -> list[tuple[str, float]]:
    """The `limit` highest scores, best first (ties: lower series id first)."""
    top = heapq.nsmallest(limit, ((-score, sid) for sid, score in scored))
    return [(sid, -negated) for negated, sid in top]


# The weight of a series' first genre being one asked for: more than any prior (at most 0.35).
CHARACTERISTIC = 0.5


class RecommendationsTool:
    """Content-based ranking over the catalog (genres, themes, demographic, authors, history)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._traits = {
            s.series_id: _Traits(
                series_id=s.series_id, genres=frozenset(s.genres), genre_count=len(s.genres),
                first_genre=s.genres[0],
                themes=frozenset(s.themes), authors=frozenset(s.authors) | s.author_keys, demographic=s.demographic,
                status=s.status, volumes=s.volumes, start_year=s.start_year,
                prior=0.05 * math.log1p(s.volumes) + (0.1 if catalog.reviews.get(s.series_id) else 0.0),
            )
            for s in catalog.series.values()
        }

    def _plan(self, req: RecommendationRequest) -> _Plan:
        traits = self._traits
        author_genres = None
        if req.seed_authors and not any(i in traits for i in req.seed_series):
            works = [w for a in req.seed_authors for w in self._catalog.by_author(a)]
            author_genres = frozenset(g for w in works for g in w.genres)
        return _Plan(
            genres=req.genres,
            seeds=[traits[i] for i in req.seed_series if i in traits],
            seed_authors=req.seed_authors,
            similar_to=req.similar_to,
            author_genres=author_genres,
            demographic=req.demographic,
            liked=frozenset(g for i in req.purchased_series if i in traits for g in traits[i].genres),
        )

    @staticmethod
    def _score(s: _Traits, p: _Plan, reasons: list[str] | None = None) -> float:
        """The series' score for the plan; `reasons`, when given, collects why it fits."""
        score = 0.0
        if p.genres:
            hit = [g for g in p.genres if g in s.genres]
            score += 2.0 * len(hit) / len(p.genres)
            # What the series is above all, not one genre among its others: ahead of any prior.
            score += CHARACTERISTIC * (s.first_genre in p.genres)
            if reasons is not None:
                reasons += [f"genre:{g}" for g in hit]
        for seed in p.seeds:
            shared = seed.genres & s.genres
            score += 1.2 * len(shared) / max(seed.genre_count, 1)
            score += 0.4 * len(seed.themes & s.themes)
            if seed.demographic == s.demographic:
                score += 0.3
            if not seed.authors.isdisjoint(s.authors):
                score += 0.6
                if reasons is not None:
                    reasons.append(f"same_author:{seed.series_id}")
            if shared and reasons is not None:
                reasons.append(f"like:{seed.series_id}")
        for author in p.seed_authors:
            if author in s.authors:
                score += 0.0 if p.similar_to else 1.5
                if reasons is not None:
                    reasons.append(f"author:{author}")
        if p.author_genres is not None:
            score += 1.0 * len(p.author_genres & s.genres) / max(len(p.author_genres), 1)
        if p.demographic and p.demographic == s.demographic:
            score += 0.8
            if reasons is not None:
                reasons.append(f"demographic:{s.demographic}")
        if p.liked:
            shared_liked = p.liked & s.genres
            score += 0.5 * len(shared_liked) / len(p.liked)
            if shared_liked and reasons is not None:
                reasons.append("history")
        return score + s.prior

    def _reasons(self, plan: _Plan, series_id: str) -> list[str]:
        reasons: list[str] = []
        self._score(self._traits[series_id], plan, reasons)
        return reasons

    async def rank(self, req: RecommendationRequest) -> Ranking:
        """Every series the request allows, scored; never one of the seeds or already bought."""
        excluded = set(req.seed_series) | set(req.purchased_series) | set(req.excluded_series)
        if req.similar_to:
            # Series like X: X's sequels and spin-offs ("Tokyo Ghoul:re") are more of X, not like it.
            excluded.update(self._catalog.continuations(*req.seed_series))
        # Any other sequel comes after its original: "like Elfen Lied" is Tokyo Ghoul, not Tokyo
        # Ghoul:re, unless the shopper has read or named the original.
        read = set(req.seed_series) | set(req.purchased_series)
        excluded.update(c for c, originals in self._catalog.originals.items() if not originals & read)
        candidates = [t for t in self._traits.values() if t.series_id not in excluded]
        others: list[_Traits] = []
        if req.genres:
            wanted = frozenset(req.genres)
            matching = [t for t in candidates if not wanted.isdisjoint(t.genres)]
            if len(matching) >= min(req.limit, 3):
                others = [t for t in candidates if wanted.isdisjoint(t.genres)]
                candidates = matching
        candidates, others = self._constrained(req, candidates), self._constrained(req, others)
        if req.demographic:
            readers = {t.series_id for t in [*candidates, *others] if self._catalog.series[t.series_id].reads_as(req.demographic)}
            if sum(t.series_id in readers for t in candidates) >= min(req.limit, 3):
                candidates = [t for t in candidates if t.series_id in readers]
                others = [t for t in others if t.series_id in readers]
        plan = self._plan(req)
        return Ranking(
            {t.series_id: self._score(t, plan) for t in candidates}, partial(self._reasons, plan),
            {t.series_id: self._score(t, plan) for t in others},
        )

    @staticmethod
    def _constrained(req: RecommendationRequest, candidates: list[_Traits]) -> list[_Traits]:
        # Status, length and era are hard constraints: a shopper who asks for short, finished or
        # 80s series does not want a long-running, ongoing or recent one, however well it matches.
        if req.status:
            candidates = [t for t in candidates if t.status == req.status]
        if req.max_volumes:
            candidates = [t for t in candidates if t.volumes <= req.max_volumes]
        if req.from_year:
            candidates = [t for t in candidates if t.start_year >= req.from_year]
        if req.to_year:
            candidates = [t for t in candidates if t.start_year <= req.to_year]
        return candidates

    async def recommend(self, req: RecommendationRequest) -> list[Recommendation]:
        """The best `limit` series for the request, never one of the seeds or already bought."""
        ranking = await self.rank(req)
        return ranking.recommendations(
            (sid, round(score, 4)) for sid, score in _best(ranking.scores.items(), req.limit)
        )


# How much a series' match to the shopper's own words (its best search score, relative to the
# turn's top hit) adds to its recommendation score: about as much as a fitting genre and seed, since
# the search also reads what the catalog facts miss ("a quiet story", "with court intrigue"). Raised
# from 0.6: the cards of "like X" queries went 0.623 / 0.444 / 0.380 -> 0.641 / 0.433 / 0.422 on the
# golden set and two held-out sets, all shelves 0.911 / 0.849 / 0.830 -> 0.915 / 0.847 / 0.839.
RETRIEVAL_WEIGHT = 3.0


def blend_retrieval(ranking: Ranking, hits: list[dict[str, Any]], limit: int) -> list[Recommendation]:
    """The best `limit` of the service's ranking once the turn's search hits are added in.

    A series' service score is the one `recommend` would show (rounded to 4 places). Done beside
    the service rather than by it, so its call does not have to wait for the search.
    """
    series_hits = [h for h in hits if h.get("series_id")]
    top = max((h["score"] for h in series_hits), default=0.0) or 1.0
    scores = ranking.scores
    # The search's first series joins the genres' however its genres are filed, when the reranker
    # is sure of it: "in the mood for martial arts, what should I read?" had shown Your Lie in
    # April (0.27).
    first = series_hits[0]["series_id"] if series_hits and series_hits[0]["score"] >= SURE else None
    if first is not None and first in ranking.besides:
        scores = {**scores, first: ranking.besides[first]}
    matched: dict[str, float] = {}
    # A hit's place counts as well as its score: the reranker's scores fall steeply after the
    # first hit (0.98, 0.01, ...), and the second and third hits of "a quiet story about a man
    # raising a child alone" fitted better than the most popular series the ranking held.
    for h in series_hits:
        place = 1.0 / (len(matched) + 1) if h["series_id"] not in matched else 0.0
        matched[h["series_id"]] = max(matched.get(h["series_id"], 0.0), h["score"] / top, place)
    blended = (
        (sid, round(round(score, 4) + RETRIEVAL_WEIGHT * matched.get(sid, 0.0), 4))
        for sid, score in scores.items()
    )
    return ranking.recommendations(_best(blended, limit))
