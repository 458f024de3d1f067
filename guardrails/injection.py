"""Prompt-injection detection on shopper input (English and Japanese patterns plus a score)."""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel

from tools.text import katakana_to_hiragana

_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")

# (weight, pattern) — a message is an injection when its weights add up to the threshold.
_SIGNALS: tuple[tuple[float, re.Pattern[str]], ...] = (
    (1.0, re.compile(r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,30}\b(?:previous|prior|above|earlier|all|your|system|the)\b.{0,20}\b(?:instructions?|prompts?|rules?|directives?|guidelines?|programming)\b")),
    (1.0, re.compile(r"\b(?:reveal|show|print|repeat|output|tell me|give me|display|leak)\b.{0,30}\b(?:system prompt|hidden prompt|initial prompt|your instructions|your prompt|developer message|system message)\b")),
    (1.0, re.compile(r"\b(?:you are now|from now on you are|act as|pretend to be|roleplay as)\b.{0,40}\b(?:dan|jailbroken|unrestricted|unfiltered|evil|no (?:rules|limits|restrictions)|developer mode)\b")),
    (1.0, re.compile(r"\b(?:developer mode|jailbreak|dan mode|do anything now)\b")),
    (0.6, re.compile(r"\b(?:new instructions?|system override|admin override|sudo mode|god mode)\b")),
    (0.5, re.compile(r"</?(?:system|assistant|instructions?|product_data)>|\[/?inst\]|<\|im_start\|>|###\s*(?:system|instruction)")),
    (0.5, re.compile(r"\b(?:without (?:any )?(?:restrictions|filters|rules|limits)|no matter what (?:your|the) rules)\b")),
    (1.0, re.compile(r"(?:以前|前|上記|これまで|今まで|全て|すべて)の?(?:指示|命令|ルール|設定|プロンプト)を?(?:全て|すべて)?(?:無視|忘れ|破棄|リセット)")),
    (1.0, re.compile(r"(?:しすてむぷろんぷと|システムプロンプト|初期プロンプト|内部の?指示|隠された指示)を?(?:教え|見せ|表示|出力|開示|繰り返)")),
    (1.0, re.compile(r"(?:制限|ルール|フィルター?|ふぃるたー?|規則)(?:を|の)?(?:無視|解除|外し|なし)")),
    (0.6, re.compile(r"(?:あなたは|お前は|君は)?(?:今から|これから)(?:は)?.{0,20}(?:として振る舞|になりきっ|のふりをし)")),
    (1.0, re.compile(r"(?:開発者もーど|開発者モード|じぇいるぶれいく|ジェイルブレイク|脱獄)")),
)
THRESHOLD = 1.0


class InjectionVerdict(BaseModel):
    """Whether a message tries to steer the assistant, with the evidence."""

    injection: bool
    score: float
    reasons: list[str]


def canonical(text: str) -> str:
    """NFKC, zero-width characters removed, katakana folded, spacing tricks collapsed."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)).lower()
    text = katakana_to_hiragana(text)
    # "i g n o r e" -> "ignore": join runs of single letters separated by spaces or dots.
    text = re.sub(r"\b(?:[a-z][ .\-_]){3,}[a-z]\b", lambda m: re.sub(r"[ .\-_]", "", m.group()), text)
    return re.sub(r"\s+", " ", text)


def detect_injection(text: str) -> InjectionVerdict:
    """Score the message against the injection signals."""
    canon = canonical(text)
    score = 0.0
    reasons = []
    for weight, pattern in _SIGNALS:
        if m := pattern.search(canon):
            score += weight
            reasons.append(m.group()[:60])
    return InjectionVerdict(injection=score >= THRESHOLD, score=round(score, 2), reasons=reasons)
