"""Idle WebSocket sessions: memory per open session, and turns on a sample of them.

    .venv/bin/python bench/ws_sessions.py [--sessions 1000] [--sample 50] [--idle-s 5] [--json]

Starts the scripted model server and `mangaassist serve` on loopback (as `bench/serve_load.py`
does), raises this process's open-file limit (the server inherits it), warms the server with a few
turns, then opens `--sessions` chat sockets (`/v1/chat/ws?protocol_version=1`) and holds them idle.
It prints the server's resident memory before and after (per idle session), sends one message on
`--sample` of the sockets at once and checks that each gets its `final` frame, and reports any socket
the server dropped and any turn lost. Exit code 1 on a drop, a lost turn, or more than 200 MB over
the baseline for the sessions held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serve_load import (  # noqa: E402
    fake_model,
    load_sessions,
    memory_mb,
    serve,
    service_settings,
)
from evals.stats import percentile  # noqa: E402

TARGET_MB_OVER_BASELINE = 200.0


def raise_fd_limit(needed: int) -> int:
    """Raise the soft open-file limit towards the hard one; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def open_sessions(url: str, count: int, batch: int = 100) -> list[ClientConnection]:
    """`count` sockets, opened `batch` at a time so the accept backlog never overflows."""
    sockets: list[ClientConnection] = []
    for start in range(0, count, batch):
        opened = await asyncio.gather(*(
            connect(url, open_timeout=60, ping_interval=None, max_queue=64)
            for _ in range(min(batch, count - start))
        ))
        sockets.extend(opened)
    return sockets


async def ask(ws: ClientConnection, message: str, timeout_s: float) -> tuple[float | None, float | None, str | None]:
    """One message; (TTFT ms, final ms, error) — a missing final frame is an error."""
    start = time.perf_counter()
    ttft = None
    await ws.send(json.dumps({"type": "message", "message": message}))
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "token" and ttft is None:
                    ttft = (time.perf_counter() - start) * 1000
                elif frame["type"] == "final":
                    return ttft, (time.perf_counter() - start) * 1000, None
                elif frame["type"] == "error":
                    return ttft, None, f"error frame {frame.get('code')}"
    except TimeoutError:
        return ttft, None, "no final frame in time"
    except websockets.ConnectionClosed as exc:
        return ttft, None, f"closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"


async def run(base: str, pid: int, sessions: int, sample: int, idle_s: float) -> dict:
    """Warm up, open, hold, sample, close; the figures as a dict."""
    url = base.replace("http://", "ws://") + "/v1/chat/ws?protocol_version=1"
    warm = await open_sessions(url, 4)
    for ws, session in zip(warm, load_sessions(4, seed=3), strict=True):
        await ask(ws, session.turns[0].text, 60)
    for ws in warm:
        await ws.close()
    await asyncio.sleep(1)
    baseline = memory_mb(pid, "VmRSS")
    opened_at = time.perf_counter()
    sockets = await open_sessions(url, sessions)
    open_s = time.perf_counter() - opened_at
    await asyncio.sleep(idle_s)
    held = memory_mb(pid, "VmRSS")
    dropped_idle = sum(ws.state is not State.OPEN for ws in sockets)

    chosen = random.Random(5).sample(range(len(sockets)), min(sample, len(sockets)))
    texts = [s.turns[0].text for s in load_sessions(len(chosen), seed=11)]
    started = time.perf_counter()
    answers = await asyncio.gather(*(ask(sockets[i], text, 120) for i, text in zip(chosen, texts, strict=True)))
    sample_wall = time.perf_counter() - started
    after_turns = memory_mb(pid, "VmRSS")
    dropped = sum(ws.state is not State.OPEN for ws in sockets)
    await asyncio.gather(*(ws.close() for ws in sockets))
    ttft = [a[0] for a in answers if a[0] is not None]
    final = [a[1] for a in answers if a[1] is not None]
    return {
        "sessions": sessions,
        "open_s": round(open_s, 2),
        "rss_baseline_mb": round(baseline, 1),
        "rss_idle_sessions_mb": round(held, 1),
        "over_baseline_mb": round(held - baseline, 1),
        "kb_per_idle_session": round((held - baseline) * 1024 / max(sessions, 1), 1),
        "rss_after_sample_turns_mb": round(after_turns, 1),
        "peak_rss_mb": round(memory_mb(pid), 1),
        "dropped_while_idle": dropped_idle,
        "dropped": dropped,
        "sample": len(chosen),
        "lost_turns": sum(a[2] is not None for a in answers),
        "turn_errors": sorted({a[2] for a in answers if a[2]}),
        "sample_wall_s": round(sample_wall, 2),
        "sample_ttft_ms": {"p50": round(percentile(ttft, 50), 1), "p99": round(percentile(ttft, 99), 1)},
        "sample_final_ms": {"p50": round(percentile(final, 50), 1), "p99": round(percentile(final, 99), 1)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=50, help="sockets that each send one message (default 50)")
    parser.add_argument("--idle-s", type=float, default=5.0, help="seconds the sockets are held idle (default 5)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.sessions < 1 or args.sample < 0 or args.idle_s < 0:
        parser.error("--sessions must be >= 1, --sample and --idle-s >= 0")
    limit = raise_fd_limit(2 * args.sessions + 256)
    if limit < args.sessions + 128:
        print(f"error: open-file limit {limit} is too low for {args.sessions} sessions", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mangaassist-ws-") as tmp:
        workdir = Path(tmp)
        with fake_model(workdir) as model_base:
            with serve(service_settings(workdir / "var", model_base), workdir) as service:
                report = asyncio.run(run(service.base, service.pid, args.sessions, args.sample, args.idle_s))
    failed = report["dropped"] or report["lost_turns"] or report["over_baseline_mb"] > TARGET_MB_OVER_BASELINE
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['sessions']} sockets opened in {report['open_s']} s, held idle {args.idle_s} s")
        print(f"server RSS: baseline {report['rss_baseline_mb']} MB, with the sessions {report['rss_idle_sessions_mb']} MB "
              f"(+{report['over_baseline_mb']} MB, {report['kb_per_idle_session']} KB per idle session), "
              f"after the sample turns {report['rss_after_sample_turns_mb']} MB, peak {report['peak_rss_mb']} MB")
        print(f"sample: {report['sample']} messages at once in {report['sample_wall_s']} s; "
              f"TTFT p50/p99 {report['sample_ttft_ms']['p50']}/{report['sample_ttft_ms']['p99']} ms, "
              f"final p50/p99 {report['sample_final_ms']['p50']}/{report['sample_final_ms']['p99']} ms")
        print(f"dropped sockets: {report['dropped_while_idle']} while idle, {report['dropped']} at the end; "
              f"lost turns: {report['lost_turns']} {report['turn_errors'] or ''}")
        print(f"target <= {TARGET_MB_OVER_BASELINE:.0f} MB over baseline, zero drops and lost turns -> "
              f"{'MISSED' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
