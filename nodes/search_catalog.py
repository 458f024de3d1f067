"""Catalog search: titles, authors, genres and editions, with filters pushed into retrieval."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from graph.state import Context, State
from graph.timing import timed
from tools.cards import product_cards, shown_count
from tools.catalog import Catalog, volume_for
from tools.models import Series
from graph.resources import services as load_services
from tools.rerank import SURE
from tools.retrieval import SearchFilters
from tools.similar import spelled_like
from tools.text import describes_a_story, message_size
from tools.vocab import asks_only_for_a_kind

# What a shelf search reads: the series' own entries and their readers' reviews.
SHELF = ["series", "reviews"]


# Words of a message that describes something rather than asking for a title by its name.
_DESCRIPTION_WORDS = 5


def _maybe_only_a_word(plan: dict[str, Any], text: str, catalog: Catalog) -> bool:
    """Whether the series named may be no name at all, in a message describing something."""
    return (
        bool(plan["series_ids"]) and not plan["authors"] and plan["volume"] is None
        and not catalog.names_decide(text) and message_size(text)[0] >= _DESCRIPTION_WORDS
    )


@timed
async def search_catalog(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Find series matching the message and show a card for each (volume 1 unless asked)."""
    services = await load_services()
    catalog = services.catalog
    plan = state["plan"]
    limit = services.settings.max_product_cards
    genres = plan["genres"]
    text = state["user_text"]
    series_ids: list[str] = list(plan["series_ids"])
    if state["intent"] == "product_search" and plan["volume"] is None:
        # A series looked for by name comes with what continues it: "Tokyo Ghoul" shows Tokyo
        # Ghoul:re after it, "Naruto" Boruto (a volume asked for is of the one named).
        series_ids += [c for c in catalog.continuations(*series_ids) if c not in series_ids]
    for author in plan["authors"]:
        series_ids += [s.series_id for s in catalog.by_author(author) if s.series_id not in series_ids]
    # "The author of Death Note": the works the shopper did not name come first.
    known = set(plan.get("author_of", []))
    series_ids = [s for s in series_ids if s not in known] + [s for s in series_ids if s in known]
    # A name we have no document for is a title the store does not carry: say so, don't guess
    # (nor list the sales for "how much is <that title>?").
    unknown_names = [] if series_ids else plan.get("not_carried", [])
    on_sale = state["intent"] == "price_check" and not series_ids and not unknown_names
    if on_sale:
        series_ids = sorted(catalog.promoted_series, key=lambda sid: (not set(genres) & set(catalog.series[sid].genres), sid))
    era = (plan.get("from_year"), plan.get("to_year"))
    # Asking about a title we do not carry, with no word of what it is about, stays that question
    # whatever status or era it also names ("is Kagurabachi finished?").
    not_carried = [] if series_ids else unknown_names
    misspelt: list[str] = []
    # A series the unfiltered search is sure of: genre and readership words are filters ("horror
    # manga for girls") but also turn up in a story's description ("orphans ... raised as food for
    # demons" reads as cooking and supernatural, "two girls ..." as shojo), so it comes first either way.
    sure: list[str] = []
    # A name that may be just a word ("Mars", "Monster": one Latin word, or an everyday one), in a
    # message that describes something ("astronauts fighting giant cockroaches on Mars"), is shown
    # first, and the search runs as well.
    named_first = series_ids if _maybe_only_a_word(plan, text, catalog) else []
    if (
        not series_ids and not unknown_names and genres
        and asks_only_for_a_kind(text, genres, plan["demographic"])
    ):
        # "mystery manga", 「ホラー漫画」: the kind's own series, not those whose entries repeat
        # the kind's word.
        series_ids = [s.series_id for s in catalog.kind_first(genres)]
    elif not series_ids or named_first:
        # A name we have no document for is looked up alone: the words asking about it ("is …
        # finished?") would only find other series.
        query = " ".join(not_carried) or text
        everything = services.retrieval.search(query, limit * 4, SearchFilters(doc_types=SHELF))
        if genres and not not_carried and not describes_a_story(text):
            # Side by side, on the one query vector: a second search after the first would add its
            # whole round trip to the turn.
            hits, shown = await asyncio.gather(
                everything, services.retrieval.search(text, limit * 4, SearchFilters(doc_types=SHELF, genres=genres))
            )
        else:
            hits = shown = await everything
        found = list(dict.fromkeys(h.series_id for h in shown if h.series_id))
        if not_carried:
            # ... unless the word is a title misspelt ("frieran", "berzerk", "chainsawman"): the
            # search still finds that series, and the word reads as one of its names.
            series_ids = misspelt = [
                sid for sid in found
                if any(spelled_like(t, catalog.series[sid]) for t in [*not_carried, text])
            ]
            not_carried = [] if series_ids else not_carried
        else:
            # More likely relevant than not: it stands first even without the genre or readership
            # asked for.
            sure = [h.series_id for h in hits[:1] if h.series_id and h.scores.get("rerank", 0.0) >= SURE]
            series_ids = [*named_first, *found]
        if genres and len(series_ids) < limit:
            more = catalog.kind_first(genres)
            series_ids += [s.series_id for s in more if s.series_id not in series_ids]
    def of_the_kind_asked(series: Series) -> bool:
        return set(genres) <= set(series.genres) and (plan["demographic"] is None or series.reads_as(plan["demographic"]))

    if plan["demographic"]:
        readers = [s for s in series_ids if catalog.series[s].reads_as(plan["demographic"])]
        if not plan["series_ids"] and not plan["authors"] and not sure and len(readers) < limit:
            # "manga for my 2nd grader" names no story the search is sure of: the readership's best
            # known fill the shelf ("magical girl manga for my 8 year old daughter" keeps its own).
            readers += [
                s.series_id for s in catalog.best_known_first(catalog.series.values())
                if of_the_kind_asked(s) and s.series_id not in readers
            ]
        series_ids = readers or series_ids
    ruled_out = set(plan.get("excluded_series", []))
    series_ids = [s for s in dict.fromkeys([*sure, *series_ids]) if s not in ruled_out]
    # Status, length and era are what the shopper insists on: they hold for every series shown but
    # one named (a misspelt name too), which they ask about: "Naruto from 2005" asks about Naruto
    # (begun 1999), not for 2005's; "is frieran finished?" about Frieren, still running.
    named = {*plan["series_ids"], *misspelt}

    def insisted(series: Series) -> bool:
        return series.series_id in named or (
            plan["status"] in (None, series.status)
            and (not plan["max_volumes"] or series.volumes <= plan["max_volumes"])
            and catalog.begun_within(series.series_id, *era)
        )

    series_ids = [s for s in series_ids if insisted(catalog.series[s])]
    shown = shown_count(plan, limit)
    if any(era) and len(series_ids) < shown and not named:
        # "80s manga" matches few words of any series: the era's best known fill the shelf, of the
        # genres and readership asked for.
        series_ids += [
            s.series_id for s in catalog.best_known_first(catalog.series.values())
            if s.series_id not in series_ids and s.series_id not in ruled_out and insisted(s) and of_the_kind_asked(s)
        ]
    asins = []
    for sid in series_ids[:shown]:
        vol = volume_for(catalog.series[sid], plan["volume"])
        if product := catalog.volume(sid, vol, plan["format"], plan["edition"]):
            asins.append(product.asin)
    cards = await product_cards(catalog, services.pricing, asins)
    return {
        "tool_results": {
            "search": {
                "series_ids": series_ids[:shown],
                "on_sale": on_sale,
                "not_carried": not_carried,
                "cards": [c.model_dump() for c in cards],
            }
        }
    }
