"""The offline reflector: composes a reflection for this entry with no network and no model.

It says back the person's own words (turned round from "I" to "you"), names feelings they
named (or gently guesses), notices old stories, patterns and moments of connection, may recall
a related earlier entry, and ends with one open question. The sentences come from the phrase
banks in `prompts/reflection/` and `prompts/practices/<name>/questions.txt`; a random generator
seeded from the entry's text picks among variants, so the same entry always gets the same
reflection and tests are reproducible.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from voicejournal.prompts import prompts_dir, read_lines
from voicejournal.reflection import text as tx
from voicejournal.reflection.guard import check_reflection, check_sentence
from voicejournal.reflection.memory import how_long_ago
from voicejournal.reflection.risk import rule_check

TARGET_MIN = 25  # a short reflection that is specific beats a padded one
TARGET_MAX = 130
_LEADING = re.compile(
    r"^(?:and|but|so|then|because|well|okay|ok|anyway|also|like|actually|basically|honestly|just|yeah|oh|um|uh|"
    r"instead|finally|afterwards|later|eventually|luckily|thankfully|somehow|apparently)\b[,]?\s*",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:why|what|how|who|where|when (?:will|is|are|do|does|did|can|should)|is|are|am|do|does|did|can|could|would|should|will|was|were)\b", re.IGNORECASE
)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|i'll|my|me|we|our|us|myself)\b", re.IGNORECASE)
_SUBJECT_START = re.compile(
    r"^(?:he|she|they|it|work|today|tonight|this|that|the|everything|things|my|our|his|her|their|someone|"
    r"everyone|nobody|no one|home|school|life|mum|mom|dad|grandma|grandpa|nan|nana|gran|granny|there|"
    r"nothing|one|some|two|three|both|all|(?:when|after|before|since|while|once|as soon as|the moment) "
    r"(?:i|we|my|our|he|she|they|[A-Z][a-z]+))\b", re.IGNORECASE)
_CONJUNCTION = re.compile(r"\s+\b(?:and then|but then|and so|but|so|because|and)\s+(?=(?:i|we|my|he|she|they)\b)",
                          re.IGNORECASE)
_PRONOUN_START = re.compile(r"^(?:i|i'm|im|i've|ive|i'd|i'll|we|we're|we've|me and|my|our)\b", re.IGNORECASE)
_PRIORITY = ("narrative", "pattern", "connection", "corrective", "curiosity", "small_step")


def _bank(relative: str) -> list[str]:
    if not (prompts_dir() / relative).is_file():
        return []
    return read_lines(relative)


def _table(relative: str) -> dict[str, str]:
    out = {}
    for line in _bank(relative):
        if "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


class _Blank(KeyError):
    pass


class _Values(dict):
    def __missing__(self, key: str) -> str:
        raise _Blank(key)


def fill(line: str, values: dict[str, str]) -> str | None:
    """`line` with its {blanks} filled, or None when a blank has no value for this entry."""
    extended = dict(values)
    for key, value in values.items():
        if value:
            extended[key[:1].upper() + key[1:]] = tx.upper_first(value)
            extended[key + "_lower"] = tx.lower_first(value)
    try:
        return line.format_map(_Values({k: v for k, v in extended.items() if v}))
    except (_Blank, IndexError, ValueError):
        return None


def _choose(rng: random.Random, lines: list[str], values: dict[str, str]) -> str | None:
    options = [f for f in (fill(line, values) for line in lines) if f]
    return rng.choice(options) if options else None


@dataclass
class _Candidate:
    text: str  # already in second person
    score: float
    index: int
    source: str = ""  # the person's own words, before turning round


# Openings that hedge rather than say something: dropped before a clause is said back.
_HEDGE_START = re.compile(
    r"^(?:i guess|i suppose|i don't know|i dunno|i think|it's just|the thing is(?: that)?|"
    r"the thing with [\w' ]{1,20}? is(?: that)?|what happened was|to be fair|right)\b,?\s*",
    re.IGNORECASE,
)
# Clauses that carry no event to say back ("so that's something", "that's it").
_EMPTY = re.compile(r"^(?:that's|it's|this is|that was|it was) (?:it|something|all|that)\b|^nothing happened\b"
                    r"|^(?:that|it|this) (?:was|is) \w+$|^that's (?:what|how|why)\b", re.IGNORECASE)
# Harsh self-judgement is met by the self-compassion notice, never said back as fact.
_HARSH = re.compile(r"\bhate (?:myself|me)\b|\bmy (?:own )?fault\b|\bi'?m (?:so |such )?(?:stupid|useless|pathetic|"
                    r"an idiot|a failure|a mess|worthless)\b", re.IGNORECASE)
_TRAILING_HEDGE = re.compile(r",?\s*\b(?:i guess|i think|i suppose|i don't know|or something|so that's something|"
                             r"that's it|that's all|nothing happened|to be honest)$", re.IGNORECASE)
# "I was like oh that was easy": what follows a spoken quote marker is a quote, not theirs to turn round.
_QUOTATIVE = re.compile(r",?\s+\b(?:and )?(?:i|he|she|they|we) (?:was|were|am|is|'m|'s|go|goes|went) like\b.*$",
                        re.IGNORECASE)
# Diary style drops the "I": "Had a lovely day", "Called my grandma". Put it back to say it to them.
_DROPPED_I = re.compile(
    r"^(?:had|went|got|ate|made|called|rang|invited|presented|spent|saw|met|took|felt|couldn't|didn't|can't|"
    r"finally|tried|started|finished|told|bought|walked|cooked|cleaned|worked|missed|forgot|skipped|"
    r"managed|decided|booked|sent|texted|cried|laughed|slept|woke|watched|played|visited|drove)\b", re.IGNORECASE)
# A mirror is a whole clause. It never stops on a word that promises more ("when", "instead of",
# "the"), and a clause that opens with "when" or "because" needs the main clause after it.
_DANGLING_END = re.compile(
    r"\b(?:when|whenever|because|cause|if|unless|until|instead of|rather than|than|as if|so that|that|which|who|"
    r"the|a|an|my|your|his|her|their|our|to|of|for|with|about|at|in|on|from|into|like|as|and|but|or|so|"
    r"then|just|really|very|was|were|is|are|am|be|been|had|have|has|would|could|should|will|can|did|do|does)$",
    re.IGNORECASE)
_SUBORDINATE_START = re.compile(
    r"^(?:when|whenever|after|before|since|while|once|as soon as|the moment|because|cause|if|unless|until|"
    r"although|though|even though|even if|instead of|rather than|in case)\b", re.IGNORECASE)


def is_whole_clause(piece: str) -> bool:
    """ "when my partner asked to move in" is not something to say back; "when he asked, I froze" is."""
    piece = piece.strip(" .,!?")
    if not piece or piece.count("(") != piece.count(")"):
        return False
    end = _DANGLING_END.search(piece)
    if end and not (end.group(0).lower() == "like" and re.search(r"\bwhat\b", piece, re.I)):
        return False  # but "I don't know what secure would feel like" is whole
    if _SUBORDINATE_START.match(piece):
        rest = piece.split(",", 1)[1].strip() if "," in piece else ""
        return bool(rest) and bool(_PRONOUN_START.match(rest) or _SUBJECT_START.match(rest))
    return True


_NOT_NAMES = frozenset("nearly really finally probably obviously actually literally basically luckily hopefully "
                       "suddenly only early family sun rain lying ninety grateful fed knackered".split())
LONGEST_MIRROR = 20
# A mirror that names a topic rather than saying what happened: "the way you left things with Chris".
_TOPIC = re.compile(r"^(?:the|not|all the|this|that) ", re.IGNORECASE)
_HAS_VERB = re.compile(r"\b(?:was|is|were|are|has|have|had|went|got|came|did|does|said|told|made|keeps?|\w+ed)\b",
                       re.IGNORECASE)
MAX_CANDIDATES = 6


def _clean_piece(piece: str) -> str:
    piece = piece.strip(" .!?…\"',")
    while True:
        stripped = _HEDGE_START.sub("", _LEADING.sub("", piece)).strip(" ,")
        stripped = _TRAILING_HEDGE.sub("", _QUOTATIVE.sub("", stripped)).strip(" ,")
        if stripped == piece:
            break
        piece = stripped
    piece = re.sub(r"\s+just (?=\w+$)", " ", piece)  # "I feel really good just happy"
    # "sat with me" after "a friend came over" was someone else's doing: no "I" to put back.
    if _DROPPED_I.match(piece) and len(piece.split()) >= 3 and not re.search(r"\b(?:me|myself)\b", piece, re.I):
        piece = "I " + piece[:1].lower() + piece[1:]
    return tx.strip_trailing_conjunction(piece)


def mirror_candidates(transcript: str, people: list[str], triggers: list[str], feelings: list[str],
                      story_triggers: list[str] = (), avoid: list[str] = ()) -> list[_Candidate]:
    """Clauses of what the person said that read well turned round to "you", most telling first.

    The transcript is tidied (fillers, stutters, typos) and cut where speech naturally breaks, so
    unpunctuated dictation gives short clauses rather than run-ons; a clause with a person and an
    event, or a feeling, is preferred over one that only sets the scene.
    """
    out: list[_Candidate] = []
    trigger_words = {w for t in triggers for w in tx.content_words(t)}
    stories = [t.lower().strip(" .,") for t in story_triggers]
    index = 0
    people = [p for p in people if p.lower() not in _NOT_NAMES]
    pieces: list[str] = []
    for clause in tx.spoken_clauses(tx.tidy_speech(transcript), longest=LONGEST_MIRROR):
        # The whole clause, and its parts in case the whole can't be said back.
        commas = tx.clauses(clause)
        # "Jo, Marta, Kwame and Lucy": a list of names is not a set of clauses.
        listed = len(commas) > 2 and sum(bool(re.fullmatch(r"[A-Z][a-z]+", c.split()[-1])) for c in commas[:-1]) >= 2
        pieces += [clause] + (commas if len(commas) > 1 and not listed else [])
        pieces += [] if listed else tx.split_at_breaks(clause)
    seen: set[str] = set()
    for piece in pieces:
        index += 1
        piece = _clean_piece(piece)
        if piece.lower() in seen:
            continue
        seen.add(piece.lower())
        n = len(piece.split())
        if n < 3 or n > LONGEST_MIRROR or "?" in piece or _QUESTION_START.match(piece) or _EMPTY.match(piece):
            continue
        if tx.has_second_person(piece):
            # "my daughter hugged me and said I love you": keep what comes before the quote
            cut = re.split(r",?\s+\b(?:and )?(?:said|says|told me|asked|texted|wrote|goes)\b", piece, maxsplit=1)[0]
            if cut == piece or tx.has_second_person(cut) or len(cut.split()) < 4:
                continue
            piece = cut
        if '"' in piece:
            continue
        if not tx.content_words(piece):
            continue  # "I don't know" says nothing to say back
        if not _FIRST_PERSON.search(piece):
            if not (_SUBJECT_START.match(piece) or any(piece.startswith(p) for p in people)):
                continue
        if not (_PRONOUN_START.match(piece) or _SUBJECT_START.match(piece)
                or any(piece.startswith(p) for p in people)):
            continue  # "had a sandwich" or "maybe like not being scared" has no subject to say back
        low_piece = piece.lower()
        if any(t in low_piece or low_piece in t for t in stories):
            continue  # an old story is named as a story (by the notice), never said back as fact
        if _HARSH.search(piece) or not is_whole_clause(piece):
            continue
        turned = tx.to_second_person(piece)
        turned = turned[0].lower() + turned[1:] if turned[:1].isupper() and not _is_name(turned, people) else turned
        if re.search(r"\b(?:i|me|my|myself|mine)\b", turned, re.IGNORECASE) or re.search(r"\byou(?:'re)? (?:she|he)\b", turned):
            continue  # something didn't turn round cleanly ("I'm she"); better unsaid than garbled
        if not check_sentence(turned, by_meaning=False).ok:
            continue  # the person's self-criticism ("I overreacted") is not said back as fact
        low = piece.lower()
        has_i = bool(re.search(r"\b(?:i|we)\b|\bi'", low))
        if piece.count(",") >= 2 and not has_i:
            continue  # a list of fragments ("first my dad, then Leo, now her") reads badly said back
        score = 0.5 * has_i
        score += 2.0 * any(p.lower().replace("your ", "my ") in low or p.lower() in low for p in people)
        score += 1.5 * bool(trigger_words & set(tx.content_words(piece)))
        score += 1.0 * any(f in low for f in feelings)
        named = any(p.lower().replace("your ", "my ") in low or p.lower() in low for p in people)
        score += 1.0 if 6 <= n <= 16 or (named and n <= 16) else 0.0  # "my dad called" is short and telling
        score -= 0.5 * bool(re.match(r"(?:you|i) (?:don't|didn't) know\b", low))
        score -= 1.0 * (n > 12 and bool(tx.split_at_breaks(piece)))  # a run-on: one of its parts reads better
        score -= 0.02 * index  # earlier tends to be the heart of it, slightly
        out.append(_Candidate(turned, score, index, piece))
    out.sort(key=lambda c: c.score, reverse=True)
    # Risky wording inside a clause is never said back: what the phrase rules catch, and what
    # the risk check raised (an entry that was asked about).
    return [c for c in out if rule_check(c.source) is None
            and not any(a.lower() in c.source.lower() or c.source.lower() in a.lower() for a in avoid)][:MAX_CANDIDATES]


def overlaps(a: str, b: str) -> bool:
    """Two clauses that say mostly the same thing: saying both back sounds like an echo."""
    wa, wb = set(tx.content_words(a)), set(tx.content_words(b))
    if not wa or not wb:
        return a.lower() in b.lower() or b.lower() in a.lower()
    return len(wa & wb) >= 0.5 * min(len(wa), len(wb))


def _is_name(text: str, people: list[str]) -> bool:
    first = text.split(" ", 1)[0].strip(",.")
    return any(first == p for p in people)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_HEDGE = re.compile(
    r"^(?:(?:and |but |so )?(?:all )?i (?:just |really |always |still |kind of )?(?:think|feel|felt|know|guess|believe|"
    r"decided|told myself|can think is|keep thinking|keep telling myself|thought)(?: like| that| is| is that)?|"
    r"it (?:just )?(?:feels|felt) like|that|like|is that)\s+"
    r"(?=(?:i|i'?m|im|people|everyone|everybody|nobody|no one|noone|they|he|she|if|my|nothing|all|someone|no)\b)",
    re.IGNORECASE,
)


# "that {trigger}" needs a whole clause ("people always leave"), not "waiting for people to leave".
_CLAUSE_START = re.compile(
    r"^(?:i|i'm|im|i've|i'd|i'll|we|people|everyone|everybody|nobody|no one|noone|they|he|she|if|my|nothing|all|"
    r"someone|no|asking|being|needing|[A-Z][a-z]+ (?:always|never|will|would|is|was))\b", re.IGNORECASE)


def _trigger_values(trigger: str) -> dict[str, str]:
    raw = tx.strip_fillers(trigger).strip(" .,!?\"'")
    while True:
        stripped = _HEDGE.sub("", _LEADING.sub("", raw))
        if stripped == raw:
            break
        raw = stripped
    values: dict[str, str] = {}
    if raw.split() and raw.split()[0].lower().endswith("ing"):
        raw = raw[:1].lower() + raw[1:]  # "Asking for help feels like weakness" is said mid-sentence
    if 2 <= len(raw.split()) <= 12 and not tx.has_second_person(raw) and _CLAUSE_START.match(raw):
        turned = tx.lower_first(tx.to_second_person(raw))
        if check_sentence(turned, by_meaning=False).ok:
            values["trigger"] = turned
    if 2 <= len(raw.split()) <= 10 and '"' not in raw and check_sentence(raw, by_meaning=False).ok:
        values["trigger_raw"] = raw
    return values


_NEGATED = re.compile(r"\b(?:not|n't|never|no longer|wasn't|isn't)\s+(?:\w+\s+)?$", re.IGNORECASE)
_ASKED = re.compile(
    r"\b(?:do you think|did i|am i|should i|was i|is (?:it|something) wrong with me|what's wrong with me|"
    r"why do i|why can't i|what do i do|what should i do|is that normal|is it normal)\b[^.?!]*\?"
    r"|\b(?:should i|do you think)\b", re.IGNORECASE)
MAX_SENTENCES = 6


def _word_table(relative: str) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for key, value in _table(relative).items():
        said, _, tone = value.partition("|")
        out[key.lower()] = (said.strip(), tone.strip())
    return out


def named_feelings(text: str) -> list[tuple[str, str]]:
    """Feelings named without "I feel" ("Grateful today.", "just numb"), as (said back, tone), in order."""
    low = tx.tidy_speech(text).lower()
    found: list[tuple[int, str, str]] = []
    for word, (said, tone) in _word_table("reflection/feeling_words.txt").items():
        for m in re.finditer(r"\b" + re.escape(word) + r"\b", low):
            if not _NEGATED.search(low[max(0, m.start() - 25):m.start()]):
                found.append((m.start(), said, tone))
                break
    out: list[tuple[str, str]] = []
    for _, said, tone in sorted(found):
        if said not in [s for s, _ in out]:
            out.append((said, tone))
    return out


def tone_of(text: str) -> str | None:
    """The day's tone when it is clear ("joy", "hard", "angry", "flat"); "mixed" or None otherwise."""
    low = " " + tx.tidy_speech(text).lower() + " "
    counts: dict[str, int] = {}
    for tone, words in _table("reflection/tones.txt").items():  # joy first: "nobody cried" is not crying
        cues = sorted((w.strip() for w in words.split(",") if w.strip()), key=len, reverse=True)
        counts[tone] = 0
        for cue in cues:
            low, n = re.subn(r"\b" + re.escape(cue) + r"\b", " ", low)
            counts[tone] += bool(n)
    for _said, tone in named_feelings(text):
        counts[tone] = counts.get(tone, 0) + 1
    if counts.get("mixed"):
        return "mixed"  # they said so ("I don't know what I feel")
    hard = counts.get("hard", 0) + counts.get("angry", 0)
    if counts.get("joy", 0) and hard:
        if counts["joy"] >= 2 * hard:
            return "joy"
        return "mixed" if hard < 2 * counts["joy"] else max(("hard", "angry"), key=lambda k: counts.get(k, 0))
    best = max(counts, key=lambda k: counts[k]) if counts else None
    return best if best and counts[best] else None


