"""Export to jrnl's JSON and import from jrnl, Day One and folders of Markdown/text: round trips and bad files."""

from __future__ import annotations

import json

import pytest

from voicejournal.interop import _split_title, read_import
from voicejournal.models import Entry, Reflection, Segment, Theme
from voicejournal.store import JournalStore


def rich_entries() -> list[Entry]:
    return [
        Entry(transcript="I thought she'd leave. She stayed and we talked it through.", source="mic",
              created_at="2025-01-03T21:15:07+01:00", practice="reframe", tags=["family", "work-life"],
              starred=True, segments=[Segment(0.0, 2.5, "I thought she'd leave."), Segment(2.5, 5.0, "She stayed.")],
              reflection=Reflection(text="You noticed the old story, and then what really happened.",
                                    backend="offline", created_at="2025-01-03T21:15:09+01:00"),
              themes=[Theme("narrative", "people_leave", ["she'd leave"]), Theme("corrective", "corrective", ["she stayed"])],
              language="en", duration_s=5.0, stt_model="tiny.en"),
        Entry(transcript="Quiet day!\nWalked to the river; \"felt\" okay. <script>alert(1)</script> 'tag'; DROP TABLE",
              created_at="2025-02-28T08:00:00-05:00"),
        Entry(transcript="Ünïcödé — привет — 日本語 — 🙂", created_at="2026-11-01T23:59:59+00:00", tags=["ü"]),
    ]


@pytest.fixture
def filled(run, journal_path) -> list[Entry]:
    store = JournalStore(journal_path)
    for e in rich_entries():
        store.add(e)
    return store.all()


def test_jrnl_round_trip_gives_identical_entries(run, filled, tmp_path):
    out = tmp_path / "export.json"
    result = run("export", "--format", "jrnl", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "not encrypted" in result.output
    doc = json.loads(out.read_text())
    # jrnl's own fields, as jrnl writes them.
    first = doc["entries"][0]
    assert first["title"] == "I thought she'd leave."
    assert first["body"].startswith("She stayed and we talked it through.")
    assert (first["date"], first["time"]) == ("2025-01-03", "21:15")
    assert first["tags"] == ["@family", "@work-life"] and first["starred"] is True
    assert doc["tags"]["@family"] == 1

    fresh = tmp_path / "fresh" / "journal.json"
    result = run("--journal", str(fresh), "import", str(out))
    assert result.exit_code == 0, result.output
    assert "Imported 3 entries" in result.output and "(jrnl)" in result.output
    assert [e.to_dict() for e in JournalStore(fresh).all()] == [e.to_dict() for e in filled]

    again = run("--journal", str(fresh), "import", str(out))
    assert "Imported 0 entries" in again.output and "3 were already" in again.output
    assert len(JournalStore(fresh).all()) == 3


def test_our_json_export_imports_back_identically(run, filled, tmp_path):
    out = tmp_path / "export.json"
    assert run("export", "--format", "json", "-o", str(out)).exit_code == 0
    fresh = tmp_path / "other.json"
    assert run("--journal", str(fresh), "import", str(out)).exit_code == 0
    assert [e.to_dict() for e in JournalStore(fresh).all()] == [e.to_dict() for e in filled]


def test_plain_jrnl_file_as_jrnl_writes_it(run, journal_path, tmp_path):
    # What `jrnl --format json` writes (no voicejournal record).
    src = tmp_path / "jrnl.json"
    src.write_text(json.dumps({
        "tags": {"@mum": 1},
        "entries": [
            {"title": "Called mum.", "body": "It went better than I feared.", "date": "2024-05-01",
             "time": "19:30", "tags": ["@mum"], "starred": False},
            {"title": "Short one", "body": "", "date": "2024-05-02", "time": "07:05", "tags": [], "starred": True},
        ],
    }))
    result = run("import", str(src))
    assert result.exit_code == 0, result.output
    entries = JournalStore(journal_path).all()
    assert [e.transcript for e in entries] == ["Called mum. It went better than I feared.", "Short one"]
    assert entries[0].tags == ["mum"] and entries[1].starred
    assert entries[0].created.strftime("%Y-%m-%d %H:%M") == "2024-05-01 19:30"


def test_day_one_json(run, journal_path, tmp_path):
    src = tmp_path / "Journal.json"
    src.write_text(json.dumps({
        "metadata": {"version": "1.0"},
        "entries": [
            {"uuid": "A1", "creationDate": "2023-07-14T18:05:00Z", "timeZone": "Europe/Berlin",
             "text": "Felt anxious when he didn't text back\\. Asked instead of guessing\\!",
             "tags": ["Relationship"], "starred": True},
            {"uuid": "A2", "creationDate": "2023-07-15T06:00:00Z", "text": "Morning pages"},
        ],
    }))
    result = run("import", str(src))
    assert result.exit_code == 0, result.output
    assert "(dayone)" in result.output
    first, second = JournalStore(journal_path).all()
    assert first.transcript == "Felt anxious when he didn't text back. Asked instead of guessing!"
    assert first.created_at == "2023-07-14T20:05:00+02:00"  # in the entry's own time zone
    assert first.tags == ["relationship"] and first.starred
    assert second.created_at == "2023-07-15T06:00:00+00:00"


def test_markdown_and_text_folder(run, journal_path, tmp_path):
    folder = tmp_path / "notes"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "2024-03-01.md").write_text("# A hard call\n\nI said what I needed.\n")
    (folder / "anything.md").write_text("---\ndate: 2024-03-05 21:40\ntags: [sister, repair]\nstarred: true\n---\nWe made up.\n")
    (folder / "20240307_2215 late.txt").write_text("Couldn't sleep; wrote instead.")
    (folder / "no-date.md").write_text("Undated thoughts.")
    (folder / "empty.txt").write_text("   \n")
    (folder / "picture.png").write_bytes(b"\x89PNG")
    result = run("import", str(folder))
    assert result.exit_code == 0, result.output
    assert "Skipped no-date.md (no date" in result.output and "Skipped empty.txt (empty)" in result.output
    entries = JournalStore(journal_path).all()
    assert [e.transcript for e in entries] == ["# A hard call\n\nI said what I needed.", "We made up.",
                                               "Couldn't sleep; wrote instead."]
    assert entries[1].tags == ["sister", "repair"] and entries[1].starred
    assert entries[1].created.strftime("%Y-%m-%d %H:%M") == "2024-03-05 21:40"
    assert entries[2].created.strftime("%H:%M") == "22:15"

    dry = run("import", "--dry-run", str(folder))
    assert "Would import 0 entries" in dry.output


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"entries": [{"title": "x", "date": "2026-02-30", "time": "10:00"}]}', "not a real date"),
    (b'{"entries": [{"title": "x", "date": "2026-02-01", "tags": "oops"}]}', "tags should be a list"),
    (b'{"entries": [{"title": "x", "date": "2026-02-01", "tags": ["; rm -rf /"]}]}', "can't be a tag"),
    (b'{"entries": [{"title": 5, "date": "2026-02-01"}]}', "should be text"),
    (b'{"metadata": {}, "entries": [{"text": "x", "creationDate": "yesterday"}]}', "not a real date"),
    (b'{"some": "other json"}', "not a jrnl or Day One export"),
    (b'[1, 2, 3]', "not a jrnl or Day One export"),
])
def test_bad_import_files_import_nothing(run, journal_path, tmp_path, content, message):
    JournalStore(journal_path).add(Entry(transcript="already here"))
    before = journal_path.read_bytes()
    src = tmp_path / "bad.json"
    src.write_bytes(content)
    result = run("import", str(src))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert journal_path.read_bytes() == before


