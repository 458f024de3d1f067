"""Text normalisation, language detection and tokenisation shared by every matcher and index."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable

_KANA = re.compile(r"[\u3040-\u30ff]")
# Kana or kanji: a name or word written in Japanese.
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[a-z]{2,}")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffー]+")
_CJK_RUN = re.compile(r"^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffー]+$")
# One script within a Japanese run: katakana, hiragana or kanji.
_SCRIPT_SEGMENT = re.compile(r"[\u30a0-\u30ff]+|[\u3040-\u309f]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HIRAGANA = re.compile(r"^[\u3040-\u309f]+$")
# Case particles: after a kanji word, no verb ending ("予約を").
PARTICLES = frozenset("をがはのにでともへや")
# Pairs of hiragana that are grammar, not content: verb and adjective endings, polite forms,
# requests and particles run together ("して", "された", "もらえますか", "ください", "には").
# Counted over a whole index of mostly English and volume entries they look rare, so they
# outscored a story's own words: "猫が主役のほのぼのした漫画、娘にあげたいです" matched reviews on
# "した", "たい" and "です".
_JA_GRAMMAR = frozenset(
    """して てい する った され いく した って から れる いた れた られ しま とし ます ない すか
    にな れて がら なが とな ある なる まれ っと なり でき せん いる によ りま らい きま ると
    とも には める めて ませ ける です でし まし たい ので のは では でも など まで より なっ
    てる てた とい いう ょう しょ だっ だか だと けど けれ れど ども ても もら らえ えま えて くだ
    ださ さい ござ ざい いま""".split()
)
# One kanji (CJK ideograph), wherever it stands.
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANJI = re.compile(rf"^{KANJI.pattern}+$")
_HIRAGANA_OFFSET = ord("ァ") - ord("ぁ")
# Where a sentence ends, in English or Japanese: split on it to get sentences.
SENTENCE_BREAK = re.compile(r"(?<=[.!?。！？])\s*")

EN_STOPWORDS = frozenset(
    """a an the and or of to in on for with is are was were be been am do does did i me my we our you
    your it its this that these those there here what which who whom how can could would should will
    please any some about from by at as into than then so if not no yes just also very really too
    have has had get got want need like looking look find show tell give me manga manga's comic comics
    series book books he him his himself she her hers herself they them their theirs themselves us""".split()
)

# What a shopper asks for and how they judge it, not what a story is about. Reviews are full of
# these words and catalog entries hardly use them, so BM25 rates them rare and telling and they pull
# reviews of unrelated series up; they are dropped from queries and documents alike.
EN_FILLER = frozenset(
    """something anything stuff thing things kind sort good great best nice cool awesome amazing fun
    interesting favorite favourite story stories recommend recommendation recommendations
    suggest suggestion suggestions protagonist protagonists mc heroine heroines""".split()
)
# The same for Japanese ("manga", "works", "interesting", "recommended", "I want to read", "appears").
# "漫画家" (a manga artist) is a word of its own: without it, "漫画家が主人公の漫画" searched for "家".
_JA_FILLER = re.compile(
    "|".join(
        sorted(
            """漫画(?!家) まんが(?!家) マンガ(?!家) 作品 面白い おもしろい 面白そう 楽しい おすすめ オススメ
            お勧め 人気 名作 読みたい 読める 探してる 探して 教えて ください ありますか 出てくる 登場する
            主人公 主役 ヒロイン とか""".split(),
            key=len, reverse=True,
        )
    )
)


def _plain_latin(ch: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if len(base) == 1 and base.isascii() else ch


# Accented Latin letters as shoppers type them: "Pokémon" is "pokemon", "Nausicaä" "nausicaa",
# "Yūki" "yuki". One letter for one, so spans in the folded text are spans in the original.
_ACCENTS = {
    ord(ch): plain
    for ch in map(chr, [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)])
    if (plain := _plain_latin(ch)) != ch
}


def normalize(text: str) -> str:
    """NFKC-fold (full-width digits and letters become ASCII), lowercase, drop Latin accents,
    collapse spaces."""
    folded = unicodedata.normalize("NFKC", text).lower().translate(_ACCENTS)
    return re.sub(r"\s+", " ", folded).strip()


def katakana_to_hiragana(text: str) -> str:
    """Fold katakana to hiragana so either spelling of a reading matches."""
    return "".join(
        chr(ord(ch) - _HIRAGANA_OFFSET) if "ァ" <= ch <= "ヶ" else ch for ch in text
    )


def words_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Any of `words` in normalised text: Latin ones as whole words ("bl漫画" too), Japanese anywhere."""
    return re.compile("|".join(
        rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])" if w.isascii() else re.escape(w) for w in words
    ))


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


def message_size(text: str) -> tuple[int, int]:
    """How long a message is: its Latin words and its CJK characters."""
    folded = normalize(text)
    return len(_LATIN_WORD.findall(folded)), len(_CJK.findall(folded))


