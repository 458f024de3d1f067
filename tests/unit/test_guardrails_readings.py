"""The output chain's public readings of an answer (amounts, discounts, store ids, competitors),
which the evaluation validators use so that their checks read answers as the chain does."""

from __future__ import annotations

from guardrails.output import Amount, Discount, find_amounts, find_competitors, find_discounts, find_store_ids


def test_amounts_in_dollars_and_yen_with_their_values():
    text = "Berserk Vol. 1 is $12.99 (US$ 1,012.50 for the set), or ¥1,320 in Japan; 990円 digital. It costs 7.69 now."
    assert find_amounts(text) == [
        Amount("$12.99", 12.99, "USD"),
        Amount("US$ 1,012.50", 1012.5, "USD"),
        Amount("¥1,320", 1320.0, "JPY"),
        Amount("990円", 990.0, "JPY"),
        Amount("costs 7.69", 7.69, "USD"),
    ]


def test_no_amount_in_volume_numbers_or_counts():
    assert find_amounts("Volumes 1 to 12 are out; 3 of them ship today.") == []


def test_discounts_as_whole_percentages():
    text = "Save 15% today, 20% off the box set, 2割引 for members and half price on Vol. 1."
    assert find_discounts(text) == [
        Discount("Save 15%", 15), Discount("20% off", 20), Discount("2割引", 20), Discount("half price", 50),
    ]


def test_store_ids_only_when_well_formed():
    text = "Try B05S3O3TC9 or B0SWA2TOAJ; b05s3o3tc9 and B0ABC12345X are not ids."
    assert find_store_ids(text) == ["B05S3O3TC9", "B0SWA2TOAJ"]


def test_competitors_as_written_and_ordinary_words_only_capitalised():
    names = ["Amazon", "Target", "Kinokuniya"]
    text = "It is cheaper at amazon and at Target. The target of the hunt is AMAZON's rival, Kinokuniya."
    assert find_competitors(text, names) == ["amazon", "Target", "AMAZON", "Kinokuniya"]
    assert find_competitors("Nothing to see.", names) == []
    assert find_competitors("Amazon", []) == []
