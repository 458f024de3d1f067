"""Product cards: catalog facts plus the pricing tool's price, as the turn result shows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mangaassist.contracts import ProductCard
from tools.catalog import Catalog
from tools.pricing import PricingTool


def shown_count(plan: Mapping[str, Any], most: int) -> int:
    """How many cards a listing shows: as many as the shopper asked for ("top 3"), at most `most`."""
    asked = plan.get("count")
    return min(asked, most) if asked else most


def edition_for(language: str, edition: str | None) -> str:
    """The edition a shopper most likely wants: asked for, else the language they write in."""
    return edition or ("JA" if language == "ja" else "EN")


async def product_cards(catalog: Catalog, pricing: PricingTool, asins: list[str]) -> list[ProductCard]:
    """Cards for known store ids, in the order given, priced by the pricing tool."""
    quotes = await pricing.quote(asins)
    cards = []
    for asin in dict.fromkeys(asins):
        product = catalog.product(asin)
        quote = quotes.get(asin)
        if product is None or quote is None:
            continue
        series = catalog.series[product.series_id]
        promotion = None
        if quote.promotion:
            promotion = f"{quote.promotion} ({quote.percent_off}% off)"
        cards.append(
            ProductCard(
                asin=asin,
                title=f"{series.title}, Vol. {product.volume}",
                title_ja=f"{series.title_ja} {product.volume}巻",
                authors=series.authors,
                genres=list(series.genres),
                format=product.format,
                language=product.language,
                price=quote.price,
                currency=quote.currency,  # type: ignore[arg-type]
                in_stock=quote.in_stock,
                volume=product.volume,
                series_id=series.series_id,
                list_price=quote.list_price,
                promotion=promotion,
            )
        )
    return cards
