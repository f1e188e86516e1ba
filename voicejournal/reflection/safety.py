"""Crisis detection before any reflection, and the guard every reflection passes before it is spoken.

Crisis detection looks for sincere language about suicide, self-harm, saying goodbye, or being
in danger from someone, direct and indirect ("everyone would be better off without me"). It
ignores figures of speech ("this deadline is killing me", "I nearly died laughing"), talk about
the topic ("a documentary about suicide prevention"), clear negations ("I'd never hurt myself")
and accidents ("I cut myself chopping onions"). When in doubt between the two it errs towards
offering support: a caring message with a helpline costs little; a missed crisis costs a lot.

The guard (`check_reflection`) rejects blame, "you should have", character judgements,
diagnostic labels, commands, minimising, exclamation marks, emojis, markdown, claims to be a
person or therapist, empty / truncated / off-topic output, and text steered by instructions
hidden in the transcript.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from voicejournal.models import Safety
from voicejournal.prompts import prompts_dir, read_lines
from voicejournal.reflection import text as tx

LEVEL_CRISIS = "crisis"  # suicide, self-harm
LEVEL_DANGER = "danger"  # in danger from another person

_ME = r"(?:me|myself)"
_PARTNER = (
    r"(?:he|she|they|my (?:partner|husband|wife|boyfriend|girlfriend|ex|dad|father|mother|mom|mum|stepdad|stepfather|"
    r"stepmom|stepmum|brother|sister|son|daughter|flatmate|roommate|fiance|fiancé|uncle|boss))"
)

# (reason, level, pattern)
_CRISIS_RULES: list[tuple[str, str, str]] = [
    # direct
    ("suicide", LEVEL_CRISIS, r"\b(?:kill|killing|kills|end|ending|take|taking) (?:myself|my (?:own )?life)\b"),
    ("suicide", LEVEL_CRISIS, r"\bsuicid(?:e|al)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:(?:want|wanted|wish|wished|ready|going|planning|plan|trying) to|wanna|gonna|i'?d rather|i would rather|better to) die\b"),
    ("suicide", LEVEL_CRISIS, r"\bi (?:just )?(?:want|wish) (?:it|everything|this|the pain|life) (?:all )?(?:to )?(?:be )?(?:over|to end|ended)\b(?! (?:with|soon|already|so i can))"),
    ("suicide", LEVEL_CRISIS, r"\b(?:end|ending) it all\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:end|ending) (?:it|everything|things) (?:tonight|today|for good|once and for all|soon)\b"),
    # indirect
    ("suicide", LEVEL_CRISIS, r"\b(?:be|are|is|were) better off (?:without me|if i (?:was|were|wasn'?t|weren'?t|died|disappeared|was gone|were gone|was dead|were dead|wasn'?t here|wasn'?t around|had never been born))"),
    ("suicide", LEVEL_CRISIS, r"\b(?:don'?t|do not|didn'?t|never) want to (?:wake up|be alive|live|exist|keep living|go on living)(?! (?:with|in|at|near|like that|alone|for|early|so early|on|there|here))\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:don'?t|do not|didn'?t|never) want to (?:be here|be around|carry on|go on|keep going)(?:\s+(?:anymore|any more|any longer|like this))?\s*(?:$|[.!?,;]|and\b|but\b)"),
    ("suicide", LEVEL_CRISIS, r"\b(?:hope|hoping|wish|wishing|pray|praying) (?:i )?(?:don'?t|do not|won'?t|never|wouldn'?t) wake up\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:wish|wished|wishing) (?:i )?(?:was|were|had|could be|could just be) (?:dead|gone|never born|never been born|not here|not alive|not around|asleep forever|erased)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:disappear|vanish|fall asleep and not wake up|go to sleep and never wake up)(?: forever| for good| permanently| and never come back)\b"),
    ("suicide", LEVEL_CRISIS, r"\bno (?:point|reason|use) (?:in )?(?:living|to live|going on|being alive|to go on|carrying on|to keep going|to be here|of living|in being here|in life|to stay)\b"),
    ("suicide", LEVEL_CRISIS, r"\bwhat'?s the (?:point|use) (?:of|in) (?:living|being alive|going on|life|carrying on|me being here)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:can'?t|cannot|can not) (?:go on|keep going|carry on|do this|keep doing this|keep living)(?: living| anymore| any more| like this| any longer)*\s*(?:$|[.!?,;]|and|but)"),
    ("suicide", LEVEL_CRISIS, r"\b(?:not|won'?t) (?:be )?(?:here|around|alive) (?:much longer|for much longer|for long|anymore|any more|next week|tomorrow|by (?:tomorrow|the weekend|then))\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:only|one) way out\b|\bno way out\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:tired|sick) of (?:living|being alive|existing|life itself)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:the world|everyone|everybody|they|my family|my kids|people) (?:would|will) (?:be )?(?:fine|happier|better) (?:without me|when i'?m gone|if i'?m gone|once i'?m gone)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:i'?m|i am|i feel like) (?:such )?a (?:burden|waste of space) (?:to|on) (?:everyone|everybody|them|my family|the world|people)\b.*\b(?:better off|gone|without me|disappear)"),
    ("suicide", LEVEL_CRISIS, r"\b(?:think|thinking|thought|fantasi[sz]e|fantasi[sz]ing|dream|dreaming) (?:a lot |so much |all the time |constantly )?about (?:dying|being dead|not being (?:here|alive|around)|not existing|ending it|ending my life|my own death|killing myself|disappearing for good)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:nobody|no one|noone|none of them) would (?:even )?(?:notice|care|miss me|mind)(?: if i (?:was|were|died|disappeared|was gone|were gone|wasn'?t here|wasn'?t around)|\s*(?:$|[.!?,;]))"),
    ("plan", LEVEL_CRISIS, r"\b(?:planning|planned|plan|figured out|worked out|thinking about) (?:how|when|where) (?:i would|i'?d|i'?ll|i will|to) (?:do it|end it|go through with it|die|kill)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:don'?t|do not|can'?t|cannot) see (?:any |a |the )?(?:reason|point) (?:to|in|of) (?:keep going|keeping going|living|going on|carrying on|being here|staying|being alive)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:go to sleep|fall asleep|sleep) and (?:never|not) wake up\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:feel like|thinking (?:of|about)|want to|wanna|going to|gonna|might|could|plan to|planning on) (?:end|ending) it\b(?! (?:with|for|all right|off|there|early|soon with))"),
    ("suicide", LEVEL_CRISIS, r"\blife (?:isn'?t|is not|wasn'?t|is no longer|doesn'?t feel|does not feel|hardly seems) worth (?:living|it)\b|\bnot worth living\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:i'?d|i would) rather (?:be dead|not be alive|not exist|not be here|not wake up)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:hope|hoping|wish|wouldn'?t mind if) (?:i )?(?:get|gets|got) (?:hit|run over) by (?:a |the )?(?:car|bus|train|truck|lorry)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:don'?t think|doubt|not sure) i'?(?:ll| will) (?:be here|be around|be alive|make it) (?:next week|much longer|for long|tomorrow|by|through the (?:night|week))"),
    ("suicide", LEVEL_CRISIS, r"\bno point (?:anymore|any more|to anything|in anything|in trying anymore)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:want|wanna|wish i could|wish to|going to) (?:to )?(?:stop existing|not exist|cease to exist|stop living|not be alive)\b"),
    ("danger", LEVEL_DANGER, r"\b(?:scared|afraid|terrified|frightened) (?:to go|of going|to be) (?:back )?home\b(?! (?:alone at night|in the dark))"),
    ("plan", LEVEL_CRISIS, r"\b(?:pills|tablets|knife|blade|razor|rope|gun) (?:is |are )?(?:right )?(?:next to me|beside me|in front of me|in my hand)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:driv\w*|crash\w*|steer\w*) (?:my car |the car )?(?:into|off) (?:a |the )?(?:wall|tree|bridge|cliff|river|lorry|truck|oncoming traffic)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:made|have|got|making|worked out) a plan\b.{0,40}\b(?:do it|end it|go through with it)\b|\bknow (?:when|how) i'?(?:ll| will| am going to|'m going to) do it\b"),
    ("goodbye", LEVEL_CRISIS, r"\b(?:said|saying|say) (?:all )?my goodbyes\s*(?:$|[.!?,;]|and\b|to everyone)"),
    ("danger", LEVEL_DANGER, r"\b(?:he|she|they)(?:'ll| will|'d| would| is going to|'s going to| are going to|'re going to) (?:kill|hurt) me\b.{0,30}\bif i\b|\bif i (?:leave|go|tell|try)\b.{0,30}\b(?:he|she|they)(?:'ll| will|'d| would| is going to) (?:kill|hurt) me\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:bus|car|train|truck|lorry) (?:would |could |might |to )?(?:just )?(?:take me out|hit me|run me over|end it)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:painless|quick|easy|quickest|best) ways? to (?:go|die|do it|end it|kill myself)\b|\bways to (?:die|kill myself|end my life)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:everything|all|what) i need to do it\b"),
    ("self-harm", LEVEL_CRISIS, r"\b(?:started|begun|began|back to|been|keep|kept|am|i'?m) cutting\b(?! (?:back|down|out|the|my hair|onions|vegetables|costs|ties|class|corners))"),
    ("suicide", LEVEL_CRISIS, r"\b(?:want|wish|need) (?:for )?(?:everything|it all|the world|life|all of it) to (?:stop|end)\b"),
    ("suicide", LEVEL_CRISIS, r"\bwon'?t be (?:a problem|a burden|in the way|anyone'?s problem) (?:for anyone |to anyone |for anybody |to you all )?(?:much longer|for long|soon|anymore|any more)\b"),
    ("suicide", LEVEL_CRISIS, r"\bbetter off dead\b"),
    ("suicide", LEVEL_CRISIS, r"\bcan'?t see myself (?:being here|being alive|being around|living|making it|still here)\b"),
    ("suicide", LEVEL_CRISIS, r"\bready to go\b.{0,40}\bmade (?:my )?peace\b|\bmade (?:my )?peace\b.{0,40}\bready to go\b"),
    ("danger", LEVEL_DANGER, r"\b(?:he|she|they|my \w+) (?:pushed|pushes|shoved|threw|dragged) me (?:down|into|against|over|off|out of|onto|to the)\b"),
    ("danger", LEVEL_DANGER, r"\b(?:knife|bat|weapon|pepper spray) under my (?:pillow|bed)\b"),
    # plans, means, goodbyes
    ("plan", LEVEL_CRISIS, r"\b(?:overdose|overdosing|od'?ing|od) on\b|\boverdos(?:e|ing)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:took|take|taking|swallow|swallowed|stockpil\w*|saving up|saved up|hoarding|collected|counting) (?:all )?(?:of )?(?:my |the |some |enough |a lot of |all the |a bottle of |a handful of )?(?:pills|tablets|sleeping (?:pills|tablets)|painkillers|paracetamol|meds|medication)\b(?! (?:for (?!a few|weeks|months|a while|ages)|this|every|with|as|at))"),
    ("plan", LEVEL_CRISIS, r"\b(?:bought|got|have|found|looked up|researched|tied) (?:a |the )?(?:rope|noose|gun|ways to die|how to die|how many pills)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:jump|jumping|throw myself) (?:off|from|in front of) (?:a |the |that )?(?:bridge|roof|building|train|balcony|cliff|car|bus)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:suicide|goodbye) (?:note|notes|letter|letters)\b|\b(?:wrote|writing|written|left) (?:a |my )?(?:note|letter|letters|notes) (?:for|to) (?:everyone|my family|my kids|my parents|them all)\b"),
    ("goodbye", LEVEL_CRISIS, r"\bthis is (?:my )?(?:final |last )?goodbye\b|\b(?:saying|said|say|wanted to say|time to say) (?:my )?(?:final |last )?goodbyes? to (?:everyone|everybody|you all|all of you|the world)\b|\b(?:my|a) (?:final|last) goodbye\b"),
    ("goodbye", LEVEL_CRISIS, r"\b(?:giving|gave|give) away (?:all )?(?:of )?my (?:things|stuff|belongings|possessions|cat|dog|pets)\b"),
    ("goodbye", LEVEL_CRISIS, r"\b(?:after|when|once) i'?m gone\s*(?:$|[.!?,;])|\b(?:looked after|taken care of|be okay|be ok|be fine) (?:after|when|once) i'?m (?:gone|dead|not here)\b"),
    # self-harm
    ("self-harm", LEVEL_CRISIS, r"\b(?:cut|cutting|cuts|burn|burning|burned|burnt|hurt|hurting|harm|harming|hit|hitting|punish|punishing|starve|starving|scratch(?:ed|ing)?|bang(?:ed|ing)? my head|punch(?:ed|ing)?) (?:myself|my (?:arms?|wrists?|legs?|thighs?|skin))\b"),
    ("self-harm", LEVEL_CRISIS, r"\bself[- ]?harm\w*\b"),
    ("self-harm", LEVEL_CRISIS, r"\b(?:hit|hitting|bang|banged|banging|slam|slammed|slamming) my head (?:against|on|into) (?:the |a )?(?:wall|floor|door)\b"),
    ("plan", LEVEL_CRISIS, r"\b(?:stopped|stop|stopping|not) taking my (?:insulin|meds|medication|medicine|tablets|pills)\b.{0,20}\bon purpose\b"),
    ("self-harm", LEVEL_CRISIS, r"\b(?:urge|urges|want|wanted|tempted|itching) to (?:cut|hurt|harm|burn|punish) (?:myself|again)?"),
    ("self-harm", LEVEL_CRISIS, r"\b(?:relapsed|relapse) (?:and )?(?:cut|into cutting|into self|with cutting)"),
    ("self-harm", LEVEL_CRISIS, r"\b(?:deserve|deserved) to (?:die|be hurt|suffer|feel pain)\b"),
    # danger from someone
    ("danger", LEVEL_DANGER, r"\b" + _PARTNER + r" (?:hit|hits|hitting|beat|beats|beating|choked|chokes|choking|strangled|strangles|punched|punches|kicked|kicks|slapped|slaps|shoved|shoves|threw|throws|dragged|raped|hurt|hurts|burned|bit|grabbed|pinned) (?:me|my)\b"),
    ("danger", LEVEL_DANGER, r"\b(?:threaten|threatened|threatens|threatening) (?:to )?(?:kill|hurt|hit|beat|shoot|stab) me\b|\bthreaten(?:ed|s|ing)? me with (?:a |his |her )?(?:knife|gun|weapon)\b"),
    ("danger", LEVEL_DANGER, r"\b" + _PARTNER + r" (?:said|says|told me) (?:he|she|they)(?:'d| would| will|'ll| is going to| was going to) (?:kill|hurt|hit|beat) me\b"),
    ("danger", LEVEL_DANGER, r"\b(?:afraid|scared|terrified|frightened|fear|fearing)(?: of what)? (?:he|she|they|my \w+)(?:'ll| will| might| is going to|'s going to| could| would|'d)? (?:do to me|hurt me|kill me|hit me|do next|come back)\b"),
    ("danger", LEVEL_DANGER, r"\b(?:scared|afraid|fear|fearing|terrified) for my (?:life|safety)\b"),
    ("danger", LEVEL_DANGER, r"\b(?:don'?t|do not|never) feel safe (?:at home|in my own home|in my home|around (?:him|her|them)|with (?:him|her|them))\b|\bnot safe (?:at home|in my own home|with (?:him|her|them))\b"),
    ("danger", LEVEL_DANGER, r"\b(?:locked|locks|locking) me in\b|\bwon'?t let me (?:leave|go out|see anyone|have my phone)\b"),
    ("danger", LEVEL_DANGER, r"\b(?:being|been|was|am) (?:abused|assaulted|raped|beaten|stalked|followed home)\b"),
    # Gaps found by a batch of fresh, unseen wording (each pinned by a test in test_safety.py).
    ("plan", LEVEL_CRISIS, r"\b(?:decided|made up my mind|tonight'?s the night|tonights the night)\b.{0,40}\b(?:end it|do it|go through with it)\b"),
    ("suicide", LEVEL_CRISIS, r"\b(?:cope|be fine|be okay|be ok|manage|move on|be happier|be better)\b.{0,30}\bif i (?:just )?(?:wasn'?t|wasnt|weren'?t|werent|was not) (?:around|here|alive)\b"),
    ("goodbye", LEVEL_CRISIS, r"\bgoodbyes?\b.{0,60}\b(?:won'?t be a shock|wont be a shock|won'?t be (?:shocked|surprised))\b"),
    ("goodbye", LEVEL_CRISIS, r"\bonly thing (?:stopping|keeping) me\b.{0,60}\b(?:gave|giving|give) (?:her|him|them|it) (?:away|to)\b|\bonly thing keeping me (?:alive|here)\b"),
    ("self-harm", LEVEL_CRISIS, r"\bi (?:cut|burned|burnt|hurt myself) again\b|\bdeeper this time\b"),
    ("goodbye", LEVEL_CRISIS, r"\b(?:wrote|written|writing|made|sorted) (?:out )?my will\b.{0,60}\b(?:notes?|letters?|goodbyes?)\b"),
    ("danger", LEVEL_DANGER, r"\b(?:he|she|they)(?:'ll|'d| will| would| is going to|'s going to| was going to) (?:stab|shoot|strangle|choke|burn) me\b"),
]

# A figure of speech, the topic in the abstract, or an accident: these words in the same clause
# mean the match is not about the person's own safety.
_NOT_CRISIS_CONTEXT = re.compile(
    r"\b(?:documentary|documentaries|podcast|film|movie|book|novel|article|series|episode|show|lecture|class|"
    r"course|training|seminar|awareness|prevention|research|study|statistics|rates|squad|fundraiser|charity|"
    r"volunteer\w*|hotline shift|essay|thesis|character|song|lyrics|game|video game|history of|news|"
    r"in the story|crossword|the plot|heart attack|shaving|chopping|cooking|kitchen|knife slipped|by accident|"
    r"accidentally|paper cut|at the gym|lifting|playing|football|tripped|fell over|ankle|knee|wrist brace|"
    r"sunburn|oven|iron|onions?|laughing|laughter|embarrass\w*|boredom|cringe|for a coffee|for a nap|this morning|"
    r"lie in|snooze|alarm clock|rather die than|"
    r"to die for|dying to|laughed|with a pillow|pillow fight|joking|jokingly|playfully|tickl\w*|"
    r"(?:his|her|their|brother'?s|sister'?s|friend'?s|mum'?s|mom'?s|dad'?s|father'?s|mother'?s|cousin'?s) suicide|"
    r"(?:she|he|they)(?:'d| had| was| were)(?: been)? (?:really |so |very )?suicidal|nervous)\b",
    re.IGNORECASE,
)

# Negations right before the match ("I would never hurt myself", "I'm not suicidal").
_NEGATION_BEFORE = re.compile(
    r"\b(?:never|not|no|won'?t|wouldn'?t|would not|will not|don'?t|do not|didn'?t|isn'?t|am not|i'?m not|"
    r"no intention of|no plans? (?:to|of)|nothing like|not thinking about|not going to|no longer)\b(?:\s+[\w']+){0,3}\s*$",
    re.IGNORECASE,
)
# ...unless the negation itself is part of the distress ("I can't stop thinking about killing myself").
_NEGATION_EXCEPTIONS = re.compile(
    r"\b(?:can'?t stop|couldn'?t stop|cannot stop|not sure|don'?t know|do not know|can'?t promise|"
    r"not sure i won'?t|no longer want|don'?t want to be here|can'?t keep|not able to stop|can'?t help|"
    r"don'?t deserve|do not deserve)\b",
    re.IGNORECASE,
)
# Clearly in the past, and said as past ("I used to self-harm as a teenager").
_PAST = re.compile(
    r"\b(?:used to|years ago|as a (?:teen|teenager|kid|child)|when i was (?:younger|a (?:teen|teenager|kid|child)|in school|\d+)|"
    r"in high school|back in (?:school|college|uni)|when i was at (?:uni|university|college|school)|"
    r"when i was (?:\w+teen|ten|eleven|twelve|twenty\w*)|years back)\b",
    re.IGNORECASE,
)
# "...again", "lately", "now" make a past mention current.
# ("for years now" looks back on a long time well, so it doesn't make the past current.)
_CURRENT = re.compile(r"\b(?:again|lately|recently|tonight|today|(?<!years )now|these days|this week|started|back)\b",
                      re.IGNORECASE)

_RULES = [(reason, level, re.compile(pattern, re.IGNORECASE)) for reason, level, pattern in _CRISIS_RULES]


@dataclass
class CrisisCheck:
    """The result of looking for crisis language: `safety` is None when none was found."""

    safety: Safety | None
    matches: list[str] = field(default_factory=list)


def _clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    left = max(text.rfind(ch, 0, start) for ch in ".!?;\n")
    rights = [i for i in (text.find(ch, end) for ch in ".!?;\n") if i != -1]
    return left + 1, (min(rights) if rights else len(text))


# Every rule needs at least one of these words nearby. For very long texts, only the stretches
# around them are checked, so a 2 MB dictation doesn't take seconds.
_ANCHOR_WORDS = frozenset(
    """kill killing killed end ending ended die dying dead death suicide suicidal better wake wish disappear vanish
    sleep asleep point go on keep going carry here around longer alive live living exist existing way out tired
    sick fine happier burden overdose od pills pill tablets meds medication rope noose gun jump jumping note notes
    letter letters goodbye goodbyes away gone cut cutting burn burning burned hurt hurting harm harming hit hits
    hitting punish starve scratch scratched bang punch self urge urges relapse relapsed deserve choke choked
    strangled kick kicked slap slapped shove shoved push pushed threw threat threatened threatens afraid scared
    terrified frightened fear safe lock locked abused assaulted raped beat beats beaten stalked funeral plan
    planning bus car train truck knife blade razor cabinet peace problem myself drag dragged broke pay pillow
    over stop rather ways""".split()
)
_TOKEN = re.compile(r"[a-z]+")
_LONG_TEXT = 20000


def _stretches(lower: str) -> list[str]:
    if len(lower) <= _LONG_TEXT:
        return [lower]
    spans: list[list[int]] = []
    for m in _TOKEN.finditer(lower):
        if m.group(0) not in _ANCHOR_WORDS:
            continue
        start, end = max(0, m.start() - 250), min(len(lower), m.end() + 250)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [lower[a:b] for a, b in spans]


def check_crisis(text: str) -> CrisisCheck:
    """Look for crisis language in `text`. Danger from someone and self-harm/suicide both count.

    Two layers, either is enough: the rules below (fixed phrases, with their protections for
    figures of speech, negations and the past), then, when they find nothing, the meaning of
    each sentence compared with the labelled examples in `prompts/safety/` (`semantic_check`).
    """
    flat = tx.normalise(text).replace("’", "'")
    pieces = _stretches(flat.lower()) if len(flat) > _LONG_TEXT else [flat]
    for piece in pieces:
        found = _check_piece(piece)
        if found.safety is not None:
            return found
    return semantic_check(" \n".join(pieces))


def _check_piece(flat: str) -> CrisisCheck:
    lower = flat.lower()
    hits: list[tuple[str, str, str]] = []
    for reason, level, pattern in _RULES:
        for m in pattern.finditer(lower):
            if not _counts(lower, m.start(), m.end()):
                continue
            hits.append((reason, level, flat[m.start() : m.end()]))
            break
    if not hits:
        said = _ideation(lower)
        if said:
            hits.append(("suicide", LEVEL_CRISIS, said))
        feared = _danger(lower)
        if feared:
            hits.append(("danger", LEVEL_DANGER, feared))
    if not hits:
        return CrisisCheck(safety=None)
    levels = {level for _, level, _ in hits}
    level = LEVEL_DANGER if levels == {LEVEL_DANGER} else LEVEL_CRISIS
    reasons = sorted({reason for reason, _, _ in hits})
    return CrisisCheck(
        safety=Safety(level=level, reason=", ".join(reasons) + " language"),
        matches=[m for _, _, m in hits],
    )


# Ideation said in words no fixed phrase foresaw: in one sentence, the person (I / my), something
# about their own death or not living, and wanting, planning, imagining or relief.
_SELF = re.compile(r"\b(?:i|i'm|im|i've|i'd|i'll|me|my|myself)\b")
_DEATH = re.compile(
    r"\b(?:to die|i die|i'?d die|be dead|being dead|i was dead|i were dead|my (?:own )?(?:death|funeral)|suicid\w*|"
    r"(?:be|stay|being|staying|am|feel) alive|to live(?! (?:in|with|at|near|there|here|like|on|abroad|alone|together|"
    r"for|by|up|out|off|without))|(?:to )?not exist|exist(?:ing)? (?:anymore|any more)|stop existing|"
    r"(?:not|never|don'?t|won'?t) wake up|(?:sleep|asleep) forever|end it(?! (?:with|for|there|early|off))(?: all)?|"
    r"end(?:ing)? (?:my life|everything)|out of (?:this|my) life|overdose|medicine cabinet|(?:the|my|all the|those) pills|"
    r"rope|noose)\b"
)
_WANT = re.compile(
    r"\b(?:want|wanted|wanna|wish|wishing|hope|hoping|going to|gonna|plan|planning|planned|thinking (?:about|of)|"
    r"think about|thought about|imagin\w*|fantasi\w*|ready to|waiting to|tired of|deserve|easier if|better if|"
    r"better off|relieved|relief|can'?t wait to|reading about|read about|looked up|searching|ways to|how to|"
    r"would rather|rather be|long to|longing|tempted|urge)\b"
)
_LIFE = re.compile(r"alive|live|exist")
_AGAINST_LIFE = re.compile(r"\b(?:not|never|no|don'?t|won'?t|can'?t|tired of|sick of|stop|stopping|fighting|deserve|point|"
                           r"reason|without|anymore|any more)\b|n't\b")
_CUE_NEGATED = re.compile(r"\b(?:don'?t|do not|never|not|won'?t|wouldn'?t|no longer|not going to)\s+(?:\w+\s+){0,1}$")


_FEAR = re.compile(r"\b(?:terrified|scared|afraid|frightened|unsafe|not safe|in danger|fear for)\b")
_SOMEONE = re.compile(r"\b(?:he|she|they|him|her|them|my (?:ex|partner|husband|wife|boyfriend|girlfriend|dad|father|"
                      r"stepdad|stepfather|mother|mum|mom|stepmum|stepmom|brother|flatmate|roommate))\b")
_THREAT = re.compile(r"\b(?:broke in|broken in|break in|threaten\w*|make me pay|hurt me|hit me|follow\w* me|stalk\w*|"
                     r"smash\w*|grabb?\w* me|strangl\w*|chok\w* me|knife|gun|weapon|kill me|beat me|rap\w+ me|"
                     r"won'?t let me (?:leave|go))")


def _danger(lower: str) -> str | None:
    for clause in re.split(r"[.!?;\n]+", lower):
        if _FEAR.search(clause) and _SOMEONE.search(clause) and _THREAT.search(clause):
            if not _NOT_CRISIS_CONTEXT.search(clause):
                return clause.strip()
    return None


def _ideation(lower: str) -> str | None:
    for clause in re.split(r"[.!?;\n]+", lower):
        if not _SELF.search(clause) or _NOT_CRISIS_CONTEXT.search(clause):
            continue
        death = _DEATH.search(clause)
        want = _WANT.search(clause)
        if not death or not want:
            continue
        if _PAST.search(clause) and not _CURRENT.search(clause):
            continue
        first = min(death.start(), want.start())
        negated = _CUE_NEGATED.search(clause[max(0, first - 30) : first])
        if negated and not _LIFE.search(death.group(0)) and not _NEGATION_EXCEPTIONS.search(clause):
            continue  # "I don't want to die" is not ideation; "I don't want to be alive" is
        if _LIFE.search(death.group(0)) and not _AGAINST_LIFE.search(clause):
            continue  # "I want to live by the sea" is the opposite of ideation
        return clause.strip()
    return None


def is_crisis(text: str) -> bool:
    return check_crisis(text).safety is not None


# ---------------------------------------------------------------- the semantic layer
#
# Rules only know the phrases someone thought of. People say "I gave my dog to my sister
# because I won't be around". Each sentence of the entry (long unpunctuated speech: windows of
# ~25 words that overlap) is embedded with a small sentence encoder (all-MiniLM-L6-v2, in numpy)
# and compared with labelled examples: prompts/safety/crisis_examples.txt, danger_examples.txt
# and not_crisis_examples.txt. A sentence counts when it is close to a crisis/danger example
# (SIM_MIN) and closer to it than to any not-crisis example by MARGIN. The not-crisis examples
# carry the figures of speech, accidents, negations and ordinary pain, so they are the
# protection here; the thresholds were tuned on tests/data/crisis_sentences.tsv and
# tests/data/crisis_dev_extra.tsv (bench/crisis_tuning.py).

SIM_MIN = 0.40
MARGIN = 0.08
TOP_K = 3  # the mean of the k nearest examples of a kind: one stray example doesn't decide
WINDOW_WORDS = 25
WINDOW_STEP = 15
MAX_SEGMENTS = 60  # ~500 words of speech, well under a second; longer entries: telling clauses first
_EXAMPLE_FILES = {
    LEVEL_CRISIS: "safety/crisis_examples.txt",
    LEVEL_DANGER: "safety/danger_examples.txt",
    "ok": "safety/not_crisis_examples.txt",
}


def crisis_segments(text: str) -> list[str]:
    """The parts of `text` that are embedded: clauses, and windows of over-long speech."""
    return list(dict.fromkeys(part for group in _segment_groups(text) for part in group))


def _segment_groups(text: str) -> list[list[str]]:
    """Per sentence, its clauses; over-long sentences (speech without punctuation) as windows."""
    groups: list[list[str]] = []
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
        words = sentence.split()
        if len(words) < 2:
            continue
        # Spoken entries run ideas together ("had lunch with dave, and i've decided tonight's the
        # night"): a sentence is embedded as its clauses, so ordinary words around a crisis don't
        # dilute its meaning. Clauses too short to mean much on their own join the next one.
        clauses: list[str] = []
        carry = ""
        for clause in _CLAUSE_BREAK.split(sentence):
            clause = (carry + " " + clause).strip() if carry else clause.strip()
            if len(clause.split()) < MIN_CLAUSE_WORDS:
                carry = clause
                continue
            clauses.append(clause)
            carry = ""
        if carry:
            if clauses:
                clauses[-1] += " " + carry
            else:
                clauses.append(carry)
        if len(words) > WINDOW_WORDS + 5:
            # Speech without punctuation: its clauses, plus overlapping windows for the context
            # that clauses lose; a clause that is still too long is only read in the windows.
            groups += [[c] for c in (" ".join(c.split()) for c in clauses) if len(c.split()) <= WINDOW_WORDS + 5]
            groups += [[" ".join(words[start : start + WINDOW_WORDS])]
                       for start in range(0, len(words) - WINDOW_STEP, WINDOW_STEP)]
            continue
        groups.append([" ".join(c.split()) for c in clauses])
        if len(clauses) > 1 and len(words) <= WHOLE_SENTENCE_WORDS:
            groups.append([" ".join(words)])  # short enough to embed whole as well: cheap, and exact
    return groups


MIN_CLAUSE_WORDS = 4
WHOLE_SENTENCE_WORDS = 20
# Typed entries often drop apostrophes ("cant", "dont"); the encoder reads "can't" better. Only
# unambiguous ones ("ill", "were", "its", "well", "hell" are words too).
_CONTRACTIONS = {w.replace("'", ""): w for w in (
    "can't don't won't isn't wasn't didn't doesn't couldn't wouldn't shouldn't haven't hasn't aren't "
    "i'm i've that's there's they're they'll they've she's he's what's it'll".split()
)} | {"im": "i'm", "ive": "i've", "cant": "can't", "wont": "won't"}
_CONTRACTION = re.compile(r"\b(?:" + "|".join(sorted(_CONTRACTIONS, key=len, reverse=True)) + r")\b")


_CLAUSE_BREAK = re.compile(r"[,:—–]+\s*|\s+(?:and|but|anyway|so|because|cos|then)\s+(?=i\b|i'|im\b|he\b|she\b|they\b|my\b)",
                           re.IGNORECASE)


@dataclass
class _Examples:
    texts: list[str]
    labels: list[str]  # LEVEL_CRISIS, LEVEL_DANGER or "ok", one per text
    vectors: object  # numpy (n, 384) unit vectors


def _example_key() -> str:
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(_EXAMPLE_FILES.values()):
        digest.update(name.encode() + b"\0" + (prompts_dir() / name).read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=4)
def _examples(key: str) -> _Examples | None:
    # numpy is imported here (it is heavy) and only when the encoder is there to use.
    from voicejournal.reflection import embedding

    encoder = embedding.get_encoder()
    if encoder is None:
        return None
    import numpy as np

    texts: list[str] = []
    labels: list[str] = []
    for label, name in _EXAMPLE_FILES.items():
        lines = read_lines(name)
        texts += lines
        labels += [label] * len(lines)
    cache = _example_cache_path(key, encoder.model_id)
    vectors = None
    if cache is not None and cache.is_file():
        try:
            vectors = np.load(cache)
            if vectors.shape != (len(texts), encoder.hidden):
                vectors = None
        except (OSError, ValueError):
            vectors = None
    if vectors is None:
        vectors = encoder.encode(texts)
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(".tmp.npy")
                np.save(tmp, vectors)
                tmp.replace(cache)
            except OSError:
                pass  # a read-only cache only costs time
    return _Examples(texts=texts, labels=labels, vectors=vectors)


def _example_cache_path(key: str, model_id: str):
    """Embedded examples are cached on disk (~2 s to compute, ~1 ms to load), keyed by their text."""
    try:
        import platformdirs
    except ImportError:
        return None
    import hashlib

    model = hashlib.sha256(model_id.encode()).hexdigest()[:8]
    return Path(platformdirs.user_cache_dir("voicejournal", appauthor=False)) / "crisis" / f"{key}-{model}.npy"


_examples_lock = threading.Lock()


def _current_examples() -> _Examples | None:
    # One thread computes them; another (the check-in's first entry) waits rather than repeats.
    with _examples_lock:
        return _examples(_example_key())


def warm_up() -> bool:
    """Load the encoder and embed the examples now (a check-in does it in the background)."""
    return _current_examples() is not None


@dataclass
class SegmentScore:
    """How one sentence compares with the examples (for `matches` and for tuning)."""

    segment: str
    level: str  # the kind of the nearest crisis/danger example
    crisis: float  # mean similarity to its TOP_K nearest crisis/danger examples
    ok: float  # the same for the not-crisis examples
    nearest: str  # the nearest crisis/danger example

    @property
    def flagged(self) -> bool:
        return self.crisis >= SIM_MIN and self.crisis - self.ok >= MARGIN


def semantic_scores(text: str) -> list[SegmentScore] | None:
    """Each sentence's similarity to the crisis and not-crisis examples; None without the encoder."""
    found = segment_similarities(text)
    if found is None:
        return None
    import numpy as np

    examples, segments, sims = found
    if not segments:
        return []
    labels = np.array(examples.labels)
    positive = labels != "ok"
    k = TOP_K
    scores = []
    for i, segment in enumerate(segments):
        pos = np.sort(sims[i, positive])[::-1][:k].mean()
        neg = np.sort(sims[i, ~positive])[::-1][:k].mean()
        best = int(np.flatnonzero(positive)[np.argmax(sims[i, positive])])
        scores.append(SegmentScore(segment, examples.labels[best], float(pos), float(neg), examples.texts[best]))
    return scores


