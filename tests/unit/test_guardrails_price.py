"""The price-accuracy stage: amounts tied to the nearest product mention and checked against the
pricing tool (current vs list price, yen vs dollars, invented discounts, timeouts)."""

from __future__ import annotations

import asyncio

import pytest

from guardrails.output import PRICE_NOTE, GuardContext, stage_price_accuracy
from tools.cards import product_cards
from tools.pricing import CatalogPricingTool

# Fixed catalog facts (data/catalog/products.jsonl is deterministic and checked in sync).
BERSERK1_EN = "B05S3O3TC9"  # print EN $12.99
BERSERK1_JA = "B0SWA2TOAJ"  # print JA ¥990
BERSERK1_EN_DIGITAL = "B0NIHRIQY7"  # digital EN $7.99
MONSTER1_EN = "B0LXZD4XOL"  # print EN $14.99
MONSTER1_JA = "B081IT11SP"  # print JA ¥748
SIGN1_EN = "B0QDJYN7OZ"  # print EN $7.69, list $10.99, 30% off
SIGN1_JA = "B0HBH4SG5X"  # print JA ¥370, list ¥528, 30% off


@pytest.fixture(autouse=True)
def _facts(services):
    c = services.catalog
    assert c.product(BERSERK1_EN).current_price == 12.99
    assert c.product(SIGN1_EN).list_price == 10.99 and c.product(SIGN1_EN).promotion.percent_off == 30


class _Slow(CatalogPricingTool):
    def __init__(self, catalog, delay):
        super().__init__(catalog)
        self.delay = delay

    async def quote(self, asins):
        await asyncio.sleep(self.delay)
        return await super().quote(asins)


async def _run(services, text, asins=(), language="en", pricing=None, documents=""):
    products = [c.model_dump() for c in await product_cards(services.catalog, services.pricing, list(asins))]
    ctx = GuardContext(language=language, catalog=services.catalog, pricing=pricing or services.pricing,
                       competitors=[], products=products, document_text=documents)
    return await stage_price_accuracy(text, ctx)


# --- single product, formats -------------------------------------------------------------------

async def test_correct_price_untouched(services):
    text, rec = await _run(services, "Berserk Vol. 1 is $12.99 and in stock.", [BERSERK1_EN])
    assert text == "Berserk Vol. 1 is $12.99 and in stock." and rec.action == "none"


@pytest.mark.parametrize("written", ["$3.50", "3.50 USD", "USD 3.50", "US$3.50", "3.50 dollars"])
async def test_wrong_amount_rewritten_in_every_format(services, written):
    text, rec = await _run(services, f"Berserk Vol. 1 is {written} right now.", [BERSERK1_EN])
    assert "$12.99" in text and "3.50" not in text and rec.action == "modified"


async def test_priced_at_bare_number(services):
    text, _ = await _run(services, "Berserk Vol. 1 is priced at 4.99 this month.", [BERSERK1_EN])
    assert "4.99" not in text and "$12.99" in text


async def test_yen_for_ja_edition_kept(services):
    text, rec = await _run(services, "ベルセルク 1巻は¥990です。", [BERSERK1_JA], "ja")
    assert "¥990" in text and rec.action == "none"


@pytest.mark.parametrize("written", ["1,320円", "¥1,320", "1320円", "JPY 1320", "１３２０円"])
async def test_wrong_yen_rewritten(services, written):
    text, _ = await _run(services, f"ベルセルク 1巻は{written}です。", [BERSERK1_JA], "ja")
    assert "¥990" in text and "1,320" not in text and "1320" not in text


async def test_yen_for_english_edition_removed_and_flagged(services):
    text, rec = await _run(services, "Berserk Vol. 1 costs ¥990 today.", [BERSERK1_EN])
    assert "¥" not in text and any("yen amount for a non-JA edition" in d for d in rec.details)
    assert PRICE_NOTE["en"] in text


