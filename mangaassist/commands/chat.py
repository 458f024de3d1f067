"""`mangaassist chat`: an interactive conversation that streams tokens."""

from __future__ import annotations

import argparse
import asyncio
import uuid

from mangaassist.settings import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `chat` parser."""
    chat = sub.add_parser("chat", help="interactive conversation, streaming tokens")
    chat.add_argument("--session", help="session id")
    chat.add_argument("--user", help="signed-in customer id")
    chat.set_defaults(handler=run)


async def _chat(args: argparse.Namespace) -> int:
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
                        print()
                        for p in event["result"]["products"]:
                            print(f"  - [{p['asin']}] {p['title']}")
            except InputRejected as exc:
                print(f"\n{exc}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Chat until an empty line or end of input."""
    return asyncio.run(_chat(args))
