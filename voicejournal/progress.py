"""The long journey in numbers: monthly counts of the stored themes, and plain sentences about them.

Everything here reads only what is stored on entries (`Entry.themes`), never runs theme
detection, and imports nothing heavy, so `voicejournal progress` stays fast on a journal of
thousands of entries: one pass over the entries, counting into per-month buckets.

A theme counts once per entry: an entry that mentions "people always leave" three times
is one entry in which that story came up. The wording lives in `prompts/progress/wording.txt`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from voicejournal import dates
from voicejournal.dates import shift_months
from voicejournal.errors import UserInputError
from voicejournal.models import Entry
from voicejournal.prompts import read_lines

# The shared theme vocabulary, in the order it is shown.
NARRATIVES = ("people_leave", "unlovable", "self_reliance", "too_much")
PATTERNS = ("anxious_checking", "withdrawing", "expecting_worst")
GOOD = ("connection", "corrective", "curiosity")  # kinds whose name is the kind itself
STEPS = ("set", "followed_up")

WORDING_FILE = "progress/wording.txt"


# --- wording -------------------------------------------------------------------------------


def wording() -> dict[str, str]:
    """The `key: text` lines of prompts/progress/wording.txt."""
    out: dict[str, str] = {}
    for line in read_lines(WORDING_FILE):
        key, sep, text = line.partition(":")
        if sep:
            out[key.strip()] = text.strip()
    return out


def say(key: str, **values: object) -> str:
    """One phrase from the wording file with its {placeholders} filled in."""
    return wording()[key].format(**values)


def label(name: str) -> str:
    """How a theme name is shown: 'people_leave' -> 'people always leave'."""
    return wording().get(f"name.{name}", name.replace("_", " "))


def times(n: int, zero: str = "not once") -> str:
    """'not once', 'once', 'twice', '3 times'."""
    return {0: zero, 1: "once", 2: "twice"}.get(n, f"{n} times")


def count_of(n: int, singular: str, plural: str, zero: str = "none") -> str:
    """'none', 'one moment', '3 moments'."""
    if n == 0:
        return zero
    return f"one {singular}" if n == 1 else f"{n} {plural}"


# --- months --------------------------------------------------------------------------------


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return shift_months(month_start(day), 1) - timedelta(days=1)


def months_between(start: date, end: date) -> list[str]:
    """Every month key from `start`'s month to `end`'s month, inclusive."""
    keys = []
    cursor = month_start(start)
    while cursor <= end:
        keys.append(month_key(cursor))
        cursor = shift_months(cursor, 1)
    return keys


def month_name(key: str, with_year: bool = True) -> str:
    day = date.fromisoformat(key + "-01")
    return day.strftime("%B %Y") if with_year else day.strftime("%B")


def entry_day(entry: Entry) -> date:
    """The local calendar day an entry was made (the same rule `list --from/--to` uses)."""
    return entry.created.astimezone().date()


def theme_keys(entry: Entry) -> set[str]:
    """The counters this entry adds one to (each at most once per entry)."""
    keys = set()
    for theme in entry.themes:
        if theme.kind == "narrative" and theme.name in NARRATIVES:
            keys.add(theme.name)
        elif theme.kind == "pattern" and theme.name in PATTERNS:
            keys.add(theme.name)
        elif theme.kind in GOOD:
            keys.add(theme.kind)
        elif theme.kind == "small_step" and theme.name in STEPS:
            keys.add(theme.name)
    return keys


# --- results -------------------------------------------------------------------------------


@dataclass
class MonthStats:
    """One month's counts. Theme counts are numbers of entries in which the theme was noted."""

    month: str  # "2026-03"
    entries: int = 0
    days: int = 0
    narratives: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NARRATIVES, 0))
    patterns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PATTERNS, 0))
    connection: int = 0
    corrective: int = 0
    curiosity: int = 0
    steps_set: int = 0
    steps_followed_up: int = 0

    def get(self, key: str) -> int:
        """A counter by its vocabulary name ('people_leave', 'connection', 'set', ...)."""
        if key in self.narratives:
            return self.narratives[key]
        if key in self.patterns:
            return self.patterns[key]
        return {"set": self.steps_set, "followed_up": self.steps_followed_up}.get(key, getattr(self, key, 0))

    def count(self, key: str) -> None:
        """Count one entry for a counter named as in `get` (the names `theme_keys` gives)."""
        if key in self.narratives:
            self.narratives[key] += 1
        elif key in self.patterns:
            self.patterns[key] += 1
        elif key == "set":
            self.steps_set += 1
        elif key == "followed_up":
            self.steps_followed_up += 1
        else:
            setattr(self, key, getattr(self, key) + 1)


