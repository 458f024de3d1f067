"""The store catalog: series, per-volume products and reader reviews, with name look-ups."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tools.catalog_build import load_series
from tools.jsonl import read_jsonl
from tools.reference_works import ReferenceWorks
from tools.models import Product, Review, Series
from tools.text import (
    EN_STOPWORDS,
    JAPANESE,
    KANJI,
    PARTICLES,
    compact,
    katakana_to_hiragana,
    normalize,
    one_edit_apart,
    one_letter_dropped,
    singular,
    tokenize,
)
from tools.vocab import DEMOGRAPHICS, EDITION_WORDS, FORMAT_WORDS, GENRES

_WORD = re.compile(r"[a-z0-9]+")
_MAX_NAME_WORDS = 10
# A Latin name this long (letters, no spaces) is also found misspelt by one letter ("jujutsu kaisn",
# "chainsaw mann"); shorter ones are too close to ordinary words ("monsters", "nanas").
_FUZZY_MIN_CHARS = 8
# A name of several words (up to four) and 11+ letters may be misspelt once in each of its words
# of 5+ letters ("jujitsu kaizen", "vinlund sagga").
_FUZZY_WORDWISE_MIN_CHARS = 11
_FUZZY_WORDWISE_MAX_WORDS = 4
_FUZZY_WORD_MIN_CHARS = 5
_NAMES_CACHE = 1024
# Titles that are everyday English words match only when written as a title (capitalised).
_COMMON_WORDS = frozenset(
    "another orange monster kingdom blue nana pluto planet world love life home friends family "
    "gift hero heroes spirit chi kiss beast beasts one real happy emma touch rainbow innocent "
    "sanctuary basara".split()
)
# Such a kana title followed by a particle and a verb of anything but reading or buying it is the
# everyday word: 「モンスターを狩って」「オレンジが好き」 (but 「モンスターを読みたい」).
_EVERYDAY_USE = re.compile(r"[をがとにでも](?![読買探全])[\u4e00-\u9fff]")
# A distinctive part of a name stands for the series ("vinland", "promised neverland", "ネバーランド").
# Latin words this short are too often ordinary or a romanised particle ("dai", "joe", "no"), as
# for `Retriever.unknown_terms`; short katakana runs are mostly everyday loanwords ("ダンジョン",
# "パラダイス"), long ones mostly names ("ヴィンランド", "リベンジャーズ").
_PART_MIN_CHARS = 4
_DECISIVE_MIN_KANA = 4  # see `Catalog.names_decide`
# What a name in hiragana may follow: a particle ("僕はのだめが好き"), or a sentence's end ("…よ", "…ね").
_BEFORE_A_NAME = PARTICLES | frozenset("かよねっ")
_PART_MIN_KANA = 6
_KATAKANA_CHAR = "[\u30a1-\u30fa\u30fc]"
_KATAKANA_RUN = re.compile(_KATAKANA_CHAR + "{%d,}" % _PART_MIN_KANA)
_KATAKANA = re.compile(_KATAKANA_CHAR)
_ARTICLES = frozenset({"the", "a", "an"})
# The whole words of a general English word-piece vocabulary (the minilm tokenizer's, shipped with
# the store data): the ~20k most frequent English word forms, so "golden", "attack" or "saga" alone
# name no series while "vinland" or "kamuy" do.
_EVERYDAY_WORDS = Path("embeddings") / "minilm-tokenizer.json"


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
        # Themes are English keywords; Japanese shoppers ask for them in Japanese.
        self.themes_ja = _load_themes_ja(catalog_dir / "themes_ja.json", self.series.values())
        # Works the store does not carry, by what they are about ("something like Cowboy Bebop").
        self.references = ReferenceWorks.load(catalog_dir / "reference_works.jsonl")
        self.products: dict[str, Product] = {}
        self._by_volume: dict[tuple[str, int, str, str], Product] = {}
        with (catalog_dir / "products.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                product = Product.model_validate_json(line)
                self.products[product.asin] = product
                key = (product.series_id, product.volume, product.format, product.language)
                self._by_volume[key] = product
        # Series with a product on promotion ("anything on sale?"), found once, not per question.
        self.promoted_series = frozenset(p.series_id for p in self.products.values() if p.promotion)
        self.reviews: dict[str, list[Review]] = defaultdict(list)
        self._load_reviews(store_data_dir / "reviews" / "reviews.jsonl")
        # Each author's Japanese name, for answers written in Japanese.
        self.author_ja: dict[str, str] = {
            en: ja for s in self.series.values() for en, ja in zip(s.authors, s.authors_ja, strict=False)
        }
        self._en_names: dict[str, tuple[str, str]] = {}
        self._ja_names: list[tuple[str, str, str]] = []
        # Every name with one letter dropped (and as it is) -> the names: one-edit look-ups
        # without comparing a phrase with every name.
        self._one_off: dict[str, set[str]] = defaultdict(set)
        self._one_off_words = 0  # the most words of a name in `_one_off`
        self._one_off_vocab: set[str] = set()  # every word of those names
        # Every word of a long name of several words, with one letter dropped (and as it is) -> the
        # words: a name misspelt in two of its words ("jujitsu kaizen") is found word by word.
        self._word_one_off: dict[str, set[str]] = defaultdict(set)
        # Distinctive parts of series names, read in shoppers' messages only.
        self._en_parts: dict[str, tuple[str, str]] = {}  # phrase -> (kind, key), as `_en_names`
        self._ja_parts: list[tuple[str, str, str]] = []  # as `_ja_names`
        # A turn looks up the same message several times (routing, the speculative search's rules
        # and reranker, "like X"): recent answers are kept (thread-safe: index builds look names up
        # from worker threads).
        self._shopper_names = functools.lru_cache(maxsize=_NAMES_CACHE)(
            lambda text: tuple(self._find_names(text, True))
        )
        # Asked by every search of a message (the speculative one and a shelf search's two).
        self.names_decide = functools.lru_cache(maxsize=_NAMES_CACHE)(self._names_decide)
        everyday = _everyday_words(store_data_dir / _EVERYDAY_WORDS)
        self._everyday = everyday or frozenset()
        self._build_name_index(everyday)
        self._build_part_index(everyday)

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
        if JAPANESE.search(norm):
            folded = katakana_to_hiragana(norm)
            if len(compact(folded)) >= 2:
                self._ja_names.append((folded, kind, key))
        elif words and len(words) <= _MAX_NAME_WORDS:
            phrase = " ".join(words)
            if len(phrase) >= 3:
                self._en_names.setdefault(phrase, (kind, key))

    def _build_name_index(self, everyday: frozenset[str] | None) -> None:
        family_names: dict[str, set[str]] = defaultdict(set)
        for s in self.series.values():
            for name in (s.title, s.title_ja, s.title_ja_reading, *s.aliases):
                self._add_name(name, "series", s.series_id)
            for en, ja in zip(s.authors, s.authors_ja, strict=False):
                self._add_name(en, "author", en)
                self._add_name(ja, "author", en)
                parts = _WORD.findall(normalize(en))
                if len(parts) >= 2 and len(parts[-1]) >= 3:
                    family_names[parts[-1]].add(en)
        # A family name of one author names them ("by Urasawa"); a short one ("Kubo", "Hojo"; not
        # "Oda": two authors) only written as a name, and none that is an English word ("Pit") or
        # a word of a title, which names the series ("komi vol 20").
        no_name = {
            w for s in self.series.values() for name in (s.title, *s.aliases)
            for w in _WORD.findall(normalize(name))
        } | _COMMON_WORDS | (everyday or frozenset())
        self._cased_names: set[str] = set()
        # A family name several authors share ("Oda", "Inoue") names one of them only beside a
        # series of theirs (`_find_names`).
        self._shared_families = {
            family: frozenset(owners) for family, owners in family_names.items()
            if len(owners) > 1 and family not in self._en_names and everyday is not None and family not in no_name
        }
        for family, owners in family_names.items():
            if len(owners) != 1 or family in self._en_names:
                continue
            if len(family) < 5:
                if everyday is None or family in no_name:
                    continue
                self._cased_names.add(family)
            self._en_names[family] = ("author", next(iter(owners)))
        for phrase in self._en_names:
            squeezed = phrase.replace(" ", "")
            if len(squeezed) >= _FUZZY_MIN_CHARS and phrase not in _COMMON_WORDS:
                self._one_off_words = max(self._one_off_words, phrase.count(" ") + 1)
                self._one_off_vocab.update(phrase.split())
                for variant in one_letter_dropped(squeezed):
                    self._one_off[variant].add(phrase)
                if len(squeezed) >= _FUZZY_WORDWISE_MIN_CHARS and " " in phrase:
                    for word in phrase.split():
                        for variant in one_letter_dropped(word):
                            self._word_one_off[variant].add(word)
        # Longest first, so "tokyo ghoul re" wins over "tokyo ghoul".
        self._ja_names.sort(key=lambda item: -len(item[0]))
        self._ja_names_by_char = _by_first_char(self._ja_names)
        # The kana of a title that is an everyday word ("モンスター" of Monster, "オレンジ" of Orange).
        self._everyday_kana = {
            folded for folded, kind, key in self._ja_names
            if kind == "series" and normalize(self.series[key].title) in _COMMON_WORDS and not KANJI.search(folded)
        }

    def _build_part_index(self, everyday: frozenset[str] | None) -> None:
        """Index the parts of series names that name one series only.

        A part counts when no other series' names contain it, it is no whole name (nor an author's
        family name) and no shopper's word for a genre, readership, format or edition. A part two
        series share names neither: a word two titles share is mostly an ordinary one ("blue",
        "tokyo", "hikaru"), and the search still finds both series by their words.
        """
        phrases = [p for table in (GENRES, DEMOGRAPHICS) for _, ws in table.values() for p in ws]
        phrases += [p for table in (FORMAT_WORDS, EDITION_WORDS) for w in table.values() for p in w]
        shopper_words = {katakana_to_hiragana(normalize(p)) for p in phrases}
        shopper_words.update(w for p in phrases for w in _WORD.findall(normalize(p)))
        self._en_parts = self._latin_parts(shopper_words, everyday)
        # A katakana part is mostly the reading of an English word of the title: one of a title
        # with an unusual word ("ヴィンランド"), not one of everyday words ("ヴァンパイア" of Vampire
        # Knight, "ブラックジャック" of Say Hello to Black Jack, also another artist's title).
        unusual = {key for part, (_, key) in self._en_parts.items() if " " not in part}
        parts = self._katakana_parts(shopper_words, unusual)
        self._ja_parts = sorted(parts, key=lambda item: -len(item[0]))
        self._ja_parts_by_char = _by_first_char(self._ja_parts)

    def _latin_parts(
        self, shopper_words: set[str], everyday: frozenset[str] | None
    ) -> dict[str, tuple[str, str]]:
        """Parts of Latin titles that name one series (see `_name_parts`).

        A single word must also be no everyday English word, even inflected ("unfriendly",
        "tramps"), and appear in no other series' synopsis or themes ("exorcist", "rakugo" do).
        """
        owners: dict[str, set[str]] = defaultdict(set)  # every word run of a Latin name -> series
        described: dict[str, set[str]] = defaultdict(set)  # synopsis and theme words -> series
        for s in self.series.values():
            for w in _WORD.findall(normalize(" ".join((s.synopsis, *s.themes)))):
                described[w].add(s.series_id)
            for name in (s.title, s.title_ja, *s.aliases):
                if not JAPANESE.search(name):
                    words = _WORD.findall(normalize(name))
                    for i in range(len(words)):
                        for j in range(i + 1, min(len(words), i + _MAX_NAME_WORDS) + 1):
                            owners[" ".join(words[i:j])].add(s.series_id)
        common = set(self._en_names) | shopper_words | (everyday or frozenset()) | _COMMON_WORDS

        def unusual(word: str, series_id: str) -> bool:
            return (
                everyday is not None and len(word) >= _PART_MIN_CHARS and word.isalpha()
                and singular(word) not in everyday and word.removeprefix("un") not in everyday
                and not described[word] - {series_id}
            )

        parts: dict[str, tuple[str, str]] = {}
        for s in self.series.values():
            # Parts of the title only: an alias may be a translation in everyday words
            # ("Heartbroken Chocolatier", "Gadget Cat from the Future") no shopper shortens.
            for part in _name_parts(_WORD.findall(normalize(s.title))):
                if (
                    part not in common and owners[part] == {s.series_id}
                    and (" " in part or unusual(part, s.series_id))
                ):
                    parts[part] = ("series", s.series_id)
        return parts

    def _katakana_parts(
        self, shopper_words: set[str], series_ids: set[str]
    ) -> list[tuple[str, str, str]]:
        """Long katakana runs of these series' Japanese names no other's names or synopses hold."""
        def folded(text: str) -> str:
            return katakana_to_hiragana(normalize(text))

        names = {
            s.series_id: [folded(n) for n in (s.title_ja, s.title_ja_reading, *s.aliases)]
            for s in self.series.values()
        }
        synopses = {s.series_id: folded(s.synopsis_ja) for s in self.series.values()}
        runs = {
            katakana_to_hiragana(run)
            for sid in series_ids
            for name in (self.series[sid].title_ja, *self.series[sid].aliases)
            for run in _KATAKANA_RUN.findall(normalize(name))
        }
        whole = {name for name, _, _ in self._ja_names}
        parts = []
        for run in runs - whole - shopper_words:
            named = [sid for sid, own in names.items() if any(run in n for n in own)]
            described = [sid for sid, text in synopses.items() if run in text]
            if len(named) == 1 and set(described) <= set(named):
                parts.append((run, "series", named[0]))
        return parts

    def find_names(self, text: str, *, misspelt: bool = True) -> list[NameMatch]:
        """Series titles and author names mentioned in `text`, longest match first, no overlaps.

        `misspelt`: also names one letter off or written as a distinctive part ("vinland",
        "ネバーランド"): a shopper's typing; the store's own text spells names out in full.
        """
        if not misspelt:
            # The store's own text (an answer's sentences) is read once: nothing to remember.
            return self._find_names(text, False)
        return list(self._shopper_names(text))

    def _attributed(self, hit: tuple[str, str], after: str) -> bool:
        """Whether a title in everyday words is followed by its own author ("monster by urasawa")."""
        if hit[0] != "series" or not (m := _BY_AUTHOR.match(after)):
            return False
        said = m.group("who")
        names = (n for a in self.series[hit[1]].authors for n in (a.lower(), *a.lower().split()))
        return any(re.match(rf"{re.escape(n)}\b", said) for n in names if len(n) > 2)

    def _find_names(self, text: str, misspelt: bool) -> list[NameMatch]:
        written = self.references.blanked(normalize(text))  # katakana still katakana
        norm = katakana_to_hiragana(written)
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(norm)]
        found: list[NameMatch] = []
        taken: list[tuple[int, int]] = []

        def free(start: int, end: int) -> bool:
            return all(end <= a or start >= b for a, b in taken)

        def add(kind: str, key: str, start: int, end: int) -> None:
            found.append(NameMatch(kind, key, start, end))
            taken.append((start, end))

        plain = [w for w, _, _ in words]

        def latin(names: dict[str, tuple[str, str]]) -> None:
            for i in range(len(words)):
                for n in range(min(_MAX_NAME_WORDS, len(words) - i), 0, -1):
                    phrase = " ".join(plain[i : i + n])
                    hit = names.get(phrase)
                    if not hit:
                        continue
                    start, end = words[i][1], words[i + n - 1][2]
                    cased = phrase in _COMMON_WORDS or phrase in self._cased_names
                    if n == 1 and cased and not (
                        _written_as_name(text, phrase) or self._attributed(hit, norm[words[i][2]:])
                        or (hit[0] == "series"
                            and (_compared_bare(norm, start, end) or _volume_follows(norm, end)))
                    ):
                        continue
                    if free(start, end):
                        add(*hit, start, end)
                    break

        def katakana(i: int) -> bool:
            return 0 <= i < len(written) and _KATAKANA.match(written[i]) is not None

        def hiragana(i: int) -> bool:
            return 0 <= i < len(written) and "\u3041" <= written[i] <= "\u309f"

        def kanji(i: int) -> bool:
            return 0 <= i < len(written) and KANJI.match(written[i]) is not None

        def glued(start: int, end: int) -> bool:
            # A short name in katakana is no name inside a longer katakana word: "ソーマ" in
            # "チェーンソーマン", "モブ" in "モブキャラ", "ハンター" in "モンスターハンター"; nor
            # after a kanji word it compounds with: "吸血鬼ハンター" is a vampire hunter. Hiragana
            # edges are particles ("らんまの"); a kanji word after the name is mostly about it
            # ("ハンター全巻").
            # Nor is one in hiragana after a kanji or a kana that is no particle: that is a word's
            # ending ("えま" in "考えました", "あきら" in "もうあきらめた", "ですの" in "好きですので").
            return end - start <= _DECISIVE_MIN_KANA and (
                (katakana(start) and (katakana(start - 1) or kanji(start - 1)))
                or (katakana(end) and katakana(end - 1))
                or (
                    all(hiragana(i) for i in range(start, end))
                    and (kanji(start - 1) or (hiragana(start - 1) and written[start - 1] not in _BEFORE_A_NAME))
                )
            )

        def japanese(names: list[tuple[str, str, str]], by_char: dict[str, list[int]]) -> None:
            # Only names starting with a character of the message, in their longest-first order.
            for i in sorted(i for ch in set(norm) for i in by_char.get(ch, ())):
                name, kind, key = names[i]
                pos = norm.find(name)
                while pos >= 0:
                    if free(pos, pos + len(name)) and not glued(pos, pos + len(name)) and not (
                        name in self._everyday_kana and _EVERYDAY_USE.match(norm, pos + len(name))
                    ):
                        add(kind, key, pos, pos + len(name))
                    pos = norm.find(name, pos + 1)

        latin(self._en_names)
        for i in range(len(words) if misspelt else 0):
            for n in range(min(self._one_off_words, len(words) - i), 0, -1):
                start, end = words[i][1], words[i + n - 1][2]
                if free(start, end) and (fuzzy := self._misspelt_name(words[i : i + n])) is not None:
                    add(*fuzzy, start, end)
                    break
        japanese(self._ja_names, self._ja_names_by_char)
        # Whole names first, misspelt ones too: a part never takes the place of its whole name.
        if misspelt:
            latin(self._en_parts)
            japanese(self._ja_parts, self._ja_parts_by_char)
        # "what has oda drawn besides one piece": Eiichiro Oda, not Tomohito Oda.
        shared = [(w, start, end) for w, start, end in words if w in self._shared_families]
        if shared:
            named_authors = {a for m in found if m.kind == "series" for a in self.series[m.key].authors}
            for word, start, end in shared:
                owners = self._shared_families[word] & named_authors
                if len(owners) == 1 and free(start, end):
                    add("author", next(iter(owners)), start, end)
        found.sort(key=lambda m: m.start)
        return found

    def _names_decide(self, text: str) -> bool:
        """Whether `text` names an author, or a series by a title that is no everyday word.

        Such a search is decided by the name (the lexical leg and the reranker's name features rank
        its documents first), so it needs no query vector, a search's costliest step. Only names
        written out in full count: a misspelt one ("chainsaw mna") leaves the lexical leg without
        its word, and a part of a title may be an ordinary word. Nor do names that may be no name
        at all: a title that is an everyday word or a single Latin word ("cockroaches on Mars"), or
        a Japanese name of fewer than four characters, which is found inside other words too ("ドラ"
        in "ドラゴン", "モブ" in "モブキャラ"). Those searches keep their vector.
        """
        folded = normalize(text)

        def decisive(m: NameMatch) -> bool:
            span = folded[m.start:m.end].strip()
            if not span.isascii():
                return len(span) >= _DECISIVE_MIN_KANA and (m.kind == "author" or not self.titled_with_common_word(m.key))
            return m.kind == "author" or (" " in span and not self.titled_with_common_word(m.key))

        return any(decisive(m) for m in self.find_names(text, misspelt=False))

    @functools.cached_property
    def _continuations(self) -> dict[str, list[str]]:
        titles = {sid: " ".join(_WORD.findall(normalize(s.title))) for sid, s in self.series.items()}

        def holding(sid: str) -> list[str]:
            inside = re.compile(rf"(?<![a-z0-9]){re.escape(titles[sid])}(?![a-z0-9])")
            return sorted(other for other, t in titles.items() if other != sid and inside.search(t))

        # A title of one short or everyday word is inside others by chance ("X", "Happy").
        return {
            sid: holding(sid) for sid, title in titles.items()
            if len(title) >= _PART_MIN_CHARS and not self.titled_with_common_word(sid)
        }

    @functools.cached_property
    def originals(self) -> dict[str, frozenset[str]]:
        """Each sequel or spin-off and the series it continues (`continuations` read backwards)."""
        found: dict[str, set[str]] = {}
        for sid, later in self._continuations.items():
            for c in later:
                found.setdefault(c, set()).add(sid)
        return {c: frozenset(o) for c, o in found.items()}

    def continuations(self, *series_ids: str) -> list[str]:
        """Series whose title holds one of these: their sequels and spin-offs ("Tokyo Ghoul:re",
        "Boruto: Naruto Next Generations"), in order, once each."""
        return list(dict.fromkeys(c for sid in series_ids for c in self._continuations.get(sid, [])))

    def titled_with_common_word(self, series_id: str) -> bool:
        """Whether the series' title is an everyday word ("Another", "Monster")."""
        return compact(self.series[series_id].title) in _COMMON_WORDS

    def _misspelt_name(self, words: list[tuple[str, int, int]]) -> tuple[str, str] | None:
        """The one name these words spell with one letter wrong, missing, extra or swapped (in each
        word of 5+ letters, for a long name of several words)."""
        plain = [w for w, _, _ in words]
        squeezed = "".join(plain)
        # A word (one: "blu lock" stays unread) one letter short of a long name is that name too ("helsing").
        short = len(squeezed) == _FUZZY_MIN_CHARS - 1 and len(plain) == 1
        if (
            (len(squeezed) < _FUZZY_MIN_CHARS and not short) or " ".join(plain) in self._en_names
            or (short and squeezed in self._everyday)  # "samurai" is no "Samurai X", "planets" no Planetes
        ):
            return None
        # One edit changes one word at most (or joins two): the others are words of some name. This
        # check keeps a long message from costing a look-up per word run.
        if sum(w not in self._one_off_vocab for w in plain) <= 1:
            names = {p for v in one_letter_dropped(squeezed) for p in self._one_off.get(v, ())}
            hits = {self._en_names[p] for p in names if one_edit_apart(squeezed, p.replace(" ", ""))}
        else:
            hits = set()
        # Two letters dropped at most.
        if not hits and len(plain) >= 2 and len(squeezed) >= _FUZZY_WORDWISE_MIN_CHARS - 2:
            hits = self._misspelt_word_by_word(plain)
        return hits.pop() if len(hits) == 1 else None

    def _misspelt_word_by_word(self, words: list[str]) -> set[tuple[str, str]]:
        """The long names of several words these words spell with at most one letter wrong in each."""
        if len(words) > _FUZZY_WORDWISE_MAX_WORDS:
            return set()
        choices = []
        for word in words:
            # Short words are spelt as they are: "no" is not "na".
            near = {word} if word in self._one_off_vocab else self._near_words(word)
            if not near:
                return set()
            choices.append(near)
        phrases = (" ".join(p) for p in itertools.product(*choices))
        return {
            self._en_names[p] for p in phrases
            if p in self._en_names and len(p.replace(" ", "")) >= _FUZZY_WORDWISE_MIN_CHARS
        }

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one catalog per process, words repeat across runs
    def _near_words(self, word: str) -> frozenset[str]:
        """Words of long names one letter away from `word` (5+ letters)."""
        if len(word) < _FUZZY_WORD_MIN_CHARS:
            return frozenset()
        near = (w for v in one_letter_dropped(word) for w in self._word_one_off.get(v, ()))
        return frozenset(w for w in near if one_edit_apart(word, w))

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
        """Every series the author worked on, under any romanisation of their name, best known first.

        One Japanese name is one person: the catalog writes 平野耕太 "Kouta Hirano" on one series
        and "Kohta Hirano" on another.
        """
        ja = self.author_ja.get(author)
        return self.best_known_first(
            s for s in self.series.values()
            if author in s.authors or (ja is not None and ja in s.authors_ja)
        )

    @functools.cached_property
    def _theme_terms(self) -> dict[str, tuple[frozenset[str], ...]]:
        # Each theme as lexical terms, one set per theme and language ("death game", "デスゲーム").
        return {
            sid: tuple(
                terms for theme in s.themes for text in (theme, self.themes_ja.get(theme, ""))
                if (terms := frozenset(tokenize(text)))
            )
            for sid, s in self.series.items()
        }

    @functools.cached_property
    def theme_vocabulary(self) -> frozenset[str]:
        """Every lexical term of any series' themes, in English or Japanese."""
        return frozenset(t for themes in self._theme_terms.values() for terms in themes for t in terms)

    def theme_named(self, series_id: str, query_terms: frozenset[str]) -> float:
        """How fully a query (its lexical terms) names one of the series' themes, in English or
        Japanese: the largest share of one theme's terms the query holds."""
        return max((len(t & query_terms) / len(t) for t in self._theme_terms.get(series_id, ())), default=0.0)

    def begun_within(self, series_id: str, first: int | None, last: int | None) -> bool:
        """Whether the series began between the years `first` and `last` (either open)."""
        year = self.series[series_id].start_year
        return (first is None or year >= first) and (last is None or year <= last)

    def of_genres(self, genres: Iterable[str]) -> set[str]:
        """The ids of the series that have any of `genres`."""
        wanted = set(genres)
        return {s.series_id for s in self.series.values() if wanted & set(s.genres)} if wanted else set()

    @functools.cached_property
    def for_adults(self) -> frozenset[str]:
        """The ids of the series no young reader is shown (`Series.for_adults`)."""
        return frozenset(s.series_id for s in self.series.values() if s.for_adults)

    def kind_first(self, genres: Iterable[str]) -> list[Series]:
        """The series of every one of `genres`, most characteristic of them first, then best known.

        A record lists its genres most characteristic first: for "mystery manga", Case Closed
        (mystery, crime, thriller) leads The Promised Neverland (thriller, mystery, horror, fantasy).
        """
        wanted = set(genres)
        kind = self.best_known_first(s for s in self.series.values() if wanted <= set(s.genres))
        # A genre third or later is as good as any: it is one the series has, not what it is.
        return sorted(kind, key=lambda s: min(2, max(s.genres.index(g) for g in wanted)) if wanted else 0)

    def best_known_first(self, series: Iterable[Series]) -> list[Series]:
        """`series` ordered best known first, as far as the store can tell: by their reader reviews,
        then by length (a series runs long only while readers keep buying it)."""
        return sorted(
            series, key=lambda s: (-len(self.reviews.get(s.series_id, ())), -s.volumes, s.series_id)
        )


