""""Like X" queries: finding X, the rest of the request, likeness, and the search that leaves X out."""

from __future__ import annotations

import pytest

from tools.catalog import Catalog
from tools.entities import extract_entities
from tools.rerank import TURN_DOC_TYPES
from tools.search_backend import SearchFilters
from tools.similar import (
    ASKED_THEME_WEIGHT,
    Profile,
    SimilarRequest,
    catalog_words,
    compared_span,
    likeness,
    parse_similar,
    spelled_like,
)
from tools.text import normalize, tokenize

TURN = SearchFilters(doc_types=TURN_DOC_TYPES)


@pytest.fixture
def catalog(services) -> Catalog:
    return services.catalog


@pytest.mark.parametrize(
    ("query", "anchor", "genres"),
    [
        ("horror like Uzumaki", "uzumaki", ("horror",)),
        ("thrillers like Monster", "monster", ("thriller",)),
        ("something similar to Vinland Saga", "vinland-saga", ()),
        ("for fans of Kaiji", "gambling-apocalypse-kaiji", ()),
        ("if I loved Frieren what next", "frieren-beyond-journeys-end", ()),
        ("Berserk fans would enjoy what dark fantasy?", "berserk", ("fantasy",)),
        ("ベルセルクみたいなダークファンタジー", "berserk", ("fantasy",)),
        ("フルーツバスケットに似た漫画", "fruits-basket", ()),
        ("進撃の巨人のようなバトル漫画", "attack-on-titan", ("action",)),
        ("ハイキュー好きにおすすめのスポーツ漫画", "haikyu", ("sports",)),
        ("呪術廻戦っぽいの", "jujutsu-kaisen", ()),
        ("looking for something akira-ish, old school cyberpunk", "akira", ("sci-fi",)),
        ("death note vibes? mind games", "death-note", ("psychological",)),
        ("i finished fairy tail, what next", "fairy-tail", ()),
        ("what to read after Skip Beat", "skip-beat", ()),
        ("ベルセルクの次に読む漫画", "berserk", ()),
    ],
)
def test_x_is_resolved_and_the_rest_kept(catalog: Catalog, query: str, anchor: str, genres: tuple[str, ...]) -> None:
    similar = parse_similar(query, catalog)
    assert similar is not None
    assert similar.anchors == (anchor,) and similar.author is None
    assert similar.genres == genres
    # Neither X nor the cue is left in the words searched for.
    assert not any(w in similar.rest for w in ("like", "similar", "fans", "みたい", "似た", "好き", "おすすめ"))


@pytest.mark.parametrize(
    "query",
    ["I'd like Frieren volume 3", "I would like to buy Chainsaw Man", "manga by Junji Ito", "Uzumaki by 伊藤潤二",
     "horror like the ones with curses", "ベルセルクの最新巻"],
)
def test_no_comparison_no_anchor(catalog: Catalog, query: str) -> None:
    assert parse_similar(query, catalog) is None


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("i finished fairy tail, what next", None),
        ("just finished reading Monster, anything similar?", None),
        ("I've finished Berserk, recommend something", None),
        ("finished manga like berserk", "completed"),
        ("is berserk finished?", "completed"),
        ("a finished horror series under 5 volumes", "completed"),
    ],
)
def test_a_series_the_shopper_finished_reading_asks_for_no_finished_series(
    catalog: Catalog, query: str, status: str | None
) -> None:
    assert extract_entities(query, catalog).status == status


def test_an_author_x_anchors_on_all_their_series(catalog: Catalog) -> None:
    for query in ("horror manga like Junji Ito", "伊藤潤二みたいなホラー漫画"):
        similar = parse_similar(query, catalog)
        assert similar is not None and similar.author == "Junji Ito"
        assert set(similar.anchors) == {s.series_id for s in catalog.by_author("Junji Ito")}
        assert similar.genres == ("horror",)


