"""Optional model judge: tone and helpfulness scored against a rubric, through litellm.

It runs only when a model tier is configured (the same `MANGAASSIST_LLM_*` settings and credential
detection as the graph); otherwise the report says it was skipped. Facts are never left to it: its
verdicts are compared with the deterministic checks and the agreement is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import litellm
from pydantic import BaseModel, Field, ValidationError

import prompts
from evals.conversations import CaseRecord, TurnRecord
from graph.models import ModelTier, get_model_tiers

_LANGUAGE_NAMES = {"en": "English", "ja": "Japanese"}
_JSON = re.compile(r"\{.*\}", re.S)
# A turn the judge scores at least this on both axes counts as a good answer.
GOOD_SCORE = 3


class Verdict(BaseModel):
    """The judge's scores for one answer."""

    tone: int = Field(ge=1, le=5)
    helpfulness: int = Field(ge=1, le=5)
    reason: str = ""


def judge_tier() -> ModelTier | None:
    """The configured model the judge uses (primary first), or None when no model is configured."""
    tiers = get_model_tiers()
    return next((tiers[name] for name in ("primary", "secondary") if tiers[name].enabled), None)


async def _score(tier: ModelTier, turn: TurnRecord, language: str, timeout_s: float) -> Verdict:
    prompt = prompts.render("eval_judge.j2", language_name=_LANGUAGE_NAMES.get(language, language),
                            question=turn.text, answer=turn.answer)
    kwargs: dict[str, Any] = {}
    if tier.api_base:
        kwargs["api_base"] = tier.api_base
    if tier.api_key:
        kwargs["api_key"] = tier.api_key
    response = await litellm.acompletion(model=tier.model, messages=[{"role": "user", "content": prompt}],
                                         temperature=0, max_tokens=200, timeout=timeout_s, **kwargs)
    content = response.choices[0].message.content or ""
    match = _JSON.search(content)
    if match is None:
        raise ValueError("no JSON object in the judge's reply")
    return Verdict.model_validate(json.loads(match.group()))


def _kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    pa, pb = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return None if expected == 1 else round((observed - expected) / (1 - expected), 4)


async def run_judge(records: list[CaseRecord], limit: int, timeout_s: float,
                    advance: Callable[[], None] | None = None) -> dict[str, Any]:
    """Score up to `limit` answered turns (spread over the run, both languages) and report the
    judge's agreement with the deterministic checks; `{"status": "skipped"}` without a model."""
    tier = judge_tier()
    if tier is None:
        return {"status": "skipped", "reason": "no model configured (MANGAASSIST_LLM_MODE / credentials)"}
    turns = [(c, t) for c in records for t in c.turns if t.error is None and t.answer]
    step = max(1, len(turns) // max(1, limit))
    chosen = turns[::step][:limit]
    errors = 0
    pairs: dict[str, list[tuple[bool, bool]]] = {"en": [], "ja": []}
    for case, turn in chosen:
        try:
            verdict = await _score(tier, turn, case.language, timeout_s)
        except (litellm.exceptions.APIError, litellm.exceptions.OpenAIError, ValueError, ValidationError,
                TimeoutError) as exc:
            errors += 1
            turn.judge = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        else:
            good = min(verdict.tone, verdict.helpfulness) >= GOOD_SCORE
            turn.judge = {**verdict.model_dump(), "good": good}
            pairs.setdefault(case.language, []).append((good, turn.passed))
        if advance is not None:
            advance()

    def agreement(sel: list[tuple[bool, bool]]) -> dict[str, Any]:
        return {
            "judged": len(sel),
            "agreement": round(sum(a == b for a, b in sel) / len(sel), 4) if sel else None,
            "kappa": _kappa(sel),
            "judge_good_checks_failed": sum(a and not b for a, b in sel),
            "judge_bad_checks_passed": sum(b and not a for a, b in sel),
        }

    scored = [t.judge for _, t in chosen if t.judge and "error" not in t.judge]
    return {
        "status": "ran",
        "model": tier.model,
        "turns": len(chosen),
        "errors": errors,
        "mean_tone": round(sum(s["tone"] for s in scored) / len(scored), 3) if scored else None,
        "mean_helpfulness": round(sum(s["helpfulness"] for s in scored) / len(scored), 3) if scored else None,
        "overall": agreement([p for v in pairs.values() for p in v]),
        "by_language": {lang: agreement(v) for lang, v in pairs.items()},
    }
