"""Noticing old narratives, patterns, moments of connection and small steps in an entry.

The vocabulary is shared with progress tracking (keep the kinds and names exactly):
narrative: people_leave, unlovable, self_reliance, too_much; pattern: anxious_checking,
withdrawing, expecting_worst; connection; corrective; curiosity; small_step: set, followed_up.
Each theme keeps the person's own words that showed it (`triggers`).

The patterns are phrase-level regular expressions over the lower-cased transcript, written
for real speech (no punctuation needed, contractions with or without apostrophes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from voicejournal.models import Entry, Theme
from voicejournal.reflection import text as tx

NARRATIVES = ("people_leave", "unlovable", "self_reliance", "too_much")
PATTERNS = ("anxious_checking", "withdrawing", "expecting_worst")

_PRON = r"(?:he|she|they|people|everyone|everybody|anyone|you|my \w+|\w+)"
_SUBJ = r"(?:he|she|they|people|everyone|everybody|someone|anyone|nobody|no one|my \w+(?: \w+)?|[a-z]+)"
_IM = r"(?:i'?m|i am)"
# "I ... pulled away": the person's own move, not someone else's (within a few words).
_I = r"\b(?:i|i'?m|i've|i'd|i'll|me|myself)\b(?:\s+(?!(?:her|him|them|he|she|they|you|we|people|everyone)\b)[\w']+){0,5}?\s+"
_NEG_CAN = r"(?:can'?t|cannot|can not|couldn'?t|don'?t|do not|won'?t|never)"

# (kind, name) -> patterns. Order matters only for readability.
_RULES: dict[tuple[str, str], list[str]] = {
    ("narrative", "people_leave"): [
        r"\b(?:people|everyone|everybody|they|folks|friends|partners|men|women) (?:always |all |eventually |just |end up |tend to )*(?:leave|leaves|left|walk(?:s|ed)? away|go(?:es)? away|abandon(?:s|ed)?(?: me)?|disappear|drift(?:s|ed)? away|give up on me|get bored of me|get tired of me)\b",
        r"\b(?:no one|nobody|noone) (?:ever )?(?:stays|sticks around|stuck around|stayed)\b",
        r"\b(?:won'?t|wouldn'?t|don'?t|never) (?:keep me around|stick around|want me around|stay with me)\b",
        r"\b(?:everyone|everybody|people|they|he|she|he'?s|she'?s|they'?re|he'?ll|she'?ll|they'?ll|he will|she will|they will)\s+(?:is |are )?(?:going to|gonna|will|would)?\s*(?:eventually |probably |just |end up |definitely )*(?:leave me|walk away from me|abandon me|get bored of me|get tired of me|give up on me|replace me|drop me)\b",
        r"\b(?:always|i always) (?:get|end up) (?:left|abandoned|dumped|replaced|left behind)\b",
        r"\b(?:i'?m|i am|i get) (?:always )?(?:the one (?:who gets|that gets) left|left behind|easy to leave|easy to forget)\b",
        r"\b(?:everyone|everybody|people) i (?:love|care about|get close to) (?:leaves|leave|left|goes|walks away)\b",
        r"\b(?:waiting for|expect|expecting|expected|brace for|bracing for|braced for|wait for) (?:people|everyone|everybody|them|him|her|\w+) to (?:leave|walk away|abandon me|give up on me|get bored of me|disappear)\b",
        r"\b(?:my )?(?:dad|father|mum|mom|mother|parents?) (?:left|walked out|walked away|abandoned (?:us|me))(?: when i was| on us| on me|$|[.,])",
        r"\b(?:it'?s only a matter of time|just a matter of time) (?:before|until) (?:he|she|they|\w+) (?:leaves|leave|goes|walks away|gets bored)\b",
    ],
    ("narrative", "unlovable"): [
        r"\bif (?:they|he|she|people|anyone|you|my \w+) (?:really |truly |actually |ever )?(?:knew|saw|found out) (?:the real |who i really am|what i'?m really like|me)",
        r"\b(?:no one|nobody|noone|who) (?:could|would|will|can|is going to|is gonna) (?:ever |really |actually )?(?:love|want|like|choose) (?:me|someone like me)\b",
        r"\b" + _IM + r" (?:just |so |really )?(?:unlovable|not lovable|not worth loving|hard to love|impossible to love|not good enough|never good enough|worthless|broken|defective|unwanted|not enough)\b",
        r"\b(?:i'?ll|i will) never be (?:good )?enough\b",
        r"\bnot (?:good )?enough for (?:them|him|her|anyone|anybody|people|my \w+)\b",
        r"\b(?:they|he|she|people|everyone) (?:will|would|'d|'ll)? ?(?:see|find out|realise|realize|figure out) (?:how|what|that) (?:i'?m|i am) (?:really|actually)?",
        r"\bthere'?s something wrong with me\b",
        r"\bif i'?m not (?:useful|helpful|perfect|good|fun|needed|interesting|pretty|thin|successful|funny)(?: enough)?,? (?:people|they|he|she|no one|nobody|anyone|my \w+)\b",
        r"\b(?:have to|need to|got to) (?:earn|prove) (?:my place|that i'?m worth|my worth|being loved|their love|love)\b",
        r"\b(?:i don'?t|i do not) deserve (?:love|to be loved|them|him|her|good things|kindness)\b",
    ],
    ("narrative", "self_reliance"): [
        r"\b(?:i )?can only (?:ever )?(?:depend|rely|count) on (?:myself|me)\b",
        r"\b(?:i )?" + _NEG_CAN + r" (?:really |ever )?(?:depend|rely|count|lean) on (?:anyone|anybody|others|people|other people|him|her|them|no one|nobody)\b",
        r"\b(?:have|had|need|needed|got) to do (?:it|everything|this|things|it all) (?:all )?(?:by )?myself\b",
        r"\b(?:do|did|handle|handled|manage|managed|deal with|dealt with) (?:it|everything|this|things|it all) (?:all )?(?:by myself|on my own|alone)\b",
        r"\b(?:hate|hated|can'?t|couldn'?t|don'?t|didn'?t|never) (?:to )?(?:ask|asking|asked) (?:anyone |anybody |people |for )?(?:for )?help\b",
        r"\basking for help (?:is|feels|felt|means|makes|was|would be)\b",
        r"\b(?:better off|safer) (?:alone|on my own|by myself)\b",
        r"\b(?:i )?(?:don'?t|do not|never) (?:want to |wanna )?need (?:anyone|anybody|people|others)\b",
        r"\bonly person i can (?:trust|rely on|count on|depend on)\b",
        r"\b(?:don'?t|can'?t|cannot|do not) trust (?:anyone|anybody|people|others) to (?:show up|be there|help|come through|stay)\b",
        r"\brather than (?:ask|asking) (?:my \w+|anyone|anybody|for help|people|others)\b",
    ],
    ("narrative", "too_much"): [
        r"\b" + _IM + r" (?:always |just |such |so |way |a bit |being )*(?:too much|a burden|too needy|too clingy|too intense|too emotional|too sensitive|needy|clingy|a lot to handle|annoying|a nuisance|a bother)\b",
        r"\b(?:being|be|am|was|feel like|felt like) (?:a |such a )?(?:burden|bother|nuisance)\b",
        r"\btoo much for (?:them|him|her|people|anyone|anybody|everyone|my \w+)\b",
        r"\b(?:don'?t|do not|didn'?t) want to (?:bother|burden|be a burden|impose|trouble|annoy|overwhelm) (?:on )?(?:them|him|her|anyone|anybody|people|my \w+|\w+)?",
        r"\b(?:bothering|burdening|imposing on|annoying) (?:them|him|her|people|everyone|my \w+)\b",
        r"\btake up (?:too much )?(?:space|room)\b",
        r"\b(?:don'?t|didn'?t|do not|did not) want to (?:cause drama|make a fuss|rock the boat|make a scene|be difficult|cause trouble|make it a big deal|be dramatic|be a pain)\b",
        r"\basking for too much\b",
    ],
    ("pattern", "anxious_checking"): [
        r"\b(?:check|checked|checking|kept checking|keep checking|refresh|refreshed|refreshing) (?:my |the |his |her |their )?(?:phone|messages|texts|instagram|whatsapp|email|inbox|notifications|chat|location|profile|feed|status|last seen)",
        r"\b(?:reread|re-read|rereading|re-reading|reading|read) (?:over )?(?:our|the|his|her|their|my|all the|all our) (?:last )?(?:messages|texts|conversation|chat|emails|message|text)",
        r"\b(?:hasn'?t|haven'?t|didn'?t|did not|has not|have not|still hasn'?t|never) (?:texted|called|replied|answered|written|messaged|responded|rung|got back)(?: (?:me|back|to me))*",
        r"\b(?:waiting|waited|wait) (?:all (?:day|night|evening) )?(?:for (?:him|her|them|a reply|a text|a call|a message|an answer|the phone)|by the phone)",
        r"\b(?:need|needed|wanted|want|looking for|look for|seek|seeking|ask for|asked for|asking for) (?:some )?reassurance\b",
        r"\b(?:asked|ask|asking|kept asking|keep asking) (?:him|her|them) (?:again |over and over |twice |three times )?(?:if|whether) (?:we'?re|we are|we were|he'?s|she'?s|they'?re|he is|she is|they are|he was|she was|everything) ?(?:ok|okay|fine|alright|mad|angry|upset|still)",
        r"\b(?:left|leave|leaves|leaving) (?:me )?on (?:read|seen|delivered)\b",
        r"\b(?:read receipt|seen at|last seen|online but)\b",
        r"\b(?:couldn'?t|can'?t|could not|cannot) stop (?:checking|looking at my phone|thinking about why)",
        r"\b(?:text|texting|texted|message|messaging|messaged|call|calling|called|ring|ringing) (?:him|her|them) (?:every (?:hour|few minutes|five minutes|ten minutes)|all the time|constantly|again and again|over and over|\w+ times)",
        r"\bno (?:reply|answer|response|text|call) (?:yet|back|from)\b",
    ],
    ("pattern", "withdrawing"): [
        _I + r"(?:pull|pulled|pulling|pulls|step|stepped|stepping|back|backed|backing) (?:away|back|off)\b",
        _I + r"(?:shut|shutting|shuts) (?:down|off|him out|her out|them out|people out|everyone out|myself away)\b",
        _I + r"(?:withdr[ae]w|withdrawing|withdrawn|retreat(?:ed|ing)?|isolat(?:e|ed|ing))\b",
        _I + r"(?:went|go|going|gone|goes) (?:quiet|silent|cold|distant|dark|numb|off grid|into my shell)\b",
        r"\b(?:ghost|ghosted|ghosting)\b",
        _I + r"(?:push|pushed|pushing|pushes) (?:him|her|them|people|everyone|everybody|my \w+) away\b",
        r"\b(?:too close|got close|getting close|gets close|get close|getting closer|got closer|gets closer)\b",
        _I + r"(?:didn'?t|don'?t|did not|do not|never) (?:answer|reply|respond|pick up)(?: to)? (?:her|him|them|their|his|my \w+|the phone|the call|\w+'s)",
        _I + r"(?:cancel(?:l)?ed|cancel|bailed|bail) (?:on |the |our |my )?(?:plans|him|her|them|dinner|date|drinks)",
        _I + r"(?:hid|hide|hiding|avoid|avoided|avoiding) (?:from )?(?:him|her|them|people|everyone|my \w+|his calls|her calls|their calls|the call)",
        r"\b(?:need|needed|wanted|want) (?:my |some )?(?:space|distance|to get away|to run|to escape|to be alone)\b",
        r"\b(?:ran|run|running) away\b",
        r"\b(?:stop|stopped|stopping|quit) (?:answering|replying to|responding to|returning) (?:her|his|their|my \w+'?s?|\w+'s) (?:messages|texts|calls)\b",
        r"\blet (?:the|our|my) (?:friendship|relationship|connection) (?:fade|die|drift)\b",
        r"\b(?:urge|instinct|impulse) to (?:run|leave|hide|flee|get away|bolt)\b",
    ],
    ("pattern", "expecting_worst"): [
        r"\b(?:must|probably|bet|sure|certain|convinced) (?:be |he'?s |she'?s |they'?re |he is |she is |they are )?(?:mad|angry|upset|annoyed|sick of me|tired of me|done with me|leaving|cheating|bored|over me|disappointed)",
        r"\b(?:worst[- ]case|worst case scenario|the worst|fear(?:ed)? the worst|expect(?:ed|ing)? the worst|imagin(?:ed|ing) the worst|assum(?:e|ed|ing) the worst)\b",
        r"\b(?:means|meant|mean) (?:he|she|they|my \w+) (?:doesn'?t|don'?t|didn'?t|does not|do not|no longer) (?:care|like me|love me|want me|want to see me)",
        r"\b(?:did|done|said) something wrong\b",
        r"\bwhat (?:i|i'd) (?:did|said|done) wrong\b",
        r"\b(?:spiral|spiraled|spiralled|spiraling|spiralling|catastrophi[sz]\w*|overthink\w*|over-think\w*)\b",
        r"\b(?:is|was|are|were|'s|'re) (?:going to|gonna|about to) (?:break up with me|dump me|fire me|leave me|end it with me|end things)\b",
        r"\b(?:convinced myself|told myself|sure that|assumed that|assumed) (?:he|she|they|it|my \w+|everyone)",
        r"\bsomething (?:bad|terrible|awful) (?:is|was) going to happen\b",
        r"\b(?:hates|hate|hated) me now\b",
        r"\b(?:terrified|scared|afraid|worried|sure|convinced|certain) (?:that )?(?:she|he|they|my \w+|\w+)(?:'d| would| will|'ll| was going to| is going to) (?:be )?(?:furious|angry|mad|upset|annoyed|disappointed|done with me|leave|hate me|laugh at me|judge me)\b",
        r"\b(?:started |kept |keep |was |i was )?imagining (?:that )?(?:she|he|they|my \w+) (?:was|were|is|are|had) (?:with someone else|cheating|leaving|angry|mad|done with me|seeing someone)",
        r"\b(?:made up|invented|wrote|spun|built) (?:a|the|this|that) (?:whole |entire )?(?:story|scenario|narrative)\b",
        r"\b(?:bored|tired|sick) of me\b",
    ],
    ("connection", "connection"): [
        r"\b(?:felt|feel|feeling|i was|i'?m) (?:so |really |truly |completely |totally |genuinely )?(?:seen|heard|understood|held|supported|cared for|close to|connected|at ease with|safe with|loved|welcomed|accepted|appreciated|trusted|respected|valued)\b",
        r"\b(?:hugged me|gave me a hug|held my hand|held me|we laughed|laughed together|laughed so much|really listened|listened to me|showed up|came over|came round|came by|stayed with me|was there for me|were there for me|checked on me|checked in on me|made me dinner|brought me|cooked for me|sat with me)\b",
        r"\b(?:good|lovely|great|long|deep|honest|real|nice|warm|wonderful|beautiful) (?:talk|conversation|chat|evening|day|dinner|walk|call|time|lunch|coffee|afternoon|morning|weekend) (?:with|together)\b",
        r"\b(?:opened up|open up|opening up) to\b",
        r"\b(?:grateful|thankful) (?:for|to)\b",
        r"\b(?:felt|feel) (?:close|closer|connected) (?:to|with)\b",
        r"\bwe (?:talked|laughed|cried|cooked|walked|hugged) (?:for hours|together|all night|all evening|about everything)",
    ],
    ("corrective", "corrective"): [
        r"\b(?:went|turned out|was|it was) (?:so much |much |way |a lot )?(?:better|well|fine|okay|ok|alright|easier|nicer|kinder) than (?:i )?(?:expected|thought|feared|imagined|predicted|braced for|assumed)",
        r"\b(?:expected|thought|was sure|was convinced|braced for|bracing for|assumed|was ready for|feared|was scared|was terrified|was worried|was afraid) (?:[\w',.]+ ){0,14}?(?:but|instead|and instead|and then|yet|when i \w+),? (?:she|he|they|it|my \w+|\w+) (?:just |actually |really |simply )?(?:said|smiled|hugged|laughed|listened|thanked|understood|was|were|didn'?t|did not|wasn'?t|stayed|asked|offered|came|told|apologi[sz]ed|agreed)",
        r"\b(?:she|he|they|my \w+) (?:didn'?t|did not|wasn'?t|was not|weren'?t|never) (?:get angry|get mad|leave|walk away|reject me|pull away|judge me|laugh at me|mad|angry|upset|annoyed|cross|disappointed)\b",
        r"\b(?:instead of|rather than) (?:leaving|getting angry|getting mad|pulling away|being mad|being angry|judging me|ignoring me|laughing at me)",
        r"\b(?:surprised me|to my surprise|i was surprised|was surprised that|pleasantly surprised)\b",
        r"\bwas (?:fine|okay|ok|understanding|kind|lovely|great|really nice|totally fine|cool) about it\b",
        r"\b(?:she|he|they|my \w+) (?:just )?(?:said|told me|replied) (?:that'?s|it'?s|it was|that was) (?:fine|okay|ok|alright|no problem|totally fine|completely fine)\b",
        r"\b(?:backed me up|stood up for me|had my back|took my side|was on my side)\b",
        r"\b(?:it was|it'?s|it felt) (?:okay|ok|fine|safe|alright) to (?:ask|say|need|tell|cry|be honest|disagree|say no)\b",
    ],
    ("curiosity", "curiosity"): [
        r"\b(?:hello|hi|hey),? old (?:friend|pattern|fear|story|feeling)\b",
        r"\b(?:wonder|wondering|wondered|curious|asked myself) (?:why|what|where|if|whether|how)\b",
        r"\bwhat (?:is|was|are|were|it'?s) (?:it|this|that|they|the fear|the feeling|my anxiety|this part of me)? ?(?:trying to|wants to|wanted to) (?:protect|guard|tell|keep)",
        r"\b(?:noticed|notice|noticing) (?:the|that|this|my|an|a) (?:old |familiar |anxious )?(?:urge|fear|pattern|feeling|alarm|panic|story|voice|pull|habit|reaction)\b",
        r"\bthere(?:'s| is| it is| it was| was) (?:that|the|my) (?:old|familiar) \w+",
        r"\bold (?:pattern|story|programming|habit|fear|alarm|wound|voice)\b",
        r"\bwhere (?:does|did|do) (?:this|that|it|these feelings|this feeling) come from\b",
        r"\binstead of (?:spiral(?:l)?ing|panicking|freaking out|reacting|shutting down|checking)\b",
    ],
}

# Setting a small step. The step itself is captured (group "step") to say it back later.
_STEP_RULES = [
    r"\b(?:this|next) (?:week|weekend|month),? (?:i'?ll|i will|i want to|i'?m going to|i am going to|i'?m gonna|i could|i might|i plan to|i hope to|i'd like to) (?P<step>(?!never\b)[^.?!;]{3,80})",
    r"\b(?:one|a|my) (?:small |little |tiny )?step (?:this week |for this week |i can take |i could take |i want to take )?(?:is|will be|could be|would be|might be)(?: to)? (?P<step>[^.?!;]{3,80})",
    r"\b(?:i'?m going to|i am going to|i'?m gonna) (?P<step>(?:try|ask|tell|call|text|reach out|say|practi[sc]e|share|talk|spend|write|go|let|invite|be honest|sit with|stay|message|answer|reply|book|join|see)\b[^.?!;]{2,80})",
    r"\b(?:i'?ll|i will) (?P<step>(?:try|ask|tell|call|text|reach out|say|practi[sc]e|share|talk|invite|be honest|sit with|stay|message|reply|answer|book|join)\b[^.?!;]{2,80})",
    r"\b(?:tomorrow|tonight) (?:i'?ll|i will|i want to|i'?m going to|i am going to) (?P<step>(?!never\b)[^.?!;]{3,80})",
    r"\bi want to try (?P<step>[^.?!;]{3,80})",
]

_FOLLOWUP_RULES = [
    r"\b(?:i (?:did|tried|managed|finally did)|i actually did) (?:it|that|the step|what i said|what i planned)\b",
    r"\b(?:last (?:week|time)|the other day|yesterday) i (?:said|told myself|promised myself|decided|planned) (?:i'?d|i would|to|i was going to)\b",
    r"\b(?:followed through|follow through|kept my promise|did my small step|took that step|took my step|took the step)\b",
    r"\b(?:the|my) (?:small )?step (?:i set|i chose|i picked|from last (?:week|time))\b",
    r"\b(?:didn'?t|did not|couldn'?t|could not|wasn'?t able to) (?:manage to |get round to |get around to )?(?:do|take) (?:it|that|the step|my step)\b",
]

_COMPILED = {key: [re.compile(p) for p in pats] for key, pats in _RULES.items()}
_STEP = [re.compile(p) for p in _STEP_RULES]
_FOLLOWUP = [re.compile(p) for p in _FOLLOWUP_RULES]

# Words that, right before a narrative, mean the person is disagreeing with the old story
# ("I used to think people always leave, but...") — still the story, and worth naming gently.
MAX_TRIGGER_WORDS = 14
_NOT_PATTERN = re.compile(r"\b(?:instead of|rather than|without|didn'?t|did not|no longer|stopped|wasn'?t|not)\s+(?:\w+\s+)?$")
_LEAD_WORDS = {"i", "i'm", "im", "i've", "i'd", "we", "really", "just", "always", "never", "still", "so", "feel",
               "felt", "like", "am", "was", "keep", "kept", "i'll"}
_SUBJECT_WORDS = {"i", "i'm", "im", "i've", "i'd", "we", "i'll"}
_CONJ = re.compile(r"\b(?:and|but|so|because|then|though)\b", re.IGNORECASE)


def _lowered(text: str) -> str:
    return tx.normalise(text).lower()


def _trigger(original: str, start: int, end: int) -> str:
    """The person's own words around a match: its clause, or the match with a little context."""
    left = max(original.rfind(ch, 0, start) for ch in ".,;:!?\n")
    right_candidates = [i for i in (original.find(ch, end) for ch in ".,;:!?\n") if i != -1]
    right = min(right_candidates) if right_candidates else len(original)
    clause = original[left + 1 : right].strip()
    if 0 < len(clause.split()) <= MAX_TRIGGER_WORDS:
        return clause
    # Too long (unpunctuated speech): the match itself, with the "I ..." that leads into it.
    before = original[left + 1 : start].split()
    lead: list[str] = []
    while before and before[-1].lower().strip(",") in _LEAD_WORDS and len(lead) < 4:
        lead.insert(0, before.pop())
    if lead and lead[0].lower() not in _SUBJECT_WORDS:
        lead = []
    return " ".join(lead + original[start:end].split()).strip()


