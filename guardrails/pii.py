"""PII redaction with typed placeholders, for shopper input and model output alike."""

from __future__ import annotations

import re
import unicodedata

_DIGIT_DASH = re.compile(r"(?<=\d)[\u2010-\u2015\u2212\u30fc\uff70](?=\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![A-Za-z0-9-])(?:\d[ -]?){12,18}\d(?![A-Za-z0-9-])")
_PHONE = re.compile(
    r"(?<![A-Za-z0-9-])(?:"
    r"\+?1[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}"  # US with country code
    r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}"  # US
    r"|\+81[ -]?\d{1,4}[ -]?\d{1,4}[ -]?\d{4}"  # Japan, international form
    r"|0\d{1,4}-\d{1,4}-\d{4}"  # Japan, domestic with hyphens
    r"|0[5789]0\d{8}"  # Japanese mobile without separators
    r")(?![A-Za-z0-9-])"
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum card numbers carry (order numbers and ISBNs mostly fail it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_pii(text: str) -> tuple[str, list[str]]:
    """Replace emails, card numbers and phone numbers by `[EMAIL]`, `[CARD]`, `[PHONE]`.

    Full-width digits and letters are folded first (NFKC), so `０９０-１２３４-５６７８` is caught.
    Returns the redacted text and the kinds found.
    """
    text = unicodedata.normalize("NFKC", text)
    # Dashes between digits come in many code points (minus sign, long vowel mark, en dash).
    text = _DIGIT_DASH.sub("-", text)
    kinds: list[str] = []

    def card(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            kinds.append("card")
            return "[CARD]"
        return match.group()

    def sub(kind: str, placeholder: str) -> "callable[[re.Match[str]], str]":  # type: ignore[valid-type]
        def repl(match: re.Match[str]) -> str:
            kinds.append(kind)
            return placeholder
        return repl

    text = _EMAIL.sub(sub("email", "[EMAIL]"), text)
    text = _CARD.sub(card, text)
    text = _PHONE.sub(sub("phone", "[PHONE]"), text)
    return text, sorted(set(kinds))
