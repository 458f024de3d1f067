"""The turn graph's state: conversation memory plus the fields one turn fills in."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any, NotRequired, TypedDict, get_args, get_type_hints

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from pydantic import ConfigDict
from pydantic.json_schema import SkipJsonSchema

from graph.speculation import Speculation

RESET = "__reset__"


def merge_or_reset(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Merge parallel writers' dicts; a write of `{RESET: True}` starts the turn afresh."""
    if right and right.get(RESET):
        return {k: v for k, v in right.items() if k != RESET}
    return {**(left or {}), **(right or {})}


class InputState(TypedDict):
    """What a caller sends for one turn."""

    message: str
    request_id: NotRequired[str]


class OutputState(TypedDict):
    """What a turn returns: the turn result JSON (see `mangaassist.contracts.TurnResult`)."""

    result: dict[str, Any]


class State(TypedDict):
    """Everything the graph keeps; conversation fields persist across turns of a thread."""

    # Conversation memory (checkpointed per session).
    messages: Annotated[list[AnyMessage], add_messages]
    summary: NotRequired[str]
    turn_count: NotRequired[int]
    last_products: NotRequired[list[str]]
    last_list: NotRequired[list[str]]  # the last several-product answer ("the second one" points here)
    last_series: NotRequired[list[str]]
    last_intent: NotRequired[str | None]

    # This turn.
    message: str
    request_id: NotRequired[str]
    user_text: NotRequired[str]
    language: NotRequired[str]
    input_issue: NotRequired[dict[str, Any] | None]
    input_pii: NotRequired[list[str]]
    intent: NotRequired[str]
    intent_confidence: NotRequired[float]
    intent_stage: NotRequired[str]
    entities: NotRequired[dict[str, Any]]
    retrieval: NotRequired[dict[str, Any]]
    plan: NotRequired[dict[str, Any]]
    tool_results: Annotated[dict[str, Any], merge_or_reset]
    prompt: NotRequired[dict[str, Any]]
    tier_errors: Annotated[dict[str, Any], merge_or_reset]
    draft: NotRequired[dict[str, Any] | None]
    guarded: NotRequired[dict[str, Any]]
    timings_ms: Annotated[dict[str, Any], merge_or_reset]
    result: NotRequired[dict[str, Any]]


# Each reduced field's reducer, from its annotation.
REDUCERS = {
    name: get_args(hint)[1]
    for name, hint in get_type_hints(State, include_extras=True).items()
    if len(get_args(hint)) == 2 and callable(get_args(hint)[1])
}


def updated(state: State, update: dict[str, Any]) -> State:
    """The state as it is once `update` is applied (reduced fields through their reducers)."""
    view: dict[str, Any] = {**state}
    for key, value in update.items():
        reducer = REDUCERS.get(key)
        view[key] = reducer(state.get(key), value) if reducer is not None else value
    return view  # type: ignore[return-value]


@dataclass(kw_only=True)
class Context:
    """Per-run settings a caller supplies; never taken from the model."""

    session_id: str = "default"
    # When the turn started (monotonic clock): every deadline of the turn counts from here.
    started: float = field(default_factory=time.monotonic)
    user_id: str | None = None
    context_hints: dict[str, str] = field(default_factory=dict)
    stream_chunk_chars: int = 24
    # The run's speculative search (graph/speculation.py); the run's own, never a caller's, so it
    # stays out of the context's JSON schema (LangGraph Studio's context form).
    speculation: SkipJsonSchema[Speculation] = field(default_factory=Speculation, repr=False, compare=False)

    # A plain object among the fields: pydantic (which LangGraph uses for the schema) must accept it.
    __pydantic_config__ = ConfigDict(arbitrary_types_allowed=True)


def context_of(runtime: Runtime[Context]) -> Context:
    """The run's context; runs started without one (e.g. from Studio) get the defaults."""
    return runtime.context if runtime.context is not None else Context()
