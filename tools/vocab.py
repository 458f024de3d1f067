"""Words shoppers use for genres, demographics, formats and editions, in English and Japanese."""

from __future__ import annotations

import functools

from tools.text import normalize, search_terms, tokenize, words_pattern

# genre -> (Japanese display label, words that ask for it). Words are matched on normalised text;
# English words at word boundaries, Japanese ones as substrings (katakana folded to hiragana).
GENRES: dict[str, tuple[str, tuple[str, ...]]] = {
    "action": ("アクション", ("action", "fight", "fighting", "battle", "アクション", "バトル")),
    "adventure": ("冒険", ("adventure", "journey", "quest", "冒険", "アドベンチャー")),
    # Not 面白い: "面白い漫画" asks for a good read far more often than for a funny one (the lexical
    # leg drops it with the other praise words, `tools.text`).
    "comedy": ("コメディ", ("comedy", "funny", "hilarious", "humor", "humour", "gag", "laugh",
                         "コメディ", "ギャグ", "笑える", "お笑い")),
    "drama": ("ドラマ", ("drama", "dramatic", "emotional", "tearjerker", "sad", "tragic", "tragedy",
                       "heartbreaking", "bittersweet", "ドラマ", "泣ける", "感動", "切ない", "悲しい")),
    "fantasy": ("ファンタジー", ("fantasy", "magic", "wizard", "witch", "dragon", "ファンタジー", "魔法", "魔女")),
    "horror": ("ホラー", ("horror", "scary", "creepy", "spooky", "terrifying", "frightening",
                        "ホラー", "怖い", "こわい", "恐怖", "怪奇")),
    "mystery": ("ミステリー", ("mystery", "mysteries", "detective", "whodunit", "ミステリー", "ミステリ",
                           "推理", "探偵", "謎解き")),
    "psychological": ("心理", ("psychological", "mind game", "mind games", "mind-bending", "battle of wits",
                            "心理", "サイコ", "頭脳戦", "心理戦")),
    "romance": ("恋愛", ("romance", "romantic", "love story", "rom-com", "romcom", "love",
                       "恋愛", "ラブコメ", "ラブストーリー", "恋", "ロマンス")),
    "sci-fi": ("SF", ("sci-fi", "scifi", "science fiction", "sf", "space", "cyberpunk", "robots",
                    "sf", "ＳＦ", "宇宙", "サイバーパンク")),
    "slice-of-life": ("日常", ("slice of life", "slice-of-life", "cozy", "cosy", "comfy", "wholesome",
                            "iyashikei", "relaxing", "healing", "日常", "ほのぼの", "まったり", "癒し", "癒やし")),
    "sports": ("スポーツ", ("sports", "sport", "basketball", "soccer", "football", "volleyball",
                        "baseball", "boxing", "tennis", "スポーツ", "バスケ", "サッカー", "バレー",
                        "野球", "ボクシング")),
    "supernatural": ("超常", ("supernatural", "ghost", "ghosts", "yokai", "spirits", "demons",
                           "超常", "妖怪", "幽霊", "霊", "怪異")),
    "thriller": ("スリラー", ("thriller", "suspense", "survival", "スリラー", "サスペンス", "サバイバル")),
    "historical": ("歴史", ("historical", "history", "samurai", "feudal", "歴史", "時代劇", "時代もの", "侍")),
    "mecha": ("ロボット", ("mecha", "giant robot", "ロボット", "メカ")),
    "isekai": ("異世界", ("isekai", "another world", "reincarnated", "異世界", "転生")),
    "school": ("学園", ("school", "high school", "highschool", "学園", "学校", "高校", "部活")),
    "music": ("音楽", ("music", "band", "musician", "piano", "音楽", "バンド", "ピアノ")),
    "cooking": ("料理", ("cooking", "food", "cook", "gourmet", "recipe", "料理", "グルメ", "食べ物")),
    "crime": ("犯罪", ("crime", "gangster", "yakuza", "mafia", "犯罪", "ヤクザ", "極道")),
    "military": ("戦争", ("military", "war", "soldier", "戦争", "軍", "ミリタリー")),
    "martial-arts": ("格闘", ("martial arts", "martial-arts", "kung fu", "karate", "格闘", "武術", "空手")),
    "medical": ("医療", ("medical", "doctor", "hospital", "医療", "医者", "病院")),
    "post-apocalyptic": ("終末", ("post-apocalyptic", "apocalypse", "apocalyptic", "dystopia",
                              "dystopian", "end of the world", "end-of-the-world", "collapsed civilization",
                              "collapsed civilisation", "終末", "ディストピア", "世紀末", "世界の終わり",
                              "人類滅亡", "文明崩壊", "滅んだ世界", "滅びた世界")),
}

