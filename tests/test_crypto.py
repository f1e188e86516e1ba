"""Encryption at rest: the real AES-GCM + scrypt format, the encrypt/decrypt commands, passphrase sources."""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest

from voicejournal import crypto
from voicejournal.crypto import MAGIC, Cipher, KdfParams
from voicejournal.models import Entry, Reflection
from voicejournal.store import JournalStore, open_store

SECRET = "my sister called back and I let myself believe her"
PASS = "correct horse battery staple"


def tone_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch):
    """scrypt at 2**14 instead of 2**17 keeps these tests quick; the header records the cost,
    and test_default_cost_round_trip runs the real default once."""
    monkeypatch.setattr(crypto, "DEFAULT_KDF", KdfParams(log2_n=14))


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A working keyring that keeps passwords in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.saved: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.saved.get((service, username))

    def set_password(self, service, username, password):
        self.saved[(service, username)] = password

    def delete_password(self, service, username):
        self.saved.pop((service, username), None)


class FailingKeyring(keyring.backend.KeyringBackend):
    """A keyring whose backend is broken (like a locked or crashing secret service)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service, username):
        raise keyring.errors.KeyringError("secret service crashed")

    def set_password(self, service, username, password):
        raise RuntimeError("secret service crashed")

    def delete_password(self, service, username):
        raise keyring.errors.PasswordDeleteError("secret service crashed")


@pytest.fixture
def use_keyring():
    before = keyring.get_keyring()

    def install(backend):
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(before)


@pytest.fixture(autouse=True)
def no_system_keyring(use_keyring):
    # The machine's keyring (if any) must not see or give test passphrases.
    from keyring.backends import null

    use_keyring(null.Keyring())


def make_journal(path: Path) -> list[Entry]:
    store = JournalStore(path)
    first = Entry(transcript=SECRET, source="mic", tags=["family"],
                  reflection=Reflection(text="You let a kind moment land.", backend="offline"))
    first.audio = store.write_audio(first.id, tone_wav())
    store.add(first)
    second = store.add(Entry(transcript="A quiet day; I walked by the river."))
    return [first, second]


def folder_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the format ------------------------------------------------------------------------------


def test_cipher_round_trip_and_header():
    cipher = Cipher.new(PASS)
    sealed = cipher.encrypt(SECRET.encode())
    assert sealed.startswith(MAGIC)
    assert sealed[len(MAGIC)] == crypto.FORMAT_VERSION
    assert tuple(sealed[len(MAGIC) + 1: len(MAGIC) + 4]) == (14, 8, 1)
    assert SECRET.encode() not in sealed
    assert cipher.decrypt(sealed) == SECRET.encode()
    # A fresh nonce for every write: the same text never gives the same bytes.
    assert cipher.encrypt(SECRET.encode()) != sealed
    assert PASS not in repr(cipher)


def test_tampered_or_wrong_key_fails_cleanly():
    cipher = Cipher.new(PASS)
    sealed = bytearray(cipher.encrypt(b"hello"))
    with pytest.raises(crypto.WrongPassphrase):
        Cipher(PASS + "x", cipher.salt, cipher.params).decrypt(bytes(sealed))
    sealed[-1] ^= 1
    with pytest.raises(crypto.WrongPassphrase):
        cipher.decrypt(bytes(sealed))
    future = bytearray(cipher.encrypt(b"hello"))
    future[len(MAGIC)] = 9
    with pytest.raises(crypto.JournalError, match="newer voicejournal"):
        cipher.decrypt(bytes(future))


def test_default_cost_round_trip(monkeypatch):
    monkeypatch.setattr(crypto, "DEFAULT_KDF", KdfParams())
    cipher = Cipher.new(PASS)
    sealed = cipher.encrypt(b"x")
    assert sealed[len(MAGIC) + 1] == 17
    assert Cipher.for_payload(PASS, sealed).decrypt(sealed) == b"x"


# --- encrypt / decrypt commands --------------------------------------------------------------


def test_encrypt_seals_journal_and_audio_and_everything_still_works(run, journal_path, monkeypatch):
    entries = make_journal(journal_path)
    original_wav = tone_wav()
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", PASS)

    result = run("encrypt")
    assert result.exit_code == 0, result.output
    assert "2 entries and 1 recordings" in result.output
    assert "plain text" in result.output  # the export warning
    folder = journal_path.parent
    assert SECRET.encode() not in folder_bytes(folder)
    assert b"RIFF" not in folder_bytes(folder)
    assert not list((folder / "audio").glob("*.wav"))
    assert journal_path.read_bytes().startswith(MAGIC)

    store = open_store(journal_path)
    loaded = store.all()
    assert [e.transcript for e in loaded] == [e.transcript for e in entries]
    assert loaded[0].audio.endswith(".wav.enc")
    assert store.read_audio(loaded[0]) == original_wav

    # New entries and recordings are sealed too, and no plain temp file is left behind.
    assert run("write", "Tonight I asked for help " + SECRET).exit_code == 0
    new = Entry(transcript="spoken " + SECRET)
    new.audio = store.write_audio(new.id, original_wav)
    store.add(new)
    assert SECRET.encode() not in folder_bytes(folder)
    assert b"RIFF" not in folder_bytes(folder)
    assert not [p for p in folder.rglob("*.tmp")]

    shown = run("search", "sister")
    assert shown.exit_code == 0 and "3 entries found" in shown.output

    # Re-running is harmless.
    again = run("encrypt")
    assert again.exit_code == 0 and "already encrypted" in again.output


def test_decrypt_gives_back_identical_entries_and_audio(run, journal_path, monkeypatch):
    make_journal(journal_path)
    before = [e.to_dict() for e in JournalStore(journal_path).all()]
    wav_before = tone_wav()
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", PASS)
    assert run("encrypt").exit_code == 0
    result = run("decrypt")
    assert result.exit_code == 0, result.output
    assert not journal_path.read_bytes().startswith(MAGIC)
    store = open_store(journal_path)
    assert isinstance(store, JournalStore) and not isinstance(store, crypto.EncryptedJournalStore)
    after = [e.to_dict() for e in store.all()]
    assert after == before
    assert store.read_audio(store.all()[0]) == wav_before
    assert not list((journal_path.parent / "audio").glob("*.enc"))
    assert "not encrypted" in run("decrypt").output


def test_wrong_passphrase_says_so_and_changes_nothing(run, journal_path, monkeypatch):
    make_journal(journal_path)
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", PASS)
    assert run("encrypt").exit_code == 0
    before = snapshot(journal_path.parent)
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", "not it")
    for args in (["list"], ["write", "new entry"], ["decrypt"], ["encrypt"], ["tag", "1", "+x"]):
        result = run(*args)
        assert result.exit_code == 4, (args, result.output)
        assert "passphrase does not open" in result.output
        assert "Traceback" not in result.output
        assert snapshot(journal_path.parent) == before


def test_passphrase_from_prompt_when_keyring_backend_fails(run, journal_path, use_keyring):
    make_journal(journal_path)
    use_keyring(FailingKeyring())
    result = run("encrypt", "--keyring", input=PASS + "\n")
    assert result.exit_code == 0, result.output
    assert "No system keyring is available" in result.output
    listed = run("list", input=PASS + "\n")
    assert listed.exit_code == 0 and "A quiet day" in listed.output
    wrong = run("list", input="nope\n")
    assert wrong.exit_code == 4 and "passphrase does not open" in wrong.output


def test_passphrase_saved_in_a_working_keyring(run, journal_path, use_keyring):
    make_journal(journal_path)
    ring = use_keyring(MemoryKeyring())
    assert run("encrypt", "--keyring", input=PASS + "\n").exit_code == 0
    assert list(ring.saved.values()) == [PASS]
    listed = run("list")  # no prompt, no environment: the keyring answers
    assert listed.exit_code == 0 and "A quiet day" in listed.output
    assert run("decrypt").exit_code == 0
    assert ring.saved == {}


def test_no_passphrase_anywhere_is_a_clear_error(run, journal_path, monkeypatch):
    make_journal(journal_path)
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", PASS)
    assert run("encrypt").exit_code == 0
    monkeypatch.delenv("VOICEJOURNAL_PASSPHRASE")
    before = journal_path.read_bytes()
    result = run("list", input="")
    assert result.exit_code == 2
    assert "needs its passphrase" in result.output and "Traceback" not in result.output
    assert journal_path.read_bytes() == before


def test_interrupted_encrypt_still_opens_and_rerun_finishes(journal_path, monkeypatch):
    """The states a kill can leave (the kill suite hits them at random; here each one exactly)."""
    entries = make_journal(journal_path)
    audio_dir = journal_path.parent / "audio"
    cipher = Cipher.new(PASS)
    # Killed after sealing the recordings, before the journal: plain journal, both files.
    wav = next(audio_dir.glob("*.wav"))
    (audio_dir / (wav.name + ".enc")).write_bytes(cipher.encrypt(wav.read_bytes()))
    store = open_store(journal_path)
    assert store.read_audio(store.get(entries[0].id)) == tone_wav()
    crypto.encrypt_journal(journal_path, PASS)
    # Killed after the journal, before removing the plain recording: put one back.
    wav.write_bytes(tone_wav())
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", PASS)
    store = open_store(journal_path)
    assert store.read_audio(store.get(entries[0].id)) == tone_wav()
    report = crypto.encrypt_journal(journal_path, PASS)
    assert report.already and not wav.exists()
    # Killed mid-decrypt, after the plain journal: the sealed copies remain; rerun cleans up.
    crypto.decrypt_journal(journal_path, PASS)
    enc = audio_dir / (wav.name + ".enc")
    enc.write_bytes(cipher.encrypt(tone_wav()))
    report = crypto.decrypt_journal(journal_path, PASS)
    assert not enc.exists() and wav.read_bytes() == tone_wav()
    assert [e.id for e in open_store(journal_path).all()] == [e.id for e in entries]


def test_upgrade_backups_are_sealed_too(journal_path, monkeypatch):
    make_journal(journal_path)
    backup = journal_path.with_name("journal.json.v0.bak")
    backup.write_text(json.dumps({"entries": {"1": {"text": SECRET}}}))
    crypto.encrypt_journal(journal_path, PASS)
    assert backup.read_bytes().startswith(MAGIC)
    crypto.decrypt_journal(journal_path, PASS)
    assert SECRET in backup.read_text()


def test_plain_store_refuses_a_journal_encrypted_under_it(journal_path):
    make_journal(journal_path)
    stale = JournalStore(journal_path)  # opened before another process encrypts
    crypto.encrypt_journal(journal_path, PASS)
    before = journal_path.read_bytes()
    with pytest.raises(crypto.JournalError, match="encrypted by another"):
        stale.add(Entry(transcript="would overwrite the sealed journal"))
    assert journal_path.read_bytes() == before
