"""Mirrors are whole and right: the person's words said back turned round, every word that carries
meaning kept, never a clause that dangles on "when" or "instead of".

tests/data/mirrors/ holds sentences with their correct turned-round form, written by people who never
saw this code, in the kinds the broken mirrors came in: when/because/if/instead-of clauses, other
people acting on the speaker ("a friend sat with me"), reported speech, negations and quantifiers,
self-criticism, reflexives and possessives, am/was agreement, fillers and false starts, two
feelings, names. Set A was used to mend the turning; set B was written afterwards (0.885 before
that work, 0.975 after: it was not looked at until then).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from voicejournal.reflection.offline import is_whole_clause, mirror_candidates
from voicejournal.reflection.text import tidy_speech, to_second_person
from voicejournal.reflection.themes import detect_themes, extract_details

DATA = Path(__file__).parent / "data"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]", " ", text.lower().replace("’", "'")).split())


def readings(text: str) -> set[str]:
    """Ways of saying it that are equally right: "Sam and you" or "you and Sam"; and "we", "us" and
    "our" said back as "you" and "your" (from the reflector, "we" would mean itself)."""
    out = {text, re.sub(r"\b((?:your )?\w+) and you\b", r"you and \1", text)}
    return out | {re.sub(r"\bwe\b|\bus\b", "you", re.sub(r"\bour\b", "your", t)) for t in out}


@pytest.mark.parametrize("name", ["mirror_pairs_a.tsv", "mirror_pairs_b.tsv"])
def test_sentences_are_turned_round_whole_and_right(name):
    pairs = rows(DATA / "mirrors" / name)
    assert len(pairs) >= 200
    wrong = [(p["said"], to_second_person(tidy_speech(p["said"])), p["turned"]) for p in pairs
             if not readings(words(to_second_person(tidy_speech(p["said"])))) & readings(words(p["turned"]))]
    assert len(wrong) / len(pairs) <= 0.03, wrong


@pytest.mark.parametrize(("said", "turned"), [
    ("a friend sat with me at the hospital", "a friend sat with you at the hospital"),
    ("she told me i was too much", "she told you you were too much"),
    ("she's pulling away from me like everyone does eventually", "she's pulling away from you like everyone does eventually"),
    ("he looked at me like i was a stranger", "he looked at you like you were a stranger"),
    ("not everyone has to like me", "not everyone has to like you"),
    ("am i the only one who cares", "are you the only one who cares"),
    ("i hate it when anyone is upset with me", "you hate it when anyone is upset with you"),
    ("i'm proud of me for going", "you're proud of yourself for going"),
    ("i was uh i was really nervous", "you were really nervous"),
    ("i went i drove to my sister's after work", "you drove to your sister's after work"),
    ("i like really like my new flatmates", "you really like your new flatmates"),
    ("i think i need a rest", "you think you need a rest"),
])
def test_the_broken_mirror_kinds_stay_mended(said, turned):
    assert words(to_second_person(tidy_speech(said))) == turned


@pytest.mark.parametrize(("piece", "whole"), [
    ("when my partner asked to move in", False),
    ("instead of texting him back", False),
    ("because i didn't want to", False),
    ("i went for a walk instead of", False),
    ("i spent the whole day with the", False),
    ("two flat tyres (one was low", False),
    ("when he asked, I froze", True),
    ("i went for a walk instead of texting him back", True),
    ("my sister rang when she got home", True),
    ("i don't really know what secure would feel like", True),
    ("i felt like", False),
])
def test_a_mirror_is_a_whole_clause(piece, whole):
    assert is_whole_clause(piece) is whole


def test_what_is_said_back_from_real_entries_is_whole_and_unchanged():
    # 240 entries written apart from the code (light, mixed and heavy days): every clause offered
    # as a mirror is whole, and its words are the entry's own words, in order, turned round
    # (an "I" the person left out may be put back: "went to the beach" -> "you went to the beach").
    entries = [r["text"] for name in ("entries_a.tsv", "entries_b.tsv") for r in rows(DATA / "variety" / name)]
    assert len(entries) == 240
    offered = changed = 0
    for text in entries:
        details = extract_details(text)
        triggers = [t for theme in detect_themes(text) for t in theme.triggers]
        whole = words(to_second_person(tidy_speech(text)))
        for candidate in mirror_candidates(text, details.people, triggers, details.feelings)[:2]:
            offered += 1
            assert is_whole_clause(candidate.source), candidate
            said = words(candidate.text)
            if said not in whole and re.sub(r"^you ", "", said) not in whole:
                changed += 1
    assert offered >= 300
    assert changed / offered <= 0.08, changed