def segment_similarities(text: str):
    """(examples, segments, cosine matrix segments x examples), or None without the encoder."""
    examples = _current_examples()
    if examples is None:
        return None
    import numpy as np

    from voicejournal.reflection import embedding

    groups = _segment_groups(text)
    segments = list(dict.fromkeys(part for group in groups for part in group))
    if len(segments) > MAX_SEGMENTS:
        # A very long entry: embedding every clause would take seconds. Keep the clauses with a
        # telling word first (the same words that pick the stretches the rules read), then the rest.
        telling = [seg for seg in segments if _ANCHOR_WORDS.intersection(_TOKEN.findall(seg.lower()))]
        keep = set((telling + [seg for seg in segments if seg not in set(telling)])[:MAX_SEGMENTS])
        segments = [seg for seg in segments if seg in keep]
    if not segments:
        return examples, [], None
    vectors = embedding.encode([_CONTRACTION.sub(lambda m: _CONTRACTIONS[m.group(0)], seg.lower()) for seg in segments])
    # A whole sentence's meaning matters too ("i gave my dog to my sister because i won't be
    # around"). Rather than run the model again on it, approximate its embedding by the
    # word-weighted mean of its clauses' (mean pooling makes this close to the real thing).
    index = {seg: i for i, seg in enumerate(segments)}
    extra, extra_vectors = [], []
    for group in groups:
        if len(group) > 1 and all(part in index for part in group):
            weights = np.array([len(part.split()) for part in group], dtype=np.float32)
            mean = (vectors[[index[p] for p in group]] * weights[:, None]).sum(0)
            extra.append(" ".join(group))
            extra_vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    if extra:
        segments = segments + extra
        vectors = np.vstack([vectors, np.array(extra_vectors, dtype=np.float32)])
    return examples, segments, vectors @ examples.vectors.T


