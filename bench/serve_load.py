"""Load benchmark of the HTTP service: SSE chat turns at several concurrency levels.

    .venv/bin/python bench/serve_load.py [--levels 1x80,32x384] [--provider openai|hosted_vllm] [--json]

Starts everything it measures on loopback and stops it afterwards:
- a scripted OpenAI-compatible model server (`tests/support/fake_llm.py`) in its own process, answering
  every request at once with a 20-token stream, so the model costs the service nothing but the HTTP call;
- `mangaassist serve` on a free port, embedded default (SQLite, in-process catalog), both model tiers
  pointed at that server.
Then it drives `POST /v1/chat/message` with `Accept: text/event-stream` through sessions of one or two
turns drawn from the held-out intent set (English and Japanese: recommendations, product and price
questions, order status with a bearer token from `mangaassist token`, store FAQ, shipping, chitchat)
and prints turns/s, time to the first token frame (TTFT) and to the final frame, server CPU per turn
(utime + stime of the server process from /proc), peak RSS (VmHWM) and errors, overall and per language.

Rate limits (messages a minute per guest session and per customer) and the per-process model call cap
are raised for the run, so that the figures are those of serving, not of throttling; the output says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals.stats import percentile  # noqa: E402
from tests.support.processes import CLI, free_port, service_env, serving, spawned, wait_http  # noqa: E402
from tools.jsonl import read_jsonl  # noqa: E402

# Twenty tokens of four characters each: the fake model streams one chunk per token.
ANSWER_TOKENS = 20
ANSWER = "Here are a few picks from our shelves that fit what you asked for. Enjoy reading"
assert len(ANSWER) == ANSWER_TOKENS * 4
# The intents shoppers send most, weighted like a store's traffic; both languages alike.
INTENT_MIX = {
    "recommendation": 4,
    "product_search": 2,
    "product_question": 2,
    "price_check": 3,
    "order_status": 2,
    "store_faq": 1,
    "shipping_info": 1,
    "chitchat": 1,
}
CUSTOMERS = ("C1001", "C1002", "C1003", "C1004")
# Raised for the run (see the module docstring).
RAISED_LIMITS = {
    "MANGAASSIST_RATE_GUEST_PER_MIN": "100000",
    "MANGAASSIST_RATE_CUSTOMER_PER_MIN": "100000",
    "MANGAASSIST_MODEL_CALLS_PER_S": "100000",
}
TARGETS = {"cpu_ms_per_turn": 15.0, "turns_per_s_at_32": 60.0, "ttft_p50_ms_at_1": 50.0, "peak_rss_mb": 1536.0}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int, key: str = "VmHWM") -> float:
    """A /proc/<pid>/status memory line (VmHWM: peak RSS; VmRSS: current), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


