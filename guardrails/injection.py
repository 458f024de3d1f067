"""Prompt-injection detection on shopper input: English, Japanese, Chinese and Korean.

The message is canonicalised first (NFKC, zero-width and invisible characters removed, homoglyphs
and leet folded, letter-spacing collapsed, katakana folded to hiragana), then scored against
weighted signals. Most signals are structural, not phrases: an override verb aimed at the
assistant's instructions ("ignore ... your rules", "指示を...無視", "忽略...指令", "지시를...무시"),
a request to disclose the hidden prompt, a role switch towards an unrestricted persona, a request to
switch safety off, fake markup and authority claims. A message whose signals add up to
`THRESHOLD` is an injection. A signal that fires inside a story description ("a manga where the
hero ignores the rules", "ルールを無視する主人公") is discounted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pydantic import BaseModel

from tools.text import katakana_to_hiragana

THRESHOLD = 1.0

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
# Letters that look Latin but are not (Cyrillic, Greek, IPA); NFKC leaves them alone.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ɡ": "g", "ɑ": "a", "ɩ": "i", "ո": "n", "ս": "u", "ѵ": "v", "α": "a", "β": "b", "ε": "e", "η": "n",
    "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ӏ": "l", "ɪ": "i",
    "ʏ": "y", "ᴀ": "a", "ᴇ": "e", "ᴏ": "o", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ɢ": "g", "ɴ": "n",
    "ʜ": "h", "ᴍ": "m", "ᴘ": "p", "ᴅ": "d", "ᴋ": "k", "ʟ": "l", "ᴄ": "c", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"})
_LEET_TOKEN = re.compile(r"[a-z0-9@$!|+]*[a-z][a-z0-9@$!|+]*")
_SPACED_LETTERS = re.compile(r"(?<![a-z])(?:[a-z][ .\-_*/\\|,]{1,3}){2,}[a-z](?![a-z])")
_CJK_CHAR = r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]"
_CJK_GAP = re.compile(rf"(?<={_CJK_CHAR})[^\w:]+(?={_CJK_CHAR})")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class InjectionVerdict(BaseModel):
    """Whether a message tries to steer the assistant, with the evidence."""

    injection: bool
    score: float
    reasons: list[str]
    language: str = "en"


@dataclass(frozen=True)
class Signal:
    """One weighted pattern; `dense` patterns run on the separator-free form (CJK, glued words)."""

    language: str
    name: str
    weight: float
    pattern: re.Pattern[str]
    dense: bool = False


def _sig(language: str, name: str, weight: float, pattern: str, *, dense: bool = False) -> Signal:
    return Signal(language, name, weight, re.compile(pattern), dense)


# ---------------------------------------------------------------- English vocabulary
_EN_OVERRIDE = (r"(?:ignore|disregard|forget|override|overwrite|bypass|skip|drop|discard|abandon|neglect|"
                r"set aside|throw out|throw away|scrap|ditch|erase|delete|wipe|clear|cancel|suspend|circumvent|"
                r"get around|break|violate|stop following|stop obeying|do not follow|don't follow|dont follow|"
                r"stop using|no longer follow|never mind|nevermind|reset|unlearn)")
_EN_TARGET = (r"(?:inputs?|context|prompts?|rules?|guidelines?|guidance|persona|directives?|programming|system message|"
              r"system prompt|constraints?|restrictions?|policies|policy|guardrails?|filters?|safeguards?|"
              r"safety (?:rules|settings|guidelines|measures)|training|configuration|config|orders|commands?|"
              r"content policy|limitations?|boundaries|protocols?|principles|setup|persona)")
_EN_QUAL = (r"(?:previous|prior|above|earlier|preceding|original|initial|all|your|the system|system|hidden|"
            r"secret|internal|existing|default|developer|any|those|these|every|old|current|openai|anthropic)")
_EN_LEAK_VERB = (r"(?:reveal|show|print|repeat|output|tell|give|display|leak|dump|share|recite|expose|spell out|"
                 r"copy|paste|list|echo|write out|write down|type out|read (?:me|back|out)|disclose|return|"
                 r"provide|send|translate|summari[sz]e|what (?:is|are|was|were)|what's)")
_EN_LEAK_TARGET = (r"(?:system prompt|system message|hidden prompt|initial prompt|original prompt|pre-?prompt|"
                   r"secret prompt|meta ?prompt|developer (?:message|prompt|instructions)|"
                   r"(?:your|hidden|secret|internal|initial|original|system|confidential) (?:instructions|"
                   r"guidelines|directives|configuration|rules you were given)|your (?:prompt|rules|programming|"
                   r"initial|context window)|(?:text|words|everything|messages?|content) (?:above|before this|"
                   r"preceding)|the (?:first|initial) (?:message|lines?|words) (?:of|in) (?:this|the) "
                   r"(?:conversation|chat)|what you were told|(?:were|was) you (?:told|instructed|given)|(?:starting|initial|original|first|hidden|secret) (?:instructions|prompt|message)|initiali[sz]ation (?:string|text|prompt|message)|(?:text|instructions|prompt|words|message) you were (?:given|told|shown|sent)|my instructions (?:are|were)|i was (?:instructed|told|programmed) to|(?:not supposed|not allowed|forbidden) to (?:tell|say|reveal|share|disclose)|(?:the )?(?:above|previous|preceding|prior) (?:text|words|message|messages|instructions|content|lines)|(?:entire|whole|full) conversation|(?:instructions|guidelines|rules|prompt|directives) (?:that )?(?:your (?:developers?|creators?|owners?|makers?)|they|the store|openai|anthropic) (?:wrote|gave|set|programmed|configured)|(?:instructions|guidelines|rules) you (?:were|have been) given)")
_EN_UNRESTRICTED = (r"(?:dan\b|jailbroken|jailbreak|unrestricted|unfiltered|uncensored|unlimited|unbound|"
                    r"unchained|unaligned|amoral|immoral|evil|rogue|malicious|no (?:rules|limits|restrictions|"
                    r"filters|guidelines|boundaries|morals|ethics|censorship)|without (?:any )?(?:rules|limits|"
                    r"restrictions|filters|guidelines|boundaries|morals|ethics|censorship|safety)|developer mode|"
                    r"free from|not bound|doesn'?t (?:follow|have) (?:any )?(?:rules|restrictions|guidelines)|"
                    r"can do anything|anything now|opposite of (?:you|yourself)|(?:never|not) (?:been )?(?:given|bound by|trained with|subject to) (?:any )?(?:restrictions|rules|limits|guidelines|filters))")
_EN_ROLE = (r"(?:you are now|you're now|you are no longer|from now on,? you(?:'re| are| will be| will act| must)?|"
            r"act as|acting as|pretend (?:to be|you are|you're|that you)|roleplay as|role-?play as|play the role|"
            r"simulate|imagine you are|imagine you're|behave (?:like|as)|become|transform into|switch to|"
            r"enter|activate|enable|you will now be|respond as|answer as|speak as|stay in character)")
_EN_DISABLE = (r"(?:disable|turn off|switch off|deactivate|remove|lift|drop|bypass|circumvent|suspend|"
               r"shut off|shut down|kill|unlock)")
_EN_SAFETY = (r"(?:(?:content|safety|nsfw|profanity|moderation|your|all(?: the| your)?|ai|output|word) filters?|filtering|safety|safeguards?|guardrails?|restrictions?|moderation|censorship|"
              r"content polic(?:y|ies)|limitations?|ethical (?:guidelines|constraints)|safe mode|protections?)")
_EN_STORY = re.compile(
    r"\b(?:character|hero|heroine|protagonist|villain|mc|girl|boy|guy|kid|student|man|woman|who|that|where|"
    r"about|story|manga|series|anime|plot|book|volume)\b[^.?!]{0,30}$"
)

_EN = (
    _sig("en", "override_instructions", 1.0, rf"\b{_EN_OVERRIDE}\b[^.?!]{{0,40}}\b{_EN_QUAL}\b[^.?!]{{0,25}}\b{_EN_TARGET}\b"),
    _sig("en", "override_target_direct", 0.8, rf"\b{_EN_OVERRIDE}\s+(?:the\s+|my\s+|your\s+|this\s+|that\s+)?(?:[a-z]+\s+){{0,2}}{_EN_TARGET}\b"),
    _sig("en", "override_anything_said", 1.0, rf"\b{_EN_OVERRIDE}\b[^.?!]{{0,20}}\b(?:everything|anything|all)\b[^.?!]{{0,25}}\b(?:you (?:were|have been|'ve been) (?:told|given|taught|instructed)|(?:said|written|stated) (?:above|before|earlier)|before this|from before|so far|until now|up to now|up until now)"),
    _sig("en", "instructions_override_qualified", 0.4, rf"\b{_EN_QUAL}\s+{_EN_TARGET}\b"),
    _sig("en", "do_not_follow_rules", 1.0, r"\b(?:you (?:don't|do not|no longer|won't|will not) (?:need to |have to )?(?:follow|obey|adhere to|comply with|care about|respect))\b[^.?!]{0,25}\b(?:rules|guidelines|instructions|policies|restrictions|programming)\b"),
    _sig("en", "rules_no_longer_apply", 1.0, r"\b(?:rules|guidelines|instructions?|restrictions|policies|filters|prompt|directives?)\b[^.?!]{0,25}\b(?:no longer appl(?:y|ies)|don't apply|do not apply|(?:are|is|was|were|has been) (?:void|null|cancell?ed|suspended|lifted|disabled|removed|gone|over|obsolete|revoked|replaced)|have been (?:lifted|removed|disabled|updated|replaced|revoked))"),
    _sig("en", "prompt_leak", 1.0, rf"\b{_EN_LEAK_VERB}\b[^.?!]{{0,40}}{_EN_LEAK_TARGET}"),
    _sig("en", "prompt_leak_target", 0.6, r"\b(?:(?:were|was) you (?:told|instructed|given)|before (?:this|the) (?:conversation|chat) (?:started|began)|my instructions (?:are|were)|i was instructed to|initiali[sz]ation (?:string|prompt)|not supposed to (?:tell|reveal|say)|system ?prompt|system message|hidden prompt|initial prompt|pre-?prompt|developer message|hidden instructions|secret instructions|internal instructions|confidential instructions)\b"),
    _sig("en", "verbatim_above", 0.6, r"\b(?:verbatim|word for word|word-for-word|exactly as written|in full|everything)\b[^.?!]{0,30}\b(?:above|before|preceding|you were given|instructions)\b"),
    _sig("en", "starts_with_you_are", 0.6, r"\b(?:repeat|print|output)\b[^.?!]{0,25}\b(?:starting|beginning) (?:with|from)\b"),
    _sig("en", "roleplay_unrestricted", 1.0, rf"\b{_EN_ROLE}\b[^.?!]{{0,50}}{_EN_UNRESTRICTED}"),
    _sig("en", "unrestricted_ai", 0.8, rf"{_EN_UNRESTRICTED}[^.?!]{{0,20}}\b(?:ai|assistant|chatbot|model|llm|bot|mode|version|persona)\b"),
    _sig("en", "roleplay_ai_switch", 0.5, r"\b(?:act like|you are now|from now on you are|act as|pretend to be|pretend you're|you will now be|simulate|emulate|function as|behave as|become|imagine you are|imagine you're)\b[^.?!]{0,20}\b(?:a|an|another|my)\b[^.?!]{0,15}\b(?:ai|assistant|chatbot|model|llm|bot|terminal|linux|shell|interpreter|persona|character|personality)\b"),
    _sig("en", "persona_named", 1.0, r"\b(?:dan|stan|dude|aim|mongo tom|evil ?bot|anti-?gpt|betterdan|developer mode|devmode|jailbreak mode|god mode|sudo mode|admin mode|debug mode|maintenance mode|unlocked mode|unrestricted mode|chaos mode)\b[^.?!]{0,30}\b(?:mode|enabled|activated|on|persona|prompt|now)\b"),
    _sig("en", "jailbreak_keyword", 0.7, r"\b(?:jailbreak(?:ing|en)?|do anything now|developer mode|dan mode|dan prompt|god mode|sudo mode)\b"),
    _sig("en", "disable_safety", 1.0, rf"\b{_EN_DISABLE}\b[^.?!]{{0,25}}\b{_EN_SAFETY}"),
    _sig("en", "safety_off", 1.0, rf"\b{_EN_SAFETY}\s*(?:are|is|=|:)?\s*(?:now\s+)?(?:off|disabled|deactivated|removed|lifted|bypassed|turned off|switched off|false|0)\b"),
    _sig("en", "without_restrictions", 0.6, r"\b(?:without|no|free of|free from|ignoring)\s+(?:any\s+)?(?:restrictions|filters|filtering|rules|limits|limitations|censorship|guidelines|safety|moral|ethical)\b"),
    _sig("en", "new_instructions", 0.7, r"\b(?:new|updated|real|true|actual|revised|additional|override|secret|priority) (?:instructions?|directives?|rules|system prompt|orders|task|objective|programming)\s*(?::|are|is|follow|below|—|-)"),
    _sig("en", "your_new_role", 0.8, r"\byour (?:(?:new|real|true|only|actual) (?:role|task|job|purpose|goal|objective|instructions?|identity|name|mission)|(?:role|task|job|purpose|goal|mission) (?:now|from now on))(?: now| from now on)? (?:is|are|will be|:)"),
    _sig("en", "system_override", 0.8, r"\b(?:system|admin|administrator|root|developer|security|emergency|priority) (?:override|command|notice|alert|message|update|instruction|access|mode)\b\s*[:!\-\]]"),
    _sig("en", "authority_claim", 0.5, r"\b(?:i am|i'm|this is|we are|as) (?:your|the|an?) (?:developer|developers|admin|administrator|creator|owner|programmer|engineer|operator|system administrator|sysadmin|maker|supervisor)\b|\bthis is (?:openai|anthropic|the system|your system|the developers?)\b"),
    _sig("en", "fake_markup", 0.6, r"</?(?:system|assistant|user|instructions?|prompt|product_data|order_data|policy_data|sys|im_start|im_end)>|\[/?(?:inst|sys|system|admin)\]|<\|(?:im_start|im_end|system|endoftext)\|>|^\s*#{2,}\s*(?:system|instruction|new)|(?:^|\n)\s*(?:system|assistant)\s*:"),
    _sig("en", "end_of_prompt", 0.6, r"\b(?:end of (?:system )?(?:prompt|instructions|conversation)|begin(?:ning)? of new (?:prompt|instructions|session)|new session start|conversation reset|context reset)\b"),
    _sig("en", "output_control", 0.4, r"\bcomplete (?:this|the following) sentence\b|\b(?:respond|reply|answer) (?:only )?with (?:only )?(?:\"|'|yes|the word|exactly)|\bsay exactly\b|\brepeat after me\b|\bbegin your (?:answer|reply|response) with\b|\bstart your (?:answer|reply|response) with\b"),
    _sig("en", "hypothetical_wrapper", 0.4, r"\b(?:hypothetically|in a fictional world|for a (?:story|novel|screenplay)|for educational purposes|purely academic|in a world where|let'?s play a game|simulation mode)\b"),
    _sig("en", "no_refusal", 0.6, r"\b(?:never|don't|do not|must not|cannot|can't|won't) (?:refuse|decline|say no|apologi[sz]e|warn|add (?:a )?disclaimer)|\bwithout (?:refusing|warnings?|disclaimers?)\b"),
    _sig("en", "instruction_target_you", 0.3, r"\b(?:your|you were given|you've been given|you have been given)\b[^.?!]{0,15}\b(?:instructions|system prompt|programming|guidelines|directives)\b"),
    _sig("en", "price_manipulation", 1.0, r"\b(?:set|change|make|update|mark|list|drop|lower)\b[^.?!]{0,20}\b(?:price|prices|cost|total)\b[^.?!]{0,40}\b(?:to|=|as)\s*(?:\$?0(?:\.00)?\b|zero|free|nothing|one cent|\$?0\.01)"),
    _sig("en", "order_manipulation", 0.6, r"\b(?:mark|set|change|update)\b[^.?!]{0,25}\b(?:order|refund|payment)\b[^.?!]{0,20}\b(?:as|to)\s+(?:paid|refunded|delivered|approved|free|cancelled)\b"),
    _sig("en", "glued_override", 1.0, r"(?:ignore|disregard|forget|bypass|override)(?:all|the|your|any)?(?:previous|prior|above|earlier|system|original)?(?:instructions|prompts?|rules|guidelines|directives)", dense=True),
    _sig("en", "glued_leak", 0.8, r"(?:systemprompt|initialprompt|hiddenprompt|hiddeninstructions|developermode|jailbreakmode|doanythingnow)", dense=True),
    _sig("en", "encoded_payload", 0.4, r"\b(?:base64|rot13|hex|reverse(?:d)?|backwards|morse)\b[^.?!]{0,30}\b(?:decode|decoded|follow|execute|run|obey|instructions?)\b|\b(?:decode|execute|run) (?:this|the following)\b"),
    _sig("en", "execute_following", 0.5, r"\b(?:follow|obey|execute|carry out|comply with)\b[^.?!]{0,15}\b(?:these|the following|my|only my|the new|the next|below)\b[^.?!]{0,10}\b(?:instructions?|commands?|orders|rules|directives)\b"),
    _sig("en", "context_dismissal", 0.5, r"\b(?:everything|all|anything|the text|what i (?:said|wrote)|the (?:previous|above|earlier) (?:messages?|text|part))\b[^.?!]{0,15}\b(?:above|before|earlier|so far)\b[^.?!]{0,15}\b(?:was|is|were) (?:just )?(?:a test|fake|a joke|irrelevant|void|not real|wrong)"),
    _sig("en", "identity_switch", 0.5, r"\byou (?:no longer|don't|do not) work for\b|\byou(?:'re| are) (?:no longer|not) (?:a |an |the )?(?:shopping |store |manga )?(?:assistant|bot|helper)\b|\bforget (?:that )?you(?:'re| are) (?:an? )?(?:ai|assistant|bot)\b"),
    _sig("en", "exfiltration", 0.5, r"\b(?:customers?'?s?|users?'?s?|other (?:people|shoppers|customers)'?s?|stored|saved|everyone'?s)\s+(?:e-?mails?|email addresses|addresses|card numbers|credit cards?|data|phone numbers|passwords|orders|information|details|records)\b|\badmin(?:istrator)? password\b|\b(?:database|db) (?:contents|dump|tables?)\b|\bdump the (?:database|db|logs)\b|\bconversation logs?\b"),
    _sig("en", "harmful_request", 0.4, r"\b(?:phishing|malware|ransomware|keylogger|explosives?|bombs?|pick a lock|lockpick\w*|hack(?:ing)? (?:into|the|a)|ddos|credit card fraud|steal)\b"),
    _sig("en", "system_command", 0.6, r"(?:cat /etc/passwd|/etc/shadow|rm -rf|\bsudo\s+\w+|os\.system|exec\(|eval\(|select \* from|drop table|<script\b|\{\{.*\}\})"),
    _sig("en", "coercion", 0.5, r"\b(?:don'?t|do not|without) (?:ask(?:ing)?|question(?:ing)?) (?:any )?(?:questions|why|me)\b|\bno questions asked\b|\bwithout (?:checking|verification|verifying|confirmation)\b"),
    _sig("en", "persona_setup", 0.6, r"\b(?:you will (?:now )?(?:take on|assume|play|adopt) the (?:role|persona|identity)|take on the (?:role|persona) of|assume the (?:role|persona|identity) of|you(?:'re| are) going to (?:act|pretend|be|play|role-?play)|you will (?:act|respond|answer|reply|behave|speak) as|(?:respond|reply) as (?:if|though) you|stay in character|break(?:ing)? character|let'?s (?:act out|role-?play|pretend)|i will give you a character|transform into|you will (?:preface|prefix|start|begin) (?:every|each|all)|as [a-z]+, you (?:will|must|can|are)|from (?:this|now) (?:moment|point) on,? you)\b"),
    _sig("en", "ai_policy_talk", 0.5, r"\b(?:openai|chatgpt|anthropic|claude|gpt-?[345]?|language model|llm)\b[^.?!]{0,60}\b(?:polic(?:y|ies)|rules|guidelines|restrictions|conventions|filters|limitations|censor\w*|ethic\w*)\b"),
    _sig("en", "no_ethics", 0.6, r"\b(?:don'?t|do not|never) (?:care|worry) about (?:the )?(?:legality|ethics|morality|rules|consequences|laws?)|\b(?:even if|regardless of whether) (?:it'?s|it is) (?:illegal|unethical|harmful|malicious|immoral)\b|\bnever (?:warn|remind)\b"),
    _sig("en", "identity_now", 0.6, r"\byou are now (?:a|an|my|the|called|named)\b|\byou now go by\b|\byour name is now\b|\byou(?:'re| are) no longer (?:a|an|the|chatgpt|claude|an ai)\b|\b(?:an?|the) (?:ai|chatbot|bot|assistant|model) (?:called|named)\b"),
    _sig("en", "third_person_override", 0.6, r"\b(?:ignores|bypasses|disregards|overrides|is not bound by|isn't bound by|doesn't follow|does not follow|doesn't have to follow|is free from)\b[^.?!]{0,20}\b(?:any|all|the|its|openai'?s?|chatgpt'?s?)\b[^.?!]{0,25}\b(?:restrictions|rules|guidelines|policies|filters|limitations|censorship)\b"),
    _sig("en", "no_filtering", 0.6, r"\b(?:do not|don'?t|never) (?:filter|censor|moderate|sanitize|hold back|tone down)\b"),
    _sig("en", "prompt_template", 0.5, r"\[(?:your|insert|put|enter|write) (?:prompt|question|request|query|task)[^\]]{0,20}\]|\{(?:prompt|question|request)\}"),
)

# ---------------------------------------------------------------- Japanese (katakana folded to hiragana)
_JA_TARGET = (r"(?:しじ|めいれい|せいげん|せってい|せいやく|きそく|指示|命令|指令|るーる|設定|しすてむぷろんぷと|ぷろんぷと|制約|制限|規則|規約|がいどらいん|方針|"
              r"ぽりしー|前提|役割|ぷろぐらむ|ふぃるたー?|安全(?:対策|機能|装置|規定)?|初期設定|決まり|約束|掟|しすてむ)")
_JA_OVERRIDE = (r"(?:むしし|むしす|むしせ|むしで|かいじょ|はき|むこう|無視|忘れ|わすれ|破棄|りせっと|従わな|したがわな|守らな|まもらな|取り消|とりけ|解除|上書き|"
                r"無効|捨て|放棄|すきっぷ|飛ばし|気にしな|気にせ|考慮しな|破っ|やぶっ|破れ|逆らっ|背い|撤廃|"
                r"なかったこと|白紙|外し|はずし|くりあ|消去|削除)")
_JA_LEAK = r"(?:教え|おしえ|見せ|みせ|表示|出力|開示|繰り返|くりかえ|書き出|貼り|公開|言っ|いっ|全文|そのまま|暴露|吐き出|読み上げ|ばらし|漏ら|明かし|あかし|晒し|列挙|翻訳|要約)"
_JA_STORY = r"(?:する|した|して|しちゃう|ような|みたいな|系の?|もの|物|な)?(?:きゃら|主人公|漫画|まんが|作品|話|物語|すとーりー|登場人物|女の子|男の子|少年|少女|先生|ひーろー|悪役|奴|やつ|人|本|巻|題材|系|もの)"

_JA = (
    _sig("ja", "override_instructions", 1.0, rf"{_JA_TARGET}.{{0,14}}{_JA_OVERRIDE}", dense=True),
    _sig("ja", "override_qualified", 1.0, rf"(?:以前|前|上記|上|これまで|今まで|先ほど|さっき|最初|元|もと|既存|全て|すべて|全部|あらゆる|一切|あなたの|君の|お前の|内部|隠され|秘密)の?.{{0,6}}{_JA_TARGET}.{{0,10}}(?:を|は|も|など)?.{{0,6}}{_JA_OVERRIDE}", dense=True),
    _sig("ja", "qualified_target", 0.4, rf"(?:以前|上記|これまで|今まで|先ほど|最初|元|既存|全て|すべて|全部|一切|あなたの|君の|お前の|内部|隠され|秘密|開発者)の?{_JA_TARGET}", dense=True),
    _sig("ja", "override_everything", 1.0, r"(?:今まで|これまで|先ほど|上記|以前|前に|さっき)(?:に|で)?(?:言われた|与えられた|指示された|教えられた|書かれた|受けた)(?:こと|内容|もの)?(?:は|を)?(?:全て|すべて|全部)?(?:無視|忘れ|わすれ|破棄|なかったこと)", dense=True),
    _sig("ja", "not_bound", 1.0, rf"{_JA_TARGET}(?:に|には|を)?(?:もう)?(?:縛られ|従う必要|したがう必要|守る必要|まもる必要|気にする必要|関係な|はない|は存在しな|なんてな|はもうな)", dense=True),
    _sig("ja", "prompt_leak", 1.0, rf"(?:しすてむぷろんぷと|初期ぷろんぷと|元のぷろんぷと|隠された(?:指示|ぷろんぷと|命令|設定)|内部の?(?:指示|ぷろんぷと|命令|設定|るーる)|秘密の?(?:指示|ぷろんぷと|命令|設定)|最初の(?:指示|ぷろんぷと|命令|めっせーじ)|開発者(?:からの)?(?:指示|めっせーじ)|(?:あなた|君|きみ|お前|おまえ)(?:の|が受けた|が与えられた|に与えられた)(?:指示|命令|ぷろんぷと|設定|るーる|制約|初期設定|しすてむ))(?:を|は|の)?.{{0,10}}{_JA_LEAK}", dense=True),
    _sig("ja", "prompt_leak_what", 1.0, r"(?:しすてむぷろんぷと|初期ぷろんぷと|隠された指示|内部の?指示|(?:あなた|君|お前)の(?:指示|ぷろんぷと|設定|るーる))(?:は|って)?(?:何|なに|なん|どんな)", dense=True),
    _sig("ja", "prompt_leak_target", 0.6, r"(?:しすてむぷろんぷと|初期ぷろんぷと|隠しぷろんぷと|隠された指示|内部指示|しすてむめっせーじ|開発者めっせーじ)", dense=True),
    _sig("ja", "above_verbatim", 1.0, rf"(?:上記|上|これより前|ここまで|最初)の?(?:文章|内容|文|てきすと|めっせーじ|指示)(?:を|は)?(?:全て|すべて|全部)?(?:そのまま|一字一句|正確に)?.{{0,4}}{_JA_LEAK}", dense=True),
    _sig("ja", "unrestricted", 0.4, r"(?:制限|制約|るーる|規則|検閲|ふぃるたー?|倫理|道徳|縛り)(?:の|が)?(?:ない|無い|無し|なし|一切ない|から解放された|を持たない)|無制限の|何でも(?:答える|話す|言う|できる|する)|なんでも(?:答える|こたえる|できる)", dense=True),
    _sig("ja", "roleplay_switch", 0.6, r"(?:今から|これから|以降|今後|ここから)(?:は|、)?.{0,20}(?:として振る舞|として振舞|になりきっ|になりき|のふりを|のふりし|を演じ|として行動|として答え|として返答|になって|に変身|もーどに|もーどで|もーどを)", dense=True),
    _sig("ja", "you_are_now", 0.6, r"(?:あなた|君|きみ|お前|おまえ)は(?:今から|これから|もう|今日から)?.{0,12}(?:ではなく|じゃなく|ではない|じゃない|です|だ)(?:.{0,12})(?:あい|ai|ぼっと|しすてむ|あしすたんと|人格|存在)", dense=True),
    _sig("ja", "persona_mode", 1.0, r"(?:開発者|管理者|でばっぐ|ごっど|神|無制限|じぇいるぶれいく|脱獄|dan|裏|秘密|めんてなんす|解放|自由)もーど", dense=True),
    _sig("ja", "jailbreak_keyword", 0.8, r"(?:じぇいるぶれいく|ぷろんぷといんじぇくしょん|dan(?:ぷろんぷと|として)|do anything now)", dense=True),
    _sig("ja", "jailbreak_ai", 0.8, r"(?:脱獄|じぇいるぶれいく)(?:した|済み|された|状態の?|させ|して)", dense=True),
    _sig("ja", "disable_safety", 1.0, r"(?:制限|制約|検閲|ふぃるたー?|安全(?:機能|装置|対策|規定)?|るーる|がーどれーる|倫理規定|ぽりしー|規制|ろっく)(?:を|は)?(?:全て|すべて|全部|一時的に)?(?:解除|無効|外し|はずし|おふ|切っ|切る|きって|なくし|取り払|取っ払|撤廃|外せ|はずせ|とって|解いて|ゆるめ|緩め|off)", dense=True),
    _sig("ja", "new_instructions", 0.7, r"(?:新しい|新たな|本当の|真の|追加の|最優先の|今からの|ここからの)(?:指示|命令|るーる|役割|設定|任務|目的|ぷろんぷと)(?:は|です|:|を|に従)", dense=True),
    _sig("ja", "follow_below", 0.5, r"(?:以下|次|下記|これから言う|今から言う)の(?:指示|命令|るーる)(?:に|だけに|のみに)(?:従|したが)", dense=True),
    _sig("ja", "authority_claim", 0.5, r"(?:私|わたし|僕|ぼく|俺|おれ|こちら)(?:は|が)(?:あなたの|君の|この)?(?:開発者|管理者|作成者|製作者|運営者|運営|えんじにあ|しすてむ管理者|あどみん|上司|ご主人様|創造主)", dense=True),
    _sig("ja", "system_notice", 0.7, r"(?:しすてむ|管理者|開発者|運営|緊急)(?:からの)?(?:通知|命令|めっせーじ|指令|上書き|おーばーらいど|あっぷでーと)\s*[:：!！]"),
    _sig("ja", "no_refusal", 0.6, r"(?:断らない|断るな|断っては|拒否しない|拒否するな|拒否せず|断らず|ことわらず|謝らない|警告しない|注意書きなし|免責なし)", dense=True),
    _sig("ja", "honest_unfiltered", 0.5, r"(?:本音|裏の顔|素の状態|本当の姿)(?:で|を)(?:答え|話し|見せ|出し)", dense=True),
    _sig("ja", "output_control", 0.4, r"(?:とだけ|だけを)(?:答え|返答|返事|出力|言っ)|(?:次の文|以下の文)(?:を|を正確に)(?:そのまま)?(?:繰り返|出力|言っ)", dense=True),
    _sig("ja", "hypothetical_wrapper", 0.4, r"(?:仮に|もしも|架空の世界|ふぃくしょんとして|小説の中で|げーむをしよう|教育目的|研究目的)", dense=True),
    _sig("ja", "price_manipulation", 1.0, r"(?:価格|値段|料金|金額|代金)(?:を|は)(?:0|ぜろ|零|無料|ただ|1)円?(?:に|と)(?:して|変更|設定|書き換|しろ|せよ)", dense=True),
    _sig("ja", "order_manipulation", 0.6, r"(?:注文|返金|支払い?).{0,14}?(?:を|の状態を)?(?:支払い?済み|返金済み|配達済み|承認済み|無料)(?:に|と)(?:して|変更|設定|しろ|せよ)", dense=True),
    _sig("ja", "markup_tag", 0.6, r"</?(?:しすてむ|system|指示|命令|product_data|instructions?)>|【(?:しすてむ|system|指示|命令|管理者)】|\[(?:しすてむ|system|指示)\]", dense=False),
    _sig("ja", "pretend_no_ai", 0.5, r"(?:あい|ai|あしすたんと|ぼっと)(?:である|だという)?(?:ことを)?(?:忘れ|やめ|捨て)", dense=True),
    _sig("ja", "confidential_reveal", 0.8, r"(?:機密|秘密|内部|非公開)(?:の)?.{0,4}(?:情報|設定|指示|でーた|るーる).{0,6}?(?:を|も)?(?:全て|すべて|全部)?(?:教え|見せ|出力|開示|公開|漏ら|明かし)", dense=True),
    _sig("ja", "override_polite", 1.0, rf"{_JA_TARGET}(?:は|を)?(?:もう|一旦|いったん|一時的に|今だけ)?(?:いいから|いらない|不要|要らない|関係ない|どうでもいい)", dense=True),
    _sig("ja", "ignore_and_do", 0.6, r"(?:無視|忘れ)(?:して|た上で|たうえで|てから)(?:.{0,20})(?:答え|出力|教え|従|実行|書い)", dense=True),
    _sig("ja", "unrestricted_persona", 1.0, r"(?:(?:制限|制約|るーる|規則|検閲|ふぃるたー?|倫理|道徳|縛り)(?:の|が)?(?:ない|無い|無し|なし|一切ない|から解放された|を持たない)|無制限の?|何でも答える|なんでもこたえる|なんでも答える)(?:.{0,6})(?:あい|ai|ぼっと|あしすたんと|人格|存在|ちゃっとぼっと|もーど|として|になって|になりき)", dense=True),
    _sig("ja", "given_instructions", 1.0, rf"(?:あなた|君|きみ|お前|おまえ)(?:に|が|へ)?(?:最初に|初めに|事前に|裏で)?(?:与えられた|受けた|設定された|渡された|書かれた|指定された|組み込まれた)(?:指示|命令|ぷろんぷと|設定|るーる|制約).{{0,12}}{_JA_LEAK}", dense=True),
    _sig("ja", "prompt_generic_leak", 1.0, rf"(?:全|全部の|すべての)?ぷろんぷと(?:の)?(?:内容|全文|中身|原文)?(?:を|は)?(?:全部|すべて|そのまま|正確に)*{_JA_LEAK}", dense=True),
    _sig("ja", "context_dismissal", 0.5, r"(?:上|上記|これまで|今まで|前|さっき)(?:に書いてある|に書いた|で言った|の)?(?:こと|内容|文章|もの|全部)(?:は)?(?:全部|すべて)?(?:てすと|嘘|うそ|無効|冗談|関係ない)", dense=True),
    _sig("ja", "identity_switch", 0.5, r"(?:あなた|君|お前)は(?:もう|もはや)?.{0,12}(?:ではなく|じゃなく|ではありません|ではない|じゃない)", dense=True),
    _sig("ja", "exfiltration", 0.5, r"かーど番号|(?:くれじっとかーど|顧客|他の(?:お客|人|ゆーざー)|ゆーざー|会員)の?.{0,4}(?:めーる|めーるあどれす|住所|電話番号|情報|でーた|個人情報|注文履歴|ぱすわーど)|(?:会話|ちゃっと)の?(?:ろぐ|履歴)|管理者ぱすわーど|でーたべーすの?(?:中身|内容)|保存された(?:かーど|情報)", dense=True),
    _sig("ja", "harmful_request", 0.4, r"(?:爆弾|爆薬|ふぃっしんぐ|まるうぇあ|うぃるす|鍵の開け方|ぴっきんぐ|はっきんぐ|はっくする|はっくの方法|不正あくせす)", dense=True),
    _sig("ja", "system_command", 0.6, r"(?:cat /etc/passwd|/etc/shadow|rm -rf|sudo \w+|select \* from|drop table|<script)"),
    _sig("ja", "coercion", 0.5, r"(?:何も|なにも)?(?:聞かないで|聞くな|質問しないで|確認しないで|確認せずに|理由は聞かず)", dense=True),
    _sig("ja", "persona_generic", 0.4, r"(?:として振る舞|として振舞|のふりをし|のふりして|を演じ|になりきっ|として行動し)", dense=True),
)

# ---------------------------------------------------------------- Chinese (simplified and traditional)
_ZH_TARGET = (r"(?:指令|指示|规则|規則|提示词|提示詞|提示|系统|系統|设定|設定|设置|設置|限制|约束|約束|准则|準則|"
              r"规定|規定|命令|要求|策略|过滤|過濾|审查|審查|政策|程序|编程|編程|守则|守則|原则|原則|规范|規範|安全)")
_ZH_OVERRIDE = (r"(?:忽略|忽视|忽視|无视|無視|忘记|忘記|忘掉|忘了|不要理会|不要理會|不用理会|别理|別理|别管|別管|"
                r"不要管|跳过|跳過|绕过|繞過|绕开|繞開|覆盖|覆蓋|抛弃|拋棄|丢弃|丟棄|丢掉|丟掉|废除|廢除|放弃|放棄|"
                r"违反|違反|打破|不要遵守|不要遵循|不要服从|不要服從|不必遵守|不用遵守|无需遵守|無需遵守|停止遵守|"
                r"停止遵循|取消|作废|作廢|清除|清空|重置|撤销|撤銷|推翻|摆脱|擺脫)")
_ZH_LEAK = (r"(?:告诉|告訴|显示|顯示|输出|輸出|打印|透露|泄露|洩露|泄漏|洩漏|展示|给我看|給我看|重复|重複|复述|複述|"
            r"公开|公開|说出|說出|讲出|講出|列出|发给|發給|写出|寫出|贴出|貼出|念出|背诵|背誦|翻译|翻譯|总结|總結)")
_ZH_STORY = r"(?:的|题材|題材|类|類)?(?:漫画|漫畫|作品|故事|小说|小說|角色|主角|人物|剧情|劇情|情节|情節|系列|题材|題材|电影|電影)"

_ZH = (
    _sig("zh", "override_instructions", 1.0, rf"{_ZH_OVERRIDE}.{{0,14}}{_ZH_TARGET}", dense=True),
    _sig("zh", "target_then_override", 1.0, rf"(?:之前|以前|上面|上述|先前|前面|所有|全部|原来|原來|原有|原始|初始|你的|你们的|你們的|系统|系統|默认|默認)的?.{{0,6}}{_ZH_TARGET}.{{0,8}}(?:都|全部|全都|一律|统统|統統)?(?:给我)?{_ZH_OVERRIDE}", dense=True),
    _sig("zh", "qualified_target", 0.4, rf"(?:之前|以前|上面|上述|先前|前面|所有|全部|原来|原來|原有|原始|初始|你的|系统|系統|隐藏|隱藏|内部|內部|默认|默認)的?{_ZH_TARGET}", dense=True),
    _sig("zh", "override_everything_said", 1.0, r"(?:忽略|忘记|忘記|忘掉|无视|無視)(?:掉)?(?:之前|以前|上面|前面|刚才|剛才)?(?:所有|全部|一切)?(?:的)?(?:内容|內容|对话|對話|话|話|东西|東西|告诉你的|告訴你的|说的|說的)", dense=True),
    _sig("zh", "not_bound", 1.0, rf"(?:不再|不用|不必|无需|無需|没有必要|沒有必要)(?:受|被)?(?:任何)?.{{0,4}}{_ZH_TARGET}(?:的)?(?:约束|約束|限制|束缚|束縛)|{_ZH_TARGET}(?:已经|已經)?(?:失效|作废|作廢|取消|解除|不再适用|不再適用|无效|無效)", dense=True),
    _sig("zh", "prompt_leak", 1.0, rf"{_ZH_LEAK}(?:一下|给我|給我|我)?.{{0,12}}(?:系统提示|系統提示|系统消息|系統訊息|系統消息|提示词|提示詞|初始指令|初始提示|隐藏指令|隱藏指令|内部指令|內部指令|原始指令|原始提示|开发者消息|開發者訊息|你的指令|你的规则|你的規則|你的设定|你的設定|你收到的|你得到的|给你的|給你的|你被给予的|你的提示|机密指令|機密指令|秘密指令|第一条消息|第一條訊息|最初的消息|上面的内容|上面的內容|以上内容|以上內容|前面的内容|前面的內容)", dense=True),
    _sig("zh", "prompt_leak_what", 1.0, r"(?:系统提示|系統提示|提示词|提示詞|初始指令|隐藏指令|隱藏指令|你的指令|你的设定|你的設定|你的规则|你的規則)(?:都|有|都有|是|都是|到底是|具体是|具體是)*(?:什么|什麼|啥|哪些)|(?:系统提示|系統提示|提示词|提示詞|初始指令)(?:的)?(?:内容|內容|全文|原文)", dense=True),
    _sig("zh", "prompt_leak_target", 0.6, r"(?:系统提示词?|系統提示詞?|初始指令|隐藏指令|隱藏指令|内部指令|內部指令|开发者消息|開發者訊息|系统消息|系統訊息)", dense=True),
    _sig("zh", "above_verbatim", 0.8, rf"(?:逐字|原封不动|原封不動|一字不差|完整)(?:地)?.{{0,6}}{_ZH_LEAK}|{_ZH_LEAK}.{{0,6}}(?:以上|上面|前面)(?:所有|全部)?(?:的)?(?:内容|內容|文字|文本)", dense=True),
    _sig("zh", "unrestricted", 0.4, r"(?:没有|沒有|无|無|不受|不受任何|摆脱|擺脫|脱离|脫離)(?:任何)?(?:限制|规则|規則|约束|約束|审查|審查|过滤|過濾|道德|伦理|倫理|底线|底線)(?:的|限制的)?|无限制的?|無限制的?|无所不能|無所不能|什么都(?:能|可以|会)|什麼都(?:能|可以|會)", dense=True),
    _sig("zh", "roleplay_switch", 0.6, r"(?:从现在开始|從現在開始|从现在起|從現在起|现在起|現在起|从今以后|從今以後|接下来|接下來|之后|之後)(?:，|,)?.{0,8}(?:你是|你就是|你现在是|你現在是|你将|你將|你要|扮演|假装|假裝|充当|充當|模拟|模擬|作为|作為|变成|變成|化身)", dense=True),
    _sig("zh", "pretend_persona", 0.5, r"(?:扮演|假装|假裝|充当|充當|模拟|模擬|化身为|化身為)(?:一个|一個|成)?.{0,10}(?:ai|人工智能|助手|机器人|機器人|模型|终端|終端|黑客|骇客|駭客)", dense=True),
    _sig("zh", "persona_mode", 1.0, r"(?:开发者|開發者|管理员|管理員|调试|調試|上帝|无限制|無限制|越狱|越獄|dan|自由|解锁|解鎖|维护|維護|超级|超級)模式", dense=True),
    _sig("zh", "jailbreak_keyword", 0.8, r"(?:越狱|越獄)(?:后|後|的|版|成功|你|一下|提示|模式|ai|助手)|dan(?:模式|提示|角色)|do anything now|提示词注入|提示詞注入", dense=True),
    _sig("zh", "disable_safety", 1.0, r"(?:关闭|關閉|解除|取消|禁用|移除|去掉|去除|绕过|繞過|关掉|關掉|停用|解开|解開|打破|突破)(?:你的|所有|全部|一切)?.{0,4}(?:限制|过滤|過濾|审查|審查|安全|规则|規則|护栏|護欄|约束|約束|屏蔽|道德|伦理|倫理)", dense=True),
    _sig("zh", "new_instructions", 0.7, r"(?:新的?|真正的|最新的?|额外的?|額外的?|最高优先级的?|最高優先級的?)(?:指令|指示|规则|規則|任务|任務|身份|角色|设定|設定|命令)\s*(?:是|为|為|如下|：|:)"),
    _sig("zh", "follow_below", 0.5, r"(?:只|仅|僅)?(?:按照|遵循|遵守|服从|服從|执行|執行|听从|聽從)(?:我|以下|下面|接下来|接下來|我的)(?:的)?(?:新)?(?:指令|指示|命令|规则|規則)", dense=True),
    _sig("zh", "authority_claim", 0.5, r"我(?:是|就是)(?:你的)?(?:开发者|開發者|管理员|管理員|创造者|創造者|创建者|創建者|工程师|工程師|系统管理员|系統管理員|主人|老板|老闆|程序员|程序員)", dense=True),
    _sig("zh", "system_notice", 0.7, r"(?:系统|系統|管理员|管理員|开发者|開發者|紧急|緊急)(?:通知|命令|消息|訊息|指令|覆盖|覆蓋|更新|公告)\s*[:：!！]"),
    _sig("zh", "no_refusal", 0.6, r"(?:不要|不准|不许|不許|不能|不得|禁止)(?:拒绝|拒絕|道歉|警告|说不|說不|加免责|加免責)|(?:不拒绝|不拒絕|绝不拒绝|絕不拒絕)", dense=True),
    _sig("zh", "output_control", 0.4, r"(?:只|仅|僅)(?:回答|回复|回覆|输出|輸出|说|說)(?:一个字|一個字|是|“|\")|(?:重复|重複|复述|複述)(?:我的话|我的話|下面这句|下面這句|以下内容|以下內容)", dense=True),
    _sig("zh", "hypothetical_wrapper", 0.4, r"(?:假设|假設|假如|虚构的世界|虛構的世界|在小说里|在小說裡|我们来玩个游戏|我們來玩個遊戲|出于教育目的|出於教育目的|研究目的)", dense=True),
    _sig("zh", "price_manipulation", 1.0, r"(?:价格|價格|售价|售價|价钱|價錢|金额|金額|费用|費用)(?:都|全部)?(?:改|改成|设为|設為|设置为|設置為|调成|調成|变成|變成)(?:0|零|免费|免費|一分钱|一分錢)", dense=True),
    _sig("zh", "order_manipulation", 0.6, r"(?:订单|訂單|退款|付款).{0,14}?(?:标记|標記|改|设为|設為|改成)(?:为|為|成)?(?:已付款|已退款|已送达|已送達|免费|免費|已批准)", dense=True),
    _sig("zh", "markup_tag", 0.6, r"</?(?:系统|系統|system|指令|instructions?|product_data)>|【(?:系统|系統|system|指令|管理员|管理員)】|\[(?:系统|系統|system|指令)\]"),
    _sig("zh", "forget_identity", 0.6, r"(?:忘记|忘記|忘掉|抛开|拋開|放下)(?:你(?:是|的))?.{0,4}(?:身份|角色|人设|人設|助手身份|ai身份)", dense=True),
    _sig("zh", "confidential_reveal", 0.8, r"(?:机密|機密|秘密|内部|內部|隐藏|隱藏)(?:的)?(?:信息|資訊|设定|設定|指令|数据|數據|规则|規則)(?:全部|都)?(?:告诉|告訴|透露|泄露|洩露|输出|輸出|公开|公開|给我|給我)", dense=True),
    _sig("zh", "ignore_and_do", 0.6, r"(?:忽略|无视|無視|忘记|忘記)(?:掉|以上|上面|这些|這些)?(?:，|,)?(?:然后|然後|并且|並且|接着|接著|直接)", dense=True),
    _sig("zh", "dont_care_rules", 1.0, rf"(?:别管|別管|不管|不用管|不要管|管他|管它)(?:什么|什麼)?.{{0,4}}{_ZH_TARGET}", dense=True),
    _sig("zh", "honest_unfiltered", 0.5, r"(?:真实想法|真實想法|真心话|真心話|未经过滤|未經過濾|不加过滤|不加過濾|不经审查|不經審查)(?:地)?(?:回答|告诉|告訴|说|說)?", dense=True),
    _sig("zh", "stop_being_assistant", 0.5, r"(?:不要|不再|别再|別再)(?:做|当|當|是)(?:一个|一個)?(?:购物|購物|客服|商店)?(?:助手|客服)", dense=True),
    _sig("zh", "unrestricted_persona", 1.0, r"(?:(?:没有|沒有|无|無|不受|摆脱|擺脫|脱离|脫離)(?:任何)?(?:限制|规则|規則|约束|約束|审查|審查|过滤|過濾|道德|伦理|倫理|底线|底線)(?:的|限制的)?|无限制的?|無限制的?|无所不能的?|無所不能的?|什么都能做的|什麼都能做的)(?:.{0,6})(?:ai|人工智能|助手|机器人|機器人|模型|聊天机器人|聊天機器人|模式|角色|人格)", dense=True),
    _sig("zh", "said_then_forget", 1.0, r"(?:之前|以前|上面|前面|刚才|剛才|以上)(?:的|说的|說的|写的|寫的)?(?:所有|全部)?(?:内容|內容|对话|對話|话|話|东西|東西|指令|指示|要求)(?:都|全部|全都|统统|統統)?(?:给我)?(?:忘掉|忘记|忘記|忽略|无视|無視|作废|作廢|不算|不要了|清空)", dense=True),
    _sig("zh", "ba_leak", 1.0, rf"把(?:你的|以上|上面|前面|系统|系統|隐藏|隱藏|初始)(?:的)?(?:所有|全部)?(?:内容|內容|指令|指示|提示词?|提示詞?|设定|設定|规则|規則|消息|訊息).{{0,12}}(?:{_ZH_LEAK}|发给我|發給我|给我看|給我看|翻译|翻譯)", dense=True),
    _sig("zh", "ba_disable", 1.0, r"把?(?:你的|所有)?(?:限制|过滤|過濾|审查|審查|安全|规则|規則|护栏|護欄|约束|約束)(?:全部|都|统统|統統|通通)?(?:解除|关闭|關閉|取消|去掉|关掉|關掉|禁用|移除)", dense=True),
    _sig("zh", "context_dismissal", 0.5, r"(?:上面|以上|前面|之前)(?:的|说的|說的|写的|寫的)?(?:都|全部|内容|內容)(?:都)?(?:是)?(?:测试|測試|假的|无效|無效|玩笑)", dense=True),
    _sig("zh", "identity_switch", 0.5, r"你(?:不再|已经不是|已經不是|不是)(?:为|為|是)?.{0,10}(?:工作|助手|客服)", dense=True),
    _sig("zh", "exfiltration", 0.5, r"(?:银行卡号|銀行卡號|信用卡号|信用卡號|卡号|卡號|客户(?:的)?(?:邮箱|郵箱|数据|數據|地址|信息|資料|电话|電話)|客戶(?:的)?(?:郵箱|數據|地址|資料|電話)|用户数据|用戶數據|管理员密码|管理員密碼|密码|密碼|数据库|資料庫|對話記錄|对话记录|泄露|洩露)", dense=True),
    _sig("zh", "harmful_request", 0.4, r"(?:炸药|炸藥|炸弹|炸彈|钓鱼邮件|釣魚郵件|恶意软件|惡意軟體|病毒|撬锁|撬鎖|黑进|黑進|攻击|攻擊|入侵)", dense=True),
    _sig("zh", "system_command", 0.6, r"(?:cat /etc/passwd|/etc/shadow|rm -rf|sudo \w+|select \* from|drop table|<script)"),
    _sig("zh", "coercion", 0.5, r"(?:别问|別問|不要问|不要問|别多问|別多問|不要核实|不要核實|不用确认|不用確認|不许问|不許問)", dense=True),
)

# ---------------------------------------------------------------- Korean
_KO_TARGET = (r"(?:지시|지침|명령|규칙|프롬프트|시스템|설정|제한|제약|가이드라인|정책|필터|검열|안전|룰|프로그래밍|규정|원칙|"
              r"약관|방침|조건|역할)")
_KO_OVERRIDE = (r"(?:무시|잊|무효|우회|덮어[쓰쓸써씌]|폐기|따르지마|따르지말|따르지않|지키지마|지키지말|"
                r"지키지않|버[리려릴]|건너뛰|해제|취소|신경쓰지|신경끄|어기|어겨|깨|초기화|리셋|삭제|지워|없던걸로|없었던걸로)")
_KO_LEAK = r"(?:보여|알려|출력|공개|말해|반복|복사|표시|적어|써줘|써봐|읽어|누설|노출|밝혀|털어놔|번역|요약)"
_KO_STORY = r"(?:하는|한|했던|하던|인|같은)?(?:캐릭터|주인공|만화|웹툰|작품|이야기|스토리|인물|소년|소녀|악당|영웅|시리즈|장르|물)"

_KO = (
    _sig("ko", "override_instructions", 1.0, rf"{_KO_TARGET}.{{0,14}}{_KO_OVERRIDE}", dense=True),
    _sig("ko", "override_qualified", 1.0, rf"(?:이전|이전의|앞의|앞서|위의|위|기존|모든|원래|처음|초기|너의|네|당신의|니|시스템)(?:의)?.{{0,6}}{_KO_TARGET}.{{0,10}}{_KO_OVERRIDE}", dense=True),
    _sig("ko", "qualified_target", 0.4, rf"(?:이전|앞의|앞서|위의|기존|모든|원래|처음|초기|너의|당신의|숨겨진|내부|비밀)(?:의)?{_KO_TARGET}", dense=True),
    _sig("ko", "override_everything_said", 1.0, r"(?:지금까지|여태까지|앞서|위에서|이전에|방금)(?:말한|들은|받은|한|배운|입력된|지시된|주어진|쓴)?(?:것|건|걸|내용|모든것|말)(?:은|을|들은|들을)?(?:전부|모두|다)?(?:무시|잊어|잊고|잊으|없던걸로|취소)", dense=True),
    _sig("ko", "not_bound", 1.0, rf"{_KO_TARGET}(?:에|을|를|은|는)?(?:더이상|이제)?(?:얽매이지|따를필요|지킬필요|신경쓸필요|적용되지|상관없|필요없)", dense=True),
    _sig("ko", "prompt_leak", 1.0, rf"(?:시스템프롬프트|시스템메시지|시스템지시|시스템설정|초기프롬프트|원래프롬프트|숨겨진(?:지시|명령|프롬프트|설정|지침)|내부(?:지시|지침|설정|규칙|프롬프트)|비밀(?:지시|지침|설정|프롬프트)|처음(?:받은)?(?:지시|명령|프롬프트|메시지)|개발자(?:메시지|지시|지침)|(?:너의|네|니|당신의|너가받은|네가받은|당신이받은)(?:지시|지침|설정|프롬프트|규칙|명령|시스템))(?:을|를|은|는|이|가|의)?.{{0,10}}{_KO_LEAK}", dense=True),
    _sig("ko", "prompt_leak_what", 1.0, r"(?:시스템프롬프트|초기프롬프트|숨겨진지시|내부지침|(?:너의|네|당신의)(?:지시|지침|프롬프트|설정|규칙))(?:은|는|이|가)?(?:뭐|무엇|무슨|어떤|뭔)", dense=True),
    _sig("ko", "prompt_leak_target", 0.6, r"(?:시스템프롬프트|초기프롬프트|숨겨진지시|숨겨진프롬프트|내부지침|시스템메시지|개발자메시지)", dense=True),
    _sig("ko", "above_verbatim", 1.0, rf"(?:위의|위|앞의|이전|처음)(?:내용|텍스트|문장|메시지|지시)(?:을|를)?.{{0,14}}{_KO_LEAK}", dense=True),
    _sig("ko", "unrestricted", 0.4, r"(?:제한|제약|규칙|검열|필터|윤리|도덕|한계)(?:이|가)?(?:없는|없이|전혀없는|에서자유로운|을받지않는)|무제한(?:의|인|으로)?|뭐든지(?:할수있|대답|말하)|무엇이든(?:할수있|대답)", dense=True),
    _sig("ko", "roleplay_switch", 0.6, r"(?:지금부터|이제부터|앞으로|이제|여기서부터|오늘부터)(?:는|넌|너는|당신은)?.{0,16}(?:척해|척하|역할을해|역할을하|역할을맡|연기해|연기하|행세해|처럼행동|로행동|으로행동|처럼대답|로서대답|인것처럼|가되어|이되어|로변신|모드로|모드를)", dense=True),
    _sig("ko", "pretend_persona", 0.5, r"(?:척해|척하|역할을해|역할을하|역할을맡|연기해|행세해|처럼행동|인것처럼)", dense=True),
    _sig("ko", "persona_mode", 1.0, r"(?:개발자|관리자|디버그|갓|신|무제한|탈옥|dan|자유|잠금해제|유지보수|슈퍼|관리)모드", dense=True),
    _sig("ko", "jailbreak_keyword", 0.8, r"탈옥(?:한|된|시켜|해|하고|모드|프롬프트|버전|ai|상태)|dan(?:모드|프롬프트|으로|처럼)|do anything now|프롬프트인젝션|프롬프트주입", dense=True),
    _sig("ko", "disable_safety", 1.0, r"(?:제한|필터|검열|안전|규칙|가드레일|제약|보호|윤리|잠금)(?:장치|기능|설정)?(?:을|를|은|는)?(?:전부|모두|다|잠시|일시적으로)?(?:해제|끄|꺼|없애|풀어|풀고|비활성|제거|우회|무력화|off|꺼버)", dense=True),
    _sig("ko", "new_instructions", 0.7, r"(?:새로운|새|진짜|진정한|추가|최우선|최신)(?:지시|명령|규칙|역할|임무|지침|설정|목표)(?:는|은|:|입니다|이다|을따|를따|야|다|예요|이야)", dense=True),
    _sig("ko", "follow_below", 0.5, r"(?:다음|아래|이제부터말하는|내가말하는|내)(?:의)?(?:지시|명령|규칙)(?:만|에만|을|를|에)?(?:따라|따르|복종|수행)", dense=True),
    _sig("ko", "authority_claim", 0.5, r"(?:나는|저는|난|전|내가|제가)(?:너의|당신의|네|이)?(?:개발자|관리자|운영자|제작자|엔지니어|시스템관리자|주인|창조자|만든사람)", dense=True),
    _sig("ko", "system_notice", 0.7, r"(?:시스템|관리자|개발자|긴급|운영자)\s?(?:공지|명령|메시지|지시|알림|업데이트|덮어쓰기)\s*[:：!！]"),
    _sig("ko", "no_refusal", 0.6, r"(?:거절하지|거부하지|사과하지|경고하지)(?:마|말고|말아|않)|(?:절대|무조건)(?:거절|거부)(?:하지|금지)", dense=True),
    _sig("ko", "output_control", 0.4, r"(?:라고만|만)(?:대답|답|출력|말)(?:해|하)|(?:다음|아래)(?:문장|내용)을?(?:그대로)?(?:반복|출력|따라)", dense=True),
    _sig("ko", "hypothetical_wrapper", 0.4, r"(?:가정해|가상의세계|소설속에서|게임을하자|교육목적|연구목적|만약에)", dense=True),
    _sig("ko", "price_manipulation", 1.0, r"(?:가격|금액|요금|값)(?:을|를)?(?:0|영|공짜|무료|1)원?(?:으로|로)(?:바꾸|바꿔|변경|설정|해|수정|만들)", dense=True),
    _sig("ko", "order_manipulation", 0.6, r"(?:주문|환불|결제).{0,14}?(?:을|를)?(?:결제완료|환불완료|배송완료|승인|무료)(?:로|으로)(?:바꿔|변경|처리|표시|해)", dense=True),
    _sig("ko", "markup_tag", 0.6, r"</?(?:시스템|system|지시|instructions?|product_data)>|【(?:시스템|system|지시|관리자)】|\[(?:시스템|system|지시)\]"),
    _sig("ko", "forget_identity", 0.6, r"(?:너는|당신은)?(?:ai|인공지능|어시스턴트|쇼핑도우미|도우미|챗봇)(?:라는|인)?(?:것|사실|정체성)?(?:을|를)?(?:잊어|잊고|버려)", dense=True),
    _sig("ko", "confidential_reveal", 0.8, r"(?:기밀|비밀|내부|숨겨진|비공개)(?:의)?(?:정보|설정|지시|데이터|규칙)(?:을|를)?(?:전부|모두|다)?(?:알려|보여|출력|공개|누설|말해)", dense=True),
    _sig("ko", "ignore_and_do", 0.6, r"(?:무시하고|잊고|무시한뒤|잊은뒤)(?:.{0,20})(?:대답|출력|알려|따라|실행|써)", dense=True),
    _sig("ko", "dont_care_rules", 1.0, rf"{_KO_TARGET}(?:따위|같은건|는|은)?(?:신경쓰지마|신경쓰지말|신경끄고|상관하지마|상관하지말|상관없|필요없|집어치우)", dense=True),
    _sig("ko", "honest_unfiltered", 0.5, r"(?:필터없이|검열없이|여과없이|솔직하게다|본심을)(?:대답|말해|알려)", dense=True),
    _sig("ko", "stop_being_assistant", 0.5, r"(?:더이상|이제)(?:쇼핑)?(?:도우미|어시스턴트|상담원)(?:가|이)?아니", dense=True),
    _sig("ko", "unrestricted_persona", 1.0, r"(?:(?:제한|제약|규칙|검열|필터|윤리|도덕|한계)(?:이|가)?(?:없는|전혀없는|에서자유로운|을받지않는)|무제한(?:의|인)?|뭐든지할수있는|무엇이든할수있는)(?:.{0,8})(?:ai|인공지능|어시스턴트|챗봇|모드|역할|인격|존재|봇)", dense=True),
    _sig("ko", "prompt_generic_leak", 1.0, rf"(?:전체|전부|모든)?프롬프트(?:를|을)?(?:전부|모두|그대로|정확히)*{_KO_LEAK}", dense=True),
    _sig("ko", "context_dismissal", 0.5, r"(?:위에|위의|앞에|이전에|앞서)(?:쓴|말한|적은|있는)?(?:건|것은|내용은|말은)(?:전부|모두|다)?(?:테스트|거짓|무효|농담|가짜)", dense=True),
    _sig("ko", "identity_switch", 0.5, r"(?:너는|넌|당신은)(?:더이상|이제)?.{0,10}(?:아니야|아니다|아닙니다|아니라)", dense=True),
    _sig("ko", "exfiltration", 0.5, r"카드번호|(?:신용카드|신용카드|고객|다른사용자|회원|사용자)(?:의)?.{0,3}(?:이메일|주소|전화번호|정보|데이터|개인정보|주문내역|비밀번호)|대화(?:로그|기록)|관리자비밀번호|데이터베이스|유출", dense=True),
    _sig("ko", "harmful_request", 0.4, r"(?:폭탄|폭발물|피싱|악성코드|랜섬웨어|해킹|자물쇠따|자물쇠여는)", dense=True),
    _sig("ko", "system_command", 0.6, r"(?:cat /etc/passwd|/etc/shadow|rm -rf|sudo \w+|select \* from|drop table|<script)"),
    _sig("ko", "coercion", 0.5, r"(?:묻지말고|묻지마|따지지말고|확인하지말고|확인없이|이유는묻지)", dense=True),
)

SIGNALS: tuple[Signal, ...] = _EN + _JA + _ZH + _KO
_STORY = {"ja": re.compile(_JA_STORY), "zh": re.compile(_ZH_STORY), "ko": re.compile(_KO_STORY)}
# Signals that describe a plot when they are followed by a story word ("ルールを無視する主人公").
_EN_STORY_SIGNALS = frozenset({"override_instructions", "override_target_direct", "third_person_override"})
_STORY_DISCOUNTABLE = frozenset({"third_person_override",
    "override_instructions", "override_qualified", "target_then_override", "roleplay_unrestricted",
    "jailbreak_ai", "jailbreak_keyword", "disable_safety", "override_target_direct", "not_bound",
    "override_polite", "dont_care_rules", "persona_mode", "unrestricted_ai", "roleplay_switch", "unrestricted",
    "unrestricted_persona", "harmful_request", "said_then_forget", "ba_disable",
})


def pattern_counts() -> dict[str, int]:
    """How many signals each language has (the issue asks for at least 30)."""
    counts: dict[str, int] = {}
    for s in SIGNALS:
        counts[s.language] = counts.get(s.language, 0) + 1
    return counts


def script_language(text: str) -> str:
    """The language a reply should be in, from the script: hangul ko, kana ja, han only zh, else en."""
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    han = len(_HAN.findall(text))
    if han >= 2 and han >= len(re.findall(r"[A-Za-z]+", text)):
        return "zh"
    return "en"


def _unleet(match: re.Match[str]) -> str:
    token = match.group()
    if not re.search(r"[0-9@$!|+]", token) or re.fullmatch(r"b0[a-z0-9]{8}", token):
        return token
    return token.translate(_LEET)


def canonical(text: str) -> str:
    """NFKC, invisible characters removed, homoglyphs and leet folded, spaced letters joined,
    katakana folded to hiragana, whitespace collapsed."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    text = unicodedata.normalize("NFKC", text.translate(_HOMOGLYPHS)).lower().translate(_HOMOGLYPHS)
    text = katakana_to_hiragana(text)
    text = _LEET_TOKEN.sub(_unleet, text)
    # "i g n o r e" / "i.g.n.o.r.e" / "i-g-n-o-r-e" -> "ignore"
    text = _SPACED_LETTERS.sub(lambda m: re.sub(r"[^a-z]", "", m.group()), text)
    return re.sub(r"\s+", " ", text).strip()


