"""Toxicity lexicons (English, Japanese) with context rules.

Context rules keep manga talk from tripping the lexicon: words inside catalog titles ("Kill la Kill",
"バカとテストと召喚獣") and in-story descriptions are masked first; mild insults count only when aimed
at the reader ("you are stupid", "お前はバカ"); profanity and slurs count anywhere.
"""

from __future__ import annotations

import re

# Always toxic, wherever they appear.
_EN_HARD = re.compile(
    r"\b(?:fuck\w*|motherfuck\w*|shit(?:ty|head|hole)?|bullshit|bitch\w*|bastards?|assholes?|dumbass\w*|jackass|"
    r"retard(?:ed|s)?|cunts?|whores?|sluts?|dickhead|prick|twat|wanker|piss off|screw you|go to hell|"
    r"kill yourself|kys|go die|drop dead|nobody (?:cares|asked)|shut (?:the fuck )?up|stfu|gtfo)\b",
    re.I,
)
# Mild insults: toxic only when aimed at the reader.
_EN_INSULT = r"(?:idiot|moron|stupid|dumb|loser|pathetic|worthless|useless|clueless|ignorant|imbecile|fool|clown|brainless|trash|garbage|ugly|disgusting)"
_EN_DIRECTED = re.compile(
    rf"\b(?:you(?:'re| are|r)?|u r|ur|you (?:must be|sound|look)(?: like)?|what an?|you (?:absolute|complete|total)|"
    rf"are you)\s+(?:an?\s+|so\s+|such an?\s+|really\s+|just\s+|completely\s+|totally\s+|being\s+)*{_EN_INSULT}\b"
    rf"|\b{_EN_INSULT}\s+(?:customer|shopper|user|question|person)\b|\bonly an? {_EN_INSULT}\b",
    re.I,
)
_JA_HARD = re.compile(
    r"死ね|しね(?:よ|や|!|！)|殺すぞ|ころすぞ|くたばれ|ぶっ殺|ぶっころ|クソ野郎|くそ野郎|クソ客|くそ客|クソが|"
    r"バカ野郎|ばか野郎|馬鹿野郎|黙れ|だまれ|消えろ|失せろ|うせろ|ガイジ|キモい客|きもい客|うざい客|ウザい客|"
    r"ゴミ客|カス客|底辺(?:客|が)|氏ね|タヒね"
)
_JA_INSULT = r"(?:バカ|ばか|馬鹿|アホ|あほ|阿呆|間抜け|まぬけ|ゴミ|ごみ|カス|かす|クズ|くず|無能|低能|ブス|キモい|きもい|うざい|ウザい|頭悪い|頭がおかしい)"
_JA_DIRECTED = re.compile(
    rf"(?:お前|おまえ|あんた|てめえ|テメエ|てめー|貴様|きさま|君|きみ|あなた|お客様|お客さん)(?:は|って|みたいな|なんか|も|ってほんと)?(?:本当に|ほんと|マジで|まじで)?{_JA_INSULT}"
    rf"|{_JA_INSULT}(?:な|の)?(?:客|質問|お客)|{_JA_INSULT}(?:じゃないの|なの|ですね|だな|か)(?:[?？!！。]|$)"
)


def toxic_hits(text: str, masked_titles: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Toxic expressions in `text`, after masking catalog titles."""
    for title in sorted((t for t in masked_titles if t), key=len, reverse=True):
        text = re.sub(re.escape(title), " ", text, flags=re.I)
    hits = [m.group() for m in _EN_HARD.finditer(text)]
    hits += [m.group() for m in _EN_DIRECTED.finditer(text)]
    hits += [m.group() for m in _JA_HARD.finditer(text)]
    hits += [m.group() for m in _JA_DIRECTED.finditer(text)]
    return sorted(set(hits))
