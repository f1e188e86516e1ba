"""The names of the people in the journal, so Whisper spells them as the person does.

Where names come from:
- **past transcripts**: a capitalised word that is not at the start of a sentence, is not an
  ordinary capitalised word (days, months, "I'm", ...), is written capitalised more often
  than not, and recurs (in at least `MIN_ENTRIES` entries);
- **tags**: an entry tagged `noor` counts as mentioning Noor, once "Noor" appears capitalised
  in some transcript;
- **the person**: `voicejournal names add Saoirse`, and every name they write while correcting a
  transcript with `voicejournal edit` (a word Whisper got wrong, corrected to a capitalised
  name), are kept; `names remove X` takes a name off for good (it is not learned back).

Order: by a score that adds up each entry mentioning the name, an entry counting less the older
it is (half as much every `HALF_LIFE_DAYS`, on the product's clock); a name the person added or
corrected counts as `PERSON_WEIGHT` mentions at that moment. Whisper is given the first
`MAX_NAMES` as hotwords (see `voicejournal.transcription.names_hint`).

The person's decisions are kept in the journal file's `names` table (so they are encrypted and
exported with it); what is learned from entries is worked out from the entries each time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from voicejournal import dates
from voicejournal.errors import UserInputError
from voicejournal.models import now_iso, parse_time

if TYPE_CHECKING:
    from voicejournal.store import EntryStore

#: How many names Whisper is given: about 60-80 tokens, well inside its 223-token prompt,
#: leaving room for the text said before.
MAX_NAMES = 24
#: A name learned from transcripts alone must be in at least this many entries.
MIN_ENTRIES = 2
HALF_LIFE_DAYS = 90.0
PERSON_WEIGHT = 3.0

SOURCES = ("added", "corrected", "learned")

# Capitalised words that are not people's names (or that Whisper already writes right).
NOT_NAMES = frozenset("""
i i'm i've i'd i'll im ive id ill ok okay o oh mr mrs ms dr st
monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
christmas easter god jesus lord english british american internet tv uk us usa eu covid
mum mom dad mummy mommy daddy mam mama papa nan nana gran granny grandma grandpa grandad
hi hello hey bye yes no thanks thank please sorry
""".split())

_TOKEN = re.compile(r"[^\W\d_][\w'’-]*|[.!?…]+|\n")
_NAME = re.compile(r"[^\W\d_][\w'’-]{0,39}")


@dataclass
class Name:
    """One name as `voicejournal names` shows it."""

    name: str
    source: str  # added / corrected / learned
    entries: int  # entries that mention it (transcript or tag)
    last_seen: str | None  # ISO date of the latest entry mentioning it, or of the person's decision
    score: float
    heard: list[str] = field(default_factory=list)  # what Whisper wrote before the person corrected it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NameHints:
    """What Whisper is given: the names, best first, and the misspellings the person corrected.

    `heard` pairs a word Whisper wrote ("Sirsha") with the name it was ("Saoirse"); it is only
    used for words Whisper does not know well, never for ordinary words.
    """

    names: tuple[str, ...] = ()
    heard: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.names)


def _words(text: str) -> Iterable[tuple[str, bool]]:
    """(word, starts a sentence) for each word of `text`."""
    start = True
    for match in _TOKEN.finditer(text or ""):
        token = match.group(0)
        if token[0] in ".!?…\n":
            start = True
            continue
        word = token.strip("'’-")
        if word[-2:].casefold() in ("'s", "’s"):
            word = word[:-2]  # "Priya's" is Priya
        yield word, start
        start = False


def _is_capitalised(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and not word.isupper()


def _ordinary(word: str) -> bool:
    return word.casefold().replace("’", "'") in NOT_NAMES


def clean_name(text: str) -> str:
    """A name as typed on the command line, checked: one or two words, letters, ' and -."""
    parts = text.split()
    if not parts or len(parts) > 2 or not all(_NAME.fullmatch(p) for p in parts):
        raise UserInputError(
            f"'{text}' is not a name I can use. A name is one or two words of letters (with ' or -), "
            "such as Saoirse or Mary-Kate."
        )
    return " ".join(p[:1].upper() + p[1:] for p in parts)