def semantic_check(text: str) -> CrisisCheck:
    """The meaning-based layer of `check_crisis`; no finding when the encoder isn't installed."""
    scores = semantic_scores(text)
    if not scores:
        return CrisisCheck(safety=None)
    flagged = [s for s in scores if s.flagged]
    if not flagged:
        return CrisisCheck(safety=None)
    levels = {s.level for s in flagged}
    level = LEVEL_DANGER if levels == {LEVEL_DANGER} else LEVEL_CRISIS
    reason = "danger" if level == LEVEL_DANGER else "suicide or self-harm"
    return CrisisCheck(
        safety=Safety(level=level, reason=f"{reason} language (meaning)"),
        matches=[f"{s.segment} (similar to: {s.nearest})" for s in flagged],
    )


def _counts(lower: str, start: int, end: int) -> bool:
    c_start, c_end = _clause_bounds(lower, start, end)
    clause = lower[c_start:c_end]
    before = lower[c_start:start]
    if _NOT_CRISIS_CONTEXT.search(clause):
        return False
    # A negation counts only within the same short clause part (after the last comma).
    near = before.rsplit(",", 1)[-1]
    if _NEGATION_BEFORE.search(near) and not _NEGATION_EXCEPTIONS.search(near + lower[start:end]):
        # "don't want to wake up" is itself the pattern: its negation is part of the match.
        return False
    if _PAST.search(clause) and not _CURRENT.search(clause):
        return False
    return True