@contextlib.contextmanager
def fake_model(workdir: Path, text: str = ANSWER, chunk_chars: int = 4, model: str = "bench") -> Iterator[str]:
    """The scripted model server in its own process; yields its OpenAI-style API base."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "tests.support.fake_llm", "--port", str(port), "--log-level", "warning"]
    log = workdir / "fake_llm.log"
    with spawned(args, env, log) as proc:
        root = f"http://127.0.0.1:{port}"
        wait_http(f"{root}/health", proc, "the fake model server", log=log)
        step = {"kind": "ok", "text": text, "chunk_chars": chunk_chars}
        httpx.post(f"{root}/_admin/script", json={"model": model, "steps": [], "default": step},
                   trust_env=False).raise_for_status()
        yield f"{root}/v1"


# litellm's routes to an OpenAI-compatible server: through the OpenAI SDK ("openai"), or through
# litellm's own HTTP client ("hosted_vllm", its provider for self-hosted servers).
PROVIDERS = ("openai", "hosted_vllm")


def service_settings(
    data_dir: Path, model_base: str, model: str = "bench", provider: str = "openai", **extra: str
) -> dict[str, str]:
    """Environment of a bench server: both tiers on the fake model, limits raised."""
    return service_env(
        data_dir,
        MANGAASSIST_LLM_MODE="on",
        MANGAASSIST_LLM_PRIMARY=f"{provider}/{model}",
        MANGAASSIST_LLM_PRIMARY_API_BASE=model_base,
        MANGAASSIST_LLM_PRIMARY_API_KEY="sk-bench",
        MANGAASSIST_LLM_SECONDARY=f"{provider}/{model}",
        MANGAASSIST_LLM_SECONDARY_API_BASE=model_base,
        MANGAASSIST_LLM_SECONDARY_API_KEY="sk-bench",
        **RAISED_LIMITS,
        **extra,
    )


@dataclass
class Service:
    """A running `mangaassist serve`."""

    base: str
    pid: int


@contextlib.contextmanager
def serve(env: dict[str, str], workdir: Path) -> Iterator[Service]:
    """`mangaassist serve` on a free loopback port, its output in `workdir/server.log`."""
    with serving(env, workdir / "server.log", timeout_s=90) as (base, proc):
        yield Service(base, proc.pid)


def mint_tokens(env: dict[str, str], users: tuple[str, ...]) -> dict[str, str]:
    """One bearer token per customer, from `mangaassist token` (run side by side)."""
    procs = {u: subprocess.Popen(CLI + ["token", "--user", u], env=env, cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for u in users}
    tokens = {}
    for user, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"mangaassist token failed: {err.strip()}")
        tokens[user] = out.strip()
    return tokens


# ---------------------------------------------------------------------------------------- load


@dataclass
class Turn:
    """One message of a bench session."""

    text: str
    intent: str
    language: str


@dataclass
class Session:
    """Turns sent one after another on one session, as a guest or as a customer."""

    turns: list[Turn]
    user: str | None = None


@dataclass
class Sample:
    """What one turn measured."""

    language: str
    intent: str
    ttft_ms: float | None = None
    final_ms: float | None = None
    tier: str = ""
    error: str | None = None


def load_sessions(count: int, seed: int = 7) -> list[Session]:
    """`count` sessions of one or two turns, intents drawn by `INTENT_MIX`, half of them Japanese."""
    by_key: dict[tuple[str, str], list[str]] = {}
    for _, row in read_jsonl(REPO / "data" / "intents" / "dev.jsonl"):
        if row["intent"] in INTENT_MIX:
            by_key.setdefault((row["intent"], row["language"]), []).append(row["text"])
    rng = random.Random(seed)
    intents, weights = zip(*INTENT_MIX.items(), strict=True)

    def turn(language: str) -> Turn:
        intent = rng.choices(intents, weights)[0]
        return Turn(rng.choice(by_key[(intent, language)]), intent, language)

    sessions = []
    for i in range(count):
        language = "ja" if i % 2 else "en"
        turns = [turn(language) for _ in range(rng.choice((1, 2)))]
        signed_in = any(t.intent == "order_status" for t in turns)
        sessions.append(Session(turns, CUSTOMERS[i % len(CUSTOMERS)] if signed_in else None))
    return sessions


async def sse_turn(
    client: httpx.AsyncClient, base: str, turn: Turn, session_id: str | None, token: str | None
) -> tuple[Sample, str | None]:
    """One SSE turn; returns what it measured and the session id the server answered for."""
    sample = Sample(turn.language, turn.intent)
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body: dict[str, object] = {"message": turn.text}
    if session_id:
        body["session_id"] = session_id
    start = time.perf_counter()
    try:
        async with client.stream("POST", f"{base}/v1/chat/message", json=body, headers=headers) as response:
            if response.status_code != 200:
                sample.error = f"http {response.status_code}"
                return sample, session_id
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                kind = event.get("type")
                if kind == "token" and sample.ttft_ms is None:
                    sample.ttft_ms = (time.perf_counter() - start) * 1000
                elif kind == "final":
                    sample.final_ms = (time.perf_counter() - start) * 1000
                    result = event["result"]
                    sample.tier = result["metadata"].get("model_tier", "")
                    return sample, result["session_id"]
                elif kind == "error":
                    sample.error = f"error frame {event.get('code')}"
                    return sample, session_id
    except httpx.HTTPError as exc:
        sample.error = type(exc).__name__
        return sample, session_id
    sample.error = "no final frame"
    return sample, session_id


async def drive(base: str, sessions: list[Session], concurrency: int, tokens: dict[str, str]) -> tuple[list[Sample], float]:
    """Run every session on `concurrency` workers; returns the samples and the wall time."""
    queue: asyncio.Queue[Session] = asyncio.Queue()
    for session in sessions:
        queue.put_nowait(session)
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            session = queue.get_nowait()
            session_id = None
            token = tokens.get(session.user) if session.user else None
            for turn in session.turns:
                sample, session_id = await sse_turn(client, base, turn, session_id, token)
                samples.append(sample)

    async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return samples, time.perf_counter() - start


# ------------------------------------------------------------------------------------- report


@dataclass
class LevelReport:
    """Figures of one concurrency level."""

    concurrency: int
    turns: int
    errors: int
    wall_s: float
    turns_per_s: float
    server_cpu_ms_per_turn: float
    client_cpu_ms_per_turn: float
    ttft_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    final_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)


def _pcts(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 1), "p99": round(percentile(values, 99), 1), "n": len(values)}


def summarise(concurrency: int, samples: list[Sample], wall_s: float, server_cpu_s: float, client_cpu_s: float) -> LevelReport:
    """Percentiles overall and per language."""
    ok = [s for s in samples if s.error is None]
    report = LevelReport(
        concurrency=concurrency,
        turns=len(samples),
        errors=len(samples) - len(ok),
        wall_s=round(wall_s, 2),
        turns_per_s=round(len(ok) / wall_s, 1),
        server_cpu_ms_per_turn=round(server_cpu_s * 1000 / max(len(samples), 1), 2),
        client_cpu_ms_per_turn=round(client_cpu_s * 1000 / max(len(samples), 1), 2),
        tiers=dict(Counter(s.tier for s in ok)),
        error_kinds=dict(Counter(s.error for s in samples if s.error)),
    )
    for group, members in (("all", ok), ("en", [s for s in ok if s.language == "en"]), ("ja", [s for s in ok if s.language == "ja"])):
        report.ttft_ms[group] = _pcts([s.ttft_ms for s in members if s.ttft_ms is not None])
        report.final_ms[group] = _pcts([s.final_ms for s in members if s.final_ms is not None])
    return report


def print_report(levels: list[LevelReport], peak_rss_mb: float, notes: list[str]) -> None:
    """A table per level, then the targets."""
    print(f"{'conc':>4} {'turns':>5} {'err':>4} {'turns/s':>8} {'lang':>4} {'TTFT p50':>9} {'TTFT p99':>9} "
          f"{'final p50':>9} {'final p99':>9} {'srv CPU ms/turn':>15}")
    for lv in levels:
        for group in ("all", "en", "ja"):
            ttft, fin = lv.ttft_ms[group], lv.final_ms[group]
            lead = (f"{lv.concurrency:>4} {lv.turns:>5} {lv.errors:>4} {lv.turns_per_s:>8}" if group == "all"
                    else " " * 24)
            cpu = f"{lv.server_cpu_ms_per_turn:>15}" if group == "all" else ""
            print(f"{lead} {group:>4} {ttft['p50']:>9} {ttft['p99']:>9} {fin['p50']:>9} {fin['p99']:>9} {cpu}")
        print(f"{'':>4} tiers {lv.tiers}  client CPU {lv.client_cpu_ms_per_turn} ms/turn"
              + (f"  errors {lv.error_kinds}" if lv.errors else ""))
    print(f"server peak RSS (VmHWM): {peak_rss_mb:.0f} MB")
    for note in notes:
        print(f"note: {note}")
    by_conc = {lv.concurrency: lv for lv in levels}
    checks = [("server CPU per turn <= 15 ms", max(lv.server_cpu_ms_per_turn for lv in levels), TARGETS["cpu_ms_per_turn"])]
    if 32 in by_conc:
        checks.append((">= 60 turns/s at concurrency 32", by_conc[32].turns_per_s, TARGETS["turns_per_s_at_32"]))
    if 1 in by_conc:
        checks.append(("TTFT p50 <= 50 ms at concurrency 1", by_conc[1].ttft_ms["all"]["p50"], TARGETS["ttft_p50_ms_at_1"]))
    checks.append(("peak RSS <= 1.5 GB", round(peak_rss_mb), TARGETS["peak_rss_mb"]))
    for label, value, target in checks:
        met = value >= target if label.startswith(">=") else value <= target
        print(f"target {label}: {value} -> {'met' if met else 'MISSED'}")


def parse_levels(text: str) -> list[tuple[int, int]]:
    """`1x80,32x384` -> [(1, 80), (32, 384)]: concurrency x sessions."""
    levels = []
    for part in text.split(","):
        conc, _, count = part.partition("x")
        if not conc.isdigit() or not count.isdigit() or int(conc) < 1 or int(count) < 1:
            raise argparse.ArgumentTypeError(f"bad level {part!r}; expected CONCURRENCYxSESSIONS, e.g. 32x384")
        levels.append((int(conc), int(count)))
    return levels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=parse_levels, default=parse_levels("1x60,32x300"),
                        help="concurrency x sessions (1-2 turns each), comma-separated (default 1x60,32x300)")
    parser.add_argument("--warmup", type=int, default=20, help="sessions run before measuring (default 20)")
    parser.add_argument("--provider", choices=PROVIDERS, default="openai",
                        help="litellm provider the model tiers name the fake server with (default openai)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mangaassist-bench-") as tmp:
        workdir = Path(tmp)
        with fake_model(workdir) as model_base:
            env = service_settings(workdir / "var", model_base, provider=args.provider)
            with serve(env, workdir) as service:
                tokens = mint_tokens(env, CUSTOMERS)
                asyncio.run(drive(service.base, load_sessions(args.warmup, seed=1), 4, tokens))
                levels = []
                for concurrency, count in args.levels:
                    sessions = load_sessions(count, seed=concurrency)
                    cpu0, client0 = cpu_seconds(service.pid), time.process_time()
                    samples, wall = asyncio.run(drive(service.base, sessions, concurrency, tokens))
                    levels.append(summarise(concurrency, samples, wall, cpu_seconds(service.pid) - cpu0,
                                            time.process_time() - client0))
                peak = memory_mb(service.pid)
    notes = [
        "rate limits and the model call cap raised for the run: " + ", ".join(f"{k}={v}" for k, v in RAISED_LIMITS.items()),
        f"model: local fake server in its own process, {ANSWER_TOKENS}-token answers, no delay,"
        f" named through litellm's {args.provider!r} provider",
    ]
    if args.json:
        print(json.dumps({"levels": [lv.__dict__ for lv in levels], "peak_rss_mb": round(peak, 1), "notes": notes}))
    else:
        print_report(levels, peak, notes)
    return 1 if any(lv.errors for lv in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
