"""The store catalog: series, per-volume products and reader reviews, with name look-ups."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tools.catalog_build import load_series
from tools.jsonl import read_jsonl
from tools.models import Product, Review, Series
from tools.text import compact, katakana_to_hiragana, normalize, one_edit_apart, one_letter_dropped

_WORD = re.compile(r"[a-z0-9]+")
_MAX_NAME_WORDS = 10
# A Latin name this long (letters, no spaces) is also found misspelt by one letter ("jujutsu kaisn",
# "chainsaw mann"); shorter ones are too close to ordinary words ("monsters", "nanas").
_FUZZY_MIN_CHARS = 8
_NAMES_CACHE = 1024
# Titles that are everyday English words match only when written as a title (capitalised).
_COMMON_WORDS = frozenset(
    "another orange monster kingdom blue nana pluto planet world love life home friends family "
    "gift hero heroes spirit chi kiss beast beasts one real happy emma touch rainbow innocent "
    "sanctuary basara".split()
)


@dataclass(frozen=True, slots=True)
class NameMatch:
    """A catalog name found in a message."""

    kind: str  # "series" or "author"
    key: str  # series_id, or the author's English name
    start: int  # span in the normalised (katakana-folded) message
    end: int


class Catalog:
    """Read-only catalog loaded once from the shipped data files."""

    def __init__(self, store_data_dir: Path) -> None:
        catalog_dir = store_data_dir / "catalog"
        self.series: dict[str, Series] = {s.series_id: s for s in load_series(catalog_dir)}
        self.products: dict[str, Product] = {}
        self._by_volume: dict[tuple[str, int, str, str], Product] = {}
        with (catalog_dir / "products.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                product = Product.model_validate_json(line)
                self.products[product.asin] = product
                key = (product.series_id, product.volume, product.format, product.language)
                self._by_volume[key] = product
        self.reviews: dict[str, list[Review]] = defaultdict(list)
        self._load_reviews(store_data_dir / "reviews" / "reviews.jsonl")
        self._en_names: dict[str, tuple[str, str]] = {}
        self._ja_names: list[tuple[str, str, str]] = []
        # Every name with one letter dropped (and as it is) -> the names: one-edit look-ups
        # without comparing a phrase with every name.
        self._one_off: dict[str, set[str]] = defaultdict(set)
        self._one_off_words = 0  # the most words of a name in `_one_off`
        self._one_off_vocab: set[str] = set()  # every word of those names
        self._names_cache: OrderedDict[tuple[str, bool], tuple[NameMatch, ...]] = OrderedDict()
        self._names_lock = threading.Lock()
        self._build_name_index()

    def _load_reviews(self, path: Path) -> None:
        if not path.exists():
            return
        by_title: dict[str, str] = {}
        for s in self.series.values():
            for name in (*s.aliases, s.title):
                by_title[compact(name)] = s.series_id
        for _, raw in read_jsonl(path):
            series_id = raw.get("series_id") or by_title.get(compact(raw["series_title"]))
            if series_id is None:
                raise ValueError(f"review for unknown series {raw.get('series_title')!r}")
            self.reviews[series_id].append(
                Review(series_id=series_id, language=raw["language"], rating=raw["rating"],
                       reviewer=raw["reviewer"], text=raw["text"])
            )

    def _add_name(self, name: str, kind: str, key: str) -> None:
        norm = normalize(name)
        words = _WORD.findall(norm)
        if re.search(r"[\u3040-\u30ff\u3400-\u9fff]", norm):
            folded = katakana_to_hiragana(norm)
            if len(compact(folded)) >= 2:
                self._ja_names.append((folded, kind, key))
        elif words and len(words) <= _MAX_NAME_WORDS:
            phrase = " ".join(words)
            if len(phrase) >= 3:
                self._en_names.setdefault(phrase, (kind, key))

    def _build_name_index(self) -> None:
        family_names: dict[str, set[str]] = defaultdict(set)
        for s in self.series.values():
            for name in (s.title, s.title_ja, s.title_ja_reading, *s.aliases):
                self._add_name(name, "series", s.series_id)
            for en, ja in zip(s.authors, s.authors_ja, strict=False):
                self._add_name(en, "author", en)
                self._add_name(ja, "author", en)
                parts = _WORD.findall(normalize(en))
                if len(parts) >= 2 and len(parts[-1]) >= 5:
                    family_names[parts[-1]].add(en)
        for family, owners in family_names.items():
            if len(owners) == 1 and family not in self._en_names:
                self._en_names[family] = ("author", next(iter(owners)))
        for phrase in self._en_names:
            squeezed = phrase.replace(" ", "")
            if len(squeezed) >= _FUZZY_MIN_CHARS and phrase not in _COMMON_WORDS:
                self._one_off_words = max(self._one_off_words, phrase.count(" ") + 1)
                self._one_off_vocab.update(phrase.split())
                for variant in one_letter_dropped(squeezed):
                    self._one_off[variant].add(phrase)
        # Longest first, so "tokyo ghoul re" wins over "tokyo ghoul".
        self._ja_names.sort(key=lambda item: -len(item[0]))

    def find_names(self, text: str, *, misspelt: bool = True) -> list[NameMatch]:
        """Series titles and author names mentioned in `text`, longest match first, no overlaps.

        `misspelt`: also names one letter off (a shopper's typing; the store's own text spells
        them right). A turn looks up the same message several times (routing, the speculative
        search's rules and reranker, "like X"), so recent answers are kept.
        """
        if not misspelt:
            # The store's own text (an answer's sentences) is read once: nothing to remember.
            return self._find_names(text, False)
        key = (text, misspelt)
        with self._names_lock:  # index builds look names up from worker threads
            if (cached := self._names_cache.get(key)) is not None:
                self._names_cache.move_to_end(key)
                return list(cached)
        found = self._find_names(text, misspelt)
        with self._names_lock:
            self._names_cache[key] = tuple(found)
            if len(self._names_cache) > _NAMES_CACHE:
                self._names_cache.popitem(last=False)
        return found

    def _find_names(self, text: str, misspelt: bool) -> list[NameMatch]:
        norm = katakana_to_hiragana(normalize(text))
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(norm)]
        found: list[NameMatch] = []
        taken: list[tuple[int, int]] = []

        def free(start: int, end: int) -> bool:
            return all(end <= a or start >= b for a, b in taken)

        for i in range(len(words)):
            for n in range(min(_MAX_NAME_WORDS, len(words) - i), 0, -1):
                phrase = " ".join(w for w, _, _ in words[i : i + n])
                hit = self._en_names.get(phrase)
                if not hit:
                    continue
                start, end = words[i][1], words[i + n - 1][2]
                if n == 1 and phrase in _COMMON_WORDS and not _written_as_name(text, phrase):
                    continue
                if free(start, end):
                    found.append(NameMatch(hit[0], hit[1], start, end))
                    taken.append((start, end))
                break
        for i in range(len(words) if misspelt else 0):
            for n in range(min(self._one_off_words, len(words) - i), 0, -1):
                start, end = words[i][1], words[i + n - 1][2]
                if free(start, end) and (fuzzy := self._misspelt_name(words[i : i + n])) is not None:
                    found.append(NameMatch(fuzzy[0], fuzzy[1], start, end))
                    taken.append((start, end))
                    break
        for name, kind, key in self._ja_names:
            pos = norm.find(name)
            while pos >= 0:
                if free(pos, pos + len(name)):
                    found.append(NameMatch(kind, key, pos, pos + len(name)))
                    taken.append((pos, pos + len(name)))
                pos = norm.find(name, pos + 1)
        found.sort(key=lambda m: m.start)
        return found

    def titled_with_common_word(self, series_id: str) -> bool:
        """Whether the series' title is an everyday word ("Another", "Monster")."""
        return compact(self.series[series_id].title) in _COMMON_WORDS

    def _misspelt_name(self, words: list[tuple[str, int, int]]) -> tuple[str, str] | None:
        """The one name these words spell with one letter wrong, missing, extra or swapped."""
        # One edit changes one word at most (or joins two): the others are words of some name. This
        # check keeps a long message from costing a look-up per word run.
        if sum(w not in self._one_off_vocab for w, _, _ in words) > 1:
            return None
        squeezed = "".join(w for w, _, _ in words)
        if len(squeezed) < _FUZZY_MIN_CHARS or " ".join(w for w, _, _ in words) in self._en_names:
            return None
        names = {p for v in one_letter_dropped(squeezed) for p in self._one_off.get(v, ())}
        hits = {self._en_names[p] for p in names if one_edit_apart(squeezed, p.replace(" ", ""))}
        return hits.pop() if len(hits) == 1 else None

    def product(self, asin: str) -> Product | None:
        """The product with this store id, if the store sells it."""
        return self.products.get(asin)

    def volume(self, series_id: str, volume: int, fmt: str, language: str) -> Product | None:
        """One volume of a series in a given format and edition language."""
        return self._by_volume.get((series_id, volume, fmt, language))

    def editions(self, series_id: str, volume: int) -> list[Product]:
        """All formats/editions of one volume."""
        return [
            p
            for fmt in ("print", "digital")
            for lang in ("EN", "JA")
            if (p := self._by_volume.get((series_id, volume, fmt, lang))) is not None
        ]

    def by_author(self, author: str) -> list[Series]:
        """Every series the author worked on."""
        return [s for s in self.series.values() if author in s.authors]


LATEST_VOLUME = -1  # entity value for "the latest / final volume"


def volume_for(series: Series, asked: int | None) -> int:
    """The volume to show: the asked one if it exists, the latest for "latest", else volume 1."""
    if asked == LATEST_VOLUME:
        return series.volumes
    return asked if asked and 1 <= asked <= series.volumes else 1


def _written_as_name(text: str, word: str) -> bool:
    """A common word counts as a title/name only capitalised mid-sentence, or in capitals."""
    # Latin-only edges: Japanese written straight after the name ("MONSTERみたいな") is no part of it.
    upper = rf"(?<![A-Za-z0-9]){re.escape(word.upper())}(?![A-Za-z0-9])"
    if re.search(upper, text) and len(word) > 1:
        return True
    capitalised = rf"(?<![.!?]\s)(?<!^)(?<![A-Za-z0-9]){re.escape(word.capitalize())}(?![A-Za-z0-9])"
    return re.search(capitalised, text.strip()) is not None
