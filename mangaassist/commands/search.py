"""`mangaassist search TEXT`: the ranked documents a query retrieves, with each leg's score."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, get_args

from mangaassist.commands import CliError
from mangaassist.settings import get_settings

# filter key -> (SearchFilters field, repeatable)
FILTER_KEYS: dict[str, tuple[str, bool]] = {
    "genre": ("genres", True),
    "language": ("language", False),
    "format": ("format", False),
    "in_stock": ("in_stock", False),
    "doc_type": ("doc_types", True),
    "series": ("series_ids", True),
    "topic": ("topics", True),
}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `search` parser."""
    p = sub.add_parser("search", help="show the documents a query retrieves (ids, titles, leg scores)")
    p.add_argument("text", help="the query")
    p.add_argument("--k", type=int, default=10, help="how many documents (1-50, default 10)")
    p.add_argument(
        "--filter", action="append", default=[], metavar="KEY=VALUE",
        help=f"restrict the search; keys: {', '.join(FILTER_KEYS)} (genre, doc_type, series, topic repeat)",
    )
    p.add_argument("--no-rerank", action="store_true", help="show the fused order, without reranking")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.set_defaults(handler=run)


def parse_filters(items: list[str]) -> Any:
    """`KEY=VALUE` strings as `SearchFilters`, or a `CliError` naming the bad one."""
    from pydantic import ValidationError

    from tools.search_backend import DocType, SearchFilters
    from tools.vocab import GENRES

    fields: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip().replace("-", "_"), value.strip()
        if not sep or not value:
            raise CliError(f"bad filter {item!r}: expected KEY=VALUE")
        if key not in FILTER_KEYS:
            raise CliError(f"unknown filter {key!r}: use one of {', '.join(FILTER_KEYS)}")
        field, repeatable = FILTER_KEYS[key]
        parsed: Any = value
        if key == "genre" and value not in GENRES:
            raise CliError(f"unknown genre {value!r}: use one of {', '.join(sorted(GENRES))}")
        if key == "doc_type" and value not in get_args(DocType):
            raise CliError(f"unknown doc_type {value!r}: use one of {', '.join(get_args(DocType))}")
        if key == "in_stock":
            if value.lower() not in _BOOLEANS:
                raise CliError(f"in_stock must be true or false, not {value!r}")
            parsed = _BOOLEANS[value.lower()]
        if repeatable:
            fields.setdefault(field, []).append(parsed)
        elif field in fields:
            raise CliError(f"filter {key!r} given twice")
        else:
            fields[field] = parsed
    try:
        return SearchFilters(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CliError(f"bad filter {err['loc'][0]}: {err['msg']}") from exc


def run(args: argparse.Namespace) -> int:
    """Search and print the ranked hits."""
    from tools.catalog import Catalog
    from tools.embedded_backend import EmbeddedBackend
    from tools.embeddings import EmbedderUnavailable
    from tools.retrieval import IndexMismatch, make_backend, open_retriever

    if not args.text.strip():
        raise CliError("the query is empty")
    if not 1 <= args.k <= 50:
        raise CliError("--k must be between 1 and 50")
    filters = parse_filters(args.filter)
    settings = get_settings()
    backend = make_backend(settings)
    if isinstance(backend, EmbeddedBackend) and not backend.has_index():
        raise CliError(f"no search index in {settings.index_path}: run `mangaassist index` first")
    try:
        retriever = open_retriever(settings, Catalog(settings.store_data_dir))
        hits = asyncio.run(retriever.search(args.text, args.k, filters, rerank=False if args.no_rerank else None))
    except (IndexMismatch, EmbedderUnavailable) as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps([
            {"rank": i, "doc_id": h.doc_id, "store_id": h.doc.store_id, "title": h.doc.title,
             "doc_type": h.doc.doc_type, "language": h.doc.language, "score": h.score, "scores": h.scores}
            for i, h in enumerate(hits, 1)
        ], ensure_ascii=False))
        return 0
    if not hits:
        print("no documents match")
    for i, h in enumerate(hits, 1):
        legs = " ".join(f"{leg}={value:g}" for leg, value in h.scores.items())
        print(f"{i:>2}. {h.doc_id}  [{h.doc.doc_type}/{h.doc.language}]  {h.doc.store_id or '-'}  {h.doc.title}")
        print(f"    score={h.score:g}  {legs}")
    return 0
