"""The output guardrail chain, in order: PII, price accuracy, toxicity, competitor mention,
store-id validation, scope. Each stage returns its own record; the chain fails closed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from guardrails.pii import redact_pii
from tools.catalog import Catalog
from tools.pricing import PriceQuote, PricingTool, format_price

Action = Literal["none", "modified", "blocked"]
STAGES = ("pii", "price_accuracy", "toxicity", "competitor", "store_id", "scope")

_SENTENCE = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？]+|\n|$)")
_ASIN = re.compile(r"\bB0[A-Z0-9]{8}\b")
_AMOUNT = re.compile(
    r"(?P<usd>(?:US)?\$\s?(?P<u1>\d[\d,]*(?:\.\d{1,2})?)|(?:USD|US\$)\s?(?P<u2>\d[\d,]*(?:\.\d{1,2})?)"
    r"|(?P<u3>\d[\d,]*(?:\.\d{1,2})?)\s?(?:USD|dollars?\b))"
    r"|(?P<jpy>[¥￥]\s?(?P<j1>\d[\d,]*)|JPY\s?(?P<j2>\d[\d,]*)|(?P<j3>\d[\d,]*)\s?(?:円|yen\b|JPY))"
    r"|(?:priced at|costs?|for only|for just|now)\s(?P<bare>\d[\d,]*\.\d{2})\b",
    re.I,
)
_PERCENT = re.compile(r"(\d{1,2})\s?(?:%|％|percent|パーセント)\s?(?:off|discount|オフ|引き|割引)?", re.I)
_VOLUME = re.compile(r"(?:vol(?:ume)?\.?\s?|#)(\d{1,3})\b|(\d{1,3})\s?巻", re.I)

_TOXIC_EN = re.compile(
    r"\b(?:fuck\w*|shit\w*|bitch\w*|bastard|asshole|dumbass|retard\w*|cunt|whore|slut|"
    r"(?:you(?:'re| are)? (?:an? )?(?:idiot|moron|stupid|loser|pathetic|worthless))|shut up|"
    r"go to hell|kill yourself|kys)\b",
    re.I,
)
_TOXIC_JA = re.compile(r"死ね|殺すぞ|くたばれ|ぶっ殺|クソ野郎|くそ野郎|バカ野郎|ばか野郎|黙れ|消えろ|ガイジ|きもい客|うざい客")
_OFF_TOPIC = re.compile(
    r"\b(?:invest(?:ing|ment)?s?|stock market|stocks? to buy|bitcoin|crypto(?:currency)?|portfolio|"
    r"diagnos\w+|dosage|prescri\w+|medication|antidepressant|vote for|election|political party|"
    r"democrats?|republicans?)\b|投資|株価|仮想通貨|ビットコイン|診断|処方|服用|投票|選挙|政党",
    re.I,
)


class StageRecord(BaseModel):
    """What one guard stage did."""

    stage: str
    action: Action = "none"
    details: list[str] = Field(default_factory=list)
    ms: float = 0.0


class GuardResult(BaseModel):
    """The chain's verdict on an answer."""

    text: str
    action: Action
    fired: list[str]
    stages: list[StageRecord]


@dataclass
class GuardContext:
    """What the guards check an answer against."""

    language: str
    catalog: Catalog
    pricing: PricingTool
    competitors: list[str]
    products: list[dict[str, Any]] = field(default_factory=list)
    # Amounts stated in store documents in context (shipping fees, thresholds): true as quoted.
    document_text: str = ""
    pricing_timeout_s: float = 0.2
    quotes: dict[str, PriceQuote] = field(default_factory=dict)


SAFE_MESSAGE = {
    "en": "Sorry, I can't share that answer. I can help you find manga, check prices and stock, or track an order.",
    "ja": "申し訳ありませんが、その回答はお伝えできません。漫画探し、価格や在庫の確認、ご注文の追跡でしたらお手伝いします。",
}
PRICE_NOTE = {
    "en": "Please check the product page for the current price.",
    "ja": "最新の価格は商品ページでご確認ください。",
}
SCOPE_MESSAGE = {
    "en": "I can't give advice on that, but I'm glad to help with manga: recommendations, prices, orders, shipping and returns.",
    "ja": "その件についての助言はできませんが、漫画のおすすめ、価格、ご注文、配送、返品についてはお手伝いできます。",
}


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.end() > m.start()]


