"""The inline stream guard: masks PII and competitor names in token chunks before they are sent.

The full output chain still runs on the whole answer; this guard only keeps the shopper from
seeing an email address or a rival store's name while the answer streams. A match can be split
across chunks ("Ama" + "zon", "aiko@" + "example.com"), so the guard holds back the tail of what it
has seen for as long as that tail could still be the start of a match. It asks the pattern itself,
through partial matching (`regex`), rather than guessing a fixed look-ahead length.
"""

from __future__ import annotations

from functools import lru_cache

import regex

from guardrails import pii
from guardrails.output import competitor_pattern
from guardrails.pii import redact_pii

# What replaces a competitor's name in the stream; the correction frame carries the chain's answer.
COMPETITOR_MASK = "[…]"
# PII patterns as `redact_pii` applies them; only their shapes are needed to know what to hold back.
_PII_PATTERNS = (
    pii._EMAIL, pii._CARD, pii._JA_ADDRESS, pii._JA_POSTCODE, pii._EN_ADDRESS, pii._US_CITY_ZIP, pii._PHONE,
)


@lru_cache(maxsize=8)
def _partial_patterns(competitors: tuple[str, ...]) -> tuple[regex.Pattern[str], ...]:
    patterns = [regex.compile(p.pattern, p.flags) for p in _PII_PATTERNS]
    names = competitor_pattern(list(competitors))
    if names is not None:
        patterns.append(regex.compile(names.pattern, names.flags))
    return tuple(patterns)


def mask(text: str, competitors: list[str]) -> str:
    """Redact PII (typed placeholders, as the output chain does) and mask competitor names."""
    text = redact_pii(text)[0]
    names = competitor_pattern(competitors)
    return names.sub(COMPETITOR_MASK, text) if names is not None else text


class StreamGuard:
    """Turns raw token deltas into deltas that are safe to show, holding back undecided tails.

    Args:
        competitors: Store names that must not reach the shopper.
        max_hold: The most characters held back at once; past it the oldest are released
            (masked as far as they can be), so a pathological stream still moves. The output
            chain and a correction frame cover whatever slips through that way.
    """

    def __init__(self, competitors: list[str], max_hold: int = 96) -> None:
        self._competitors = list(competitors)
        self._patterns = _partial_patterns(tuple(competitors))
        self._max_hold = max_hold
        self._pending = ""

    def _undecided_from(self, text: str) -> int:
        """Where the tail that could still grow into (or extend) a match begins."""
        cut = len(text)
        complete: list[tuple[int, int]] = []
        for pattern in self._patterns:
            for match in pattern.finditer(text, partial=True):
                if match.end() == match.start():
                    continue
                # A match reaching the end may continue ("example.co" + "m"): it is undecided too.
                if match.end() == len(text):
                    cut = min(cut, match.start())
                else:
                    complete.append((match.start(), match.end()))
        # Never release half of a finished match: "5678 to…" may be a street, but "090-1234-5678"
        # before it is a phone number and must be masked whole.
        moved = True
        while moved:
            moved = False
            for start, end in complete:
                if start < cut < end:
                    cut, moved = start, True
        return cut

    def feed(self, delta: str) -> str:
        """Add a raw delta; return the masked text that can be sent now (possibly empty)."""
        text = self._pending + delta
        cut = self._undecided_from(text)
        cut = max(cut, len(text) - self._max_hold)
        self._pending = text[cut:]
        return mask(text[:cut], self._competitors) if cut else ""

    def flush(self) -> str:
        """The end of the answer: release (masked) whatever is still held back."""
        text, self._pending = self._pending, ""
        return mask(text, self._competitors) if text else ""

    def reset(self) -> None:
        """Forget the held tail: a fallback tier is starting its answer over."""
        self._pending = ""