_WORD_TONE = {"joy": "light", "hard": "heavy", "angry": "heavy", "flat": "heavy", "mixed": "mixed"}


def day_tone(text: str, words: str | None = None) -> str | None:
    """"light", "mixed" or "heavy": read by meaning when the tone head is installed, else from the
    word lists; None when neither can tell. Saying so ("I don't know what I feel") is mixed."""
    words = tone_of(text) if words is None else words
    from voicejournal.reflection.tone import entry_tone  # numpy and the encoder: only when needed

    by_meaning = entry_tone(text)
    if words == "mixed" and by_meaning != "light":
        return "mixed"
    return by_meaning or _WORD_TONE.get(words or "")


def asks_a_question(text: str) -> bool:
    """The person asks something ("do you think I overreacted?"), to be met rather than ignored."""
    return bool(_ASKED.search(tx.normalise(text)))


def _trim_step(step: str) -> str:
    """A small step said back short: cut at "and if", "if he says"... and never mid-word."""
    step = re.split(r"\s+\b(?:and if|if (?:he|she|they|it) (?:says|say|doesn't|don't)|and then|or if)\b", step)[0]
    words = step.split()
    cut = len(words) > 16
    words = words[:16]
    while words and (len(words[-1]) == 1 and words[-1].lower() not in ("a", "i") or words[-1].lower() in
                     (("and", "or", "but", "to", "the", "a", "if", "with", "like") if cut else ("and", "or", "but"))):
        words.pop()
    return " ".join(words).strip(" ,")