@dataclass
class Window:
    """The calendar days a summary covers, both inclusive."""

    start: date
    end: date


@dataclass
class Progress:
    """Monthly counts for a window, plus what to say about them.

    `message` is set (and `sentences` empty) when there is too little to show a trend:
    no entries, or only one, in the window.
    """

    window: Window
    months: list[MonthStats]
    entries: int
    days: int
    journal_entries: int
    sentences: list[str] = field(default_factory=list)
    message: str | None = None

    @property
    def enough(self) -> bool:
        """True when there is something to chart (two entries or more)."""
        return self.message is None

    def series(self, key: str) -> list[int]:
        """One counter month by month, e.g. series('people_leave')."""
        return [m.get(key) for m in self.months]

    def total(self, key: str) -> int:
        return sum(self.series(key))

    def to_dict(self) -> dict:
        return {
            "from": self.window.start.isoformat(),
            "to": self.window.end.isoformat(),
            "entries": self.entries,
            "days": self.days,
            "months": [asdict(m) for m in self.months],
            "sentences": list(self.sentences),
            "message": self.message,
        }


# --- computing -----------------------------------------------------------------------------


def resolve_window(
    entries: Sequence[Entry],
    *,
    months: int | None = None,
    since: date | None = None,
    until: date | None = None,
    today: date | None = None,
    default_months: int | None = 12,
) -> Window:
    """The days to cover: `--months N` ending at `--to` (or today), or `--from`/`--to`.

    With neither, the last `default_months` months (None: the first entry's day to the last's).
    """
    today = today or dates.today()
    if months is not None and since is not None:
        raise UserInputError("Use --months or --from, not both (--months counts back from --to or today).")
    if months is not None and months < 1:
        raise UserInputError("--months needs a number of months, 1 or more.")
    end = until or today
    if since is not None:
        start = since
    else:
        wanted = months if months is not None else default_months
        if wanted is None:
            days = [entry_day(e) for e in entries]
            if until is None and days:
                end = max(days)  # the whole journal: from its first entry to its last
            start = min(days) if days else end
        else:
            start = shift_months(month_start(end), -(wanted - 1))
    if start > end:
        if since is None:  # --to before the first entry: an empty window, not a mistake
            return Window(end, end)
        raise UserInputError(f"--from ({start}) is after --to ({end}); swap them?")
    return Window(start, end)


def compute_progress(entries: Iterable[Entry], window: Window) -> Progress:
    """Count `entries` month by month over `window` (one pass) and write the trend sentences."""
    keys = months_between(window.start, window.end)
    stats = {k: MonthStats(k) for k in keys}
    days_by_month: dict[str, set[date]] = {k: set() for k in keys}
    total = 0
    single: Entry | None = None
    for entry in entries:
        total += 1
        day = entry_day(entry)
        if day < window.start or day > window.end:
            continue
        key = month_key(day)
        month = stats[key]
        month.entries += 1
        days_by_month[key].add(day)
        single = entry
        for name in theme_keys(entry):
            month.count(name)
    for key, days in days_by_month.items():
        stats[key].days = len(days)
    months = [stats[k] for k in keys]
    result = Progress(
        window=window,
        months=months,
        entries=sum(m.entries for m in months),
        days=sum(m.days for m in months),
        journal_entries=total,
    )
    if result.entries == 0:
        result.message = (
            say("empty.journal")
            if total == 0
            else say("empty.window", start=_day_text(window.start), end=_day_text(window.end))
        )
    elif result.entries == 1 and single is not None:
        result.message = say("one.entry", day=_day_text(entry_day(single)))
    else:
        result.sentences = trend_sentences(result)
    return result


