"""The release gate on a small deterministic sample of the golden set (the fast subset of `make eval`),
and the same gate failing on a deliberately mislabelled file."""

from __future__ import annotations

import json
from pathlib import Path

from evals.conversations import CaseRecord
from evals.metrics import intent_metrics
from evals.suites import Run


def _evaluated(report) -> dict[str, str]:
    return {g["metric"]: g["status"] for g in report["gates"] if g["status"] != "skipped"}


async def test_gate_passes_on_a_golden_sample():
    e2e = await Run("e2e", None, sample_size=80, show_progress=False).execute()
    intent = await Run("intent", None, sample_size=120, show_progress=False).execute()
    for report in (e2e, intent):
        failed = [g for g in report["gates"] if g["status"] == "fail"]
        assert report["gate_passed"], failed
    assert {"e2e.ungrounded_prices", "e2e.ungrounded_ids", "e2e.case_pass_rate.ja"} <= set(_evaluated(e2e))
    assert {"intent.accuracy", "intent.accuracy.en", "intent.accuracy.ja"} <= set(_evaluated(intent))
    assert e2e["judge"]["status"] == "skipped"
    # Every case was checked, and the figures follow from the per-case records.
    assert len(e2e["cases"]) == 80 and all(t["checks"] for c in e2e["cases"] for t in c["turns"])
    turns = [t for c in intent["cases"] for t in c["turns"] if t["expected_intent"]]
    correct = sum(t["predicted_intent"] == t["expected_intent"] for t in turns)
    assert intent["metrics"]["intent.accuracy"] == round(correct / len(turns), 4)
    assert {c["source"] for c in intent["cases"]} == {"golden", "dev"}


async def test_gate_fails_on_a_mislabelled_file(tmp_path: Path):
    wrong = [
        ("recommend some horror manga like Junji Ito", "escalation", "en"),
        ("where is my order MA-10002?", "recommendation", "en"),
        ("what's the capital of France?", "price_check", "en"),
        ("hello there!", "return_request", "en"),
        ("ワンピースの5巻はいくら？", "chitchat", "ja"),
        ("人間と話したい", "product_search", "ja"),
        ("送料はいくらかかりますか？", "order_status", "ja"),
        ("返品したいです", "store_faq", "ja"),
    ]
    path = tmp_path / "wrong.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "intent": i, "language": lang}, ensure_ascii=False)
                              for t, i, lang in wrong) + "\n", encoding="utf-8")
    report = await Run("intent", path, show_progress=False).execute()
    assert not report["gate_passed"]
    assert _evaluated(report) == {"intent.accuracy": "fail", "intent.accuracy.en": "fail", "intent.accuracy.ja": "fail"}
    assert report["metrics"]["intent.accuracy"] == 0.0
    assert intent_metrics([CaseRecord.model_validate(c) for c in report["cases"]])["overall"]["accuracy"] == 0.0