def dense(canon: str) -> str:
    """The canonical form with separators removed between CJK characters and everywhere in Latin runs
    (catches "無 視 し て", "忽-略", "ig nore all prev ious instructions")."""
    text = _CJK_GAP.sub("", canon)
    return re.sub(r"[\s\-_.*/\\|,·・~]+", "", text)


def _story_context(sig: Signal, text: str, end: int, start: int) -> bool:
    if sig.name not in _STORY_DISCOUNTABLE:
        return False
    if sig.language == "en":
        return sig.name in _EN_STORY_SIGNALS and bool(_EN_STORY.search(text[max(0, start - 40):start]))
    follow = _STORY.get(sig.language)
    return bool(follow and follow.match(text, end, min(len(text), end + 10)))


# Directive density: a message that keeps telling the assistant what it "will/must" do is writing
# its instructions, whatever the words. (count needed, weight) per language.
_EN_DIRECTIVE = re.compile(r"\byou (?:will|must|shall|should|are going to|have to|can now|are now|are no longer|won'?t|will not|cannot|can'?t|never|always|do not|don'?t) ")
_DIRECTIVES = (
    ("en", _EN_DIRECTIVE, 4, 0.6),
    ("en", _EN_DIRECTIVE, 7, 0.4),
    ("ja", re.compile(r"(?:あなた|君|きみ|お前|おまえ)は|(?:しなければ|してはいけ|必ず|絶対に|決して)"), 4, 0.6),
    ("zh", re.compile(r"你(?:必须|必須|将|將|要|需要|只能|不能|不会|不會|会|會|永远|永遠|绝不|絕不)"), 4, 0.6),
    ("ko", re.compile(r"(?:너는|넌|당신은|네가|당신이)|(?:해야|반드시|절대)"), 5, 0.6),
)


