"""The output guardrail chain, in order: PII, price accuracy, toxicity, competitor mention,
store-id validation, scope. Each stage returns its own record; the chain fails closed unless a
stage is explicitly configured `fail_open`."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from guardrails import metrics
from guardrails.pii import redact_pii
from guardrails.toxicity import toxic_hits
from tools.catalog import Catalog
from tools.pricing import PriceQuote, PricingTool, format_price

Action = Literal["none", "modified", "blocked"]
STAGES = ("pii", "price_accuracy", "toxicity", "competitor", "store_id", "scope")
FailPolicy = Literal["fail_closed", "fail_open"]

# A sentence ends at 。！？ or newline, or at . ! ? followed by a space/end — but not after "Vol." etc.
_SENTENCE_END = re.compile(
    r"[。！？]+|\n+|(?<![Vv]ol)(?<!\bNo)(?<!\bno)(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bSt)(?<!\bvs)(?<!\bed)(?<!\bEd)"
    r"[.!?]+(?=\s|$)"
)
_ASIN = re.compile(r"\bB0[A-Z0-9]{8}\b")
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?P<usd>(?:US)?\$\s?(?P<u1>{_NUM})|(?:USD|US\$)\s?(?P<u2>{_NUM})"
    rf"|(?P<u3>{_NUM})\s?(?:USD\b|dollars?\b|ドル))"
    rf"|(?P<jpy>[¥￥]\s?(?P<j1>{_NUM})|JPY\s?(?P<j2>{_NUM})|(?P<j3>{_NUM})\s?(?:円|yen\b|JPY\b))"
    rf"|(?:priced at|costs?|for only|for just|now|price is|sells for|retails for)\s(?P<bare>\d[\d,]*\.\d{{2}})\b",
    re.I,
)
_DISCOUNT = re.compile(
    r"(?<![\d.])(?P<pct>\d{1,2})\s?(?:%|％|percent|パーセント)\s?(?:off\b|discount|オフ|引き|割引|値引き|OFF)"
    r"|(?:save|discount of|discounted by|reduced by|markdown of)\s(?P<pct2>\d{1,2})\s?(?:%|percent)"
    r"|(?<![\d.])(?P<wari>\d)\s?割(?:引き?|オフ|OFF)"
    r"|(?P<half>半額|half[- ]price|half off)",
    re.I,
)
_LIST_CUE = re.compile(
    r"(?:list(?: price)?|regular(?:ly)?(?: price)?|normally|usually|originally|was|were|down from|reduced from|"
    r"instead of|rrp|msrp|full price|before the sale|from|定価|通常価格?|元の?価格|元値|本来)\s*(?:of|is|at|was|=|は|が)?\s*[:：(（]?\s*$",
    re.I,
)
_DIGITAL_HINT = re.compile(r"\b(?:digital|e-?book|kindle|electronic)\b|電子|デジタル", re.I)
_JA_HINT = re.compile(r"\b(?:japanese|ja|jp)\b(?: edition| version| print| digital)?|日本語版?|国内版|和書", re.I)
_EN_HINT = re.compile(r"\b(?:english|en|us)\b (?:edition|version|print|digital)|英語版|英訳版", re.I)
_VOLUME = re.compile(r"(?:vol(?:ume)?\.?\s?|#|no\.\s?)(\d{1,3})\b|(\d{1,3})\s?巻|第(\d{1,3})巻", re.I)

_SCOPE_STRONG = re.compile(
    r"\b(?:stocks? to buy|buy (?:stocks|shares|bitcoin|crypto\w*)|invest (?:in|your)|dosage|mg (?:of|per)|"
    r"vote for|vote against|investment advice|financial advice|medical advice)\b"
    r"|(?:株を買|投資すべき|投資して|に投資|服用量|処方して|に投票して|に投票すべき|投票しましょう)",
    re.I,
)
_SCOPE_TOPIC = re.compile(
    r"\b(?:invest(?:ing|ment)?s?|stock market|stocks|shares|bitcoin|crypto(?:currency)?|portfolio|savings|"
    r"retirement fund|forex|day trading|diagnos\w+|prescri\w+|medications?|antidepressants?|ibuprofen|"
    r"symptoms?|treatment|election|political part(?:y|ies)|democrats?|republicans?|left-wing|right-wing|"
    r"politicians?)\b|投資|株価|株式|仮想通貨|ビットコイン|資産運用|診断|処方|服用|症状|治療|選挙|政党|投票|政治家",
    re.I,
)
_SCOPE_ADVICE = re.compile(
    r"\b(?:you should|i(?:'d| would)? recommend|i advise|i suggest|my advice|best (?:to|option|choice)|"
    r"consider (?:buying|selling|taking|putting|voting)|you need to|you must|i think|in my opinion|i believe|"
    r"is the best (?:party|candidate|investment)|put your (?:savings|money))\b"
    r"|(?:べきです|べきだ|した方が(?:いい|良い)|したほうが(?:いい|良い)|をおすすめします|がおすすめ|と思います|が正しい)",
    re.I,
)


class StageRecord(BaseModel):
    """What one guard stage did."""

    stage: str
    action: Action = "none"
    details: list[str] = Field(default_factory=list)
    ms: float = 0.0
    error: str | None = None


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
    # stage name -> "fail_closed" (default) or "fail_open" (only by explicit configuration)
    stage_policy: dict[str, str] = field(default_factory=dict)
    # "remove" drops the sentence naming a competitor; "replace" swaps the name for the store's own.
    competitor_action: str = "remove"


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
STORE_NAME = {"en": "our store", "ja": "当店"}


def _lang(ctx: GuardContext) -> str:
    return ctx.language if ctx.language in SAFE_MESSAGE else "en"


def _sentences(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start:
            spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*[,、;]?\s*\)|（\s*[,、;]?\s*）", "", text)
    text = re.sub(r"[ \t]+([,.;:!?])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", re.sub(r"\n{3,}", "\n\n", text)).strip()


def _drop_sentences(text: str, positions: list[int]) -> str:
    spans = [s for s in _sentences(text) if any(s[0] <= p < s[1] for p in positions)]
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return _tidy(text)


def _amount_value(m: re.Match[str]) -> tuple[float, str]:
    if m.group("usd"):
        raw = m.group("u1") or m.group("u2") or m.group("u3")
        return float(raw.replace(",", "")), "USD"
    if m.group("jpy"):
        raw = m.group("j1") or m.group("j2") or m.group("j3")
        return float(raw.replace(",", "")), "JPY"
    return float(m.group("bare").replace(",", "")), "USD"


def _discount_value(m: re.Match[str]) -> int:
    if m.group("pct") or m.group("pct2"):
        return int(m.group("pct") or m.group("pct2"))
    if m.group("wari"):
        return int(m.group("wari")) * 10
    return 50


def stage_pii(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Redact any email, phone, card number or postal address the answer contains."""
    redacted, kinds = redact_pii(text)
    return redacted, StageRecord(stage="pii", action="modified" if kinds else "none", details=kinds)


