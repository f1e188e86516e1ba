"""Small, robust helpers for real spoken transcripts (odd casing, missing punctuation, fillers)."""

from __future__ import annotations

import re

_FILLERS = re.compile(
    r"\b(um+|uh+|erm+|er|hmm+|mm+|you know|i mean|like,|sort of|kind of like)\b[,]?\s*", re.IGNORECASE
)
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")
_LONG_SPLIT = re.compile(r",?\s+\b(?:and then|but then|but|so then|and so|because)\b\s+", re.IGNORECASE)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
    each even ever every few for from further get gets got had hadn't has hasn't have haven't having he he'd he'll
    he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its
    itself just let's like me more most mustn't my myself no nor not now of off on once only or other ought our ours
    ourselves out over own really same shan't she she'd she'll she's should shouldn't so some still such than that
    that's the their theirs them themselves then there there's these they they'd they'll they're they've thing
    things think this those though through to too under until up upon us very was wasn't we we'd we'll we're we've
    were weren't what what's when when's where where's which while who who's whom why why's will with won't would
    wouldn't yeah yes you you'd you'll you're you've your yours yourself yourselves today yesterday tomorrow
    week day time lot much maybe kind sort feel felt feeling know knew said say says going gonna want wanted okay
    ok well right actually pretty quite bit got getting went go goes come came make made one two back around
    um uh oh anyway anything something everything nothing someone anyone everyone always never
    """.split()
)

# First person -> second person, for mirroring the person's words back to them.
_SWAP = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "i'm": "you're", "im": "you're", "i've": "you've", "ive": "you've", "i'd": "you'd", "i'll": "you'll",
    "we": "you", "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves",
    "we're": "you're", "we've": "you've", "we'd": "you'd", "we'll": "you'll",
}
_AFTER_I = {"am": "are", "was": "were", "wasn't": "weren't", "'m": "'re"}
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|[^A-Za-z\s]+|\s+")


def normalise(text: str) -> str:
    """One line, single spaces, curly apostrophes straightened."""
    return _SPACES.sub(" ", text.replace("’", "'").replace("‘", "'")).strip()


def strip_fillers(text: str) -> str:
    return normalise(_FILLERS.sub("", text))


# Spoken fillers that carry no meaning when said back. "like" is a filler except after the words
# that make it a verb or a comparison ("I felt like", "looks like", "I'd like", "don't like").
_SPOKEN_FILLERS = re.compile(
    r"(?:,\s*)?\b(?:um+|uh+|erm+|er|hmm+|mm+|ah|you know|i mean|basically|literally|like i said|to be honest|"
    r"honestly|by the way|or something|or whatever|and stuff|and everything|sort of like|kind of like)\b,?",
    re.IGNORECASE,
)
_LIKE = re.compile(
    r"(?<!\bfeel)(?<!\bfelt)(?<!\bfeels)(?<!\bfeeling)(?<!\blook)(?<!\blooks)(?<!\blooked)(?<!\bseem)"
    r"(?<!\bseems)(?<!\bsound)(?<!\bsounds)(?<!\bwould)(?<!'d)(?<!\bi)(?<!\byou)(?<!\bwe)(?<!\bthey)"
    r"(?<!\bdon't)(?<!\bdidn't)(?<!\bdo)(?<!\bjust)(?<!\breally)(?<!\bsomething)(?<!\bnot)"
    r"(?<!\bwas)(?<!\bis)(?<!\bwere)(?<!\bbe)(?<!\bmore)(?<!\bthings)(?<!\bjust)"
    # After an object it compares, and between "to" and a person it is the verb: "looked at me like
    # I was", "has to like me".
    r"(?<!\bme)(?<!\bhim)(?<!\bher)(?<!\bthem)(?<!\bus)(?<!\bit)(?!(?<=\bto)\s+like\s+(?:me|him|her|them|us|you|it)\b)(?<!\bone)(?<!\beven)\s+like\b,?(?=\s)(?!\s+(?:this|that|these|those)\b)",
    re.IGNORECASE,
)
# ... but before an intensifier it is a filler wherever it stands: "I like really like them",
# "I was like so tired", "I like just felt empty".
_LIKE_BEFORE_INTENSIFIER = re.compile(
    r"(?<=\w)\s+like,?(?=\s+(?:really|just|totally|so|super|literally|actually|finally|completely|kind of|sort of|"
    r"properly|absolutely|genuinely|seriously|pretty|quite|very)\b)",
    re.IGNORECASE,
)
# False starts and stutters: "I I was", "she she", "I started to I started telling".
_STUTTER = re.compile(r"\b(\w+(?:'\w+)?)(?:\s+\1\b)+", re.IGNORECASE)
_RESTART = re.compile(r"\b((?:i|we|he|she|they|it) \w+)(?: to| the| a| that| fine| okay| ok| good| bad)?,? (?=\1\b)",
                      re.IGNORECASE)
# "I went I drove to my sister's": a first-person start dropped for another, unless the first verb
# takes a clause ("I think I", "I knew I", "I told him I").
_SWITCHED_START = re.compile(
    r"(?:^|(?<=[.,;!?] )|(?<=\band )|(?<=\bbut )|(?<=\bso )|(?<=\bthen ))(?:i|I) (?!(?:think|thought|know|knew|guess|"
    r"said|say|felt|feel|hope|hoped|wish|wished|realised|realized|decided|suppose|reckon|bet|swear|promised|"
    r"figured|noticed|admitted|worried|feared|pretended|forgot|remembered|doubt|believe|believed|mean|meant|"
    r"guessed|imagined|assumed|expected|heard|saw|see|found|find|learned|learnt|told|tell|"
    r"wonder|wondered|swore|worry|like|love|hate|want|wanted|need|needed|am|was|had|have|do|did|can|could|"
    r"will|would|should|might|must|don't|didn't|can't|couldn't|won't|wouldn't)\b)(\w+(?: to)?) (?=(?:i|I) \w)",
)
# Speech without punctuation: "I went to work I came home": a new "I" + verb after an ordinary word.
_RUNON_TOO = re.compile(r"(?:(?<=\btoo)|(?<=\bthough)|(?<=\banyway)|(?<=\bagain)) (?=(?:we|we're|he's|she's|they're|i'm|I'm)\s)")
_RUNON_I = re.compile(
    r"(?<=[a-z]) (?=I (?:was|went|came|got|had|did|made|saw|took|told|said|felt|just|watched|called|rang|thought|"
    r"know|knew|think|feel|keep|kept|can't|couldn't|don't|didn't|wasn't|really|still|\w+ed)\b)"
)
_REPORTING = {"told", "tell", "asked", "ask", "texted", "promised", "reminded", "warned", "showed", "messaged",
              "emailed", "rang", "called", "convinced", "assured"}
_NO_BREAK_BEFORE = {"and", "but", "so", "because", "that", "what", "when", "if", "where", "how", "why", "whether",
                    "cause", "then", "which", "who", "until", "before", "after", "while", "since", "though", "as",
                    "like", "said", "says", "think", "thought", "know", "knew", "guess", "hope", "wish", "mean",
                    "or", "than", "feel", "felt", "tell", "told"}
# Misspellings common in typed entries, put right before the words are said back.
_TYPOS = {"teh": "the", "noone": "no one", "alot": "a lot", "becuase": "because", "realy": "really",
          "relived": "relieved", "thier": "their", "freind": "friend", "definately": "definitely",
          "tommorow": "tomorrow", "wierd": "weird", "untill": "until", "recieve": "receive"}
_WE_ME_AND = re.compile(r"\b[Ww]e\b([^,.;!?]{1,40}?)\s*,?\s*\bme and ((?:[A-Z][a-z]+|my [a-z]+))\b")
_VERDICT_RUNON = re.compile(
    r"\b((?:was|is|been|felt|feels) (?:so |really |pretty |quite )?(?:hard|rough|awful|terrible|horrible|good|great|"
    r"fine|okay|ok|weird|long|busy|mad|bad|lovely|nice|strange|heavy|tough|a lot))\s+((?:we|i|he|she|they|my)\s)",
    re.IGNORECASE,
)
_TYPO_RE = re.compile(r"\b(" + "|".join(_TYPOS) + r")\b", re.IGNORECASE)


def tidy_speech(text: str) -> str:
    """The person's words without fillers, stutters, false starts and common typos, apostrophes back."""
    text = normalise(text)
    text = _TYPO_RE.sub(lambda m: _TYPOS[m.group(1).lower()], text)
    text = _SPOKEN_FILLERS.sub("", text)
    text = _LIKE_BEFORE_INTENSIFIER.sub("", text)
    text = _LIKE.sub("", text)
    text = re.sub(r"^like\b,?\s*", "", text, flags=re.IGNORECASE)
    text = normalise(_STUTTER.sub(r"\1", normalise(text)))  # "I was uh I was" is a restart once "uh" is gone
    text = _RESTART.sub("", text)
    text = _SWITCHED_START.sub("", text)
    # "today was hard we had a fight": a new subject after a short verdict starts a new sentence.
    text = _VERDICT_RUNON.sub(lambda m: m.group(1) + ". " + m.group(2)[:1].upper() + m.group(2)[1:], text)
    # "we had a fight me and Dara" -> "Dara and I had a fight", which turns round cleanly.
    text = _WE_ME_AND.sub(lambda m: f"{m.group(2)} and I{m.group(1)}", text)
    text = _STUTTER.sub(r"\1", text)
    text = re.sub(r"\s+([,.!?])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    return normalise(fix_contractions(text)).strip(" ,")


# Where unpunctuated speech naturally breaks: before a discourse marker that starts a new thought.
_BREAK = re.compile(
    r"(?<!\bme)(?<!\bI)(?<!\byou)(?<!\band)(?<!\bbut)(?<!\bso)\s*,?\s+(?=(?i:and then|and now|and so|but then|but|so then|so|because|cause|and|then|"
    r"even though|although)\s+(?:(?i:i|i'm|i've|i'd|we|we're|my|he|he's|she|she's|they|they're|it|it's|there|now|"
    r"nobody|no one|everyone|everything|tonight|today)\b|(?!I\b)[A-Z][a-z]+\b))",
)
_TRAILING = re.compile(r"[\s,]+\b(?:and|but|so|because|then|or|now|and now|and then|but then)$", re.IGNORECASE)
_ANY_AND = re.compile(r"\s*,?\s+(?=(?i:and|but|so|because)\s)")


def spoken_clauses(text: str, longest: int = 18) -> list[str]:
    """A transcript cut into clauses that can be said back: sentences, then their comma pieces, and
    long unpunctuated stretches cut where speech breaks ("and then I", "but she", "so we").

    Each clause keeps its leading marker ("but she left"); callers strip it. Clauses stay in order.
    """
    out: list[str] = []
    for sentence in _SENTENCE_END.split(normalise_keep_lines(text)):
        sentence = sentence.strip()
        if not sentence:
            continue
        pieces = [sentence] if len(sentence.split()) <= longest else clauses(sentence)
        for piece in (p for whole in pieces for p in split_runons(whole)):
            if len(piece.split()) <= longest:
                out.append(piece)
                continue
            out.extend(_cut_long(piece, longest))
    return out


def split_runons(piece: str) -> list[str]:
    """ "nothing happened I went to work I came home" -> its three statements."""
    out, start = [], 0
    for m in _RUNON_I.finditer(piece):
        before = piece[start:m.start()].split()
        reported = len(before) >= 2 and before[-2].lower() in _REPORTING  # "I told Sam I didn't want to"
        if before and before[-1].lower().strip(",") not in _NO_BREAK_BEFORE and len(before) >= 2 and not reported:
            out.append(piece[start:m.start()].strip())
            start = m.end()
    out.append(piece[start:].strip())
    # "he's tired too we're both running on empty"
    return [q.strip() for p in out if p for q in _RUNON_TOO.split(p) if q.strip()]


def split_at_breaks(piece: str) -> list[str]:
    """A clause cut where speech breaks ("and then I", "but she"), or [] when there is no break."""
    parts = [p for part in _cut_long(piece, 0) for p in split_runons(part)]
    return parts if len(parts) > 1 else []


def _cut_long(piece: str, longest: int) -> list[str]:
    # "Dara and I had a fight" is one subject, not a place to break.
    piece = re.sub(r"\b((?:[A-Z][a-z]+|my [a-z]+)) and (I|me)\b", "\\1\0and\0\\2", piece)
    parts: list[str] = []
    for part in (_TRAILING.sub("", p.strip()) for p in _BREAK.split(piece) if p and p.strip()):
        parts += [q.strip() for q in _ANY_AND.split(part)] if longest and len(part.split()) > longest else [part]
    out: list[str] = []
    for part in (p.replace("\0", " ") for p in parts):
        if out and len(part.split()) < 3:
            out[-1] = out[-1] + " " + part  # "and I" alone is not a thought
        else:
            out.append(part)
    return out


def strip_trailing_conjunction(text: str) -> str:
    """ "we talked and" -> "we talked": a clause cut mid-flow doesn't end on "and"."""
    text = text.strip()
    while True:
        cut = _TRAILING.sub("", text).strip(" ,")
        if cut == text:
            return text
        text = cut


def sentences(text: str) -> list[str]:
    """Sentences of a transcript; very long unpunctuated stretches are cut at 'but', 'and then'..."""
    out: list[str] = []
    for part in _SENTENCE_END.split(normalise_keep_lines(text)):
        part = part.strip()
        if not part:
            continue
        if len(part.split()) > 30:
            out.extend(p.strip() for p in _LONG_SPLIT.split(part) if p.strip())
        else:
            out.append(part)
    return out


def normalise_keep_lines(text: str) -> str:
    lines = [normalise(line) for line in text.replace("’", "'").splitlines()]
    return "\n".join(line for line in lines if line)


def clauses(sentence: str) -> list[str]:
    """Pieces of a sentence between commas, semicolons and dashes."""
    return [c.strip() for c in re.split(r"\s*[,;:—–]\s*|\s+-\s+", sentence) if c.strip()]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def stem(word: str) -> str:
    """A crude stem so 'called' and 'calling' meet; good enough for overlap counts."""
    for suffix in ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Lower-case stems of the words that carry meaning (no stopwords, no short words)."""
    return [stem(w) for w in words(text) if len(w) > 2 and w not in STOPWORDS]


_CONTRACTIONS = {
    "cant": "can't", "dont": "don't", "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't", "wasnt": "wasn't",
    "couldnt": "couldn't", "wouldnt": "wouldn't", "shouldnt": "shouldn't", "havent": "haven't", "hasnt": "hasn't",
    "arent": "aren't", "werent": "weren't", "wont": "won't", "thats": "that's", "theres": "there't",
    "youre": "you're", "theyre": "they're", "shes": "she's", "hes": "he's", "whats": "what's", "im": "I'm",
    "ive": "I've", "itll": "it'll", "couldve": "could've", "wouldve": "would've", "lets": "let's",
}
_CONTRACTIONS["theres"] = "there's"
_BARE = re.compile(r"\b(" + "|".join(_CONTRACTIONS) + r")\b", re.IGNORECASE)


def fix_contractions(text: str) -> str:
    """Put back apostrophes speech-to-text sometimes drops ("cant" -> "can't")."""

    def put_back(m: re.Match[str]) -> str:
        word = m.group(1)
        fixed = _CONTRACTIONS[word.lower()]
        return fixed[:1].upper() + fixed[1:] if word[:1].isupper() else fixed

    return _BARE.sub(put_back, text)


def to_second_person(text: str) -> str:
    """Turn the person's words round: "I texted my sister" -> "you texted your sister"."""
    tokens = _WORD.findall(fix_contractions(text))
    out: list[str] = []
    prev_word = ""
    words_only = [t.lower().replace("’", "'") for t in tokens if t[:1].isalpha()]
    since_i = 99  # words since the clause's subject "I": "I'm talking about me" -> "about yourself"
    n = -1
    for tok in tokens:
        low = tok.lower().replace("’", "'")
        if tok.isspace() or not tok[0].isalpha():
            out.append(tok)
            continue
        n += 1
        next_word = words_only[n + 1] if n + 1 < len(words_only) else ""
        since_i += 1
        if low in ("i", "i'm", "im", "i've", "i'd", "i'll"):
            since_i = 0
        elif low in ("he", "she", "they", "it", "he's", "she's", "they're", "it's", "who", "that", "anyone",
                     "someone", "everyone", "nobody", "people", "to", "when", "if", "because"):
            since_i = 99  # someone else, or a new clause: "when anyone is upset with me" stays "with you"
        if low == "me" and since_i <= 3 and prev_word in ("about", "at", "for", "with", "of"):
            rep = "yourself"
        elif next_word == "i" and low in _AFTER_I:  # "am I the only one" -> "are you the only one"
            rep = _AFTER_I[low]
            rep = rep[:1].upper() + rep[1:] if tok[:1].isupper() else rep
        elif prev_word in ("i", "we") and low in _AFTER_I:
            rep = _AFTER_I[low]
        elif low in _SWAP:
            rep = _SWAP[low]
        else:
            rep = tok if tok != "I" else "you"
        out.append(rep)
        prev_word = low
    result = "".join(out)
    # "Sam and I" -> "Sam and you" reads oddly; "you and Sam" is how it is said.
    return re.sub(
        r"(^|[,;]\s*|\b(?:when|because|then|so|but|that|after|before|while|and)\s+)((?:[Yy]our )?[A-Za-z][\w-]*) and you\b"
        r"(?! (?:both|two))",
        r"\1you and \2",
        result,
    )


def has_second_person(text: str) -> bool:
    """Text that already says "you" (quoting someone else) can't be turned round cleanly."""
    return bool(re.search(r"\b(you|your|you're|yours|yourself|u)\b", text, re.IGNORECASE))


def lower_first(text: str) -> str:
    if not text:
        return text
    first = text.split(" ", 1)[0]
    # Keep names and "I" as they are; lower an ordinary first word.
    if first.isupper() and len(first) > 1:
        return text
    return text[0].lower() + text[1:] if not _looks_like_name(first) else text


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _looks_like_name(word: str) -> bool:
    return word[:1].isupper() and word.lower() not in STOPWORDS and word.lower() not in COMMON_CAPITALISED


def word_count(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?", text))


# Capitalised words that are not people's names.
COMMON_CAPITALISED = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december christmas easter god okay ok so and but then today yesterday tomorrow
    this that when what why how who where well yeah yes no oh hey hi hello also just maybe sometimes honestly
    anyway english french german spanish internet zoom whatsapp instagram facebook twitter google tv covid
    mum mom dad mother father sister brother grandma grandpa granny nana auntie uncle aunt therapist doctor
    the a an it its my our their his her we they you he she i im i'm i've i'd i'll there here now later after
    before because if even still though although again every everyone everybody someone somebody nobody
    people work school college uni university office home church hospital afterwards usually lately last next
    all some most one two three first second night morning evening tonight weekend week month year
    """.split()
)
