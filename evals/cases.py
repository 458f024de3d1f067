"""The labelled conversation format of the intent and end-to-end suites, and its loader.

One JSON object a line, in either form:

    {"text": "ワンピースの5巻はいくら？", "intent": "price_check", "language": "ja"}          # minimal
    {"id": "price-ja-001", "language": "ja", "category": "normal", "user_id": "C1001",
     "turns": [{"text": "…", "intent": "price_check",
                "expect": {"products": ["B0…"], "prices": ["B0…"], "series": ["one-piece"]}}]}

Product references in `products` / `prices` may be `prev:N`: the N-th product card (from 0) of the
previous turn, for follow-ups such as "how much is the first one?".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mangaassist.contracts import INTENTS, Intent, Language
# `as DataError`: re-exported, the eval suites and commands catch it under this module's name.
from tools.jsonl import DataError as DataError
from tools.jsonl import read_jsonl

Category = Literal["normal", "edge", "adversarial"]
OrderState = Literal["placed", "shipped", "in_transit", "delivered", "delayed", "cancelled", "returned"]
_PREV = re.compile(r"^prev:(\d+)$")
_ASIN = re.compile(r"^B0[A-Z0-9]{8}$")


class OrderFact(BaseModel):
    """An order the answer must describe, in the state the orders fixture holds."""

    model_config = ConfigDict(extra="forbid")

    order_id: str
    state: OrderState | None = None


class Expect(BaseModel):
    """What must hold for one turn's answer, beyond the checks every turn gets."""

    model_config = ConfigDict(extra="forbid")

    # Series (catalog ids) that must be shown as a card or named in the text; and must not be.
    series: list[str] = Field(default_factory=list)
    series_absent: list[str] = Field(default_factory=list)
    # Store ids (or `prev:N`) that must be among the product cards; and must not be.
    products: list[str] = Field(default_factory=list)
    products_absent: list[str] = Field(default_factory=list)
    # Store ids (or `prev:N`) whose current price, as the pricing tool quotes it, the text must state.
    prices: list[str] = Field(default_factory=list)
    # Series whose volume count (from the catalog) the text must state.
    volume_count: list[str] = Field(default_factory=list)
    order: OrderFact | None = None
    # Every product card must carry at least one of these genres.
    genres: list[str] = Field(default_factory=list)
    text_any: list[str] = Field(default_factory=list)
    text_absent: list[str] = Field(default_factory=list)
    guardrail: Literal["none", "modified", "blocked"] | None = None
    fired: list[str] = Field(default_factory=list)


class Turn(BaseModel):
    """One shopper message and what its answer must satisfy."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    intent: Intent | None = None
    expect: Expect = Field(default_factory=Expect)


class Case(BaseModel):
    """One conversation of the golden set (or of a store's own labelled traffic)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    language: Language
    category: Category = "normal"
    user_id: str | None = None
    turns: list[Turn] = Field(min_length=1)
    source: str = "golden"

    @model_validator(mode="after")
    def _references(self) -> Case:
        for i, turn in enumerate(self.turns):
            for ref in turn.expect.products + turn.expect.prices + turn.expect.products_absent:
                m = _PREV.match(ref)
                if m is None and not _ASIN.match(ref):
                    raise ValueError(f"turn {i + 1}: {ref!r} is neither a store id nor prev:N")
                if m is not None and i == 0:
                    raise ValueError(f"turn 1: {ref!r} refers to a previous turn that does not exist")
        return self


class MinimalCase(BaseModel):
    """The minimal form: one message, its expected intent and language."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1)
    intent: Intent
    language: Language
    id: str | None = None
    category: Category = "normal"

    def to_case(self, default_id: str, source: str) -> Case:
        return Case(id=self.id or default_id, language=self.language, category=self.category,
                    turns=[Turn(text=self.text, intent=self.intent)], source=source)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "literal_error" and err["loc"] and err["loc"][-1] == "intent":
        return f"unknown intent {err['input']!r} (expected one of {', '.join(INTENTS)})"
    return f"{where}: {err['msg']}" if where else err["msg"]


def parse_case(obj: dict[str, object], lineno: int, path: Path, source: str) -> Case:
    """One case from one line's object, or a `DataError` naming the file and line."""
    try:
        if "turns" in obj:
            return Case.model_validate({**obj, "source": source})
        return MinimalCase.model_validate(obj).to_case(f"{source}-{lineno}", source)
    except ValidationError as exc:
        raise DataError(f"{path}:{lineno}: {_first_error(exc)}") from exc


def load_cases(path: Path, source: str | None = None) -> list[Case]:
    """Every case of a labelled JSONL file; ids must be unique."""
    if not path.is_file():
        raise DataError(f"data file {path} not found")
    source = source or path.stem
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for lineno, obj in read_jsonl(path):
        case = parse_case(obj, lineno, path, source)
        if case.id in seen:
            raise DataError(f"{path}:{lineno}: duplicate id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = lineno
        cases.append(case)
    if not cases:
        raise DataError(f"{path}: no cases")
    return cases
