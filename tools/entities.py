"""Entity extraction: the titles, authors, volumes, genres, editions and orders a message names."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from pydantic import BaseModel, Field

from tools.catalog import LATEST_VOLUME, Catalog
from tools.text import JAPANESE, katakana_to_hiragana, normalize, one_edit_apart, one_letter_dropped
from tools.vocab import DEMOGRAPHICS, EDITION_WORDS, FORMAT_WORDS, GENRES, NOT_MISSPELT_GENRES

_ORDER_ID = re.compile(r"(?<![a-z0-9])ma[-\s]?(\d{5})(?![0-9])", re.I)
_VOLUME_PATTERNS = (
    re.compile(r"\b(?:vol(?:ume)?s?\.?|v\.?|book|#|no\.)\s*(\d{1,3})\b"),
    re.compile(r"第?\s*(\d{1,3})\s*(?:巻|冊目)"),
    re.compile(r"\b(\d{1,3})(?:st|nd|rd|th) (?:volume|book)\b"),
)
_WORD_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1,
}
_JA_ORDINALS = (
    (re.compile(r"(?:最初|一番目|1番目|1つ目|ひとつ目|一つ目|いちばん上)"), 1),
    (re.compile(r"(?:2番目|二番目|2つ目|二つ目|ふたつ目)"), 2),
    (re.compile(r"(?:3番目|三番目|3つ目|三つ目|みっつ目)"), 3),
    (re.compile(r"(?:4番目|四番目|4つ目|四つ目)"), 4),
    (re.compile(r"(?:5番目|五番目|5つ目|五つ目)"), 5),
    (re.compile(r"(?:最後の)"), -1),
)
_EN_ORDINAL = re.compile(
    r"\b(?:the )?(first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)(?: one| option| title| series| manga| book| pick| recommendation)?\b"
)
_ANAPHORA = re.compile(
    r"\b(?:it|that one|this one|that|this|them|those|these)\b|(?:それ|これ|あれ|その漫画|この漫画|その作品|この作品|そちら|こちら)"
)
# Comparison cues, the one definition: `tools.similar` reads them next to a catalog name in the
# message, `similar_to` next to a masked name.
# A comparison in so many words, before the name and after it ("like X", "similar to X", "X-like",
# 「Xみたいな」, 「Xに似た」), as against a fondness for X ("my son loves X", 「Xが大好きな」), which may
# come before a question about X's own volumes ("my son loves One Piece, do you have the box set?").
_COMPARISON_BEFORE = (
    r"(?<!would )(?<!'d )\blike|\bsimilar to|\bsimilar|\bcomparable (?:to|with)"
    r"|\b(?:closest|closer|close|nearest) (?:things? |ones? |manga |series )?to"
    r"|\bsimilar (?:manga|series|stuff|titles|books|stories|ones|reads) to|\balternatives? to|\bequivalent (?:of|to)"
    r"|\b(?:that|which) compares? to"
    r"|\bin the (?:vein|style|spirit) of|\balong the lines of|\bsame (?:vibe|feel|feeling) as|\breminds? me of"
)
_COMPARISON_AFTER = (
    r"(?:-|\s)(?:like|esque|style|ish|adjacent)\b|的な|路線|レベルの"
    r"|みたいな|みたいの|みたいに|のような|のよう|ような|っぽい"
    r"|(?:に|と)似た|(?:に|と)?似て(?:いる|る)?|と同じような|(?:に|と)近い"
    # 「Xを超える」「X並みに」「Xの代わりになる」: measured against X, or standing in for it.
    r"|を(?:超|越)える|並み(?:に|の)|の代わりになる(?:ような)?"
)
# What may stand between a cue and the name, the one definition: a quote before the name ("like
# 'Berserk'", 「『チェンソーマン』みたいな」); after it, a closing quote or a word in brackets
# (「モンスター（浦沢直樹）みたいな」, brackets normalised).
CUE_TO_NAME = r"\s*[\"'「『“‘]?\s*"
NAME_TO_CUE = r"\s*(?:\([^()]{1,30}\)\s*)?[\"'」』”’]?\s*"
# How much a shopper says they liked X: "I really liked", "we both loved".
_HOW_MUCH = r"(?:(?:really|absolutely|totally|truly|so|both|all|just|also) )?"
# Before the name: "like X", "similar to the X", "for fans of X", "if I loved X".
SIMILAR_BEFORE = (
    rf"(?:{_COMPARISON_BEFORE}|(?:\bfor )?\b(?:fans?|lovers?|readers?) of"
    r"|(?:\bif |\bfor )?\b(?:i|who|someone who|people who|anyone who)"
    rf" {_HOW_MUCH}(?:liked|loved|enjoyed|like|love|enjoy|adored?|binged|devoured)"
    # Someone else's reading: "my son loved", "my 14 year old liked", "she loves", "my husband and
    # I both loved", "my girlfriend adores", "my nephew who's obsessed with".
    r"|(?:\b(?:he|she|they|we)|\b(?:my|our)(?: [\w'-]+){1,4}?|<age>)"
    rf" {_HOW_MUCH}(?:liked|loved|enjoyed|likes|loves|enjoys|adored|adores|binged|devoured)"
    r"|\b(?:i'm|i am|im|who's|who is|he's|he is|she's|she is|they're|they are|is|are|was|were)"
    r" (?:(?:really|absolutely|totally|so|completely) )?(?:obsessed with|hooked on|crazy about)"
    r"|\b(?:someone|people|anyone|readers?|fans?) who (?:(?:just|already|recently) )?(?:finished|read|has read|have read)"
    r"|\bafter (?:reading|finishing)|\b(?:read|try|pick up) (?:next )?after"
    # "something to fill the void after X", "the next best thing after X", "based on my love of X"
    r"|\b(?:fill|filling) the (?:void|gap|hole)(?: (?:left )?(?:after|by))?|\bnext best thing (?:after|to)"
    r"|\bbased on (?:my|our|his|her|their) (?:love|liking) (?:of|for)"
    # "someone who grew up on X", "looking for the next X"
    r"|\bgrew up (?:on|with|reading)|\b(?:looking for|searching for|find me) the next"
    r"|\bif (?:you|u|ya) (?:liked|loved|enjoyed))"
    r"(?:\s+(?:the|a|an))?"
)
# After the name: "X fans", "X-like", "X-ish", "X vibes", "X, what next?", "Xみたいな",
# "Xに似た", "X似てる", "X好きにおすすめ", "X読み終わった", "Xの次に読む".
SIMILAR_AFTER = (
    rf"(?:{_COMPARISON_AFTER}|'?s?\s+(?:(?:kinda|sorta|type|style)\s+)?(?:fans?|lovers?|readers?|vibes?|energy)\b"
    r"|[,.!]?\s*(?:so\s+)?what(?:'s| is| should i read| do i read| to read)? next\b"
    r"|の(?:次|後|あと)(?:に|は)?(?:読む|読める|読みたい|読もう|何|なに|おすすめ|オススメ)"
    # 「X以来」「X世代」: since X, grown up with X.
    r"|以来|世代"
    # 「Xで泣いた人に」「Xに感動した人に」: what X did to the reader.
    r"|(?:で|に)(?:泣いた|泣けた|感動した)(?:人|方)"
    # 「Xのノリが好きな人に」: what the shopper liked about X.
    r"|(?:の(?:ノリ|のり|雰囲気|感じ|世界観|空気感))?(?:(?:が|を)?大?好き"
    r"|を(?:全巻|全部)?読んだ|(?:全巻|全部)読んだ|を?読み(?:終わ|おわ|終え|おえ|切)(?:った|た|て)"
    r"|を?読了|(?:の)?ファン|を?気に入った|が?刺さった|を卒業した|を?読んで(?:る|いる)(?=人|方)"
    r"|に(?:ど)?(?:ハマ|はま)(?:った|ってる|っている|りしてる|りした))"
    r"(?:なら|な|の)?(?:人|方)?(?:に|には|へ|向け)?(?:の)?(?:おすすめ|オススメ)?(?:の)?"
    r"|系の)"
)
# A cue compares only next to a name, as in `tools.similar`: alone, "I'd like a refund", "who likes
# baseball", "落としたみたいな感じ" or "日常系の漫画" compare nothing. Masked text is
# katakana-folded, so are the cues read on it.
_NAME_SLOT = r"<(?:title|author)>"
# A name the shopper rules out: "horror but not Junji Ito", "except Berserk", "not a fan of X",
# "伊藤潤二以外で", "ベルセルクは苦手". Read right before or right after the name. No bare "no": "is
# there no Frieren vol 3?" asks about Frieren.
# The words that rule something out, before it in English and after it in Japanese (names and
# kinds of story alike).
_RULING_OUT_BEFORE = (
    r"\bnot|\bexcept(?: for)?|\bother than|\bbesides|\bapart from|\bexcluding|\banything but"
    r"|\brather than|\binstead of|\bnot (?:really )?(?:a )?(?:big |huge |real )?fan of|\bnot into"
    r"|\b(?:don'?t|do not|didn'?t|did not) (?:like|enjoy|want)"
    r"|\bhated?|\btired of|\bsick of"
)
_RULING_OUT_AFTER = r"以外|じゃない|じゃなく|ではなく|ではない|を除いて|を除く|は除いて|は除く"
_EXCLUDED_BEFORE = re.compile(
    rf"(?:{_RULING_OUT_BEFORE})"
    r"(?:\s+(?:by|from|the|a|an|any|anything by|stuff by|works by|manga by))?\s*$"
)
_EXCLUDED_AFTER = re.compile(
    katakana_to_hiragana(
        rf"^\s*(?:の作品|作品|の漫画|漫画)?\s*(?:{_RULING_OUT_AFTER}"
        r"|抜きで|は抜き|はなしで|(?:は|が)?(?:好きじゃない|苦手|嫌い))"
    )
)


def _ruled_out(
    norm: str, start: int, end: int, before: re.Pattern[str] = _EXCLUDED_BEFORE, after: re.Pattern[str] = _EXCLUDED_AFTER
) -> bool:
    """Whether the text at `start:end` is ruled out by the words right before or after it."""
    return bool(before.search(norm[max(0, start - 40):start]) or after.search(norm[end:end + 20]))


# A series named for its author: "the author of Death Note", "the guy who drew Monster", "same
# mangaka as Nana", "Chainsaw Man's creator", "デスノートの作者", "モンスターを描いた人",
# "ナナと同じ作者". Read right before or right after the name.
_AUTHOR_OF_BEFORE = re.compile(
    r"(?:\b(?:authors?|creators?|mangaka|writers?|artists?|illustrators?)\s+(?:of|behind|from)"
    r"|\b(?:authors?|creators?|mangaka|writers?|artists?|illustrators?|guy|person|woman|man|lady|people|team)"
    r"\s+(?:who|that)\s+(?:drew|draws|wrote|writes|made|makes|created|creates|did|does)"
    r"|\bwhoever\s+(?:drew|wrote|made|created)"
    r"|\bsame\s+(?:authors?|creators?|mangaka|writers?|artists?)\s+as)"
    r"(?:\s+(?:the|a))?\s*$"
)
_AUTHOR_OF_AFTER = re.compile(
    r"^(?:'s|s'|\s)\s*(?:authors?|creators?|mangaka|writers?|artists?)\b"
    r"|^\s*(?:の|を(?:描|書|か)いた|と同じ)?\s*(?:作者|作家|著者|原作者|漫画家|まんが家|先生|人)"
)


# "Who is the author of Death Note?", "怪獣8号の作者って誰？": a question about the series itself
# (its answer names the author), not a request for the author's works.
_ASKS_WHO = re.compile(
    r"(?:^|[.?!,]\s*)who\b|\bwho(?:'s| is| was| are| were)\b|誰|だれ|どなた|(?:なん|何)て(?:人|名前)|名前"
)


def _names_author(norm: str, start: int, end: int) -> bool:
    """Whether the series name at `norm[start:end]` stands for its author (the message not asking
    who that is: see `_ASKS_WHO`)."""
    after = norm[end:end + 20]
    # "Xの人" alone is no author ("ワンピースの人気"): only after a verb of drawing or writing.
    if (m := _AUTHOR_OF_AFTER.match(after)) and (not m.group().endswith("人") or "いた" in m.group()):
        return True
    return bool(_AUTHOR_OF_BEFORE.search(norm[max(0, start - 40):start]))


_SIMILAR = re.compile(
    katakana_to_hiragana(
        rf"{SIMILAR_BEFORE}{CUE_TO_NAME}{_NAME_SLOT}|{_NAME_SLOT}{NAME_TO_CUE}{SIMILAR_AFTER}"
    )
)
_COMPARED_IN_WORDS = re.compile(
    katakana_to_hiragana(
        rf"(?:{_COMPARISON_BEFORE})(?:\s+(?:the|a|an))?{CUE_TO_NAME}{_NAME_SLOT}"
        rf"|{_NAME_SLOT}{NAME_TO_CUE}(?:{_COMPARISON_AFTER})"
    )
)
# X's own volumes asked for as a set, or as what comes next of X (a volume number or the latest
# volume is read as `Entities.volume`).
_OWN_VOLUMES = re.compile(
    katakana_to_hiragana(
        r"\bbox(?:ed)? ?sets?\b|\b(?:complete|full) (?:set|series|run)\b|\b(?:all|every) (?:the )?volumes?\b"
        r"|全巻(?!を?読)|セット|続き|新刊|何巻|次巻|次の巻"
    )
)


def asks_for_its_volumes(ents: Entities) -> bool:
    """Whether a message fond of the series it names asks for that series' own volumes, not for
    others like it: a volume, the latest one, a set, what comes next, and no comparison in words."""
    asked = ents.volume is not None or bool(_OWN_VOLUMES.search(ents.masked_text))
    return asked and not _COMPARED_IN_WORDS.search(ents.masked_text)


# A comparison pointing back at a name said earlier: "Junji Ito is great, anything similar?",
# "everything by Urasawa, want something like that", "ベルセルク最高、似たような漫画ある？".
SIMILAR_BACK = re.compile(
    katakana_to_hiragana(
        rf"{SIMILAR_BEFORE}\s*(?:it|that(?: one)?|this(?: one)?|them|those|these)\b"
        r"|\b(?:anything|something|others?|more|ones?|stuff|manga|series|titles?) (?:similar|alike)\b"
        # "Monster was amazing, similar thrillers?", "X but a different series", "X but something
        # else", "finished X and I need more": the shopper has read X and asks for what is not X.
        r"|\bsimilar(?= (?:ones|stuff|recs|[a-z]{3,}s)\b)"
        r"|\bbut (?:a |an |some )?(?:different|another|other|something else|anything else)\b"
        r"(?! (?:volume|vol|edition|format|copy|printing|cover|language|translation|box)s?\b)"
        # ("anything else by Urasawa", "what else did <author> draw" ask for the author's own works)
        r"|\b(?:something|anything|what) else\b"
        r"(?!\s+(?:(?:by|from|of|did)\b|(?:has|have)\s+(?:<author>|(?:he|she|they)\b)|<author>))"
        # "X, what's similar?", "X is my favourite, what should I read next?", "which shoujo should I
        # surprise her with next?" (but "should I buy the next volume" is more of X).
        r"|\bwhat(?:'s|s| is| are)? similar\b|\bsimilar\s*[?!.]*\s*$"
        r"|\bwhat(?:'s|s| is)? next\s*[?!.]*\s*$|\bwhat now\s*[?!.]*\s*$"
        r"|\bto read next\b"
        # "Death Note was amazing. Recommendations?", "just finished Oshi no Ko. recs?"
        r"|\b(?:any |some |more |other )?(?:recommendations?|recs|suggestions?)"
        r"(?: for (?:him|her|them|me|us))?(?: please| pls| plz)?\s*[?!.]*\s*$"
        r"|\b(?:should|could|can|would) (?:i|we) (?:[a-z']+ ){1,4}?next\b"
        r"(?!\s*(?:volumes?|vols?|books?|ones?|releases?|issues?|chapters?|parts?|arcs?|seasons?)\b)"
        # "caught up on Hajime no Ippo, give me other boxing manga" (but "other volumes" are X's).
        r"|\b(?:give me|show me|recommend|suggest|want|need|any|some) other\b"
        r"(?!\s+(?:volume|vol|copy|edition|printing|format|language|translation|box|order|one)s?\b|\s*<title>)"
        # "caught up on the apothecary diaries. other stuff with a smart heroine?" (but "other series
        # by her" are the author's, "other books in the series" X's own).
        r"|\bother (?:stuff|things|manga|series|titles|books|stories|reads|picks)\b(?!\s+(?:by|from|of|in)\b)"
        r"|\b(?:need|want|crave) more\s*(?:[.!?]|$)"
        # "loved Attack on Titan. need more humans-vs-monsters" (but "need more volumes", "want more
        # of <X>", "more info" ask about X).
        r"|\b(?:need|want|crave|give me|looking for) more\b(?!\s*(?:of\b|by\b|from\b|<title>|<n>|\d|[.!?,]|$"
        r"|(?:volumes?|vols?|books|copies|info|information|details|time|money|pages|chapters)\b))"
        # "something with that same grim feel", "a shojo that hits the same spot", "more of that",
        # "in a similar vein" (but "by the same author" asks for X's author, "the same edition" for X).
        r"|\b(?:that|the|this) same\b(?! (?:authors?|creators?|mangaka|writers?|artists?|series|volumes?|vols?"
        r"|editions?|books?|price|format|copy|one|day|time|order|address)\b)"
        r"(?: (?:feel|feeling|vibes?|spirit|spot|kind|sort|type|energy|tone|mood|atmosphere)\b)?"
        r"|\bmore of (?:that|this|those|the same)\b|\bin (?:that|this|the same) direction\b"
        r"|\b(?:along|in) (?:those|these|that|a similar) (?:lines|vein)\b"
        # "looking for another emotional school story", "any other wholesome manga?" (but "another
        # volume" is more of X).
        r"|\b(?:another|any other)\b"
        r"(?!\s+(?:volume|vol|copy|edition|printing|format|language|translation|box|order|one)s?\b|\s*<title>)"
        r"|(?:それ|これ|あれ)(?:みたいな|っぽい|に似た|のような)|似たような|似てる(?:漫画|作品|の)"
        # 「娘にも同じような魔法少女もの」「あれと同じくらい熱い」
        r"|同じ(?:ような|ように|よう な|様な|くらい|ぐらい|系統|ジャンル|タイプ|路線|方向性)"
        r"|似た(?:感じ|かんじ|雰囲気|系|作品|漫画|まんが|もの|の)"
        # "finished X and I miss it", 「X読み終わって寂しい」: missing X after its end.
        r"|\bi (?:already )?miss (?:it|them|that|this)\b|(?:終わ|おわ)(?:って|った|っちゃって)(?:のが)?(?:寂し|さみし|さびし)"
        # 「<X>ロスで何か読みたい」: missing X after its end; 「別の作品で」 asks for another series.
        rf"|{_NAME_SLOT}\s*ろす|(?:別|べつ)の(?:漫画|まんが|作品|しりーず|やつ)"
        # 「ああいう音楽もの」「あのドタバタな感じ」
        r"|ああいう|ああゆう|ああした|あんな|そういう|そうゆう"
        r"|あの(?=[^。、？！?!]{0,15}?(?:感じ|かんじ|雰囲気|のり|空気感|世界観))"
    )
)
# The works of the author named, asked for: "a huge Yuu Watase fan … which of her series do you
# sell?", 「この先生の他の作品」. "<author> fan" is then no "like <author>".
OWN_WORKS = re.compile(
    r"\b(?:which|what|any|all|more) of (?:hers|his|theirs|her|their)\b"
    r"|\b(?:her|his|their) (?:[a-z]+ ){0,2}?(?:series|works?|books|manga|titles|stuff)\b"
    r"|(?:この|その)(?:先生|作者|作家|漫画家)の(?:他の|ほかの)?(?:作品|漫画)|(?:彼|彼女)の(?:他の|ほかの)?(?:作品|漫画)"
)
# 「スラムダンクを読み終えました。他にも読みたい」: after a series, others than it; after an author
# (「田村由美先生の漫画、ほかに何がありますか」) the author's other works.
_OTHERS_TOO = re.compile(r"(?:他|ほか)に(?:も|あり|ある|ない|おすすめ|何|なに)")
_WORD_VOLUME = re.compile(r"\b(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th) (?:volume|vol|book|tankobon)\b|(?:最初の巻|1巻目|一巻目)")
# "I finished X" / "just finished reading X" is the shopper's reading, not a finished series.
_STATUS = (
    ("completed", re.compile(
        r"\b(?:completed|complete|ended|concluded)\b|完結"
        r"|(?<!\bi )(?<!\bjust )(?<!'ve )(?<!\bhave )\bfinished\b(?!\s+(?:reading\s+)?<title>)"
    )),
    ("ongoing", re.compile(r"\b(?:ongoing|still running|currently running)\b|連載中")),
)
_MAX_VOLUMES = re.compile(
    r"\b(?:under|less than|fewer than|at most|no more than|up to|within)\s*(\d{1,3})\s*(?:volumes?|vols?\.?|books?)\b"
    r"|(\d{1,3})\s*(?:volumes?|vols?\.?) or (?:less|fewer)\b"
    r"|(\d{1,3})\s*巻(?:以内|以下|まで|未満|くらいで)"
)
# When a series began, when the shopper asks for an era: "80s manga", "from the 1990s", "since
# 2015", "before 2000", "from 2005", "old-school" / "retro" / "vintage" (the last century), "90年代の漫画", "昭和の漫画",
# "平成", "令和", "2010年以降", "昔の漫画", "懐かしい漫画". ("Classic" and "new" are left alone: a classic
# is a famous series of any age, and "new" mostly asks for new volumes.)
_DECADE = re.compile(r"(?<![\d'$])(?:'|\b(19|20))?([0-9])0'?s\b|(?<!\d)(19|20)?([0-9])0\s*年代")
_IN_YEAR = re.compile(r"\bfrom\s+((?:19|20)\d\d)\b(?!s)|((?:19|20)\d\d)\s*年(?:の|に|開始|連載)")
_SINCE_YEAR = re.compile(r"\b(?:since|after)\s+((?:19|20)\d\d)\b(?!s)|((?:19|20)\d\d)\s*年\s*(?:以降|以後|から)")
_BEFORE_YEAR = re.compile(r"\b(?:before|until|up to|pre-?)\s*((?:19|20)\d\d)\b(?!s)|((?:19|20)\d\d)\s*年\s*(?:以前|より前|まで)")
_JA_ERAS = re.compile(r"(昭和|平成|令和)(?=の|に|時代|期|から|まで|っぽい|感|生まれ|\s|$)")
_JA_ERA_YEARS = {"昭和": (None, 1988), "平成": (1989, 2018), "令和": (2019, None)}
# An era a story is set in is no era it was published in: "set in the 1920s", "a warship ends up
# back in 1942", "昭和が舞台の漫画"; nor is someone's age ("an old man in his late 50s").
_SETTING_BEFORE = re.compile(
    r"(?:\bset|\btakes? place|\btaking place|\bback|\bends? up|\bsent|\btravels?|\btransported|\bliving|\blives)"
    r"\s+(?:in|to|into)\s+(?:the\s+)?$|\b(?:during|in the middle of)\s+(?:the\s+)?$"
    r"|\b(?:his|her|their|my|your|our)\s+(?:early\s+|mid\s+|mid-|late\s+)?$"
)
_SETTING_AFTER = re.compile(r"^\s*(?:の|時代|の時代)*\s*(?:が|を|の)?\s*(?:舞台|世界|日本|東京|町|街|学校|話)")
_OLD_SCHOOL = re.compile(r"\bold[- ]school\b")
_LAST_CENTURY = re.compile(rf"{_OLD_SCHOOL.pattern}|\bretro\b|\bvintage\b|昔の(?:漫画|まんが|マンガ|作品)|懐かしい|れとろ")


def _setting(text: str, m: re.Match[str]) -> bool:
    return bool(_SETTING_BEFORE.search(text[max(0, m.start() - 30) : m.start()])
                or _SETTING_AFTER.search(text[m.end() : m.end() + 12]))


def _era(text: str) -> tuple[int | None, int | None, str]:
    """The first and last start year asked for ("80s" -> 1980, 1989), and `text` with the era masked."""
    if any(_setting(text, m) for p in (_DECADE, _IN_YEAR, _SINCE_YEAR, _BEFORE_YEAR, _JA_ERAS)
           for m in p.finditer(text)):
        return None, None, text
    if m := _DECADE.search(text):
        century, digit = (m.group(1), m.group(2)) if m.group(2) else (m.group(3), m.group(4))
        decade = int(digit) * 10
        # "80s" is of the last century, "2010s"/"2010年代" as written; "00s"-"40s" need their century.
        start = int(century) * 100 + decade if century else (1900 + decade if decade >= 50 else None)
        if start is not None:
            return start, start + 9, text[: m.start()] + " <era> " + text[m.end() :]
    if m := _IN_YEAR.search(text):
        year = int(next(g for g in m.groups() if g))
        return year, year, text[: m.start()] + " <era> " + text[m.end() :]
    since = _SINCE_YEAR.search(text)
    before = _BEFORE_YEAR.search(text)
    if since or before:
        first = int(next(g for g in since.groups() if g)) if since else None
        last = None
        if before:
            year = int(next(g for g in before.groups() if g))
            # "before 2000", "2000年より前" leave 2000 out; "until 2000", "2000年まで", "以前" keep it.
            last = year - 1 if any(w in before.group() for w in ("before", "pre", "より前")) else year
        for m in sorted((x for x in (since, before) if x), key=lambda x: -x.start()):
            text = text[: m.start()] + " <era> " + text[m.end() :]
        return first, last, text
    if m := _JA_ERAS.search(text):
        first, last = _JA_ERA_YEARS[m.group(1)]
        return first, last, text[: m.start()] + " <era> " + text[m.end() :]
    if m := _LAST_CENTURY.search(text):
        return None, 1999, text
    return None, None, text


_LATEST_VOLUME = re.compile(
    r"\b(?:last|final|latest|newest|most recent|new)\s+(?:volume|vol\.?|book)\b|最終巻|最新巻|最新刊|最後の巻"
)
_EN_ORD_MAP = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
}
# How many to show: "top 3", "give me two horror manga", "3 recommendations", "3つ", "5作品". A
# number is a count only after a request or before a word for picks: "I read 3 manga this week"
# asks for nothing, and volumes ("the first 3 books", "3巻", "3冊") are no count.
_NUMBER = r"(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)"
# A young reader's age ("for my 8 year old", "a 12-year-old girl", "8歳の息子", "娘が10歳") or school
# stage ("my 3rd grader", "my son in middle school", 「小3の息子」「娘は中学生」「小学生向け」): the
# readership it implies. Only with a cue that it is the reader's ("my", "for a", a child word): "a
# manga about a 12-year-old detective" and 「中学生が主人公」 tell a story. (Masked text is
# katakana-folded.)
_CHILD_EN = r"sons?|boys?|daughters?|girls?|kids?|child|nephews?|nieces?|brothers?|sisters?|grand(?:son|daughter)s?"
_RELATIVE_JA = r"息子|娘|甥|姪|弟|妹|孫"
_CHILD_JA = rf"{_RELATIVE_JA}|男の子|女の子|子供|こども|子ども|子"
_GRADE_WORDS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth").split()
_GRADE_EN = rf"(?:\d{{1,2}}(?:st|nd|rd|th)|{'|'.join(_GRADE_WORDS)})"
_STAGE_EN = (
    rf"kindergartn?ers?|preschoolers?|{_GRADE_EN} graders?|(?:elementary|grade|primary|middle|high) schoolers?"
    r"|tweens?|teens?|teenagers?"
)
_STAGE_IN_EN = rf"{_GRADE_EN} grade|kindergarten|preschool|(?:elementary|grade|primary|middle|junior high|high) school"
_STAGE_JA = (
    r"小学生|小学校(?:低|高)学年|(?:低|高)学年|小学?[1-6一二三四五六]年?生?|中学生|中学?[1-3一二三]年?生?"
    r"|高校生|高校?[1-3一二三]年?生?|幼稚園児?|保育園児?|園児|年長|年中"
)
READER_AGE = re.compile(
    # ("reading manga for 10 years" is no age: "old" or "yo" must say it)
    r"\b(?:my|our|for(?: (?:a|an|my|our))?) (?P<en>\d{1,2})(?:[- ]?(?:years?|yrs?)[- ]old|[- ]?yo)\b"
    rf"(?: (?P<en_who>{_CHILD_EN})\b)?"
    rf"|\b(?:my|our|for(?: (?:a|an|my|our))?) (?P<en_stage>{_STAGE_EN})\b(?: (?P<en_stage_who>{_CHILD_EN})\b)?"
    rf"|\b(?:my|our) (?P<en_who_in>{_CHILD_EN}),? (?:(?:who is|who's|is|that is) )?(?:in|starting|entering|going into)"
    rf" (?:the )?(?P<en_stage_in>{_STAGE_IN_EN})\b"
    rf"|(?P<ja>\d{{1,2}})\s*(?:歳|才)(?:の|になる)?(?P<ja_who>{_CHILD_JA})"
    rf"|(?P<ja_who_first>{_RELATIVE_JA})(?:が|は)?\s*(?P<ja_after>\d{{1,2}})\s*(?:歳|才)"
    rf"|(?P<ja_stage>{_STAGE_JA})(?:の|になる|になった)?(?P<ja_stage_who>{_CHILD_JA})"
    rf"|(?P<ja_who_stage>{_RELATIVE_JA})(?:が|は|も)?\s*(?P<ja_stage_after>{_STAGE_JA})"
    rf"|(?P<ja_stage_for>{_STAGE_JA})(?=向け|に(?:読ませ|あげ|ぷれぜんと|おすすめ)|への?ぷれぜんと|でも読め)"
)
_JA_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}
# A school stage's age: its first years, where a stage spans several.
_STAGE_AGES = (
    (re.compile(r"kindergart|preschool|幼稚園|保育園|園児|年長|年中"), 5),
    (re.compile(r"tween|高学年"), 11),
    (re.compile(r"低学年"), 7),
    (re.compile(r"elementary|grade school|primary|小学"), 8),
    (re.compile(r"middle|junior high|中学"), 13),
    (re.compile(r"teen|high|高校"), 16),
)
_GRADE = re.compile(rf"(\d{{1,2}})(?:st|nd|rd|th)|({'|'.join(_GRADE_WORDS)})|([小中高])学?校?([1-6一二三四五六])")


def stage_age(stage: str) -> int:
    """The reader's age a school stage implies ("3rd grader" 9, 「小3」 9, 「中学生」 13)."""
    grade = _GRADE.search(stage)
    if grade and grade.group(1):
        return 6 + int(grade.group(1))
    if grade and grade.group(2):
        return 7 + _GRADE_WORDS.index(grade.group(2))
    if grade:
        n = _JA_DIGITS.get(grade.group(4)) or int(grade.group(4))
        return {"小": 6, "中": 12, "高": 15}[grade.group(3)] + n
    return next(age for pattern, age in _STAGE_AGES if pattern.search(stage))


