"""The store tools as typed definitions: one source for the graph nodes and the MCP server.

Each tool is a pydantic input model (what a client may send), an async function over `Services`
and a pydantic output model. The function's docstring, up to its `Args:` section, is the
description clients see. What the server knows and the client must not choose (the signed-in
customer) arrives in `ToolContext`, never in the input model.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, model_validator

from mangaassist.contracts import ProductCard
from tools.cards import product_cards
from tools.models import Genre, PolicySection
from tools.orders import Order
from tools.policies import TOPICS
from tools.recommendations import RecommendationRequest
from tools.registry import Services
from tools.retrieval import SearchFilters
from tools.returns import ReturnEligibility

StoreId = Annotated[
    str, Field(pattern=r"^B0[A-Z0-9]{8}$", description="Store id: 'B0' and 8 capital letters or digits.")
]
OrderId = Annotated[str, Field(pattern=r"^MA-\d{5}$", description="Order id, e.g. 'MA-10001'.")]
Topic = Literal["shipping", "returns", "payment", "preorders", "digital-editions", "account"]
assert set(Topic.__args__) == set(TOPICS)  # type: ignore[attr-defined]
Language = Annotated[Literal["en", "ja"], Field(description="Edition or answer language: 'en' or 'ja'.")]
Format = Annotated[Literal["print", "digital"], Field(description="'print' or 'digital'.")]


class ToolError(Exception):
    """A tool call the store cannot answer; the message is safe and meant for the caller."""

    code = "tool_error"


class UnknownId(ToolError):
    """A store id, title or order the store does not know."""

    code = "unknown_id"


class SignInRequired(ToolError):
    """An order tool called by a guest."""

    code = "sign_in_required"

    def __init__(self) -> None:
        super().__init__("sign in to see orders: this tool answers only for the signed-in customer's own orders")


class NotYourOrder(ToolError):
    """Order ids that are not the caller's; whether they exist elsewhere is never told."""

    code = "not_your_order"

    def __init__(self, order_ids: list[str]) -> None:
        super().__init__(f"no order {', '.join(order_ids)} found among your orders")
        self.order_ids = order_ids


@dataclass(frozen=True)
class ToolContext:
    """What the server supplies to every call."""

    services: Services
    user_id: str | None = None


def tool_description(fn: Callable[..., Any]) -> str:
    """A tool function's docstring up to its first Google-style section (`Args:`, `Raises:`...)."""
    doc = inspect.getdoc(fn) or ""
    return re.split(r"^(?:Args|Returns|Raises):$", doc, maxsplit=1, flags=re.M)[0].strip()


In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