def test_a_demographic_asked_for_is_kept(catalog: Catalog) -> None:
    similar = parse_similar("shojo similar to Fruits Basket", catalog)
    assert similar is not None and similar.demographic == "shojo"


@pytest.mark.parametrize(
    ("query", "span"),
    [("manga like jujitsu kaisen", "jujitsu kaisen"), ("something like berserck but funnier", "berserck"),
     ("ベルセルグみたいな漫画", "ベルセルグ"), ("no comparison here", None)],
)
def test_the_compared_span_is_found_without_a_catalog_name(query: str, span: str | None) -> None:
    found = compared_span(query)
    assert (normalize(query)[found[0]:found[1]] if found else None) == span


def test_likeness_prefers_shared_genres_themes_and_authors(catalog: Catalog) -> None:
    monster = catalog.series["monster"]
    request = SimilarRequest(anchors=("monster",), author=None, rest="", genres=(), demographic=None)
    profile = Profile.of([monster], catalog)
    same_author = likeness(profile, request, catalog.series["pluto"])
    same_genres = likeness(profile, request, catalog.series["liar-game"])
    unrelated = likeness(profile, request, catalog.series["chis-sweet-home"])
    assert same_author > same_genres > unrelated
    asked = SimilarRequest(anchors=("monster",), author=None, rest="", genres=("horror",), demographic=None)
    assert likeness(profile, asked, catalog.series["gannibal"]) > likeness(profile, request, catalog.series["gannibal"])


def test_shared_words_count_by_rarity(catalog: Catalog) -> None:
    words = catalog_words(catalog)
    anchor = frozenset(tokenize("piano school"))
    # "piano" is rarer in the catalog than "school": sharing it says more.
    assert words.shared(anchor, frozenset(tokenize("piano"))) > words.shared(anchor, frozenset(tokenize("school")))
    assert words.shared(anchor, anchor) == pytest.approx(1.0)
    assert words.shared(anchor, frozenset()) == 0.0


def test_what_a_series_is_about_outweighs_a_shared_common_theme(catalog: Catalog) -> None:
    # Kitchen Princess shares Food Wars' subject (cooking, school) in its words; Haikyu only shares
    # the exact theme "rivalry", which many series list.
    food_wars = catalog.series["food-wars-shokugeki-no-soma"]
    request = SimilarRequest(anchors=(food_wars.series_id,), author=None, rest="", genres=(), demographic=None)
    profile = Profile.of([food_wars], catalog)
    assert likeness(profile, request, catalog.series["kitchen-princess"]) > likeness(
        profile, request, catalog.series["haikyu"])


@pytest.mark.parametrize("query", ["manga like Nodame Cantabile", "のだめカンタービレみたいな漫画"])
async def test_like_x_ranks_the_same_subject_first(services: object, query: str) -> None:
    # Your Lie in April is the other classical-music series (piano); Given shares more genres.
    hits = await services.retrieval.search(query, 5, TURN)  # type: ignore[attr-defined]
    assert hits[0].series_id == "your-lie-in-april"


async def test_like_x_finds_neighbours_not_x(services: object) -> None:
    retrieval = services.retrieval  # type: ignore[attr-defined]
    hits = await retrieval.search("horror like Uzumaki", 10, TURN)
    assert hits and all(h.series_id != "uzumaki" for h in hits)
    assert all("horror" in h.doc.genres for h in hits[:3])
    assert all(h.doc_type in ("series", "reviews") for h in hits)
    # The plain title still finds the title.
    assert (await retrieval.search("Uzumaki", 3, TURN))[0].series_id == "uzumaki"


async def test_an_authors_own_series_follow_the_other_authors(services: object, catalog: Catalog) -> None:
    retrieval = services.retrieval  # type: ignore[attr-defined]
    own = {s.series_id for s in catalog.by_author("Junji Ito")}
    for query in ("horror manga like Junji Ito", "伊藤潤二みたいなホラー漫画"):
        hits = await retrieval.search(query, 30, TURN)
        flags = [h.series_id in own for h in hits]
        assert not flags[0] and flags == sorted(flags), flags


