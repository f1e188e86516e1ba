"""The store contract, run against both backends (in memory and a JSON file on disk)."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta

import pytest

from voicejournal import dates
from voicejournal.errors import EntryNotFound, JournalCorrupt, JournalError, UserInputError
from voicejournal.models import SCHEMA_VERSION, Entry, Reflection, Segment, Theme
from voicejournal.store import EntryFilter, JournalStore, MemoryStore, open_store


@pytest.fixture(params=["memory", "json"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryStore()
    return JournalStore(tmp_path / "j" / "journal.json")


def _entry(text: str, days_ago: int = 0, **kw) -> Entry:
    when = (dates.today() - timedelta(days=days_ago)).isoformat() + "T09:30:00+00:00"
    return Entry(transcript=text, created_at=when, **kw)


def test_add_get_roundtrip_keeps_every_field(store):
    entry = Entry(
        transcript="Ines came round with soup.",
        source="mic",
        segments=[Segment(0.0, 1.5, "Ines came round with soup.")],
        language="en",
        duration_s=1.5,
        stt_model="tiny.en",
        practice="connection",
        reflection=Reflection(text="You told Ines...", backend="offline"),
        themes=[Theme("connection", "connection", ["came round with soup"])],
        tags=["friends"],
        starred=True,
    )
    store.add(entry)
    got = store.get(entry.id)
    assert got == entry
    assert got.schema_version == SCHEMA_VERSION


def test_ids_are_unique_and_sort_by_time(store):
    ids = [store.add(Entry(transcript=f"entry {i}")).id for i in range(50)]
    assert len(set(ids)) == 50
    assert ids == sorted(ids)


def test_prefix_lookup_unique_and_ambiguous(store):
    a = store.add(Entry(transcript="a", id="abc111aaa000"))
    store.add(Entry(transcript="b", id="abc222bbb000"))
    assert store.get("abc1").id == a.id
    with pytest.raises(UserInputError, match="matches 2 entries"):
        store.get("abc")
    with pytest.raises(EntryNotFound):
        store.get("zzz")


def test_query_filters_and_order(store):
    store.add(_entry("old", days_ago=40, tags=["work"]))
    store.add(_entry("week", days_ago=5, tags=["family"], starred=True))
    store.add(_entry("today", days_ago=0, practice="reframe"))
    assert [e.transcript for e in store.query()] == ["today", "week", "old"]
    assert [e.transcript for e in store.query(EntryFilter(since=dates.today() - timedelta(days=7)))] == ["today", "week"]
    assert [e.transcript for e in store.query(EntryFilter(until=dates.today() - timedelta(days=30)))] == ["old"]
    assert [e.transcript for e in store.query(EntryFilter(tags=("family",)))] == ["week"]
    assert [e.transcript for e in store.query(EntryFilter(starred=True))] == ["week"]
    assert [e.transcript for e in store.query(EntryFilter(practice="reframe"))] == ["today"]
    assert [e.transcript for e in store.query(EntryFilter(limit=1))] == ["today"]


def test_update_modify_delete(store):
    entry = store.add(Entry(transcript="first"))
    store.modify(entry.id, lambda e: setattr(e, "transcript", "second"))
    assert store.get(entry.id).transcript == "second"
    assert store.get(entry.id).updated_at is not None
    store.delete(entry.id)
    assert store.count() == 0
    with pytest.raises(EntryNotFound):
        store.update(entry)


def test_audio_roundtrip_and_delete_removes_it(store):
    entry = Entry(transcript="", status="pending")
    entry.audio = store.write_audio(entry.id, b"RIFFfake")
    store.add(entry)
    assert store.read_audio(entry) == b"RIFFfake"
    assert [e.id for e in store.pending()] == [entry.id]
    store.delete(entry.id)
    with pytest.raises(EntryNotFound):
        store.read_audio(entry)


# --- the file itself ---------------------------------------------------------------------


def test_journal_file_and_folder_are_private(tmp_path):
    store = JournalStore(tmp_path / "new" / "journal.json")
    entry = Entry(transcript="private")
    entry.audio = store.write_audio(entry.id, b"RIFF")
    store.add(entry)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "journal.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "audio").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "audio" / f"{entry.id}.wav").st_mode) == 0o600


def test_existing_folder_permissions_are_left_alone(tmp_path):
    os.chmod(tmp_path, 0o755)
    JournalStore(tmp_path / "journal.json").add(Entry(transcript="x"))
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o755


def test_writes_leave_no_temp_files(tmp_path):
    store = JournalStore(tmp_path / "journal.json")
    for i in range(5):
        store.add(Entry(transcript=str(i)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.json", "journal.json.lock"]


@pytest.mark.parametrize("content", [b'{"entries": {"1": {"transcript": "x"', b"\x00\xff\xfe garbage", b"[1, 2, 3]"])
def test_corrupt_journal_is_reported_and_never_overwritten(tmp_path, content):
    path = tmp_path / "journal.json"
    path.write_bytes(content)
    store = JournalStore(path)
    with pytest.raises(JournalCorrupt, match=str(path)):
        store.all()
    with pytest.raises(JournalCorrupt):
        store.add(Entry(transcript="would overwrite"))
    assert path.read_bytes() == content


def test_journal_from_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "journal.json"
    data = {"entries": {"1": {"id": "x", "transcript": "t", "schema_version": 99}},
            "meta": {"1": {"schema_version": 99}}}
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    with pytest.raises(JournalError, match="newer voicejournal"):
        JournalStore(path).all()
    assert path.read_bytes() == before


def test_version_0_journal_is_migrated_with_a_backup(tmp_path):
    """Early builds stored `text` and no status; opening upgrades them in place."""
    path = tmp_path / "journal.json"
    old = {"entries": {"1": {"id": "old1", "text": "from an early build", "created_at": "2025-01-02T08:00:00+00:00",
                             "schema_version": 0}}}
    path.write_text(json.dumps(old))
    store = JournalStore(path)
    [entry] = store.all()
    assert entry.transcript == "from an early build"
    assert entry.status == "complete"
    assert json.loads(path.read_text())["meta"]["1"]["schema_version"] == SCHEMA_VERSION
    assert json.loads((tmp_path / "journal.json.v0.bak").read_text()) == old


def test_unknown_fields_from_future_minor_changes_are_ignored(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"entries": {"1": {"id": "a1", "transcript": "t", "mood": "ok", "schema_version": 1}}}))
    assert JournalStore(path).get("a1").transcript == "t"


def test_open_store_factory(tmp_path):
    assert isinstance(open_store(":memory:"), MemoryStore)
    folder_store = open_store(tmp_path)
    assert isinstance(folder_store, JournalStore) and folder_store.path == tmp_path / "journal.json"


def test_temp_file_left_by_a_killed_writer_is_removed_on_next_write(tmp_path):
    """Regression: a SIGKILL between mkstemp and os.replace left `.journal.json.*.tmp` behind for good."""
    store = JournalStore(tmp_path / "journal.json")
    store.add(Entry(transcript="first"))
    stale = tmp_path / ".journal.json.abc123.tmp"
    stale.write_text('{"entries": {"1": {"transcript": "a copy of private words"}}}')
    store.add(Entry(transcript="second"))
    assert not stale.exists()
    assert [e.transcript for e in store.all()] == ["first", "second"]
