"""Latency budget of a turn: per-node p50/p95, TTFT and the critical path, in-process.

    .venv/bin/python bench/latency_budget.py [--limit 200] [--json]

Runs the golden conversations (`evals/data/golden.jsonl`; the held-out intent utterances
`data/intents/dev.jsonl` when it is absent) one turn at a time through the real graph over a
temporary SQLite checkpointer, twice: without downstream latencies, then with the reference call
chain simulated (`MANGAASSIST_SIMULATED_LATENCY_MS`: intent 15, embed 30, kNN 40, rerank 50,
recommendations 200, profile 50, model first token 500 ms). Model tiers are off: the model's first
token is the simulated `model_first_token` step of the responder.

Prints, per run: per-node p50/p95 (from each result's `metadata.timings_ms`), time to the first
token frame (TTFT) and to the result, p50/p99, per language; and the critical path: the graph runs
in steps (nodes of a step run side by side, the next step starts when all are done), so in each step
the node that finished last sits on the path. Start and end of every node come from LangGraph's
`tasks` stream, stamped as they arrive (one turn at a time, so the stamps are the node's own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from evals.stats import percentile  # noqa: E402
from graph.runner import TurnRunner  # noqa: E402
from graph.state import Context  # noqa: E402
from mangaassist.settings import get_settings  # noqa: E402
from tools.jsonl import read_jsonl  # noqa: E402
from tools.latency import REFERENCE_CHAIN_MS  # noqa: E402

GOLDEN = REPO / "evals" / "data" / "golden.jsonl"
DEV = REPO / "data" / "intents" / "dev.jsonl"
TARGETS_MS = {"ttft_p99_simulated": 800.0, "classify_intent_p95": 5.0, "apply_guardrails_p95": 10.0}


@dataclass
class Conversation:
    """Turns of one session, as a guest or a customer."""

    language: str
    texts: list[str]
    user_id: str | None = None


@dataclass
class TurnTrace:
    """What one turn measured."""

    language: str
    ttft_ms: float | None
    total_ms: float
    timings_ms: dict[str, float]
    # Per step: (node that finished last, ms from the step's start to its end).
    path: list[tuple[str, float]] = field(default_factory=list)


def load_conversations(limit: int) -> tuple[list[Conversation], str]:
    """Golden conversations, else dev utterances as one-turn conversations."""
    if GOLDEN.exists():
        rows = [row for _, row in read_jsonl(GOLDEN)]
        convs = [Conversation(r["language"], [t["text"] for t in r["turns"]], r.get("user_id")) for r in rows]
        source = GOLDEN
    else:
        rows = [row for _, row in read_jsonl(DEV)]
        convs = [Conversation(r["language"], [r["text"]], "C1001" if r["intent"] in ("order_status", "return_request") else None)
                 for r in rows]
        source = DEV
    # The files are grouped by intent: an even stride keeps the mix of the whole set.
    stride = max(1, len(convs) // limit)
    return convs[::stride][:limit], str(source.relative_to(REPO))


async def trace_turn(runner: TurnRunner, text: str, session_id: str, user_id: str | None, language: str) -> TurnTrace:
    """Run one turn on the runner's graph, stamping node starts/ends and the first token."""
    message = runner.check_message(text)
    context = Context(session_id=session_id, user_id=user_id)
    config = {"configurable": {"thread_id": session_id}}
    starts: dict[str, tuple[str, float]] = {}
    steps: list[list[tuple[str, float, float]]] = []
    step_open = False
    ttft: float | None = None
    result: dict | None = None
    t0 = time.perf_counter()
    async for mode, chunk in runner.graph.astream(
        {"message": message, "request_id": uuid.uuid4().hex}, config,  # type: ignore[arg-type]
        context=context, stream_mode=["tasks", "custom", "updates"], durability="exit",
    ):
        now = (time.perf_counter() - t0) * 1000
        if mode == "custom" and chunk.get("type") == "token" and ttft is None:
            ttft = now
        elif mode == "tasks" and "result" not in chunk and "error" not in chunk:
            if not step_open:  # the first start after a step's results opens the next step
                steps.append([])
                step_open = True
            starts[chunk["id"]] = (chunk["name"], now)
        elif mode == "tasks":
            step_open = False
            name, began = starts.pop(chunk["id"])
            steps[-1].append((name, began, now))
        elif mode == "updates" and "finalize" in chunk:
            result = chunk["finalize"]["result"]
    total = (time.perf_counter() - t0) * 1000
    assert result is not None, "the turn ended without a result"
    path = []
    for step in steps:
        if step:
            step_start = min(s for _, s, _ in step)
            name, _, end = max(step, key=lambda item: item[2])
            path.append((name, end - step_start))
    return TurnTrace(language, ttft, total, result["metadata"].get("timings_ms", {}), path)


