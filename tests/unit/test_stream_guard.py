"""The inline stream guard and the turn framer, on real guard patterns and the real graph."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.stream import COMPETITOR_MASK, StreamGuard, mask
from mangaassist.settings import get_settings
from server.frames import (
    AckFrame,
    CorrectionFrame,
    FinalFrame,
    RatedTurnResult,
    TokenFrame,
    TurnFramer,
    framed_turn,
)

COMPETITORS = get_settings().competitors
ANSWERS = [
    "You can also buy Berserk Vol. 1 at Amazon for less, or mail aiko.tanaka@example.com. Call 090-1234-5678!",
    "楽天やメルカリでも買えますが、当店ならフリーレン 1巻が594円です。お問い合わせは support@example.jp まで。",
    "Visit 123 Main Street, Springfield, IL 62704 or call (415) 555-0132. Kinokuniya has it too.",
]


def _stream(text: str, cuts: list[int]) -> list[str]:
    guard = StreamGuard(COMPETITORS)
    bounds = [0, *sorted(set(cuts)), len(text)]
    sent = [guard.feed(text[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return [*sent, guard.flush()]


@pytest.mark.parametrize("text", ANSWERS)
def test_every_two_chunk_split_masks_like_the_whole_text(text):
    whole = mask(text, COMPETITORS)
    for leaked in ("Amazon", "楽天", "メルカリ", "Kinokuniya", "example.", "5678", "0132", "Main Street"):
        assert leaked not in whole
    for cut in range(1, len(text)):
        assert "".join(_stream(text, [cut])) == whole, cut


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ANSWERS), st.lists(st.integers(min_value=1, max_value=120), max_size=12))
def test_any_chunking_masks_like_the_whole_text(text, cuts):
    assert "".join(_stream(text, [c for c in cuts if c < len(text)])) == mask(text, COMPETITORS)


def test_clean_text_streams_as_it_comes():
    text = "Frieren is a gentle fantasy about time and memory; volume one is a lovely start."
    sent = _stream(text, list(range(4, len(text), 4)))
    assert "".join(sent) == text
    # Only a short tail is held back: most chunks go out before the end of the answer.
    assert sum(1 for piece in sent[:-1] if piece) >= len(text) // 4 // 2


def test_competitor_name_split_over_three_chunks():
    guard = StreamGuard(COMPETITORS)
    sent = [guard.feed("Also at Ama"), guard.feed("zo"), guard.feed("n and BookW"), guard.feed("alker."), guard.flush()]
    assert sent[0] == "Also at "
    assert "".join(sent) == f"Also at {COMPETITOR_MASK} and {COMPETITOR_MASK}."


def test_held_tail_is_forgotten_on_reset():
    guard = StreamGuard(COMPETITORS)
    assert guard.feed("mail me at aiko") == "mail me at "
    guard.reset()
    assert guard.feed("Hello there.") + guard.flush() == "Hello there."


def _final(text: str, **extra) -> dict:
    return {"type": "final", "result": {
        "request_id": "r1", "session_id": "s1", "intent": "product_question", "intent_confidence": 0.9,
        "language": "en", "text": text, **extra,
    }}


def test_framer_numbers_frames_and_needs_no_correction_for_the_streamed_answer():
    framer = TurnFramer("r1", StreamGuard(COMPETITORS))
    frames = []
    for event in [{"type": "reset"}, {"type": "token", "delta": "Frieren is "}, {"type": "token", "delta": "lovely. "},
                  _final("Frieren is lovely.")]:
        frames += framer.feed(event)
    assert [f.seq for f in frames] == list(range(1, len(frames) + 1))
    assert {f.request_id for f in frames} == {"r1"}
    assert isinstance(frames[-1], FinalFrame)
    assert not any(isinstance(f, CorrectionFrame) for f in frames)
    assert "".join(f.delta for f in frames if isinstance(f, TokenFrame)) == "Frieren is lovely. "


def test_framer_sends_a_correction_when_the_guarded_answer_differs():
    framer = TurnFramer("r1", StreamGuard(COMPETITORS))
    frames = framer.feed({"type": "token", "delta": "Buy it at Amazon. Frieren is lovely."})
    frames += framer.feed(_final("Frieren is lovely."))
    streamed = "".join(f.delta for f in frames if isinstance(f, TokenFrame))
    assert streamed == f"Buy it at {COMPETITOR_MASK}. Frieren is lovely."
    kinds = [f.type for f in frames]
    assert kinds[-2:] == ["correction", "final"]
    assert frames[-2].text == "Frieren is lovely."


def test_fallback_after_shown_text_stops_tokens_and_corrects():
    framer = TurnFramer("r1", StreamGuard(COMPETITORS))
    frames = framer.feed({"type": "reset", "tier": "primary"})
    frames += framer.feed({"type": "token", "delta": "Frieren is a gen"})
    frames += framer.feed({"type": "reset", "tier": "secondary"})
    frames += framer.feed({"type": "token", "delta": "From the secondary model."})
    frames += framer.feed(_final("From the secondary model."))
    assert [f.type for f in frames] == ["token", "correction", "final"]
    assert frames[1].text == "From the secondary model."


def test_protocol_2_acks_and_rates_cards(services):
    product = services.catalog.volume("frieren-beyond-journeys-end", 1, "print", "EN")
    card = {"asin": product.asin, "title": "Frieren, Vol. 1", "title_ja": "葬送のフリーレン 1巻", "authors": [],
            "genres": [], "format": "print", "language": "EN", "price": 9.99, "currency": "USD", "in_stock": True,
            "series_id": product.series_id}
    framer = TurnFramer("r1", StreamGuard(COMPETITORS), services.catalog)
    frames = [framer.ack(), *framer.feed(_final("Here it is.", products=[card]))]
    assert isinstance(frames[0], AckFrame) and frames[0].seq == 1
    final = frames[-1]
    assert isinstance(final.result, RatedTurnResult)
    reviews = [r.rating for r in services.catalog.reviews[product.series_id]]
    assert final.result.products[0].rating.count == len(reviews) > 0
    assert final.result.products[0].rating.average == round(sum(reviews) / len(reviews), 1)


@pytest.mark.parametrize("message", ["tell me about Frieren", "フリーレンについて教えて"])
async def test_real_turn_frames_match_the_answer(runner, message):
    framer = TurnFramer("req-1", StreamGuard(COMPETITORS))
    async with aclosing(framed_turn(runner, framer, message, session_id="s-frames", user_id=None,
                                    context_hints=None)) as frames:
        got = [f async for f in frames]
    final = got[-1]
    assert isinstance(final, FinalFrame) and final.result.request_id == "req-1"
    assert [f.seq for f in got] == list(range(1, len(got) + 1))
    tokens = [f for f in got if isinstance(f, TokenFrame)]
    assert len(tokens) > 1 and "".join(t.delta for t in tokens).strip() == final.result.text


async def test_a_turn_cut_short_leaves_no_trace(runner):
    config = {"configurable": {"thread_id": "s-cut"}}
    await runner.run("tell me about Frieren", session_id="s-cut")
    before = (await runner.graph.aget_state(config)).values["messages"]

    framer = TurnFramer("req-cut", StreamGuard(COMPETITORS))
    frames = framed_turn(runner, framer, "how much is Berserk volume 1?", session_id="s-cut", user_id=None,
                         context_hints=None)
    assert isinstance(await anext(frames), TokenFrame)
    # By now the shopper's message is in a checkpoint; closing the stream early must take it back.
    await frames.aclose()

    after = await runner.graph.aget_state(config)
    assert not after.next
    assert [m.id for m in after.values["messages"]] == [m.id for m in before]
    assert not await runner.discard_unfinished_turn("s-cut", "req-cut")  # nothing left to undo

    result = await runner.run("how much is Berserk volume 1?", session_id="s-cut")
    assert result.intent == "price_check"
    final = (await runner.graph.aget_state(config)).values["messages"]
    assert len(final) == len(before) + 2


async def test_cancelling_the_consumer_task_also_discards(runner):
    config = {"configurable": {"thread_id": "s-cancel"}}
    started = asyncio.Event()

    async def consume() -> None:
        framer = TurnFramer("req-x", StreamGuard(COMPETITORS))
        async with aclosing(framed_turn(runner, framer, "recommend horror manga", session_id="s-cancel",
                                        user_id=None, context_hints=None)) as frames:
            async for _ in frames:
                started.set()
                await asyncio.sleep(3600)

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    state = await runner.graph.aget_state(config)
    assert not state.next and state.values.get("messages", []) == []
