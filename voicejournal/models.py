"""The journal's data: plain dataclasses that serialise to and from JSON-friendly dicts."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from voicejournal import dates

SCHEMA_VERSION = 2  # 2: the journal keeps a `names` table (voicejournal.names)

SOURCES = ("mic", "file", "text")
STATUS_COMPLETE = "complete"
STATUS_PENDING = "pending"

# Crockford's base32: no I, L, O, U, so ids are easy to read aloud and type.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


_last_id: tuple[int, int] = (0, 0)


def _base32(number: int, width: int) -> str:
    out = ""
    for _ in range(width):
        out = _ALPHABET[number % 32] + out
        number //= 32
    return out


def new_id(now_ms: int | None = None) -> str:
    """A short, unique, time-sortable id: 9 characters of milliseconds, then 3 more.

    The last 3 start at a random value and count up within one millisecond, so ids made
    by one process always sort in creation order (until the year 19800 or so).
    """
    global _last_id
    ms = int(dates.timestamp() * 1000) if now_ms is None else now_ms
    last_ms, last_tail = _last_id
    clock_went_back = now_ms is None and ms < last_ms
    if (ms == last_ms or clock_went_back) and last_tail < 32**3 - 1:
        ms, tail = last_ms, last_tail + 1
    else:
        tail = secrets.randbelow(32**3 // 2)
    _last_id = (ms, tail)
    return _base32(ms, 9) + _base32(tail, 3)


def now_iso() -> str:
    """The current local time, ISO 8601 with its UTC offset."""
    return dates.now().isoformat(timespec="seconds")


def parse_time(value: str) -> datetime:
    """Parse a stored timestamp; naive values (from imports) are taken as local time."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment


@dataclass
class Segment:
    """A stretch of transcript with its place in the recording, in seconds."""

    start: float
    end: float
    text: str


@dataclass
class Reflection:
    """What the companion said back, and which backend wrote it."""

    text: str
    backend: str
    model: str | None = None
    created_at: str = field(default_factory=now_iso)


@dataclass
class Theme:
    """A narrative, pattern or moment of connection noticed in an entry.

    `kind` is one of "narrative", "pattern", "connection", "corrective", "curiosity",
    "small_step"; `name` says which one ("people_leave", "anxious_checking", ...);
    `triggers` holds the person's own words that showed it.
    """

    kind: str
    name: str
    triggers: list[str] = field(default_factory=list)


@dataclass
class Safety:
    """Set when risk was detected or asked about; the entry is always kept.

    `level` is crisis (suicide, self-harm), danger (from another person) or check (unsure, so
    the person was asked, or shown the helplines gently when nobody was there to answer).
    """

    level: str
    reason: str
    sentence: str | None = None  # the person's words that raised it
    score: float | None = None  # the model's score for them (None: the rules alone)
    question: str | None = None  # check: what was asked
    answer: str | None = None  # check: yes / no / unclear, or None when nobody could answer


@dataclass
class Entry:
    """One journal entry. See docs in README ("What is stored")."""

    transcript: str = ""
    id: str = field(default_factory=new_id)
    created_at: str = field(default_factory=now_iso)
    source: str = "text"
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None
    duration_s: float | None = None
    stt_model: str | None = None
    audio: str | None = None
    practice: str | None = None
    reflection: Reflection | None = None
    themes: list[Theme] = field(default_factory=list)
    safety: Safety | None = None
    tags: list[str] = field(default_factory=list)
    starred: bool = False
    status: str = STATUS_COMPLETE
    pending_reason: str | None = None
    updated_at: str | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def created(self) -> datetime:
        return parse_time(self.created_at)

    @property
    def is_pending(self) -> bool:
        return self.status == STATUS_PENDING

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """Build an entry from stored data, ignoring unknown keys and defaulting missing ones."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["segments"] = [Segment(**s) for s in values.get("segments") or []]
        values["themes"] = [Theme(**t) for t in values.get("themes") or []]
        if values.get("reflection"):
            values["reflection"] = Reflection(**values["reflection"])
        if values.get("safety"):
            known = Safety.__dataclass_fields__
            values["safety"] = Safety(**{k: v for k, v in values["safety"].items() if k in known})
        values["tags"] = list(values.get("tags") or [])
        return cls(**values)
