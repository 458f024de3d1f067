"""Reranking the fused top-10 so the best three go to the prompt.

The default reranker needs no download: a logistic regression over features of each
(query, candidate) pair — title, author and theme named in the query, genre overlap, the dense and
lexical leg scores, the fused rank, language, and whether it is a policy section or volume entry. It
is trained when the index is built (`mangaassist index`), on query/document pairs labelled from a
training split generated from catalog facts (titles, aliases, authors, themes, genres, synopsis
fragments and policy questions).
The retrieval golden set (`evals/data/retrieval.jsonl`) is never trained on.

The weights are stored beside the index with the embedding identity they were trained against: a
reranker trained on another model's dense scores is not used.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from tools.catalog import Catalog
from tools.embeddings import Embedder
from tools.entities import extract_entities
from tools.models import PolicySection
from tools.search_backend import (
    DocType,
    EmbeddingIdentity,
    Language,
    SearchBackend,
    SearchFilters,
    SearchHit,
)
from tools.text import describes_a_story, detect_language, tokenize
from tools.vocab import GENRES, story_kind_expanded

RERANK_DEPTH = 10
# The reranker's probability (calibrated on its training pairs) above which a hit is more likely
# relevant than not.
SURE = 0.5

FEATURES = (
    "inverse_rank", "fused_rel", "dense", "dense_gap", "lexical_rel", "title_named", "author_named",
    "genre_overlap", "theme_named", "same_language", "is_policy", "is_volume",
)
# No feature says "is a review": a review answers for its series, and training queries (catalog facts)
# reach reviews only through their series, so such a weight would reward reviews for a shopper's
# evaluative wording ("a good ...") that the training never shows.


class RerankerModel(BaseModel):
    """Learned weights, tied to the embedding model whose scores they read."""

    embedding: EmbeddingIdentity
    features: list[str]
    coef: list[float]
    intercept: float
    training_pairs: int
    training_queries: int


class TrainingQuery(BaseModel):
    """A generated training query and the targets that answer it."""

    query: str
    targets: list[str]
    # Searched among this language's documents only (all when None).
    language: Language | None = None


def target_of(hit: SearchHit) -> str:
    """What a hit is evidence for: a series (any of its documents) or a policy section (any language)."""
    d = hit.doc
    if d.series_id:
        return f"series:{d.series_id}"
    if d.doc_type == "policy":
        return ":".join(hit.doc_id.split(":")[:3])
    return hit.doc_id


class Reranker:
    """Scores candidates with a trained `RerankerModel`."""

    def __init__(self, model: RerankerModel, catalog: Catalog) -> None:
        if model.features != list(FEATURES):
            raise ValueError("the stored reranker was trained on other features; rebuild the index")
        self.model = model
        self._catalog = catalog
        self._coef = np.array(model.coef, dtype=np.float64)

    def features(self, query: str, hits: Sequence[SearchHit]) -> np.ndarray:
        """One feature row per hit (hits in fused order)."""
        return pair_features(query, hits, self._catalog)

    def rerank(self, query: str, hits: list[SearchHit], limit: int | None = None) -> list[SearchHit]:
        """The first `RERANK_DEPTH` hits reordered by relevance probability; the rest keep their order.

        Only the first `limit` are returned, when given.
        """
        head, tail = hits[:RERANK_DEPTH], hits[RERANK_DEPTH:limit]
        if not head:
            return hits
        logits = self.features(query, head) @ self._coef + self.model.intercept
        probs = 1.0 / (1.0 + np.exp(-logits))
        rescored = []
        for hit, p in zip(head, probs, strict=True):
            scores = dict(hit.scores)
            scores["rerank"] = round(float(p), 4)
            rescored.append(hit.model_copy(update={"score": round(float(p), 4), "scores": scores}))
        order = sorted(range(len(rescored)), key=lambda i: (-rescored[i].score, i))
        floor = min(h.score for h in rescored)
        # Hits below the reranked head stay below it, whatever scale their fused score has.
        # Copied only when lowered: most of a tail already lies below the floor.
        tail = [h if h.score <= floor else h.model_copy(update={"score": floor}) for h in tail]
        return ([rescored[i] for i in order] + tail)[:limit]


def pair_features(query: str, hits: Sequence[SearchHit], catalog: Catalog) -> np.ndarray:
    """The feature matrix of `FEATURES` for `query` against each of `hits`."""
    ents = extract_entities(query, catalog)
    # A kind of story told in a shopper's words names the catalog's theme for it too ("a creature
    # from japanese folklore": yokai), as the lexical leg searches it.
    query_terms = frozenset(tokenize(story_kind_expanded(query)))
    language = detect_language(query)
    named_series = set(ents.series_ids)
    named_authors = set(ents.authors)
    # The genre words of a story told ("... raises children as food for demons") are no kind asked for.
    asked_genres = set() if describes_a_story(query) else set(ents.genres)
    fused_max = max((h.scores.get("fused", h.score) for h in hits), default=1.0) or 1.0
    lex_max = max((h.scores.get("lexical", 0.0) for h in hits), default=0.0) or 1.0
    dense_max = max((h.scores.get("dense", 0.0) for h in hits), default=0.0)
    rows = []
    for rank, h in enumerate(hits):
        d = h.doc
        series = catalog.series.get(d.series_id or "")
        dense = h.scores.get("dense", 0.0)
        rows.append([
            1.0 / (rank + 1),
            h.scores.get("fused", h.score) / fused_max,
            dense,
            dense - dense_max,
            h.scores.get("lexical", 0.0) / lex_max,
            float(bool(d.series_id) and d.series_id in named_series),
            float(series is not None and bool(named_authors & set(series.authors))),
            len(asked_genres & set(d.genres)) / len(asked_genres) if asked_genres else 0.0,
            catalog.theme_named(d.series_id, query_terms) if d.series_id else 0.0,
            float(d.language == language),
            float(d.doc_type == "policy"),
            float(d.doc_type == "volume"),
        ])
    return np.array(rows, dtype=np.float64).reshape(len(hits), len(FEATURES))


def training_queries(catalog: Catalog, policies: Sequence[PolicySection], seed: int = 7) -> list[TrainingQuery]:
    """Labelled training queries generated from catalog facts (never from the golden set)."""
    rng = random.Random(seed)
    out: list[TrainingQuery] = []
    by_author: dict[str, set[str]] = {}
    by_theme: dict[str, set[str]] = {}
    for s in catalog.series.values():
        for a in (*s.authors, *s.authors_ja):
            by_author.setdefault(a, set()).add(s.series_id)
        for t in s.themes:
            by_theme.setdefault(t.lower(), set()).add(s.series_id)
    for s in sorted(catalog.series.values(), key=lambda s: s.series_id):
        target = [f"series:{s.series_id}"]
        out.append(TrainingQuery(query=s.title, targets=target))
        out.append(TrainingQuery(query=s.title_ja, targets=target))
        if s.aliases:
            out.append(TrainingQuery(query=rng.choice(s.aliases), targets=target))
        words = s.synopsis.split()
        if len(words) > 8:
            i = rng.randrange(0, len(words) - 7)
            out.append(TrainingQuery(query=" ".join(words[i : i + 7]), targets=target))
        ja = re.sub(r"[「」、。]", "", s.synopsis_ja)
        if len(ja) > 16:
            i = rng.randrange(0, len(ja) - 14)
            out.append(TrainingQuery(query=ja[i : i + 14], targets=target))
        if len(s.genres) > 1:
            # Japanese shoppers often ask by two genres ("ホラーのミステリー漫画").
            g1, g2 = rng.sample(s.genres, 2)
            both = sorted(f"series:{x.series_id}" for x in catalog.series.values()
                          if {g1, g2} <= set(x.genres))
            out.append(TrainingQuery(query=f"{GENRES[g1][0]}の{GENRES[g2][0]}漫画", targets=both))
        author = rng.choice(s.authors)
        out.append(TrainingQuery(query=f"manga by {author}", targets=sorted(f"series:{x}" for x in by_author[author])))
        author_ja = rng.choice(s.authors_ja)
        out.append(TrainingQuery(query=f"{author_ja}の漫画", targets=sorted(f"series:{x}" for x in by_author[author_ja])))
        theme = rng.choice(s.themes) if s.themes else None
        if theme:
            themed = sorted(f"series:{x}" for x in by_theme[theme.lower()])
            out.append(TrainingQuery(query=f"{rng.choice(s.genres)} manga about {theme.lower()}", targets=themed))
            out.append(TrainingQuery(query=f"{catalog.themes_ja[theme]}がテーマの{GENRES[rng.choice(s.genres)][0]}漫画",
                                     targets=themed))
    for p in policies:
        target = [":".join(p.doc_id.split(":")[:3])]
        out.append(TrainingQuery(query=p.heading, targets=target))
        sentence = re.split(r"(?<=[.。])\s*", p.body)[0]
        out.append(TrainingQuery(query=sentence[:80], targets=target))
        # The heading searched among the other language's sections: a translation is a paraphrase
        # sharing none of the section's words (a shopper's question shares few), so these lists
        # teach when the lexical leg misleads; a heading found by its own words never does.
        other: Language = "ja" if p.language == "en" else "en"
        out.append(TrainingQuery(query=p.heading, targets=target, language=other))
    return out


# Documents a turn's own search reads (`nodes.speculative_retrieve`): the prompt's catalog documents
# and the hits blended into recommendations. A policy question searches the policy sections alone
# (`tools.definitions.policy_sections`), so a section here would only take a series' place.
# Volume entries are for `search --filter doc_type=volume`.
TURN_DOC_TYPES: list[DocType] = ["series", "reviews"]
# The reranker learns on lists that mix series entries, reviews and policy sections, as a search
# with no filter (`mangaassist search`) may, so it also weighs a policy section against series.
TRAINING_DOC_TYPES: list[DocType] = ["series", "reviews", "policy"]
TRAINING_QUERIES = 700


def training_sample(queries: Sequence[TrainingQuery]) -> list[TrainingQuery]:
    """Every policy query, then a seeded sample of the others up to `TRAINING_QUERIES` in all."""
    # Sampled with the rest, the few policy lists (and so the policy weights) would be left to chance.
    policy = [q for q in queries if q.targets[0].startswith("policy:")]
    rest = [q for q in queries if not q.targets[0].startswith("policy:")]
    room = max(0, min(TRAINING_QUERIES - len(policy), len(rest)))
    return policy + random.Random(11).sample(rest, room)


async def train(
    backend: SearchBackend, embedder: Embedder, catalog: Catalog, policies: Sequence[PolicySection]
) -> RerankerModel:
    """Search every training query on the live index and fit the reranker on its top-10 pairs."""
    queries = training_sample(training_queries(catalog, policies))
    vectors = await asyncio.to_thread(embedder.embed_queries, [q.query for q in queries])
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for q, vec in zip(queries, vectors, strict=True):
        searched = SearchFilters(doc_types=TRAINING_DOC_TYPES, language=q.language)
        hits = await backend.search(q.query, vec, RERANK_DEPTH, searched)
        y = np.array([target_of(h) in q.targets for h in hits], dtype=np.int8)
        # A list with no relevant candidate, or nothing else, teaches nothing about ordering.
        if 0 < y.sum() < len(y):
            rows.append(pair_features(q.query, hits, catalog))
            labels.append(y)
    return fit(rows, labels, embedder.identity, len(rows))


def fit(
    rows: list[np.ndarray], labels: list[np.ndarray], embedding: EmbeddingIdentity, queries: int
) -> RerankerModel:
    """Logistic regression on the stacked pair features."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack(rows)
    y = np.concatenate(labels)
    clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
    clf.fit(x, y)
    return RerankerModel(
        embedding=embedding, features=list(FEATURES), coef=[round(float(c), 6) for c in clf.coef_[0]],
        intercept=round(float(clf.intercept_[0]), 6), training_pairs=len(y), training_queries=queries,
    )


def save(model: RerankerModel, path: Path) -> None:
    """Write the model atomically."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(model.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)


def load(path: Path) -> RerankerModel | None:
    """The stored model, or None when there is none."""
    if not path.is_file():
        return None
    return RerankerModel.model_validate(json.loads(path.read_text(encoding="utf-8")))
