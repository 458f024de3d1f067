"""CLI subcommands: one module each, with `register(subparsers)` and a `run(args)` handler.

Add a command by writing its module and naming it in `COMMANDS`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

COMMANDS = ("ask", "chat", "serve", "train_intent", "data", "token", "mcp", "guard", "eval", "index", "search")


class CliError(Exception):
    """A problem to report as one line on stderr with a non-zero exit."""


def json_line(line: str, lineno: int) -> dict[str, Any]:
    """One JSON object from a `--jsonl` input line, or a `CliError` naming the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CliError(f"line {lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict):
        raise CliError(f"line {lineno}: expected a JSON object")
    return obj


async def answer_lines(
    answer: Callable[[str, int], Awaitable[str]], errors: tuple[type[Exception], ...] = (CliError,)
) -> int:
    """Answer every non-blank stdin line; a failing line gets an error line and exit code 1."""
    failures = 0
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            print(await answer(line, lineno), flush=True)
        except errors as exc:
            failures += 1
            code = getattr(getattr(exc, "issue", None), "code", "bad_request")
            print(json.dumps({"error": {"code": code, "message": str(exc), "line": lineno}}), flush=True)
    return 1 if failures else 0
