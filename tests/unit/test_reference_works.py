"""Works the store does not carry, named to say what a shopper wants (`tools.reference_works`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.catalog import Catalog
from tools.reference_works import ReferenceWork, ReferenceWorks
from tools.text import normalize

REPO_DATA_DIR = Path(__file__).resolve().parents[2] / "data"

WORKS = ReferenceWorks(
    [
        ReferenceWork(names=["Cowboy Bebop", "カウボーイビバップ"], about="sci-fi, space, bounty hunters",
                      about_ja="SF 宇宙 賞金稼ぎ"),
        ReferenceWork(names=["Steins;Gate", "steins gate", "シュタゲ"], about="sci-fi, time travel",
                      about_ja="SF タイムトラベル"),
    ]
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(REPO_DATA_DIR)


def test_a_work_named_is_searched_by_what_it_is_about_in_the_querys_language():
    assert WORKS.described("manga with Cowboy Bebop energy") == "manga with sci-fi, space, bounty hunters energy"
    assert WORKS.described("カウボーイビバップみたいな漫画") == "SF 宇宙 賞金稼ぎ みたいな漫画"
    assert WORKS.described("like steins;gate or Cowboy Bebop") == (
        "like sci-fi, time travel or sci-fi, space, bounty hunters"
    )
    assert WORKS.described("シュタゲ、あとcowboy bebop") == "SF タイムトラベル 、あと SF 宇宙 賞金稼ぎ"


def test_a_query_naming_no_work_is_left_as_it_is():
    for query in ["Cowboy boots in a western manga", "bebopping jazz kids", "SF漫画が読みたい"]:
        assert WORKS.described(query) == query
    assert ReferenceWorks([]).described("like Cowboy Bebop") == "like Cowboy Bebop"


def test_the_shipped_works_are_none_the_store_carries(catalog: Catalog):
    works = catalog.references.works
    assert len(works) >= 50
    names = [normalize(n) for w in works for n in w.names]
    assert len(names) == len(set(names)), "a name stands for one work"
    carried = {
        normalize(name)
        for s in catalog.series.values()
        for name in [s.title, s.title_ja, *s.aliases, *s.authors, *s.authors_ja]
    }
    assert not carried & set(names), "a work the store carries is found as itself, not described"
    # A name found inside everyday text would describe a work nobody named.
    assert all(len(n) >= 4 for n in names)
    assert all(w.about.strip() and w.about_ja.strip() for w in works)


@pytest.mark.parametrize(
    ("message", "misread_as", "named"),
    [
        ("something like My Happy Marriage", "happy", "do you have Happy!"),
        ("まどマギみたいな漫画", "magi", "マギみたいな漫画"),
        ("とらドラっぽいラブコメ", "doraemon", "ドラえもんっぽい漫画"),
    ],
)
def test_a_work_the_store_does_not_carry_is_no_misspelling_of_one_it_does(catalog: Catalog, message, misread_as, named):
    assert misread_as not in {m.key for m in catalog.find_names(message)}
    # The series it had been read as is still found by its own name.
    assert misread_as in {m.key for m in catalog.find_names(named)}
