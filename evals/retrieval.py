"""The retrieval suite: the golden queries through the live index, scored per language.

Each case names the series (`series:<id>`) or policy sections (`policy:<topic>:<n>`) that answer
it. A retrieved document counts for its target: any document of a series (either language,
profile or reviews) stands for the series, and a policy section in either language for the
section. The ranking is deduplicated by target before scoring.

- recall@k: relevant targets in the top k over min(k, number relevant), so a query with eight
  right answers is not capped at 3/8 by a three-slot list;
- MRR: reciprocal rank of the first relevant target within the top 10;
- NDCG@10: binary gains.

Queries search what a turn searches (series, reviews and policies), with and without reranking
("like X" queries are ordered by likeness to X in both modes: `tools.similar`).
Latency is measured per query, from query text to ranked hits, the query embedding included.

The shelf is what a shopper sees instead: every case whose answers are all series runs as a real
turn (intent routing, the turn's tools, its product cards), each in a fresh session, and the
distinct series of the cards, in order, are scored by recall@3 like a ranking.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from pathlib import Path
from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from evals.stats import percentile
from mangaassist.settings import Settings, get_settings
from tools.jsonl import DataError
from tools.rerank import TURN_DOC_TYPES, target_of
from tools.search_backend import IndexIdentity, SearchFilters

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "retrieval.jsonl"
LANGUAGES = ("en", "ja")
DEPTH = 10
# Hits fetched per query before deduplicating to DEPTH targets (a series has up to four documents).
FETCH = 30
SERIES = "series:"
POLICY = "policy:"


class RetrievalCase(BaseModel):
    """One golden query."""

    id: str
    query: str = Field(min_length=1)
    language: Literal["en", "ja"]
    category: str
    relevant: list[str] = Field(min_length=1)


class CaseResult(BaseModel):
    """How one query ranked, in one mode."""

    id: str
    mode: Literal["reranked", "fused"]
    language: str
    category: str
    query: str
    relevant: list[str]
    ranked: list[str]
    recall_at_3: float
    recall_at_10: float
    reciprocal_rank: float
    ndcg_at_10: float
    latency_ms: float
    cpu_ms: float


class Scores(BaseModel):
    """Mean figures over a set of cases."""

    n: int
    recall_at_3: float
    recall_at_10: float
    mrr: float
    ndcg_at_10: float


class ModeReport(BaseModel):
    """Figures of one mode (reranked, or fused order only)."""

    overall: Scores
    by_language: dict[str, Scores]
    by_category: dict[str, Scores]
    p50_ms: float
    p95_ms: float
    # Process CPU time per query: on a shared host wall time includes waiting for a core.
    cpu_p50_ms: float
    cpu_p95_ms: float


class ShelfResult(BaseModel):
    """What one series query's turn showed."""

    id: str
    language: str
    category: str
    query: str
    relevant: list[str]
    # None when the runner refused the text (empty or too long) and no turn ran.
    intent: str | None
    shelf: list[str]
    recall_at_3: float


class ShelfScores(BaseModel):
    """Mean shelf recall@3 over a set of cases."""

    n: int
    recall_at_3: float


class ShelfReport(BaseModel):
    """Shelf figures of the series cases."""

    overall: ShelfScores
    by_language: dict[str, ShelfScores]
    by_category: dict[str, ShelfScores]


class RetrievalReport(BaseModel):
    """The suite's result; `metrics` holds the gateable figures (`recall_at_3`, `recall_at_3.ja`, …)."""

    data: str
    cases: int
    index: IndexIdentity
    index_build_seconds: float
    modes: dict[str, ModeReport]
    # None when no case is answered by series alone.
    shelf: ShelfReport | None
    metrics: dict[str, float]
    records: list[CaseResult]
    shelf_records: list[ShelfResult]


def load_cases(path: Path) -> list[RetrievalCase]:
    """Cases of a golden JSONL file (one object a line)."""
    cases = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cases.append(RetrievalCase.model_validate_json(line))
        except ValidationError as exc:
            raise DataError(f"{path.name} line {n}: {exc.errors()[0]['msg']}") from exc
    if not cases:
        raise DataError(f"{path.name} has no cases")
    return cases


def score_ranking(ranked: list[str], relevant: list[str]) -> tuple[float, float, float, float]:
    """recall@3, recall@10, reciprocal rank and NDCG@10 of one deduplicated ranking."""
    rel = set(relevant)

    def recall(k: int) -> float:
        return len(rel & set(ranked[:k])) / min(k, len(rel))

    rr = next((1.0 / i for i, t in enumerate(ranked[:DEPTH], 1) if t in rel), 0.0)
    dcg = sum(1.0 / math.log2(i + 1) for i, t in enumerate(ranked[:DEPTH], 1) if t in rel)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(DEPTH, len(rel)) + 1))
    return recall(3), recall(DEPTH), rr, dcg / ideal


