"""The evaluation suites behind `mangaassist eval`, run in process on the real graph and tools.

- `intent`: routed intent on held-out labelled turns (the golden set and `data/intents/dev.jsonl`,
  or `--data`); any turn whose text is a training utterance is excluded and counted.
- `e2e`: the same conversations with every deterministic check (`evals/validators.py`), and the
  model judge when a model is configured.
- `retrieval`: `evals.retrieval.run_retrieval_suite` (recall@k over its own labelled queries).
- `guardrails`: the labelled red-team set through the input guard, and the output chain's latency.
- `all`: every suite; the conversations run once and feed both intent and e2e figures.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evals import guardrails as guardrail_suite
from evals.cases import Case, DataError, load_cases
from evals.conversations import CaseRecord, run_cases
from evals.gates import DEFAULT_GATES, apply_gates, load_gates
from evals.judge import run_judge
from evals.metrics import e2e_metrics, flat_metrics, intent_metrics
from mangaassist.settings import REPO_DATA_DIR

SUITES = ("intent", "retrieval", "guardrails", "e2e", "all")
GOLDEN = Path(__file__).resolve().parent / "data" / "golden.jsonl"
DEV = REPO_DATA_DIR / "intents" / "dev.jsonl"


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def training_texts(store_data_dir: Path) -> set[str]:
    """Every utterance the intent classifier is trained on (normalised)."""
    from tools.intent import load_utterances, training_files

    return {_normalise(row["text"]) for path in training_files(store_data_dir) for row in load_utterances(path)}


def held_out(cases: list[Case], training: set[str]) -> tuple[list[Case], list[str]]:
    """The cases none of whose turns is a training utterance, and the ids of those left out."""
    kept, dropped = [], []
    for case in cases:
        if any(_normalise(t.text) in training for t in case.turns):
            dropped.append(case.id)
        else:
            kept.append(case)
    return kept, dropped


def sample(cases: list[Case], size: int, seed: int = 7) -> list[Case]:
    """A deterministic sample stratified by language, category and first-turn intent."""
    if size >= len(cases):
        return cases
    strata: dict[tuple[str, str, str], list[Case]] = defaultdict(list)
    for case in cases:
        strata[(case.language, case.category, case.turns[0].intent or "-")].append(case)
    rng = random.Random(seed)
    for members in strata.values():
        rng.shuffle(members)
    chosen: list[Case] = []
    # Round-robin over the strata so every intent, language and category is represented.
    while len(chosen) < size:
        for key in sorted(strata):
            if strata[key] and len(chosen) < size:
                chosen.append(strata[key].pop())
    return chosen


async def _retrieval(data: Path | None) -> dict[str, Any]:
    """The retrieval suite's report; its gateable figures (`recall_at_3`, `recall_at_3.ja`, …) under `metrics`."""
    try:
        from evals import retrieval
    except ImportError as exc:
        return {"status": "skipped", "reason": f"retrieval suite unavailable ({exc})"}
    # The suite runs its own event loop: give it a thread of its own.
    report = await asyncio.to_thread(retrieval.run_retrieval_suite, data)
    return {"status": "ran", **report.model_dump(mode="json")}


class Run:
    """One `mangaassist eval` invocation: its suites, data, and where progress goes."""

    def __init__(self, suite: str, data: Path | None, *, sample_size: int | None = None, rounds: int = 10,
                 judge_limit: int = 100, show_progress: bool = True) -> None:
        self.suite = suite
        self.data = data
        self.sample_size = sample_size
        self.rounds = rounds
        self.judge_limit = judge_limit
        self.console = Console(stderr=True)
        self.show_progress = show_progress

    def conversations(self, store_data_dir: Path) -> tuple[list[Case], dict[str, Any]]:
        """The labelled conversations: `--data`, else the golden set plus the dev utterances."""
        if self.data is not None:
            cases = load_cases(self.data)
            files = [str(self.data)]
        else:
            cases = load_cases(GOLDEN, "golden")
            files = ["evals/data/golden.jsonl"]
            if self.suite in ("intent", "all"):
                cases += load_cases(DEV, "dev")
                files.append("data/intents/dev.jsonl")
        if self.sample_size is not None:
            cases = sample(cases, self.sample_size)
        kept, dropped = held_out(cases, training_texts(store_data_dir))
        return kept, {"files": files, "cases": len(kept), "excluded_training_overlap": dropped}

    async def _conversations_suite(self, cases: list[Case], services: Any, report: dict[str, Any]) -> list[CaseRecord]:
        checked = self.suite != "intent"
        with self._progress() as progress:
            task = progress.add_task("conversations", total=len(cases))
            records = await run_cases(cases, services.settings, services, checked=checked,
                                      advance=lambda: progress.advance(task))
            if checked:
                judged = max(0, self.judge_limit)
                task = progress.add_task("judge", total=judged)
                report["judge"] = await run_judge(records, judged, services.settings.llm_timeout_s,
                                                  advance=lambda: progress.advance(task))
        return records

    def _progress(self) -> Progress:
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=self.console, transient=True, disable=not self.show_progress)

    async def execute(self) -> dict[str, Any]:
        """Run the chosen suites and return the whole report (records, figures, gate verdicts)."""
        from graph.resources import services as load_services
        from mangaassist.settings import get_settings

        # Read and check the gates and the labelled data before loading models and indexes: bad input fails fast.
        gate_list = load_gates(DEFAULT_GATES)
        cases: list[Case] = []
        data_info = None
        if self.suite in ("intent", "e2e", "all"):
            cases, data_info = self.conversations(get_settings().store_data_dir)
        elif self.suite == "guardrails" and self.data is not None:
            guardrail_suite.load(self.data)
        services = await load_services()
        settings = services.settings
        report: dict[str, Any] = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "suite": self.suite,
            "settings": {"llm_mode": settings.llm_mode, "today": str(services.today()),
                         "sample": self.sample_size},
        }
        intent = e2e = guards = retrieval = None
        records: list[CaseRecord] = []
        if self.suite in ("retrieval", "all"):
            retrieval = await _retrieval(self.data if self.suite == "retrieval" else None)
        if self.suite in ("intent", "e2e", "all"):
            report["data"] = data_info
            records = await self._conversations_suite(cases, services, report)
            if self.suite in ("intent", "all"):
                intent = intent_metrics(records)
            if self.suite in ("e2e", "all"):
                e2e = e2e_metrics([r for r in records if r.source != "dev"])
        if self.suite in ("guardrails", "all"):
            guard_data = self.data if self.suite == "guardrails" else None
            guards = await guardrail_suite.run_async(guard_data, services, self.rounds)
        metrics = flat_metrics(intent, e2e, guards, retrieval if retrieval and retrieval["status"] == "ran" else None)
        gates = apply_gates(gate_list, metrics)
        report.update({
            "metrics": metrics,
            "gates": [g.model_dump() for g in gates],
            "gate_passed": not any(g.status == "fail" for g in gates),
            "intent": intent,
            "e2e": e2e,
            "guardrails": guards,
            "retrieval": retrieval,
            "cases": [r.model_dump() for r in records],
        })
        return report
