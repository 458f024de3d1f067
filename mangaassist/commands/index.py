"""`mangaassist index`: build the search index beside the live one and swap it in, or roll back."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from mangaassist.commands import CliError
from mangaassist.settings import Settings, get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `index` parser."""
    p = sub.add_parser("index", help="build the catalog/review/policy search index (blue/green), or roll it back")
    p.add_argument("--backend", choices=("embedded", "opensearch"), help="search backend (default: settings)")
    p.add_argument("--rebuild", action="store_true", help="embed every document again instead of reusing vectors")
    p.add_argument("--rollback", action="store_true", help="make the previous index version live again")
    p.add_argument("--export-vectors", action="store_true",
                   help="after indexing, write the vectors to data/embeddings/ (the file fresh builds reuse)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def _settings(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"search_backend": args.backend}) if args.backend else settings


async def _index(settings: Settings, rebuild: bool, quiet: bool, export: bool) -> dict[str, object]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from tools.catalog import Catalog
    from tools.embeddings import get_embedder
    from tools.indexing import save_seed, seed_path
    from tools.retrieval import build_and_train, make_backend

    catalog = Catalog(settings.store_data_dir)
    embedder = await asyncio.to_thread(get_embedder, settings)
    backend = make_backend(settings)
    columns = (TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=Console(stderr=True), disable=quiet, transient=True) as bar:
            task = bar.add_task("embedding", total=None)
            report, model, docs = await build_and_train(
                settings, catalog, backend, embedder, rebuild=rebuild,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        if export:
            vectors = await backend.stored_vectors([d.content_hash for d in docs if d.embedded])
            target = seed_path(settings.store_data_dir, embedder.identity)
            target.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(save_seed, target, embedder.identity, vectors)
    finally:
        await backend.aclose()
    return {**report.model_dump(mode="json"), "reranker": {"pairs": model.training_pairs,
                                                          "queries": model.training_queries}}


async def _rollback(settings: Settings) -> dict[str, object]:
    from tools.retrieval import make_backend

    backend = make_backend(settings)
    try:
        identity = await backend.rollback()
    finally:
        await backend.aclose()
    return {"rolled_back_to": identity.model_dump(mode="json")}


def run(args: argparse.Namespace) -> int:
    """Index (or roll back) and print what happened."""
    from tools.embeddings import EmbedderUnavailable
    from tools.search_backend import NoIndex

    settings = _settings(args)
    if args.rebuild and args.rollback:
        raise CliError("--rebuild and --rollback cannot be combined")
    try:
        if args.rollback:
            result = asyncio.run(_rollback(settings))
        else:
            quiet = args.json or not sys.stderr.isatty()
            result = asyncio.run(_index(settings, args.rebuild, quiet, args.export_vectors))
    except (NoIndex, EmbedderUnavailable) as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:  # an unreachable cluster or an unwritable index directory
        raise CliError(f"indexing failed: {exc}") from exc
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif args.rollback:
        live = result["rolled_back_to"]
        print(f"live index is now version {live['version']} ({live['doc_count']} documents)")  # type: ignore[index]
    else:
        ident = result["identity"]
        print(
            f"index version {ident['version']} is live: {result['documents']} documents, "  # type: ignore[index]
            f"{result['embedded']} embedded ({result['newly_embedded']} new, {result['reused_vectors']} reused) "
            f"with {ident['embedding']['model_id']} in {result['seconds']} s; "  # type: ignore[index]
            f"previous version kept for --rollback: {ident['previous_version']}"  # type: ignore[index]
        )
    return 0