def _by_first_char(names: list[tuple[str, str, str]]) -> dict[str, list[int]]:
    """The positions in `names` of the names starting with each character."""
    index: dict[str, list[int]] = defaultdict(list)
    for i, (name, _, _) in enumerate(names):
        index[name[0]].append(i)
    return dict(index)


def _name_parts(words: list[str]) -> list[str]:
    """Parts of a Latin name a shopper may write for the whole.

    Each word, the name without its article ("promised neverland"), and its leading words when
    three of them say something and the last does ("snow white with the red"); fewer make ordinary
    phrases ("say i love", "the full time").
    """
    parts = list(words)
    if len(words) >= 3 and words[0] in _ARTICLES:
        parts.append(" ".join(words[1:]))
    for k in range(3, len(words)):
        said = [len(w) > 1 and w not in EN_STOPWORDS for w in words[:k]]
        if said[-1] and sum(said) >= 3:
            parts.append(" ".join(words[:k]))
    return parts


def _load_themes_ja(path: Path, series: Iterable[Series]) -> dict[str, str]:
    """The Japanese rendering of each English theme; a catalog theme without one is a data error."""
    themes_ja: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    missing = sorted({t for s in series for t in s.themes} - themes_ja.keys())
    if missing:
        raise ValueError(f"{path.name} has no Japanese for the themes {missing}")
    return themes_ja