def _mean(results: list[CaseResult]) -> Scores:
    n = len(results)

    def avg(values: list[float]) -> float:
        return round(sum(values) / n, 4) if n else 0.0

    return Scores(
        n=n, recall_at_3=avg([r.recall_at_3 for r in results]), recall_at_10=avg([r.recall_at_10 for r in results]),
        mrr=avg([r.reciprocal_rank for r in results]), ndcg_at_10=avg([r.ndcg_at_10 for r in results]),
    )


# A case result of either kind, and what a mean of them gives.
R = TypeVar("R", CaseResult, ShelfResult)
S = TypeVar("S")


def _grouped(results: list[R], mean: Callable[[list[R]], S]) -> tuple[S, dict[str, S], dict[str, S]]:
    """`mean` of the results overall, per language and per category."""
    categories = sorted({r.category for r in results})
    return (
        mean(results),
        {lang: mean([r for r in results if r.language == lang]) for lang in LANGUAGES},
        {c: mean([r for r in results if r.category == c]) for c in categories},
    )


def summarise(results: list[CaseResult]) -> ModeReport:
    """Figures of one mode's case results."""
    overall, by_language, by_category = _grouped(results, _mean)
    latencies = [r.latency_ms for r in results]
    cpu = [r.cpu_ms for r in results]
    return ModeReport(
        overall=overall, by_language=by_language, by_category=by_category,
        p50_ms=round(percentile(latencies, 50), 2), p95_ms=round(percentile(latencies, 95), 2),
        cpu_p50_ms=round(percentile(cpu, 50), 2), cpu_p95_ms=round(percentile(cpu, 95), 2),
    )


async def _run_mode(retriever: object, cases: list[RetrievalCase], rerank: bool) -> list[CaseResult]:
    from tools.retrieval import Retriever

    assert isinstance(retriever, Retriever)
    # Each mode embeds its queries afresh: a warm cache would flatter the second mode's latency.
    retriever.clear_query_cache()
    filters = SearchFilters(doc_types=TURN_DOC_TYPES)
    out = []
    for case in cases:
        # A policy question's turn searches the policy sections in its own language
        # (`tools.definitions.policy_sections`); everything else searches what the turn's search does.
        searched = (
            SearchFilters(doc_types=["policy"], language=case.language)  # type: ignore[arg-type]
            if all(r.startswith(POLICY) for r in case.relevant) else filters
        )
        start, cpu_start = time.perf_counter(), time.process_time()
        hits = await retriever.search(case.query, FETCH, searched, rerank=rerank)
        elapsed = (time.perf_counter() - start) * 1000
        cpu = (time.process_time() - cpu_start) * 1000
        ranked = list(dict.fromkeys(target_of(h) for h in hits))[:DEPTH]
        r3, r10, rr, ndcg = score_ranking(ranked, case.relevant)
        out.append(CaseResult(
            id=case.id, mode="reranked" if rerank else "fused", language=case.language, category=case.category,
            query=case.query, relevant=case.relevant, ranked=ranked, recall_at_3=r3, recall_at_10=r10,
            reciprocal_rank=rr, ndcg_at_10=round(ndcg, 4), latency_ms=round(elapsed, 3), cpu_ms=round(cpu, 3),
        ))
    return out


def _shelf_mean(results: list[ShelfResult]) -> ShelfScores:
    n = len(results)
    return ShelfScores(n=n, recall_at_3=round(sum(r.recall_at_3 for r in results) / n, 4) if n else 0.0)


def summarise_shelf(results: list[ShelfResult]) -> ShelfReport:
    """Shelf figures overall, per language and per category."""
    overall, by_language, by_category = _grouped(results, _shelf_mean)
    return ShelfReport(overall=overall, by_language=by_language, by_category=by_category)


async def _run_shelf(cases: list[RetrievalCase], settings: Settings) -> list[ShelfResult]:
    from graph.runner import InputRejected, TurnRunner

    out = []
    # A throwaway checkpointer and sessions table, as the conversation suites use.
    with tempfile.TemporaryDirectory(prefix="mangaassist-eval-") as tmp:
        async with TurnRunner(settings.model_copy(update={"data_dir": Path(tmp)})) as runner:
            for case in cases:
                try:
                    result = await runner.run(case.query, session_id=f"shelf-{case.id}")
                except InputRejected:
                    intent: str | None = None
                    shelf: list[str] = []
                else:
                    intent = result.intent
                    shelf = list(dict.fromkeys(SERIES + card.series_id for card in result.products))
                out.append(ShelfResult(
                    id=case.id, language=case.language, category=case.category, query=case.query,
                    relevant=case.relevant, intent=intent, shelf=shelf,
                    recall_at_3=score_ranking(shelf, case.relevant)[0],
                ))
    return out