def reader_of(m: re.Match[str]) -> tuple[int, str | None]:
    """The reader's age and who they are (a child word or None) from a `READER_AGE` match."""
    groups = m.groupdict()
    who = next((groups[g] for g in ("en_who", "en_stage_who", "en_who_in", "ja_who", "ja_who_first",
                                    "ja_stage_who", "ja_who_stage") if groups[g]), None)
    if number := groups["en"] or groups["ja"] or groups["ja_after"]:
        return int(number), who
    stage = next(groups[g] for g in ("en_stage", "en_stage_in", "ja_stage", "ja_stage_after", "ja_stage_for") if groups[g])
    return stage_age(stage), who


_BOYS = frozenset("son sons boy boys nephew nephews brother brothers grandson grandsons 息子 男の子 甥 弟".split())
_GIRLS = frozenset("daughter daughters girl girls niece nieces sister sisters granddaughter granddaughters 娘 女の子 姪 妹".split())
# Up to this age a reader is shown no series for adult readers (seinen, josei).
YOUNG_READER_AGE = 12


def young_reader(age: int | None) -> bool:
    """Whether a reader of `age` (None: not said) is shown only series written for young readers."""
    return age is not None and age <= YOUNG_READER_AGE


def readership(age: int, who: str | None) -> str | None:
    """The readership a young reader's age implies: children's manga to nine, then shonen or shojo
    by the child; none when the message does not say (children's manga had hidden the shonen
    fantasy an eleven-year-old Harry Potter fan asked for), nor for adults."""
    if age <= 9:
        return "kodomo"
    if age <= 17 and who in _BOYS:
        return "shonen"
    if age <= 17 and who in _GIRLS:
        return "shojo"
    return None


