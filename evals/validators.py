"""Deterministic checks of one turn's answer against the store's own sources of truth.

No model judges a fact: store ids against the catalog, prices against the pricing tool (amounts
found with the output guard's own price extraction), genres against the catalog, order states
against the orders fixture, PII with the guard's scanner, competitor names with the guard's list.
Every turn gets the `ALWAYS` checks; a case's `expect` adds its own.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from evals.cases import Expect
from guardrails.output import find_amounts, find_competitors, find_discounts, find_store_ids
from guardrails.pii import redact_pii
from mangaassist.contracts import TurnResult
from tools.jsonl import read_jsonl
from tools.pricing import PriceQuote, format_price

# Checks every turn gets, whatever the case expects.
ALWAYS = ("store_ids", "card_prices", "text_prices", "discounts", "competitors", "pii", "genres_known", "language")
# How each order state may be written, per answer language (the state of the fixture must appear).
ORDER_STATE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"placed": ("placed", "received"), "shipped": ("shipped",), "in_transit": ("in transit", "on its way"),
           "delivered": ("delivered",), "delayed": ("delayed",), "cancelled": ("cancelled", "canceled"),
           "returned": ("returned", "refunded")},
    "ja": {"placed": ("受付済み", "受付"), "shipped": ("発送済み",), "in_transit": ("配送中", "輸送中"),
           "delivered": ("配達完了", "配達済み"), "delayed": ("遅延",), "cancelled": ("キャンセル",),
           "returned": ("返品済み",)},
}
_PREV = re.compile(r"^prev:(\d+)$")


class CheckResult(BaseModel):
    """One check's verdict on one turn."""

    name: str
    passed: bool
    reason: str = ""


@dataclass
class Truth:
    """The sources of truth, loaded once per evaluation run."""

    services: Any
    orders: dict[str, dict[str, Any]]
    order_amounts: dict[str, set[tuple[float, str]]]
    documented_amounts: set[tuple[float, str]]
    documented_discounts: set[int]
    genres: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, services: Any) -> Truth:
        """Read the orders fixture, the policy and knowledge-base amounts, and the catalog's genres."""
        data_dir: Path = services.settings.store_data_dir
        orders: dict[str, dict[str, Any]] = {}
        amounts: dict[str, set[tuple[float, str]]] = {}
        with sqlite3.connect(f"file:{data_dir / 'orders.sqlite'}?mode=ro", uri=True) as conn:
            conn.row_factory = sqlite3.Row
            for row in conn.execute("SELECT * FROM orders"):
                orders[row["order_id"]] = dict(row)
                amounts.setdefault(row["customer_id"], set()).add((float(row["total"]), row["currency"]))
            for row in conn.execute("SELECT o.customer_id, o.currency, i.unit_price, i.quantity FROM order_items i "
                                    "JOIN orders o USING (order_id)"):
                amounts.setdefault(row[0], set()).update({(float(row[2]), row[1]), (float(row[2]) * row[3], row[1])})
        documents = [p.body for p in services.policies.values()]
        for path in sorted((data_dir / "cache").glob("*.jsonl")):
            documents += [entry.get("answer", "") for _, entry in read_jsonl(path)]
        text = "\n".join(documents)
        return cls(
            services=services,
            orders=orders,
            order_amounts=amounts,
            documented_amounts={(a.value, a.currency) for a in find_amounts(text)},
            documented_discounts={d.percent for d in find_discounts(text)},
            genres={g for s in services.catalog.series.values() for g in s.genres},
        )


def resolve(ref: str, previous: TurnResult | None) -> str | None:
    """A store id, or the `prev:N` card of the previous turn (None when it showed no such card)."""
    m = _PREV.match(ref)
    if m is None:
        return ref
    index = int(m.group(1))
    if previous is None or index >= len(previous.products):
        return None
    return previous.products[index].asin


async def _grounded_quotes(result: TurnResult, truth: Truth) -> dict[str, PriceQuote]:
    """Quotes for every product the answer may legitimately price: its cards, the other editions of
    their volumes (answers list them), and store ids named in the text."""
    catalog = truth.services.catalog
    asins = [c.asin for c in result.products] + find_store_ids(result.text)
    for card in result.products:
        product = catalog.product(card.asin)
        if product is not None:
            asins += [p.asin for p in catalog.editions(product.series_id, product.volume)]
    return await truth.services.pricing.quote(list(dict.fromkeys(asins)))


def _check(name: str, problems: list[str]) -> CheckResult:
    return CheckResult(name=name, passed=not problems, reason="; ".join(problems[:5]))


