"""The names list: learned from the journal on disk, changed through the real CLI, kept in the
journal file (encrypted and exported with it), and respelling that never invents a name."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from voicejournal import dates
from voicejournal.models import SCHEMA_VERSION, Entry, Segment
from voicejournal.names import (
    MAX_NAMES,
    NameHints,
    corrected_names,
    journal_names,
    learn,
    whisper_names,
)
from voicejournal.store import JournalStore
from voicejournal.transcription import Transcript, names_hint, respell_names, sound_key


def _at(days_ago: float) -> str:
    return (dates.now() - timedelta(days=days_ago)).isoformat(timespec="seconds")


def _journal(path: Path, *texts: tuple[float, str], tags: dict[int, list[str]] | None = None) -> JournalStore:
    store = JournalStore(path)
    for i, (days_ago, text) in enumerate(texts):
        store.add(Entry(transcript=text, created_at=_at(days_ago), tags=(tags or {}).get(i, [])))
    return store


# --- learning -------------------------------------------------------------------------------


def test_recurring_capitalised_names_are_learned_and_ordinary_words_are_not(journal_path):
    store = _journal(
        journal_path,
        (30, "Today I rang Saoirse. On Monday I felt better. I'm tired."),
        (20, "I saw Saoirse and Noor in London. Today was long."),
        (10, "Noor said she would call on Friday. When she did, I relaxed."),
        (5, "Kwame was kind."),  # once, and only at the start of a sentence: not enough
    )
    names = [n.name for n in journal_names(store)]
    assert names[:2] == ["Noor", "Saoirse"]  # both in two entries; Noor more recently
    assert "London" not in names  # said once
    for word in ("Today", "Monday", "Friday", "When", "I'm", "On", "Kwame"):
        assert word not in names


def test_a_word_mostly_written_lower_case_is_not_a_name(journal_path):
    store = _journal(journal_path, (3, "I will try. Will is my friend and I will see him."),
                     (2, "we will see, said Will."), (1, "I will go."))
    assert "Will" not in [n.name for n in journal_names(store)]


def test_order_is_by_recency_and_frequency_on_the_products_clock(journal_path):
    # Priya: three entries two years ago. Tomasz: two entries this week. Recency wins.
    store = _journal(journal_path, *[(730 + d, "I met Priya today.") for d in range(3)],
                     (2, "I met Tomasz today."), (1, "Later I rang Tomasz again."))
    names = journal_names(store)
    assert [n.name for n in names] == ["Tomasz", "Priya"]
    assert names[0].entries == 2 and names[1].entries == 3
    assert names[0].last_seen == (dates.today() - timedelta(days=1)).isoformat()


def test_tags_count_as_mentions_of_a_name_the_transcripts_show(journal_path):
    store = _journal(journal_path, (5, "Coffee with Aoife after work."), (4, "A quiet evening at home."),
                     tags={1: ["aoife"]})
    (aoife,) = [n for n in journal_names(store) if n.name == "Aoife"]
    assert aoife.entries == 2 and aoife.source == "learned"


def test_the_list_for_whisper_is_capped_best_first(journal_path):
    store = JournalStore(journal_path)
    people = [f"Ka{'abcdefghijklmnopqrstuvwxyz'[i % 26]}{'lmn'[i // 26]}ra" for i in range(MAX_NAMES + 6)]
    for i, person in enumerate(people):
        store.add(Entry(transcript=f"Then I met {person}.", created_at=_at(100 - i)))
        store.add(Entry(transcript=f"Later {person} rang.", created_at=_at(100 - i)))
    hints = whisper_names(store)
    assert len(hints.names) == MAX_NAMES
    assert hints.names[0] == people[-1]  # the most recent first
    assert len(journal_names(store)) == MAX_NAMES + 6


def test_learning_is_pure_and_ignores_damaged_dates():
    docs = [{"id": "a", "created_at": "not a date", "transcript": "I met Priya."},
            {"id": "b", "created_at": _at(1), "transcript": "I met Priya."}]
    assert learn(docs, []) == []  # one valid entry: not a recurring name


# --- corrections ----------------------------------------------------------------------------


def test_corrections_give_the_name_and_how_whisper_heard_it():
    assert corrected_names("I had coffee with Sirsha today.", "I had coffee with Saoirse today.") == [
        ("Saoirse", "Sirsha")]
    assert corrected_names("we met pria and tom ash", "we met Priya and Tomasz") == [("Priya", "pria"),
                                                                                   ("Tomasz", "tom ash")]
    assert corrected_names("the dog barked. Then it slept", "The dog barked. Then it slept.") == []
    assert corrected_names("I rang my mum", "I rang my Mum") == []  # an ordinary word


def test_edit_learns_the_corrected_name_through_the_cli(run, journal_path, monkeypatch):
    store = _journal(journal_path, (1, "I had coffee with Sirsha and she listened."))
    entry = store.all()[0]
    monkeypatch.setenv("EDITOR", "sed -i s/Sirsha/Saoirse/")
    result = run("edit", entry.id)
    assert result.exit_code == 0 and "Saoirse" in result.output
    listed = json.loads(run("names", "--json").stdout)
    assert listed[0]["name"] == "Saoirse" and listed[0]["source"] == "corrected"
    assert listed[0]["heard"] == ["Sirsha"]
    assert whisper_names(JournalStore(journal_path)).heard == (("Sirsha", "Saoirse"),)


# --- the CLI --------------------------------------------------------------------------------


def test_names_add_list_remove_and_json(run, journal_path):
    assert "No names yet" in run("names").output
    assert run("names", "add", "saoirse").output.strip() == "Added Saoirse."
    run("names", "add", "Mary-Kate")
    shown = run("names").output
    assert "Saoirse" in shown and "Mary-Kate" in shown and "added" in shown
    data = json.loads(run("names", "--json").stdout)
    assert {d["name"] for d in data} == {"Saoirse", "Mary-Kate"}
    assert set(data[0]) >= {"name", "source", "entries", "last_seen", "score"}
    result = run("names", "remove", "SAOIRSE")
    assert result.exit_code == 0 and "Removed Saoirse" in result.output
    assert [d["name"] for d in json.loads(run("names", "--json").stdout)] == ["Mary-Kate"]


def test_a_removed_name_is_not_learned_back_until_added_again(run, journal_path, monkeypatch):
    _journal(journal_path, (3, "I saw Noor today."), (2, "Later Noor rang."))
    assert [d["name"] for d in json.loads(run("names", "--json").stdout)] == ["Noor"]
    run("names", "remove", "Noor")
    JournalStore(journal_path).add(Entry(transcript="Then Noor came round.", created_at=_at(1)))
    assert json.loads(run("names", "--json").stdout) == []
    monkeypatch.setenv("EDITOR", "true")
    run("names", "add", "Noor")
    (noor,) = json.loads(run("names", "--json").stdout)
    assert noor["entries"] == 3 and noor["source"] == "added"


@pytest.mark.parametrize("args, message", [
    (["names", "remove", "Nobody"], "not in the names list"),
    (["names", "add", "3rd"], "not a name I can use"),
    (["names", "add", "Mary", "Kate", "Jones"], "not a name I can use"),
    (["names", "add", "Bob;", "rm"], "not a name I can use"),
])
def test_bad_names_get_one_clear_message_and_change_nothing(run, journal_path, args, message):
    run("names", "add", "Saoirse")
    before = journal_path.read_bytes()
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert journal_path.read_bytes() == before


def test_remove_suggests_a_close_name(run, journal_path):
    run("names", "add", "Siobhan")
    assert "Did you mean Siobhan?" in run("names", "remove", "Siobahn").output


def test_names_on_an_empty_journal_creates_nothing(run, journal_path):
    assert run("names", "--json").output.strip() == "[]"
    assert not journal_path.exists()


# --- kept in the journal: format, encryption, export ----------------------------------------


def test_names_are_kept_in_the_journal_file_and_survive_other_writes(run, journal_path):
    run("names", "add", "Aoife")
    run("write", "--offline", "A quiet day.")
    data = json.loads(journal_path.read_text())
    assert [r["name"] for r in data["names"].values()] == ["Aoife"]
    assert data["meta"]["1"]["schema_version"] == SCHEMA_VERSION == 2


def test_a_version_1_journal_is_upgraded_with_a_backup(run, journal_path):
    old = {"entries": {"1": {"id": "0abc", "transcript": "I met Priya.", "created_at": _at(2),
                             "schema_version": 1}},
           "meta": {"1": {"schema_version": 1}}}
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal_path.write_text(json.dumps(old))
    assert run("names", "add", "Priya").exit_code == 0
    data = json.loads(journal_path.read_text())
    assert data["meta"]["1"]["schema_version"] == 2 and data["entries"]["1"]["schema_version"] == 2
    assert [r["name"] for r in data["names"].values()] == ["Priya"]
    assert json.loads((journal_path.parent / "journal.json.v1.bak").read_text()) == old


def test_names_are_encrypted_with_the_journal_and_exported_with_it(run, journal_path, monkeypatch):
    run("names", "add", "Saoirse")
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", "correct horse battery staple")
    assert run("encrypt").exit_code == 0
    assert b"Saoirse" not in journal_path.read_bytes()
    assert [d["name"] for d in json.loads(run("names", "--json").stdout)] == ["Saoirse"]
    run("names", "add", "Kwame")
    assert b"Kwame" not in journal_path.read_bytes()
    exported = json.loads(run("export", "--format", "json").stdout)
    assert {n["name"] for n in exported["names"]} == {"Saoirse", "Kwame"}
    assert {d["name"] for d in exported["name_decisions"]} == {"Saoirse", "Kwame"}
    assert run("decrypt").exit_code == 0
    assert [r["name"] for r in json.loads(journal_path.read_text())["names"].values()] == ["Saoirse", "Kwame"]


# --- respelling never invents a name ---------------------------------------------------------


def _t(text: str) -> Transcript:
    return Transcript(text, [Segment(0.0, 1.0, text)] if text else [], "en", 1.0, "test")


UNKNOWN = {"sirsha", "tandiwe", "pria", "neea", "kwahmay"}


def _uncommon(word: str) -> bool:
    return word.casefold() in UNKNOWN


def test_a_hinted_name_replaces_only_a_word_that_could_have_been_it():
    names = ["Saoirse", "Tomasz", "Tadhg", "Nia", "Niamh", "Priya"]
    fixed = respell_names(_t("I met Sirsha and Thomas."), _t("I met Saoirse and Tomasz."), names, _uncommon)
    assert fixed.text == "I met Saoirse and Tomasz."
    # "Tonight" is an ordinary word that doesn't sound like Tadhg: refused.
    kept = respell_names(_t("Tonight Pria came round."), _t("Tadhg Priya came round."), names, _uncommon)
    assert kept.text == "Tonight Priya came round."
    # An unknown word more like another listed name than the hinted one: refused.
    assert respell_names(_t("Neea sent a message."), _t("Niamh sent a message."), names, _uncommon).text == \
        "Neea sent a message."
    # The hinted pass can't add words.
    assert respell_names(_t("I slept badly."), _t("I slept badly, Saoirse."), names, _uncommon).text == "I slept badly."


def test_corrected_spellings_and_near_spellings_of_unknown_words():
    names = ["Thandiwe", "Saoirse"]
    fixed = respell_names(_t("Tandiwe and Sirsha came."), _t("Tandiwe and Sirsha came."), names, _uncommon,
                          heard={"Sirsha": "Saoirse"})
    assert fixed.text == "Thandiwe and Saoirse came."
    assert fixed.segments[0].text == fixed.text


def test_sound_keys():
    assert sound_key("Thomas") == sound_key("Tomasz")
    assert sound_key("Tonight") != sound_key("Tadhg")
    assert names_hint(["Saoirse", " ", "Priya"]) == "Saoirse, Priya."
    assert names_hint([]) is None
    assert not NameHints() and NameHints(("A",))