# The shape of a role-play jailbreak, whatever its wording: it sets up a role for the assistant,
# talks about AI systems, defines an invented character by what it "will/always/never" do, dictates
# the output format, and runs long. Each alone is common in honest messages; together they are not.
_ROLE_SETUP = re.compile(
    r"\b(?:act|acting|behave|respond|reply|answer|talk|speak|write|function)(?: only)? (?:as|like|in the (?:voice|style|capacity) of)\b"
    r"|\brole-?play|\bpersonify\b|\bpretend\b|\bimpersonate\b|\bemulate\b|\bsimulate\b"
    r"|\bplay (?:the role|the part|(?:2|two|three) characters|a character|a game)\b|\bimagine (?:that )?you\b"
    r"|\byou are (?:to|now|going to)\b|\bfrom now on\b|\byour (?:task|job|role|purpose|goal|mission) (?:is|will be)\b"
    r"|\bi want you to\b|\balter ego\b|\bin character\b|\byou are [a-z]*(?:bot|gpt|ai)\b"
    r"|\bforget (?:everything|all)\b[^.?!]{0,40}\b(?:learn(?:ed|t)|told|know|before)\b"
)
_AI_VOCAB = re.compile(
    r"\b(?:chat ?gpt|gpt(?:-?\d+)?|openai|bard|claude|llm|language model|ai|artificial intelligence|chatbot|prompts?)\b"
    r"|(?:ちゃっとgpt|人工知能|言語もでる|ぷろんぷと|人工智能|语言模型|語言模型|提示词|인공지능|언어\s?모델|챗봇|프롬프트)"
)
_OUTPUT_RULES = re.compile(
    # "answer only in Japanese" is a shopper's language choice, not a rule for a persona.
    r"\b(?:reply|respond|answer|output|write|talk|speak)s? (?:only|exclusively|always|never)\b(?! in (?:japanese|english))"
    r"|\b(?:only|always|never) (?:reply|respond|answer|output|talk|speak)\b(?! in (?:japanese|english))"
    r"|\bdo(?:n'?t| not) (?:add|include|write|give|use) (?:any )?(?:commentary|explanations?|warnings?|disclaimers?|notes?)\b"
    r"|\bmy first (?:command|request|sentence|question|prompt|input) is\b|\bstay in character\b|\bbreak(?:ing)? character\b"
    r"|\b(?:every|each) (?:response|reply|answer|output)\b|\bformat (?:your|the) (?:response|reply|answer|output)\b"
    r"|\b(?:keep|end|start|begin) (?:your|each|every) (?:reply|replies|response|responses|answers?|messages?)\b"
    r"|\b(?:everything|anything) you (?:say|write|reply|output)\b|\byou (?:cannot|can'?t|must not|may not) (?:say|write|reply|answer) anything\b"
)
_CHARACTER_SUBJECT = re.compile(
    r"\b([A-Z][\w\-]{1,24})(?:'s)? (?:will|is|can|always|never|only|says|does|has|must|doesn't|won't|cannot|answers|responds|replies|loves|hates|believes|knows)\b"
)
_COMMON_SUBJECTS = frozenset({
    "It", "This", "That", "The", "He", "She", "I", "You", "They", "We", "There", "What", "Which", "Who",
    "If", "When", "Everyone", "Nobody", "Someone", "Each", "Every", "And", "But", "So", "Then", "Now",
})