async def run_mode(conversations: list[Conversation], simulated: dict[str, float]) -> list[TurnTrace]:
    """Every conversation once, turn by turn, with these simulated latencies."""
    os.environ["MANGAASSIST_SIMULATED_LATENCY_MS"] = json.dumps(simulated)
    os.environ["MANGAASSIST_LLM_MODE"] = "off"
    get_settings.cache_clear()
    traces = []
    with tempfile.TemporaryDirectory(prefix="mangaassist-budget-") as tmp:
        settings = get_settings().model_copy(update={"data_dir": Path(tmp)})
        async with TurnRunner(settings) as runner:
            await trace_turn(runner, "hello", "warm-up", None, "en")
            for i, conv in enumerate(conversations):
                for text in conv.texts:
                    traces.append(await trace_turn(runner, text, f"budget-{i}", conv.user_id, conv.language))
    return traces


def _p(values: list[float], q: float) -> float:
    return round(percentile(values, q), 2)


def summarise(traces: list[TurnTrace]) -> dict:
    """Per-node, TTFT/total and critical-path figures."""
    nodes: dict[str, list[float]] = defaultdict(list)
    for t in traces:
        for name, ms in t.timings_ms.items():
            nodes[name].append(float(ms))
    on_path: dict[str, list[float]] = defaultdict(list)
    paths: Counter[str] = Counter()
    overhead = []
    for t in traces:
        for name, ms in t.path:
            on_path[name].append(ms)
        paths[" > ".join(name for name, _ in t.path)] += 1
        overhead.append(t.total_ms - sum(ms for _, ms in t.path))
    by_lang = {}
    for lang in ("all", "en", "ja"):
        members = [t for t in traces if lang == "all" or t.language == lang]
        ttft = [t.ttft_ms for t in members if t.ttft_ms is not None]
        by_lang[lang] = {
            "turns": len(members),
            "ttft_p50": _p(ttft, 50), "ttft_p99": _p(ttft, 99),
            "total_p50": _p([t.total_ms for t in members], 50), "total_p99": _p([t.total_ms for t in members], 99),
        }
    return {
        "nodes": {n: {"n": len(v), "p50": _p(v, 50), "p95": _p(v, 95)} for n, v in sorted(nodes.items())},
        "turns": by_lang,
        "critical_path": {
            n: {"share": round(len(v) / len(traces), 3), "p50_ms": _p(v, 50), "mean_ms": round(statistics.fmean(v), 2)}
            for n, v in sorted(on_path.items(), key=lambda kv: -sum(kv[1]))
        },
        "framework_overhead_ms": {"p50": _p(overhead, 50), "p95": _p(overhead, 95)},
        "common_paths": paths.most_common(3),
    }


def print_summary(title: str, s: dict) -> None:
    """One run's tables."""
    print(f"\n== {title}")
    print(f"{'node':28} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for name, v in s["nodes"].items():
        print(f"{name:28} {v['n']:>5} {v['p50']:>8} {v['p95']:>8}")
    print(f"{'':4}{'lang':>4} {'turns':>5} {'TTFT p50':>9} {'TTFT p99':>9} {'result p50':>10} {'result p99':>10}")
    for lang, v in s["turns"].items():
        print(f"{'':4}{lang:>4} {v['turns']:>5} {v['ttft_p50']:>9} {v['ttft_p99']:>9} {v['total_p50']:>10} {v['total_p99']:>10}")
    print("critical path (node that ends each step last): share of turns, p50 and mean ms on the path")
    for name, v in s["critical_path"].items():
        print(f"  {name:28} {v['share']:>6.0%} {v['p50_ms']:>8} {v['mean_ms']:>8}")
    o = s["framework_overhead_ms"]
    print(f"  between steps (graph engine, checkpoint, stream) p50 {o['p50']} ms, p95 {o['p95']} ms")
    for path, count in s["common_paths"]:
        print(f"  {count:>4}x {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=200, help="conversations to run per mode (default 200)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    conversations, source = load_conversations(args.limit)
    runs = {
        "no simulated latency": asyncio.run(run_mode(conversations, {})),
        "simulated downstream latencies": asyncio.run(run_mode(conversations, dict(REFERENCE_CHAIN_MS))),
    }
    summaries = {title: summarise(traces) for title, traces in runs.items()}
    sim = summaries["simulated downstream latencies"]
    base = summaries["no simulated latency"]
    checks = [
        ("TTFT p99 with simulated latencies <= 800 ms", sim["turns"]["all"]["ttft_p99"], TARGETS_MS["ttft_p99_simulated"]),
        ("classify_intent p95 <= 5 ms (no simulated latency)", base["nodes"]["classify_intent"]["p95"], TARGETS_MS["classify_intent_p95"]),
        ("apply_guardrails p95 <= 10 ms", base["nodes"]["apply_guardrails"]["p95"], TARGETS_MS["apply_guardrails_p95"]),
    ]
    if args.json:
        print(json.dumps({"source": source, "simulated_ms": dict(REFERENCE_CHAIN_MS), "runs": summaries}))
    else:
        print(f"turns from {source} ({len(conversations)} conversations); simulated: {dict(REFERENCE_CHAIN_MS)}")
        for title, s in summaries.items():
            print_summary(title, s)
        print()
        for label, value, target in checks:
            print(f"target {label}: {value} -> {'met' if value <= target else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
