"""Finding earlier entries that relate to this one, so a reflection can notice change over time.

Lexical similarity is enough here and costs nothing to load: a TF-IDF weighting of the
entry's meaningful words, plus a bonus for the same people and the same old stories or
patterns. Entries that got a safety message are never brought back into a reflection.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from voicejournal import dates
from voicejournal.models import Entry, Theme
from voicejournal.reflection import text as tx
from voicejournal.reflection.themes import NARRATIVES, PATTERNS, extract_details

# Below this score an earlier entry is not "related" enough to mention.
MIN_SCORE = 0.18
NAME_BONUS = 0.35
THEME_BONUS = 0.25


@dataclass
class Related:
    """An earlier entry that relates to the current one, and why."""

    entry: Entry
    score: float
    shared_people: list[str]
    shared_themes: list[str]
    shared_words: list[str]


def related_entries(
    text: str,
    themes: Sequence[Theme],
    history: Iterable[Entry],
    limit: int = 2,
    now: datetime | None = None,
) -> list[Related]:
    """Up to `limit` earlier entries most related to `text`, best first; [] when none truly relate."""
    past = [e for e in history if e.transcript and e.safety is None]
    if not past:
        return []
    features = [_features(e.transcript) for e in past]
    docs = [f[0] for f in features]
    query = Counter(tx.content_words(text))
    n = len(docs)
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    # With few entries IDF is noisy; smooth it so one shared rare word doesn't dominate.
    idf = {w: math.log((n + 1) / (df[w] + 0.5)) + 1.0 for w in query}
    q_vec = {w: (1 + math.log(c)) * idf[w] for w, c in query.items()}
    q_norm = math.sqrt(sum(v * v for v in q_vec.values())) or 1.0
    people = {p.lower() for p in extract_details(text).people}
    names = {t.name for t in themes if t.name in NARRATIVES + PATTERNS}

    scored: list[Related] = []
    for entry, doc, (_, their_people) in zip(past, docs, features, strict=True):
        shared = [w for w in q_vec if w in doc]
        dot = sum(q_vec[w] * (1 + math.log(doc[w])) * idf[w] for w in shared)
        d_norm = math.sqrt(sum(((1 + math.log(c)) * idf.get(w, 1.0)) ** 2 for w, c in doc.items())) or 1.0
        cosine = dot / (q_norm * d_norm)
        shared_people = sorted(people & their_people)
        shared_themes = sorted(names & {t.name for t in entry.themes})
        score = cosine + NAME_BONUS * bool(shared_people) + THEME_BONUS * len(shared_themes)
        if score >= MIN_SCORE and (shared_people or shared_themes or len(shared) >= 3):
            scored.append(Related(entry, round(score, 3), shared_people, shared_themes, sorted(shared)[:8]))
    scored.sort(key=lambda r: (r.score, r.entry.created_at), reverse=True)
    return scored[:limit]


_CACHE: dict[str, tuple[Counter[str], frozenset[str]]] = {}
_CACHE_MAX = 20000


def _features(transcript: str) -> tuple[Counter[str], frozenset[str]]:
    """An entry's weighted words and people, computed once per process (a check-in session or
    `retry` reflects on many entries against the same journal)."""
    hit = _CACHE.get(transcript)
    if hit is None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        hit = (Counter(tx.content_words(transcript)), frozenset(p.lower() for p in extract_details(transcript).people))
        _CACHE[transcript] = hit
    return hit


def how_long_ago(then: datetime, now: datetime | None = None) -> str:
    """'Yesterday', 'A few weeks ago', ... for saying back when an earlier entry was."""
    now = now or dates.now()
    days = (now - then).total_seconds() / 86400
    if days < 0.75:
        return "Earlier today"
    if days < 1.75:
        return "Yesterday"
    if days < 6:
        return "A few days ago"
    if days < 13:
        return "Last week"
    if days < 25:
        return "A couple of weeks ago"
    if days < 45:
        return "About a month ago"
    if days < 120:
        return "A few months ago"
    if days < 300:
        return "Some months ago"
    if days < 500:
        return "About a year ago"
    return "A long while ago"