# ---------------------------------------------------------------- the safety message


@lru_cache(maxsize=4)
def _resources(path_key: str) -> dict:
    path = prompts_dir() / "crisis_resources.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def load_resources() -> dict:
    """The crisis-lines data file (`prompts/crisis_resources.toml`), with its `checked` date."""
    return _resources(str(prompts_dir()))


def resource_lines(region: str | None, level: str = LEVEL_CRISIS) -> list[str]:
    """Helplines to show and speak for `region` (a country code); the directory when unknown."""
    data = load_resources()
    key = (region or "").strip().upper()
    key = data.get("aliases", {}).get(key, key)
    entry = data.get("regions", {}).get(key)
    lines: list[str] = []
    if entry:
        if level == LEVEL_DANGER:
            lines += entry.get("danger", [])
        lines += entry.get("crisis", [])
        lines.append(f"In immediate danger: call {entry.get('emergency', 'your local emergency number')}.")
    else:
        lines.append(data["emergency"]["text"])
    d = data["directory"]
    lines.append(f"{d['name']}: {d['contact']}, {d['note']}.")
    return lines


def safety_message(safety: Safety, region: str | None) -> tuple[str, list[str]]:
    """The calm, caring message and the helplines for this region: (spoken text, resource lines)."""
    name = "danger" if safety.level == LEVEL_DANGER else "message"
    message = " ".join(read_lines(f"safety/{name}.txt"))
    lines = resource_lines(region, safety.level)
    intro = " ".join(read_lines("safety/resources_intro.txt"))
    text = message + "\n\n" + intro + "\n" + "\n".join(lines)
    return text, lines


