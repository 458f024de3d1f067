"""The `mangaassist` command: ask, chat, serve, and build steps."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from pydantic import ValidationError

from mangaassist.settings import get_settings


class CliError(Exception):
    """A problem to report as one line on stderr with a non-zero exit."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mangaassist", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="ask one question (or many with --jsonl)")
    ask.add_argument("text", nargs="?", help="the message")
    ask.add_argument("--session", help="session id (continue a conversation)")
    ask.add_argument("--user", help="signed-in customer id")
    ask.add_argument("--json", action="store_true", help="print the turn result JSON")
    ask.add_argument("--jsonl", action="store_true",
                     help="read one message per stdin line (text or JSON), write one result JSON per line")

    chat = sub.add_parser("chat", help="interactive conversation, streaming tokens")
    chat.add_argument("--session", help="session id")
    chat.add_argument("--user", help="signed-in customer id")

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="bind address (default from settings)")
    serve.add_argument("--port", type=int, help="port (default from settings)")

    sub.add_parser("train-intent", help="train the intent classifier from data/intents/train.jsonl")
    data = sub.add_parser("data", help="store data steps")
    data.add_argument("action", choices=["build"], help="regenerate products.jsonl and orders.sqlite")
    return parser


def _print_human(result: Any) -> None:
    print(result.text)
    for p in result.products:
        from tools.pricing import format_price

        stock = "in stock" if p.in_stock else "out of stock"
        print(f"  - [{p.asin}] {p.title} ({p.format}, {p.language}) {format_price(p.price, p.currency)} {stock}")


def _jsonl_request(line: str, lineno: int) -> dict[str, Any]:
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CliError(f"line {lineno}: invalid JSON ({exc.msg})") from exc
        if not isinstance(obj.get("message"), str):
            raise CliError(f'line {lineno}: a JSON line needs a "message" string')
        for key in ("session_id", "user_id"):
            if obj.get(key) is not None and not isinstance(obj[key], str):
                raise CliError(f"line {lineno}: {key} must be a string")
        return {"message": obj["message"], "session_id": obj.get("session_id"), "user_id": obj.get("user_id")}
    return {"message": stripped, "session_id": None, "user_id": None}


async def _ask(args: argparse.Namespace) -> int:
    from graph.runner import InputRejected, SessionForbidden, TurnRunner

    settings = get_settings()
    async with TurnRunner(settings) as runner:
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
        failures = 0
        for lineno, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                req = _jsonl_request(line, lineno)
                result = await runner.run(req["message"], session_id=req["session_id"], user_id=req["user_id"])
                print(result.model_dump_json(), flush=True)
            except (CliError, InputRejected, SessionForbidden) as exc:
                failures += 1
                code = exc.issue.code if isinstance(exc, InputRejected) else "bad_request"
                message = str(exc) if not isinstance(exc, SessionForbidden) else f"session {exc} not found"
                print(json.dumps({"error": {"code": code, "message": message, "line": lineno}}), flush=True)
        return 1 if failures else 0


async def _chat(args: argparse.Namespace) -> int:
    import uuid

    from graph.runner import InputRejected, TurnRunner

    session = args.session or uuid.uuid4().hex
    async with TurnRunner(get_settings()) as runner:
        print(f"MangaAssist (session {session}). Empty line or Ctrl-D to quit.")
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                break
            if not line.strip():
                break
            try:
                print("assistant> ", end="", flush=True)
                async for event in runner.stream(line, session_id=session, user_id=args.user):
                    if event["type"] == "reset":
                        print("\r\033[Kassistant> ", end="", flush=True)
                    elif event["type"] == "token":
                        print(event["delta"], end="", flush=True)
                    elif event["type"] == "final":
                        result = event["result"]
                        print()
                        for p in result["products"]:
                            print(f"  - [{p['asin']}] {p['title']}")
            except InputRejected as exc:
                print(f"\n{exc}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port,
                log_level=settings.log_level.lower())
    return 0


def _train_intent() -> int:
    from tools.catalog import Catalog
    from tools.intent import train

    settings = get_settings()
    summary = train(settings.store_data_dir, Catalog(settings.store_data_dir), settings.intent_model_path)
    print(json.dumps(summary))
    return 0


def _data_build() -> int:
    from tools.catalog import Catalog
    from tools.catalog_build import write_products
    from tools.orders_fixture import build_orders_db

    data = get_settings().store_data_dir
    count = write_products(data / "catalog")
    build_orders_db(Catalog(data), data / "orders.sqlite")
    print(json.dumps({"products": count, "orders_db": "orders.sqlite"}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mangaassist` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "ask":
            return asyncio.run(_ask(args))
        if args.command == "chat":
            return asyncio.run(_chat(args))
        if args.command == "serve":
            return _serve(args)
        if args.command == "train-intent":
            return _train_intent()
        return _data_build()
    except CliError as exc:
        print(f"mangaassist: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"mangaassist: invalid settings: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