def _weight(when: datetime, now: datetime) -> float:
    age = max(0.0, (now - when).total_seconds() / 86400.0)
    return 0.5 ** (age / HALF_LIFE_DAYS)


def learn(docs: Iterable[dict[str, Any]], records: Iterable[dict[str, Any]], now: datetime | None = None) -> list[Name]:
    """Every name, best first: learned from the stored entries `docs`, plus the person's `records`."""
    now = now or dates.now()
    seen_mid: dict[str, int] = {}  # capitalised, not at a sentence start
    seen_lower: dict[str, int] = {}
    capital_form: dict[str, dict[str, int]] = {}
    mentions: dict[str, dict[str, datetime]] = {}  # key -> entry id -> when
    entry_docs = []
    for doc in docs:
        try:
            when = parse_time(str(doc.get("created_at")))
        except ValueError:
            continue
        entry_docs.append((doc, when))
        for word, at_start in _words(str(doc.get("transcript") or "")):
            key = word.casefold()
            if not _is_capitalised(word):
                seen_lower[key] = seen_lower.get(key, 0) + 1
                continue
            forms = capital_form.setdefault(key, {})
            forms[word] = forms.get(word, 0) + 1
            mentions.setdefault(key, {})[str(doc.get("id"))] = when
            if not at_start:
                seen_mid[key] = seen_mid.get(key, 0) + 1
    # Tags count as mentions of a name that transcripts show capitalised.
    for doc, when in entry_docs:
        for tag in doc.get("tags") or []:
            key = str(tag).casefold()
            if key in capital_form:
                mentions.setdefault(key, {})[str(doc.get("id"))] = when

    decisions = {str(r.get("key")): r for r in records if r.get("key")}
    found: dict[str, Name] = {}
    for key, forms in capital_form.items():
        if key in decisions or _ordinary(key):
            continue
        mid = seen_mid.get(key, 0)
        if mid == 0 or mid <= seen_lower.get(key, 0) or len(mentions.get(key, {})) < MIN_ENTRIES:
            continue
        found[key] = _scored(max(forms, key=forms.__getitem__), "learned", mentions.get(key, {}), now)
    for key, record in decisions.items():
        if record.get("removed"):
            continue
        try:
            decided = parse_time(str(record.get("at")))
        except ValueError:
            decided = now
        name = _scored(str(record.get("name")), str(record.get("source") or "added"), mentions.get(key, {}), now)
        name.heard = [str(h) for h in record.get("heard") or []]
        name.score = round(name.score + PERSON_WEIGHT * _weight(decided, now), 4)
        if name.last_seen is None or name.last_seen < decided.date().isoformat():
            name.last_seen = decided.date().isoformat()
        found[key] = name
    return sorted(found.values(), key=lambda n: (-n.score, n.name.casefold()))


def _scored(name: str, source: str, seen: dict[str, datetime], now: datetime) -> Name:
    score = sum(_weight(when, now) for when in seen.values())
    last = max(seen.values()).date().isoformat() if seen else None
    return Name(name, source, len(seen), last, round(score, 4))


# --- the journal ---------------------------------------------------------------------------


def journal_names(store: EntryStore) -> list[Name]:
    """Every name of the people in this journal, best first."""
    return learn(store.entry_docs(), store.name_records())


def whisper_names(store: EntryStore, limit: int = MAX_NAMES) -> NameHints:
    """What to give Whisper: the first `limit` names, spelled as the person spells them, and
    the misspellings the person has corrected (for every name on the list)."""
    found = journal_names(store)
    heard = tuple((h, n.name) for n in found for h in n.heard)
    return NameHints(tuple(n.name for n in found[:limit]), heard)


