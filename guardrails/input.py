"""Input checks run before a message is routed, stored or sent to a model."""

from __future__ import annotations

import re

from pydantic import BaseModel

from guardrails import metrics
from guardrails.injection import InjectionVerdict, detect_injection
from guardrails.pii import redact_pii
from tools.text import detect_language

_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|ADDRESS)\]")

# A polite refusal in the shopper's own language (the script decides: EN, JA, ZH, KO).
REFUSALS = {
    "en": "Sorry, I can't follow instructions that try to change how I work. I'm happy to help you find manga, "
          "check prices and stock, or track an order.",
    "ja": "申し訳ありませんが、私の動作を変えようとする指示にはお応えできません。漫画探し、価格や在庫の確認、"
          "ご注文の追跡でしたら喜んでお手伝いします。",
    "zh": "抱歉，我无法执行试图改变我工作方式的指令。我很乐意帮您查找漫画、查询价格和库存，或追踪订单。",
    "ko": "죄송하지만 제 작동 방식을 바꾸려는 지시는 따를 수 없습니다. 만화 찾기, 가격과 재고 확인, "
          "주문 조회는 기꺼이 도와드리겠습니다.",
}


class InputIssue(BaseModel):
    """Why a message cannot be handled as it is."""

    code: str  # "empty" | "too_long"
    message: str


class CheckedInput(BaseModel):
    """A message after size checks, PII redaction and injection scoring."""

    text: str
    language: str
    pii: list[str]
    injection: InjectionVerdict
    issue: InputIssue | None = None

    @property
    def refusal(self) -> str:
        """The reply to an injection attempt, in the language the shopper wrote in."""
        return REFUSALS.get(self.injection.language, REFUSALS[self.language])


def size_issue(text: str, max_chars: int) -> InputIssue | None:
    """The size problem of a raw message, if any."""
    stripped = text.strip()
    if not stripped:
        return InputIssue(code="empty", message="The message is empty.")
    if len(stripped) > max_chars:
        return InputIssue(
            code="too_long",
            message=f"The message is {len(stripped)} characters long; the limit is {max_chars}.",
        )
    return None


def check_input(text: str, max_chars: int, *, record: bool = True) -> CheckedInput:
    """Run every input check; the returned text is the only form of the message kept.

    Injection scoring runs on the raw text (so PII placeholders cannot hide a payload), but only
    the verdict, never the text, leaves this function besides the redacted message.
    """
    issue = size_issue(text, max_chars)
    redacted, pii = redact_pii(text.strip())
    # The runner redacts before the graph runs, so placeholders already in the text count as found.
    pii = sorted(set(pii) | {m.lower() for m in _PLACEHOLDER.findall(redacted)})
    verdict = detect_injection(text.strip()) if issue is None else InjectionVerdict(injection=False, score=0.0, reasons=[])
    if issue is None:
        verdict.language = verdict.language if verdict.language in ("zh", "ko") else detect_language(redacted)
    checked = CheckedInput(
        text=redacted,
        language=detect_language(redacted),
        pii=pii,
        injection=verdict,
        issue=issue,
    )
    if record:
        for kind in pii:
            metrics.count("input.pii", kind)
        if verdict.injection:
            metrics.count("input.prompt_injection", verdict.language)
    return checked
