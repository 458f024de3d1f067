"""`mangaassist train-intent`: the build step that trains the intent classifier."""

from __future__ import annotations

import argparse
import json

from mangaassist.settings import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `train-intent` parser."""
    sub.add_parser("train-intent", help="train the intent classifier from data/intents/train*.jsonl").set_defaults(
        handler=run
    )


def run(args: argparse.Namespace) -> int:
    """Train deterministically and write the artifact."""
    from tools.catalog import Catalog
    from tools.intent import train

    settings = get_settings()
    summary = train(settings.store_data_dir, Catalog(settings.store_data_dir), settings.intent_model_path)
    print(json.dumps(summary))
    return 0
