"""Themes: the old narratives, patterns, connection, corrective experiences, curiosity and small steps."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from voicejournal import dates
from voicejournal.models import Entry, Theme
from voicejournal.reflection import followup_prompt, get_reflector, pending_step
from voicejournal.reflection.themes import detect_themes, extract_details

DATA = Path(__file__).parent / "data"
CORPUS = [json.loads(line) for line in (DATA / "reflection_entries.jsonl").read_text(encoding="utf-8").splitlines()]


def names(text: str) -> set[str]:
    return {t.name for t in detect_themes(text)}


@pytest.mark.parametrize("text, name", [
    ("people always leave, that's just how it goes", "people_leave"),
    ("everyone walks away from me sooner or later", "people_leave"),
    ("if they really knew me they'd run", "unlovable"),
    ("who could ever love someone like me", "unlovable"),
    ("i can only depend on myself", "self_reliance"),
    ("I can't rely on anyone, I never could", "self_reliance"),
    ("I'm too much for people", "too_much"),
    ("I always feel like a burden", "too_much"),
    ("I kept checking my phone all evening", "anxious_checking"),
    ("I asked her again if we were okay", "anxious_checking"),
    ("when he got close I pulled away", "withdrawing"),
    ("I pushed her away again", "withdrawing"),
    ("I was convinced she was going to break up with me", "expecting_worst"),
    ("I felt so seen by my friend tonight", "connection"),
    ("it went so much better than I expected", "corrective"),
    ("hello old friend, there's that fear again", "curiosity"),
    ("this week I'll ask my brother to help me move", "set"),
])
def test_each_theme_is_detected(text, name):
    assert name in names(text)


def test_themes_keep_the_persons_own_words():
    themes = detect_themes("Honestly people always leave me. I kept checking my phone until 2am.")
    by_name = {t.name: t for t in themes}
    assert "people always leave me" in by_name["people_leave"].triggers[0]
    assert "checking my phone" in by_name["anxious_checking"].triggers[0]
    for theme in themes:
        assert theme.triggers and all(isinstance(t, str) and t for t in theme.triggers)


def test_vocabulary_is_the_shared_one():
    allowed = {
        ("narrative", "people_leave"), ("narrative", "unlovable"), ("narrative", "self_reliance"),
        ("narrative", "too_much"), ("pattern", "anxious_checking"), ("pattern", "withdrawing"),
        ("pattern", "expecting_worst"), ("connection", "connection"), ("corrective", "corrective"),
        ("curiosity", "curiosity"), ("small_step", "set"), ("small_step", "followed_up"),
    }
    for item in CORPUS:
        for theme in detect_themes(item["text"]):
            assert (theme.kind, theme.name) in allowed


def test_corpus_themes_are_detected_with_their_triggers():
    missed = []
    for item in CORPUS:
        found = {t.name: t for t in detect_themes(item["text"])}
        for expected in item["themes"]:
            if expected not in found:
                missed.append((expected, item["text"]))
            else:
                # each trigger is the person's words, found in the entry
                for trig in found[expected].triggers:
                    assert trig.lower() in " ".join(item["text"].split()).lower()
    assert not missed


def test_someone_elses_pulling_away_is_not_my_pattern():
    assert "withdrawing" not in names("I expected her to pull away but she just listened")
    assert "expecting_worst" not in names("instead of spiralling I went for a walk")


def test_people_and_feelings_are_extracted_from_plain_speech():
    details = extract_details("so Maya texted me and my sister came over and I felt really relieved and a bit sad")
    assert "Maya" in details.people and "your sister" in details.people
    assert details.feelings[:2] == ["relieved", "sad"]
    assert "moved" not in extract_details("I moved the whole flat by myself").feelings


def _entry(text: str, days_ago: float, themes: list[Theme] | None = None) -> Entry:
    when = (dates.now() - timedelta(days=days_ago)).isoformat(timespec="seconds")
    return Entry(transcript=text, created_at=when, themes=themes or detect_themes(text))


def test_small_step_is_asked_about_next_time_and_marked_followed_up():
    earlier = _entry("This week I'll ask Jonah to go for a walk with me.", days_ago=3)
    assert pending_step([earlier]) == "ask Jonah to go for a walk with me"
    question = followup_prompt([earlier])
    assert question and "ask Jonah to go for a walk with you" in question
    assert "!" not in question
    # The next entry talks about it: it is marked followed up, and the question is not asked again.
    result = get_reflector().reflect("I asked Jonah and we walked by the river for an hour.", history=[earlier])
    assert "followed_up" in {t.name for t in result.themes}
    later = _entry("I asked Jonah and we walked by the river for an hour.", days_ago=0, themes=result.themes)
    assert followup_prompt([earlier, later]) is None


def test_old_steps_are_not_asked_about():
    assert followup_prompt([_entry("this week I'll call my aunt", days_ago=40)]) is None
    assert followup_prompt([]) is None


def test_places_and_titles_are_not_taken_for_people():
    """Regression: "Leeds", "Manchester", "the Sun" and "Dr" were said back as people."""
    from voicejournal.reflection.themes import extract_details

    assert extract_details("I went to Leeds with Priya and we got lost near the Tower but Sam called.").people == [
        "Priya", "Sam"]
    assert extract_details("We had lunch at Tesco then I drove back to Manchester.").people == []
    assert "Sun" not in extract_details("I was reading the Sun on the train and Tom texted me.").people
    assert extract_details("Dr Patel said the scan was fine.").people == ["Patel"]
    assert extract_details("I snapped at Tom and then sat with Ana.").people == ["Tom", "Ana"]
    assert extract_details("Today I confided in Maya about the move.").people == ["Maya"]
    # a possessive after "at" is still a person's place
    assert extract_details("We stayed at Maya's place and then went to see Jordan.").people == ["Maya", "Jordan"]