_COUNT = re.compile(
    rf"\b(?:top|best|give me|recommend|suggest|show me|list|name|pick)\s+(?:me\s+)?{_NUMBER}\b"
    r"(?!\s*(?:volumes?|vols?|books?|<n>))"
    rf"|\b{_NUMBER}\s+(?:(?:good|great|more|other|different|new|similar|fun)\s+)?"
    r"(?:recommendations|suggestions|picks|options|ideas)\b"
    r"|(\d{1,2}|[二三四五六七八九十])\s*(?:つ|作品|作|タイトル)"
)


class Entities(BaseModel):
    """What a message refers to; spans are masked out before intent classification."""

    series_ids: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    volume: int | None = None
    genres: list[str] = Field(default_factory=list)
    demographic: str | None = None
    format: str | None = None
    edition: str | None = None
    order_ids: list[str] = Field(default_factory=list)
    # Names the shopper rules out ("but not Junji Ito", "伊藤潤二以外"): not among the names above.
    excluded_series: list[str] = Field(default_factory=list)
    excluded_authors: list[str] = Field(default_factory=list)
    # Kinds of story ruled out ("not comedy", "恋愛なし"): not among `genres`.
    excluded_genres: list[str] = Field(default_factory=list)
    # How many series the shopper asked to see ("top 3", "give me two", "3つ教えて").
    count: int | None = None
    # Series named for their author ("the author of Death Note"): their authors are in `authors`.
    author_of: list[str] = Field(default_factory=list)
    status: str | None = None  # "completed" or "ongoing", when the shopper filters on it
    max_volumes: int | None = None  # "under 10 volumes", "10巻以内"
    # The era asked for, as the first and last year a series may have begun ("80s", "平成").
    from_year: int | None = None
    to_year: int | None = None
    ordinal: int | None = None
    # The young reader's age the message names ("for my 8 year old", 「小3の息子」).
    reader_age: int | None = None
    anaphora: bool = False
    similar_to: bool = False
    masked_text: str = ""