# Besides its own word and label: the words of `GENRES` that name the genre itself, not a kind
# within it ("sports manga" asks for the genre; "boxing manga", also read as sports, for one sport).
GENRE_NAMES: dict[str, tuple[str, ...]] = {
    "adventure": ("アドベンチャー",),
    "comedy": ("funny", "humor", "humour", "gag", "ギャグ", "お笑い", "笑える"),
    "horror": ("scary", "怖い", "恐怖"),
    "mystery": ("mysteries", "whodunit", "ミステリ", "推理"),
    "romance": ("romantic", "love story", "rom-com", "romcom", "ラブコメ", "ラブストーリー", "ロマンス"),
    "sci-fi": ("scifi", "science fiction", "sf", "ＳＦ"),
    "slice-of-life": ("slice of life", "iyashikei", "ほのぼの", "癒し", "癒やし"),
    "sports": ("sport",),
    "thriller": ("suspense", "サスペンス"),
    "historical": ("history", "時代劇", "時代もの"),
    "mecha": ("メカ",),
    "cooking": ("gourmet", "グルメ"),
    "military": ("ミリタリー",),
    "martial-arts": ("martial arts", "武術"),
    "post-apocalyptic": ("apocalyptic",),
}

# Each genre's own word as lexical terms (English, Japanese), and its words' terms one set per word.
GENRE_TERMS: dict[str, tuple[frozenset[str], frozenset[str], tuple[frozenset[str], ...]]] = {
    genre: (
        frozenset(tokenize(genre)), frozenset(tokenize(ja)),
        tuple(terms for word in words if (terms := frozenset(tokenize(word)))),
    )
    for genre, (ja, words) in GENRES.items()
}

# Everyday words one letter from a genre word: read as themselves, never as a misspelt genre
# ("looking for ..." is no "cooking", "boring" no "boxing", "a defective copy" no "detective").
NOT_MISSPELT_GENRES = frozenset({
    "auction", "booking", "boring", "bottle", "cattle", "comely", "cooling", "creeps", "dealing",
    "defective", "demos", "heading", "hearing", "heating", "hooking", "karats", "lemons", "lighting",
    "lizard", "looking", "mastery", "ports", "rattle", "righting", "sealing", "sighting", "sorts", "spots",
})

DEMOGRAPHICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "shonen": ("少年", ("shonen", "shounen", "shōnen", "少年")),
    "shojo": ("少女", ("shojo", "shoujo", "shōjo", "少女")),
    "seinen": ("青年", ("seinen", "青年")),
    "josei": ("女性", ("josei", "女性向け")),
    "kodomo": ("児童", ("kids", "children", "kodomo", "子供向け", "子ども向け", "児童")),
}

# The readerships written for adults, and the kinds of story that make a series of theirs a gentle
# everyday one for any age (Chi's Sweet Home and Yotsuba&! run in magazines for adults).
ADULT_DEMOGRAPHICS = frozenset({"seinen", "josei"})
GENTLE_GENRES = frozenset({"slice-of-life", "comedy", "cooking"})

