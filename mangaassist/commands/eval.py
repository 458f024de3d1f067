"""`mangaassist eval`: the evaluation suites, their report and the release gate.

    mangaassist eval [--suite intent|retrieval|guardrails|e2e|all] [--data FILE] [--json] [--out DIR]
                     [--baseline FILE]

Exit 0 when every gate of `evals/gates.toml` holds, 1 when one is missed (named on stderr),
2 for bad input (a missing file, a bad line: the message names the line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from mangaassist.commands import CliError

SUITES = ("intent", "retrieval", "guardrails", "e2e", "all")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `eval` parser."""
    p = sub.add_parser("eval", help="run evaluation suites, write a report, apply the release gate")
    p.add_argument("--suite", choices=SUITES, default="all", help="which evaluation to run (default: all)")
    p.add_argument("--data", type=Path, help="labelled JSONL file instead of the default set of the suite "
                   "(intent/e2e/all: conversations; guardrails: red-team items; retrieval: its queries)")
    p.add_argument("--out", type=Path, help="write report.json, summary.md and PNG plots into this directory")
    p.add_argument("--baseline", type=Path, help="a previous report.json: list the cases that regressed or improved")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--sample", type=int, help="evaluate a deterministic stratified sample of this many conversations")
    p.add_argument("--judge-max", type=int, default=100, help="turns the model judge scores when a model is configured")
    p.add_argument("--rounds", type=int, default=10, help="passes over the sample answers when timing the output chain")
    p.add_argument("--errors", action="store_true", help="list every failing turn in the printed summary")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the suites, print or write the report, and return the gate's exit code."""
    from evals.cases import DataError, load_cases

    for path in (args.data, args.baseline):
        if path is not None and not path.is_file():
            raise CliError(f"file {path} not found")
    if args.sample is not None and args.sample < 1:
        raise CliError("--sample must be at least 1")
    if args.data is not None and args.suite in ("intent", "e2e", "all"):
        # Check the file before loading the graph, its models and indexes: a bad line fails at once.
        try:
            load_cases(args.data)
        except DataError as exc:
            raise CliError(str(exc)) from exc
    elif args.data is not None and args.suite == "guardrails":
        from evals.guardrails import load

        try:
            load(args.data)
        except DataError as exc:
            raise CliError(str(exc)) from exc

    from evals.gates import GateFileError
    from evals.report import compare, failing_cases, summary, write
    from evals.suites import Run

    evaluation = Run(args.suite, args.data, sample_size=args.sample, rounds=max(1, args.rounds),
                     judge_limit=args.judge_max, show_progress=not args.no_progress)
    try:
        report = asyncio.run(evaluation.execute())
        if args.baseline is not None:
            report["comparison"] = compare(report, args.baseline)
    except (DataError, GateFileError) as exc:
        raise CliError(str(exc)) from exc
    if args.out is not None:
        written = write(report, args.out)
        print(f"report written to {args.out}: {', '.join(written)}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        text = summary(report)
        if args.errors:
            text += "\n".join(failing_cases(report, limit=10_000)) + "\n"
        print(text, end="")
    failed = [g for g in report["gates"] if g["status"] == "fail"]
    for g in failed:
        print(f"gate failed: {g['metric']} = {g['value']:.4g} (needs {g['threshold']})", file=sys.stderr)
    return 1 if failed else 0