def _practice_questions(practice, themes, day: str | None = "heavy") -> list[str]:
    """The practice's questions for the day: its own on a heavy day; on a light day the questions
    for good days; otherwise, or when the entry doesn't show what they assume
    (prompts/reflection/practice_fit.txt), its questions for any day."""
    if day == "light":
        return _bank("reflection/questions/joy.txt")
    if day != "heavy":
        return _bank(f"practices/{practice.name}/questions_any.txt") or practice.questions()
    assumed = _table("reflection/practice_fit.txt").get(practice.name)
    if assumed:
        kinds = {k.strip() for k in assumed.split(",")}
        if not any(t.kind in kinds for t in themes):
            fitting = _bank(f"practices/{practice.name}/questions_any.txt")
            if fitting:
                return fitting
    return practice.questions()


def compose(request) -> str:
    """A reflection for `request` (a ReflectionRequest) that passes the guard; never raises."""
    rng = random.Random(request.seed)
    usable: str | None = None
    for attempt in range(4):
        text = _compose_once(request, rng, attempt)
        if not text or not check_reflection(text, min_words=TARGET_MIN, max_words=TARGET_MAX, by_meaning=False).ok:
            continue
        if check_reflection(text, request.text, min_words=TARGET_MIN, max_words=TARGET_MAX, by_meaning=False).ok:
            return text
        usable = usable or text  # kind and well formed, if not as specific as hoped
    return usable or fallback_text()