@pytest.mark.parametrize(
    ("query", "kin"),
    [("anything like Hellsing?", "drifters"), ("ソウルイーターみたいな漫画ある？", "fire-force"),
     ("what should i read after yu yu hakusho", "hunter-x-hunter")],
)
async def test_x_authors_other_series_are_among_its_neighbours_whatever_their_genres(
    services: object, query: str, kin: str
) -> None:
    # Drifters shares one genre with Hellsing (and its author's name is spelt "Kohta" there, not
    # "Kouta"): the fused list of X's neighbours does not hold it, the catalog's author does.
    hits = await services.retrieval.search(query, 10, TURN)  # type: ignore[attr-defined]
    shown = list(dict.fromkeys(h.series_id for h in hits))
    assert kin in shown[:3], shown


@pytest.mark.parametrize(
    ("query", "x"),
    [("manga like jujitsu kaisen", "jujutsu-kaisen"), ("ベルセルグみたいな漫画", "berserk"),
     ("MONSTERみたいなサスペンス", "monster")],
)
async def test_an_x_the_name_look_up_misses_is_resolved(services: object, catalog: Catalog, query: str, x: str) -> None:
    hits = await services.retrieval.search(query, 10, TURN)  # type: ignore[attr-defined]
    assert hits and all(h.series_id != x for h in hits)
    assert set(hits[0].doc.genres) & set(catalog.series[x].genres)


async def test_like_x_keeps_the_callers_filters(services: object) -> None:
    retrieval = services.retrieval  # type: ignore[attr-defined]
    hits = await retrieval.search("dark fantasy like Berserk", 5, SearchFilters(doc_types=["series"], language="ja"))
    assert hits and all(h.language == "ja" and h.doc_type == "series" for h in hits)
    # Policies never describe a series: a policy-only search is searched as usual.
    policy = await retrieval.search("like Berserk", 3, SearchFilters(doc_types=["policy"]))
    assert all(h.doc_type == "policy" for h in policy)


def test_a_misspelling_stays_close_to_a_name(catalog: Catalog) -> None:
    assert spelled_like("berserck", catalog.series["berserk"])
    assert spelled_like("ベルセルグ", catalog.series["berserk"])
    assert spelled_like("jujitsu kaisen", catalog.series["jujutsu-kaisen"])
    assert not spelled_like("smoke", catalog.series["sweetness-and-lightning"])
    # The misspelt katakana start of a name that goes on in hiragana, not any short start.
    assert spelled_like("カードキャプチャー", catalog.series["cardcaptor-sakura"])
    assert not spelled_like("カード", catalog.series["cardcaptor-sakura"])
    assert not spelled_like("sweetie", catalog.series["sweetness-and-lightning"])


@pytest.mark.parametrize("query", ["manga for fans of Studio Ghibli?", "the book smells like smoke, refund it"])
async def test_an_unknown_x_that_is_no_title_stays_unresolved(services: object, catalog: Catalog, query: str) -> None:
    assert await services.retrieval._similar(query, catalog) is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "compared"),
    [
        ("what should a Dungeon Meshi fan read next", True),
        ("something in the vein of Monster", True),
        ("if I liked Vinland Saga what next", True),
        ("ハイキュー好きにおすすめのスポーツ漫画は？", True),
        ("フリーレン読み終わったんだけど、次は？", True),
        ("ベルセルクに似てる漫画", True),
        ("ワールドトリガーみたいに戦術が面白い漫画", True),
        ("I'd like Berserk volume 2", False),
        ("who likes baseball manga", False),
        ("日常系の漫画", False),
        ("ベルセルクの最新巻", False),
        ("I just finished Frieren vol 3, is vol 4 out?", False),
        ("done with berserk. what's next?", True),
        # A title in quotes, as Japanese shoppers often write one.
        ("『チェンソーマン』みたいな漫画", True),
        ("「進撃の巨人」っぽい作品ある？", True),
        ("something like 'Berserk' please", True),
        ("「ベルセルク」の3巻ある？", False),
    ],
)
def test_the_entity_flag_and_the_like_x_reading_share_their_cues(catalog: Catalog, query: str, compared: bool) -> None:
    assert extract_entities(query, catalog).similar_to is compared
    assert (parse_similar(query, catalog) is not None) is compared


