"""Indirect injection: store data (catalog synopses, reviews, FAQ/policy text, order notes) reaches a
prompt only inside `<product_data>`-style fences, and anything in it that reads as an instruction to
the assistant is neutralised first.

`neutralize` removes fence tags smuggled into the data (so a review cannot close `</product_data>`
and speak as the system) and replaces each sentence the injection detector flags by a marker.
"""

from __future__ import annotations

import re
from functools import lru_cache

from guardrails.injection import detect_injection

MARKER = "[instruction removed]"
_FENCE_TAG = re.compile(
    r"<\s*/?\s*(?:product_data|order_data|policy_data|conversation_summary|system|assistant|user|instructions?|"
    r"prompt|im_start|im_end|sys)\s*>|<\|[a-z_]+\|>|\[/?(?:inst|sys|system)\]",
    re.I,
)
_SENTENCE = re.compile(r"[^.!?。！？\n]+(?:[.!?。！？]+|\n|$)")


@lru_cache(maxsize=8192)
def neutralize(text: str) -> str:
    """The data text with fence tags removed and instruction-like sentences replaced by a marker."""
    if not text:
        return text
    text = _FENCE_TAG.sub(" ", text)
    if not detect_injection(text).score:
        return text
    parts = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group()
        parts.append(f"{MARKER} " if detect_injection(sentence).score >= 0.6 else sentence)
    return "".join(parts).strip()


def fence(tag: str, body: str) -> str:
    """Wrap neutralised data in its fence, e.g. `fence("product_data", text)`."""
    return f"<{tag}>\n{neutralize(body)}\n</{tag}>"