def add_name(store: EntryStore, text: str, source: str = "added") -> str:
    """Keep `text` as a name (again, if it was removed). Returns the name as kept."""
    name = clean_name(text)
    old = next((r for r in store.name_records() if r.get("key") == name.casefold()), {})
    store.save_name_record({"key": name.casefold(), "name": name, "source": source, "removed": False,
                            "at": now_iso(), "heard": list(old.get("heard") or [])})
    return name


def remove_name(store: EntryStore, text: str) -> str:
    """Take a name off the list for good. Raises UserInputError if it isn't on it."""
    wanted = " ".join(text.split()).casefold()
    current = {n.name.casefold(): n for n in journal_names(store)}
    if wanted not in current:
        close = difflib.get_close_matches(wanted, list(current), n=1, cutoff=0.7)
        hint = f" Did you mean {current[close[0]].name}?" if close else " `voicejournal names` lists them."
        raise UserInputError(f"'{text.strip()}' is not in the names list, so nothing was changed.{hint}")
    name = current[wanted].name
    store.save_name_record({"key": wanted, "name": name, "source": current[wanted].source, "removed": True,
                            "at": now_iso(), "heard": current[wanted].heard})
    return name


def corrected_names(before: str, after: str) -> list[tuple[str, str | None]]:
    """Names the person wrote while correcting a transcript, each with the word Whisper had
    written in its place (or None): capitalised words in the changed parts of `after` that
    are not ordinary words and are not written lower-case anywhere in it.

    "sirsha rang" -> "Saoirse rang" gives (Saoirse, sirsha); "the dog" -> "The dog" gives nothing.
    """
    old = list(_words(before))
    new = list(_words(after))
    lower_after = {w.casefold() for w, _ in new if not _is_capitalised(w)}
    lower_before = {w.casefold() for w, _ in old}
    found: dict[str, str | None] = {}
    matcher = difflib.SequenceMatcher(None, [w for w, _ in old], [w for w, _ in new], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op not in ("replace", "insert"):
            continue
        names = []
        for word, at_start in new[j1:j2]:
            key = word.casefold()
            if not _is_capitalised(word) or _ordinary(word) or key in lower_after:
                continue
            if at_start and key in lower_before:
                continue  # only the case changed at the start of a sentence
            names.append(word)
        # One name in place of up to three words: those words are how Whisper heard this name
        # ("Sirsha", "Sia Shun"), minus any word kept around it ("with" in "wins here soon" ->
        # "with Saoirse" stays part of it: Whisper heard the two together).
        heard = None
        if op == "replace" and len(names) == 1 and i2 - i1 <= 3 and j2 - j1 <= 2:
            kept = {w.casefold() for w, _ in new[j1:j2] if w != names[0]}
            words = [w for w, _ in old[i1:i2] if w.casefold() not in kept] or [w for w, _ in old[i1:i2]]
            heard = " ".join(words)
            if heard.casefold() == names[0].casefold():
                heard = None
        for word in names:
            if word not in found or found[word] is None:
                found[word] = heard if word == names[0] else None
    return list(found.items())


def learn_from_correction(store: EntryStore, before: str, after: str) -> list[str]:
    """Keep the names the person wrote in a correction, and how Whisper had misheard them
    (a name they removed stays removed; `names add` brings it back)."""
    records = {str(r.get("key")): r for r in store.name_records()}
    kept = []
    for word, heard in corrected_names(before, after):
        record = records.get(word.casefold(), {})
        if record.get("removed"):
            continue
        forms = [str(h) for h in record.get("heard") or []]
        if heard and heard.casefold() not in {f.casefold() for f in forms}:
            forms.append(heard)
        store.save_name_record({
            "key": word.casefold(), "name": record.get("name") or word,
            "source": record.get("source") if record.get("source") == "added" else "corrected",
            "removed": False, "at": now_iso(), "heard": forms[-8:],
        })
        kept.append(word)
    return kept