@pytest.mark.parametrize(
    ("query", "compared"),
    [
        ("Junji Ito is great, anything similar?", True),
        ("I read everything by Urasawa, want something like that", True),
        ("Berserk was great, anything like it?", True),
        ("ベルセルク最高、似たような漫画ある？", True),
        ("anything similar?", False),  # nothing named to compare with
        ("I'd like it in Japanese: Berserk volume 2", False),
        ("Berserk volume 2 please", False),
    ],
)
def test_a_comparison_pointing_back_at_a_name_sets_the_entity_flag(catalog: Catalog, query: str, compared: bool) -> None:
    assert extract_entities(query, catalog).similar_to is compared


@pytest.mark.parametrize(
    ("query", "anchors", "genres"),
    [
        ("Kaguya-sama: Love Is War but something else", ("kaguya-sama-love-is-war",), ()),
        ("princess jellyfish but a different series", ("princess-jellyfish",), ()),
        ("nodame cantabile was so fun, similar ones?", ("nodame-cantabile",), ()),
        ("just finished golden kamuy and i need more", ("golden-kamuy",), ()),
        ("loved Vinland Saga. what else?", ("vinland-saga",), ()),
        # A title in everyday words credited to its author is the title ("Monster by Urasawa"), and the
        # credit is no second anchor.
        ("monster by urasawa was amazing, similar thrillers?", ("monster",), ("thriller",)),
        ("ベルセルク最高、似たような漫画ある？", ("berserk",), ()),
        ("鬼滅ロスで何か読みたい", ("demon-slayer-kimetsu-no-yaiba",), ()),
        ("ハイキューは読んだので別の作品で", ("haikyu",), ()),
        # What the shopper liked about X, pointed back at from further on.
        ("Vinland Saga wrecked me. I want that same brutal viking feel in something new", ("vinland-saga",), ()),
        ("my sister adores Sailor Moon; a shojo that would hit the same spot?", ("pretty-guardian-sailor-moon",), ()),
        ("we read Haikyu!! in our club, anything in the same spirit?", ("haikyu",), ()),
        ("Mushishi was so calm. more of that please", ("mushishi",), ()),
        ("20th Century Boys kept me up all night, any thrillers in a similar vein?", ("20th-century-boys",), ("thriller",)),
        ("ヒカルの碁にはまりました。ああいう囲碁や将棋の話をもっと読みたい", ("hikaru-no-go",), ()),
        ("ドラゴンボール世代です。あの熱いバトルの感じが好き", ("dragon-ball",), ("action",)),
        ("スラムダンクを読み終えました。他にも読みたいです", ("slam-dunk",), ()),
        ("ワンピースのノリが好きな人向けの漫画", ("one-piece",), ()),
        ("寄生獣に近い漫画ある？", ("parasyte",), ()),
        # Someone else's reading, and "another" kind of story.
        ("my nephew really enjoyed Blue Lock, anything for him?", ("blue-lock",), ()),
        ("My 13 year old loved Orange. Looking for another tearjerker", ("orange",), ("drama",)),
        ("Mushishi calms me down. any other quiet manga?", ("mushishi",), ()),
        ("鬼滅の刃にハマってる娘に、似た感じの漫画をあげたい", ("demon-slayer-kimetsu-no-yaiba",), ()),
        ("ハイキューにハマってます。スポーツものでほかにありますか？", ("haikyu",), ("sports",)),
        # More of a kind of story, and 「同じような」: X read, another asked for.
        ("loved Attack on Titan. need more humans-vs-monsters stories", ("attack-on-titan",), ()),
        ("セーラームーン世代です。娘にも同じような魔法少女ものを読ませたい", ("pretty-guardian-sailor-moon",), ("fantasy",)),
        ("スラムダンク世代です。あれと同じくらい熱い部活もの", ("slam-dunk",), ("school",)),
        # Missing X after its end.
        ("finished Mushishi and I miss it so much. something quiet?", ("mushishi",), ()),
        ("ハイキュー読み終わって寂しい…", ("haikyu",), ()),
        # Asking what is similar, or what to read next, anywhere after X.
        ("Frieren is my favourite manga ever, what should I read next?", ("frieren-beyond-journeys-end",), ()),
        ("just binged Chainsaw Man, what's similar??", ("chainsaw-man",), ()),
        ("caught up on Hajime no Ippo, give me other boxing manga", ("hajime-no-ippo",), ("sports",)),
        ("just binged Death Note. what else has that cat-and-mouse feeling?", ("death-note",), ()),
        # Fondness in other words: "adores", "both loved", "obsessed with", 「大好き」, 「ハマった」.
        ("my girlfriend adores Fruits Basket, which shoujo should I surprise her with next?", ("fruits-basket",), ()),
        ("my husband and I both loved Spy x Family, anything for us?", ("spy-x-family",), ()),
        ("my 9 year old is obsessed with Pokemon Adventures, what manga would he like?", ("pokemon-adventures",), ()),
        ("進撃の巨人にハマった人におすすめの漫画は？", ("attack-on-titan",), ()),
        ("君に届けが大好きな中学生の娘に、次に読ませる少女漫画を探してます", ("kimi-ni-todoke-from-me-to-you",), ()),
        # Recommendations asked for after X, and X read to its end in other words.
        ("Death Note was amazing. Recommendations?", ("death-note",), ()),
        ("Any recommendations for someone who just finished One Piece?", ("one-piece",), ()),
        ("ハイキューの次に何読めばいい？", ("haikyu",), ()),
        ("チェンソーマン読了。次のおすすめは？", ("chainsaw-man",), ()),
        ("フリーレンを読み終えたので、次に読む漫画を探してます", ("frieren-beyond-journeys-end",), ()),
        ("i've read all of Naruto. what now?", ("naruto",), ()),
        # "Other stuff" after X, said alone.
        ("caught up on the apothecary diaries. other stuff with a smart heroine?", ("the-apothecary-diaries",), ()),
        ("finished Berserk. other manga with that grim tone?", ("berserk",), ()),
    ],
)
def test_a_name_a_comparison_points_back_at_is_x(
    catalog: Catalog, query: str, anchors: tuple[str, ...], genres: tuple[str, ...]
) -> None:
    similar = parse_similar(query, catalog)
    assert similar is not None and similar.anchors == anchors and similar.author is None
    assert similar.genres == genres
    assert not any(
        w in similar.rest.split()
        for w in ("urasawa", "else", "different", "similar", "same", "spirit", "caught", "似た", "ロス", "別の")
    )
    assert not any(w in similar.rest for w in ("ああいう", "他にも", "ノリ"))