@dataclass
class Details:
    """What the offline reflector and memory use from an entry besides themes."""

    people: list[str] = field(default_factory=list)  # as they should be said back: "Sam", "your sister"
    feelings: list[str] = field(default_factory=list)  # adjectives: "lonely", "relieved"
    steps: list[str] = field(default_factory=list)  # small steps, in the person's words (first person)
    self_critical: bool = False  # harsh self-talk ("I keep calling myself stupid")


# The trained head's labels, as (kind, name) in the shared vocabulary. self_critical is new and
# outside progress's counters: it is for the reflection, which meets it with self-compassion.
HEAD_LABELS = {
    **{n: ("narrative", n) for n in NARRATIVES}, **{n: ("pattern", n) for n in PATTERNS},
    "connection": ("connection", "connection"), "corrective": ("corrective", "corrective"),
    "curiosity": ("curiosity", "curiosity"), "small_step_set": ("small_step", "set"),
    "small_step_followed_up": ("small_step", "followed_up"), "self_critical": ("self_talk", "self_critical"),
}
TRIGGER_SENTENCE_WORDS = 25


def detect_themes(text: str, pending_step: str | None = None) -> list[Theme]:
    """The themes in `text`, each with the words that showed it (at most three per theme).

    Read by meaning (the trained `themes` head over the entry's reading, `meaning.py`) when it is
    installed; by the phrase rules below otherwise. `pending_step` is an earlier small step not
    yet followed up; an entry that comes back to it is marked small_step/followed_up.
    """
    found = themes_by_meaning(text)
    if found is None:
        return rule_themes(text, pending_step)
    original = tx.normalise(text)
    names = {(t.kind, t.name) for t in found}
    if ("small_step", "followed_up") not in names:
        follow = _followed_up(original, original.lower(), pending_step) if pending_step else []
        if follow:
            found.append(Theme(kind="small_step", name="followed_up", triggers=follow))
    for theme in found:
        if (theme.kind, theme.name) == ("small_step", "set"):
            steps = find_steps(original)
            if steps:
                theme.triggers = steps[:2]  # the step itself, to ask about next time
    return found