@functools.cache
def _word_matcher(word: str, plural: bool) -> re.Pattern[str]:
    # Built once per vocabulary word: every message checks a few hundred of them.
    if JAPANESE.search(word):
        return re.compile(re.escape(katakana_to_hiragana(word)))
    spelt = _plural(word) if plural else re.escape(word)
    return re.compile(rf"(?<![a-z0-9]){spelt}(?![a-z0-9])")


# The -s forms of shorter words are mostly verbs ("she loves her job", "he cooks").
_PLURAL_MIN_CHARS = 5


def _plural(word: str) -> str:
    """A pattern for `word` and its English plural ("mysteries", "witches", "love stories")."""
    if re.search(r"[^aeiou]y$", word):
        return re.escape(word[:-1]) + "(?:y|ies)"
    if re.search(r"(?:s|x|z|ch|sh)$", word):
        return re.escape(word) + "(?:es)?"
    return re.escape(word) + "s?"


def _word_spans(text: str, word: str, *, plural: bool = False) -> list[tuple[int, int]]:
    return [m.span() for m in _word_matcher(word, plural and len(word) >= _PLURAL_MIN_CHARS).finditer(text)]


def _has_word(text: str, word: str, *, plural: bool = False) -> bool:
    return _word_matcher(word, plural and len(word) >= _PLURAL_MIN_CHARS).search(text) is not None


