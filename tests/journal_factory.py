"""Synthetic journals with known themes, for tests and benchmarks of anything that reads many entries.

`two_year_journal()` builds 24 months of entries (January 2024 to December 2025 by default)
from a month-by-month PLAN of how many entries show each theme, with one empty month (a gap),
entries that share a day, an entry listing the same theme twice (it still counts once),
themes outside the shared vocabulary (ignored) and pending entries without themes.
`expected` holds the counts the plan dictates, so a test can compare exactly.

`dense_journal(n)` builds `n` entries, one or two a day, with themes drawn at random
(for speed measurements; its `expected` is computed while generating).

`write_journal(path, entries)` writes a journal file in one go (adding 3,650 entries one by
one would rewrite the file 3,650 times).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from voicejournal.dates import shift_months
from voicejournal.models import SCHEMA_VERSION, STATUS_PENDING, Entry, Theme, new_id

# (kind, name) for every counter in the shared vocabulary.
VOCABULARY: dict[str, tuple[str, str]] = {
    "people_leave": ("narrative", "people_leave"),
    "unlovable": ("narrative", "unlovable"),
    "self_reliance": ("narrative", "self_reliance"),
    "too_much": ("narrative", "too_much"),
    "anxious_checking": ("pattern", "anxious_checking"),
    "withdrawing": ("pattern", "withdrawing"),
    "expecting_worst": ("pattern", "expecting_worst"),
    "connection": ("connection", "connection"),
    "corrective": ("corrective", "corrective"),
    "curiosity": ("curiosity", "curiosity"),
    "set": ("small_step", "set"),
    "followed_up": ("small_step", "followed_up"),
}

# Entries per month, and in how many of them each theme was noted. Month 10 is a gap.
ENTRIES = [14, 12, 13, 12, 11, 12, 11, 10, 12, 11, 0, 10, 12, 11, 12, 13, 12, 11, 12, 13, 12, 12, 13, 14]
PLAN: dict[str, list[int]] = {
    "people_leave": [9, 8, 7, 8, 6, 6, 5, 5, 4, 4, 0, 3, 3, 2, 2, 3, 2, 1, 1, 2, 1, 1, 1, 2],
    "unlovable": [4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0],
    "self_reliance": [5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 0, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1],
    "too_much": [2, 1, 2, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
    "anxious_checking": [7, 6, 6, 5, 5, 5, 4, 4, 3, 3, 0, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 1, 0],
    "withdrawing": [3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0],
    "expecting_worst": [6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 0, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 1, 0, 1],
    "connection": [0, 0, 1, 0, 1, 1, 1, 2, 1, 2, 0, 2, 2, 2, 3, 2, 3, 3, 3, 4, 3, 4, 4, 5],
    "corrective": [0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 2, 1, 2, 1, 2, 2, 2, 2, 3, 2],
    "curiosity": [0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 0, 1, 2, 1, 2, 2, 2, 2, 3, 2, 3, 3, 3, 3],
    "set": [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1],
    "followed_up": [0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2],
}

# The person's own words for each theme (what `Theme.triggers` holds).
WORDS: dict[str, list[str]] = {
    "people_leave": ["everyone ends up leaving", "sooner or later they all go", "people always drift away from me"],
    "unlovable": ["maybe I'm just not easy to love", "who would want me around"],
    "self_reliance": ["I'd rather handle it all myself", "I can't count on anyone but me"],
    "too_much": ["I worry I'm too much for people", "I felt like a burden again"],
    "anxious_checking": ["I kept checking my phone", "I read her message again and again"],
    "withdrawing": ["I went quiet and stayed in my room", "I cancelled so I wouldn't have to talk"],
    "expecting_worst": ["I was sure it would go wrong", "I assumed the worst straight away"],
    "connection": ["my brother called and we laughed for an hour", "Sam hugged me at the station",
                   "we cooked dinner together and it felt easy"],
    "corrective": ["I asked for help and she said yes", "I told him I was upset and he listened"],
    "curiosity": ["I wondered what the worry was protecting", "I got curious about why it stung so much"],
    "set": ["this week I'll text Maya first", "I'm going to ask for a lift on Friday"],
    "followed_up": ["I did text Maya like I planned", "I asked for the lift and it was fine"],
}

OPENINGS = [
    "Work was long today.", "I walked by the river this morning.", "The flat was quiet tonight.",
    "I slept badly and woke up early.", "It rained all afternoon.", "Lunch with the team was noisy.",
    "I finally cleaned the kitchen.", "The bus was late again.",
]
PRACTICES = ["checkin", "reframe", "secure-response", "connection", "corrective", "self-compassion",
             "insecurity", "getting-started"]


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass
class GeneratedJournal:
    """Entries plus the counts they were built to have."""

    entries: list[Entry]
    months: list[str]
    expected: dict[str, dict[str, int]] = field(default_factory=dict)  # month -> counter -> n

    def count(self, key: str, month: str) -> int:
        return self.expected.get(month, {}).get(key, 0)

    def series(self, key: str, months: list[str] | None = None) -> list[int]:
        return [self.count(key, m) for m in (months or self.months)]


def _moment(day: date, rng: random.Random) -> str:
    hour, minute = rng.randrange(6, 23), rng.randrange(60)
    return datetime(day.year, day.month, day.day, hour, minute).astimezone().isoformat(timespec="seconds")


def _id_for(created_at: str, rng: random.Random) -> str:
    ms = int(datetime.fromisoformat(created_at).timestamp() * 1000) + rng.randrange(1000)
    return new_id(ms)


def two_year_journal(start: date = date(2024, 1, 1), seed: int = 11) -> GeneratedJournal:
    """24 months of entries following PLAN, starting in `start`'s month."""
    rng = random.Random(seed)
    first = start.replace(day=1)
    entries: list[Entry] = []
    months: list[str] = []
    expected: dict[str, dict[str, int]] = {}
    for index, n in enumerate(ENTRIES):
        month_first = shift_months(first, index)
        key = month_key(month_first)
        months.append(key)
        length = (shift_months(month_first, 1) - month_first).days
        # Draw days with replacement so some days hold two entries (days journaled < entries).
        days = sorted(month_first + timedelta(days=rng.randrange(length)) for _ in range(n))
        month_entries = []
        for day in days:
            created = _moment(day, rng)
            month_entries.append(Entry(
                transcript=rng.choice(OPENINGS), id=_id_for(created, rng), created_at=created,
                source=rng.choice(["mic", "file", "text"]), practice=rng.choice(PRACTICES),
            ))
        for counter, per_month in PLAN.items():
            kind, name = VOCABULARY[counter]
            for position in rng.sample(range(n), per_month[index]):
                words = rng.choice(WORDS[counter])
                entry = month_entries[position]
                entry.transcript += f" {words[0].upper()}{words[1:]}."
                entry.themes.append(Theme(kind, name, [words]))
        if n:
            # The same story noted twice on one entry counts once.
            target = next((e for e in month_entries if any(t.name == "people_leave" for t in e.themes)), None)
            if target:
                target.themes.append(Theme("narrative", "people_leave", ["they always go"]))
            # A theme outside the shared vocabulary is ignored by the counts.
            month_entries[0].themes.append(Theme("narrative", "not_in_vocabulary", ["something else"]))
            # A pending entry (no transcript or themes yet) is still an entry that day.
            month_entries[-1].status = STATUS_PENDING if not month_entries[-1].themes else "complete"
        entries += month_entries
        expected[key] = {counter: per_month[index] for counter, per_month in PLAN.items()}
        expected[key]["entries"] = n
        expected[key]["days"] = len(set(days))
    return GeneratedJournal(entries, months, expected)