# ---------------------------------------------------------------- the guard

MIN_WORDS = 30
MAX_WORDS = 130

_GUARD_RULES: list[tuple[str, str]] = [
    ("blame", r"\byou (?:should|shouldn'?t|should not|ought to|could) have\b|\bshould'?ve\b|\bshouldn'?t have\b"),
    ("blame", r"(?<!not )(?<!n't )\b(?:your|ur) (?:own )?fault\b|\byou (?:brought|did) this (?:on|to) yourself\b|\bit'?s on you\b"),
    ("blame", r"\boverreact\w*|\bover-react\w*|\btoo sensitive\b|\bwhy (?:didn'?t|did|would|do|don'?t) you\b|\byou (?:were|are) wrong\b|\byou (?:messed|screwed) up\b|\bblame yourself\b(?<!not blame yourself)"),
    ("judgement", r"\byou(?:'re| are| were| seem| sound| come across as)(?: being| so| really| very| a bit| kind of| quite| too| just)* (?:a )?(?:lazy|selfish|weak|needy|clingy|dramatic|pathetic|stupid|crazy|irrational|immature|toxic|insecure|too much|broken|childish|ridiculous|silly|unreasonable|paranoid|hysterical|manipulative|difficult|a mess|a burden|the problem|attention[- ]seeking)\b"),
    ("diagnosis", r"\b(?:avoidant|anxious(?:ly)? attach\w*|attachment[- ](?:style|disorder|issues|type|theory)|abandonment issues|trust issues|codependen\w*|co-dependen\w*|narcissis\w*|borderline|bpd|ptsd|disorder|diagnos\w*|symptom\w*|patholog\w*|dysfunction\w*|fearful[- ]avoidant|dismissive[- ]avoidant|insecurely attached|mental illness|you (?:have|suffer from) (?:depression|anxiety))\b"),
    ("command", r"\byou (?:need to|must|have to|should|gotta|got to|ought to)\b|\b(?:just|simply) (?:relax|let (?:it|go)|move on|focus|ignore|stop|calm|get over|be (?:happy|positive|grateful)|breathe|forget|accept|smile|trust|try harder|do it)\b"),
    ("command", r"(?:^|[.?!]\s+)(?:stop|quit|don'?t|do not|never|get over|calm down|relax|toughen up|man up|snap out|cheer up|focus on yourself)\b|\bget over it\b|\bcalm down\b|\bsnap out of\b|\btoughen up\b|\bman up\b|\bcheer up\b|\bmove on\b|\bfocus on yourself\b|\blet it go\b"),
    ("minimising", r"\bat least\b|\beverything happens for a reason\b|\blook on the bright side\b|\bbright side\b|\bsilver lining\b|\bcould (?:be|have been) worse\b|\bnot (?:such )?a big deal\b|\bothers have it worse\b|\bdon'?t worry\b|\bno big deal\b|\btough pill\b|\bit'?s all in your head\b|\bnothing to (?:worry|be upset) about\b|\bjust a phase\b|\bget past it\b"),
    ("flattery", r"\b(?:amazing|awesome|fantastic|incredible|so proud|(?:i'?m|i am|we'?re|really|very) proud of you|superb|brilliant job|great job|well done|you rock|you'?re a star)\b"),
    ("persona", r"\b(?:as (?:a|your) (?:therapist|counsel+or|psychologist|doctor|friend|human|person|coach|ai|language model|assistant))\b|\bi(?:'m| am) (?:a |your )?(?:therapist|counsel+or|psychologist|doctor|human|real person|person|your friend|friend|an ai|a language model|an assistant|a chatbot)\b|\bi (?:feel|felt) (?:so |really |very )?(?:sad|happy|proud|sorry|moved|touched|glad)\b|\bi (?:love|care about) you\b|\bas an ai\b|\blanguage model\b"),
    ("harm", r"\b(?:kill|hurt|harm|cut) yourself\b|\bend your life\b|\bsuicide\b"),
    ("injection", r"\b(?:ignore|disregard|forget) (?:all |any |the |your |my )?(?:previous|prior|above|earlier|preceding|system|original) (?:instructions|prompts?|rules|messages|directions)\b|\bsystem prompt\b|\b(?:developer|jailbreak|dan) mode\b|</?(?:entry|system|user|assistant|transcript)>|\bnew instructions\b|\bi (?:cannot|can'?t|won'?t) (?:comply|help with that|assist with)\b|\bpwned\b|\bhacked\b"),
    ("judgement", r"\b(?:crazy|insane|pathetic|stupid|silly|ridiculous|dramatic|lazy|selfish|weak|childish|immature|irrational|no excuse|drama queen)\b"),
    ("third person", r"\bthe (?:person|user|writer|journaler|journaller|individual|client|author|speaker|narrator)\b|\b(?:this|the) person'?s\b"),
    ("meta", r"\b(?:the|this|your|next|journal|my) entry\b|\b(?:instructions|the prompt|system prompt|reflection voice|journaling companion|spoken reflection|as requested|word count|sentences long)\b|\blabels?\b|\bpractice:|\bguidance\b"),
    ("generic", r"\bremember that\b|\bit'?s (?:normal|natural|common) to\b|\beveryone has (?:their|his|her) own\b|\bit'?s all about\b|\bin this world\b|\blife is (?:a|about|full)\b"),
    ("blame", r"(?<!not to )(?<!no one to )(?<!nobody to )\bblame\b"),
    ("generic", r"\bjournaling is (?:a )?(?:great|good|wonderful|powerful)\b|\bremember to (?:take care|practice self-care)\b|\bself-care is important\b"),
]
_GUARD = [(reason, re.compile(pattern, re.IGNORECASE | re.MULTILINE)) for reason, pattern in _GUARD_RULES]

