"""Typed records of the store's data, shared by every tool."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from tools.vocab import ADULT_DEMOGRAPHICS, GENTLE_GENRES

Genre = Literal[
    "action", "adventure", "comedy", "drama", "fantasy", "horror", "mystery", "psychological",
    "romance", "sci-fi", "slice-of-life", "sports", "supernatural", "thriller", "historical",
    "mecha", "isekai", "school", "music", "cooking", "crime", "military", "martial-arts",
    "medical", "post-apocalyptic",
]  # fmt: skip
Demographic = Literal["shonen", "shojo", "seinen", "josei", "kodomo"]


class Series(BaseModel):
    """A manga series as the catalog describes it."""

    series_id: str
    title: str
    title_ja: str
    title_ja_reading: str
    aliases: list[str] = Field(default_factory=list)
    authors: list[str]
    authors_ja: list[str]
    genres: list[Genre]
    themes: list[str] = Field(default_factory=list)
    demographic: Demographic
    start_year: int
    status: Literal["ongoing", "completed", "hiatus"]
    volumes: int = Field(ge=1)
    publisher_ja: str
    synopsis: str
    synopsis_ja: str

    @property
    def author_keys(self) -> frozenset[str]:
        """Who wrote it, as names to compare across series: the Japanese names, which the catalog
        spells one way ("Kouta Hirano" and "Kohta Hirano" are both 平野耕太); else the English."""
        return frozenset(self.authors_ja or self.authors)

    @property
    def gentle(self) -> bool:
        """A gentle everyday story: slice of life, comedy or cooking and nothing else."""
        return set(self.genres) <= GENTLE_GENRES

    @property
    def for_adults(self) -> bool:
        """Written for adult readers and more than a gentle everyday story: no young reader's."""
        return self.demographic in ADULT_DEMOGRAPHICS and not self.gentle

    def reads_as(self, demographic: str) -> bool:
        """Whether the series suits a readership: its own, or children's manga for a gentle everyday
        story of any."""
        return self.demographic == demographic or (demographic == "kodomo" and self.gentle)


class Promotion(BaseModel):
    """An active price promotion on a product."""

    label: str
    label_ja: str
    percent_off: int = Field(ge=1, le=90)
    ends_on: date


class Product(BaseModel):
    """One sellable volume: a series volume in one format and edition language."""

    asin: str = Field(pattern=r"^B0[A-Z0-9]{8}$")
    series_id: str
    volume: int
    format: Literal["print", "digital"]
    language: Literal["EN", "JA"]
    currency: Literal["USD", "JPY"]
    list_price: float
    current_price: float
    promotion: Promotion | None = None
    stock: int | None = None  # None for digital editions, which never run out

    @property
    def in_stock(self) -> bool:
        """Digital editions are always available; print needs stock on hand."""
        return self.stock is None or self.stock > 0


class Review(BaseModel):
    """A short reader review of a series."""

    series_id: str
    language: Literal["en", "ja"]
    rating: int = Field(ge=1, le=5)
    reviewer: str
    text: str


class PolicySection(BaseModel):
    """One self-contained section of a store policy document."""

    doc_id: str
    topic: str
    language: Literal["en", "ja"]
    title: str
    heading: str
    body: str