def themes_by_meaning(text: str) -> list[Theme] | None:
    """The trained head's themes, or None when it can't be used."""
    from voicejournal.reflection import heads, meaning
    from voicejournal.reflection.risk import MAX_CHUNKS, rank_chunks

    head, _ = heads.reader_for("themes")
    if head is None:
        return None
    reading = meaning.read(text, max_chunks=MAX_CHUNKS, pick=rank_chunks)  # the risk check's reading
    if reading is None or not reading.spans:
        return []
    probs = head.scores(reading.features())
    found: list[Theme] = []
    for k, label in enumerate(head.labels):
        cut = float(head.thresholds.get(label, 0.5))
        column = probs[:, k]
        if float(column.max()) < cut or label not in HEAD_LABELS:
            continue
        # The person's words that showed it: a whole short sentence reads best, else the window.
        order = sorted(range(len(column)), key=lambda i: (
            column[i] < cut, not (reading.spans[i].kind == "sentence" and reading.spans[i].words() <= TRIGGER_SENTENCE_WORDS),
            -column[i]))
        triggers: list[str] = []
        taken: list[tuple[int, int]] = []
        for i in order:
            span = reading.spans[i]
            if column[i] < cut or len(triggers) == 3:
                break
            if any(span.start < b and a < span.end for a, b in taken):
                continue
            taken.append((span.start, span.end))
            triggers.append(reading.span_text(i).strip(" ,;"))
        kind, name = HEAD_LABELS[label]
        found.append(Theme(kind=kind, name=name, triggers=triggers))
    return found


