"""CLI subcommands: one module each, with `register(subparsers)` and a `run(args)` handler.

Add a command by writing its module and naming it in `COMMANDS`.
"""

from __future__ import annotations

COMMANDS = ("ask", "chat", "serve", "train_intent", "data", "token", "mcp", "guard", "eval")


class CliError(Exception):
    """A problem to report as one line on stderr with a non-zero exit."""