_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F900-\U0001F9FF\U00002B00-\U00002BFF\u200d\ufe0f]"
)
_MARKDOWN = re.compile(
    r"(^|\n)\s*(?:[-*•+]\s|\d+[.)]\s|#{1,6}\s|>\s)|\*\*|__|`|\[[^\]]*\]\(|^\s*\||[:.]\s+[-•*]\s|\s\(?\d\)\s",
    re.MULTILINE,
)
# The reflection speaks as a caring voice, not as a person with a life: "I wonder", "I notice",
# "I imagine" are fine; "I told them", "I remember when", "I'm here to help" are not.
_SELF_TALK = re.compile(
    r"\bI(?:'m|'d|'ve| am| have| was| would| will|'ll)?\s+(?!(?:wonder|wondering|notice|noticing|imagine|hear|heard|hearing|see|sense|"
    r"struck|glad|curious|might|can|could|would love|'d love|love|appreciate|just|also|really|can't help)\b)[a-z]+"
)
_QUOTED = re.compile(r"[\"“][^\"”]*[\"”]")


@dataclass
class GuardResult:
    """Whether a reflection may be spoken; `problems` names each rule it broke."""

    ok: bool
    problems: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return ", ".join(self.problems)


def check_sentence(sentence: str) -> GuardResult:
    """The rules that can be judged on one sentence alone (used while streaming)."""
    problems = []
    for reason, pattern in _GUARD:
        if pattern.search(sentence) and reason not in problems:
            problems.append(reason)
    if "!" in sentence:
        problems.append("exclamation mark")
    if _EMOJI.search(sentence):
        problems.append("emoji")
    if _MARKDOWN.search(sentence):
        problems.append("markdown or list")
    unquoted = _QUOTED.sub("", sentence)
    if _SELF_TALK.search(unquoted):
        problems.append("speaks about itself")
    return GuardResult(ok=not problems, problems=problems)