def dense_journal(n_entries: int = 3650, end: date = date(2025, 12, 31), seed: int = 5) -> GeneratedJournal:
    """`n_entries` entries, about one a day back from `end`, with random themes."""
    rng = random.Random(seed)
    entries: list[Entry] = []
    expected: dict[str, dict[str, int]] = {}
    seen_days: dict[str, set[date]] = {}
    day = end
    while len(entries) < n_entries:
        for _ in range(1 if rng.random() < 0.8 else 2):
            if len(entries) == n_entries:
                break
            created = _moment(day, rng)
            entry = Entry(transcript=rng.choice(OPENINGS), id=_id_for(created, rng), created_at=created,
                          practice=rng.choice(PRACTICES))
            counts = expected.setdefault(month_key(day), dict.fromkeys([*VOCABULARY, "entries", "days"], 0))
            counts["entries"] += 1
            seen_days.setdefault(month_key(day), set()).add(day)
            for counter in rng.sample(list(VOCABULARY), rng.randrange(4)):
                kind, name = VOCABULARY[counter]
                words = rng.choice(WORDS[counter])
                entry.transcript += f" {words[0].upper()}{words[1:]}."
                entry.themes.append(Theme(kind, name, [words]))
                counts[counter] += 1
            entries.append(entry)
        day -= timedelta(days=1)
    for key, days in seen_days.items():
        expected[key]["days"] = len(days)
    entries.reverse()
    return GeneratedJournal(entries, sorted(expected), expected)


def write_journal(path: Path, entries: list[Entry]) -> Path:
    """Write `entries` as a voicejournal journal file (TinyDB layout) in one go."""
    data = {
        "entries": {str(i + 1): e.to_dict() for i, e in enumerate(entries)},
        "meta": {"1": {"schema_version": SCHEMA_VERSION}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    path.chmod(0o600)
    return path
