"""Speculative retrieval, measured: time to first token with and without it.

    .venv/bin/python bench/speculative.py [--repeat 3] [--latency '{"knn": 40, ...}'] [--json]

Runs the real turn graph in-process (real runner, SQLite checkpointer, shipped data, model tiers
off) with the reference call chain's downstream latencies simulated
(`MANGAASSIST_SIMULATED_LATENCY_MS`, default `tools.latency.REFERENCE_CHAIN_MS`), once per mode,
each in its own process because the mode is part of the graph's build:

- sequential: `MANGAASSIST_SPECULATIVE_RETRIEVAL=false`: retrieval runs after routing, and only
  for intents that use it;
- speculative: the default graph: the search starts beside routing (unless the rules stage
  already knows the intent reads none of it) and the tools run while it does; a search no answer
  reads is not waited for.

A mix of English and Japanese messages covering every intent is asked by a signed-in customer.
Prints TTFT p50/p95 per intent group (retrieval intents or not), language and mode; the saving
at the median for retrieval intents; and the retrievals the speculative mode wasted on intents
that did not use them. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals.stats import percentile  # noqa: E402
from nodes.plan_tools import RETRIEVAL_INTENTS, SEARCH_INTENTS  # noqa: E402
from tools.latency import REFERENCE_CHAIN_MS  # noqa: E402

MODES = ("sequential", "speculative")
USER = "C1001"
MESSAGES: dict[str, list[str]] = {
    "en": [
        "recommend horror manga like Junji Ito",
        "something like Frieren but darker?",
        "do you have any cooking manga?",
        "looking for a volleyball sports manga",
        "what is Vinland Saga about?",
        "how long does shipping take to Canada?",
        "can I pay with PayPal?",
        "I want to return a damaged book",
        "how much is One Piece volume 5?",
        "where is my order?",
        "hi there!",
        "I want to talk to a human",
        "what's the weather tomorrow?",
    ],
    "ja": [
        "伊藤潤二みたいなホラー漫画のおすすめは？",
        "フリーレンに似た漫画を教えて",
        "料理の漫画を探しています",
        "バレーボールの漫画はありますか",
        "ヴィンランド・サガはどんな話？",
        "送料はいくらですか",
        "支払い方法は何がありますか",
        "破損した本を返品したい",
        "ワンピース5巻の値段は？",
        "注文した商品はいつ届きますか",
        "こんにちは",
        "担当者と話したい",
        "明日の天気は？",
    ],
}


async def _measure(repeat: int) -> list[dict[str, Any]]:
    """One mode (set by the environment): every message `repeat` times, TTFT of each turn."""
    from graph.runner import TurnRunner
    from mangaassist.settings import get_settings
    from tools.registry import get_services

    records: list[dict[str, Any]] = []
    async with TurnRunner(get_settings()) as runner:
        await runner.run("hello", user_id=USER)  # warm-up: index, templates, first-call costs
        for _ in range(repeat):
            for language, messages in MESSAGES.items():
                for message in messages:
                    session = uuid.uuid4().hex
                    # Every shopper's message is new to the query-vector cache.
                    get_services().retrieval.clear_query_cache()
                    start = time.perf_counter()
                    ttft: float | None = None
                    result: dict[str, Any] = {}
                    async for event in runner.stream(message, session_id=session, user_id=USER):
                        if event["type"] == "token" and ttft is None:
                            ttft = (time.perf_counter() - start) * 1000
                        elif event["type"] == "final":
                            result = event["result"]
                    total = (time.perf_counter() - start) * 1000
                    state = await runner.graph.aget_state({"configurable": {"thread_id": session}})
                    intent = result["intent"]
                    retrieval = state.values.get("retrieval", {})
                    records.append({
                        "language": language,
                        "message": message,
                        "intent": intent,
                        "group": "retrieval" if intent in RETRIEVAL_INTENTS else "other",
                        "ttft_ms": round(ttft if ttft is not None else total, 2),
                        "total_ms": round(total, 2),
                        "searched": bool(retrieval.get("started")),
                        # Started, then left unread once routing decided nothing reads it.
                        "abandoned": bool(retrieval.get("started")) and not retrieval.get("hits"),
                    })
    return records


def _run_mode(mode: str, repeat: int, latency: dict[str, float]) -> list[dict[str, Any]]:
    """Measure one mode in a fresh process (the graph reads the mode when it is built)."""
    with tempfile.TemporaryDirectory(prefix="bench-speculative-") as data_dir:
        env = {
            **os.environ,
            "MANGAASSIST_SPECULATIVE_RETRIEVAL": "true" if mode == "speculative" else "false",
            "MANGAASSIST_SIMULATED_LATENCY_MS": json.dumps(latency),
            "MANGAASSIST_LLM_MODE": "off",
            "MANGAASSIST_DATA_DIR": data_dir,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--repeat", str(repeat)],
            env=env, cwd=REPO, capture_output=True, text=True, check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def _pct(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """TTFT p50/p95 per group x language x mode, the median saving, and wasted retrievals."""
    rows = []
    for group in ("retrieval", "other"):
        for language in ("all", "en", "ja"):
            row: dict[str, Any] = {"group": group, "language": language}
            for mode in MODES:
                ttft = [r["ttft_ms"] for r in runs[mode]
                        if r["group"] == group and language in ("all", r["language"])]
                row[mode] = {"n": len(ttft), "p50": _pct(ttft, 50), "p95": _pct(ttft, 95)}
            row["saving_p50_ms"] = round(row["sequential"]["p50"] - row["speculative"]["p50"], 1)
            rows.append(row)
    intents = sorted({r["intent"] for mode in MODES for r in runs[mode]})
    per_intent = []
    for intent in intents:
        entry: dict[str, Any] = {"intent": intent}
        for mode in MODES:
            entry[mode] = _pct([r["ttft_ms"] for r in runs[mode] if r["intent"] == intent], 50)
        per_intent.append(entry)
    wasted = {}
    for mode in MODES:
        # Every turn whose intent reads no hit of the turn's search (policy intents search alone).
        others = [r for r in runs[mode] if r["intent"] not in SEARCH_INTENTS]
        spent = [r for r in others if r["searched"]]
        wasted[mode] = {
            "turns": len(others),
            "searches": len(spent),
            "abandoned": sum(1 for r in spent if r["abandoned"]),
            "by_language": {
                lang: sum(1 for r in spent if r["language"] == lang) for lang in ("en", "ja")
            },
        }
    return {"ttft": rows, "ttft_p50_by_intent": per_intent, "wasted_retrievals": wasted}


def report(summary: dict[str, Any], latency: dict[str, float]) -> None:
    """Print the tables."""
    print("simulated latencies (ms):", json.dumps(latency))
    print(f"\n{'group':<10} {'lang':<4} {'mode':<12} {'n':>4} {'TTFT p50':>9} {'TTFT p95':>9}")
    for row in summary["ttft"]:
        for mode in MODES:
            m = row[mode]
            print(f"{row['group']:<10} {row['language']:<4} {mode:<12} {m['n']:>4} "
                  f"{m['p50']:>9.1f} {m['p95']:>9.1f}")
        print(f"{'':<10} {'':<4} {'saving p50':<12} {'':>4} {row['saving_p50_ms']:>9.1f}")
    print(f"\n{'intent':<18} {'seq p50':>8} {'spec p50':>9} {'saving':>7}")
    for entry in summary["ttft_p50_by_intent"]:
        saving = entry["sequential"] - entry["speculative"]
        print(f"{entry['intent']:<18} {entry['sequential']:>8.1f} {entry['speculative']:>9.1f} "
              f"{saving:>7.1f}")
    print("\nwasted searches (started on turns whose answer reads none of the hits):")
    for mode, w in summary["wasted_retrievals"].items():
        by_language = w["by_language"]
        print(f"  {mode:<12} {w['searches']}/{w['turns']} turns (en {by_language['en']}, "
              f"ja {by_language['ja']}), {w['abandoned']} of them not waited for")
    for row in summary["ttft"]:
        if row["group"] == "retrieval" and row["language"] == "all":
            print(f"\nretrieval intents: median TTFT saving {row['saving_p50_ms']:.1f} ms "
                  "(target >= 150 ms)")


def _latency(text: str) -> dict[str, float]:
    """`--latency`: a JSON object of step -> milliseconds."""
    try:
        value = json.loads(text)
        return {str(step): float(ms) for step, ms in value.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON object of step -> ms: {exc}") from exc


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the messages per mode")
    parser.add_argument("--latency", type=_latency, default=dict(REFERENCE_CHAIN_MS),
                        help="JSON step -> ms (default: the reference call chain)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.child:
        print(json.dumps(asyncio.run(_measure(args.repeat))))
        return 0
    runs = {mode: _run_mode(mode, args.repeat, args.latency) for mode in MODES}
    summary = summarise(runs)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        report(summary, args.latency)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