def _everyday_words(path: Path) -> frozenset[str] | None:
    """The whole-word entries of a word-piece vocabulary file.

    None when the file is missing: then no single word is known to be unusual, and none stands for
    a series.
    """
    if not path.exists():
        return None
    vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    return frozenset(w for w in vocab if w.isascii() and w.isalpha())


LATEST_VOLUME = -1  # entity value for "the latest / final volume"


def volume_for(series: Series, asked: int | None) -> int:
    """The volume to show: the asked one if it exists, the latest for "latest", else volume 1."""
    if asked == LATEST_VOLUME:
        return series.volumes
    return asked if asked and 1 <= asked <= series.volumes else 1


_BY_AUTHOR = re.compile(r"\s*(?:by|from)\s+(?P<who>[a-z][a-z' -]*)")
# A title in everyday words, typed in lower case, compared with bare or read with relish: "something
# like monster?", "anything similar to kingdom, but shorter", "my wife loves nana, what other josei".
# An everyday noun would take an article or a plural there ("something like a monster", "like
# monsters"), or go on into a phrase ("like monster hunting").
_COMPARED_BARE_BEFORE = re.compile(
    r"(?:\b(?:something|anything|stuff|manga|series|more|books?|titles?|comics?|recs?|recommendations?)"
    r" (?:like|similar to)|\b(?:fans?|readers?) of|\b(?:loves|loved|likes|liked|enjoyed|adores|adored))\s+$"
)
_CLAUSE_ENDS = re.compile(r"\s*(?:[?!.,;:)]|$|(?:but|with|please|pls|plz)\b)")


