"""`mangaassist mcp`: the MCP server over stdio."""

from __future__ import annotations

import argparse
import asyncio

from mangaassist.commands import CliError
from mangaassist.settings import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `mcp` parser."""
    mcp = sub.add_parser("mcp", help="serve MCP over stdio")
    mcp.add_argument("--token", help="bearer token of the customer (default: MANGAASSIST_MCP_TOKEN; none: guest)")
    mcp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve one MCP client until it closes stdin."""
    from server.auth import InvalidToken
    from server.mcp import serve_stdio

    settings = get_settings()
    token = args.token or (settings.mcp_token.get_secret_value() if settings.mcp_token else None)
    try:
        asyncio.run(serve_stdio(settings, token))
    except InvalidToken as exc:
        raise CliError(exc.detail) from exc
    return 0
