"""The turn result contract shared by the graph, the CLI and the HTTP API.

Later versions extend these models; they never rename or drop a field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Language = Literal["en", "ja"]
Intent = Literal[
    "recommendation",
    "product_search",
    "product_question",
    "price_check",
    "order_status",
    "return_request",
    "shipping_info",
    "store_faq",
    "chitchat",
    "escalation",
    "out_of_scope",
]
INTENTS: tuple[Intent, ...] = Intent.__args__  # type: ignore[attr-defined]
ModelTier = Literal["primary", "secondary", "grounded", "cache"]
GuardrailAction = Literal["none", "modified", "blocked"]


class ProductCard(BaseModel):
    """One product shown to the shopper, priced by the pricing tool."""

    asin: str
    title: str
    title_ja: str
    authors: list[str]
    genres: list[str]
    format: Literal["print", "digital"]
    language: Literal["EN", "JA"]
    price: float
    currency: Literal["USD", "JPY"]
    in_stock: bool
    volume: int | None = None
    series_id: str | None = None
    list_price: float | None = None
    promotion: str | None = None


class RetrievalInfo(BaseModel):
    """Whether retrieved documents informed the answer."""

    used: bool = False
    speculative: bool = True
    doc_ids: list[str] = Field(default_factory=list)


class TurnMetadata(BaseModel):
    """How the answer was produced."""

    model_tier: ModelTier = "grounded"
    guardrail_action: GuardrailAction = "none"
    guardrails_fired: list[str] = Field(default_factory=list)
    retrieval: RetrievalInfo = Field(default_factory=RetrievalInfo)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    # Added in the resilience release (optional, so older clients keep validating).
    breakers: dict[str, str] = Field(default_factory=dict)
    deadline_ms: float | None = None
    elapsed_ms: float | None = None
    degraded: list[str] = Field(default_factory=list)
    banner: str | None = None


class TurnResult(BaseModel):
    """Everything one turn returns to a shopper-facing client."""

    request_id: str
    session_id: str
    intent: Intent
    intent_confidence: float
    language: Language
    text: str
    products: list[ProductCard] = Field(default_factory=list)
    quick_replies: list[str] = Field(default_factory=list)
    metadata: TurnMetadata = Field(default_factory=TurnMetadata)
