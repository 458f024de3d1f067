"""Prompt and answer templates; prompt authors edit the `.j2` and `.toml` files beside this one."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).resolve().parent


def _price(amount: float, currency: str) -> str:
    from tools.pricing import format_price

    return format_price(amount, currency)


def _data(text: object) -> str:
    """Store text placed inside a data fence: fence tags and instruction-like sentences neutralised."""
    from guardrails.indirect import neutralize

    return neutralize(str(text))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja environment: strict about missing variables, no HTML escaping (plain text)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["price"] = _price
    env.filters["data"] = _data
    return env


def render(name: str, **variables: Any) -> str:
    """Render a template by file name, e.g. `render("system.en.j2", ...)`."""
    return environment().get_template(name).render(**variables).strip()


@lru_cache(maxsize=2)
def strings(language: str) -> dict[str, Any]:
    """Short UI strings (quick replies, notices) for a language."""
    with (TEMPLATE_DIR / f"strings.{language}.toml").open("rb") as fh:
        return tomllib.load(fh)


def preload() -> None:
    """Compile every template and read every strings file now, off the request path."""
    env = environment()
    for path in TEMPLATE_DIR.rglob("*.j2"):
        env.get_template(path.relative_to(TEMPLATE_DIR).as_posix())
    for language in ("en", "ja"):
        strings(language)
