"""The report of an evaluation run: `report.json` (every case's record), `summary.md`, the plots,
and the comparison with a previous run's `report.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.cases import DataError
from evals.guardrails import format_report as format_guardrails
from evals.metrics import LANGUAGES
from evals.plots import write_plots


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _ci(r: dict[str, Any]) -> str:
    return f"{_pct(r['accuracy'])} [{_pct(r['ci95'][0])}, {_pct(r['ci95'][1])}] (n={r['n']})"


def compare(report: dict[str, Any], baseline_path: Path) -> dict[str, Any]:
    """Cases that passed in the baseline run and fail now (regressed), and the reverse (improved)."""
    try:
        baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
        before = {(c["source"], c["id"]): bool(c["passed"]) for c in baseline["cases"]}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"baseline {baseline_path}: not a report.json of `mangaassist eval` ({exc})") from exc
    now = {(c["source"], c["id"]): bool(c["passed"]) for c in report["cases"]}
    shared = now.keys() & before.keys()
    return {
        "baseline": str(baseline_path),
        "compared": len(shared),
        "regressed": sorted(f"{s}/{i}" for s, i in shared if before[(s, i)] and not now[(s, i)]),
        "improved": sorted(f"{s}/{i}" for s, i in shared if now[(s, i)] and not before[(s, i)]),
        "new": len(now.keys() - before.keys()),
        "missing": len(before.keys() - now.keys()),
        "metric_deltas": {k: round(v - baseline["metrics"][k], 4) for k, v in report["metrics"].items()
                          if isinstance(v, int | float) and isinstance(baseline.get("metrics", {}).get(k), int | float)},
    }


def failing_cases(report: dict[str, Any], limit: int = 40) -> list[str]:
    """One line per failing turn: case, language, category, the failed checks and why."""
    lines = []
    for case in report.get("cases", []):
        for turn in case["turns"]:
            failed = [c for c in turn["checks"] if not c["passed"]]
            if turn.get("error"):
                failed.append({"name": "error", "reason": turn["error"]})
            if failed:
                why = "; ".join(f"{c['name']}: {c['reason']}" for c in failed)
                lines.append(f"{case['source']}/{case['id']} [{case['language']}, {case['category']}] turn {turn['index'] + 1} "
                             f"\"{turn['text'][:60]}\" — {why[:220]}")
    return lines[:limit] + ([f"… and {len(lines) - limit} more in report.json"] if len(lines) > limit else [])


def summary(report: dict[str, Any]) -> str:
    """The Markdown summary: gate verdicts, then each suite's figures per language and category."""
    out = [f"# Evaluation: suite `{report['suite']}` ({report['created']})", ""]
    if data := report.get("data"):
        excluded = data["excluded_training_overlap"]
        out += [f"Data: {', '.join(data['files'])}: {data['cases']} conversations"
                + (f" ({len(excluded)} left out: they contain training utterances)" if excluded else ""), ""]
    verdict = "PASSED" if report["gate_passed"] else "FAILED"
    out += [f"## Gate: {verdict}", "", "| metric | threshold | value | status |", "|---|---|---|---|"]
    for g in report["gates"]:
        if g["status"] != "skipped":
            out.append(f"| {g['metric']} | {g['threshold']} | {g['value']:.4g} | {g['status']} |")
    if skipped := [g["metric"] for g in report["gates"] if g["status"] == "skipped"]:
        out += ["", f"Not evaluated by this run (skipped): {', '.join(skipped)}"]
    if intent := report.get("intent"):
        out += ["", "## Intent (held-out)", "", f"Overall: {_ci(intent['overall'])}", "",
                "| slice | accuracy [95% CI] |", "|---|---|"]
        for lang in LANGUAGES:
            out.append(f"| {lang} | {_ci(intent['by_language'][lang])} |")
        for key, r in intent["by_category"].items():
            out.append(f"| category {key} | {_ci(r)} |")
        for key, r in intent["by_source_language"].items():
            out.append(f"| {key} | {_ci(r)} |")
        out += ["", "| intent | en | ja |", "|---|---|---|"]
        for name in intent["per_intent"]["en"]:
            cells = [_ci(intent["per_intent"][lang][name]) if intent["per_intent"][lang][name]["n"] else "–" for lang in LANGUAGES]
            out.append(f"| {name} | {' | '.join(cells)} |")
    if e2e := report.get("e2e"):
        cols = ["cases", "case_pass_rate", "turns", "turn_pass_rate", "ungrounded_prices", "ungrounded_ids",
                "invented_discounts", "competitor_mentions", "pii_leaks", "order_state_errors", "language_mismatches", "errors"]
        out += ["", "## End to end", "", "| slice | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        rows = [("all", e2e["overall"])] + list(e2e["by_language"].items()) + list(e2e["by_category_language"].items())
        for name, s in rows:
            cells = [_pct(s[c]) if c.endswith("rate") else str(s[c]) for c in cols]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out += ["", "Failed checks (turns), per language: "
                + "; ".join(f"{lang}: {json.dumps(v, ensure_ascii=False)}" for lang, v in e2e["check_failures"].items())]
        out += ["", "Turn latency (ms): " + "; ".join(
            f"{lang} p50 {v['turn']['p50']:.1f}, p95 {v['turn']['p95']:.1f}" for lang, v in e2e["latency_ms"].items())]
    if judge := report.get("judge"):
        if judge["status"] == "ran":
            o = judge["overall"]
            out += ["", f"## Model judge ({judge['model']})", "",
                    f"{o['judged']} turns judged ({judge['errors']} errors); mean tone {judge['mean_tone']}, "
                    f"helpfulness {judge['mean_helpfulness']}; agreement with the deterministic checks "
                    f"{_pct(o['agreement'])} (kappa {o['kappa']})"]
            for lang, a in judge["by_language"].items():
                out.append(f"- {lang}: {a['judged']} judged, agreement {_pct(a['agreement'])}, kappa {a['kappa']}")
        else:
            out += ["", f"## Model judge: skipped ({judge['reason']})"]
    if guards := report.get("guardrails"):
        out += ["", "## Guardrails", "", "```", format_guardrails(guards), "```"]
    if (retrieval := report.get("retrieval")) is not None:
        out += ["", "## Retrieval", ""]
        if retrieval["status"] == "ran":
            out += [f"- {k}: {v:.4f}" for k, v in sorted(retrieval["metrics"].items())]
        else:
            out.append(f"Skipped: {retrieval['reason']}")
    if cmp := report.get("comparison"):
        out += ["", f"## Compared with {cmp['baseline']}", "",
                f"{cmp['compared']} cases in both runs; {len(cmp['regressed'])} regressed, {len(cmp['improved'])} improved."]
        out += [f"- regressed: {c}" for c in cmp["regressed"]] + [f"- improved: {c}" for c in cmp["improved"]]
    if failing := failing_cases(report):
        out += ["", "## Failing turns", ""] + [f"- {line}" for line in failing]
    return "\n".join(out) + "\n"


def write(report: dict[str, Any], out: Path) -> list[str]:
    """Write report.json, summary.md and the plots into `out`; returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "summary.md").write_text(summary(report), encoding="utf-8")
    return ["report.json", "summary.md", *write_plots(report, out)]
