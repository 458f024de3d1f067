"""A title asked about by a distinctive part of it: the turn answers with that series."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("question", "series_id"),
    [
        ("tell me about vinland", "vinland-saga"),
        ("ヴィンランドについて教えて", "vinland-saga"),
        ("ネバーランドは全何巻？", "the-promised-neverland"),
    ],
)
async def test_a_partial_title_is_a_question_about_the_series(runner, question, series_id):
    result = await runner.run(question)
    assert result.intent != "out_of_scope"
    assert result.products and {c.series_id for c in result.products} == {series_id}


@pytest.mark.parametrize(
    ("question", "series_id", "volume"),
    [
        ("komi vol 20 price", "komi-cant-communicate", 20),
        ("how much is kaguya vol 3", "kaguya-sama-love-is-war", 3),
        ("リベンジャーズの1巻はいくら？", "tokyo-revengers", 1),
    ],
)
async def test_a_price_asked_by_a_partial_title_is_the_series_price(runner, question, series_id, volume):
    result = await runner.run(question)
    assert result.intent == "price_check"
    assert [(c.series_id, c.volume) for c in result.products] == [(series_id, volume)]
