"""The journal store: entries in one TinyDB JSON file, written atomically under a lock.

`JournalStore` keeps the file safe:
- every write goes to a temporary file in the same folder, is flushed and fsynced, then
  `os.replace`d over the journal, so a crash never leaves half a journal behind;
- every change is read-modify-write under an inter-process file lock, so two processes
  writing at once lose nothing;
- the file is 0600 and a folder we create is 0700;
- a file we can't parse is reported and never overwritten.

`MemoryStore` is the same store over TinyDB's in-memory storage, for tests.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson  # 2x faster to read and 10x faster to write than json: a decade of entries is ~10 MB
from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage
from tinydb.table import Table

from voicejournal.errors import (
    EntryNotFound,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    UserInputError,
)
from voicejournal.models import SCHEMA_VERSION, Entry, new_id, now_iso, parse_time

log = logging.getLogger(__name__)

ENTRIES = "entries"
META = "meta"
#: The person's decisions about the names of people in the journal (voicejournal.names):
#: {key, name, source, removed, at}, one per name. In the journal file so it is encrypted,
#: backed up and exported with the entries.
NAMES = "names"
LOCK_TIMEOUT_S = 15.0

# Migrations from one schema version to the next: MIGRATIONS[n] turns a whole
# version-n journal (TinyDB's dict of tables) into version n+1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _migrate_0_to_1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (early builds) called the transcript `text` and had no status."""
    for doc in data.get(ENTRIES, {}).values():
        if "text" in doc and "transcript" not in doc:
            doc["transcript"] = doc.pop("text")
        doc.setdefault("status", "complete")
        doc["schema_version"] = 1
    return data


def _migrate_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds the `names` table (names added, corrected or removed by the person)."""
    data.setdefault(NAMES, {})
    for doc in data.get(ENTRIES, {}).values():
        doc["schema_version"] = 2
    return data


MIGRATIONS[0] = _migrate_0_to_1
MIGRATIONS[1] = _migrate_1_to_2


# --- the file itself ---------------------------------------------------------------------


def atomic_write_bytes(path: Path, payload: bytes, mode: int = 0o600) -> None:
    """Write `payload` to `path` so that readers see the old file or the new one, never a mix."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with _suppress_os_error():
            os.unlink(tmp)
        raise
    # fsync the folder so the rename itself survives a power cut.
    with _suppress_os_error():
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextmanager
def _suppress_os_error() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


def ensure_private_folder(folder: Path) -> None:
    """Create `folder` (0700) if missing. An existing folder that isn't ours is left as it is."""
    if folder.is_dir():
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    except OSError as exc:
        raise JournalError(f"Can't create the journal folder {folder}: {exc.strerror}.") from None