FORMAT_WORDS: dict[str, tuple[str, ...]] = {
    "digital": ("digital", "ebook", "e-book", "kindle", "electronic", "電子", "デジタル"),
    "print": ("print", "paperback", "physical", "hard copy", "紙", "単行本", "書籍版"),
}

EDITION_WORDS: dict[str, tuple[str, ...]] = {
    "JA": ("japanese edition", "japanese version", "in japanese", "japanese copy", "japanese language",
           "japanese volume", "日本語版", "日本語の", "原書", "和書"),
    "EN": ("english edition", "english version", "in english", "english translation", "english copy",
           "英語版", "英語の", "英訳", "翻訳版"),
}

STATUS_JA = {"ongoing": "連載中", "completed": "完結", "hiatus": "休載中"}

# Places outside the store's two home markets (the US and Japan): a shopper naming one asks about
# shipping abroad, which the policies call "international" / 「海外」 and name no country for.
ABROAD_WORDS: tuple[str, ...] = (
    "abroad", "overseas", "uk", "united kingdom", "britain", "england", "scotland", "ireland",
    "canada", "australia", "new zealand", "germany", "france", "italy", "spain", "netherlands",
    "sweden", "norway", "poland", "europe", "korea", "china", "taiwan", "hong kong", "singapore",
    "thailand", "philippines", "indonesia", "india", "brazil", "mexico", "asia",
    "国外", "イギリス", "英国", "カナダ", "オーストラリア", "ドイツ", "フランス",
    "イタリア", "スペイン", "ヨーロッパ", "韓国", "中国", "台湾", "香港",
    "シンガポール", "ブラジル", "メキシコ", "アジア",
)
# What a place abroad adds to a policy search's words, per language of the words.
ABROAD_TERMS = {"en": "international internationally", "ja": "海外"}

