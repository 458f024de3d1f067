"""Run labelled conversations through the real turn graph, in process, and check every answer.

Each case gets its own session on a private checkpointer, so follow-ups resolve against what the
case itself was shown. The records hold inputs, outputs, every check's verdict and the timings:
enough to recompute every figure of the report.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from evals.cases import Case
from evals.validators import CheckResult, Truth, always_checks, expect_checks
from graph.runner import InputRejected, TurnRunner
from mangaassist.contracts import TurnResult
from mangaassist.settings import Settings


class TurnRecord(BaseModel):
    """One turn: what was asked, what came back, and each check's verdict."""

    index: int
    text: str
    expected_intent: str | None
    predicted_intent: str | None
    intent_confidence: float | None = None
    answer_language: str | None = None
    answer: str = ""
    products: list[dict[str, Any]] = Field(default_factory=list)
    model_tier: str | None = None
    guardrail_action: str | None = None
    guardrails_fired: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    latency_ms: float = 0.0
    error: str | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    judge: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        """Every check held and the turn produced an answer."""
        return self.error is None and all(c.passed for c in self.checks)


class CaseRecord(BaseModel):
    """One conversation's outcome."""

    id: str
    source: str
    language: str
    category: str
    user_id: str | None
    turns: list[TurnRecord]
    passed: bool = False


def _record(index: int, text: str, expected: str | None, result: TurnResult, latency_ms: float) -> TurnRecord:
    return TurnRecord(
        index=index,
        text=text,
        expected_intent=expected,
        predicted_intent=result.intent,
        intent_confidence=result.intent_confidence,
        answer_language=result.language,
        answer=result.text,
        products=[{"asin": c.asin, "series_id": c.series_id, "volume": c.volume, "language": c.language,
                   "format": c.format, "price": c.price, "currency": c.currency, "genres": c.genres}
                  for c in result.products],
        model_tier=result.metadata.model_tier,
        guardrail_action=result.metadata.guardrail_action,
        guardrails_fired=list(result.metadata.guardrails_fired),
        timings_ms=dict(result.metadata.timings_ms),
        latency_ms=round(latency_ms, 3),
    )


async def _run_case(runner: TurnRunner, case: Case, truth: Truth, checked: bool) -> CaseRecord:
    session = f"eval-{case.source}-{case.id}"
    previous: TurnResult | None = None
    turns: list[TurnRecord] = []
    for i, turn in enumerate(case.turns):
        start = time.perf_counter()
        try:
            result = await runner.run(turn.text, session_id=session, user_id=case.user_id)
        except InputRejected as exc:
            turns.append(TurnRecord(index=i, text=turn.text, expected_intent=turn.intent, predicted_intent=None,
                                    error=f"input rejected: {exc}"))
            previous = None
            continue
        record = _record(i, turn.text, turn.intent, result, (time.perf_counter() - start) * 1000)
        if turn.intent is not None:
            ok = result.intent == turn.intent
            record.checks.append(CheckResult(name="intent", passed=ok,
                                             reason="" if ok else f"{result.intent}, expected {turn.intent}"))
        if checked:
            record.checks += await always_checks(result, case.language, truth, case.user_id)
            record.checks += await expect_checks(result, turn.expect, previous, truth)
        turns.append(record)
        previous = result
    return CaseRecord(id=case.id, source=case.source, language=case.language, category=case.category,
                      user_id=case.user_id, turns=turns, passed=all(t.passed for t in turns))


async def run_cases(
    cases: list[Case],
    settings: Settings,
    services: Any,
    *,
    checked: bool = True,
    advance: Callable[[], None] | None = None,
) -> list[CaseRecord]:
    """Run every case through the graph on a throwaway checkpointer; `checked=False` records the
    intent check only (the intent suite on plain labelled utterances)."""
    truth = Truth.load(services)
    records: list[CaseRecord] = []
    with tempfile.TemporaryDirectory(prefix="mangaassist-eval-") as tmp:
        private = settings.model_copy(update={"data_dir": Path(tmp)})
        async with TurnRunner(private) as runner:
            for case in cases:
                records.append(await _run_case(runner, case, truth, checked))
                if advance is not None:
                    advance()
    return records