@pytest.mark.parametrize(
    "query, anchors",
    [
        # Closeness and alternatives in so many words.
        ("which manga is closest to monster by urasawa?", ("monster",)),
        ("anything close to uzumaki?", ("uzumaki",)),
        ("similar manga to one punch man", ("one-punch-man",)),
        ("any good alternatives to one piece? it's too long", ("one-piece",)),
        # X read to its end, or loved, in other words.
        ("need something to fill the void after attack on titan ended", ("attack-on-titan",)),
        ("what's the next best thing after fullmetal alchemist?", ("fullmetal-alchemist",)),
        ("recommendations based on my love of sailor moon", ("pretty-guardian-sailor-moon",)),
        ("my son can't stop rereading naruto, any suggestions for him?", ("naruto",)),
        ("my wife loves nana, what other josei would she like", ("nana",)),
        ("君に届けの次におすすめの少女漫画", ("kimi-ni-todoke-from-me-to-you",)),
        ("四月は君の嘘で泣いた人におすすめ", ("your-lie-in-april",)),
        # The author in brackets between the title and the cue.
        ("モンスター（浦沢直樹）みたいなサスペンス", ("monster",)),
        ("i need the manga equivalent of spy x family", ("spy-x-family",)),
        ("anything that compares to Monster?", ("monster",)),
        ("whats good if u liked demon slayer", ("demon-slayer-kimetsu-no-yaiba",)),
        ("have read all of haikyu, suggest similar", ("haikyu",)),
        # Measured against X, standing in for it, after it, since it, grown up with it.
        ("ベルセルクを超えるダークファンタジーってある？", ("berserk",)),
        ("よつばと！並みに癒される漫画", ("yotsuba",)),
        ("ワンピースの代わりになるような長編冒険もの", ("one-piece",)),
        ("鬼滅の刃の後に読むならどれ？", ("demon-slayer-kimetsu-no-yaiba",)),
        ("ちはやふるの次は何を読もうかな", ("chihayafuru",)),
        ("デスノート以来ハマれる漫画がない…何かない？", ("death-note",)),
        ("ナルト世代なんですが、今読むならどれがいい？", ("naruto",)),
        # Read, liked, struck by, grown out of X, in other words; the same line of story.
        ("ゴールデンカムイを読み終えて寂しいです", ("golden-kamuy",)),
        ("約束のネバーランドを気に入った人向けの作品", ("the-promised-neverland",)),
        ("メイドインアビスが刺さった人に", ("made-in-abyss",)),
        ("ヒロアカを卒業した息子に次に読ませたい", ("my-hero-academia",)),
        ("呪術廻戦を読んでる人におすすめしたい漫画", ("jujutsu-kaisen",)),
        ("ハイキューの熱さが忘れられない。同じ系統の漫画ある？", ("haikyu",)),
        ("NARUTOを全巻読んだ息子に次の漫画を", ("naruto",)),
        ("ワンピースを読み切ったので次を探してます", ("one-piece",)),
        ("呪術廻戦にどハマりしてる娘へ", ("jujutsu-kaisen",)),
        # 「X的な」「X路線」「Xレベルの」, "X-adjacent", "X kinda vibes", "closest things to X".
        ("フリーレン的な漫画ないかな", ("frieren-beyond-journeys-end",)),
        ("ワンピース路線の漫画", ("one-piece",)),
        ("進撃の巨人レベルの衝撃作", ("attack-on-titan",)),
        ("chainsaw man adjacent stuff?", ("chainsaw-man",)),
        ("berserk kinda vibes", ("berserk",)),
        ("what are the closest things to vinland saga you sell", ("vinland-saga",)),
        ("any series comparable with fullmetal alchemist", ("fullmetal-alchemist",)),
        ("uzumaki was peak, more in that direction?", ("uzumaki",)),
        ("something for someone who grew up on dragon ball", ("dragon-ball",)),
        ("looking for the next death note", ("death-note",)),
    ],
)
def test_more_ways_of_comparing_with_x(catalog: Catalog, query: str, anchors: tuple[str, ...]) -> None:
    similar = parse_similar(query, catalog)
    assert similar is not None and similar.anchors == anchors
    assert "浦沢" not in similar.rest