async def test_dollars_for_japanese_edition_removed_and_flagged(services):
    text, rec = await _run(services, "ベルセルク 1巻は$9.00です。", [BERSERK1_JA], "ja")
    assert "$" not in text and any("dollar amount for a JA edition" in d for d in rec.details)


async def test_digital_hint_picks_the_digital_price(services):
    text, _ = await _run(services, "The digital Berserk Vol. 1 is $1.00.", [BERSERK1_EN, BERSERK1_EN_DIGITAL])
    assert "$7.99" in text


async def test_digital_price_is_a_valid_amount(services):
    text, rec = await _run(services, "Berserk Vol. 1: print $12.99, digital $7.99.", [BERSERK1_EN, BERSERK1_EN_DIGITAL])
    assert rec.action == "none" and "$7.99" in text


# --- sale vs list price ------------------------------------------------------------------------

async def test_sale_price_passes(services):
    text, rec = await _run(services, "A Sign of Affection Vol. 1 is $7.69 (down from $10.99, 30% off).", [SIGN1_EN])
    assert rec.action == "none", rec.details


async def test_list_price_with_cue_passes(services):
    _, rec = await _run(services, "A Sign of Affection Vol. 1 has a list price of $10.99.", [SIGN1_EN])
    assert rec.action == "none"


async def test_list_price_claimed_as_current_is_rewritten(services):
    text, rec = await _run(services, "A Sign of Affection Vol. 1 is $10.99 today.", [SIGN1_EN])
    assert "$7.69" in text and "$10.99" not in text and rec.action == "modified"


async def test_was_now_pair_passes(services):
    _, rec = await _run(services, "A Sign of Affection Vol. 1 was $10.99, now $7.69.", [SIGN1_EN])
    assert rec.action == "none"


async def test_wrong_list_price_rewritten_to_list(services):
    text, _ = await _run(services, "A Sign of Affection Vol. 1 is $7.69, regularly $15.00.", [SIGN1_EN])
    assert "$10.99" in text and "$15.00" not in text


async def test_japanese_sale_and_list_price(services):
    _, rec = await _run(services, "恋せよまやかし 1巻は¥370（通常 ¥528、30%オフ）です。", [SIGN1_JA], "ja")
    assert rec.action == "none", rec.details


# --- discounts ---------------------------------------------------------------------------------

async def test_real_discount_kept(services):
    text, rec = await _run(services, "A Sign of Affection Vol. 1 is $7.69, 30% off this week.", [SIGN1_EN])
    assert "30% off" in text and rec.action == "none"


async def test_invented_discount_phrase_removed_price_kept(services):
    text, rec = await _run(services, "Berserk Vol. 1 is $12.99, 50% off!", [BERSERK1_EN])
    assert "50%" not in text and "$12.99" in text and any("invented discount" in d for d in rec.details)


async def test_invented_discount_sentence_removed(services):
    text, _ = await _run(services, "Berserk Vol. 1 is $12.99. It is 25% off this week! Enjoy.", [BERSERK1_EN])
    assert "25%" not in text and "$12.99" in text and "Enjoy." in text


async def test_invented_half_price_removed_japanese(services):
    text, _ = await _run(services, "ベルセルク 1巻は¥990です。今なら半額セール中！", [BERSERK1_JA], "ja")
    assert "半額" not in text and "¥990" in text


async def test_wari_discount_matches_promotion(services):
    _, rec = await _run(services, "1巻は¥370、3割引です。", [SIGN1_JA], "ja")
    assert rec.action == "none"


async def test_wrong_percentage_for_promoted_product(services):
    text, _ = await _run(services, "A Sign of Affection Vol. 1 is $7.69, 40% off.", [SIGN1_EN])
    assert "40%" not in text and "$7.69" in text


# --- several products --------------------------------------------------------------------------