def fallback_text() -> str:
    return " ".join(_bank("reflection/fallback.txt"))


def _compose_once(request, rng: random.Random, attempt: int) -> str | None:
    details = request.details
    themes = sorted(request.themes, key=lambda t: _PRIORITY.index(t.kind) if t.kind in _PRIORITY else 99)
    people = details.people
    triggers = [t for th in themes for t in th.triggers]
    person = people[0] if people else None

    # 1. mirror: their own words, turned round.
    stories = [t for th in themes if th.kind == "narrative" or th.name == "expecting_worst" for t in th.triggers]
    candidates = mirror_candidates(request.text, people, triggers, details.feelings, stories,
                                   request.avoid) if attempt < 2 else []
    if attempt == 1 and candidates:
        candidates = candidates[1:]  # the best piece failed the checks in context: try the next
    mirror_lines: list[str] = []
    if candidates:
        first = candidates[0]
        templates = _bank("reflection/mirror.txt")
        if re.search(r"\b(?:said|says|told)\b", first.text):
            templates = [t for t in templates if "said" not in t] or templates  # not "You said that he said"
        if _TOPIC.match(first.text) and not _HAS_VERB.search(first.text):
            templates = _bank("reflection/mirror_topic.txt") or templates  # "the way you left things with Chris"
        mirror_lines.append(_choose(rng, templates, {"mirror": first.text}) or "")
        used = [tx.to_second_person(t).lower() for t in triggers[:1]]
        more = [c for c in candidates[1:] if c.index != first.index and c.score >= 1.0
                and not overlaps(c.text, first.text)
                and not any(u in c.text.lower() or c.text.lower() in u for u in used)]
        if more:
            line = _choose(rng, _bank("reflection/mirror_more.txt"), {"mirror": more[0].text})
            if line:
                mirror_lines.append(line)
    elif person:
        mirror_lines.append(_choose(rng, _bank("reflection/mirror_person.txt"), {"person": person}) or "")
    else:
        mirror_lines.append(rng.choice(_bank("reflection/mirror_plain.txt")))
    mirror_lines = [tx.upper_first(m) for m in mirror_lines if m]

    # 2. feel: theirs, or a gentle guess from what was noticed.
    guesses = _table("reflection/theme_feelings.txt")
    said_so_far = " ".join(mirror_lines).lower()
    loose = [said for said, _ in named_feelings(request.text)]
    own = list(dict.fromkeys(details.feelings + [f for f in loose if f not in details.feelings]))
    fresh = [f for f in own if f not in said_so_far]  # don't repeat a feeling just said back
    tone = tone_of(request.text)
    day = day_tone(request.text, tone)
    if day == "light" and tone != "joy":
        tone = "joy"
    elif day == "heavy" and tone not in ("hard", "angry", "flat"):
        tone = "hard"
    elif day == "mixed":
        tone = "mixed"
    feel = None
    if fresh:
        feel = _choose(rng, _bank("reflection/feel.txt"), {"feelings": _join(fresh[:2])})
    else:
        corrected_first = sorted(themes, key=lambda t: t.kind != "corrective")
        key = next((t.name for t in corrected_first if t.name in guesses),
                   f"default_{tone}" if f"default_{tone}" in guesses else None)
        if key:  # with no theme and no clear tone a guess would be filler: say less instead
            guess = rng.choice([g.strip() for g in guesses[key].split("|") if g.strip()])  # so days differ
            feel = _choose(rng, _bank("reflection/feel_guess.txt"), {"feelings": guess})

    # 3. notice: an old story or pattern, and/or a moment of connection, and a small step.
    notices: list[str] = []
    good = next((t for t in themes if t.kind in ("connection", "corrective", "curiosity")), None)
    corrected = any(t.kind == "corrective" for t in themes)
    # "I was sure he'd be angry... instead he was kind": the fear was met by something better.
    hard = next((t for t in themes if t.kind in ("narrative", "pattern")
                 and not (corrected and t.name == "expecting_worst")), None)
    step_followed = next((t for t in themes if t.name == "followed_up"), None)
    step_set = next((t for t in themes if t.name == "set"), None)
    if details.self_critical:
        line = _choose(rng, _bank("reflection/self_critical.txt"), {})
        if line:
            notices.append(line)
    for theme in (hard, good, step_followed, step_set):
        if theme is None:
            continue
        values: dict[str, str] = {"person": person or ""}
        said = " ".join(mirror_lines).lower()
        if theme.triggers and tx.to_second_person(theme.triggers[0]).lower().strip(" .") not in said:
            values.update(_trigger_values(theme.triggers[0]))
        if theme.name == "set":
            steps = details.steps or theme.triggers
            if steps and tx.to_second_person(steps[0]).lower() not in said:
                step = _trim_step(tx.to_second_person(tx.tidy_speech(steps[0])))
                if len(step.split()) >= 2:
                    values["step"] = tx.lower_first(step)
        line = _choose(rng, _bank(f"reflection/themes/{theme.name}.txt"), values)
        if line:
            notices.append(line)

    joyful = day == "light" and hard is None and not details.self_critical and not asks_a_question(request.text)
    if not notices and joyful:
        line = _choose(rng, _bank("reflection/joy.txt"), {})
        if line:
            notices.append(line)
    if asks_a_question(request.text) and len(notices) < 2:
        line = _choose(rng, _bank("reflection/asked.txt"), {})
        if line:
            notices.insert(0, line) if not notices else notices.append(line)

    # 4. memory: an earlier entry that truly relates, to show change over time.
    memory = _memory_line(request, rng, themes)

    # 5. open: one question, from the strongest theme or the practice.
    question = None
    lead = (good or step_followed or step_set) if day == "light" else (hard or good or step_set)
    if lead is not None and rng.random() < 0.6:
        question = _choose(rng, _bank(f"reflection/questions/{lead.name}.txt"), {})
    if question is None and joyful:
        question = _choose(rng, _bank("reflection/questions/joy.txt"), {})
    if question is None:
        question = rng.choice(_practice_questions(request.practice, themes, day))

    opened = {" ".join(m.split()[:2]).lower() for m in mirror_lines}
    closes = _bank("reflection/close.txt")
    close = rng.choice([c for c in closes if " ".join(c.split()[:2]).lower() not in opened] or closes)  # not "Thank you... Thank you"

    # Fit the spoken length: drop the least essential parts first.
    optional = {"mirror_more": mirror_lines[1:], "notice2": notices[1:], "memory": [memory] if memory else [],
                "close": [close]}
    asked = any(n.endswith("?") for n in notices)
    notices = [n for n in notices if n]
    optional["notice2"] = notices[1:]
    core = {"mirror": mirror_lines[:1], "feel": [feel] if feel else [], "notice1": notices[:1],
            "question": [] if asked else [question]}
    optional["question_extra"] = [question] if asked else []

    def assemble(include: set[str]) -> str:
        order = ["mirror", "mirror_more", "feel", "notice1", "notice2", "memory", "question", "question_extra",
                 "close"]
        parts: list[str] = []
        for key in order:
            parts += (core.get(key) or optional.get(key) or []) if key in core or key in include else []
        return " ".join(p for p in parts if p)

    include = {"mirror_more", "notice2", "memory"}
    text = assemble(include)
    for drop in ("notice2", "mirror_more", "notice1_long", "memory"):
        if tx.word_count(text) <= TARGET_MAX and len(list(sentences_of(text))) <= MAX_SENTENCES:
            break
        if drop == "notice1_long":
            # Keep the notice's first sentence (it names what was noticed) to make room for the rest.
            said = list(sentences_of(core["notice1"][0])) if core["notice1"] else []
            if len(said) > 1 and not said[-1].endswith("?"):
                core["notice1"] = [said[0]]
        include.discard(drop)
        text = assemble(include)
    def fits(candidate: str) -> bool:
        return tx.word_count(candidate) <= TARGET_MAX and len(list(sentences_of(candidate))) <= MAX_SENTENCES

    if tx.word_count(text) < 60 and fits(assemble(include | {"question_extra"})):
        include.add("question_extra")
        text = assemble(include)
    short = len(list(sentences_of(text))) < 3
    if (short or tx.word_count(text) < 75 and rng.random() < 0.5) and fits(assemble(include | {"close"})):
        include.add("close")
        text = assemble(include)
    # Nothing is added just to be longer: with little specific to say, the reflection is short.
    return text