# Words shoppers use for a kind of story that catalog entries word otherwise (initialisms, umbrella
# terms): a search with one of them also looks for the catalog's own words.
STORY_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "boys' love, ボーイズラブ": ("bl", "yaoi", "boys love", "やおい"),
    "transgender, gender identity, boys' love, トランスジェンダー, 性自認, ボーイズラブ": (
        "lgbt", "lgbtq", "lgbtqia", "queer", "gay", "lesbian", "trans", "トランス", "同性愛", "ゲイ",
    ),
    # A heroine passing as a boy (or a hero as a girl).
    "cross-dressing, 男装, 女装": tuple(
        f"{verb} {who}"
        for verb in ("pretends to be", "pretend to be", "pretending to be", "disguised as", "disguises herself as",
                     "disguised herself as", "dressed as", "dresses as", "dressing as", "posing as", "passes as",
                     "passing as")
        for who in ("a boy", "a guy", "a man", "a girl", "a woman")
    ) + ("crossdressing", "cross dressing", "男のふり", "男の子のふり", "男子のふり", "女のふり", "性別を偽", "男と偽"),
    # "a class forced to kill each other"
    "death game, survival game, デスゲーム": (
        "kill each other", "killing each other", "fight to the death", "last one standing", "last one alive",
        "殺し合い", "殺し合う",
    ),
    # Subjects the catalog names in one word, told in the shopper's many.
    "deaf heroine, sign language, 聴覚障害, 手話": (
        "deaf", "can't hear", "cannot hear", "hearing impaired", "hard of hearing", "耳が聞こえない",
        "耳の聞こえない", "難聴", "ろう者",
    ),
    "time travel, タイムトラベル": (
        "back in time", "back to the past", "time loop", "time-loop", "timeloop", "timeline", "timelines",
        "change the past", "changing the past", "rewrite the past", "from the future", "過去に戻", "過去へ戻",
        "過去に飛", "タイムリープ", "時間を巻き戻", "時間が巻き戻", "時をかけ",
    ),
    "body swap, 入れ替わり": (
        "swap bodies", "swapped bodies", "swapping bodies", "switch bodies", "switched bodies", "body switch",
        "体が入れ替わ", "身体が入れ替わ", "入れ替わっ",
    ),
    "amnesia, memory loss, 記憶喪失": (
        "lost his memory", "lost her memory", "lost their memory", "lost his memories", "lost her memories",
        "loses his memory", "loses her memory", "loses their memory", "no memory of", "記憶をなく", "記憶を失",
    ),
    "reincarnation, 転生": ("reborn", "past life", "past lives", "生まれ変わ", "前世"),
    "childhood friends, 幼なじみ": ("childhood friend", "grew up together", "幼馴染", "おさななじみ"),
    "single father, parenting, シングルファーザー, 子育て": (
        "single dad", "single father", "widowed father", "raising a kid", "raising a child", "raising his daughter",
        "raising his son", "raising her son", "raising her daughter", "dad raising", "father raising",
        "raising a little girl", "raising a little boy", "raising a daughter", "raising a son", "父子家庭", "男手ひとつ", "男手一つ",
        "シングルファザー",
    ),
    "bullying, いじめ": ("bullied", "bully", "bullies", "いじめられ", "イジメ"),
    "delinquents, ヤンキー": ("delinquent", "yankee", "yankees", "thugs", "不良"),
    "vampires, 吸血鬼": ("vampire", "ヴァンパイア", "バンパイア"),
    "aliens, 宇宙人": ("alien", "extraterrestrial", "extraterrestrials", "エイリアン"),
    "fake relationship, 偽の恋人": (
        "fake dating", "pretend to date", "pretending to date", "pretend to be dating", "pretending to be dating",
        "pretend to be a couple", "pretending to be a couple", "fake couple", "fake boyfriend", "fake girlfriend",
        "contract relationship", "偽装恋愛", "偽の彼氏", "偽の彼女", "偽装カップル", "ニセの恋人",
    ),
    "stepsiblings, 義理のきょうだい": (
        "stepbrother", "stepsister", "step-brother", "step-sister", "step brother", "step sister",
        "義理の兄", "義理の弟", "義理の姉", "義理の妹", "義兄", "義妹", "連れ子",
    ),
    "living together, 同居": ("live together", "living together", "under one roof", "同棲", "一つ屋根の下", "ひとつ屋根の下"),
    "found family, 疑似家族": ("not related by blood", "血のつながらない", "血の繋がらない", "血のつながっていない"),
    "class difference, 身分差": ("身分違い", "格差恋愛", "rich boy and a poor girl", "poor girl and a rich boy"),
    "serial killer, 連続殺人鬼": ("serial killers", "serial murders", "serial murder", "連続殺人"),
    "immortality, 不老不死, 不死": (
        "cannot die", "can't die", "cant die", "unable to die", "never dies", "immortal", "undying",
        "死なない", "死ねない", "不死身",
    ),
    "cannibalism, ghouls, 人喰い": (
        "eat humans", "eats humans", "eating humans", "eat people", "eats people", "eating people", "man-eating",
        "man eating", "flesh-eating", "人を食べる", "人を食う", "人間を食べる", "人間を食う", "人食い",
    ),
    "contract marriage, 契約結婚": ("marriage of convenience", "fake marriage", "偽装結婚"),
    # Japan's folklore creatures, which the entries call yokai (「あやかし」「物の怪」 in Japanese).
    "yokai, 妖怪": ("folklore", "folklore creature", "folklore creatures", "japanese spirits", "japanese demons",
                   "あやかし", "物の怪", "もののけ"),
    # A heroine's age in a shopper's numbers ("women in their late 20s", "around 30", 「アラサー」).
    "twenties, 20代": ("20s", "twenty-something", "twentysomething", "20-something", "20代"),
    "thirties, アラサー": ("30s", "thirty-something", "thirtysomething", "30-something", "around 30", "30代", "アラサー"),
    # Any disability, for the particular ones the entries name (「障がい」 is 「障害」 in other script).
    "disability, 障害, wheelchair user, 車椅子, deafness, 聴覚障害": (
        "disabled", "disabilities", "handicap", "handicapped", "障がい", "障碍", "身体障害",
    ),
    # A fan heroine, in the entries' words for her.
    "fujoshi, otaku women, 腐女子, オタク女子": (
        "fangirl", "fangirls", "otaku girl", "otaku girls", "otaku woman", "otaku heroine", "女オタク",
        "オタクな女の子", "オタクの女の子",
    ),
    # The maker of Mario, Kirby and Splatoon, whose entries say "video game".
    "video game, ゲーム原作": (
        "nintendo", "based on a game", "based on games", "based on video games", "video game manga",
        "任天堂", "ゲームが原作", "ゲームの漫画",
    ),
    # Who acts, in the entries' word for what they do.
    "acting, 演技": ("actress", "actresses", "actor", "actors", "女優", "俳優", "役者"),
    "retired hitman, 引退した殺し屋": (
        "former assassin", "ex-assassin", "retired assassin", "former hitman", "ex-hitman", "retired hitman",
        "元殺し屋", "元暗殺者",
    ),
}

