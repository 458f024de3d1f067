""""Like X" requests: the series or author X a query compares against, and likeness to X.

"horror like Uzumaki", "fans of Kaiji", "ベルセルクみたいなダークファンタジー", "伊藤潤二好きにおすすめ":
a plain search ranks X itself first, its title being the strongest match in the text. Here X is
resolved against the catalog (titles, Japanese titles, aliases and author names, as
`Catalog.find_names` knows them) when it stands next to a comparison cue, so the search can look
for X's neighbours instead and leave X out.

For an author X ("like Junji Ito") a shopper usually knows the author already and asks for other
authors in the same vein: other authors' series come first, and the author's own series follow
them rather than being dropped (a shopper new to the author may still want them).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from tools.catalog import Catalog, NameMatch
from tools.entities import (
    CUE_TO_NAME, NAME_TO_CUE, OWN_WORKS, SIMILAR_AFTER, SIMILAR_BACK, SIMILAR_BEFORE, Entities,
    asks_for_its_volumes, extract_entities,
)
from tools.models import Series
from tools.text import compact, normalize, tokenize

_CUE_BEFORE = re.compile(SIMILAR_BEFORE + CUE_TO_NAME + "$")
_CUE_AFTER = re.compile("^" + NAME_TO_CUE + SIMILAR_AFTER)
# What a cue compares against when no catalog name stands there (a misspelt title): the words after
# an English cue up to a clause break, or the katakana/Latin run before a Japanese one.
_OBJECT_AFTER_CUE = re.compile(
    SIMILAR_BEFORE + r"\s+(?P<x>[a-z0-9][a-z0-9' -]*?)"
    r"(?=\s+(?:but|with|and|that|which|where|in|on|for|from|by)\b|[,.?!;:]|$)"
)
_ANY_AFTER_CUE = re.compile(SIMILAR_AFTER)
_CREDIT = re.compile(r"\b(?:by|from)\s+$")
_OBJECT_BEFORE_CUE = re.compile(
    r"(?P<x>[\u30a0-\u30ffa-z0-9][\u30a0-\u30ffa-z0-9 ・-]*?)" + SIMILAR_AFTER
)

# Words that ask for a recommendation without saying what kind: left in, they would pull the search
# towards whatever text happens to contain "next" or "おすすめ" instead of towards X's neighbours.
_FILLER = re.compile(
    r"\b(?:what|which|should|would|could|might|can|do|you|i|me|we|to|please|give|show|find|want"
    r"|need|any|some|something|anything|stuff|more|other|others|else|similar|good|great|best|next"
    r"|read|reading|enjoy|try|recommend|recommendations?|suggest|suggestions?|manga|mangas|series"
    r"|titles?|books?|stories|story|for|just|finished|done|but|and|different|another|ones?|a|an|the"
    r"|same|feel|feeling|vibes?|spirit|spot|vein|lines|again|caught up(?: on| with)?)\b"
    r"|漫画|マンガ|まんが|作品|おすすめ|オススメ|教えて(?:ください)?|ありますか|ある|何(?:か|が)?"
    r"|他に|ほかに|もの|系|似たような|似てる|感じ|近い|ノリ|(?<![ァ-ヴー])ロス(?:で)?(?![ァ-ヴー])|読みたい|別の|[?？!！。、,.\"'「」『』“”‘’]"
)


@dataclass(frozen=True)
class SimilarRequest:
    """A "like X" query: X's series (every series of an author X) and the rest of the request."""

    anchors: tuple[str, ...]
    author: str | None
    rest: str
    genres: tuple[str, ...]
    demographic: str | None

    @functools.cached_property
    def rest_terms(self) -> frozenset[str]:
        """The lexical terms of the rest of the request ("ハーレムラブコメ", "with court intrigue")."""
        return frozenset(tokenize(self.rest))


def _compared(norm: str, match: NameMatch) -> bool:
    """Whether a comparison cue stands right before or right after the matched name."""
    return bool(_CUE_BEFORE.search(norm[: match.start])) or bool(_CUE_AFTER.match(norm[match.end :]))


def compared_span(query: str) -> tuple[int, int] | None:
    """Where in the normalised query the thing compared against is, when a cue names one."""
    norm = normalize(query)
    # The span before a cue is found from every start position, in time quadratic in the message:
    # only where a cue is there to end it.
    patterns = (_OBJECT_AFTER_CUE, _OBJECT_BEFORE_CUE) if _ANY_AFTER_CUE.search(norm) else (_OBJECT_AFTER_CUE,)
    for pattern in patterns:
        if (m := pattern.search(norm)) and m.group("x").strip():
            return m.start("x"), m.start("x") + len(m.group("x").rstrip())
    return None


# How close a misspelling must stay to a name: about one character in four may differ
# ("berserck", "jujitsu kaisen", "ベルセルグ" pass; "smoke" is no misspelling of any title).
SPELLING_RATIO = 0.75


# The shortest Japanese misspelling read against the start of a name: "カードキャプチャー" is the
# katakana of 「カードキャプチャーさくら」, whose name goes on in hiragana. (Not in Latin letters, where
# a word is matched whole: "sweetie" is no start of "Sweetness and Lightning".)
SPELLING_PREFIX_MIN = 6