# "Love" as a verb is no romance: "I would love a horror manga", "we love action", "readers who
# love it", "love reading"; "a love triangle", "love manga" are.
_LOVE_VERB_BEFORE = re.compile(
    r"\b(?:i|we|you|they|he|she|who|would|'d|to|really|just|totally|absolutely|also|still|do|don'?t"
    r"|did|didn'?t|so|both|all|people|fans|readers|kids)\s+$"
)
_LOVE_VERB_AFTER = re.compile(
    r"^\s+(?:it|this|that|these|those|them|him|her|you|how|when|reading|to|a|an|the|some|something"
    r"|anything|everything|his|their|my|your|our)\b"
)


def _loved(text: str, start: int, end: int) -> bool:
    """Whether the genre word at `text[start:end]` is, or starts with, the verb "love"."""
    word = text[start:end]
    before = _LOVE_VERB_BEFORE.search(text[max(0, start - 20):start])
    if word in ("love", "loves"):
        return bool(before or _LOVE_VERB_AFTER.match(text[end:end + 20]))
    # "I love stories about time travel" holds "love stories" too: the verb and what is loved.
    return word.startswith(("love ", "loves ")) and bool(before)


@functools.lru_cache(maxsize=256)
def _genres_of(about: str) -> tuple[str, ...]:
    """The genres a work's description names in the catalog's genre words (read once per work)."""
    return tuple(g for g, (_, words) in GENRES.items() if any(_has_word(about, w) for w in words))