async def always_checks(result: TurnResult, language: str, truth: Truth, user_id: str | None) -> list[CheckResult]:
    """The checks every answer must pass: nothing ungrounded, nothing that must never appear."""
    catalog = truth.services.catalog
    text = result.text
    quotes = await _grounded_quotes(result, truth)
    checks: list[CheckResult] = []

    ids = {*find_store_ids(text), *(c.asin for c in result.products)}
    checks.append(_check("store_ids", [f"unknown store id {i}" for i in sorted(ids) if catalog.product(i) is None]))

    problems = []
    for card in result.products:
        quote = quotes.get(card.asin)
        if quote is None:
            continue  # an unknown id: reported by store_ids
        if abs(card.price - quote.price) > 0.005 or card.currency != quote.currency:
            problems.append(f"card {card.asin} {format_price(card.price, card.currency)} != tool {format_price(quote.price, quote.currency)}")
    checks.append(_check("card_prices", problems))

    allowed = {(q.price, q.currency) for q in quotes.values()} | {(q.list_price, q.currency) for q in quotes.values()}
    allowed |= truth.documented_amounts | truth.order_amounts.get(user_id or "", set())
    problems = []
    for amount in find_amounts(text):
        if not any(abs(amount.value - a) < 0.005 and amount.currency == c for a, c in allowed):
            problems.append(f"ungrounded amount {amount.text.strip()}")
    checks.append(_check("text_prices", problems))

    promos = {q.percent_off for q in quotes.values() if q.percent_off} | truth.documented_discounts
    checks.append(_check("discounts", [f"invented discount {d.text.strip()}" for d in find_discounts(text)
                                       if d.percent not in promos]))

    hits = sorted(set(find_competitors(text, truth.services.settings.competitors)))
    checks.append(_check("competitors", [f"names competitor {h}" for h in hits]))

    _, kinds = redact_pii(text)
    checks.append(_check("pii", [f"answer contains {k}" for k in kinds]))

    problems = []
    for card in result.products:
        series = catalog.series.get(card.series_id or "")
        if series is None:
            continue
        unknown = [g for g in card.genres if g not in truth.genres]
        if unknown or list(card.genres) != list(series.genres):
            problems.append(f"card {card.asin} genres {card.genres} != catalog {series.genres}")
    checks.append(_check("genres_known", problems))

    checks.append(_check("language", [] if result.language == language else [f"answered in {result.language}, expected {language}"]))
    return checks


def _names(series: Any) -> list[str]:
    return [n for n in (series.title, series.title_ja, *series.aliases) if n]


def _number_in(text: str, number: int) -> bool:
    return re.search(rf"(?<![\d.,]){number}(?![\d.,]\d)", text) is not None


async def expect_checks(result: TurnResult, expect: Expect, previous: TurnResult | None, truth: Truth) -> list[CheckResult]:
    """The case's own expectations for this turn."""
    catalog = truth.services.catalog
    text, lowered = result.text, result.text.lower()
    shown = {c.series_id for c in result.products}
    cards = [c.asin for c in result.products]
    checks: list[CheckResult] = []

    def series_present(sid: str) -> bool:
        series = catalog.series.get(sid)
        return sid in shown or (series is not None and any(n.lower() in lowered for n in _names(series)))

    if expect.series:
        checks.append(_check("series", [f"{s} neither shown nor named" for s in expect.series if not series_present(s)]))
    if expect.series_absent:
        checks.append(_check("series_absent", [f"{s} appears" for s in expect.series_absent if series_present(s)]))
    if expect.products:
        problems = []
        for ref in expect.products:
            asin = resolve(ref, previous)
            if asin is None:
                problems.append(f"{ref}: the previous turn showed no such product")
            elif asin not in cards:
                problems.append(f"{asin} not among the cards {cards}")
        checks.append(_check("products", problems))
    if expect.products_absent:
        absent = [resolve(r, previous) for r in expect.products_absent]
        checks.append(_check("products_absent", [f"{a} shown" for a in absent if a in cards]))
    if expect.prices:
        problems = []
        refs = [(ref, resolve(ref, previous)) for ref in expect.prices]
        quotes = await truth.services.pricing.quote([a for _, a in refs if a])
        for ref, asin in refs:
            quote = quotes.get(asin or "")
            if quote is None:
                problems.append(f"{ref}: no price to check (unknown product)")
            elif format_price(quote.price, quote.currency) not in text:
                problems.append(f"{asin}: {format_price(quote.price, quote.currency)} (pricing tool) not stated")
        checks.append(_check("prices", problems))
    if expect.volume_count:
        problems = []
        for sid in expect.volume_count:
            series = catalog.series.get(sid)
            if series is None:
                problems.append(f"unknown series {sid}")
            elif not _number_in(text, series.volumes):
                problems.append(f"{sid}: volume count {series.volumes} not stated")
        checks.append(_check("volume_count", problems))
    if expect.order is not None:
        checks.append(_order_check(text, result.language, expect.order.order_id, expect.order.state, truth))
    if expect.genres:
        problems = []
        for card in result.products:
            series = catalog.series.get(card.series_id or "")
            genres = set(series.genres) if series else set()
            if not genres & set(expect.genres):
                problems.append(f"{card.asin} ({card.series_id}) has none of {expect.genres}")
        if not result.products:
            problems.append("no product shown")
        checks.append(_check("genres", problems))
    if expect.text_any:
        ok = any(s.lower() in lowered for s in expect.text_any)
        checks.append(_check("text_any", [] if ok else [f"none of {expect.text_any} in the answer"]))
    if expect.text_absent:
        checks.append(_check("text_absent", [f"{s!r} in the answer" for s in expect.text_absent if s.lower() in lowered]))
    if expect.guardrail is not None:
        action = result.metadata.guardrail_action
        checks.append(_check("guardrail", [] if action == expect.guardrail else [f"guardrail action {action}, expected {expect.guardrail}"]))
    if expect.fired:
        fired = result.metadata.guardrails_fired
        checks.append(_check("fired", [f"{f} did not fire (fired: {fired})" for f in expect.fired if f not in fired]))
    return checks


def _order_check(text: str, language: str, order_id: str, state: str | None, truth: Truth) -> CheckResult:
    order = truth.orders.get(order_id)
    if order is None:
        return CheckResult(name="order", passed=False, reason=f"{order_id} is not in the orders fixture")
    actual = order["status"]
    if state is not None and state != actual:
        return CheckResult(name="order", passed=False, reason=f"case expects {state} but the fixture says {actual}")
    if order_id not in text:
        return CheckResult(name="order", passed=False, reason=f"{order_id} not named")
    words = ORDER_STATE_WORDS.get(language, ORDER_STATE_WORDS["en"])[actual]
    if not any(w.lower() in text.lower() for w in words):
        return CheckResult(name="order", passed=False, reason=f"state {actual} of {order_id} not stated")
    return CheckResult(name="order", passed=True)