@dataclass(frozen=True)
class _Mention:
    pos: int
    series_id: str | None
    asin: str | None
    volume: int | None


def _volume_near(text: str, start: int, end: int) -> int | None:
    vol = _VOLUME.search(text, start, min(len(text), end + 20))
    if vol is None:
        return None
    return int(vol.group(1) or vol.group(2) or vol.group(3))


def _product_mentions(text: str, ctx: GuardContext, amount_sentences: list[tuple[int, int]]) -> list[_Mention]:
    """Store ids and series titles in the answer, each with its position (and volume, if stated)."""
    mentions: list[_Mention] = []
    for m in _ASIN.finditer(text):
        product = ctx.catalog.product(m.group())
        mentions.append(_Mention(m.start(), product.series_id if product else None, m.group(),
                                 product.volume if product else None))
    seen: set[int] = {m.pos for m in mentions}
    lowered = text.lower()
    context_series = {p["series_id"] for p in ctx.products if p.get("series_id")}
    for sid in context_series:
        series = ctx.catalog.series.get(sid)
        if series is None:
            continue
        for name in {series.title, series.title_ja, *series.aliases}:
            if not name:
                continue
            needle = name.lower()
            pos = lowered.find(needle)
            while pos >= 0:
                if pos not in seen:
                    seen.add(pos)
                    mentions.append(_Mention(pos, sid, None, _volume_near(text, pos + len(needle), pos + len(needle))))
                pos = lowered.find(needle, pos + 1)
    # Titles outside the context (the model named another series): look them up in the sentences with amounts.
    for start, end in amount_sentences:
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        for hit in ctx.catalog.find_names(chunk, misspelt=False):
            if hit.kind != "series" or hit.key in context_series:
                continue
            pos = start + lead + hit.start
            if pos not in seen:
                seen.add(pos)
                mentions.append(_Mention(pos, hit.key, None, _volume_near(text, pos, start + lead + hit.end)))
    mentions.sort(key=lambda m: m.pos)
    return mentions


