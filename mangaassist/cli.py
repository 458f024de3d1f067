"""The `mangaassist` command."""

from __future__ import annotations

import argparse
import importlib
import sys

from pydantic import ValidationError

from mangaassist.commands import COMMANDS, CliError


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="mangaassist", description="MangaAssist, the manga store's assistant.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"mangaassist.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mangaassist` console script."""
    from graph.store_postgres import DatabaseUnavailable
    from tools.intent import IntentModelMissing

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (CliError, IntentModelMissing, DatabaseUnavailable) as exc:
        print(f"mangaassist: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"mangaassist: invalid settings: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
