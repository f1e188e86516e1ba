"""Malformed input across commands: each gets one clear line, the right exit code, no traceback,
and the journal is left byte for byte as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicejournal.models import Entry
from voicejournal.store import JournalStore

GOOD = "I said what I needed and the room stayed kind."


@pytest.fixture
def journal(journal_path) -> Path:
    store = JournalStore(journal_path)
    store.add(Entry(transcript=GOOD, tags=["family"]))
    store.add(Entry(transcript="Second, quieter entry."))
    return journal_path


def check(result, code: int, *needles: str) -> str:
    """The shared contract: exit code, a message, no traceback."""
    out = result.output
    assert result.exit_code == code, (result.exit_code, out)
    assert "Traceback" not in out
    for needle in needles:
        assert needle.lower() in out.lower(), (needle, out)
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    assert len(errors) <= 1, out
    return out


# (name, args, exit code, words the message must contain). The journal must be unchanged after each.
CASES = [
    ("negative -n", ["list", "-n", "-3"], 2, "-n"),
    ("zero -n", ["list", "-n", "0"], 2, "-n"),
    ("-n not a number", ["list", "-n", "lots"], 2, "not a valid integer"),
    ("impossible date", ["list", "--from", "2026-02-30"], 2, "not a date"),
    ("date garbage", ["list", "--on", "'; DROP TABLE entries; --"], 2, "not a date"),
    ("--from after --to", ["list", "--from", "2026-03-01", "--to", "2026-01-01"], 2, "after"),
    ("--on with --from", ["list", "--on", "today", "--from", "7d"], 2, "--on"),
    ("huge relative date", ["list", "--from", "99999y"], 2, "too far"),
    ("unknown id", ["show", "zzzzzzzzzzzz"], 3, "no entry"),
    ("empty id", ["show", " "], 2, "entry id"),
    ("ambiguous id", ["show", "1"], 2, "matches 2"),
    ("unknown id for delete", ["delete", "--yes", "nope"], 3, "no entry"),
    ("unknown id for tag", ["tag", "nope", "+x"], 3, "no entry"),
    ("injection-like tag", ["tag", "1", "+$(rm -rf ~)"], 2, "not a tag"),
    ("html tag", ["tag", "1", "+<script>"], 2, "not a tag"),
    ("overlong tag", ["tag", "1", "+" + "a" * 41], 2, "not a tag"),
    ("empty search", ["search", "   "], 2, "search for"),
    ("unknown export format", ["export", "--format", "docx"], 2, "docx"),
    ("empty typed entry", ["write", "   "], 2, "empty"),
    ("unknown command", ["frobnicate"], 2, "no such command"),
    ("import missing file", ["import", "/nonexistent/file.json"], 2, "does not exist"),
]


@pytest.mark.parametrize("name, args, code, needle", CASES, ids=[c[0] for c in CASES])
def test_bad_command_line_input(run, journal, name, args, code, needle):
    before = journal.read_bytes()
    check(run(*args), code, needle)
    assert journal.read_bytes() == before


def test_corrupt_journal_json_is_reported_and_never_overwritten(run, journal_path):
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal_path.write_bytes(b'{"entries": {"1": {"transcript": "half a jour')
    before = journal_path.read_bytes()
    for args in (["list"], ["write", "new"], ["show", "1"], ["encrypt"], ["export"]):
        check(run(*args, env={"VOICEJOURNAL_PASSPHRASE": "x"}), 4, "damaged")
        assert journal_path.read_bytes() == before


@pytest.mark.parametrize("payload, needle", [
    (b"\xff\xfe\x80 not utf-8 \x00\x01", "damaged"),
    (b"[1, 2, 3]", "not a voicejournal file"),
    (b'{"entries": [1, 2]}', "not a voicejournal file"),
    (b'{"_default": {}, "meta": {"1": {"schema_version": "two"}}}', "not a number"),
])
def test_journal_files_that_are_not_journals(run, journal_path, payload, needle):
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal_path.write_bytes(payload)
    check(run("list"), 4, needle)
    check(run("write", "hello"), 4, needle)
    assert journal_path.read_bytes() == payload


def test_journal_from_a_future_schema_version(run, journal_path):
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"entries": {"1": {"id": "abc", "transcript": "from the future", "created_at": "2030-01-01T00:00:00+00:00",
                             "schema_version": 99}}, "meta": {"1": {"schema_version": 99}}}
    journal_path.write_text(json.dumps(doc))
    before = journal_path.read_bytes()
    check(run("list"), 4, "newer voicejournal")
    check(run("write", "x"), 4, "newer voicejournal")
    assert journal_path.read_bytes() == before


def test_a_truncated_encrypted_journal(run, journal, monkeypatch):
    from voicejournal import crypto

    monkeypatch.setattr(crypto, "DEFAULT_KDF", crypto.KdfParams(log2_n=12))
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", "pw")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    check(run("encrypt"), 0)
    journal.write_bytes(journal.read_bytes()[:30])
    before = journal.read_bytes()
    check(run("list"), 4, "cut short")
    assert journal.read_bytes() == before


@pytest.mark.parametrize("toml, needle", [
    ("rate = \"fast\"\n", "not a valid int"),
    ("silence_seconds = -2\n", "not a valid float"),
    ("colour = \"blue\"\n", "unknown setting"),
    ("this is not toml\n", "can't be read"),
    ("keep_audio = \"maybe\"\n", "not a valid bool"),
])
def test_invalid_config_values(run, journal, vj_home, toml, needle):
    (vj_home / "config.toml").write_text(toml)
    before = journal.read_bytes()
    result = run("config") if "config" in _commands(run) else run("checkin", "--text")
    check(result, 2, needle)
    assert journal.read_bytes() == before


def test_invalid_config_from_environment(run, journal, monkeypatch):
    monkeypatch.setenv("VOICEJOURNAL_MAX_SECONDS", "NaN")
    result = run("config") if "config" in _commands(run) else run("checkin", "--text")
    check(result, 2, "max_seconds")


def test_non_utf8_typed_entry_is_kept_readable(run, journal):
    result = run("write", "-", input=b"caf\xe9 with my brother \xff\xfe".decode("latin-1").encode("latin-1"))
    check(result, 0)
    texts = [e.transcript for e in JournalStore(journal).all()]
    assert any("with my brother" in t for t in texts)


def test_enormous_transcript_is_saved_whole_and_listed(run, journal):
    huge = ("word " * 400_000).strip()  # ~2 MB of text
    check(run("write", "-", input=huge), 0)
    entries = JournalStore(journal).all()
    assert max(len(e.transcript) for e in entries) == len(huge)
    listed = check(run("list"), 0)
    assert max(len(line) for line in listed.splitlines()) < 400


def test_injection_like_text_is_only_text(run, journal):
    nasty = "'); DROP TABLE entries; -- $(reboot) `id` <img src=x onerror=alert(1)> {{7*7}} \x1b[31mred"
    check(run("write", nasty, "--tag", "ok"), 0)
    found = check(run("search", "DROP", "--json"), 0)
    assert json.loads(found)[0]["transcript"].startswith("'); DROP TABLE")
    assert len(JournalStore(journal).all()) == 3


def _commands(run) -> set[str]:
    listing = run("--help").output.split("Commands:", 1)[1]
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


@pytest.mark.parametrize("content", [b"", b"\x00" * 4096, b"RIFF\x10\x00\x00\x00WAVEjunk", bytes(range(256)) * 64])
def test_binary_garbage_as_audio(run, journal, tmp_path, content):
    if "add" not in _commands(run):
        pytest.fail("the add command is missing")
    bad = tmp_path / "entry.wav"
    bad.write_bytes(content)
    before = journal.read_bytes()
    result = run("add", str(bad), "--no-reflect")
    check(result, 2)
    assert journal.read_bytes() == before
    result = run("transcribe", str(bad))
    check(result, 2)
