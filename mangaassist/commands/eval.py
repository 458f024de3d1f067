"""`mangaassist eval --suite guardrails`: the red-team evaluation of the guardrails."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mangaassist.commands import CliError

SUITES = ("guardrails",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `eval` parser."""
    p = sub.add_parser("eval", help="run an evaluation suite (guardrails: labelled attack/benign sets)")
    p.add_argument("--suite", choices=SUITES, required=True, help="which evaluation to run")
    p.add_argument("--data", type=Path, help='JSONL file of {"text", "language", "label", "category"} (default: evals/data/guardrails.jsonl)')
    p.add_argument("--rounds", type=int, default=10, help="passes over the sample answers when timing the output chain")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--errors", action="store_true", help="list misclassified items (redacted text) in the human report")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the suite and print the report."""
    from evals import guardrails

    if args.data is not None and not args.data.is_file():
        raise CliError(f"data file {args.data} not found")
    try:
        report = guardrails.run(args.data, rounds=max(1, args.rounds))
    except guardrails.DataError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(guardrails.format_report(report))
        if args.errors:
            print()
            for e in report["errors"]:
                print(f"  [{e['language']} {e['label']} {e['category']} {e['score']}] {e['text']}")
    return 0