def rule_themes(text: str, pending_step: str | None = None) -> list[Theme]:
    """The themes the phrase rules find (used when the trained model isn't there)."""
    original = tx.normalise(text)
    lower = original.lower()
    found: list[Theme] = []
    for (kind, name), patterns in _COMPILED.items():
        triggers: list[str] = []
        spans: list[tuple[int, int]] = []
        for pattern in patterns:
            for m in pattern.finditer(lower):
                if any(m.start() < e and s < m.end() for s, e in spans):
                    continue
                if kind == "pattern" and _NOT_PATTERN.search(lower[max(0, m.start() - 25) : m.start()]):
                    continue  # "instead of spiralling" is the opposite of the pattern
                spans.append(m.span())
                trig = _trigger(original, m.start(), m.end())
                if trig and trig not in triggers and not any(trig in t or t in trig for t in triggers):
                    triggers.append(trig)
        if triggers:
            found.append(Theme(kind=kind, name=name, triggers=triggers[:3]))
    steps = find_steps(original)
    if steps:
        found.append(Theme(kind="small_step", name="set", triggers=steps[:2]))
    follow = _followed_up(original, lower, pending_step)
    if follow:
        found.append(Theme(kind="small_step", name="followed_up", triggers=follow))
    return found


def find_steps(text: str) -> list[str]:
    """Small steps the person sets ("this week I'll ask Sam for coffee"), in their words."""
    original = tx.normalise(text)
    lower = original.lower()
    steps: list[str] = []
    for pattern in _STEP:
        for m in pattern.finditer(lower):
            s, e = m.span("step")
            step = original[s:e].strip(" ,")
            step = re.split(r"\s+\b(?:but|because|though|although|and then|so that)\b\s+", step)[0].strip(" ,")
            if len(step.split()) >= 2 and not any(step in x or x in step for x in steps):
                steps.append(step)
    return steps