def run_retrieval_suite(
    data_path: Path | None = None, rerank: bool | None = None, settings: Settings | None = None
) -> RetrievalReport:
    """Run the golden set; `rerank=None` runs both modes (the reranked one feeds `metrics`)."""
    from tools.catalog import Catalog
    from tools.retrieval import open_retriever

    settings = settings or get_settings()
    path = data_path or DEFAULT_DATA
    cases = load_cases(path)
    retriever = open_retriever(settings, Catalog(settings.store_data_dir))
    modes = [True, False] if rerank is None else [rerank]
    if True in modes and retriever.reranker is None:
        raise DataError("the index has no trained reranker: run `mangaassist index`")

    shelf_cases = [c for c in cases if all(r.startswith(SERIES) for r in c.relevant)]

    async def run_all() -> tuple[dict[bool, list[CaseResult]], list[ShelfResult]]:
        await retriever.search("warm-up", 1)  # loads the index and the model outside the timings
        ranked = {mode: await _run_mode(retriever, cases, mode) for mode in modes}
        return ranked, await _run_shelf(shelf_cases, settings)

    results, shelf_results = asyncio.run(run_all())
    assert retriever.identity is not None
    reports = {("reranked" if mode else "fused"): summarise(r) for mode, r in results.items()}
    main_mode = "reranked" if True in modes else "fused"
    main = reports[main_mode]
    metrics: dict[str, float] = {
        "recall_at_3": main.overall.recall_at_3, "recall_at_10": main.overall.recall_at_10,
        "mrr": main.overall.mrr, "ndcg_at_10": main.overall.ndcg_at_10,
        "p50_ms": main.p50_ms, "p95_ms": main.p95_ms, "cpu_p95_ms": main.cpu_p95_ms,
    }
    for lang, s in main.by_language.items():
        metrics[f"recall_at_3.{lang}"] = s.recall_at_3
        metrics[f"recall_at_10.{lang}"] = s.recall_at_10
        metrics[f"mrr.{lang}"] = s.mrr
        metrics[f"ndcg_at_10.{lang}"] = s.ndcg_at_10
    if "fused" in reports and main_mode == "reranked":
        fused = reports["fused"]
        for scope, sc in [("", fused.overall), *((f".{lang}", x) for lang, x in fused.by_language.items())]:
            for name in ("recall_at_3", "recall_at_10", "mrr", "ndcg_at_10"):
                metrics[f"{name}_without_rerank{scope}"] = getattr(sc, name)
        metrics["p95_ms_without_rerank"] = fused.p95_ms
    shelf = summarise_shelf(shelf_results) if shelf_results else None
    if shelf is not None:
        metrics["shelf_recall_at_3"] = shelf.overall.recall_at_3
        for lang, sh in shelf.by_language.items():
            metrics[f"shelf_recall_at_3.{lang}"] = sh.recall_at_3
        for cat, sh in shelf.by_category.items():
            metrics[f"shelf_recall_at_3.category.{cat}"] = sh.recall_at_3
    metrics["index_build_seconds"] = retriever.identity.build_seconds
    return RetrievalReport(
        data=path.name, cases=len(cases), index=retriever.identity,
        index_build_seconds=retriever.identity.build_seconds, modes=reports, shelf=shelf, metrics=metrics,
        records=[r for mode in modes for r in results[mode]], shelf_records=shelf_results,
    )


def format_report(report: RetrievalReport) -> str:
    """The human-readable report."""
    ident = report.index
    lines = [
        f"retrieval: {report.cases} queries from {report.data}; index {ident.backend} {ident.version} "
        f"({ident.doc_count} documents, {ident.embedded_count} embedded with {ident.embedding.model_id} "
        f"{ident.embedding.version}); build {report.index_build_seconds} s",
        f"{'mode':<9} {'scope':<12} {'n':>4} {'R@3':>6} {'R@10':>6} {'MRR':>6} {'NDCG@10':>8}",
    ]
    for mode, m in report.modes.items():
        for scope, s in [("overall", m.overall), *m.by_language.items()]:
            lines.append(f"{mode:<9} {scope:<12} {s.n:>4} {s.recall_at_3:>6.3f} {s.recall_at_10:>6.3f} "
                         f"{s.mrr:>6.3f} {s.ndcg_at_10:>8.3f}")
        lines.append(f"{mode:<9} latency      p50 {m.p50_ms:.1f} ms  p95 {m.p95_ms:.1f} ms  "
                     f"(CPU per query p50 {m.cpu_p50_ms:.1f} ms  p95 {m.cpu_p95_ms:.1f} ms)")
    main = report.modes.get("reranked") or report.modes["fused"]
    lines.append("by category (" + ("reranked" if "reranked" in report.modes else "fused") + "):")
    for cat, s in main.by_category.items():
        lines.append(f"  {cat:<11} {s.n:>4} R@3 {s.recall_at_3:.3f}  R@10 {s.recall_at_10:.3f}  MRR {s.mrr:.3f}")
    if report.shelf is not None:
        lines.append("shelf (product cards of a whole turn, series cases only):")
        shelf = report.shelf
        for scope, sh in [("overall", shelf.overall), *shelf.by_language.items(), *shelf.by_category.items()]:
            lines.append(f"  {scope:<11} {sh.n:>4} R@3 {sh.recall_at_3:.3f}")
    return "\n".join(lines)