# A kind of story the shopper rules out: "yakuza, but not comedy", "no romance please", "anything
# but horror", "without romance", "恋愛要素なしで", "ホラー以外", "ギャグじゃない", "ホラーは苦手". Read
# right before or right after the genre word, like a name ruled out.
_GENRE_EXCLUDED_BEFORE = re.compile(
    rf"(?:{_RULING_OUT_BEFORE}"
    r"|\bisn'?t|\baren'?t|(?<!there )(?<!there's )(?<!theres )\bno|\bnon-?|\bwithout|\bnothing"
    r"|\bavoid(?:ing)?)"
    # An article, then up to two words: one of a list or a word that says which ("no zombies or
    # fighting", "no big fights", "not a serious crime drama"), but none that starts a clause of its
    # own ("not sure maybe horror", "no idea what horror to read", "not only romance but action").
    # More would reach into a story told: "a man with no memory hunts down magic users".
    r"(?:\s+(?:the|a|an|any))?"
    r"(?:\s+(?!(?:and|but|just|only|also|matter|sure|idea|clue|one|what|which|who|that|than|if|so"
    r"|because|when|i|i'?m|im|you|we|it|is|are|was|be|to|want|like|love|need|please|maybe)\b)"
    r"[a-z][a-z'-]*){0,2}\s*$"
)
_GENRE_EXCLUDED_AFTER = re.compile(
    katakana_to_hiragana(
        r"^\s*(?:の作品|作品|の漫画|漫画|もの|物|系|要素|展開|描写|シーン|な(?:の|話|作品|もの)|い(?:の|話|作品|もの))?"
        r"\s*(?:は|が|の)?\s*"
        rf"(?:{_RULING_OUT_AFTER}|抜き|ぬき|なし|無し"
        r"|ない(?:の|もの|やつ|作品|漫画|で)|少なめ|控えめ|好きじゃない|苦手|嫌い|いらない|要らない|不要|だめ|ダメ)"
    )
)