@dataclass(frozen=True)
class ToolDefinition(Generic[In, Out]):
    """One tool: its name, models and implementation."""

    name: str
    input_model: type[In]
    output_model: type[Out]
    fn: Callable[[In, ToolContext], Awaitable[Out]]

    @property
    def description(self) -> str:
        """What clients are told the tool does."""
        return tool_description(self.fn)

    def input_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments."""
        return self.input_model.model_json_schema()

    async def call(self, arguments: dict[str, Any], ctx: ToolContext) -> Out:
        """Validate raw arguments and run the tool (raises `pydantic.ValidationError` on bad ones)."""
        return await self.fn(self.input_model.model_validate(arguments), ctx)


# --- search_catalog ---------------------------------------------------------------------------


class SearchCatalogInput(BaseModel):
    """Arguments of `search_catalog`."""

    query: str = Field(min_length=1, max_length=200, description="Title, author or description words (EN or JA).")
    genre: Genre | None = Field(default=None, description="Only series of this genre.")
    language: Language = "en"
    format: Format = "print"
    limit: int = Field(default=5, ge=1, le=20, description="Most series to return.")


class SeriesHit(BaseModel):
    """One series found, with the volume-1 product in the asked edition."""

    series_id: str
    title: str
    title_ja: str
    authors: list[str]
    genres: list[str]
    volumes: int
    product: ProductCard | None


class SearchCatalogOutput(BaseModel):
    """Series matching a search, best first."""

    results: list[SeriesHit]


async def search_catalog(args: SearchCatalogInput, ctx: ToolContext) -> SearchCatalogOutput:
    """Search the manga catalog by title, author or description, optionally by genre.

    Returns matching series, best first, each with the store id and price of volume 1 in the
    asked edition language and format.
    """
    services = ctx.services
    catalog = services.catalog
    filters = SearchFilters(doc_types=["series", "reviews"], genres=[args.genre] if args.genre else None)
    hits = await services.retrieval.search(args.query, args.limit * 4, filters)
    series_ids = list(dict.fromkeys(h.series_id for h in hits if h.series_id))[: args.limit]
    edition = args.language.upper()
    volume_one = {sid: catalog.volume(sid, 1, args.format, edition) for sid in series_ids}
    cards = {c.asin: c for c in await product_cards(
        catalog, services.pricing, [p.asin for p in volume_one.values() if p is not None]
    )}
    results = []
    for sid in series_ids:
        s = catalog.series[sid]
        product = volume_one[sid]
        results.append(SeriesHit(series_id=sid, title=s.title, title_ja=s.title_ja, authors=s.authors,
                                 genres=list(s.genres), volumes=s.volumes,
                                 product=cards.get(product.asin) if product else None))
    return SearchCatalogOutput(results=results)


# --- get_product ------------------------------------------------------------------------------


class GetProductInput(BaseModel):
    """Arguments of `get_product`."""

    store_id: StoreId


class ProductDetails(BaseModel):
    """A product with its series facts and the store ids of its other editions."""

    product: ProductCard
    synopsis: str
    synopsis_ja: str
    series_status: str
    series_volumes: int
    demographic: str
    other_editions: list[str]


async def get_product(args: GetProductInput, ctx: ToolContext) -> ProductDetails:
    """Look up one product by store id: title, volume, edition, price, stock and series facts.

    Raises:
        UnknownId: The store does not sell this id.
    """
    catalog = ctx.services.catalog
    product = catalog.product(args.store_id)
    if product is None:
        raise UnknownId(f"unknown store id {args.store_id}")
    [card] = await product_cards(catalog, ctx.services.pricing, [product.asin])
    series = catalog.series[product.series_id]
    return ProductDetails(
        product=card,
        synopsis=series.synopsis,
        synopsis_ja=series.synopsis_ja,
        series_status=series.status,
        series_volumes=series.volumes,
        demographic=series.demographic,
        other_editions=[p.asin for p in catalog.editions(series.series_id, product.volume) if p.asin != product.asin],
    )


# --- check_price ------------------------------------------------------------------------------


class CheckPriceInput(BaseModel):
    """Arguments of `check_price`."""

    store_ids: list[StoreId] = Field(min_length=1, max_length=20, description="Store ids to price.")


class CheckPriceOutput(BaseModel):
    """Current prices, in the order asked."""

    prices: list[ProductCard]


async def check_price(args: CheckPriceInput, ctx: ToolContext) -> CheckPriceOutput:
    """Current price, list price, active promotion and stock of products, by store id.

    `price` is what the product costs right now; `list_price` is before any promotion.

    Raises:
        UnknownId: One of the ids is not sold by the store.
    """
    catalog = ctx.services.catalog
    unknown = [asin for asin in args.store_ids if catalog.product(asin) is None]
    if unknown:
        raise UnknownId(f"unknown store id {', '.join(unknown)}")
    return CheckPriceOutput(prices=await product_cards(catalog, ctx.services.pricing, args.store_ids))


# --- recommend_similar ------------------------------------------------------------------------


class RecommendSimilarInput(BaseModel):
    """Arguments of `recommend_similar`: a title or a store id, not both."""

    title: str | None = Field(default=None, min_length=1, max_length=200, description="A series title (EN or JA).")
    store_id: StoreId | None = None
    language: Language = "en"
    format: Format = "print"
    limit: int = Field(default=5, ge=1, le=10, description="How many series to recommend.")

    @model_validator(mode="after")
    def _one_seed(self) -> RecommendSimilarInput:
        if (self.title is None) == (self.store_id is None):
            raise ValueError("give exactly one of title or store_id")
        return self


class SimilarSeries(BaseModel):
    """A recommended series, why, and its volume 1 in the asked edition."""

    series_id: str
    title: str
    title_ja: str
    reasons: list[str]
    product: ProductCard | None


class RecommendSimilarOutput(BaseModel):
    """Series like the seed, best first."""

    seed_series_id: str
    recommendations: list[SimilarSeries]


async def recommend_similar(args: RecommendSimilarInput, ctx: ToolContext) -> RecommendSimilarOutput:
    """Recommend manga series similar to a given series (by title or by the store id of any volume).

    Raises:
        UnknownId: No series has this title, or no product this store id.
    """
    services = ctx.services
    catalog = services.catalog
    if args.store_id is not None:
        product = catalog.product(args.store_id)
        if product is None:
            raise UnknownId(f"unknown store id {args.store_id}")
        seed = product.series_id
    else:
        series = [m.key for m in catalog.find_names(args.title or "") if m.kind == "series"]
        if not series:
            raise UnknownId(f"no series titled {args.title!r} in the catalog")
        seed = series[0]
    picks = await services.recommendations.recommend(RecommendationRequest(seed_series=[seed], limit=args.limit))
    edition = args.language.upper()
    volume_one = {r.series_id: catalog.volume(r.series_id, 1, args.format, edition) for r in picks}
    cards = {c.asin: c for c in await product_cards(
        catalog, services.pricing, [p.asin for p in volume_one.values() if p is not None]
    )}
    recommendations = []
    for r in picks:
        s = catalog.series[r.series_id]
        product = volume_one[r.series_id]
        recommendations.append(SimilarSeries(series_id=s.series_id, title=s.title, title_ja=s.title_ja,
                                             reasons=r.reasons, product=cards.get(product.asin) if product else None))
    return RecommendSimilarOutput(seed_series_id=seed, recommendations=recommendations)


# --- get_order_status -------------------------------------------------------------------------


class OrderIdsInput(BaseModel):
    """Arguments of the order tools."""

    order_ids: list[OrderId] = Field(
        default_factory=list, max_length=10, description="Orders to look up; empty means the most recent ones."
    )


class ItemTitle(BaseModel):
    """What an order line is, for people."""

    asin: str
    title: str
    title_ja: str
    volume: int
    quantity: int


class OrderStatus(Order):
    """An order with the titles of its items."""

    item_titles: list[ItemTitle]


class OrderStatusOutput(BaseModel):
    """The caller's orders; `not_found` lists asked ids that are not theirs."""

    orders: list[OrderStatus]
    not_found: list[str]