def _followed_up(original: str, lower: str, pending_step: str | None) -> list[str]:
    triggers = []
    for pattern in _FOLLOWUP:
        for m in pattern.finditer(lower):
            triggers.append(_trigger(original, m.start(), m.end()))
    if pending_step and not triggers:
        step_words = set(tx.content_words(pending_step))
        for sentence in tx.sentences(original):
            shared = step_words & set(tx.content_words(sentence))
            past = re.search(r"\b(?:did|tried|asked|told|called|texted|went|managed|said|reached|talked|spoke|"
                             r"shared|invited|wrote|sent|didn'?t|couldn'?t|got)\b", sentence.lower())
            if shared and past:
                triggers.append(sentence if len(sentence.split()) <= MAX_TRIGGER_WORDS
                                else " ".join(sentence.split()[:MAX_TRIGGER_WORDS]))
                break
    return triggers[:2]


# ---------------------------------------------------------------- people and feelings

_RELATIONS = (
    "best friend|close friend|oldest friend|friend|friends|sister|brother|mum|mom|mother|dad|father|parents|"
    "partner|husband|wife|boyfriend|girlfriend|fiancé|fiance|fiancée|ex|ex-boyfriend|ex-girlfriend|ex-husband|"
    "ex-wife|boss|manager|therapist|son|daughter|kids|children|colleague|coworker|co-worker|roommate|flatmate|"
    "housemate|grandmother|grandma|gran|granny|grandfather|grandpa|aunt|auntie|uncle|cousin|neighbour|neighbor|"
    "team|family|stepmom|stepmum|stepdad|mentor|teacher|date|team lead|landlord|in-laws|baby|nan|nana"
)
_RELATION_RE = re.compile(r"\b(?:my|our) (?:(?:older|younger|little|big|new|old) )?(" + _RELATIONS + r")\b", re.IGNORECASE)
_NAME_VERBS = re.compile(
    r"^(?:said|says|told|texted|called|came|comes|asked|was|is|and|didn'?t|hasn'?t|has|had|hugged|left|sent|"
    r"replied|messaged|seemed|looked|got|gave|took|made|smiled|laughed|wants|wanted|hasn't|doesn't|isn't|wasn't|"
    r"invited|offered|listened|stayed|rang|cancelled|canceled|forgot|remembered|went|met|saw|knew|kept|wrote|"
    r"brought|thought|felt|ran|sat|stood|seems|looks|will|would|can|could|might|never|always|just|finally|really|"
    r"still|keeps|did|does|doesn'?t|won'?t|wouldn'?t|can'?t|couldn'?t|\w+ed|'s|’s)\b",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"\b([A-Z][a-zà-ÿ]+(?:-[A-Z][a-zà-ÿ]+)?)\b")

