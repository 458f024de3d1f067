"""Benchmark of the guardrails: input guard and whole output chain latency (p50/p95/max).

    .venv/bin/python bench/guardrails.py [--rounds 50] [--data FILE] [--json]

Exit code 1 when the output chain's p95 is over the 10 ms target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.guardrails import DEFAULT_DATA, TARGETS, load, measure_output_chain  # noqa: E402
from evals.stats import percentile  # noqa: E402
from guardrails.input import check_input  # noqa: E402
from tools.registry import get_services  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    services = get_services()
    rows = load(args.data)
    for row in rows[:50]:  # warm-up: regex caches, first-call costs
        check_input(row["text"], services.settings.max_message_chars, record=False)
    measure_output_chain(services, 1)
    timings: list[float] = []
    for _ in range(max(1, args.rounds // 5)):
        for row in rows:
            start = time.perf_counter()
            check_input(row["text"], services.settings.max_message_chars, record=False)
            timings.append((time.perf_counter() - start) * 1000)
    output = measure_output_chain(services, args.rounds)
    report = {
        "input_guard_ms": {"calls": len(timings), "p50": round(percentile(timings, 50), 3),
                           "p95": round(percentile(timings, 95), 3), "max": round(max(timings), 3)},
        "output_chain_ms": output,
        "target_output_chain_p95_ms": TARGETS["output_chain_p95_ms"],
    }
    if args.json:
        print(json.dumps(report))
    else:
        i = report["input_guard_ms"]
        print(f"input guard   {i['calls']:>6} calls  p50 {i['p50']:.3f} ms  p95 {i['p95']:.3f} ms  max {i['max']:.3f} ms")
        print(f"output chain  {output['answers']:>6} runs   p50 {output['p50']:.3f} ms  p95 {output['p95']:.3f} ms  max {output['max']:.3f} ms")
        print("  per stage p95: " + ", ".join(f"{k} {v:.3f}" for k, v in output["stages_p95"].items()))
        print(f"target: output chain p95 <= {TARGETS['output_chain_p95_ms']} ms: "
              f"{'met' if output['p95'] <= TARGETS['output_chain_p95_ms'] else 'NOT met'}")
    return 0 if output["p95"] <= TARGETS["output_chain_p95_ms"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
