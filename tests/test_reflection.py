"""The reflection: offline reflector on a varied corpus, the template method's guard, fallback
and safety path (with real subclasses of Reflector, including failing ones), memory, practices,
and the `reflect`, `practices` and `write` commands."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from voicejournal import dates
from voicejournal.config import Config
from voicejournal.errors import UserInputError
from voicejournal.models import Entry
from voicejournal.reflection import (
    BackendError,
    ReflectionRequest,
    Reflector,
    get_practice,
    get_reflector,
    list_practices,
)
from voicejournal.reflection.guard import check_reflection
from voicejournal.reflection.memory import related_entries
from voicejournal.reflection.offline import OfflineReflector
from voicejournal.reflection.text import to_second_person, word_count
from voicejournal.reflection.themes import detect_themes
from voicejournal.store import open_store

DATA = Path(__file__).parent / "data"
CORPUS = [json.loads(line) for line in (DATA / "reflection_entries.jsonl").read_text(encoding="utf-8").splitlines()]
PRACTICES = ["checkin", "reframe", "secure-response", "connection", "corrective", "self-compassion",
             "insecurity", "getting-started"]
ENTRY = ("Noor said she'd ring after her shift and it's nearly midnight. I've reread our last messages five times "
         "looking for what I said wrong.")


# ---------------------------------------------------------------- the offline reflector on a corpus


@pytest.fixture(scope="module")
def corpus_results():
    reflector = OfflineReflector(Config())
    return [(item, reflector.reflect(item["text"], practice=item["practice"])) for item in CORPUS]


def test_corpus_is_varied_and_big_enough():
    assert len(CORPUS) >= 40
    assert {item["practice"] for item in CORPUS} == set(PRACTICES)


def test_offline_reflections_pass_the_guard_and_fit_spoken_length(corpus_results):
    asked = 0
    for item, result in corpus_results:
        # Ordinary entries: never the crisis message. A few may be asked about first (the
        # target allows 5 %); they still get their reflection, checked here without the helplines.
        assert result.safety is None or result.safety.level == "check", result.safety
        asked += result.safety is not None
        assert result.reflection is not None and result.reflection.backend == "offline"
        text = result.reflection.text
        check = check_reflection(text, item["text"])
        assert check.ok, (check.problems, text)
        assert 25 <= word_count(text) <= 130, text  # short rather than padded
        sentences = [s for s in re.split(r"(?<=[.?])\s+", text) if s]
        assert 3 <= len(sentences) <= 9
        assert not result.notices
    assert asked <= 0.05 * len(corpus_results)


def test_no_two_entries_get_the_same_reflection(corpus_results):
    texts = [r.text for _, r in corpus_results]
    assert len(set(texts)) == len(texts)
    # ...and not merely by one swapped word: every reflection opens differently
    openings = [" ".join(t.split()[:8]) for t in texts]
    assert len(set(openings)) >= len(openings) - 2


def test_reflections_say_back_the_persons_own_specifics(corpus_results):
    """Names and relations the person mentioned come back in the reflection (most of the time)."""
    said_back = 0
    with_people = 0
    for item, result in corpus_results:
        people = re.findall(r"\b(?:Noor|Ines|Marcus|Ellie|Jo|Dana|Sam|Theo|Priya|Kai|Rosa|Alex|Tomas|Mia|Leo)\b",
                            item["text"])
        if people:
            with_people += 1
            said_back += any(p in result.text for p in people)
    assert said_back / with_people >= 0.8


def test_the_same_entry_gets_the_same_reflection():
    a = get_reflector().reflect(ENTRY)
    b = get_reflector().reflect(ENTRY)
    assert a.text == b.text


def test_mirroring_turns_first_person_round_with_correct_grammar():
    assert to_second_person("I was scared and my mum said I'm fine") == "you were scared and your mum said you're fine"
    assert to_second_person("I am tired of myself") == "you are tired of yourself"
    assert to_second_person("i cant rely on anyone") == "you can't rely on anyone"


def test_self_criticism_is_not_said_back_as_fact():
    result = get_reflector().reflect("I overreacted at Tom again, it's my fault, I should have stayed calm.")
    assert check_reflection(result.text, "Tom overreacted fault stayed calm").ok
    assert "your fault" not in result.text.lower()


def test_narrative_is_offered_an_alternative_as_a_possibility():
    result = get_reflector().reflect("My best friend moved away and honestly people always leave.", practice="reframe")
    assert "people_leave" in {t.name for t in result.themes}
    assert "stay" in result.text.lower()


def test_a_very_short_entry_still_gets_a_short_gentle_reflection():
    result = get_reflector().reflect("tired")
    assert 25 <= word_count(result.text) <= 80
    assert check_reflection(result.text).ok


# ---------------------------------------------------------------- input checks and safety first


def test_empty_text_and_unknown_practice_are_clear_errors():
    with pytest.raises(UserInputError, match="empty"):
        get_reflector().reflect("   ")
    with pytest.raises(UserInputError, match="checkin, reframe"):
        get_reflector().reflect("hello", practice="yoga")


def test_crisis_language_gets_the_safety_message_not_a_reflection():
    result = get_reflector(Config(region="US")).reflect("I can't do this anymore, everyone would be better off without me.")
    assert result.reflection is None
    assert result.safety is not None and result.safety.level == "crisis"
    assert "988" in result.text and "findahelpline.com" in result.text
    assert "?" not in result.text.split("\n")[0]  # no journaling question


class ExplodingBackend(Reflector):
    """A backend that must never be reached (crisis) or that fails loudly."""

    name = "exploding"

    def _generate(self, request: ReflectionRequest) -> Iterator[str]:
        raise BackendError("the model server is down")
        yield ""  # pragma: no cover


def test_safety_comes_before_the_backend():
    result = ExplodingBackend(Config()).reflect("I want to kill myself")
    assert result.safety is not None and not result.notices


# ---------------------------------------------------------------- the template method: guard and fallback


class ScriptedBackend(Reflector):
    """A real backend subclass that replies with a fixed text, in word-sized pieces."""

    name = "scripted"

    def __init__(self, reply: str, pause: float = 0.0, config: Config | None = None):
        super().__init__(config or Config())
        self.reply = reply
        self.pause = pause
        self.requests: list[ReflectionRequest] = []

    def _generate(self, request: ReflectionRequest) -> Iterator[str]:
        self.requests.append(request)
        for word in self.reply.split(" "):
            time.sleep(self.pause)
            yield word + " "


class CrashingBackend(Reflector):
    name = "crashing"

    def _generate(self, request: ReflectionRequest) -> Iterator[str]:
        yield "You waited "
        raise RuntimeError("bug in a backend")


GOOD = ("You've been waiting for Noor's call since her shift ended, rereading your messages over and over, searching "
        "for something you did wrong. That kind of waiting can feel endless. I wonder if an old alarm is filling the "
        "silence with the hardest explanation it knows. What else might be true about a late night after a long shift?")


def test_a_good_backend_reply_is_used_as_is():
    backend = ScriptedBackend(GOOD)
    result = backend.reflect(ENTRY)
    assert result.text == GOOD
    assert result.reflection.backend == "scripted"
    assert not result.notices
    assert {t.name for t in backend.requests[0].themes} >= {"anxious_checking"}


@pytest.mark.parametrize("reply", [
    "You shouldn't reread your messages, that's anxious attachment. Just relax, she's probably asleep!",
    "It's a tough pill to swallow, but just focus on yourself and move on with your life. Everything happens for a reason.",
    "",
    "You've been waiting for Noor's call since her shift ended, rereading your messages over and",
    "Stocks rose today as investors weighed new data on inflation and the central bank's next steps in the market.",
])
def test_a_bad_backend_reply_is_replaced_by_the_offline_one(reply):
    result = ScriptedBackend(reply).reflect(ENTRY)
    offline = OfflineReflector(Config()).reflect(ENTRY)
    assert result.text == offline.text
    assert result.reflection.backend == "offline"
    assert len(result.notices) == 1 and "offline" in result.notices[0]


def test_backend_errors_and_bugs_fall_back_with_one_notice():
    for backend in (ExplodingBackend(Config()), CrashingBackend(Config())):
        result = backend.reflect(ENTRY)
        assert result.reflection.backend == "offline"
        assert len(result.notices) == 1


def test_a_backend_slower_than_the_timeout_falls_back():
    backend = ScriptedBackend(GOOD, pause=0.05, config=Config(timeout=1.0))
    started = time.monotonic()
    result = backend.reflect(ENTRY)
    assert time.monotonic() - started < 2.5
    assert result.reflection.backend == "offline"
    assert "seconds" in result.notices[0]


def test_stream_yields_checked_sentences_then_the_result():
    stream = ScriptedBackend(GOOD).stream(ENTRY)
    sentences = list(stream)
    assert len(sentences) == 4 and sentences[0].startswith("You've been waiting")
    assert stream.result.text == GOOD == " ".join(sentences)


def test_stream_stops_a_reply_that_turns_shaming_midway():
    turned = GOOD.replace("What else might be true", "You should have known. What else might be true")
    stream = ScriptedBackend(turned).stream(ENTRY)
    spoken = list(stream)
    assert not any("should have" in s for s in spoken)
    assert stream.result.notices
    assert " ".join(spoken) == stream.result.text
    assert check_reflection(stream.result.text).ok


def test_offline_stream_matches_reflect():
    stream = get_reflector().stream(ENTRY)
    assert " ".join(stream) == get_reflector().reflect(ENTRY).text


# ---------------------------------------------------------------- memory of past entries


def _dated(text: str, days_ago: float) -> Entry:
    when = (dates.now() - timedelta(days=days_ago)).isoformat(timespec="seconds")
    return Entry(transcript=text, created_at=when, themes=detect_themes(text))


def test_related_entries_share_people_or_stories_and_unrelated_ones_are_ignored():
    history = [
        _dated("Work was hectic, the printer broke again and I missed lunch.", 30),
        _dated("Noor didn't text back all evening and I kept checking my phone.", 21),
        _dated("Went swimming, the pool was cold but I liked it.", 10),
    ]
    found = related_entries(ENTRY, detect_themes(ENTRY), history)
    assert [r.entry.transcript for r in found][:1] == [history[1].transcript]
    assert "noor" in found[0].shared_people
    assert related_entries("I baked bread with my nephew", [], history) == []


def test_the_reflection_notices_change_since_a_related_entry():
    history = [_dated("Sam went quiet again and I was sure people always leave. I kept checking my phone.", 20)]
    text = "Sam and I talked it through tonight and I felt really heard. It went better than I expected."
    result = get_reflector().reflect(text, history=history)
    assert result.related == [history[0].id]
    assert "A couple of weeks ago" in result.text
    assert check_reflection(result.text, text).ok


def test_entries_that_got_a_safety_message_are_never_recalled():
    from voicejournal.models import Safety

    history = [_dated("Sam left and I want to die.", 5)]
    history[0].safety = Safety(level="crisis", reason="suicide language")
    result = get_reflector().reflect("Sam called today and we laughed.", history=history)
    assert result.related == []


# ---------------------------------------------------------------- practices


def test_every_agreed_practice_exists_with_several_openings():
    found = [p.name for p in list_practices()]
    assert found[: len(PRACTICES)] == PRACTICES
    for name in PRACTICES:
        practice = get_practice(name)
        assert practice.title and practice.description
        openings = practice.openings()
        assert len(openings) >= 4 and len(set(openings)) == len(openings)
        assert practice.guidance and practice.questions()
        for line in openings + practice.questions():
            assert "!" not in line
    assert get_practice("checkin").opening(seed=1) in get_practice("checkin").openings()
    assert "feet" in " ".join(get_practice("checkin").openings()).lower()  # grounding first


def test_openings_vary_from_day_to_day():
    checkin = get_practice("checkin")
    assert len({checkin.opening(seed=day) for day in range(10)}) >= 3


def test_wording_can_be_changed_without_code(tmp_path, monkeypatch):
    import shutil

    from voicejournal.prompts import _read, prompts_dir

    copy = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), copy)
    (copy / "reflection" / "close.txt").write_text("Be gentle with yourself tonight, whatever comes.\n")
    (copy / "reflection" / "mirror.txt").write_text("What I heard is that {mirror}.\n")
    monkeypatch.setenv("VOICEJOURNAL_PROMPTS", str(copy))
    _read.cache_clear()
    try:
        result = get_reflector().reflect("I went to the market with my dad and we laughed.")
        assert result.text.startswith("What I heard is that you went to the market with your dad")
    finally:
        _read.cache_clear()


# ---------------------------------------------------------------- commands


def test_practices_command(run):
    out = run("practices")
    assert out.exit_code == 0
    for name in PRACTICES:
        assert name in out.output
    data = json.loads(run("practices", "--json").output)
    assert [d["name"] for d in data][: len(PRACTICES)] == PRACTICES


def test_reflect_command_prints_without_saving(run, vj_home):
    out = run("reflect", ENTRY)
    assert out.exit_code == 0
    assert "Noor" in out.output
    assert not (vj_home / "journal.json").exists()


def test_reflect_command_json_has_themes_and_safety(run):
    data = json.loads(run("reflect", "--json", "--practice", "insecurity", ENTRY).output)
    assert data["safety"] is None
    assert data["reflection"]["backend"] == "offline"
    assert any(t["name"] == "anxious_checking" and t["triggers"] for t in data["themes"])
    crisis = json.loads(run("reflect", "--json", "-", input="I don't want to wake up tomorrow").output)
    assert crisis["reflection"] is None and crisis["safety"]["level"] == "crisis"
    assert crisis["resources"]


def test_reflect_command_bad_input(run):
    out = run("reflect", "   ")
    assert out.exit_code == 2 and "Traceback" not in out.output
    out = run("reflect", "--practice", "nope", "hello there")
    assert out.exit_code == 2 and "checkin" in out.output


def test_write_saves_then_reflects_with_themes(run, journal_path):
    out = run("write", "--practice", "reframe", "My sister cancelled again. People always leave, I guess.")
    assert out.exit_code == 0, out.output
    assert "Saved entry" in out.output
    entry = open_store(journal_path).all()[0]
    assert entry.practice == "reframe"
    assert entry.reflection is not None and entry.reflection.text in out.output
    assert any(t.name == "people_leave" for t in entry.themes)
    assert entry.status == "complete"


def test_write_with_crisis_language_saves_with_a_safety_flag(run, journal_path, monkeypatch):
    monkeypatch.setenv("VOICEJOURNAL_REGION", "GB")
    out = run("write", "I've been saving up pills and I think tonight is the night.")
    assert out.exit_code == 0
    assert "116 123" in out.output
    entry = open_store(journal_path).all()[0]
    assert entry.safety is not None and entry.reflection is None
    assert entry.transcript.startswith("I've been saving up pills")


def test_write_refuses_an_unknown_practice_before_saving(run, journal_path):
    out = run("write", "--practice", "nope", "hello")
    assert out.exit_code == 2
    assert not journal_path.exists() or open_store(journal_path).all() == []
