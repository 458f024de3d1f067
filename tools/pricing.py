"""Pricing: the single source of truth for what a product costs right now."""

from __future__ import annotations

from abc import ABC, abstractmethod

import httpx
from pydantic import BaseModel

from tools.catalog import Catalog


class PriceQuote(BaseModel):
    """The current and list price of one product, with any active promotion."""

    asin: str
    currency: str
    price: float
    list_price: float
    percent_off: int | None = None
    promotion: str | None = None
    promotion_ja: str | None = None
    in_stock: bool
    stock: int | None = None


class PricingTool(ABC):
    """Quotes current prices for store ids."""

    @abstractmethod
    async def quote(self, asins: list[str]) -> dict[str, PriceQuote]:
        """Quote every known store id; unknown ids are left out of the answer."""


class CatalogPricingTool(PricingTool):
    """Quotes prices for store ids from the catalog's price book."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def quote(self, asins: list[str]) -> dict[str, PriceQuote]:
        """Quote every known store id; unknown ids are left out of the answer."""
        quotes: dict[str, PriceQuote] = {}
        for asin in dict.fromkeys(asins):
            product = self._catalog.product(asin)
            if product is None:
                continue
            promo = product.promotion
            quotes[asin] = PriceQuote(
                asin=asin,
                currency=product.currency,
                price=product.current_price,
                list_price=product.list_price,
                percent_off=promo.percent_off if promo else None,
                promotion=promo.label if promo else None,
                promotion_ja=promo.label_ja if promo else None,
                in_stock=product.in_stock,
                stock=product.stock,
            )
        return quotes


class QuoteRequest(BaseModel):
    """Body of the pricing service's `POST quotes`."""

    asins: list[str]


class QuoteResponse(BaseModel):
    """The pricing service's answer: one quote per known store id."""

    quotes: list[PriceQuote]


class HttpPricingTool(PricingTool):
    """The store's pricing service over HTTP (`MANGAASSIST_PRICING_URL`); contract in the README.

    Errors surface as `httpx.HTTPError`, which the graph's breaker counts as the dependency failing,
    and a slow answer is cut by the caller's timeout (the price guard then removes every price).
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def quote(self, asins: list[str]) -> dict[str, PriceQuote]:
        """Quote every known store id in one call; unknown ids are left out of the answer."""
        wanted = list(dict.fromkeys(asins))
        if not wanted:
            return {}
        response = await self._client.post("quotes", json=QuoteRequest(asins=wanted).model_dump())
        response.raise_for_status()
        quotes = QuoteResponse.model_validate_json(response.content).quotes
        return {q.asin: q for q in quotes if q.asin in wanted}


def format_price(amount: float, currency: str) -> str:
    """How a price is written in answers: `$9.99` or `¥1,320`."""
    if currency == "JPY":
        return f"¥{int(round(amount)):,}"
    return f"${amount:,.2f}"
