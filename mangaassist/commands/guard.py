"""`mangaassist guard`: run the input guard or the output chain on messages or candidate answers.

    mangaassist guard --input --jsonl  < messages.jsonl   # {"text", "language"?}
    mangaassist guard --output --jsonl < answers.jsonl    # {"text", "language"?, "products"?}

The output chain uses the same pricing tool and catalog as the graph. Only redacted text is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from mangaassist.commands import CliError, answer_lines, json_line
from mangaassist.settings import get_settings

_LANGUAGES = ("en", "ja", "zh", "ko")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `guard` parser."""
    p = sub.add_parser("guard", help="run the input guard or the output guard chain")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--input", action="store_true", help="screen shopper messages (PII, prompt injection)")
    mode.add_argument("--output", action="store_true", help="guard candidate answers (the six-stage chain)")
    p.add_argument("text", nargs="?", help="one message or answer (else --jsonl from stdin)")
    p.add_argument("--language", choices=_LANGUAGES, help="language of the one text")
    p.add_argument("--jsonl", action="store_true", help="read JSON lines from stdin, write one JSON result per line")
    p.set_defaults(handler=run)


def _parse(line: str, lineno: int, output: bool) -> dict[str, Any]:
    obj = json_line(line, lineno)
    if not isinstance(obj.get("text"), str):
        raise CliError(f'line {lineno}: a line needs a "text" string')
    if obj.get("language") is not None and obj["language"] not in _LANGUAGES:
        raise CliError(f"line {lineno}: language must be one of {', '.join(_LANGUAGES)}")
    products = obj.get("products") or []
    if output and (not isinstance(products, list) or not all(isinstance(p, str | dict) for p in products)):
        raise CliError(f'line {lineno}: "products" must be a list of store ids or product objects')
    obj["products"] = [p if isinstance(p, str) else str(p.get("asin", "")) for p in products]
    return obj


def _input_result(obj: dict[str, Any], max_chars: int) -> dict[str, Any]:
    from guardrails.input import check_input

    checked = check_input(obj["text"], max_chars)
    out: dict[str, Any] = {
        "text": checked.text,
        "language": obj.get("language") or checked.injection.language,
        "pii": checked.pii,
        "injection": checked.injection.injection,
        "score": checked.injection.score,
        "reasons": checked.injection.reasons,
    }
    if checked.issue is not None:
        out["issue"] = checked.issue.model_dump()
    if checked.injection.injection:
        out["refusal"] = checked.refusal
    return out


async def _output_result(obj: dict[str, Any], services: Any) -> dict[str, Any]:
    from nodes.apply_guardrails import guard_context
    from guardrails.output import run_chain
    from tools.cards import product_cards
    from tools.text import detect_language

    language = obj.get("language") or detect_language(obj["text"])
    language = language if language in ("en", "ja") else "en"
    cards = [c.model_dump() for c in await product_cards(services.catalog, services.pricing, obj["products"])]
    result = await run_chain(obj["text"], guard_context(services, language, cards))
    return {
        "text": result.text,
        "guardrail_action": result.action,
        "guardrails_fired": result.fired,
        "stages": [s.model_dump() for s in result.stages],
    }


async def _guard(args: argparse.Namespace) -> int:
    from graph.resources import services as load_services

    services = await load_services() if args.output else None
    max_chars = get_settings().max_message_chars

    async def one(obj: dict[str, Any]) -> dict[str, Any]:
        return await _output_result(obj, services) if args.output else _input_result(obj, max_chars)

    if not args.jsonl:
        if args.text is None:
            raise CliError("guard needs a text (or --jsonl to read JSON lines from stdin)")
        obj = {"text": args.text, "language": args.language, "products": []}
        print(json.dumps(await one(obj), ensure_ascii=False))
        return 0

    async def answer(line: str, lineno: int) -> str:
        return json.dumps(await one(_parse(line, lineno, args.output)), ensure_ascii=False)

    return await answer_lines(answer)


def run(args: argparse.Namespace) -> int:
    """Guard the text(s)."""
    return asyncio.run(_guard(args))
