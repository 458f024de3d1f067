"""`mangaassist ask`: one question, or many as JSON lines."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from mangaassist.commands import CliError, answer_lines, json_line
from mangaassist.contracts import TurnResult
from mangaassist.settings import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `ask` parser."""
    ask = sub.add_parser("ask", help="ask one question (or many with --jsonl)")
    ask.add_argument("text", nargs="?", help="the message")
    ask.add_argument("--session", help="session id (continue a conversation)")
    ask.add_argument("--user", help="signed-in customer id")
    ask.add_argument("--json", action="store_true", help="print the turn result JSON")
    ask.add_argument("--jsonl", action="store_true",
                     help="read one message per stdin line (text or JSON), write one result JSON per line")
    ask.set_defaults(handler=run)


def _print_human(result: TurnResult) -> None:
    from tools.pricing import format_price

    print(result.text)
    for p in result.products:
        stock = "in stock" if p.in_stock else "out of stock"
        print(f"  - [{p.asin}] {p.title} ({p.format}, {p.language}) {format_price(p.price, p.currency)} {stock}")


def _jsonl_request(line: str, lineno: int) -> dict[str, Any]:
    stripped = line.strip()
    if stripped.startswith("{"):
        obj = json_line(stripped, lineno)
        if not isinstance(obj.get("message"), str):
            raise CliError(f'line {lineno}: a JSON line needs a "message" string')
        for key in ("session_id", "user_id"):
            if obj.get(key) is not None and not isinstance(obj[key], str):
                raise CliError(f"line {lineno}: {key} must be a string")
        return {"message": obj["message"], "session_id": obj.get("session_id"), "user_id": obj.get("user_id")}
    return {"message": stripped, "session_id": None, "user_id": None}


async def _ask(args: argparse.Namespace) -> int:
    from graph.runner import InputRejected, SessionForbidden, TurnRunner

    async with TurnRunner(get_settings()) as runner:
        if not args.jsonl:
            if args.text is None:
                raise CliError("ask needs a message (or --jsonl to read messages from stdin)")
            try:
                result = await runner.run(args.text, session_id=args.session, user_id=args.user)
            except InputRejected as exc:
                raise CliError(str(exc)) from exc
            except SessionForbidden as exc:
                raise CliError(f"session {exc} not found") from exc
            if args.json:
                print(result.model_dump_json())
            else:
                _print_human(result)
            return 0

        async def answer(line: str, lineno: int) -> str:
            req = _jsonl_request(line, lineno)
            try:
                result = await runner.run(req["message"], session_id=req["session_id"], user_id=req["user_id"])
            except SessionForbidden as exc:
                raise CliError(f"session {exc} not found") from exc
            return result.model_dump_json()

        return await answer_lines(answer, (CliError, InputRejected))


def run(args: argparse.Namespace) -> int:
    """Answer the question(s)."""
    return asyncio.run(_ask(args))
