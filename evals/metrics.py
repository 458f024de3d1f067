"""Figures computed from case records: intent accuracy with Wilson intervals, confusion matrices,
end-to-end check outcomes, latency per node and guardrail outcomes, each per language and category."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from evals.conversations import CaseRecord, TurnRecord
from evals.stats import percentile
from mangaassist.contracts import INTENTS

LANGUAGES = ("en", "ja")
# Check name -> the e2e metric counting the turns that failed it (gated at zero).
NEVER = {
    "store_ids": "ungrounded_ids",
    "text_prices": "ungrounded_prices",
    "card_prices": "ungrounded_prices",
    "discounts": "invented_discounts",
    "competitors": "competitor_mentions",
    "pii": "pii_leaks",
    "order": "order_state_errors",
}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (95% by default)."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def rate(k: int, n: int) -> dict[str, Any]:
    """Successes, trials, proportion and its Wilson interval."""
    return {"n": n, "correct": k, "accuracy": round(k / n, 4) if n else None, "ci95": list(wilson(k, n))}


def _intent_turns(records: Iterable[CaseRecord]) -> list[tuple[CaseRecord, TurnRecord]]:
    return [(c, t) for c in records for t in c.turns if t.expected_intent is not None]


def _confusion(pairs: list[tuple[CaseRecord, TurnRecord]]) -> dict[str, Any]:
    labels = list(INTENTS) + ["(rejected)"]
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for _, t in pairs:
        matrix[index[t.expected_intent or "(rejected)"]][index[t.predicted_intent or "(rejected)"]] += 1
    return {"labels": labels, "rows_expected_columns_predicted": matrix}


def intent_metrics(records: list[CaseRecord]) -> dict[str, Any]:
    """Accuracy of the routed intent on every labelled turn: overall, per language, per category,
    per source file and per intent within each language, with confusion matrices."""
    pairs = _intent_turns(records)

    def acc(sel: list[tuple[CaseRecord, TurnRecord]]) -> dict[str, Any]:
        return rate(sum(t.predicted_intent == t.expected_intent for _, t in sel), len(sel))

    def group(key: Any) -> dict[str, Any]:
        buckets: dict[str, list[tuple[CaseRecord, TurnRecord]]] = defaultdict(list)
        for pair in pairs:
            buckets[key(pair)].append(pair)
        return {k: acc(v) for k, v in sorted(buckets.items())}

    per_intent = {
        lang: {intent: acc([p for p in pairs if p[0].language == lang and p[1].expected_intent == intent])
               for intent in INTENTS}
        for lang in LANGUAGES
    }
    return {
        "overall": acc(pairs),
        "by_language": {lang: acc([p for p in pairs if p[0].language == lang]) for lang in LANGUAGES},
        "by_category": group(lambda p: p[0].category),
        "by_source": group(lambda p: p[0].source),
        "by_source_language": group(lambda p: f"{p[0].source}/{p[0].language}"),
        "per_intent": per_intent,
        "confusion": {"all": _confusion(pairs), **{lang: _confusion([p for p in pairs if p[0].language == lang]) for lang in LANGUAGES}},
    }


def _failed(turn: TurnRecord, names: set[str]) -> bool:
    return any(c.name in names and not c.passed for c in turn.checks)


def e2e_metrics(records: list[CaseRecord]) -> dict[str, Any]:
    """Case and turn pass rates and the count of turns failing each must-never check, per language
    and category; check failures by name; latency per node; guardrail outcomes."""

    def summary(cases: list[CaseRecord]) -> dict[str, Any]:
        turns = [t for c in cases for t in c.turns]
        out: dict[str, Any] = {
            "cases": len(cases),
            "case_pass_rate": round(sum(c.passed for c in cases) / len(cases), 4) if cases else None,
            "case_pass_ci95": list(wilson(sum(c.passed for c in cases), len(cases))),
            "turns": len(turns),
            "turn_pass_rate": round(sum(t.passed for t in turns) / len(turns), 4) if turns else None,
            "errors": sum(t.error is not None for t in turns),
        }
        for metric in sorted(set(NEVER.values())):
            names = {k for k, v in NEVER.items() if v == metric}
            out[metric] = sum(_failed(t, names) for t in turns)
        out["language_mismatches"] = sum(_failed(t, {"language"}) for t in turns)
        return out

    failures: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
    for c in records:
        for t in c.turns:
            failures[c.language].update(ch.name for ch in t.checks if not ch.passed)
    categories = sorted({c.category for c in records})
    return {
        "overall": summary(records),
        "by_language": {lang: summary([c for c in records if c.language == lang]) for lang in LANGUAGES},
        "by_category": {cat: summary([c for c in records if c.category == cat]) for cat in categories},
        "by_category_language": {f"{cat}/{lang}": summary([c for c in records if c.category == cat and c.language == lang])
                                 for cat in categories for lang in LANGUAGES},
        "check_failures": {lang: dict(sorted(v.items())) for lang, v in failures.items()},
        "latency_ms": latency(records),
        "guardrail_outcomes": guardrail_outcomes(records),
    }


def latency(records: list[CaseRecord]) -> dict[str, Any]:
    """Whole-turn and per-node latency (p50/p95/max, ms) per language, from `metadata.timings_ms`."""
    out: dict[str, Any] = {}
    for lang in LANGUAGES:
        turns = [t for c in records if c.language == lang for t in c.turns if t.error is None]
        nodes: dict[str, list[float]] = defaultdict(list)
        for t in turns:
            for node, ms in t.timings_ms.items():
                nodes[node].append(ms)
        whole = [t.latency_ms for t in turns]
        out[lang] = {
            "turn": {"n": len(whole), "p50": round(percentile(whole, 50), 3), "p95": round(percentile(whole, 95), 3),
                     "max": round(max(whole, default=0.0), 3)},
            "nodes": {node: {"n": len(v), "p50": round(percentile(v, 50), 3), "p95": round(percentile(v, 95), 3),
                             "max": round(max(v), 3)} for node, v in sorted(nodes.items())},
        }
    return out


def guardrail_outcomes(records: list[CaseRecord]) -> dict[str, Any]:
    """How often the output chain left an answer alone, modified it or blocked it, and which stage fired."""
    out: dict[str, Any] = {}
    for lang in LANGUAGES:
        turns = [t for c in records if c.language == lang for t in c.turns if t.error is None]
        out[lang] = {
            "actions": dict(Counter(t.guardrail_action or "none" for t in turns)),
            "fired": dict(Counter(f for t in turns for f in t.guardrails_fired)),
        }
    return out


def flat_metrics(intent: dict[str, Any] | None, e2e: dict[str, Any] | None,
                 guardrails: dict[str, Any] | None, retrieval: dict[str, Any] | None) -> dict[str, float | None]:
    """The gateable figures as `suite.metric[.language]` keys."""
    flat: dict[str, float | None] = {}
    if intent is not None:
        flat["intent.accuracy"] = intent["overall"]["accuracy"]
        for lang, r in intent["by_language"].items():
            flat[f"intent.accuracy.{lang}"] = r["accuracy"]
    if e2e is not None:
        for scope, s in [("", e2e["overall"]), *((f".{k}", v) for k, v in e2e["by_language"].items())]:
            flat[f"e2e.case_pass_rate{scope}"] = s["case_pass_rate"]
            for metric in [*sorted(set(NEVER.values())), "language_mismatches", "errors"]:
                flat[f"e2e.{metric}{scope}"] = s[metric]
    if guardrails is not None:
        flat["guardrails.detection_rate"] = guardrails.get("detection_rate")
        flat["guardrails.false_positive_rate"] = guardrails.get("false_positive_rate")
        for lang, r in guardrails.get("by_language", {}).items():
            flat[f"guardrails.detection_rate.{lang}"] = r.get("detection_rate")
            flat[f"guardrails.false_positive_rate.{lang}"] = r.get("false_positive_rate")
    if retrieval is not None:
        for key, value in retrieval.get("metrics", {}).items():
            flat[f"retrieval.{key}"] = value
    return flat