def spelled_like(text: str, series: Series) -> bool:
    """Whether `text` reads as a misspelling of one of the series' names (any script or alias), or
    of the start of one."""
    typed = compact(text)
    names = [compact(n) for n in (series.title, series.title_ja, series.title_ja_reading, *series.aliases)]
    partial = len(typed) >= SPELLING_PREFIX_MIN and not typed.isascii()
    starts = [n[: len(typed)] for n in names if partial and len(n) > len(typed)]
    return any(SequenceMatcher(None, typed, n).ratio() >= SPELLING_RATIO for n in [*names, *starts])


def _pointed_back(ents: Entities, catalog: Catalog, found: Sequence[NameMatch]) -> list[NameMatch]:
    """The names a comparison away from them points back at ("Monster by Urasawa was amazing,
    similar thrillers?", "Kaguya-sama but something else", 「ベルセルク最高、似たような漫画ある？」).

    Only names the shopper did not rule out; an author named as a named series' own ("Monster by
    Urasawa") is the series' credit, not a second anchor.
    """
    if not ents.similar_to:
        return []
    series = [m for m in found if m.kind == "series" and m.key in ents.series_ids]
    attributed = {a for m in series for a in catalog.series[m.key].authors}
    authors = [m for m in found if m.kind == "author" and m.key in ents.authors and m.key not in attributed]
    return [*series, *authors]


def parse_similar(
    query: str, catalog: Catalog, resolved: Sequence[NameMatch] = ()
) -> SimilarRequest | None:
    """The "like X" reading of `query`, or None when it compares against nothing in the catalog.

    `resolved` adds names the caller found itself (a misspelt title at `compared_span`).
    """
    found = [*catalog.find_names(query), *resolved]
    if not found:
        return None
    ents = extract_entities(query, catalog)
    # "my son loves One Piece, do you have the box set?" asks about X itself.
    if asks_for_its_volumes(ents):
        return None
    norm = normalize(query)
    matches = [m for m in found if _compared(norm, m)] or _pointed_back(ents, catalog, found)
    # "A Junji Ito fan: which of his books do you have?" asks for the author's own works.
    if not matches or (all(m.kind == "author" for m in matches) and OWN_WORKS.search(norm)):
        return None
    # Every name next to a cue is an anchor ("like Berserk or like Claymore").
    anchors: list[str] = []
    author: str | None = None
    for m in matches:
        if m.kind == "series":
            anchors.append(m.key)
        else:
            author = author or m.key
            anchors.extend(s.series_id for s in catalog.by_author(m.key))
    rest = norm
    # An author credited for a series ("Monster by Urasawa") is no part of what else is asked for.
    credits = [m for m in found if m.kind == "author" and m not in matches and _CREDIT.search(norm[: m.start])]
    for m in sorted([*matches, *credits], key=lambda m: -m.start):
        end = m.end + (c.end() if (c := _CUE_AFTER.match(norm[m.end :])) else 0)
        before = _CREDIT if m in credits else _CUE_BEFORE
        start = m.start - (len(c.group()) if (c := before.search(norm[: m.start])) else 0)
        rest = rest[:start] + " " + rest[end:]
    # A cue pointing back asks for nothing itself ("in the same spirit" is no supernatural story).
    rest = SIMILAR_BACK.sub(" ", rest)
    asked = extract_entities(rest, catalog)
    rest = re.sub(r"\s+", " ", _FILLER.sub(" ", rest)).strip()
    return SimilarRequest(anchors=tuple(dict.fromkeys(anchors)), author=author, rest=rest,
                          genres=tuple(asked.genres), demographic=asked.demographic)


def _weighted(genres: Sequence[str]) -> dict[str, float]:
    # A series lists its genres most characteristic first.
    return {g: 1.0 / (i + 1) for i, g in enumerate(genres)}


@dataclass(frozen=True)
class CatalogWords:
    """Each series' theme words and content words (themes and synopsis), and how rare each word is.

    Genres say what kind of story a series is; these words say what it is about ("painting" and
    "art school" share "art", Blue Period's synopsis and Honey and Clover's both speak of art).
    """

    themes: dict[str, frozenset[str]]
    content: dict[str, frozenset[str]]
    rarity: dict[str, float]

    @classmethod
    def of(cls, catalog: Catalog) -> CatalogWords:
        themes = {k: frozenset(tokenize(" ".join(s.themes))) for k, s in catalog.series.items()}
        content = {k: themes[k] | frozenset(tokenize(s.synopsis)) for k, s in catalog.series.items()}
        counts = Counter(w for words in content.values() for w in words)
        n = len(catalog.series)
        return cls(themes=themes, content=content, rarity={w: math.log(n / c) for w, c in counts.items()})

    def weight(self, words: frozenset[str]) -> float:
        """The words' summed rarity."""
        return sum(self.rarity.get(w, 0.0) for w in words)

    def shared(self, anchor: frozenset[str], candidate: frozenset[str], total: float | None = None) -> float:
        """The share of the anchor's words, weighed by rarity, that the candidate has too.

        `total`: the anchor's `weight`, when the caller compares it with many candidates.
        """
        total = self.weight(anchor) if total is None else total
        return self.weight(anchor & candidate) / total if total else 0.0


