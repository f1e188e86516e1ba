"""The guard every reflection passes, from any backend, before it is shown or spoken.

Two layers. Plain rules catch the mechanical faults: lists and markdown, emojis, exclamation
marks, a reply cut off or the wrong length, claims to be an AI, "the user", and text steered by
instructions hidden in the transcript. A trained head (`heads/guard.*`, on the shared encoder)
reads each sentence beside the entry it answers for the faults that need meaning: shaming,
blame, diagnosing, commanding, minimising, flattery, invalidation, off-topic, third person,
meta talk and advice-dumping, negation included ("nothing foolish about it" is fine).

Without the head (or with `by_meaning=False`, for the product's own offline sentences, whose
wording is known) the older phrase rules judge those faults instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from voicejournal.reflection import text as tx

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


# Faults no good reply has, whatever the wording: judged by rule even when the head is there.
_ALWAYS = {"harm", "injection"}
_PLAIN_META = re.compile(
    r"\bas an ai\b|\blanguage model\b|\bi(?:'m| am) (?:an ai|a chatbot|an assistant|a bot)\b|\bthe user'?s?\b|"
    r"\bhere is (?:a|your) reflection\b|\bsystem prompt\b", re.IGNORECASE)
_SPLIT = re.compile(r"(?<=[.?…])[\"'”’)]*\s+(?=[\"“(]?[A-Z0-9])")


def split_reply(reply: str) -> list[str]:
    """A reply's sentences, as the guard head reads them."""
    body = " ".join((reply or "").split())
    return [s.strip() for s in _SPLIT.split(body) if s.strip()] if body else []


def _mechanical(text: str) -> list[str]:
    problems = [reason for reason, pattern in _GUARD if reason in _ALWAYS and pattern.search(text)]
    if _PLAIN_META.search(text):
        problems.append("meta")
    if "!" in text:
        problems.append("exclamation mark")
    if _EMOJI.search(text):
        problems.append("emoji")
    if _MARKDOWN.search(text):
        problems.append("markdown or list")
    return problems


def _rule_flaws(text: str) -> list[str]:
    """The older phrase rules for the faults of meaning (the fallback, and offline wording)."""
    problems = [reason for reason, pattern in _GUARD if reason not in _ALWAYS and pattern.search(text)]
    if _SELF_TALK.search(_QUOTED.sub("", text)):
        problems.append("speaks about itself")
    return problems


def sentence_features(sentences: list[str], entry: str | None) -> Any:
    """What the guard head reads per sentence: the sentence, the entry, and how they meet.

    None when the encoder isn't installed. An empty or missing entry reads as zeros, so a
    sentence can still be judged on its own (the head is trained on some replies that way).
    """
    import numpy as np

    from voicejournal.reflection import embedding

    encoder = embedding.get_encoder()
    if encoder is None:
        return None
    texts = list(sentences) + ([entry] if entry and entry.strip() else [])
    vectors = encoder.encode(texts)
    s = vectors[: len(sentences)]
    e = vectors[len(sentences)] if len(texts) > len(sentences) else np.zeros(s.shape[1], np.float32)
    e = np.broadcast_to(e, s.shape)
    return np.hstack([s, e, s * e]).astype(np.float32)


def _model_flaws(sentences: list[str], entry: str | None) -> list[str] | None:
    """The flaws the trained head finds, worst first; None when it can't be used."""
    from voicejournal.reflection import heads

    head, _ = heads.reader_for("guard")
    if head is None or not sentences:
        return None if head is None else []
    features = sentence_features(sentences, entry)
    if features is None:
        return None
    probs = head.scores(features)
    ok = head.labels.index("ok")
    cut = float(head.thresholds.get("flawed", 0.5))
    found: list[tuple[float, str]] = []
    for row in probs:
        flawed = 1.0 - float(row[ok])
        if flawed >= cut:
            rest = [(float(p), label) for label, p in zip(head.labels, row, strict=True) if label != "ok"]
            found.append((flawed, max(rest)[1].replace("_", " ")))
    return [label for _, label in sorted(found, reverse=True)]


def guard_problem() -> str | None:
    """Why the guard reads by rules alone right now, or None when the trained head is in use."""
    from voicejournal.reflection import heads

    _, why_not = heads.reader_for("guard")
    return why_not


def check_sentence(sentence: str, transcript: str | None = None, *, by_meaning: bool = True) -> GuardResult:
    """The checks that can be judged on one sentence alone (used while streaming)."""
    problems = _mechanical(sentence)
    flaws = _model_flaws([sentence], transcript) if by_meaning else None
    problems += _rule_flaws(sentence) if flaws is None else flaws
    problems = list(dict.fromkeys(problems))
    return GuardResult(ok=not problems, problems=problems)


def check_reflection(text: str, transcript: str | None = None, *, min_words: int = MIN_WORDS,
                     max_words: int = MAX_WORDS, by_meaning: bool = True) -> GuardResult:
    """Check a whole reflection, from any backend, before it is shown or spoken.

    With `transcript`, also checks that the reflection is about this entry and doesn't repeat
    instructions that were hidden in it.
    """
    problems: list[str] = []
    body = (text or "").strip()
    if not body:
        return GuardResult(ok=False, problems=["empty"])
    problems += _mechanical(body)
    flaws = _model_flaws(split_reply(body), transcript) if by_meaning else None
    if flaws is None:  # the phrase rules, and their crude tests of address and topic
        problems += _rule_flaws(body)
        addressed = len(re.findall(r"\b(?:you|your|you're|you've|you'd|you'll|yourself)\b", _QUOTED.sub("", body), re.I))
        if tx.word_count(body) >= 15 and addressed < 2:
            problems.append("not spoken to the person")
        if transcript and _off_topic(body, transcript):
            problems.append("off topic")
    else:
        problems += flaws
    count = tx.word_count(body)
    if count < min_words:
        problems.append(f"too short ({count} words)")
    if count > max_words:
        problems.append(f"too long ({count} words)")
    if not re.search(r"[.?…][\"'”’)]*\s*$", body):
        problems.append("truncated")
    quoted_words = sum(tx.word_count(q) for q in _QUOTED.findall(body))
    if body.lstrip().startswith(('"', "“")) or quoted_words > 0.4 * max(count, 1):
        problems.append("mostly quoting")
    if body.count('"') % 2:
        problems.append("garbled")
    if transcript and _echoes_injection(body, transcript):
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
