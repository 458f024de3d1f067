"""Works the store does not carry that shoppers name to say what they want.

"Something with Cowboy Bebop energy", 「魔女の宅急便みたいな話」: the name of an anime, a film, a game
or a novel says nothing to a search over the store's own entries (no entry names it, and the small
embedding model does not know it). `data/catalog/reference_works.jsonl` says what each such work is
about, in the catalog's own genre and theme words, and the search reads that instead of the name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from tools.jsonl import read_jsonl
from tools.text import detect_language, normalize, words_pattern


class ReferenceWork(BaseModel):
    """One work outside the store, by the names shoppers give it."""

    names: list[str] = Field(min_length=1, description="Titles, short forms and romaji shoppers type.")
    about: str = Field(min_length=1, description="What it is about, in the catalog's English words.")
    about_ja: str = Field(min_length=1, description="The same in Japanese.")


_LATIN_WORD = re.compile(r"[a-z0-9]+")


# The same few candidate sets come back message after message ("the", "star").
_compiled = lru_cache(maxsize=256)(words_pattern)


class ReferenceWorks:
    """The works of `reference_works.jsonl`, found by name in a message."""

    def __init__(self, works: list[ReferenceWork]) -> None:
        self.works = works
        self._work_of: dict[str, ReferenceWork] = {normalize(n): w for w in works for n in w.names}
        # Most messages name none of them: a name is looked for only where its first Latin word or
        # its first Japanese character occurs (one alternation of every name cost 0.2 ms a message).
        self._by_start: dict[str, list[str]] = {}
        for name in self._work_of:
            start = _LATIN_WORD.match(name)
            self._by_start.setdefault(start.group() if start else name[0], []).append(name)

    def _pattern(self, norm: str) -> re.Pattern[str] | None:
        """The names that may occur in `norm`, as one pattern (longest first: "steins;gate 0"
        before "steins;gate"); None when none can."""
        starts = set(_LATIN_WORD.findall(norm)) | {c for c in norm if not c.isascii()}
        names = [n for s in starts & self._by_start.keys() for n in self._by_start[s]]
        return _compiled(tuple(sorted(names, key=lambda n: (-len(n), n)))) if names else None

    @classmethod
    def load(cls, path: Path) -> ReferenceWorks:
        """The table at `path`; none when the file is absent (a store may ship without it)."""
        if not path.is_file():
            return cls([])
        return cls([ReferenceWork.model_validate(raw) for _, raw in read_jsonl(path)])

    def blanked(self, norm: str) -> str:
        """Normalised text with the works it names blotted out, character for character.

        The catalog's name look-up reads this: a work the store does not carry is not a misspelling
        or a part of one it does ("My Happy Marriage" is not "Happy!", 「まどマギ」 not 「マギ」).
        """
        pattern = self._pattern(norm)
        return norm if pattern is None else pattern.sub(lambda m: "#" * len(m.group()), norm)

    def named(self, query: str) -> list[ReferenceWork]:
        """The works `query` names, in the order it names them."""
        norm = normalize(query)
        pattern = self._pattern(norm)
        works = [] if pattern is None else [self._work_of[m.group()] for m in pattern.finditer(norm)]
        return list({id(w): w for w in works}.values())

    def described(self, query: str) -> str:
        """The query with each work it names replaced by what the work is about (in the query's
        language); the query itself when it names none.

        In place of the name, not after it: the dense leg reads only a query's first words.
        """
        norm = normalize(query)
        pattern = self._pattern(norm)
        if pattern is None:
            return query
        japanese = detect_language(query) == "ja"

        def about(m: re.Match[str]) -> str:
            work = self._work_of[m.group()]
            return f" {work.about_ja if japanese else work.about} "

        described, found = pattern.subn(about, norm)
        return re.sub(r"\s+", " ", described).strip() if found else query