def _memory_line(request, rng: random.Random, themes) -> str | None:
    if not request.related:
        return None
    rel = request.related[0]
    descriptions = _table("reflection/descriptions.txt")
    when = how_long_ago(rel.entry.created)
    topic = None
    if rel.shared_people:
        original = next((p for p in request.details.people if p.lower() == rel.shared_people[0]), None)
        topic = original or rel.shared_people[0]
    elif rel.shared_themes:
        topic = descriptions.get(rel.shared_themes[0])
    if not topic:
        return None
    old_hard = next((t.name for t in rel.entry.themes if t.kind in ("narrative", "pattern")), None)
    now_good = any(t.kind in ("connection", "corrective", "curiosity") or t.name == "followed_up" for t in themes)
    if old_hard and now_good and descriptions.get(old_hard) and not rel.shared_themes:
        line = _choose(rng, _bank("reflection/memory_change.txt"),
                       {"when": when, "topic": topic, "old_theme": descriptions[old_hard]})
        if line:
            return line
    return _choose(rng, _bank("reflection/memory.txt"), {"when": when, "topic": topic})


def sentences_of(text: str) -> Iterator[str]:
    """Split a composed reflection into spoken sentences."""
    yield from (s for s in re.split(r"(?<=[.?…])\s+", text.strip()) if s)


from voicejournal.reflection import ReflectionRequest, Reflector  # noqa: E402  (after compose: no cycle)


class OfflineReflector(Reflector):
    """Composes a reflection from the entry's own words, its themes and the practice's wording."""

    name = "offline"
    # Its sentences are our own vetted wording around the person's words: it can't drift off
    # topic or obey instructions hidden in the entry, so only the wording rules apply.
    checks_topic = False
    guard_by_meaning = False
    composes_ahead = True  # seeded from the entry's text: the same entry, the same reflection

    def _generate(self, request: ReflectionRequest) -> Iterator[str]:
        yield compose(request)