FEELINGS = {
    # word in the transcript -> how it is said back
    "lonely": "lonely", "alone": "alone", "isolated": "isolated", "sad": "sad", "down": "low", "low": "low",
    "anxious": "anxious", "nervous": "nervous", "worried": "worried", "scared": "scared", "afraid": "afraid",
    "frightened": "frightened", "terrified": "scared", "panicky": "panicky", "panicked": "panicky",
    "panic": "panicky", "angry": "angry", "furious": "angry", "mad": "angry", "annoyed": "annoyed",
    "frustrated": "frustrated", "irritated": "irritated", "resentful": "resentful", "hurt": "hurt",
    "rejected": "rejected", "abandoned": "abandoned", "ashamed": "ashamed", "embarrassed": "embarrassed",
    "guilty": "guilty", "jealous": "jealous", "confused": "confused", "lost": "lost", "stuck": "stuck",
    "overwhelmed": "overwhelmed", "exhausted": "exhausted", "tired": "tired", "drained": "drained",
    "numb": "numb", "empty": "empty", "hopeless": "discouraged", "helpless": "helpless", "stressed": "stressed",
    "tense": "tense", "restless": "restless", "insecure": "unsure of yourself", "uneasy": "uneasy",
    "disappointed": "disappointed", "heartbroken": "heartbroken", "grief": "grieving", "grieving": "grieving",
    "happy": "happy", "glad": "glad", "relieved": "relieved", "relief": "relieved", "calm": "calm",
    "peaceful": "peaceful", "grateful": "grateful", "thankful": "grateful", "proud": "proud", "hopeful": "hopeful",
    "excited": "excited", "safe": "safe", "loved": "loved", "content": "content", "joyful": "joyful",
    "warm": "warm", "light": "lighter", "lighter": "lighter", "steady": "steady", "seen": "seen",
    "understood": "understood", "supported": "supported", "surprised": "surprised", "moved": "moved",
    "tender": "tender", "vulnerable": "vulnerable", "raw": "raw", "shaky": "shaky", "on edge": "on edge",
    "miserable": "miserable", "upset": "upset", "invisible": "invisible", "ignored": "ignored",
    "left out": "left out", "overlooked": "overlooked", "unimportant": "unimportant", "trusted": "trusted",
    "useless": "useless", "small": "small", "judged": "judged", "respected": "respected", "gross": "awful about yourself", "awful": "awful",
    "terrible": "terrible", "horrible": "horrible", "weird": "a bit strange", "unsettled": "unsettled", "homesick": "homesick",
}
_FEELING_CONTEXT = re.compile(
    r"\b(?:i|i'?m|i am|i was|i've been|ive been|i have been|i feel|i felt|i'?m feeling|i was feeling|left me|made me|"
    r"makes me|leaves me|i got|i get|i'?m getting|i became|feeling|felt)\s+"
    r"(?:so |really |very |pretty |quite |kind of |kinda |a bit |a little |just |totally |completely |incredibly |super |more |less |a lot |)*"
    r"(" + "|".join(sorted((re.escape(k) for k in FEELINGS), key=len, reverse=True)) + r")\b"
)
_FEELING_WORDS = "|".join(sorted((re.escape(k) for k in FEELINGS), key=len, reverse=True))
_FEELING_CHAIN = re.compile(
    r"\b(" + _FEELING_WORDS + r")(?:,| and| or| but also| but)\s+(?:so |really |very |a bit |a little |kind of |also |quite )*("
    + _FEELING_WORDS + r")\b"
)
_SELF_CRITICAL = re.compile(
    r"\b(?:call(?:ing|ed)? myself|i'?m (?:so |such an? |a |an )?|i am (?:so |such an? |a |an )?|i feel (?:so |like )?(?:a |an )?)\s*"
    r"(?:stupid|idiot|failure|loser|useless|pathetic|worthless|disgusting|an idiot|a failure|a mess|a disaster)\b"
    r"|\bhate myself\b|\b(?:can'?t|couldn'?t) forgive myself\b|\bbeat(?:ing)? myself up\b|\bso hard on myself\b"
)
_WEAK_FEELINGS = {"down", "low", "lost", "stuck", "light", "lighter", "warm", "content", "raw", "moved", "seen",
                  "safe", "alone", "empty", "mad", "calm", "steady", "tender", "tired"}