def progress_for(
    entries: Sequence[Entry],
    *,
    months: int | None = None,
    since: date | None = None,
    until: date | None = None,
    today: date | None = None,
    default_months: int | None = 12,
) -> Progress:
    """`resolve_window` then `compute_progress`: what the `progress` command shows."""
    window = resolve_window(
        entries, months=months, since=since, until=until, today=today, default_months=default_months
    )
    return compute_progress(entries, window)


def _day_text(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


# --- the sentences -------------------------------------------------------------------------


def trend_sentences(progress: Progress, limit: int = 3) -> list[str]:
    """Two or three plain sentences that follow from the numbers, never a grade.

    In order, taking the first `limit` that apply:
    Only months with entries are compared ("first" and "last" are the first and last of those).
    1. the old story that came up less since its busiest month (largest drop from its peak
       month to the last month); or, if none came up less, one that has risen;
    2. moments of connection: the last month against the first, when the last has more;
       otherwise the total, when there were any;
    3. insecurity met with curiosity, then corrective experiences (totals), when present;
    4. the days journaled and entries made (always true, never a streak).
    """
    # Compare only months with entries: a month without entries says nothing about the stories.
    months = [m for m in progress.months if m.entries]
    with_year = len({m.month[:4] for m in months}) > 1
    name = lambda key: month_name(key, with_year)  # noqa: E731
    first, last = months[0], months[-1]
    out: list[str] = []

    fewer = _largest_drop(months)
    if fewer:
        story, peak = fewer
        out.append(
            say(
                "trend.narrative_fewer",
                story=label(story),
                peak=times(peak.narratives[story]),
                peak_month=name(peak.month),
                last=times(last.narratives[story]),
                last_month=name(last.month),
            )
        )
    else:
        rising = [s for s in NARRATIVES if last.narratives[s] > first.narratives[s] and len(months) > 1]
        if rising:
            story = max(rising, key=lambda s: last.narratives[s] - first.narratives[s])
            out.append(
                say("trend.narrative_more", story=label(story), last=times(last.narratives[story]),
                    last_month=name(last.month))
            )

    moments = lambda n: count_of(n, "moment", "moments")  # noqa: E731
    if len(months) > 1 and last.connection > first.connection:
        out.append(
            say("trend.connection_more", last=moments(last.connection), last_month=name(last.month),
                first=moments(first.connection), first_month=name(first.month))
        )
    elif progress.total("connection"):
        out.append(say("trend.connection_total", total=moments(progress.total("connection"))))

    if progress.total("curiosity"):
        out.append(say("trend.curiosity_total", total=times(progress.total("curiosity"))))
    if progress.total("corrective"):
        out.append(say("trend.corrective_total", total=count_of(progress.total("corrective"), "time", "times")))

    sentences = out[: limit - 1]
    sentences.append(
        say("trend.days", days=count_of(progress.days, "day", "different days"),
            entries=count_of(progress.entries, "entry", "entries"))
    )
    return sentences


def _largest_drop(months: list[MonthStats]) -> tuple[str, MonthStats] | None:
    """The story with the biggest fall from its busiest month to the last month, if any fell."""
    last = months[-1]
    best: tuple[int, str, MonthStats] | None = None
    for story in NARRATIVES:
        peak = max(months, key=lambda m: m.narratives[story])  # the first of the busiest months
        drop = peak.narratives[story] - last.narratives[story]
        if peak is last or peak.narratives[story] < 2 or drop <= 0:
            continue
        if best is None or drop > best[0]:
            best = (drop, story, peak)
    return (best[1], best[2]) if best else None


# --- quoting the person's words ------------------------------------------------------------


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def excerpt(entry: Entry, triggers: Sequence[str] = (), width: int = 240) -> str:
    """The sentence of the transcript holding the first trigger found, else its beginning."""
    text = " ".join((entry.transcript or "").split())
    if not text:
        return ""
    lowered = text.lower()
    for trigger in triggers:
        at = lowered.find(trigger.lower().strip()) if trigger.strip() else -1
        if at < 0:
            continue
        starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= at]
        begin = starts[-1]
        following = _SENTENCE_END.search(text, at)
        stop = following.start() if following else len(text)
        piece = text[begin:stop]
        if len(piece) <= width:
            return piece
        return _clip(text[max(begin, at - width // 3):], width)
    return _clip(text, width)


def _clip(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    cut = text[:width].rsplit(" ", 1)[0]
    return cut.rstrip(",;: ") + "…"


def triggers_of(entry: Entry, kind: str, name: str | None = None) -> list[str]:
    """The person's own words that showed a theme on this entry."""
    words: list[str] = []
    for theme in entry.themes:
        if theme.kind == kind and (name is None or theme.name == name):
            words += [t for t in theme.triggers if t.strip()]
    return words


# --- look-back: on this day, and where a theme first came up -------------------------------


@dataclass
class LookbackDay:
    """Entries from the same calendar day some time ago."""

    label: str
    day: date
    entries: list[Entry]


@dataclass
class FirstMention:
    """The earliest entry that shares a theme with the current one."""

    kind: str
    name: str
    story: str
    entry: Entry
    words: str  # the person's words then


@dataclass
class Lookback:
    """What `voicejournal lookback` shows and can read aloud."""

    today: date
    days: list[LookbackDay]
    current: Entry | None
    first_mentions: list[FirstMention]
    message: str | None = None

    def spoken(self) -> list[str]:
        """Short passages to read aloud, one per entry, in the order shown."""
        parts = []
        for item in self.days:
            for entry in item.entries:
                parts.append(say("lookback.spoken_day", label=item.label, day=_day_text(item.day),
                                 text=entry.transcript.strip()))
        for mention in self.first_mentions:
            parts.append(say("lookback.spoken_earliest", story=mention.story,
                             day=_day_text(entry_day(mention.entry)), text=mention.words))
        return parts

    def to_dict(self) -> dict:
        def brief(entry: Entry) -> dict:
            return {"id": entry.id, "created_at": entry.created_at, "practice": entry.practice,
                    "transcript": entry.transcript,
                    "themes": [asdict(t) for t in entry.themes]}

        return {
            "date": self.today.isoformat(),
            "on_this_day": [
                {"label": d.label, "date": d.day.isoformat(), "entries": [brief(e) for e in d.entries]}
                for d in self.days
            ],
            "current": self.current.id if self.current else None,
            "first_mentions": [
                {"kind": m.kind, "name": m.name, "story": m.story, "words": m.words, "entry": brief(m.entry)}
                for m in self.first_mentions
            ],
            "message": self.message,
        }


def lookback_offsets(today: date, oldest: date) -> list[tuple[str, date]]:
    """One month, six months, then every whole year back to the oldest entry."""
    out = [(say("lookback.one_month"), shift_months(today, -1)),
           (say("lookback.six_months"), shift_months(today, -6))]
    years = 1
    while True:
        day = shift_months(today, -12 * years)
        if day < oldest:
            break
        text = say("lookback.one_year") if years == 1 else say("lookback.years", n=years)
        out.append((text, day))
        years += 1
    return [(text, day) for text, day in out if day >= oldest]


def lookback(entries: Sequence[Entry], today: date | None = None, current: Entry | None = None) -> Lookback:
    """Entries from this day in earlier months and years, and the first mention of each of
    the current entry's themes (the latest entry up to `today`, unless one is given)."""
    today = today or dates.today()
    ordered = sorted(entries, key=lambda e: (e.created, e.id))
    if not ordered:
        return Lookback(today, [], None, [], message=say("empty.journal"))
    by_day: dict[date, list[Entry]] = {}
    for entry in ordered:
        by_day.setdefault(entry_day(entry), []).append(entry)
    oldest = entry_day(ordered[0])
    days = [LookbackDay(text, day, by_day[day]) for text, day in lookback_offsets(today, oldest) if day in by_day]

    if current is None:
        earlier = [e for e in ordered if entry_day(e) <= today]
        current = earlier[-1] if earlier else None
    mentions: list[FirstMention] = []
    if current is not None:
        seen: set[tuple[str, str]] = set()
        for theme in current.themes:
            key = (theme.kind, theme.name)
            if key in seen:
                continue
            seen.add(key)
            first = next((e for e in ordered if e.id != current.id and e.created <= current.created
                          and any((t.kind, t.name) == key for t in e.themes)), None)
            if first is None:
                continue
            name = theme.kind if theme.kind in GOOD else theme.name
            mentions.append(FirstMention(theme.kind, theme.name, label(name), first,
                                         excerpt(first, triggers_of(first, theme.kind, theme.name))))
    message = None
    if not days and not mentions:
        message = say("lookback.nothing_on_this_day")
        if current is not None and not current.themes:
            message += " " + say("lookback.no_themes")
    return Lookback(today, days, current, mentions, message)


# --- the weekly review ---------------------------------------------------------------------


@dataclass
class Moment:
    """Something from the week worth naming again, in the person's words."""

    kind: str
    entry: Entry
    words: str


@dataclass
class WeekReview:
    """The seven days ending at `end`: themes, small steps, what went well."""

    start: date
    end: date
    entries: list[Entry]
    themes: dict[str, int]  # shown name -> entries it came up in
    steps_set: list[Moment]
    followed_up: int
    went_well: list[Moment]

    def lines(self) -> list[str]:
        """The review as lines to print or speak."""
        span = dict(start=_day_text(self.start), end=_day_text(self.end))
        out = [say("review.title", **span)]
        if not self.entries:
            return out + [say("review.nothing", **span)]
        days = len({entry_day(e) for e in self.entries})
        out.append(say("review.count", entries=count_of(len(self.entries), "entry", "entries"),
                       days=count_of(days, "day", "days")))
        if self.themes:
            out.append(say("review.themes", themes=", ".join(
                f"{name} ({times(n)})" for name, n in self.themes.items())))
        if self.steps_set:
            out.append(say("review.steps_set"))
            out += [f"  - {m.words}" for m in self.steps_set]
        if self.followed_up:
            out.append(say("review.steps_followed", n=count_of(self.followed_up, "small step", "small steps")))
        if self.went_well:
            out.append(say("review.went_well"))
            out += [f"  - {m.words}" for m in self.went_well]
        else:
            out.append(say("review.went_well_none"))
        out.append(say("review.closing"))
        return out

    def to_dict(self) -> dict:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "entries": [e.id for e in self.entries],
            "themes": dict(self.themes),
            "steps_set": [{"entry": m.entry.id, "words": m.words} for m in self.steps_set],
            "steps_followed_up": self.followed_up,
            "went_well": [{"kind": m.kind, "entry": m.entry.id, "words": m.words} for m in self.went_well],
            "lines": self.lines(),
        }


def week_review(entries: Iterable[Entry], end: date | None = None) -> WeekReview:
    """Review the seven days ending at `end` (today by default), oldest entry first."""
    end = end or dates.today()
    start = end - timedelta(days=6)
    week = sorted((e for e in entries if start <= entry_day(e) <= end), key=lambda e: (e.created, e.id))
    counts: dict[str, int] = {}
    for key in NARRATIVES + PATTERNS:
        n = sum(1 for e in week if key in theme_keys(e))
        if n:  # the old stories in quotes: they are words once believed, not facts
            counts[f'"{label(key)}"' if key in NARRATIVES else label(key)] = n
    steps = [Moment("small_step", e, excerpt(e, triggers_of(e, "small_step", "set")))
             for e in week if "set" in theme_keys(e)]
    followed = sum(1 for e in week if "followed_up" in theme_keys(e))
    well = [Moment(kind, e, excerpt(e, triggers_of(e, kind)))
            for e in week for kind in GOOD if kind in theme_keys(e)]
    return WeekReview(start, end, week, counts, steps, followed, well)