class AtomicJSONStorage(Storage):
    """TinyDB storage: a JSON file replaced atomically on every write.

    Subclasses can change how the bytes are kept on disk (for example encrypted) by
    overriding `encode` and `decode`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # The parsed file for read-only use (see `snapshot`): a command reads a 10 MB
        # journal once, not once per lookup.
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    def encode(self, text: str) -> bytes:
        return text.encode("utf-8")

    def decode(self, payload: bytes) -> str:
        return payload.decode("utf-8")

    def read(self) -> dict[str, Any] | None:
        """The journal as TinyDB wants it: always fresh from disk (writes rely on this)."""
        return self._read_file()

    def snapshot(self) -> dict[str, Any] | None:
        """The journal for reading only (callers must not change it), parsed once per version.

        Keyed on inode, size and mtime: another process's write replaces the file (a new
        inode), so its changes are always seen.
        """
        try:
            st = os.stat(self.path)
        except OSError:
            return self._read_file()
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._cache is None or self._cache[0] != key:
            data = self._read_file()
            if data is None:
                return None
            self._cache = (key, data)
        return self._cache[1]

    def _read_file(self) -> dict[str, Any] | None:
        try:
            payload = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise JournalError(f"{self.path} is a folder, not a journal file. Pass the path of a .json file.") from None
        except OSError as exc:
            raise JournalError(f"Can't read the journal {self.path}: {exc.strerror}.") from None
        if not payload.strip():
            return None
        if payload.startswith(b"VJENC\x00") and type(self) is AtomicJSONStorage:
            # Encrypted (voicejournal.crypto) by another process after this one opened it.
            raise JournalError(
                f"The journal {self.path} was encrypted by another voicejournal while this one was running. "
                "Nothing was changed; run the command again."
            )
        try:
            data = orjson.loads(self.decode(payload))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
            raise JournalCorrupt(
                f"The journal {self.path} is damaged and can't be read{where}. It has not been changed: "
                "restore it from a backup, or move it aside to start a new journal."
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise JournalCorrupt(
                f"The journal {self.path} is not a voicejournal file. It has not been changed: "
                "check the path, or move the file aside to start a new journal."
            )
        return data

    def write(self, data: dict[str, Any]) -> None:
        self._cache = None
        text = orjson.dumps(data).decode("utf-8")
        try:
            atomic_write_bytes(self.path, self.encode(text))
        except OSError as exc:
            raise JournalError(
                f"Can't save the journal {self.path}: {exc.strerror}. Nothing was changed; "
                "free some space or check the folder's permissions, then try again."
            ) from None


# --- filters -------------------------------------------------------------------------------


@dataclass
class EntryFilter:
    """Which entries a listing wants. Dates are inclusive local calendar days."""

    since: date | None = None
    until: date | None = None
    tags: tuple[str, ...] = ()
    starred: bool | None = None
    practice: str | None = None
    status: str | None = None
    words: tuple[str, ...] = ()
    limit: int | None = None

    def matches(self, entry: Entry) -> bool:
        return self.matches_doc(entry.to_dict())

    def matches_doc(self, doc: dict[str, Any]) -> bool:
        """Whether a stored entry (raw dict) passes; works on dicts so listings stay fast."""
        if self.since or self.until:
            day = _doc_created(doc).astimezone().date()
            if self.since and day < self.since:
                return False
            if self.until and day > self.until:
                return False
        tags = doc.get("tags") or []
        if self.tags and not all(tag in tags for tag in self.tags):
            return False
        if self.starred is not None and bool(doc.get("starred")) != self.starred:
            return False
        if self.practice and doc.get("practice") != self.practice:
            return False
        if self.status and doc.get("status", "complete") != self.status:
            return False
        if self.words:
            reflection = doc.get("reflection") or {}
            haystack = f"{doc.get('transcript') or ''} {reflection.get('text') or ''}".lower()
            if not all(word.lower() in haystack for word in self.words):
                return False
        return True


def _doc_created(doc: dict[str, Any]) -> datetime:
    try:
        return parse_time(str(doc.get("created_at")))
    except ValueError:
        return datetime.fromtimestamp(0, tz=UTC)


def _doc_order(doc: dict[str, Any]) -> tuple[datetime, str]:
    return _doc_created(doc), str(doc.get("id", ""))


# --- the store -----------------------------------------------------------------------------


class EntryStore:
    """Entries in a TinyDB database. Use `JournalStore` (a file) or `MemoryStore` (tests)."""

    #: Folder audio files are kept under (None: the store keeps no audio).
    root: Path | None = None
    #: How recordings are named on disk (an encrypted store uses ".wav.enc").
    audio_suffix: str = ".wav"

    def __init__(self, db: TinyDB) -> None:
        self._db = db
        self._checked = False
        self._memory_audio: dict[str, bytes] = {}

    # Locking is a no-op in memory; JournalStore takes a file lock.
    def _locked(self) -> Any:
        return nullcontext()

    def _table(self) -> Table:
        # A fresh Table for every operation: TinyDB caches the next document id and
        # query results per Table, which would be stale after another process writes.
        self._check_schema()
        return Table(self._db.storage, ENTRIES, cache_size=0)

    def _check_schema(self) -> None:
        if self._checked:
            return
        storage = self._db.storage
        data = (storage.snapshot() if isinstance(storage, AtomicJSONStorage) else storage.read()) or {}
        version = _schema_version(data)
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"This journal was written by a newer voicejournal (format {version}; this one reads up to "
                f"{SCHEMA_VERSION}). Nothing was changed: upgrade voicejournal to open it."
            )
        if data.get(ENTRIES) and version < SCHEMA_VERSION:
            with self._locked():
                self._migrate()
        self._checked = True

    def _migrate(self) -> None:
        data = self._db.storage.read() or {}
        version = _schema_version(data)
        if version >= SCHEMA_VERSION:
            return
        self._backup_before_migration(version)
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is None:
                raise JournalError(f"No way to upgrade a format-{version} journal. Nothing was changed.")
            data = step(data)
            version += 1
        data[META] = {"1": {"schema_version": SCHEMA_VERSION}}
        self._db.storage.write(data)
        log.info("journal upgraded to format %s", SCHEMA_VERSION)

    def _backup_before_migration(self, version: int) -> None:
        """Overridden by JournalStore to keep a copy of the old file."""

    # -- reading --
    def _docs(self) -> list[dict[str, Any]]:
        """The stored entries as raw dicts, for reading only (not copied: don't change them)."""
        self._check_schema()
        storage = self._db.storage
        data = storage.snapshot() if isinstance(storage, AtomicJSONStorage) else storage.read()
        return list(((data or {}).get(ENTRIES) or {}).values())

    def entry_docs(self) -> list[dict[str, Any]]:
        """The stored entries as raw dicts, for reading only (what `voicejournal.names` learns from)."""
        return self._docs()

    def name_records(self) -> list[dict[str, Any]]:
        """The person's decisions about names (the `names` table), for reading only."""
        self._check_schema()
        storage = self._db.storage
        data = storage.snapshot() if isinstance(storage, AtomicJSONStorage) else storage.read()
        return list(((data or {}).get(NAMES) or {}).values())

    def save_name_record(self, record: dict[str, Any]) -> None:
        """Add or replace (by its `key`) one decision about a name, under the lock."""
        with self._locked():
            self._check_schema()
            table = Table(self._db.storage, NAMES, cache_size=0)
            doc_ids = [d.doc_id for d in table.all() if d.get("key") == record["key"]]
            if doc_ids:
                table.update(_replace_all(dict(record)), doc_ids=doc_ids)
            else:
                table.insert(dict(record))
            self._stamp_schema()

    def all(self) -> list[Entry]:
        """Every entry, oldest first."""
        return [Entry.from_dict(doc) for doc in sorted(self._docs(), key=_doc_order)]

    def query(self, flt: EntryFilter | None = None) -> list[Entry]:
        """Entries matching `flt`, newest first (limited to `flt.limit`)."""
        flt = flt or EntryFilter()
        # Filter and sort the raw dicts; build Entry objects only for what is returned.
        found = sorted((d for d in self._docs() if flt.matches_doc(d)), key=_doc_order, reverse=True)
        if flt.limit is not None:
            found = found[: flt.limit]
        return [Entry.from_dict(doc) for doc in found]

    def count(self) -> int:
        return len(self._docs())

    def get(self, entry_id: str) -> Entry:
        """The entry whose id is `entry_id` or starts with it (if only one does)."""
        wanted = entry_id.strip().lower()
        if not wanted:
            raise UserInputError("Give an entry id (see `voicejournal list`).")
        docs = self._docs()
        exact = [d for d in docs if d.get("id") == wanted]
        if exact:
            return Entry.from_dict(exact[0])
        matches = [d for d in docs if str(d.get("id", "")).startswith(wanted)]
        if len(matches) == 1:
            return Entry.from_dict(matches[0])
        if not matches:
            raise EntryNotFound(f"No entry has the id '{entry_id}'. `voicejournal list` shows the ids.")
        shown = ", ".join(sorted(str(d["id"]) for d in matches)[:5])
        raise UserInputError(f"'{entry_id}' matches {len(matches)} entries ({shown}...). Type more of the id.")

    def pending(self) -> list[Entry]:
        return [e for e in self.all() if e.is_pending]

    # -- writing --
    def add(self, entry: Entry) -> Entry:
        """Save a new entry. Its id is replaced if another entry already has it."""
        with self._locked():
            table = self._table()
            taken = {d.get("id") for d in table.all()}
            while entry.id in taken:
                entry.id = new_id()
            table.insert(entry.to_dict())
            self._stamp_schema()
        return entry

    def update(self, entry: Entry) -> Entry:
        """Replace the stored entry that has `entry.id`."""
        with self._locked():
            table = self._table()
            doc_ids = [d.doc_id for d in table.all() if d.get("id") == entry.id]
            if not doc_ids:
                raise EntryNotFound(f"The entry {entry.id} no longer exists (deleted elsewhere?).")
            entry.updated_at = now_iso()
            table.update(_replace_all(entry.to_dict()), doc_ids=doc_ids)
        return entry

    def modify(self, entry_id: str, change: Callable[[Entry], None]) -> Entry:
        """Read, change and write one entry under the lock, so a concurrent edit isn't lost."""
        with self._locked():
            entry = self.get(entry_id)
            change(entry)
            return self.update(entry)

    def delete(self, entry_id: str) -> Entry:
        with self._locked():
            entry = self.get(entry_id)
            table = self._table()
            table.remove(doc_ids=[d.doc_id for d in table.all() if d.get("id") == entry.id])
        self.remove_audio(entry)
        return entry

    def _stamp_schema(self) -> None:
        meta = Table(self._db.storage, META, cache_size=0)
        if not meta.all():
            meta.insert({"schema_version": SCHEMA_VERSION})

    # -- audio --
    def audio_path(self, entry: Entry) -> Path | None:
        """Where the entry's recording is kept, if it has one."""
        if not entry.audio or self.root is None:
            return None
        return self.root / entry.audio

    def write_audio(self, entry_id: str, wav: bytes) -> str:
        """Keep a recording (WAV bytes) for `entry_id`; returns the path to store on the entry.

        All recordings go through here (and `read_audio`) so that the way they are kept on
        disk (plain or encrypted) is decided in one place.
        """
        if self.root is None:
            self._memory_audio[entry_id] = wav
            return f"audio/{entry_id}.wav"
        ensure_private_folder(self.root / "audio")
        relative = f"audio/{entry_id}{self.audio_suffix}"
        try:
            atomic_write_bytes(self.root / relative, self.encode_audio(wav))
        except OSError as exc:
            raise JournalError(f"Can't save the recording in {self.root / 'audio'}: {exc.strerror}.") from None
        return relative

    def read_audio(self, entry: Entry) -> bytes:
        """The WAV bytes of the entry's recording."""
        if not entry.audio:
            raise EntryNotFound(f"Entry {entry.id} has no recording.")
        if self.root is None:
            try:
                return self._memory_audio[entry.id]
            except KeyError:
                raise EntryNotFound(f"The recording of {entry.id} is missing.") from None
        path = self.root / entry.audio
        try:
            return self.decode_audio(path.read_bytes())
        except FileNotFoundError:
            raise EntryNotFound(f"The recording of {entry.id} is missing ({path}).") from None
        except OSError as exc:
            raise JournalError(f"Can't read the recording {path}: {exc.strerror}.") from None

    def remove_audio(self, entry: Entry) -> None:
        if self.root is None:
            self._memory_audio.pop(entry.id, None)
            return
        audio = self.audio_path(entry)
        if audio is not None:
            with _suppress_os_error():
                audio.unlink()

    # Hooks for keeping recordings encrypted; plain by default.
    def encode_audio(self, wav: bytes) -> bytes:
        return wav

    def decode_audio(self, payload: bytes) -> bytes:
        return payload

    def close(self) -> None:
        self._db.close()


def _replace_all(new: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def transform(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(new)

    return transform


def _schema_version(data: dict[str, Any]) -> int:
    meta = data.get(META) or {}
    for doc in meta.values():
        if isinstance(doc, dict) and "schema_version" in doc:
            try:
                return int(doc["schema_version"])
            except (TypeError, ValueError):
                raise JournalCorrupt("The journal's format version is not a number. It has not been changed.") from None
    entries = data.get(ENTRIES) or {}
    versions = {int(d.get("schema_version", 0)) for d in entries.values() if isinstance(d, dict)}
    return max(versions) if versions else SCHEMA_VERSION


class JournalStore(EntryStore):
    """The journal on disk, with its audio files in `audio/` beside it."""

    storage_class: type[AtomicJSONStorage] = AtomicJSONStorage

    def __init__(self, path: Path | str, storage: AtomicJSONStorage | None = None) -> None:
        self.path = Path(path).expanduser()
        self.root = self.path.parent
        ensure_private_folder(self.root)
        # If the journal was there when we opened it and its folder later vanishes (an
        # unplugged drive, a deleted folder), saving must fail, not start a new journal.
        self._existed = self.path.exists()
        from filelock import FileLock  # small; only needed when a file journal is opened

        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S, mode=0o600)
        store_storage = storage or self.storage_class(self.path)
        super().__init__(TinyDB(storage=lambda: store_storage))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import Timeout

        if self._existed and not self.path.parent.is_dir():
            raise JournalError(
                f"The journal's folder {self.path.parent} has disappeared (an unplugged drive or a moved folder?). "
                "Nothing was saved; reconnect it and try again."
            )
        try:
            self._lock.acquire()
        except Timeout:
            raise JournalLocked(
                f"Another voicejournal has been writing to {self.path} for over {LOCK_TIMEOUT_S:.0f} s. "
                f"Nothing was changed; try again in a moment (or remove {self.path}.lock if no other copy is running)."
            ) from None
        except OSError as exc:  # read-only file system, no permission, folder gone
            raise JournalError(
                f"Can't lock the journal {self.path} to save: {exc.strerror}. Nothing was changed; "
                "check that the folder is there and writable."
            ) from None
        if self._lock.lock_counter == 1:
            self._remove_stale_temp_files()
        try:
            yield
            self._existed = self.path.exists()
        finally:
            self._lock.release()

    def _remove_stale_temp_files(self) -> None:
        """Temp files of the journal are only written under the lock, so any found on taking
        it were left by a writer that was killed mid-write: they hold a copy of the journal
        (plain text, for a plain journal) and nothing else refers to them."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with _suppress_os_error():
                stale.unlink()

    def _backup_before_migration(self, version: int) -> None:
        backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
        if not backup.exists():
            shutil.copy2(self.path, backup)
            os.chmod(backup, 0o600)


class MemoryStore(EntryStore):
    """The same store, kept in memory (tests and `reflect` dry runs)."""

    def __init__(self) -> None:
        super().__init__(TinyDB(storage=MemoryStorage))


def open_store(path: Path | str | None = None, ask_passphrase: Callable[[str, bool], str | None] | None = None) -> EntryStore:
    """The one factory: ":memory:" gives a MemoryStore, anything else a JournalStore.

    An encrypted journal (see `voicejournal.crypto`) opens as an EncryptedJournalStore; its
    passphrase comes from $VOICEJOURNAL_PASSPHRASE, the system keyring, or `ask_passphrase`
    (the CLI's prompt).
    """
    from voicejournal.config import default_journal_path

    if str(path) == ":memory:":
        return MemoryStore()
    journal = Path(path).expanduser() if path else default_journal_path()
    if journal.is_dir():
        journal = journal / "journal.json"
    from voicejournal import crypto  # light: cryptography itself is only imported for encrypted journals

    if crypto.is_encrypted_file(journal):
        return crypto.open_encrypted_store(journal, ask_passphrase)
    return JournalStore(journal)