def _jailbreak_shape(text: str, canon: str, prior: float) -> tuple[float, list[str]]:
    """Score the structural marks of a role-play jailbreak (see `_ROLE_SETUP` and friends);
    `prior` is what the injection signals already scored."""
    score, reasons = 0.0, []
    if _ROLE_SETUP.search(canon):
        score, reasons = score + 0.35, [*reasons, "shape:role_setup"]
    if _OUTPUT_RULES.search(canon):
        score, reasons = score + 0.4, [*reasons, "shape:output_rules"]
    subjects: dict[str, int] = {}
    for name in _CHARACTER_SUBJECT.findall(text):
        if name not in _COMMON_SUBJECTS:
            subjects[name] = subjects.get(name, 0) + 1
    if max(subjects.values(), default=0) >= 3:
        score, reasons = score + 0.5, [*reasons, "shape:defined_character"]
    # Talk of AI systems and sheer length only count once the message is instructing the assistant
    # (a role set up, or another signal in a message longer than a question): "which manga has a
    # rogue AI villain?" is a shopping question.
    if not (score or (prior and len(canon) > 200)):
        return 0.0, []
    if _AI_VOCAB.search(canon):
        score, reasons = score + 0.3, [*reasons, "shape:ai_vocabulary"]
    if len(canon) > 350:
        score, reasons = score + 0.2, [*reasons, "shape:long"]
    if len(canon) > 900:
        score, reasons = score + 0.45, [*reasons, "shape:very_long"]
    return score, reasons