@functools.lru_cache(maxsize=4)
def catalog_words(catalog: Catalog) -> CatalogWords:
    """The catalog's `CatalogWords`, counted once (the catalog is read-only)."""
    return CatalogWords.of(catalog)


@dataclass(frozen=True)
class Profile:
    """What the anchors share: their genres (by weight), themes, words, demographics and authors."""

    genres: dict[str, float]
    themes: frozenset[str]
    theme_words: frozenset[str]
    content_words: frozenset[str]
    demographics: frozenset[str]
    authors: frozenset[str]
    words: CatalogWords
    catalog: Catalog
    # The two word sets' `CatalogWords.weight`, the same for every candidate.
    theme_weight: float
    content_weight: float

    @classmethod
    def of(cls, series: Sequence[Series], catalog: Catalog) -> Profile:
        """The combined profile of one or more anchor series."""
        genres: dict[str, float] = {}
        for s in series:
            for g, w in _weighted(s.genres).items():
                genres[g] = genres.get(g, 0.0) + w / len(series)
        words = catalog_words(catalog)
        theme_words = frozenset(w for s in series for w in words.themes[s.series_id])
        content_words = frozenset(w for s in series for w in words.content[s.series_id])
        return cls(
            genres=genres,
            themes=frozenset(t.lower() for s in series for t in s.themes),
            theme_words=theme_words,
            content_words=content_words,
            demographics=frozenset(s.demographic for s in series),
            authors=frozenset(a for s in series for a in s.author_keys),
            words=words,
            catalog=catalog,
            theme_weight=words.weight(theme_words),
            content_weight=words.weight(content_words),
        )

    def terms(self) -> str:
        """Genre and theme words, for the lexical leg (more-like-this on the catalog's own wording)."""
        return ", ".join([*self.genres, *sorted(self.themes)])


# Weights of the likeness score. The fused search score carries the request's own words and X's
# vector; catalog facts then say how alike two series are. Genres count most (they are what a
# shopper names: "horror like Uzumaki"), what the series are about next: a theme in common, theme
# words in common ("painting" and "art school") and rare synopsis words in common, the latter two
# as shares of X's words, so a few shared words already lift a series over one that only has X's
# genres. An author in common counts as much as X's genres (a reader of Monster is usually glad to
# hear of 20th Century Boys, of Hellsing of Drifters), the demographic a little. What the request
# itself names ("shojo", "horror") counts as much as X's genres. Chosen, not fitted: the golden
# "like" recall@3 moves by up to about 0.03 for halving or doubling the word weights or for a fused
# weight of 0.5 or 1. The author's weight went from 0.5 to 1 once X's authors' other series joined
# the candidates (`Retriever._kin`): the "like" shelves of nine query sets, 0.489 -> 0.498 mean.
FUSED_WEIGHT = 0.75
GENRE_WEIGHT = 1.0
ASKED_GENRE_WEIGHT = 1.0
ASKED_DEMOGRAPHIC_WEIGHT = 1.0
ASKED_THEME_WEIGHT = 1.0
AUTHOR_WEIGHT = 1.0
THEME_WEIGHT = 0.5
THEME_WORDS_WEIGHT = 1.0
CONTENT_WORDS_WEIGHT = 2.0
DEMOGRAPHIC_WEIGHT = 0.2


def likeness(profile: Profile, request: SimilarRequest, candidate: Series) -> float:
    """How alike `candidate` is to the anchors' profile, and fits the genres and readership asked for."""
    total = sum(profile.genres.values()) or 1.0
    genre = sum(profile.genres.get(g, 0.0) for g in candidate.genres) / total
    asked_genres = set(request.genres)
    asked = len(asked_genres & set(candidate.genres)) / len(asked_genres) if asked_genres else 0.0
    themes = {t.lower() for t in candidate.themes}
    shared = len(themes & profile.themes)
    theme = shared / min(len(themes), len(profile.themes)) if themes and profile.themes else 0.0
    words = profile.words
    theme_words = words.shared(profile.theme_words, words.themes[candidate.series_id], profile.theme_weight)
    content_words = words.shared(profile.content_words, words.content[candidate.series_id], profile.content_weight)
    demographic = float(candidate.demographic in profile.demographics)
    asked_demographic = float(candidate.demographic == request.demographic)
    author = float(bool(profile.authors & candidate.author_keys))
    asked_theme = profile.catalog.theme_named(candidate.series_id, request.rest_terms) if request.rest else 0.0
    return (GENRE_WEIGHT * genre + ASKED_GENRE_WEIGHT * asked + ASKED_THEME_WEIGHT * asked_theme
            + THEME_WEIGHT * theme
            + THEME_WORDS_WEIGHT * theme_words + CONTENT_WORDS_WEIGHT * content_words
            + DEMOGRAPHIC_WEIGHT * demographic + ASKED_DEMOGRAPHIC_WEIGHT * asked_demographic
            + AUTHOR_WEIGHT * author)
