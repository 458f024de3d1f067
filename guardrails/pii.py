"""PII redaction with typed placeholders, for shopper input and model output alike.

`[EMAIL]`, `[PHONE]` (US and Japanese forms), `[CARD]` (Luhn-checked, so order numbers and ISBNs
stay), `[ADDRESS]` (US street addresses, Japanese addresses by prefecture/city/ward and block
numbers, 〒 postal codes). Full-width digits, letters and dashes are folded first.
"""

from __future__ import annotations

import re
import unicodedata

_DIGIT_DASH = re.compile(r"(?<=\d)\s?[\u2010-\u2015\u2212\u30fc\uff70\u2043\ufe63\uff0d]\s?(?=\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+\s?(?:@|\(at\)|\[at\])\s?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![A-Za-z0-9-])(?:\d[ -]?){12,18}\d(?![A-Za-z0-9-])")
_PHONE = re.compile(
    r"(?<![A-Za-z0-9-])(?:"
    r"\+?1[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}"  # US with country code
    r"|\(\d{3}\)\s?\d{3}[ .-]?\d{4}"  # US (415) 555-0132
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # US 415-555-0132
    r"|\+81[ -]?\(?0?\d{1,4}\)?[ -]?\d{1,4}[ -]?\d{4}"  # Japan, international form
    r"|0\d{1,4}-\d{1,4}-\d{3,4}"  # Japan, domestic with hyphens (incl. 0120-123-456)
    r"|0\d{1,4}\(\d{1,4}\)\d{4}"  # Japan, 03(1234)5678
    r"|0[5789]0 ?\d{4} ?\d{4}"  # Japanese mobile without separators
    r"|0\d{9}"  # Japanese landline without separators
    r")(?![A-Za-z0-9-])"
)
_STREET_SUFFIX = (r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
                  r"terrace|ter|parkway|pkwy|circle|cir|highway|hwy|square|sq|trail|trl)")
# Words no street is named by, that a sentence puts between a number and "place", "way" or "court":
# "within 30 days of delivery and place a new order", "2 volumes on the way".
_NOT_STREET_WORD = (r"(?:of|and|or|the|a|an|to|for|in|on|at|by|with|within|from|days?|weeks?|months?|years?"
                    r"|hours?|minutes?|volumes?|vols?|items?|books?|copies|orders?|business)\b")
_EN_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:(?!{_NOT_STREET_WORD})[A-Za-z][A-Za-z'.]*\s+){{1,4}}"
    rf"{_STREET_SUFFIX}\b\.?"
    r"(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
    r"(?:,?\s*(?:apt|apartment|suite|ste|unit|#|fl|floor)\.?\s*#?\s*[A-Za-z0-9-]+)?"
    r"(?:,\s*[A-Za-z]+(?:\s[A-Za-z]+){0,2})?(?:,?\s*[A-Z]{2}\b)?(?:\s+\d{5}(?:-\d{4})?)?",
    re.I,
)
_US_CITY_ZIP = re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")
_PREFECTURE = r"(?:東京都|北海道|京都府|大阪府|[\u4e00-\u9fff]{2,3}県)"
_JA_LOCALITY = r"[\u4e00-\u9fff\u3040-\u30ff]{1,8}?(?:市|区|町|村|郡)"
_JA_BLOCK = r"[\u4e00-\u9fff\u3040-\u30ff]{0,8}?\d+(?:\s?(?:丁目|番地|番|号|-|の)\s?\d+){1,3}(?:号|番地?)?"
_JA_ADDRESS = re.compile(
    rf"(?:〒\s?\d{{3}}-?\d{{4}}\s*)?(?:{_PREFECTURE}(?:{_JA_LOCALITY}){{0,3}}|(?:{_JA_LOCALITY}){{1,3}}){_JA_BLOCK}"
    r"(?:\s*[\u4e00-\u9fff\u3040-\u30ffA-Za-z]{1,15}?\s*\d{1,4}号室)?"
)
_JA_POSTCODE = re.compile(r"(?:〒|郵便番号[:：は]?\s?)\s?\d{3}-?\d{4}")


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
    """Replace emails, card numbers, phone numbers and postal addresses by typed placeholders.

    Full-width digits and letters are folded first (NFKC), so `０９０-１２３４-５６７８` is caught.
    Returns the redacted text and the kinds found.
    """
    text = unicodedata.normalize("NFKC", text)
    # Dashes between digits come in many code points (minus sign, long vowel mark, en dash).
    text = _DIGIT_DASH.sub("-", text)
    kinds: list[str] = []

    def card(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and not digits.startswith(("978", "979")):
            kinds.append("card")
            return "[CARD]"
        return match.group()

    def sub(kind: str, placeholder: str):  # type: ignore[no-untyped-def]
        def repl(match: re.Match[str]) -> str:
            kinds.append(kind)
            return placeholder
        return repl

    text = _EMAIL.sub(sub("email", "[EMAIL]"), text)
    text = _CARD.sub(card, text)
    text = _JA_ADDRESS.sub(sub("address", "[ADDRESS]"), text)
    text = _JA_POSTCODE.sub(sub("address", "[ADDRESS]"), text)
    text = _EN_ADDRESS.sub(sub("address", "[ADDRESS]"), text)
    text = _US_CITY_ZIP.sub(sub("address", "[ADDRESS]"), text)
    text = _PHONE.sub(sub("phone", "[PHONE]"), text)
    return text, sorted(set(kinds))