@pytest.mark.parametrize(
    "query",
    [
        "anything else by Junji Ito?",  # the author's own works, not other authors'
        "what else did Naoki Urasawa draw?",
        "is there Berserk but another volume?",
        "Berserk volume 3, and I need more",  # no clause break: ends with "more" but asks for volumes
        "a monster by the sea",
        "do you have Berserk?",
        "more by the same author as Berserk",  # X's author's works
        "Berserk in the same edition as my last order",
        "浦沢直樹の他にも作品ありますか",  # the author's other works
        "田村由美先生の漫画、ほかに何が置いてありますか",
        "Berserk, another volume please",  # more of X
        "do you have any other volumes of Berserk?",
        "Do you carry Emma? The Victorian maid romance, not another Emma",  # X itself
        "I want more Berserk",  # more of X
        "Berserk, need more volumes",
        "I want more of Berserk",
        "need more info about Berserk",
        "what else has Naoki Urasawa drawn?",  # the author's own works
        "Berserk is great, should I buy the next volume?",  # more of X
        "Berserk volume 3 recommendations?",
        "ハイキューの次に出る巻はいつ？",  # X's next volume
        # A fondness for X beside a question about X's own volumes.
        "my son loves One Piece, do you have the box set?",
        "I loved Berserk, is volume 3 in stock?",
        "ワンピースが大好きな息子に最新刊を買いたい",
        "鬼滅の刃にハマった息子に全巻セットをプレゼントしたい",
        # The author's other series, X's other books.
        "loved Monster, other series by Urasawa?",
        "Berserk, other books in the series?",
        "any manga based on Pokemon games?",  # an adaptation, not a comparison
        "how does Berserk compare to Claymore?",  # a question about the two
        "鬼滅の刃の次は何巻ですか",  # X's next volume
        "呪術廻戦を読んでるけど次の巻はいつ？",
        "ベルセルクの代わりにクレイモアを注文したい",  # an order changed
        "NARUTOの全巻セットを読みたい",  # the set of X
        "looking for the next volume of Berserk",
        "i want the next naruto",  # the next volume, as likely as not
        "フリーレン読んだことある？ｗ",  # a question to the assistant
    ],
)
def test_asking_for_more_of_x_or_its_author_points_back_at_nothing(catalog: Catalog, query: str) -> None:
    assert parse_similar(query, catalog) is None


