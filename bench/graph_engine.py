"""The graph engine's own cost: LangGraph running the turn graph's shape with steps that do nothing.

    .venv/bin/python bench/graph_engine.py [--turns 400] [--json]

Builds a graph with the turn graph's state, context, nodes and edges (read off `graph.builder`),
each node replaced by a step that only returns a small update (its timing, and what a real turn's
step of that name writes: the reset markers, a message, a draft, the result) and, where the real
node chooses the next step, the next step of a recommendation turn: validate_input -> routing and
the speculative search -> plan_tools -> search_catalog and recommend_products -> assemble_prompt
-> generate_primary (four token events on the custom stream) -> apply_guardrails -> finalize. It
runs that turn the way `TurnRunner` does (SQLite checkpointer, `stream_mode="custom"`, one
checkpoint at the end, sessions of several turns, memory kept to the last turns) and prints the CPU a turn costs the process and
its event-loop thread: the floor of a turn's CPU before any of its work is done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage  # noqa: E402
from langgraph.checkpoint.base import BaseCheckpointSaver  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: E402
from langgraph.config import get_stream_writer  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.types import Command  # noqa: E402

from graph.builder import builder as turn_graph  # noqa: E402
from graph.state import RESET, Context, InputState, OutputState, State  # noqa: E402
from mangaassist.settings import get_settings  # noqa: E402

# Where a recommendation turn goes from each node that chooses its next step.
PATH: dict[str, str | list[str]] = {
    "validate_input": ["classify_intent", "speculative_retrieve"],
    "plan_tools": ["search_catalog", "recommend_products"],
    "assemble_prompt": "generate_primary",
    "generate_primary": "apply_guardrails",
    "generate_secondary": "apply_guardrails",
    "respond_from_cache": "apply_guardrails",
}
ANSWER_EVENTS = 4  # 20 tokens of 4 characters, sent in 24-character chunks


def step(name: str) -> Callable[[State, Any], Awaitable[dict[str, Any] | Command[Any]]]:
    """A node that does nothing but what the engine must carry: its update and its next step."""

    async def run(state: State, runtime: Any) -> dict[str, Any] | Command[Any]:
        update: dict[str, Any] = {"timings_ms": {name: 0.1}}
        if name == "validate_input":
            request = f"r{time.monotonic_ns()}"
            update.update(request_id=request, intent="out_of_scope", draft=None, result={},
                          tool_results={RESET: True}, tier_errors={RESET: True}, timings_ms={RESET: True, name: 0.1},
                          messages=[HumanMessage(content=state["message"], id=f"u-{request}")])
        elif name == "classify_intent":
            update.update(intent="recommendation", intent_confidence=0.9, intent_stage="rules", entities={})
        elif name in ("search_catalog", "recommend_products"):
            update["tool_results"] = {name: [{"series_id": f"s{i}", "score": 0.5} for i in range(5)]}
        elif name == "assemble_prompt":
            update["prompt"] = {"system": "s" * 800, "context": "c" * 3000}
        elif name == "generate_primary":
            writer = get_stream_writer()
            for _ in range(ANSWER_EVENTS):
                writer({"type": "token", "text": "abcd" * 6})
            update["draft"] = {"text": "abcd" * 20, "tier": "primary"}
        elif name == "apply_guardrails":
            update["guarded"] = {"text": "abcd" * 20, "action": "none", "fired": []}
        elif name == "finalize":
            update["result"] = {"text": "abcd" * 20, "products": []}
            # Memory keeps the last `history_turns` turns, as `finalize` does.
            keep = 2 * get_settings().history_turns
            old = state["messages"][: max(0, len(state["messages"]) + 1 - keep)]
            update["messages"] = [RemoveMessage(id=m.id) for m in old if m.id] + [
                AIMessage(content="abcd" * 20, id=f"a-{state['request_id']}")
            ]
            get_stream_writer()({"type": "final", "result": update["result"]})
        goto = PATH.get(name)
        return Command(update=update, goto=goto) if goto is not None else update

    run.__name__ = name
    return run


def hollow_graph() -> StateGraph:
    """The turn graph's shape (`graph.builder`) with every node hollowed out."""
    hollow = StateGraph(State, context_schema=Context, input_schema=InputState, output_schema=OutputState)
    for name, spec in turn_graph.nodes.items():
        hollow.add_node(name, step(name), destinations=tuple(spec.ends or ()) or None)
    for start, end in turn_graph.edges:
        hollow.add_edge(start, end)
    for starts, end in turn_graph.waiting_edges:
        hollow.add_edge(list(starts), end)
    if turn_graph.branches:
        raise SystemExit("the turn graph has conditional edges this benchmark does not rebuild")
    return hollow


@contextlib.asynccontextmanager
async def checkpointer(kind: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The service's SQLite checkpointer in a temporary directory, or LangGraph's in-memory one."""
    if kind == "memory":
        yield InMemorySaver()
        return
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncSqliteSaver.from_conn_string(str(Path(tmp) / "checkpoints.sqlite")) as saver:
            yield saver


async def measure(turns: int, kind: str = "sqlite", sessions: int = 50) -> dict[str, Any]:
    """CPU per turn of the hollow graph, process and event-loop thread, after a warm-up."""
    async with checkpointer(kind) as saver:
        graph = hollow_graph().compile(checkpointer=saver)

        async def turn(i: int) -> None:
            config: Any = {"configurable": {"thread_id": f"session-{i % sessions}"}}
            result = None
            async for event in graph.astream(
                {"message": "horror manga like Uzumaki"}, config, context=Context(),
                stream_mode="custom", durability="exit",
            ):
                if event["type"] == "final":
                    result = event["result"]
            assert result is not None, "the hollow turn ended without a result"

        for i in range(sessions):
            await turn(i)
        state = await graph.aget_state({"configurable": {"thread_id": "session-0"}})
        visited = set(state.values.get("timings_ms", {}))
        cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
        for i in range(turns):
            await turn(i)
        return {
            "checkpointer": kind,
            "turns": turns,
            "nodes_run": len(visited),
            "cpu_ms_per_turn": round((time.process_time() - cpu) / turns * 1000, 2),
            "loop_thread_ms_per_turn": round((time.thread_time() - thread) / turns * 1000, 2),
            "wall_ms_per_turn": round((time.perf_counter() - wall) / turns * 1000, 2),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=400, help="turns measured after the warm-up (default 400)")
    parser.add_argument("--checkpointer", choices=("sqlite", "memory"), default="sqlite",
                        help="the service's SQLite checkpointer (default) or LangGraph's in-memory one")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    report = asyncio.run(measure(args.turns, args.checkpointer))
    if args.json:
        print(json.dumps(report))
    else:
        print(f"hollow turn graph, {report['nodes_run']} nodes a turn, {report['turns']} turns one at a time, "
              f"{report['checkpointer']} checkpointer:")
        print(f"  CPU per turn {report['cpu_ms_per_turn']} ms (event-loop thread {report['loop_thread_ms_per_turn']} ms), "
              f"wall {report['wall_ms_per_turn']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