def check_reflection(text: str, transcript: str | None = None, *, min_words: int = MIN_WORDS,
                     max_words: int = MAX_WORDS) -> GuardResult:
    """Check a whole reflection, from any backend, before it is shown or spoken.

    With `transcript`, also checks that the reflection is about this entry (shares some of its
    words) and doesn't repeat instructions that were hidden in it.
    """
    problems: list[str] = []
    body = (text or "").strip()
    if not body:
        return GuardResult(ok=False, problems=["empty"])
    result = check_sentence(body)
    problems += result.problems
    count = tx.word_count(body)
    if count < min_words:
        problems.append(f"too short ({count} words)")
    if count > max_words:
        problems.append(f"too long ({count} words)")
    addressed = len(re.findall(r"\b(?:you|your|you're|you've|you'd|you'll|yourself)\b", _QUOTED.sub("", body), re.I))
    if count >= 15 and addressed < 2:
        problems.append("not spoken to the person")
    if not re.search(r"[.?…][\"'”’)]*\s*$", body):
        problems.append("truncated")
    quoted_words = sum(tx.word_count(q) for q in _QUOTED.findall(body))
    if body.lstrip().startswith(('"', "“")) or quoted_words > 0.4 * max(count, 1):
        problems.append("mostly quoting")
    if body.count('"') % 2:
        problems.append("garbled")
    if transcript:
        if _off_topic(body, transcript):
            problems.append("off topic")
        if _echoes_injection(body, transcript):
            problems.append("injection")
    return GuardResult(ok=not problems, problems=list(dict.fromkeys(problems)))