def _signed_in(ctx: ToolContext) -> str:
    """The caller's customer id; order tools refuse guests."""
    if not ctx.user_id:
        raise SignInRequired()
    return ctx.user_id


async def get_order_status(args: OrderIdsInput, ctx: ToolContext) -> OrderStatusOutput:
    """Status, dates, tracking and items of the signed-in customer's orders.

    Name order ids to look them up, or none for the most recent orders. Only the caller's own
    orders are ever answered.

    Raises:
        SignInRequired: The caller is a guest.
        NotYourOrder: None of the named orders is the caller's.
    """
    services = ctx.services
    lookup = await services.orders.lookup(_signed_in(ctx), args.order_ids)
    if args.order_ids and not lookup.orders:
        raise NotYourOrder(lookup.not_found)
    orders = []
    for order in lookup.orders:
        titles = []
        for item in order.items:
            if product := services.catalog.product(item.asin):
                series = services.catalog.series[product.series_id]
                titles.append(ItemTitle(asin=item.asin, title=series.title, title_ja=series.title_ja,
                                        volume=product.volume, quantity=item.quantity))
        orders.append(OrderStatus(**order.model_dump(), item_titles=titles))
    return OrderStatusOutput(orders=orders, not_found=lookup.not_found)


# --- check_return_eligibility -----------------------------------------------------------------