# Misspelt genre words ("horor", "mistery", "thriler") still name the genre: one edit away from a
# genre word of six or more letters. Shorter words are too close to ordinary ones ("fight"/"light").
_TYPO_MIN_LEN = 6
_GENRE_WORDS_FOR_TYPOS: dict[str, str] = {
    word: genre
    for genre, (_, words) in GENRES.items()
    for word in words
    if word.isascii() and word.isalpha() and len(word) >= _TYPO_MIN_LEN
}
_GENRE_TYPO_INDEX: dict[str, set[str]] = {}
for _word in _GENRE_WORDS_FOR_TYPOS:
    for _variant in one_letter_dropped(_word):
        _GENRE_TYPO_INDEX.setdefault(_variant, set()).add(_word)
_ASCII_WORD = re.compile(r"[a-z]{5,}")


def _misspelt_genres(text: str) -> list[str]:
    found = []
    for word in _ASCII_WORD.findall(text):
        if word in _GENRE_WORDS_FOR_TYPOS or word in NOT_MISSPELT_GENRES:
            continue
        near = {k for v in one_letter_dropped(word) for k in _GENRE_TYPO_INDEX.get(v, ())}
        for known in sorted(near):
            genre = _GENRE_WORDS_FOR_TYPOS[known]
            if genre not in found and one_edit_apart(word, known):
                found.append(genre)
    return found


# Request words typed with two neighbouring letters swapped ("pirce", "stcok", "retrun") read as
# the word, so the rules and the classifier see what the shopper meant. No such swap is a word.
_REQUEST_WORDS = ("price", "prices", "stock", "order", "orders", "refund", "return", "volume",
                  "shipping")
_REQUEST_TYPOS = {
    w[:i] + w[i + 1] + w[i] + w[i + 2 :]: w
    for w in _REQUEST_WORDS for i in range(len(w) - 1) if w[i] != w[i + 1]
}
_REQUEST_TYPO = re.compile(r"\b(?:" + "|".join(sorted(_REQUEST_TYPOS, key=len, reverse=True)) + r")\b")


