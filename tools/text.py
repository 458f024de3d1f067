"""Text normalisation, language detection and tokenisation shared by every matcher and index."""

from __future__ import annotations

import re
import unicodedata

_KANA = re.compile(r"[\u3040-\u30ff]")
# Kana or kanji: a name or word written in Japanese.
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[a-z]{2,}")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffー]+")
_CJK_RUN = re.compile(r"^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffー]+$")
_HIRAGANA_OFFSET = ord("ァ") - ord("ぁ")

EN_STOPWORDS = frozenset(
    """a an the and or of to in on for with is are was were be been am do does did i me my we our you
    your it its this that these those there here what which who whom how can could would should will
    please any some about from by at as into than then so if not no yes just also very really too
    have has had get got want need like looking look find show tell give me manga manga's comic comics
    series book books""".split()
)


def normalize(text: str) -> str:
    """NFKC-fold (full-width digits and letters become ASCII), lowercase, collapse spaces."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", folded).strip()


def katakana_to_hiragana(text: str) -> str:
    """Fold katakana to hiragana so either spelling of a reading matches."""
    return "".join(
        chr(ord(ch) - _HIRAGANA_OFFSET) if "ァ" <= ch <= "ヶ" else ch for ch in text
    )


def detect_language(text: str) -> str:
    """Return "ja" when the message is written in Japanese, else "en".

    Kana is decisive; kanji alone counts as Japanese unless English words dominate
    (an English sentence quoting a Japanese title stays English).
    """
    if _KANA.search(text):
        latin_words = len(_LATIN_WORD.findall(normalize(text)))
        kana_chars = len(_KANA.findall(text))
        return "en" if latin_words >= 4 and kana_chars <= 6 and latin_words * 3 > kana_chars else "ja"
    cjk = len(_CJK.findall(text))
    if cjk == 0:
        return "en"
    latin_words = len(_LATIN_WORD.findall(normalize(text)))
    return "ja" if latin_words < 3 or cjk >= latin_words * 2 else "en"


def stem(word: str) -> str:
    """`word` without a plural ending ("mysteries" -> "mystery", "titans" -> "titan")."""
    # A light plural fold is enough for titles and genre words; a full stemmer mangles names.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Tokens for lexical matching: English words (light-stemmed) and CJK character bigrams.

    CJK runs become overlapping bigrams (plus the lone character for one-character runs),
    the usual way to index Japanese without a morphological analyser.
    """
    out: list[str] = []
    for tok in _TOKEN.findall(katakana_to_hiragana(normalize(text))):
        if _CJK_RUN.match(tok):
            if len(tok) == 1:
                out.append(tok)
            else:
                out.extend(tok[i : i + 2] for i in range(len(tok) - 1))
        elif keep_stopwords or tok not in EN_STOPWORDS:
            out.append(stem(tok))
    return out


def compact(text: str) -> str:
    """Normalised text with punctuation and spaces removed, for title matching across spellings."""
    folded = katakana_to_hiragana(normalize(text))
    return re.sub(r"[\s\W_]+", "", folded)


def one_edit_apart(a: str, b: str) -> bool:
    """Whether `a` becomes `b` by one insertion, deletion, substitution or adjacent swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((k for k in range(len(a)) if a[k] != b[k]), len(a))
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    swapped = a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :]
    return a[i + 1 :] == b[i + 1 :] or swapped


def one_letter_dropped(word: str) -> set[str]:
    """`word` and every string it gives with one letter left out.

    Two words one edit apart share one of these, so an index of them finds near-misses by look-up.
    """
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}