class ReturnEligibilityOutput(BaseModel):
    """Eligibility of the caller's orders today; `not_found` lists asked ids that are not theirs."""

    orders: list[ReturnEligibility]
    not_found: list[str]


async def check_return_eligibility(args: OrderIdsInput, ctx: ToolContext) -> ReturnEligibilityOutput:
    """Whether the signed-in customer's orders can be returned today, item by item, and why.

    Name order ids, or none for the recently delivered orders. Follows the store's returns
    policy: 30 days from delivery (holiday deliveries until January 31), print editions only.

    Raises:
        SignInRequired: The caller is a guest.
        NotYourOrder: None of the named orders is the caller's.
    """
    services = ctx.services
    _, results, not_found = await services.returns.check(_signed_in(ctx), args.order_ids, services.today())
    if args.order_ids and not results:
        raise NotYourOrder(not_found)
    return ReturnEligibilityOutput(orders=results, not_found=not_found)


# --- store_policy -----------------------------------------------------------------------------


class StorePolicyInput(BaseModel):
    """Arguments of `store_policy`."""

    topic: Topic = Field(description="Policy topic.")
    language: Language = "en"
    question: str | None = Field(
        default=None, min_length=1, max_length=500, description="Return only the sections that best answer this."
    )


class StorePolicyOutput(BaseModel):
    """Policy sections, best first when a question was asked, else in document order."""

    sections: list[PolicySection]


async def policy_sections(
    services: Services, question: str, language: str, topics: list[str] | None, k: int = 3
) -> list[PolicySection]:
    """The `k` sections that best answer `question` within `topics`, else within any topic."""
    filters = SearchFilters(doc_types=["policy"], language=language, topics=topics)  # type: ignore[arg-type]
    hits = await services.retrieval.search(question, k, filters)
    if not hits:
        hits = await services.retrieval.search(question, k, filters.model_copy(update={"topics": None}))
    return [services.policies[h.doc_id] for h in hits]


async def store_policy(args: StorePolicyInput, ctx: ToolContext) -> StorePolicyOutput:
    """The store's policy on a topic (shipping, returns, payment, preorders, digital editions, account).

    Without a question, every section of the topic; with one, the sections that best answer it.
    """
    services = ctx.services
    if args.question:
        return StorePolicyOutput(sections=await policy_sections(services, args.question, args.language, [args.topic]))
    return StorePolicyOutput(sections=[
        p for p in services.policies.values() if p.topic == args.topic and p.language == args.language
    ])


TOOLS: tuple[ToolDefinition[Any, Any], ...] = (
    ToolDefinition("search_catalog", SearchCatalogInput, SearchCatalogOutput, search_catalog),
    ToolDefinition("get_product", GetProductInput, ProductDetails, get_product),
    ToolDefinition("check_price", CheckPriceInput, CheckPriceOutput, check_price),
    ToolDefinition("recommend_similar", RecommendSimilarInput, RecommendSimilarOutput, recommend_similar),
    ToolDefinition("get_order_status", OrderIdsInput, OrderStatusOutput, get_order_status),
    ToolDefinition("check_return_eligibility", OrderIdsInput, ReturnEligibilityOutput, check_return_eligibility),
    ToolDefinition("store_policy", StorePolicyInput, StorePolicyOutput, store_policy),
)


async def account_view(
    tool: Callable[[OrderIdsInput, ToolContext], Awaitable[OrderStatusOutput | ReturnEligibilityOutput]],
    order_ids: list[str],
    ctx: ToolContext,
) -> dict[str, Any]:
    """An order tool's answer as the graph keeps it: guests and foreign ids are outcomes, not errors."""
    try:
        found = await tool(OrderIdsInput(order_ids=order_ids), ctx)
    except SignInRequired:
        return {"signed_in": False, "orders": [], "not_found": list(order_ids)}
    except NotYourOrder:
        return {"signed_in": True, "orders": [], "not_found": list(order_ids)}
    return {
        "signed_in": True,
        "orders": [o.model_dump(mode="json") for o in found.orders],
        "not_found": found.not_found,
    }