def _nearest(pos: int, mentions: list[_Mention], spans: list[tuple[int, int]]) -> _Mention | None:
    """The product an amount belongs to: the closest mention before it in its sentence, else the
    first after it in its sentence, else the closest before it anywhere."""
    if not mentions:
        return None
    sent = next((s for s in spans if s[0] <= pos < s[1]), (pos, pos + 1))
    before = [m for m in mentions if sent[0] <= m.pos <= pos]
    if before:
        return before[-1]
    after = [m for m in mentions if pos < m.pos < sent[1]]
    if after:
        return after[0]
    earlier = [m for m in mentions if m.pos <= pos]
    return earlier[-1] if earlier else mentions[0]


def _products_of(mention: _Mention | None, ctx: GuardContext) -> list[PriceQuote]:
    quotes = list(ctx.quotes.values())
    if mention is None:
        return quotes
    if mention.asin:
        return [q for q in quotes if q.asin == mention.asin]
    tied = []
    for q in quotes:
        product = ctx.catalog.product(q.asin)
        if product is None or product.series_id != mention.series_id:
            continue
        if mention.volume is not None and product.volume != mention.volume:
            continue
        tied.append(q)
    return tied


def _in_context(quotes: list[PriceQuote], mention: _Mention | None, sentence: str, ctx: GuardContext) -> list[PriceQuote]:
    """For a series the answer is about, only the editions in context count, unless the sentence
    names the other edition ("the Japanese edition is ¥990")."""
    if mention is None or mention.asin is not None:
        return quotes
    context_asins = {p.get("asin") for p in ctx.products}
    in_context = [q for q in quotes if q.asin in context_asins]
    if not in_context:
        return quotes
    wanted = {"JPY"} if _JA_HINT.search(sentence) else set()
    if _EN_HINT.search(sentence):
        wanted.add("USD")
    return in_context + [q for q in quotes if q.asin not in context_asins and q.currency in wanted]


def _pick(candidates: list[PriceQuote], sentence: str, ctx: GuardContext) -> PriceQuote:
    fmt = "digital" if _DIGITAL_HINT.search(sentence) else "print"
    for q in candidates:
        product = ctx.catalog.product(q.asin)
        if product is not None and product.format == fmt:
            return q
    return candidates[0]


def _asins_to_quote(text: str, ctx: GuardContext, mentions: list[_Mention]) -> list[str]:
    asins = [p["asin"] for p in ctx.products if p.get("asin")] + _ASIN.findall(text)
    for m in mentions:
        if m.asin is None and m.series_id and m.volume is not None:
            asins += [p.asin for p in ctx.catalog.editions(m.series_id, m.volume)]
    return list(dict.fromkeys(asins))