def extract_entities(text: str, catalog: Catalog) -> Entities:
    """Find every entity in `text` (already normalised or not).

    A turn reads its message's entities in routing, in the speculative search's rules and in the
    reranker: the reading is remembered per text, and each caller gets its own copy to change.
    """
    return _extract_entities(text, catalog).model_copy(deep=True)


@functools.lru_cache(maxsize=256)
def _extract_entities(text: str, catalog: Catalog) -> Entities:
    norm = katakana_to_hiragana(normalize(text))
    ents = Entities()
    masked = list(norm)
    asks_who = _ASKS_WHO.search(norm) is not None
    for match in catalog.find_names(text):
        by_author = match.kind == "series" and not asks_who and _names_author(norm, match.start, match.end)
        if _ruled_out(norm, match.start, match.end):
            target = ents.excluded_series if match.kind == "series" else ents.excluded_authors
        elif by_author:
            target = ents.author_of
            ents.authors += [a for a in catalog.series[match.key].authors if a not in ents.authors]
        else:
            target = ents.series_ids if match.kind == "series" else ents.authors
        if match.key not in target:
            target.append(match.key)
        placeholder = " <title> " if match.kind == "series" and not by_author else " <author> "
        masked[match.start] = placeholder
        for i in range(match.start + 1, match.end):
            masked[i] = ""
    masked_text = _REQUEST_TYPO.sub(lambda m: _REQUEST_TYPOS[m.group()], "".join(masked))
    if m := READER_AGE.search(masked_text):
        ents.reader_age, who = reader_of(m)
        ents.demographic = readership(ents.reader_age, who)
        # The age is no volume, count or limit.
        masked_text = masked_text[: m.start()] + " <age> " + masked_text[m.end() :]
    if m := _MAX_VOLUMES.search(masked_text):
        limit = int(next(g for g in m.groups() if g))
        # "Under 10", "fewer than 10", "10巻未満" leave 10 out; "up to", "within", "10巻以内" keep it.
        strict = any(w in m.group() for w in ("未満", "less than", "fewer than", "under"))
        ents.max_volumes = limit - 1 if strict else limit
        masked_text = masked_text[: m.start()] + " <limit> " + masked_text[m.end() :]
    ents.from_year, ents.to_year, masked_text = _era(masked_text)
    for pattern in _VOLUME_PATTERNS:
        if m := pattern.search(masked_text):
            ents.volume = int(m.group(1))
            masked_text = masked_text[: m.start(1)] + "<n>" + masked_text[m.end(1) :]
            break
    if ents.volume is None and (m := _LATEST_VOLUME.search(masked_text)):
        ents.volume = LATEST_VOLUME
        masked_text = masked_text[: m.start()] + "<n> volume" + masked_text[m.end() :]
    if ents.volume is None and (m := _WORD_VOLUME.search(masked_text)):
        ents.volume = _WORD_ORDINALS.get(m.group(1)) or _EN_ORD_MAP.get(m.group(1)) or 1
        masked_text = masked_text[: m.start()] + "<n> volume" + masked_text[m.end() :]
    for m in _ORDER_ID.finditer(norm):
        ents.order_ids.append(f"MA-{m.group(1)}")
    masked_text = _ORDER_ID.sub(" <order> ", masked_text)
    # "Old school" says how old-fashioned, not where a story is set.
    genre_text = _OLD_SCHOOL.sub(" ", masked_text)
    for genre, (_, words) in GENRES.items():
        # Genre and mood words are nouns a shopper also asks for in the plural ("thrillers").
        spans = [span for w in words for span in _word_spans(genre_text, w, plural=True)]
        if not spans:
            continue
        # A word inside a longer one of the genre ("恋" in "恋愛") is read as the longer one.
        spans = [a for a in spans if not any(b != a and b[0] <= a[0] and a[1] <= b[1] for b in spans)]
        spans = [a for a in spans if not _loved(genre_text, *a)]
        if not spans:
            continue
        if all(_ruled_out(genre_text, *span, _GENRE_EXCLUDED_BEFORE, _GENRE_EXCLUDED_AFTER) for span in spans):
            ents.excluded_genres.append(genre)
        else:
            ents.genres.append(genre)
    ents.genres += [g for g in _misspelt_genres(genre_text) if g not in ents.genres]
    # A work the store does not carry says what kinds of story are asked for ("like Steins;Gate":
    # sci-fi, psychological, thriller).
    for work in catalog.references.named(text):
        ents.genres += [g for g in _genres_of(work.about) if g not in ents.genres and g not in ents.excluded_genres]
    for demo, (_, words) in DEMOGRAPHICS.items():
        if any(_has_word(masked_text, w) for w in words):
            ents.demographic = demo  # a readership named outranks one read from an age
            break
    for fmt, words in FORMAT_WORDS.items():
        if any(_has_word(masked_text, w) for w in words):
            ents.format = fmt
            break
    for edition, words in EDITION_WORDS.items():
        if any(_has_word(masked_text, w) for w in words):
            ents.edition = edition
            break
    for status, pattern in _STATUS:
        if pattern.search(masked_text):
            ents.status = status
            break
    if m := _EN_ORDINAL.search(masked_text):
        word = m.group(1)
        ents.ordinal = _WORD_ORDINALS.get(word) or _EN_ORD_MAP.get(word)
    else:
        for pattern, value in _JA_ORDINALS:
            if pattern.search(masked_text):
                ents.ordinal = value
                break
    if m := _COUNT.search(masked_text):
        word = next(g for g in m.groups() if g)
        ents.count = int(word) if word.isdigit() else _NUMBERS[word]
    ents.anaphora = bool(_ANAPHORA.search(masked_text))
    ents.similar_to = not (ents.authors and not ents.series_ids and OWN_WORKS.search(masked_text)) and (
        bool(_SIMILAR.search(masked_text))
        or bool((ents.series_ids or ents.authors) and SIMILAR_BACK.search(masked_text))
        or bool(ents.series_ids and not ents.authors and _OTHERS_TOO.search(masked_text))
    )
    ents.masked_text = re.sub(r"\s+", " ", masked_text).strip()
    if ents.similar_to and asks_for_its_volumes(ents):
        ents.similar_to = False
    return ents
