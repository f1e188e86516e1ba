"""Every review command through the real CLI, against a journal on disk in a temp home."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from voicejournal import dates
from voicejournal.models import Entry, Reflection
from voicejournal.store import JournalStore, open_store


@pytest.fixture
def filled(journal_path):
    """Three entries on different days, one starred and tagged, one with a reflection."""
    store = JournalStore(journal_path)
    today = dates.today()

    def at(days: int) -> str:
        return (today - timedelta(days=days)).isoformat() + "T20:15:00+00:00"

    old = store.add(Entry(transcript="Work was loud and I kept to myself.", created_at=at(40), tags=["work"]))
    sister = store.add(Entry(
        transcript="My sister Noor still hasn't called back and I keep checking my phone.",
        created_at=at(3), tags=["family"], starred=True, practice="insecurity",
        reflection=Reflection(text="Waiting for Noor's call sounds hard.", backend="offline"),
    ))
    new = store.add(Entry(transcript="Ines came round with soup and stayed all evening.", created_at=at(0),
                          practice="connection"))
    return {"old": old, "sister": sister, "new": new, "store": store}


def test_list_newest_first_and_json(run, filled):
    result = run("list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [filled[k].id in line for k, line in zip(["new", "sister", "old"], lines, strict=True)] == [True] * 3
    assert "★" in lines[1] and "#family" in lines[1]
    data = json.loads(run("list", "--json").output)
    assert [d["id"] for d in data] == [filled[k].id for k in ("new", "sister", "old")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-n", "1"], ["new"]),
        (["--from", "7d"], ["new", "sister"]),
        (["--to", "30d"], ["old"]),
        (["--on", "today"], ["new"]),
        (["--on", (dates.today() - timedelta(days=3)).isoformat()], ["sister"]),
        (["--tag", "family"], ["sister"]),
        (["--tag", "#work"], ["old"]),
        (["--starred"], ["sister"]),
        (["--practice", "connection"], ["new"]),
    ],
)
def test_list_filters(run, filled, args, expected):
    data = json.loads(run("list", "--json", *args).output)
    assert [d["id"] for d in data] == [filled[k].id for k in expected]


def test_list_empty_messages(run, filled):
    result = run("list", "--tag", "nope")
    assert result.exit_code == 0
    assert "No entries match" in result.output


def test_list_on_empty_journal_is_kind(run):
    result = run("list")
    assert result.exit_code == 0
    assert "empty so far" in result.output and "checkin" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-02-30"], "not a date I can read"),
        (["--on", "soon"], "not a date I can read"),
        (["--from", "today", "--to", "7d"], "is after --to"),
        (["--on", "today", "--from", "7d"], "--on by itself"),
    ],
)
def test_list_bad_dates(run, filled, args, message):
    result = run("list", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_list_negative_number_is_usage_error(run, filled):
    result = run("list", "-n", "-3")
    assert result.exit_code == 2
    assert "-3 is not in the range" in result.output


def test_show_by_prefix_and_json(run, filled):
    entry = filled["sister"]
    # The shortest start of its id no other entry shares: entries added in the same millisecond
    # share all but the last characters.
    others = [filled[k].id for k in ("old", "new")]
    prefix = next(entry.id[:n] for n in range(8, len(entry.id) + 1) if not any(o.startswith(entry.id[:n]) for o in others))
    result = run("show", prefix)
    assert result.exit_code == 0
    assert "Noor still hasn't called back" in result.output
    assert "Waiting for Noor's call" in result.output
    assert "#family" in result.output
    assert json.loads(run("show", entry.id, "--json").output)["id"] == entry.id


def test_show_without_id_shows_the_latest(run, filled):
    result = run("show")
    assert result.exit_code == 0
    assert filled["new"].id in result.output and "Ines came round" in result.output


def test_show_without_id_on_empty_journal(run):
    result = run("show")
    assert result.exit_code == 3
    assert "no entries yet" in result.output and "Traceback" not in result.output


def test_show_unknown_and_ambiguous_ids(run, filled):
    result = run("show", "nosuchid")
    assert result.exit_code == 3
    assert "No entry has the id 'nosuchid'" in result.output
    result = run("show", filled["new"].id[:2])
    assert result.exit_code == 2
    assert "Type more of the id" in result.output


def test_search_highlights_and_counts(run, filled):
    result = run("search", "NOOR", color=True)
    assert result.exit_code == 0
    assert filled["sister"].id in result.output
    assert "\x1b[" in result.output and "Noor" in result.output  # highlighted
    assert "1 entry found" in result.output
    # every word must match, in transcript or reflection
    assert json.loads(run("search", "noor", "waiting", "--json").output)[0]["id"] == filled["sister"].id


def test_search_no_match_exits_1(run, filled):
    result = run("search", "elephant")
    assert result.exit_code == 1
    assert "Nothing found for 'elephant'" in result.output


def test_tag_add_remove_and_reject_bad_tags(run, filled, journal_path):
    entry = filled["old"]
    result = run("tag", entry.id, "+office", "-work", "Team")
    assert result.exit_code == 0
    assert JournalStore(journal_path).get(entry.id).tags == ["office", "team"]
    before = journal_path.read_bytes()
    result = run("tag", entry.id, "+bad tag;rm -rf")
    assert result.exit_code == 2
    assert "not a tag I can use" in result.output
    assert journal_path.read_bytes() == before


def test_star_and_unstar(run, filled, journal_path):
    entry = filled["old"]
    assert run("star", entry.id).exit_code == 0
    assert JournalStore(journal_path).get(entry.id).starred
    assert run("unstar", entry.id).exit_code == 0
    assert not JournalStore(journal_path).get(entry.id).starred


def test_edit_changes_transcript(run, filled, journal_path, monkeypatch):
    entry = filled["old"]
    monkeypatch.setenv("EDITOR", "sed -i s/loud/quiet/")
    result = run("edit", entry.id)
    assert result.exit_code == 0
    assert JournalStore(journal_path).get(entry.id).transcript == "Work was quiet and I kept to myself."


@pytest.mark.parametrize("editor", ["true", "truncate -s 0"])
def test_edit_unchanged_or_empty_changes_nothing(run, filled, journal_path, monkeypatch, editor):
    monkeypatch.setenv("EDITOR", editor)
    before = journal_path.read_bytes()
    result = run("edit", filled["old"].id)
    assert result.exit_code == 0
    assert "nothing was changed" in result.output.lower() or "no changes" in result.output.lower()
    assert journal_path.read_bytes() == before


def test_delete_asks_and_removes_audio(run, filled, journal_path):
    store = filled["store"]
    entry = Entry(transcript="with audio")
    entry.audio = store.write_audio(entry.id, b"RIFF....")
    store.add(entry)
    audio = journal_path.parent / entry.audio
    assert audio.exists()

    result = run("delete", entry.id, input="n\n")
    assert "Kept it" in result.output
    assert audio.exists()

    result = run("delete", entry.id, input="y\n")
    assert result.exit_code == 0
    assert not audio.exists()
    assert run("show", entry.id).exit_code == 3


def test_delete_without_answer_deletes_nothing(run, filled, journal_path):
    before = journal_path.read_bytes()
    result = run("delete", filled["old"].id)
    assert result.exit_code == 2
    assert "--yes" in result.output
    assert journal_path.read_bytes() == before


def test_delete_yes(run, filled, journal_path):
    assert run("delete", filled["old"].id, "--yes").exit_code == 0
    assert JournalStore(journal_path).count() == 2


def test_export_markdown_json_text(run, filled, tmp_path):
    md = run("export").output
    assert md.startswith("# Journal")
    assert md.index("Work was loud") < md.index("Ines came round")  # oldest first
    assert "> Waiting for Noor's call" in md

    out = tmp_path / "out.json"
    result = run("export", "--format", "json", "--output", str(out), "--tag", "family")
    assert result.exit_code == 0
    assert "not encrypted" in result.output
    doc = json.loads(out.read_text())
    assert [e["id"] for e in doc["entries"]] == [filled["sister"].id]

    txt = run("export", "--format", "txt", "--from", "7d").output
    assert "Ines came round" in txt and "Work was loud" not in txt


def test_export_to_unwritable_place(run, filled, tmp_path):
    result = run("export", "--output", str(tmp_path / "missing" / "x.md"))
    assert result.exit_code == 2
    assert "Can't write" in result.output


def test_write_from_argument_stdin_and_editor(run, journal_path, monkeypatch):
    assert run("write", "Typed because the train is loud.", "--tag", "Commute").exit_code == 0
    assert run("write", input="Piped in from a script.\n").exit_code == 0
    store = JournalStore(journal_path)
    texts = {e.transcript: e for e in store.all()}
    assert texts["Typed because the train is loud."].tags == ["commute"]
    assert texts["Typed because the train is loud."].source == "text"
    assert "Piped in from a script." in texts


def test_write_empty_saves_nothing(run, journal_path):
    result = run("write", input="   \n")
    assert result.exit_code == 2
    assert "nothing was saved" in result.output
    assert not journal_path.exists() or JournalStore(journal_path).count() == 0


def test_journal_option_before_or_after_command(run, tmp_path):
    other = tmp_path / "elsewhere" / "j.json"
    assert run("--journal", str(other), "write", "one").exit_code == 0
    assert run("write", "two", "--journal", str(other)).exit_code == 0
    assert JournalStore(other).count() == 2


def test_corrupt_journal_gives_one_line_and_exit_4(run, journal_path):
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal_path.write_text("{not json")
    for args in (["list"], ["write", "hello"], ["search", "x"]):
        result = run(*args)
        assert result.exit_code == 4
        assert result.output.count("\n") == 1 and str(journal_path) in result.output
    assert journal_path.read_text() == "{not json"


def test_editing_leaves_no_plaintext_on_disk_when_encrypted(run, journal_path, tmp_path, monkeypatch):
    """The $EDITOR file lives in a private folder in memory and is wiped; an encrypted journal's
    words never reach the journal's folder or the normal temporary folder in plain text."""
    from voicejournal.crypto import KdfParams, encrypt_journal

    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", "correct horse")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    runtime = tmp_path / "runtime"  # stands in for the memory-backed $XDG_RUNTIME_DIR
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    normal_tmp = tmp_path / "tmp"
    normal_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(normal_tmp))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    log = tmp_path / "editor.log"
    editor = tmp_path / "editor.sh"
    # Records where it was given the file and its mode, leaves a backup beside it (as many
    # editors do), and writes the entry.
    editor.write_text(
        "#!/bin/sh\n"
        f'echo "$1" >> {log}\n'
        f'stat -c %a "$(dirname "$1")" >> {log}\n'
        'cp "$1" "$1~"\n'
        'printf "%s" "$VJ_WORDS" > "$1"\n'
    )
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))

    assert run("write", "a first entry to encrypt", "--offline").exit_code == 0
    encrypt_journal(journal_path, "correct horse", KdfParams(log2_n=12))
    secret = "saoirse never came to the lighthouse and I waited"
    monkeypatch.setenv("VJ_WORDS", secret)
    # `write` opens the editor when run from a terminal: give it one.
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "voicejournal", "write", "--offline"], stdin=follower,
                              capture_output=True, text=True, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 0, done.stdout + done.stderr
    [entry] = [e for e in open_store(journal_path).all() if e.transcript == secret]

    secret2 = "the lighthouse keeper was kind to me after all"
    monkeypatch.setenv("VJ_WORDS", secret2)
    assert run("edit", entry.id).exit_code == 0
    assert open_store(journal_path).get(entry.id).transcript == secret2

    given = log.read_text().split("\n")
    paths, modes = given[0::2], given[1::2]
    assert all(Path(p).parent.parent == runtime for p in paths if p), given
    assert all(m == "700" for m in modes if m), given
    assert list(runtime.iterdir()) == []  # the file and the editor's backup are gone
    for folder in (journal_path.parent, normal_tmp):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"lighthouse" not in data, path


def test_editor_that_fails_changes_nothing(run, filled, journal_path, monkeypatch):
    monkeypatch.setenv("EDITOR", "false")
    before = journal_path.read_bytes()
    result = run("edit", filled["old"].id)
    assert result.exit_code == 2 and "nothing was changed" in result.output
    assert journal_path.read_bytes() == before
