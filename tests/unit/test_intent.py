"""Two-stage intent routing: rules, the trained classifier, and held-out accuracy."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from mangaassist.settings import REPO_DATA_DIR, get_settings
from tools.entities import extract_entities
from tools.intent import (
    CATALOG_UTTERANCE_WEIGHT,
    IntentRouter,
    build_pipeline,
    catalog_utterances,
    load_utterances,
    rule_intent,
    train,
    training_files,
)

# The held-out dev set is never trained on; this is a regression floor, not a target.
DEV_FLOOR = 0.90


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where is my order MA-10023?", "order_status"),
        ("I want to return volume 2, it arrived damaged", "return_request"),
        ("let me talk to a real person", "escalation"),
        ("how much is shipping to Canada?", "shipping_info"),
        ("hi!", "chitchat"),
        ("ありがとうございます！", "chitchat"),
        ("もしもーし", "chitchat"),
        ("よろしくお願いします", "chitchat"),
        ("返品したいです", "return_request"),
        ("送料はいくら？", "shipping_info"),
    ],
)
def test_rules(services, text, intent):
    assert rule_intent(extract_entities(text, services.catalog).masked_text) == intent


def test_rules_leave_benign_lookalikes_to_the_classifier(services):
    for text in ("recommend a manga about a boxer", "tell me about Monster", "おすすめのホラー漫画"):
        assert rule_intent(extract_entities(text, services.catalog).masked_text) is None


def test_dev_accuracy_per_language(services):
    rows = load_utterances(REPO_DATA_DIR / "intents" / "dev.jsonl")
    hits: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        decision = services.intents.classify(extract_entities(row["text"], services.catalog))
        hits[row["language"]].append(decision.intent == row["intent"])
    for language in ("en", "ja"):
        accuracy = sum(hits[language]) / len(hits[language])
        assert accuracy >= DEV_FLOOR, f"{language}: {accuracy:.3f}"


@pytest.mark.parametrize(
    "text",
    [
        # A subject with no title: before the catalog's own descriptions were trained on, these
        # were read as chitchat, out of scope or an escalation.
        "boxing", "table tennis", "卓球", "ゾンビもの", "デスゲーム系",
        # A story told in the shopper's words.
        "a man in debt gambles for his life on a ship playing rock paper scissors",
        "錬金術で母親を生き返らせようとした兄弟",
        "名前を書くと人が死ぬノートの話",
        "山から戻ってきた親友が、本人じゃない何かに入れ替わってると気づく話",
    ],
)
def test_subjects_and_stories_are_routed_to_the_catalog(services, text):
    decision = services.intents.classify(extract_entities(text, services.catalog))
    assert decision.intent in ("product_search", "recommendation"), decision


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("a cooking manga like Food Wars", "recommendation"),
        ("食戟のソーマみたいな料理漫画", "recommendation"),
        # Two series compared with each other: a question about them, not a request for others.
        ("is Tokyo Ghoul similar to Parasyte?", "product_question"),
    ],
)
def test_a_search_like_one_series_is_a_request_for_recommendations(services, text, intent):
    assert services.intents.classify(extract_entities(text, services.catalog)).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # "Want to read" reads as a request for recommendations; with one title and a volume or
        # "what comes next" it asks for that title.
        ("呪術廻戦 0巻から読みたい", "product_search"),
        ("Dandadanの続きが読みたい", "product_search"),
        ("ワンピースの最新刊読みたい", "product_search"),
        ("I want to read Berserk from volume 1", "product_search"),
        ("I want to read Berserk", "product_search"),
        ("ベルセルクを読んでみたい", "product_search"),
        ("i wanna try chainsaw man", "product_search"),
        # Recommended by someone else: the shopper asks about that title.
        ("my friend recommended Vinland Saga, is there an English version?", "product_search"),
        ("友達に葬送のフリーレンを勧められたんですが、英語版はありますか", "product_search"),
        ("my friend recommended Berserk, what else would I like?", "recommendation"),
        # Finishing a series and asking what to read next is a request for others.
        ("just finished Kimi ni Todoke, what should I read next?", "recommendation"),
        ("something like Berserk volume 1", "recommendation"),
        # A fondness for the series, then its own volumes asked for: about that series.
        ("my son loves One Piece, do you have the box set?", "product_search"),
        ("ワンピースが大好きな息子に最新刊を買いたい", "product_search"),
        ("鬼滅の刃にハマった息子に全巻セットをプレゼントしたい", "product_search"),
        ("ワンピースみたいな漫画の全巻セットある？", "recommendation"),
    ],
)
def test_reading_one_series_on_is_a_search_for_it(services, text, intent):
    assert services.intents.classify(extract_entities(text, services.catalog)).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # No title, and more than one thing to read asked for: a search (several cards).
        ("books where a cat is the narrator", "product_search"),
        # A question about one series stays one.
        ("how many books are in the Fruits Basket collector's edition?", "product_question"),
        ("is there a manga about a chef in space?", "recommendation"),
    ],
)
def test_an_untitled_question_asking_for_several_is_a_search(services, text, intent):
    decision = services.intents.classify(extract_entities(text, services.catalog))
    assert decision.intent == intent


@pytest.mark.parametrize(
    "text",
    [
        # The held-out set asks so ("Looking for a story about a found family", 「血のつながらない家族の話
        # が好き。何かある？」). 「話」 is also "talk" (「担当者と話したい」), and these had gone to
        # chitchat and escalation.
        "any stories about lonely robots?",
        "i like stories where someone goes back in time to save a friend",
        "過去に戻って大切な人を救おうとする話が好きです",
        "ほのぼのした話が好きです",
    ],
)
def test_a_kind_of_story_the_shopper_likes_asks_for_recommendations(services, text):
    assert services.intents.classify(extract_entities(text, services.catalog)).intent == "recommendation"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Which series a plot belongs to is a search of the catalog, not a question about the world.
        ("what was that manga where a samurai's ghost teaches a kid to play go?", "product_search"),
        ("there's a series where a high school girl becomes a shogi pro, what's it called", "product_search"),
        ("宇宙飛行士を目指す兄弟の漫画ってなんでしたっけ？", "product_search"),
        ("料理で異世界の人たちを助ける話のタイトル何でしたっけ", "product_search"),
        # Its name forgotten, told by a rule: the classifier had wavered between a search and a return.
        ("お寺の蔵で槍に封印されてた妖怪を解き放っちゃう少年の話、タイトル忘れました", "product_search"),
        ("i forgot the title but it's about a baker who travels in time", "product_search"),
        ("I forgot my order number, where's my package?", "order_status"),
        # Still out of scope and chat.
        ("what's the weather like in Osaka?", "out_of_scope"),
        ("how do I draw manga eyes", "out_of_scope"),
    ],
)
def test_asking_which_series_a_plot_is_searches_the_catalog(services, text, intent):
    assert services.intents.route(text, services.catalog)[1].intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Request words with two letters swapped read as the words ("pirce" had been a search).
        ("frieren vol 3 pirce??", "price_check"),
        ("i want to retrun this volume", "return_request"),
        ("is berserk 1 in stcok?", "product_question"),
    ],
)
def test_a_request_word_typed_with_two_letters_swapped_is_the_word(services, text, intent):
    assert services.intents.route(text, services.catalog)[1].intent == intent


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        # A work the store does not carry, read as chat until it is read as what it is about.
        ("ダンガンロンパにハマってて、似てるのない？", {"product_search", "recommendation"}),
        ("Goblin Slayer was sick! more like that?", {"product_search", "recommendation"}),
        # Only then: a price or a greeting stays one.
        ("how much is Squid Game on blu-ray?", {"price_check"}),
        ("hi!", {"chitchat"}),
    ],
)
def test_a_work_not_carried_is_read_as_what_it_is_about(services, text, intents):
    assert services.intents.route(text, services.catalog)[1].intent in intents


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Asked for by what it is called.
        ("do you sell a manga called Witch Hat Atelier?", "product_search"),
        ("ふらいんぐうぃっちっていう漫画を探してます", "product_search"),
        # In stock, with no order named: a question about the series, not about an order.
        ("I need Frieren vol 2 for a gift on Friday, is it still available?", "product_question"),
        ("where is my Berserk vol 3?", "order_status"),
        ("ETA for my Kaiju No. 8 box?", "order_status"),
        # An edition of the one series named, not which editions the store sells.
        ("my sister recommended Beastars — is there an English version?", "product_search"),
        # Bought as a gift: a search for the series, not a return.
        ("Blue Period book 1, buying it for my nephew who just started art school", "product_search"),
        ("ドラえもん 小学生の孫にプレゼントしたいです", "product_search"),
        # Wanted by the one it is for, or asked where to start: that series, not its neighbours.
        ("my nephew wants Haikyu for christmas, which volume should I begin with?", "product_search"),
        # A format of the one series named, not how digital editions work.
        ("is there a digital version of Dungeon Meshi?", "product_search"),
        ("ダンジョン飯の電子書籍版ってありますか？", "product_search"),
        ("how do digital editions work?", "store_faq"),
    ],
)
def test_a_series_asked_for_by_name_or_stock_is_about_the_series(services, text, intent):
    assert services.intents.route(text, services.catalog)[1].intent == intent


def test_catalog_utterances_describe_every_series_in_both_languages(services):
    catalog = services.catalog
    rows = catalog_utterances(catalog)
    assert {r["intent"] for r in rows} == {"product_search"}
    texts = {r["text"] for r in rows}
    for s in catalog.series.values():
        assert any(s.synopsis.startswith(t) for t in texts)
        # In Japanese, told as a shopper asks for a story: "…と戦う話".
        assert any(s.synopsis_ja.startswith(t.removesuffix("話")) for t in texts)
        assert all(t in texts and catalog.themes_ja[t] in texts for t in s.themes)
    # Derived from the catalog, they must not outvote the hand-labelled requests.
    assert 0 < CATALOG_UTTERANCE_WEIGHT < 1


def test_a_japanese_synopsis_sentence_is_asked_for_as_a_story(services):
    from tools.intent import _as_story

    assert _as_story("妹を人間に戻すため鬼と戦う。") == "妹を人間に戻すため鬼と戦う話"
    # Not after a noun or a closing quote: no shopper says "…干物女」話".
    assert _as_story("家ではゴロゴロする「干物女」。") == "家ではゴロゴロする「干物女」。"


def test_training_is_deterministic(services, tmp_path):
    first = train(REPO_DATA_DIR, services.catalog, tmp_path / "a.joblib")
    second = train(REPO_DATA_DIR, services.catalog, tmp_path / "b.joblib")
    assert first["data_hash"] == second["data_hash"]
    a = joblib.load(tmp_path / "a.joblib")["pipeline"].named_steps["clf"].coef_
    b = joblib.load(tmp_path / "b.joblib")["pipeline"].named_steps["clf"].coef_
    assert (a == b).all()


def _router_for(pipeline: Pipeline, tmp_path: Path) -> IntentRouter:
    """A router over `pipeline`, in an artifact that otherwise passes the load checks."""
    artifact = joblib.load(get_settings().intent_model_path)
    artifact["pipeline"] = pipeline
    joblib.dump(artifact, tmp_path / "model.joblib")
    return IntentRouter(REPO_DATA_DIR, tmp_path / "model.joblib")


def _assert_margins_match(router: IntentRouter, pipeline: Pipeline, texts: list[str]) -> None:
    expected = pipeline.decision_function(texts)
    direct = np.array([router._margins(text) for text in texts])
    np.testing.assert_allclose(direct, expected, rtol=0, atol=1e-9)
    assert (direct.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_direct_margins_match_the_pipeline(services):
    paths = [*training_files(REPO_DATA_DIR), REPO_DATA_DIR / "intents" / "dev.jsonl"]
    raw = [row["text"] for path in paths for row in load_utterances(path)]
    assert len(paths) > 1 and raw
    # Masked text is what the router scores; raw text keeps the titles, case and digits that
    # masking removes. "" has no n-gram at all.
    masked = [extract_entities(text, services.catalog).masked_text for text in raw]
    pipeline = joblib.load(get_settings().intent_model_path)["pipeline"]
    _assert_margins_match(services.intents, pipeline, [*masked, *raw, ""])


def test_direct_margins_follow_plain_tf(tmp_path):
    # The shipped model uses sublinear tf; the direct path must honour the artifact either way.
    rows = load_utterances(REPO_DATA_DIR / "intents" / "dev.jsonl")
    texts = [row["text"] for row in rows]
    pipeline = build_pipeline().set_params(features__chars__sublinear_tf=False)
    pipeline.fit(texts, [row["intent"] for row in rows])
    _assert_margins_match(_router_for(pipeline, tmp_path), pipeline, texts)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("features__words__norm", "l1"),
        ("features__chars__use_idf", False),
        ("features__chars__binary", True),
        ("features__transformer_weights", {"chars": 1.0, "words": 0.5}),
    ],
)
def test_router_refuses_options_it_does_not_score(tmp_path, option, value):
    rows = load_utterances(REPO_DATA_DIR / "intents" / "dev.jsonl")
    pipeline = build_pipeline().set_params(**{option: value})
    pipeline.fit([row["text"] for row in rows], [row["intent"] for row in rows])
    with pytest.raises(NotImplementedError, match=option.rsplit("__", 1)[-1]):
        _router_for(pipeline, tmp_path)