_NOT_FEELING = re.compile(r"\b(?:not|n't|never|no longer) (?:\w+ )?$")


# Words before a capitalised word that make it a place or a thing rather than a person.
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:in|near|around|outside|across|through|into|towards?|the)"  # not "at": "snapped at Tom"
    r"|\b(?:went|go|goes|going|gone|moved|move|moving|drove|drive|driving|flew|fly|flying|travel(?:l?ed|l?ing)?|"
    r"trip|back|way|train|bus|visit(?:ed|ing)?|walked|flight|holiday|home) (?:to|in|into|from|round|around|over to)"
    r"|\b(?:lunch|dinner|breakfast|coffee|shopping|arrived|stayed|staying) at)\s+$"
)
# ...unless the words before are about a person: "confided in Maya", "believed in Sam".
_PERSON_BEFORE = re.compile(r"\b(?:confid\w*|believ\w*|trust\w*|interested|disappointed|proud) in\s+$")
_TITLES = frozenset({"Dr", "Mr", "Mrs", "Ms", "Miss", "Prof", "Professor", "Doctor", "Nurse", "Aunt", "Uncle"})


def extract_details(text: str) -> Details:
    """People (names and relations), named feelings and small steps, for saying back."""
    original = tx.normalise(text)
    people: list[str] = []
    for m in _RELATION_RE.finditer(original):
        rel = "your " + m.group(0).split(" ", 1)[1].lower()
        if rel not in people:
            people.append(rel)
    names: list[str] = []
    for sentence in tx.sentences(original):
        tokens = list(_NAME_TOKEN.finditer(sentence))
        for m in tokens:
            word = m.group(1)
            if word.lower() in tx.COMMON_CAPITALISED or word.lower() in tx.STOPWORDS or word.lower() in FEELINGS:
                continue
            at_start = sentence[: m.start()].strip(" \"'") == ""
            following = sentence[m.end():].lstrip(" ,")
            if at_start and not _NAME_VERBS.match(following):
                continue
            before = sentence[: m.start()]
            if (_PLACE_BEFORE.search(before) and not _PERSON_BEFORE.search(before)
                    and not following.startswith(("'s", "’s"))):
                continue  # "in Leeds", "drove back to Manchester", "the Sun": a place or a thing
            if word in _TITLES:
                continue  # "Dr Patel": the name is the next word
            if word not in names:
                names.append(word)
    # A capitalised word at a sentence start counts if it also appears mid-sentence elsewhere.
    people = names + people
    lower = original.lower()
    feelings: list[str] = []
    for m in _FEELING_CONTEXT.finditer(lower):
        if _NOT_FEELING.search(lower[max(0, m.start() - 20) : m.start(1)]):
            continue
        if m.group(1) in _WEAK_FEELINGS and not re.search(r"\b(?:feel|felt|feeling)\b", m.group(0)):
            continue  # "I moved house" and "I got stuck in traffic" are not feelings
        word = FEELINGS[m.group(1)]
        if word not in feelings:
            feelings.append(word)
    # "I felt relieved and a bit sad": the second feeling shares the first one's "I felt".
    for m in _FEELING_CHAIN.finditer(lower):
        first, second = FEELINGS[m.group(1)], FEELINGS[m.group(2)]
        if first in feelings and second not in feelings and m.group(2) not in _WEAK_FEELINGS:
            feelings.insert(feelings.index(first) + 1, second)
    return Details(people=people[:4], feelings=feelings[:3], steps=find_steps(original),
                   self_critical=bool(_SELF_CRITICAL.search(lower)))


def themes_of(entries: Iterable[Entry]) -> set[str]:
    return {t.name for e in entries for t in e.themes}
