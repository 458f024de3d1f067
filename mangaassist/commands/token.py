"""`mangaassist token`: a bearer token for a customer, for the chat API and MCP."""

from __future__ import annotations

import argparse

from mangaassist.commands import CliError
from mangaassist.settings import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `token` parser."""
    token = sub.add_parser("token", help="print a bearer token for a customer")
    token.add_argument("--user", required=True, help="customer id, e.g. C1001")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    token.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the token, signed with the data dir's (or MANGAASSIST_AUTH_SECRET's) key."""
    from server.auth import mint_token

    if args.ttl <= 0:
        raise CliError("--ttl must be a positive number of seconds")
    if not args.user.strip():
        raise CliError("--user must name a customer")
    print(mint_token(get_settings(), args.user, args.ttl))
    return 0