def test_bad_date_in_a_folder_file_name(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "2026-02-30.md").write_text("never happened")
    with pytest.raises(Exception, match="not a real date"):
        read_import(folder)


def test_split_title_like_jrnl():
    assert _split_title("Called in sick. Cleaned the house.") == ("Called in sick.", "Cleaned the house.")
    assert _split_title("No end mark") == ("No end mark", "")
    assert _split_title("Line one\nline two") == ("Line one", "line two")
    assert _split_title("Version 1.5 shipped! Yay") == ("Version 1.5 shipped!", "Yay")


def test_missing_source_is_a_usage_error(run, tmp_path):
    result = run("import", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_import_into_encrypted_journal_stays_sealed(run, journal_path, tmp_path, monkeypatch):
    from voicejournal import crypto

    monkeypatch.setattr(crypto, "DEFAULT_KDF", crypto.KdfParams(log2_n=14))
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", "pw for import")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    JournalStore(journal_path).add(Entry(transcript="first"))
    assert run("encrypt").exit_code == 0
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "2024-01-01.md").write_text("a secret about my father")
    assert run("import", str(folder)).exit_code == 0
    blob = b"".join(p.read_bytes() for p in journal_path.parent.rglob("*") if p.is_file())
    assert b"my father" not in blob
    listed = json.loads(run("list", "--json").output)
    assert any(e["transcript"] == "a secret about my father" for e in listed)


def test_export_to_stdout_is_jrnl_json(run, filled):
    result = run("export", "--format", "jrnl", "--tag", "family")
    doc = json.loads(result.output)
    assert len(doc["entries"]) == 1 and doc["entries"][0]["voicejournal"]["practice"] == "reframe"
