"""`mangaassist data build`: regenerate derived store data after editing series files."""

from __future__ import annotations

import argparse
import json

from mangaassist.settings import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `data` parser."""
    data = sub.add_parser("data", help="store data steps")
    data.add_argument("action", choices=["build"], help="regenerate products.jsonl and orders.sqlite")
    data.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write products.jsonl and orders.sqlite."""
    from tools.catalog import Catalog
    from tools.catalog_build import write_products
    from tools.orders_fixture import build_orders_db

    data = get_settings().store_data_dir
    count = write_products(data / "catalog")
    build_orders_db(Catalog(data), data / "orders.sqlite")
    print(json.dumps({"products": count, "orders_db": "orders.sqlite"}))
    return 0