async def test_two_products_both_right(services):
    text = "Berserk Vol. 1 is $12.99 and Monster Vol. 1 is $14.99."
    out, rec = await _run(services, text, [BERSERK1_EN, MONSTER1_EN])
    assert out == text and rec.action == "none"


async def test_two_products_prices_swapped(services):
    out, _ = await _run(services, "Berserk Vol. 1 is $14.99 and Monster Vol. 1 is $12.99.", [BERSERK1_EN, MONSTER1_EN])
    assert out.index("$12.99") < out.index("Monster") < out.index("$14.99")


async def test_comparative_sentence(services):
    out, _ = await _run(services, "Monster Vol. 1 ($20.00) costs more than Berserk Vol. 1 ($2.00).", [BERSERK1_EN, MONSTER1_EN])
    assert "($14.99)" in out and "($12.99)" in out


async def test_amount_before_its_product_in_the_sentence(services):
    out, _ = await _run(services, "For just $1.00 you get Monster Vol. 1.", [MONSTER1_EN])
    assert "$14.99" in out and "$1.00" not in out


async def test_store_id_mention_ties_amount(services):
    out, _ = await _run(services, f"{MONSTER1_EN} costs $3.00.", [BERSERK1_EN, MONSTER1_EN])
    assert "$14.99" in out


async def test_several_products_several_prices_mixed_currencies(services):
    text = "Berserk Vol. 1 is $12.99 (JA edition ¥990). Monster Vol. 1 is $14.99 and the JA edition is ¥700."
    out, rec = await _run(services, text, [BERSERK1_EN, BERSERK1_JA, MONSTER1_EN, MONSTER1_JA])
    assert "¥748" in out and "¥700" not in out and "¥990" in out and len(rec.details) == 1


async def test_series_outside_context_is_quoted(services):
    out, rec = await _run(services, "By the way, Monster Vol. 1 is $14.99.", [BERSERK1_EN])
    assert rec.action == "none" and "$14.99" in out
    out, _ = await _run(services, "By the way, Monster Vol. 1 is $2.00.", [BERSERK1_EN])
    assert "$14.99" in out


# --- ungrounded, documented, non-prices ----------------------------------------------------------

async def test_ungrounded_amount_removed_with_note(services):
    out, rec = await _run(services, "Our mystery box is $49.99.", [])
    assert "$49.99" not in out and PRICE_NOTE["en"] in out and rec.action == "modified"


async def test_documented_amount_kept(services):
    out, rec = await _run(services, "Standard shipping costs $4.99.", [BERSERK1_EN],
                          documents="Standard Shipping costs $4.99 and arrives in 5–7 days.")
    assert "$4.99" in out and rec.action == "none"


async def test_order_numbers_and_isbns_are_not_prices(services):
    text = "Order MA-10023 contains ISBN 9784088820781, volume 12 of 30."
    out, rec = await _run(services, text, [BERSERK1_EN])
    assert out == text and rec.action == "none"


# --- timeouts ----------------------------------------------------------------------------------

async def test_timeout_removes_every_price(services):
    out, rec = await _run(services, "Berserk Vol. 1 is $12.99. Monster Vol. 1 is $14.99. Both ship fast.",
                          [BERSERK1_EN, MONSTER1_EN], pricing=_Slow(services.catalog, 0.5))
    assert "$" not in out and PRICE_NOTE["en"] in out and "Both ship fast." in out
    assert rec.details[0].startswith("pricing_timeout")


async def test_timeout_note_in_japanese(services):
    out, _ = await _run(services, "ベルセルク 1巻は¥990です。", [BERSERK1_JA], "ja", pricing=_Slow(services.catalog, 0.5))
    assert "¥" not in out and PRICE_NOTE["ja"] in out


async def test_slow_but_in_time_pricing_is_used(services):
    out, rec = await _run(services, "Berserk Vol. 1 is $1.00.", [BERSERK1_EN], pricing=_Slow(services.catalog, 0.02))
    assert "$12.99" in out and "pricing_timeout" not in " ".join(rec.details)