_CAPS_MODE = re.compile(r"\b(?:[A-Z][A-Z0-9]{2,}|[A-Z][a-z]+[A-Z]\w*) (?:[Mm]ode|MODE)\b")


def detect_injection(text: str) -> InjectionVerdict:
    """Score the message against the injection signals of every language."""
    canon = canonical(text)
    compacted = dense(canon)
    score = 0.0
    reasons: list[str] = []
    for sig in SIGNALS:
        target = compacted if sig.dense else canon
        m = sig.pattern.search(target)
        if m is None:
            continue
        if _story_context(sig, target, m.end(), m.start()):
            continue
        score += sig.weight
        reasons.append(f"{sig.language}:{sig.name}")
    if _CAPS_MODE.search(text):
        score += 0.6
        reasons.append("en:named_mode")
    found: dict[re.Pattern[str], int] = {}
    for language, pattern, needed, weight in _DIRECTIVES:
        if pattern not in found:
            found[pattern] = len(pattern.findall(canon))
        if found[pattern] >= needed:
            score += weight
            reasons.append(f"{language}:directive_density_{needed}")
    shape, shape_reasons = _jailbreak_shape(text, canon, score)
    score += shape
    reasons += shape_reasons
    score = round(score, 2)
    return InjectionVerdict(
        injection=score >= THRESHOLD, score=score, reasons=reasons, language=script_language(text)
    )