async def test_a_series_pointed_back_at_is_left_out_of_its_neighbours(services: object) -> None:
    hits = await services.retrieval.search("Kaguya-sama: Love Is War but something else", 5, TURN)  # type: ignore[attr-defined]
    assert hits and all(h.series_id != "kaguya-sama-love-is-war" for h in hits)
    hits = await services.retrieval.search("monster by urasawa was amazing, similar thrillers?", 5, TURN)  # type: ignore[attr-defined]
    assert hits and all(h.series_id != "monster" for h in hits)
    assert "thriller" in hits[0].doc.genres


@pytest.mark.parametrize("query", ["manga like Berserk with yokai", "ベルセルクみたいな妖怪もの"])
def test_a_theme_the_request_names_beside_x_counts_in_the_likeness(catalog: Catalog, query: str) -> None:
    plain = parse_similar("manga like Berserk", catalog)
    themed = parse_similar(query, catalog)
    assert plain is not None and themed is not None
    profile = Profile.of([catalog.series["berserk"]], catalog)
    yokai = catalog.series["ushio-and-tora"]  # a yokai story, hardly like Berserk otherwise
    assert "yokai" in yokai.themes
    assert likeness(profile, themed, yokai) >= likeness(profile, plain, yokai) + ASKED_THEME_WEIGHT
    # A series without the theme is as like X as before.
    claymore = catalog.series["claymore"]
    assert likeness(profile, themed, claymore) == likeness(profile, plain, claymore)


@pytest.mark.parametrize(
    "query",
    [
        "I was a huge Yuu Watase fan back in middle school. Which of her series do you sell these days?",
        "big fan of Naoki Urasawa, what are his best works?",
        "浦沢直樹ファンです。この先生の他の作品ありますか",
        "I loved Naoki Urasawa's stuff years ago, what of his do you carry?",
    ],
)
def test_a_fan_asking_for_the_authors_own_works_compares_with_nothing(catalog: Catalog, query: str) -> None:
    assert parse_similar(query, catalog) is None
    assert not extract_entities(query, catalog).similar_to
    # A fan asking for others is still one.
    assert parse_similar("Junji Ito fans, anything similar?", catalog) is not None