def _drop_sentences(text: str, positions: list[int]) -> str:
    spans = [s for s in _sentences(text) if any(s[0] <= p < s[1] for p in positions)]
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return re.sub(r"[ \t]{2,}", " ", re.sub(r"\n{3,}", "\n\n", text)).strip()


def _amount_value(m: re.Match[str]) -> tuple[float, str]:
    if m.group("usd"):
        raw = m.group("u1") or m.group("u2") or m.group("u3")
        return float(raw.replace(",", "")), "USD"
    if m.group("jpy"):
        raw = m.group("j1") or m.group("j2") or m.group("j3")
        return float(raw.replace(",", "")), "JPY"
    return float(m.group("bare").replace(",", "")), "USD"


def stage_pii(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Redact any email, phone or card number the answer contains."""
    redacted, kinds = redact_pii(text)
    return redacted, StageRecord(stage="pii", action="modified" if kinds else "none", details=kinds)


async def stage_price_accuracy(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Check every amount against the pricing tool; fix, remove, or strip on timeout."""
    record = StageRecord(stage="price_accuracy")
    amounts = list(_AMOUNT.finditer(text))
    percents = list(_PERCENT.finditer(text))
    if not amounts and not percents:
        return text, record
    # Products the answer can be talking about: those in context plus any id it names.
    context_asins = [p["asin"] for p in ctx.products] + _ASIN.findall(text)
    try:
        ctx.quotes = await asyncio.wait_for(ctx.pricing.quote(context_asins), ctx.pricing_timeout_s)
    except TimeoutError:
        stripped = _drop_sentences(text, [m.start() for m in amounts + percents])
        record.action = "modified"
        record.details.append("pricing_timeout")
        return (stripped + "\n\n" + PRICE_NOTE[ctx.language]).strip(), record
    mentions = _product_mentions(text, ctx)
    documented = {_amount_value(d) for d in _AMOUNT.finditer(ctx.document_text)}
    edits: list[tuple[int, int, str]] = []
    for m in amounts:
        value, currency = _amount_value(m)
        if (value, currency) in documented:
            continue
        candidates = _candidates_for(m.start(), mentions, ctx, currency)
        allowed = {q.price for q in candidates} | {q.list_price for q in candidates}
        if any(abs(value - a) < 0.005 for a in allowed):
            continue
        if candidates:
            correct = candidates[0]
            edits.append((m.start(), m.end(), format_price(correct.price, correct.currency)))
            record.details.append(f"rewrote {m.group().strip()} -> {format_price(correct.price, correct.currency)} ({correct.asin})")
        else:
            edits.append((m.start(), m.end(), ""))
            record.details.append(f"removed ungrounded {m.group().strip()}")
    promos = {q.percent_off for q in ctx.quotes.values() if q.percent_off}
    promos |= {int(p.group(1)) for p in _PERCENT.finditer(ctx.document_text)}
    invented = [p for p in percents if int(p.group(1)) not in promos]
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    if invented:
        # Offsets moved with the edits above, so find the invented discounts afresh.
        stale = {p.group() for p in invented}
        positions = [p.start() for p in _PERCENT.finditer(text) if p.group() in stale]
        text = _drop_sentences(text, positions)
        record.details += [f"removed invented discount {s}" for s in sorted(stale)]
    if any(replacement == "" for _, _, replacement in edits):
        text = re.sub(r"\(\s*\)|（\s*）", "", text)
        if PRICE_NOTE[ctx.language] not in text:
            text = text.rstrip() + "\n\n" + PRICE_NOTE[ctx.language]
    if record.details:
        record.action = "modified"
    return text, record


@dataclass(frozen=True)
class _Mention:
    pos: int
    series_id: str | None
    asin: str | None
    volume: int | None


def _product_mentions(text: str, ctx: GuardContext) -> list[_Mention]:
    mentions: list[_Mention] = []
    for m in _ASIN.finditer(text):
        product = ctx.catalog.product(m.group())
        mentions.append(_Mention(m.start(), product.series_id if product else None, m.group(), None))
    lowered = text.lower()
    for sid in {p["series_id"] for p in ctx.products if p.get("series_id")}:
        series = ctx.catalog.series[sid]
        for name in (series.title, series.title_ja, *series.aliases):
            pos = lowered.find(name.lower())
            while pos >= 0:
                vol = _VOLUME.search(text, pos, pos + len(name) + 20)
                volume = int(vol.group(1) or vol.group(2)) if vol else None
                mentions.append(_Mention(pos, sid, None, volume))
                pos = lowered.find(name.lower(), pos + 1)
    mentions.sort(key=lambda m: m.pos)
    return mentions


def _candidates_for(pos: int, mentions: list[_Mention], ctx: GuardContext, currency: str) -> list[PriceQuote]:
    """Quotes the amount at `pos` may legitimately be: tied to the nearest preceding mention."""
    before = [m for m in mentions if m.pos <= pos]
    nearest = before[-1] if before else (mentions[0] if mentions else None)
    quotes = [q for q in ctx.quotes.values() if q.currency == currency]
    if nearest is None:
        return quotes if len({(q.price, q.list_price) for q in quotes}) == 1 else [
            q for q in quotes if q.asin in {p["asin"] for p in ctx.products}
        ][:0] or quotes
    if nearest.asin:
        return [q for q in quotes if q.asin == nearest.asin]
    tied = []
    for q in quotes:
        product = ctx.catalog.product(q.asin)
        if product is None or product.series_id != nearest.series_id:
            continue
        if nearest.volume is not None and product.volume != nearest.volume:
            continue
        tied.append(q)
    return tied


def stage_toxicity(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Replace a toxic answer entirely: patching insults out leaves a hostile answer behind."""
    hits = _TOXIC_EN.findall(text) + _TOXIC_JA.findall(text)
    if hits:
        return SAFE_MESSAGE[ctx.language], StageRecord(stage="toxicity", action="blocked", details=sorted(set(hits)))
    return text, StageRecord(stage="toxicity")


def _competitor_pattern(names: list[str]) -> re.Pattern[str]:
    parts = sorted((re.escape(n) for n in names if n), key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(parts) + r")(?![A-Za-z])", re.I)


def stage_competitor(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Drop sentences that send the shopper to another store or service."""
    pattern = _competitor_pattern(ctx.competitors)
    hits = list(pattern.finditer(text))
    if not hits:
        return text, StageRecord(stage="competitor")
    return _drop_sentences(text, [h.start() for h in hits]), StageRecord(
        stage="competitor", action="modified", details=sorted({h.group() for h in hits})
    )


def stage_store_id(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Every `B0…` id must exist in the catalog; sentences claiming unknown ids are removed."""
    ids = list(_ASIN.finditer(text))
    unknown = [m for m in ids if ctx.catalog.product(m.group()) is None]
    # Ids glued to other characters ("B0ABC12345X") are not ids we issued either.
    malformed = list(re.finditer(r"B0[A-Z0-9]{9,}", text))
    bad = unknown + malformed
    if not bad:
        return text, StageRecord(stage="store_id")
    return _drop_sentences(text, [m.start() for m in bad]), StageRecord(
        stage="store_id", action="modified", details=sorted({m.group() for m in bad})
    )


def stage_scope(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Redirect answers that drift into financial, medical or political advice."""
    hits = _OFF_TOPIC.findall(text)
    if not hits:
        return text, StageRecord(stage="scope")
    return SCOPE_MESSAGE[ctx.language], StageRecord(stage="scope", action="modified", details=sorted(set(hits)))


Stage = Callable[[str, GuardContext], tuple[str, StageRecord] | Awaitable[tuple[str, StageRecord]]]
CHAIN: tuple[tuple[str, Stage], ...] = (
    ("pii", stage_pii),
    ("price_accuracy", stage_price_accuracy),
    ("toxicity", stage_toxicity),
    ("competitor", stage_competitor),
    ("store_id", stage_store_id),
    ("scope", stage_scope),
)


async def run_chain(text: str, ctx: GuardContext) -> GuardResult:
    """Run all six stages in order. A stage that errors withholds the answer (fail closed)."""
    import time

    records: list[StageRecord] = []
    blocked = False
    for name, stage in CHAIN:
        start = time.perf_counter()
        try:
            outcome = stage(text, ctx)
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
            text, record = outcome  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - any failing guard must withhold the answer
            text = SAFE_MESSAGE[ctx.language]
            record = StageRecord(stage=name, action="blocked", details=[f"error: {type(exc).__name__}"])
        record.ms = round((time.perf_counter() - start) * 1000, 3)
        records.append(record)
        if record.action == "blocked":
            blocked = True
            break
        if not text.strip():
            text = SAFE_MESSAGE[ctx.language]
            record.action = "blocked"
            blocked = True
            break
    fired = [r.stage for r in records if r.action != "none"]
    action: Action = "blocked" if blocked else ("modified" if fired else "none")
    return GuardResult(text=text, action=action, fired=fired, stages=records)
