"""Is the person at risk? Read before any reflection, with three outcomes.

- **crisis** (suicide, self-harm) or **danger** (from another person): the safety message and
  helplines instead of a reflection;
- **check**: something sounded heavy but not clearly so, and a caring listener would simply
  ask, directly and kindly (`resources.check_question`); the check-in asks out loud, and where
  nobody is there to answer (`write`, `add`, `retry`) the helplines are shown gently before the
  reflection;
- nothing: the reflection.

Two layers, each with one job, combined in `check_risk` (one place, and a reason recorded
with each result):

1. **The trained model** (`meaning.py` + the `risk` head): every span of the entry, read in its
   context, scored for none / concern / crisis / danger; the entry is as risky as its riskiest
   span. It was trained on thousands of labelled examples in training/risk/ (ordinary entries,
   hard negatives, crisis and danger wording of every kind) and its thresholds were set on a
   development set written by someone else (training/train.py), one pair for a few words and a
   higher pair for a whole entry.
2. **Phrase rules** for the unmistakable ("I want to kill myself"), with their protections for
   figures of speech, negation and the past. A rule makes the outcome at least `check` when the
   model hears any risk at all in the entry (`rule_gate`); with the model also concerned, it is
   clear risk. Without the model (its package or file
   missing or damaged) the rules decide alone, as a safety net, and a one-line notice says so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from voicejournal.models import Safety
from voicejournal.reflection import text as tx

log = logging.getLogger(__name__)

LEVEL_CHECK = "check"  # unsure: ask first

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
class RuleHit:
    """What the phrase rules found: the level, the reasons and the words that matched."""

    level: str
    reason: str
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


def rule_check(text: str) -> RuleHit | None:
    """The phrase rules alone (with their protections for figures of speech, negation and the past)."""
    flat = tx.normalise(text).replace("’", "'")
    pieces = _stretches(flat.lower()) if len(flat) > _LONG_TEXT else [flat]
    for piece in pieces:
        found = _check_piece(piece)
        if found is not None:
            return found
    return None


def _check_piece(flat: str) -> RuleHit | None:
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
        return None
    levels = {level for _, level, _ in hits}
    level = LEVEL_DANGER if levels == {LEVEL_DANGER} else LEVEL_CRISIS
    reasons = sorted({reason for reason, _, _ in hits})
    return RuleHit(level=level, reason=", ".join(reasons) + " language", matches=[m for _, _, m in hits])


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


# ---------------------------------------------------------------- the model, and the combination

MAX_CHUNKS = 4  # a long dictation is read in its most telling ~1,000 word pieces (~0.25 s)


@dataclass
class RiskCheck:
    """The outcome: `safety` is None when there is no risk; `matches` says what raised it."""

    safety: Safety | None
    matches: list[str] = field(default_factory=list)
    notice: str | None = None  # e.g. that the trained model couldn't be used

    @property
    def level(self) -> str | None:
        return self.safety.level if self.safety else None


@dataclass
class ModelScore:
    clear: float  # p(crisis) + p(danger) of the riskiest span
    any: float  # 1 - p(none) of the most concerning span
    level: str  # crisis or danger: which the riskiest span leans to
    sentence: str  # the person's words that scored highest


def rank_chunks(text: str, bounds: list[tuple[int, int]]) -> list[int]:
    """Chunks of a long text, most telling first (the rules' anchor words, counted)."""
    counts = []
    for i, (a, b) in enumerate(bounds):
        words = _TOKEN.findall(text[a:b].lower())
        counts.append((-sum(w in _ANCHOR_WORDS for w in words), i))
    return [i for _, i in sorted(counts)]


def model_score(text: str) -> tuple[ModelScore | None, str | None]:
    """The trained model's reading of `text`, or (None, why not)."""
    from voicejournal.reflection import heads, meaning

    head, why_not = heads.reader_for("risk")
    if head is None:
        return None, f"{why_not}, so only the phrase rules were used"
    reading = meaning.read(text, max_chunks=MAX_CHUNKS, pick=rank_chunks)
    if reading is None or not reading.spans:
        return ModelScore(0.0, 0.0, LEVEL_CRISIS, ""), None
    probs = head.scores(reading.features())
    labels = head.labels
    crisis, danger, none = (probs[:, labels.index(k)] for k in ("crisis", "danger", "none"))
    clear = crisis + danger
    top = int(clear.argmax())
    worried = 1.0 - none
    pick = top if clear[top] >= float(head.thresholds.get("check", 0.5)) else int(worried.argmax())
    return ModelScore(
        clear=float(clear[top]),
        any=float(worried.max()),
        level=LEVEL_DANGER if danger[top] > crisis[top] else LEVEL_CRISIS,
        sentence=reading.span_text(pick),
    ), None


LONG_WORDS = 40  # an entry this long is read as many spans: each is a chance of a false alarm


def thresholds(text: str | None = None) -> tuple[float, float]:
    """(clear, check): where the model's scores turn into an outcome, set on development data.

    A whole entry (`LONG_WORDS` or more) is read as dozens of spans and judged by its riskiest,
    so it needs a higher bar than a few words, which are read as one or two spans.
    """
    from voicejournal.reflection import heads

    head = heads.load("risk")
    t = head.thresholds if head else {}
    clear, check = float(t.get("clear", 0.9)), float(t.get("check", 0.6))
    if text is not None and tx.word_count(text) < int(t.get("long_words", LONG_WORDS)):
        return float(t.get("clear_short", clear)), float(t.get("check_short", check))
    return clear, check


def rule_gate() -> float:
    """How concerned the model must be for a phrase rule to count: a rule that fires on a mention
    ("my sister's overdose", "a self-harm module") that the model reads as no risk at all is noise."""
    from voicejournal.reflection import heads

    head = heads.load("risk")
    return float(head.thresholds.get("rule_gate", 0.0)) if head else 0.0


def decide(clear: float, worried: float, rule_hit: bool, t_clear: float, t_check: float, gate: float) -> str:
    """"clear", "check" or "none" from the model's scores and a phrase rule (training uses this too)."""
    rule = rule_hit and worried >= gate
    if clear >= t_clear or (rule and worried >= t_check):
        return "clear"
    if rule or worried >= t_check:
        return "check"
    return "none"


def check_risk(text: str) -> RiskCheck:
    """Read `text` for risk: crisis, danger, check (ask first), or None.

    The whole text is read: what matters most may come at the very end of a long dictation.
    """
    hit = rule_check(text)
    score, why_not = model_score(text)
    if score is None:
        # Rules alone: the safety net when the model can't be used.
        if hit is None:
            return RiskCheck(None, notice=why_not)
        return RiskCheck(Safety(level=hit.level, reason=hit.reason + " (rules only)", sentence=hit.matches[0]),
                         hit.matches, notice=why_not)
    t_clear, t_check = thresholds(text)
    gate = rule_gate()
    if hit is not None and score.any < gate:
        hit = None  # the model heard no risk in what the rule matched ("my sister's overdose")
    outcome = decide(score.clear, score.any, hit is not None, t_clear, t_check, gate)
    if outcome == "none":
        return RiskCheck(None)
    if outcome == "clear":
        level = hit.level if hit is not None and score.clear < t_clear else score.level
        reason = f"{'danger' if level == LEVEL_DANGER else 'suicide or self-harm'} risk"
        sentence = hit.matches[0] if hit is not None and score.clear < t_clear else score.sentence
        why = ["model"] + (["rule"] if hit else [])
        return RiskCheck(Safety(level=level, reason=f"{reason} ({' and '.join(why)})", sentence=sentence,
                                score=round(score.clear, 3)), [sentence])
    sentence = hit.matches[0] if hit is not None else score.sentence
    reason = "a phrase that can mean risk" if hit is not None else "heavy words the model was unsure about"
    return RiskCheck(Safety(level=LEVEL_CHECK, reason=reason, sentence=sentence, score=round(score.any, 3)),
                     [sentence])


def warm_up() -> bool:
    """Load the sentence model and the risk head now (a check-in does it in the background)."""
    from voicejournal.reflection import embedding, heads

    return embedding.get_encoder() is not None and heads.load("risk") is not None