STORY_KINDS = [(catalog_words, words_pattern(words)) for catalog_words, words in STORY_KIND_WORDS.items()]


@functools.lru_cache(maxsize=1024)
def story_kinds(query: str) -> tuple[str, ...]:
    """The catalog's words for each kind of story the query names in a shopper's words.

    "any lgbtq manga?": "transgender", "gender identity", "boys' love". Remembered per text: a
    search reads them for its lexical leg and again for the reranker's theme feature.
    """
    norm = normalize(query)
    return tuple(words for words, pattern in STORY_KINDS if pattern.search(norm))


def story_kind_expanded(query: str) -> str:
    """The query with the catalog's words for each kind of story it names (`story_kinds`)."""
    return ", ".join([query, *story_kinds(query)])


# Terms (`tools.text.tokenize`'s) of asking for a title rather than saying what it is
# about: "do you carry X", "is X in stock", "is X finished?", "X vol 3 price", "Xの新刊",
# "X在庫ありますか", "Xの英語版", "X完結した？".
REQUEST_TERMS = frozenset(tokenize(
    """carry stock buy sell sold available much where when price cost volume vol edition english
    japanese digital print paperback hardcover ebook kindle release date new latest order preorder
    copy copies set box ship shipping deliver finished complete completed ongoing ended end over
    新刊 最新 発売 在庫 値段 価格 売 売っ 巻 全巻 英語 語版 日本 電子 紙
    予約 入荷 購入 買 買え 何巻 発送 配送 送料 版 完結 連載"""
))


# The terms that name each genre (its own word, its label, `GENRE_NAMES`) and each readership: read
# once, not at every message.
_KIND_TERMS: dict[str, frozenset[str]] = {
    **{
        genre: english | japanese | {t for word in GENRE_NAMES.get(genre, ()) for t in tokenize(word)}
        for genre, (english, japanese, _) in GENRE_TERMS.items()
    },
    **{
        demographic: frozenset(t for word in (label, *words) for t in tokenize(word))
        for demographic, (label, words) in DEMOGRAPHICS.items()
    },
}


def asks_only_for_a_kind(text: str, genres: list[str], demographic: str | None) -> bool:
    """Whether every search term of the message names the genres or readership it asks for
    ("mystery manga", "any shojo romance?", 「おすすめのホラー漫画」): nothing else in it tells one
    series of that kind from another, so the words' matches in the entries rank them by chance.
    """
    if not genres and demographic is None:
        return False
    kind = set().union(*(_KIND_TERMS[k] for k in [*genres, *([demographic] if demographic else [])]))
    # Pairs ("shojo_romanc") are made of the terms themselves.
    terms = {t for t in search_terms(text) if "_" not in t}
    return bool(terms) and terms <= kind