def _compared_bare(norm: str, start: int, end: int) -> bool:
    """Whether the everyday word at `norm[start:end]` is a title compared with bare (above)."""
    return bool(_COMPARED_BARE_BEFORE.search(norm[max(0, start - 40):start]) and _CLAUSE_ENDS.match(norm[end:]))


# A volume number straight after an everyday word makes it a title however it is cased: "Orange vol
# 6 price?" starts the message with its capital, "basara vol 7" has none, and no everyday noun has
# volumes.
_VOLUME_AFTER = re.compile(r"\s*(?:vol(?:ume)?s?\.?|v\.?|#|no\.?)\s*\d|\s*\d+\s*巻")


def _volume_follows(norm: str, end: int) -> bool:
    """Whether a volume number follows the word ending at `norm[end]`."""
    return _VOLUME_AFTER.match(norm, end) is not None


def _written_as_name(text: str, word: str) -> bool:
    """A common word counts as a title/name only capitalised mid-sentence, or in capitals."""
    # Latin-only edges: Japanese written straight after the name ("MONSTERみたいな") is no part of it.
    upper = rf"(?<![A-Za-z0-9]){re.escape(word.upper())}(?![A-Za-z0-9])"
    if re.search(upper, text) and len(word) > 1:
        return True
    capitalised = rf"(?<![.!?]\s)(?<!^)(?<![A-Za-z0-9]){re.escape(word.capitalize())}(?![A-Za-z0-9])"
    return re.search(capitalised, text.strip()) is not None