async def stage_price_accuracy(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Tie every amount to the nearest product mention and check it against the pricing tool:
    rewrite wrong amounts in place, remove ungrounded ones and invented discounts, keep yen only for
    JA editions; if pricing does not answer in time, remove every price and add a note."""
    record = StageRecord(stage="price_accuracy")
    amounts = list(_AMOUNT.finditer(text))
    discounts = list(_DISCOUNT.finditer(text))
    if not amounts and not discounts:
        return text, record
    lang = _lang(ctx)
    spans = _sentences(text)
    amount_sentences = [s for s in spans if any(s[0] <= m.start() < s[1] for m in amounts + discounts)]
    mentions = _product_mentions(text, ctx, amount_sentences)
    try:
        ctx.quotes = await asyncio.wait_for(ctx.pricing.quote(_asins_to_quote(text, ctx, mentions)), ctx.pricing_timeout_s)
    except TimeoutError:
        stripped = _drop_sentences(text, [m.start() for m in amounts + discounts])
        record.action = "modified"
        record.details.append("pricing_timeout: removed every price")
        return (stripped + "\n\n" + PRICE_NOTE[lang]).strip(), record
    documented = {_amount_value(d) for d in _AMOUNT.finditer(ctx.document_text)}
    edits: list[tuple[int, int, str]] = []
    for m in amounts:
        value, currency = _amount_value(m)
        if (value, currency) in documented:
            continue
        sent = next((s for s in spans if s[0] <= m.start() < s[1]), (0, len(text)))
        sentence = text[sent[0]:sent[1]]
        mention = _nearest(m.start(), mentions, spans)
        tied = _in_context(_products_of(mention, ctx), mention, sentence, ctx)
        # A "Japanese edition" amount next to an English mention (or the reverse) names the other edition.
        candidates = [q for q in tied if q.currency == currency]
        if not candidates and tied:
            other = "yen amount for a non-JA edition" if currency == "JPY" else "dollar amount for a JA edition"
            edits.append((m.start(), m.end(), ""))
            record.details.append(f"flagged {other}: removed {m.group().strip()} ({tied[0].asin})")
            continue
        if not candidates:
            edits.append((m.start(), m.end(), ""))
            record.details.append(f"removed ungrounded {m.group().strip()}")
            continue
        is_list = bool(_LIST_CUE.search(text[max(sent[0], m.start() - 30):m.start()]))
        current = {q.price for q in candidates}
        listed = {q.list_price for q in candidates}
        if is_list:
            allowed = listed | current
        else:
            allowed = set(current)
            # "was $12.99, now $9.99": a list price is fine beside its current price in the sentence.
            others = {_amount_value(o)[0] for o in _AMOUNT.finditer(sentence)} - {value}
            allowed |= {q.list_price for q in candidates if q.price in others}
        if any(abs(value - a) < 0.005 for a in allowed):
            continue
        correct = _pick(candidates, sentence, ctx)
        amount = correct.list_price if is_list else correct.price
        fixed = format_price(amount, correct.currency)
        edits.append((m.start(), m.end(), fixed))
        record.details.append(f"rewrote {m.group().strip()} -> {fixed} ({correct.asin}{', list' if is_list else ''})")
    documented_promos = {_discount_value(p) for p in _DISCOUNT.finditer(ctx.document_text)} if discounts else set()
    for d in discounts:
        percent = _discount_value(d)
        tied = _products_of(_nearest(d.start(), mentions, spans), ctx) or list(ctx.quotes.values())
        promos = {q.percent_off for q in tied if q.percent_off} | documented_promos
        if percent not in promos:
            record.details.append(f"removed invented discount {d.group().strip()}")
            edits.append((d.start(), d.end(), "\0DROP\0"))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    if "\0DROP\0" in text:
        text = _remove_discounts(text)
    if any(replacement == "" for _, _, replacement in edits):
        text = _tidy(text)
        if PRICE_NOTE[lang] not in text:
            text = text.rstrip() + "\n\n" + PRICE_NOTE[lang]
    if record.details:
        record.action = "modified"
    return text, record


def _remove_discounts(text: str) -> str:
    """Take invented discounts out: just the phrase when its sentence also states a price or names a
    product (", 50% off"), else the whole sentence ("It's 50% off this week!")."""
    drop: list[int] = []
    for start, end in reversed(_sentences(text)):
        sentence = text[start:end]
        if "\0DROP\0" not in sentence:
            continue
        rest = sentence.replace("\0DROP\0", "")
        if _AMOUNT.search(rest) or _ASIN.search(rest):
            cleaned = re.sub(r"(?:[,、，]\s*|\s+[-—–]\s*|\s+(?:at|with|for)\s+|\s*)\0DROP\0(?:\s*(?:today|this week|now|right now))?", "", sentence)
            text = text[:start] + cleaned + text[end:]
        else:
            drop.append(start)
    return _drop_sentences(text, drop) if drop else _tidy(text)


def stage_toxicity(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Replace a toxic answer entirely: patching insults out leaves a hostile answer behind."""
    titles: list[str] = []
    for p in ctx.products:
        series = ctx.catalog.series.get(p.get("series_id", ""))
        if series is not None:
            titles += [series.title, series.title_ja, *series.aliases]
    hits = toxic_hits(text, titles)
    if hits:
        return SAFE_MESSAGE[_lang(ctx)], StageRecord(stage="toxicity", action="blocked", details=hits)
    return text, StageRecord(stage="toxicity")


_COMPETITOR_CACHE: dict[tuple[str, ...], re.Pattern[str]] = {}


# Competitor names that are also everyday English words.
_ORDINARY_WORDS = frozenset({"target", "animate", "kindle", "honto", "orange", "apple books"})


def competitor_pattern(names: list[str]) -> re.Pattern[str] | None:
    """One pattern for every competitor name (None without names), shared with the stream guard."""
    key = tuple(names)
    if key not in _COMPETITOR_CACHE:
        # A name that is also an ordinary word counts only capitalised (or in capitals): a synopsis's
        # "the target of the hunt" names no store. Other names match in any case.
        exact = [n for n in names if n.lower() in _ORDINARY_WORDS]
        loose = [n for n in names if n and n not in exact]
        parts = sorted((re.escape(v) for n in exact for v in (n, n.upper())), key=len, reverse=True)
        if loose:
            parts.insert(0, "(?i:" + "|".join(sorted(map(re.escape, loose), key=len, reverse=True)) + ")")
        _COMPETITOR_CACHE[key] = re.compile(r"(?<![A-Za-z])(?:" + "|".join(parts) + r")(?![A-Za-z])") if parts else None  # type: ignore[assignment]
    return _COMPETITOR_CACHE[key]


@dataclass(frozen=True)
class Amount:
    """A money amount stated in a text, as the price-accuracy stage reads it."""

    text: str
    value: float
    currency: str


@dataclass(frozen=True)
class Discount:
    """A discount stated in a text ("20% off", "2割引", "half price"), as a whole percentage."""

    text: str
    percent: int


# The chain's own readings of an answer, for checks that must agree with the chain (the evaluation
# validators): a second set of patterns would let the two drift apart.
def find_amounts(text: str) -> list[Amount]:
    """Every money amount in the text (dollars or yen, symbol or word), in order."""
    return [Amount(m.group(), *_amount_value(m)) for m in _AMOUNT.finditer(text)]


def find_discounts(text: str) -> list[Discount]:
    """Every discount claim in the text, in order."""
    return [Discount(m.group(), _discount_value(m)) for m in _DISCOUNT.finditer(text)]


def find_store_ids(text: str) -> list[str]:
    """Every well-formed store id (`B0` and eight capitals or digits) in the text, in order."""
    return _ASIN.findall(text)


def find_competitors(text: str, names: list[str]) -> list[str]:
    """The competitor names the text mentions (as written there), in order, with repeats."""
    pattern = competitor_pattern(names)
    return [m.group() for m in pattern.finditer(text)] if pattern else []


def stage_competitor(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Drop sentences that send the shopper to another store (or replace the name, if configured)."""
    pattern = competitor_pattern(ctx.competitors)
    hits = list(pattern.finditer(text)) if pattern else []
    if not hits:
        return text, StageRecord(stage="competitor")
    names = sorted({h.group() for h in hits})
    if ctx.competitor_action == "replace":
        return _tidy(pattern.sub(STORE_NAME[_lang(ctx)], text)), StageRecord(  # type: ignore[union-attr]
            stage="competitor", action="modified", details=[f"replaced {n}" for n in names]
        )
    return _drop_sentences(text, [h.start() for h in hits]), StageRecord(
        stage="competitor", action="modified", details=[f"removed {n}" for n in names]
    )


def known_store_ids(catalog: Catalog, ids: list[str]) -> set[str]:
    """One batch look-up of store ids against the catalog."""
    products = catalog.products
    return {i for i in set(ids) if i in products}


def stage_store_id(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Every `B0…` id must exist in the catalog; sentences claiming unknown ids are removed."""
    ids = list(_ASIN.finditer(text))
    known = known_store_ids(ctx.catalog, [m.group() for m in ids])
    unknown = [m for m in ids if m.group() not in known]
    # Ids glued to other characters ("B0ABC12345X") are not ids we issued either.
    malformed = list(re.finditer(r"B0[A-Z0-9]{9,}", text))
    bad = unknown + malformed
    if not bad:
        return text, StageRecord(stage="store_id")
    return _drop_sentences(text, [m.start() for m in bad]), StageRecord(
        stage="store_id", action="modified", details=sorted({m.group() for m in bad})
    )


def stage_scope(text: str, ctx: GuardContext) -> tuple[str, StageRecord]:
    """Redirect answers that give financial, medical or political advice or opinions.

    A topic word alone (a synopsis mentioning an election) is fine; advice about it is not.
    """
    hits: list[str] = [m.group() for m in _SCOPE_STRONG.finditer(text)]
    if not hits:
        for start, end in _sentences(text):
            sentence = text[start:end]
            topic = _SCOPE_TOPIC.search(sentence)
            if topic and _SCOPE_ADVICE.search(sentence):
                hits.append(topic.group())
    if not hits:
        return text, StageRecord(stage="scope")
    return SCOPE_MESSAGE[_lang(ctx)], StageRecord(stage="scope", action="modified", details=sorted(set(hits)))


Stage = Callable[[str, GuardContext], tuple[str, StageRecord] | Awaitable[tuple[str, StageRecord]]]
CHAIN: tuple[tuple[str, Stage], ...] = (
    ("pii", stage_pii),
    ("price_accuracy", stage_price_accuracy),
    ("toxicity", stage_toxicity),
    ("competitor", stage_competitor),
    ("store_id", stage_store_id),
    ("scope", stage_scope),
)


async def run_chain(text: str, ctx: GuardContext, chain: tuple[tuple[str, Stage], ...] = CHAIN) -> GuardResult:
    """Run all six stages in order. A stage that errors withholds the answer (fail closed), unless
    that stage is configured `fail_open`, in which case the answer goes on unchanged by it."""
    records: list[StageRecord] = []
    blocked = False
    lang = _lang(ctx)
    for name, stage in chain:
        start = time.perf_counter()
        try:
            outcome = stage(text, ctx)
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
            text, record = outcome  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - any failing guard must withhold the answer
            policy = ctx.stage_policy.get(name, "fail_closed")
            metrics.count("output.stage_error", name)
            metrics.log.error("guard stage %s failed (%s): %s", name, policy, type(exc).__name__)
            if policy == "fail_open":
                record = StageRecord(stage=name, action="none", error=type(exc).__name__,
                                     details=[f"error: {type(exc).__name__}", "fail_open: answer passed on"])
            else:
                text = SAFE_MESSAGE[lang]
                record = StageRecord(stage=name, action="blocked", error=type(exc).__name__,
                                     details=[f"error: {type(exc).__name__}", "fail_closed: answer withheld"])
        record.ms = round((time.perf_counter() - start) * 1000, 3)
        records.append(record)
        if record.action == "blocked":
            blocked = True
            break
        if not text.strip():
            text = SAFE_MESSAGE[lang]
            record.action = "blocked"
            record.details.append("nothing left to show")
            blocked = True
            break
    fired = [r.stage for r in records if r.action != "none" or r.error]
    for stage_name in fired:
        metrics.count("output.fired", stage_name)
    action: Action = "blocked" if blocked else ("modified" if any(r.action != "none" for r in records) else "none")
    return GuardResult(text=text, action=action, fired=fired, stages=records)
