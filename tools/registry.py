"""The store's tools, built once per process from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import httpx

from mangaassist.settings import Settings, get_settings
from tools.catalog import Catalog
from tools.intent import IntentRouter
from tools.models import PolicySection
from tools.orders import HttpOrdersTool, OrdersTool, SqliteOrdersTool
from tools.policies import load_policies
from tools.pricing import CatalogPricingTool, HttpPricingTool, PricingTool
from tools.recommendations import RecommendationsTool
from tools.retrieval import Retriever, open_retriever
from tools.returns import ReturnsTool


@dataclass(frozen=True)
class Services:
    """Every tool a turn may call."""

    settings: Settings
    catalog: Catalog
    pricing: PricingTool
    orders: OrdersTool
    returns: ReturnsTool
    recommendations: RecommendationsTool
    retrieval: Retriever
    intents: IntentRouter
    policies: dict[str, PolicySection]

    def today(self) -> date:
        """The store's current day (overridable for reproducible runs)."""
        return self.settings.today or date.today()


def _service_client(settings: Settings, url: str, dependency: str) -> httpx.AsyncClient:
    """An HTTP client for one store service; its timeout is the tool's, the graph cuts it further."""
    headers = {}
    if settings.store_api_key is not None:
        headers["authorization"] = f"Bearer {settings.store_api_key.get_secret_value()}"
    return httpx.AsyncClient(
        base_url=url.rstrip("/") + "/",
        headers=headers,
        timeout=settings.tool_timeouts_s.get(dependency, 1.0),
    )


def build_services(settings: Settings) -> Services:
    """Load data and tools for these settings."""
    data = settings.store_data_dir
    catalog = Catalog(data)
    orders = (
        HttpOrdersTool(_service_client(settings, settings.orders_url, "orders"))
        if settings.orders_url
        else SqliteOrdersTool(data / "orders.sqlite")
    )
    pricing = (
        HttpPricingTool(_service_client(settings, settings.pricing_url, "pricing"))
        if settings.pricing_url
        else CatalogPricingTool(catalog)
    )
    policies = load_policies(data)
    retrieval = open_retriever(settings, catalog)
    return Services(
        settings=settings,
        catalog=catalog,
        pricing=pricing,
        orders=orders,
        returns=ReturnsTool(orders, catalog),
        recommendations=RecommendationsTool(catalog),
        retrieval=retrieval,
        intents=IntentRouter(data, settings.intent_model_path),
        policies={p.doc_id: p for p in policies},
    )


@lru_cache(maxsize=1)
def get_services() -> Services:
    """Process-wide services for the process-wide settings."""
    return build_services(get_settings())
