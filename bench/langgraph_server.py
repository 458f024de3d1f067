"""Reference point: LangGraph Server (`langgraph dev`) serving a trivial 5-node graph.

    .venv/bin/python bench/langgraph_server.py [--levels 1x60,32x300] [--json]

The graph does no work: four pass-through nodes and a "model" node that streams 20 tokens at once
through the custom stream (an instant fake model). Runs are stateless (`POST /runs/stream`,
`stream_mode: custom`), driven the way `bench/serve_load.py` drives MangaAssist (same levels, same
client), so the two outputs compare: turns/s, TTFT (first token event), time to the end of the
stream, server CPU per turn (the `langgraph dev` process and its children, from /proc) and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serve_load import LevelReport, Sample, memory_mb, parse_levels, summarise  # noqa: E402
from tests.support.processes import free_port, spawned, wait_http  # noqa: E402

TRIVIAL_GRAPH = '''
from typing import TypedDict
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    message: str
    answer: str


async def receive(state: State) -> State:
    return {"message": state["message"]}


async def route(state: State) -> State:
    return {}


async def prepare(state: State) -> State:
    return {}


async def model(state: State) -> State:
    writer = get_stream_writer()
    tokens = [f"tok{i} " for i in range(20)]
    for token in tokens:
        writer({"type": "token", "delta": token})
    return {"answer": "".join(tokens)}


async def finish(state: State) -> State:
    return {"answer": state["answer"].strip()}


builder = StateGraph(State)
names = [receive, route, prepare, model, finish]
for node in names:
    builder.add_node(node)
builder.add_edge(START, "receive")
for a, b in zip(names, names[1:]):
    builder.add_edge(a.__name__, b.__name__)
builder.add_edge("finish", END)
graph = builder.compile()
'''


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and every live descendant."""
    clk = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / clk
        todo.extend(children.get(current, []))
    return total


async def stream_run(client: httpx.AsyncClient, base: str, text: str) -> Sample:
    sample = Sample("en", "trivial")
    start = time.perf_counter()
    body = {"assistant_id": "trivial", "input": {"message": text}, "stream_mode": ["custom"]}
    try:
        async with client.stream("POST", f"{base}/runs/stream", json=body) as response:
            if response.status_code != 200:
                sample.error = f"http {response.status_code}"
                return sample
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "custom" and sample.ttft_ms is None:
                    sample.ttft_ms = (time.perf_counter() - start) * 1000
                elif event == "error":
                    sample.error = "error event"
    except httpx.HTTPError as exc:
        sample.error = type(exc).__name__
        return sample
    sample.final_ms = (time.perf_counter() - start) * 1000
    sample.tier = "trivial"
    if sample.ttft_ms is None and sample.error is None:
        sample.error = "no token event"
    return sample


async def drive(base: str, turns: int, concurrency: int) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    left = iter(range(turns))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for i in left:
            samples.append(await stream_run(client, base, f"message {i}"))

    async with httpx.AsyncClient(limits=limits, timeout=120, trust_env=False) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return samples, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=parse_levels, default=parse_levels("1x60,32x300"),
                        help="concurrency x runs, comma-separated (default 1x60,32x300)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    langgraph = Path(sys.executable).parent / "langgraph"
    with tempfile.TemporaryDirectory(prefix="langgraph-trivial-") as tmp:
        work = Path(tmp)
        (work / "trivial_graph.py").write_text(TRIVIAL_GRAPH)
        (work / "langgraph.json").write_text(json.dumps({"dependencies": ["."], "graphs": {"trivial": "./trivial_graph.py:graph"}}))
        env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
        port = free_port()
        cmd = [str(langgraph), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
        with spawned(cmd, env, work / "server.log", cwd=work) as proc:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/ok", proc, "langgraph dev", log=work / "server.log")
            asyncio.run(drive(base, 10, 2))
            levels: list[LevelReport] = []
            for concurrency, count in args.levels:
                cpu0 = tree_cpu_seconds(proc.pid)
                samples, wall = asyncio.run(drive(base, count, concurrency))
                levels.append(summarise(concurrency, samples, wall, tree_cpu_seconds(proc.pid) - cpu0, 0.0))
            peak = memory_mb(proc.pid)
    if args.json:
        print(json.dumps({"levels": [lv.__dict__ for lv in levels], "peak_rss_mb": round(peak, 1)}))
        return 0
    print("LangGraph Server (langgraph dev), trivial 5-node graph, instant 20-token model")
    print(f"{'conc':>4} {'runs':>5} {'err':>4} {'runs/s':>7} {'TTFT p50':>9} {'TTFT p99':>9} {'end p50':>8} {'end p99':>8} {'srv CPU ms/run':>14}")
    for lv in levels:
        t, f = lv.ttft_ms["all"], lv.final_ms["all"]
        print(f"{lv.concurrency:>4} {lv.turns:>5} {lv.errors:>4} {lv.turns_per_s:>7} {t['p50']:>9} {t['p99']:>9} "
              f"{f['p50']:>8} {f['p99']:>8} {lv.server_cpu_ms_per_turn:>14}")
    print(f"peak RSS (VmHWM): {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