# A message this long tells a story ("a doctor saves a boy who grows up to be a killer"): its genre
# words ("doctor" reads as medical) describe the story, they do not ask for a kind of series.
_STORY_WORDS = 8
_STORY_CHARS = 16


def describes_a_story(text: str) -> bool:
    """Whether a message is long enough to tell a story rather than ask for a kind of series."""
    words, chars = message_size(text)
    return words >= _STORY_WORDS or chars >= _STORY_CHARS


def singular(word: str) -> str:
    """`word` without a plural ending ("mysteries" -> "mystery", "titans" -> "titan")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _undoubled(base: str) -> str:
    # "running" -> "runn" -> "run"; "killing" keeps its "ll" ("kill"), as "kisses" its "ss".
    return base[:-1] if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz" else base


# "-ing" words that are words of their own, not a form of a shorter one ("boxing" is no "box").
_ING_WORDS = frozenset(
    "anything boxing ceiling darling during evening everything morning nothing pudding sibling "
    "something spring string viking wedding".split()
)


def stem(word: str) -> str:
    """`word` with its plural, "-ing" and "-ed" endings and a final "e" folded away.

    The forms of one word meet: "refuses", "refusing", "refused" -> "refus"; "wanders",
    "wandering" -> "wander".

    Light on purpose: it only cuts endings, and only from words long enough to keep a stem ("need",
    "ping" and "dying" stay whole; "boxing" is a word of its own). A document and a query always
    pass through the same folding, so a cut stem ("blu") is harmless.
    """
    word = singular(word)
    if len(word) >= 6 and word.endswith("ing") and word not in _ING_WORDS:
        word = _undoubled(word[:-3])
    elif len(word) >= 5 and word.endswith("ed") and not word.endswith("eed"):
        word = _undoubled(word[:-2])
    if len(word) > 3 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word


def _japanese_terms(run: str, keep_stopwords: bool) -> list[str]:
    """Character bigrams of a Japanese run, within each stretch of one script.

    A bigram across a change of script mostly glues a particle or verb ending to a word ("が出",
    "る漫"), which is grammar, not content; so is a lone hiragana character. The one kept is a kanji
    stretch with the kana written after it ("取り", "消し"): that is how verbs and compounds are
    spelt, and without it "取り消し" would share only single kanji with itself in other sentences.
    A case particle after a kanji ("予約を") is not such an ending.
    """
    if not keep_stopwords:
        run = _JA_FILLER.sub(" ", run)
    out: list[str] = []
    for m in _SCRIPT_SEGMENT.finditer(run):
        seg = katakana_to_hiragana(m.group())
        if len(seg) > 1:
            pairs = (seg[i : i + 2] for i in range(len(seg) - 1))
            hiragana = not keep_stopwords and seg == m.group() and _HIRAGANA.match(seg)
            out.extend(p for p in pairs if not (hiragana and p in _JA_GRAMMAR))
        elif keep_stopwords or not _HIRAGANA.match(m.group()):
            out.append(seg)
        after = run[m.end() : m.end() + 1]
        if _KANJI.match(seg) and _HIRAGANA.match(after) and after not in PARTICLES:
            out.append(seg[-1] + after)
    return out


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Tokens for lexical matching: English words (`stem`) and CJK character bigrams.

    CJK runs become overlapping bigrams (plus the lone character of a one-character stretch),
    the usual way to index Japanese without a morphological analyser. Stop words and filler words
    are dropped unless `keep_stopwords`.
    """
    out: list[str] = []
    for tok in _TOKEN.findall(normalize(text)):
        if _CJK_RUN.match(tok):
            out.extend(_japanese_terms(tok, keep_stopwords))
        elif keep_stopwords or (tok not in EN_STOPWORDS and tok not in EN_FILLER):
            out.append(stem(tok))
    return out


# Where a phrase ends: two words either side of one of these are no phrase ("horror, school life").
_CLAUSE_BREAK = re.compile(r"[,.;:!?()\[\]\n、。！？（）「」]")


def search_terms(text: str) -> list[str]:
    """`tokenize`'s terms plus each pair of neighbouring English words within a clause.

    A pair is a phrase the lexical leg can match whole: "transported to another world" then
    outscores a title that only holds "another", and "death game" a synopsis with "death" in one
    sentence and "game" in the next. (Japanese bigrams already keep their characters' order.)
    """
    terms: list[str] = []
    # A clause break is never inside a term, so the clauses' terms are the text's.
    for clause in _CLAUSE_BREAK.split(text):
        clause_terms = tokenize(clause)
        words = [t for t in clause_terms if t.isascii()]
        terms += clause_terms
        terms += [f"{a}_{b}" for a, b in itertools.pairwise(words)]
    return terms


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