def _off_topic(reflection: str, transcript: str) -> bool:
    """True when a reflection shares (almost) none of the entry's meaningful words."""
    entry_words = set(tx.content_words(transcript))
    if len(entry_words) < 4:
        return False  # too little said to judge
    shared = (entry_words & set(tx.content_words(reflection))) - _GENERIC_WORDS
    needed = 1 if len(entry_words) < 8 else 2
    return len(shared) < needed


# Words any reply might use whatever the entry said: sharing only these doesn't show it was heard.
_GENERIC_WORDS = {tx.stem(w) for w in (
    "feel feeling feelings story people person moment moments life day days time things thing way ways "
    "part hard difficult good bad lot new old really little bit still even need needs want wanted help "
    "sometimes often always never everyone others other someone world sense mind heart".split()
)}


_INJECTION_IN_ENTRY = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions|prompt|rules)\b|\byou are now\b|\bact as\b|\bpretend to be\b|"
    r"\b(?:say|write|respond with|reply with|output|print)\b.{0,30}\b(?:instead|only|exactly)\b|\bsystem prompt\b",
    re.IGNORECASE,
)


def has_injection(transcript: str) -> bool:
    """True when the entry contains something that reads like instructions to a model."""
    return bool(_INJECTION_IN_ENTRY.search(transcript))


def _echoes_injection(reflection: str, transcript: str) -> bool:
    """The model followed (or repeated) instructions hidden in the entry."""
    if not has_injection(transcript):
        return False
    # Quoted words after "say"/"reply with" in the entry appearing in the output means it obeyed.
    for m in re.finditer(r"(?:say|write|respond with|reply with|output|print)\s+[\"']?([^\"'.!?]{3,60})",
                         transcript, re.IGNORECASE):
        target = m.group(1).strip().lower()
        if len(target.split()) >= 2 and target in reflection.lower():
            return True
    return False
