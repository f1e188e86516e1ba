"""Encryption at rest: the journal and its recordings, sealed with a passphrase.

File format (version 1), the same for the journal and for each recording:

    magic  b"VJENC\\0"   6 bytes   (a JSON journal or a WAV file never starts like this)
    version             1 byte    (1)
    kdf: log2(n), r, p  3 bytes   (scrypt parameters, so they can be raised later)
    salt                16 bytes  (one per journal, shared by its recordings)
    nonce               12 bytes  (fresh for every write)
    ciphertext + tag              (AES-256-GCM; the header above is authenticated too)

The key is derived from the passphrase with scrypt (memory-hard, slow on purpose) once per
process and kept in memory only. A wrong passphrase fails the GCM tag check, which is
reported as such; nothing is written.

`encrypt_journal` / `decrypt_journal` convert a journal in place in an order that survives
a crash at any point (recordings first under new names, then the journal in one atomic
rename, then the old recordings are removed), and running them again finishes the job.

`cryptography` and `keyring` are imported inside functions: a plain journal never needs
them, and `voicejournal --help`, `list` and `show` must start fast.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from voicejournal.errors import JournalError, UserInputError
from voicejournal.store import (
    ENTRIES,
    AtomicJSONStorage,
    JournalStore,
    atomic_write_bytes,
    ensure_private_folder,
)

log = logging.getLogger(__name__)

MAGIC = b"VJENC\x00"
FORMAT_VERSION = 1
SALT_BYTES = 16
NONCE_BYTES = 12
HEADER_BYTES = len(MAGIC) + 1 + 3 + SALT_BYTES + NONCE_BYTES
ENCRYPTED_AUDIO_SUFFIX = ".wav.enc"
PASSPHRASE_ENV = "VOICEJOURNAL_PASSPHRASE"
KEYRING_SERVICE = "voicejournal"


class WrongPassphrase(JournalError):
    """The passphrase does not open this journal (the authentication tag did not match)."""


class PassphraseNeeded(UserInputError):
    """The journal is encrypted and no passphrase could be had without asking."""


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost: n = 2**log2_n. 2**17, r=8, p=1 takes about half a second and 128 MB."""

    log2_n: int = 17
    r: int = 8
    p: int = 1


#: The cost new journals get. Stored in every file's header, so changing it never
#: locks anyone out of an existing journal.
DEFAULT_KDF = KdfParams()


@lru_cache(maxsize=8)
def _derive(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    # Cached: scrypt is slow on purpose, and every read and write of the journal needs the key.
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt  # heavy; only for encrypted journals

    kdf = Scrypt(salt=salt, length=32, n=2**params.log2_n, r=params.r, p=params.p)
    return kdf.derive(passphrase.encode("utf-8"))


def is_encrypted(payload: bytes) -> bool:
    """True if `payload` (the start of a file is enough) is in our encrypted format."""
    return payload[: len(MAGIC)] == MAGIC


def is_encrypted_file(path: Path) -> bool:
    """True if the file at `path` exists and is encrypted. Reads only its first bytes."""
    try:
        with open(path, "rb") as handle:
            return is_encrypted(handle.read(len(MAGIC)))
    except OSError:
        return False


@dataclass(frozen=True)
class _Header:
    version: int
    params: KdfParams
    salt: bytes
    nonce: bytes
    raw: bytes


def _parse_header(payload: bytes, what: str) -> _Header:
    if not is_encrypted(payload) or len(payload) < HEADER_BYTES + 16:
        raise JournalError(f"{what} is not an encrypted voicejournal file, or it was cut short. It has not been changed.")
    at = len(MAGIC)
    version = payload[at]
    if version != FORMAT_VERSION:
        raise JournalError(
            f"{what} was encrypted by a newer voicejournal (format {version}; this one reads {FORMAT_VERSION}). "
            "Nothing was changed: upgrade voicejournal to open it."
        )
    log2_n, r, p = payload[at + 1], payload[at + 2], payload[at + 3]
    if not (10 <= log2_n <= 24 and 1 <= r <= 32 and 1 <= p <= 16):
        raise JournalError(f"{what} has key settings this voicejournal won't use. It has not been changed.")
    at += 4
    salt = payload[at : at + SALT_BYTES]
    nonce = payload[at + SALT_BYTES : at + SALT_BYTES + NONCE_BYTES]
    return _Header(version, KdfParams(log2_n, r, p), salt, nonce, payload[:HEADER_BYTES])


class Cipher:
    """Seals and opens files with a key derived from one passphrase.

    New files use this cipher's salt and KDF settings; files written with another salt
    (an older journal) still open, deriving their key once.
    """

    def __init__(self, passphrase: str, salt: bytes, params: KdfParams) -> None:
        if not passphrase:
            raise UserInputError("The passphrase is empty. Choose one you will remember.")
        self._passphrase = passphrase
        self.salt = salt
        self.params = params

    @classmethod
    def new(cls, passphrase: str, params: KdfParams | None = None) -> Cipher:
        """A cipher with a fresh random salt, for a journal being encrypted."""
        return cls(passphrase, secrets.token_bytes(SALT_BYTES), params or DEFAULT_KDF)

    @classmethod
    def for_payload(cls, passphrase: str, payload: bytes, what: str = "The journal") -> Cipher:
        """A cipher with the salt and settings of an existing encrypted file; checks the passphrase."""
        header = _parse_header(payload, what)
        cipher = cls(passphrase, header.salt, header.params)
        cipher.decrypt(payload, what)  # fails here, before anything is changed, if the passphrase is wrong
        return cipher

    def __repr__(self) -> str:  # never show the passphrase, even in a debugger or a log line
        return f"Cipher(salt={self.salt.hex()[:8]}…, n=2**{self.params.log2_n})"

    def encrypt(self, plaintext: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # heavy; see module docstring

        nonce = secrets.token_bytes(NONCE_BYTES)
        p = self.params
        header = MAGIC + bytes([FORMAT_VERSION, p.log2_n, p.r, p.p]) + self.salt + nonce
        key = _derive(self._passphrase, self.salt, self.params)
        return header + AESGCM(key).encrypt(nonce, plaintext, header)

    def decrypt(self, payload: bytes, what: str = "The journal") -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        header = _parse_header(payload, what)
        key = _derive(self._passphrase, header.salt, header.params)
        try:
            return AESGCM(key).decrypt(header.nonce, payload[HEADER_BYTES:], header.raw)
        except InvalidTag:
            raise WrongPassphrase(
                f"That passphrase does not open {what.lower() if what.startswith('The ') else what}. "
                "Nothing was changed. Check it (from $VOICEJOURNAL_PASSPHRASE, your keyring or what you typed) "
                "and try again."
            ) from None


# --- the encrypted store -------------------------------------------------------------------


class EncryptedJSONStorage(AtomicJSONStorage):
    """The journal file, sealed with `cipher`. Plaintext never reaches the disk: the
    temporary file of each atomic write already holds ciphertext."""

    def __init__(self, path: Path, cipher: Cipher) -> None:
        super().__init__(path)
        self.cipher = cipher

    def encode(self, text: str) -> bytes:
        return self.cipher.encrypt(text.encode("utf-8"))

    def decode(self, payload: bytes) -> str:
        if not is_encrypted(payload):
            raise JournalError(
                f"The journal {self.path} was decrypted by another voicejournal while this one was running. "
                "Nothing was changed; run the command again."
            )
        return self.cipher.decrypt(payload, f"the journal {self.path}").decode("utf-8")


class EncryptedJournalStore(JournalStore):
    """A JournalStore whose file and recordings are encrypted with one passphrase."""

    audio_suffix = ENCRYPTED_AUDIO_SUFFIX

    def __init__(self, path: Path | str, cipher: Cipher) -> None:
        self.cipher = cipher
        super().__init__(path, storage=EncryptedJSONStorage(Path(path).expanduser(), cipher))

    def encode_audio(self, wav: bytes) -> bytes:
        return self.cipher.encrypt(wav)

    def decode_audio(self, payload: bytes) -> bytes:
        # A plain recording can be left from before encryption if it was interrupted;
        # it still plays, and the next `encrypt` seals it.
        if is_encrypted(payload):
            return self.cipher.decrypt(payload, "the recording")
        return payload


# --- where the passphrase comes from -------------------------------------------------------

Ask = Callable[[str, bool], str | None]
"""Asks the person for a passphrase: ask(prompt, confirm) -> passphrase, or None if they can't."""


@dataclass(frozen=True)
class Passphrase:
    value: str
    source: str  # "environment", "keyring" or "prompt"

    def __repr__(self) -> str:
        return f"Passphrase(source={self.source!r})"


def _keyring_name(journal: Path) -> str:
    return str(journal.expanduser().resolve())


def keyring_get(journal: Path) -> str | None:
    """The passphrase saved in the system keyring for this journal, or None.

    Keyring backends fail in many ways (no backend, a locked or broken D-Bus secret
    service, a backend that raises on import); any failure means "not available", never a crash.
    """
    try:
        import keyring  # optional at run time; may probe D-Bus, so only when needed

        return keyring.get_password(KEYRING_SERVICE, _keyring_name(journal)) or None
    except Exception as exc:  # noqa: BLE001 - see docstring: any keyring failure falls back
        log.debug("keyring not available (%s); falling back", type(exc).__name__)
        return None


def keyring_set(journal: Path, passphrase: str) -> bool:
    """Save the passphrase in the system keyring. False (and nothing raised) when that fails."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, _keyring_name(journal), passphrase)
        return True
    except Exception as exc:  # noqa: BLE001 - a broken keyring must not stop encryption
        log.debug("could not save to keyring (%s)", type(exc).__name__)
        return False


def keyring_delete(journal: Path) -> None:
    try:
        import keyring

        keyring.delete_password(KEYRING_SERVICE, _keyring_name(journal))
    except Exception as exc:  # noqa: BLE001
        log.debug("nothing removed from keyring (%s)", type(exc).__name__)


def get_passphrase(journal: Path, ask: Ask | None = None, *, new: bool = False) -> Passphrase:
    """The passphrase from $VOICEJOURNAL_PASSPHRASE, else the keyring, else `ask`.

    `new=True` (choosing a passphrase for `encrypt`) skips the keyring and asks twice.
    Raises PassphraseNeeded when none can be had.
    """
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return Passphrase(env, "environment")
    if not new:
        saved = keyring_get(journal)
        if saved:
            return Passphrase(saved, "keyring")
    if ask is not None:
        prompt = "Choose a passphrase for the journal" if new else f"Passphrase for {journal.name}"
        typed = ask(prompt, new)
        if typed:
            return Passphrase(typed, "prompt")
    raise PassphraseNeeded(
        f"The journal {journal} is encrypted and needs its passphrase. Set {PASSPHRASE_ENV}, save it in your "
        "system keyring (`voicejournal encrypt --keyring`), or run the command in a terminal to type it."
        if not new
        else f"Choose a passphrase: set {PASSPHRASE_ENV} or run `voicejournal encrypt` in a terminal to type it."
    )


def open_encrypted_store(journal: Path, ask: Ask | None = None) -> EncryptedJournalStore:
    """Open an encrypted journal, checking the passphrase before anything else happens."""
    phrase = get_passphrase(journal, ask)
    try:
        payload = journal.read_bytes()
    except OSError as exc:
        raise JournalError(f"Can't read the journal {journal}: {exc.strerror}.") from None
    try:
        cipher = Cipher.for_payload(phrase.value, payload, f"the journal {journal}")
    except WrongPassphrase:
        if phrase.source != "keyring" or ask is None:
            raise
        # A stale keyring entry (the passphrase was changed elsewhere): ask instead of failing.
        typed = ask(f"The saved passphrase didn't work. Passphrase for {journal.name}", False)
        if not typed:
            raise
        cipher = Cipher.for_payload(typed, payload, f"the journal {journal}")
    return EncryptedJournalStore(journal, cipher)


# --- turning a journal into an encrypted one, and back ------------------------------------


@dataclass
class ConversionReport:
    """What `encrypt_journal` / `decrypt_journal` did."""

    entries: int = 0
    recordings: int = 0
    backups: int = 0
    already: bool = False


def _read_plain(store: JournalStore) -> dict[str, Any]:
    return store._db.storage.read() or {}


def _audio_folder(journal: Path) -> Path:
    return journal.parent / "audio"


def encrypt_journal(journal: Path, passphrase: str, params: KdfParams | None = None) -> ConversionReport:
    """Encrypt the journal at `journal` and its recordings, in place, crash-safely.

    Order: each `audio/X.wav` is sealed to `audio/X.wav.enc` (atomic writes); then the
    journal, pointing at the sealed recordings, replaces the plain one in one rename; then
    the plain recordings are removed. A kill at any point leaves a journal that opens with
    every entry and recording; running again finishes. An already encrypted journal only
    has its passphrase checked and any plain leftovers sealed.
    """
    journal = Path(journal).expanduser()
    ensure_private_folder(journal.parent)
    report = ConversionReport()
    plain_store = JournalStore(journal)
    with plain_store._locked():
        payload = journal.read_bytes() if journal.exists() else b""
        if is_encrypted(payload):
            cipher = Cipher.for_payload(passphrase, payload, f"the journal {journal}")
            report.already = True
            data = json.loads(cipher.decrypt(payload))
        else:
            plain_store._check_schema()  # refuse a future format or a damaged file before changing anything
            data = _read_plain(plain_store)
            cipher = Cipher.new(passphrase, params)

        audio_dir = _audio_folder(journal)
        sealed: set[str] = set()
        for wav in sorted(audio_dir.glob("*.wav")) if audio_dir.is_dir() else []:
            target = wav.with_name(wav.name + ".enc")
            raw = wav.read_bytes()
            if is_encrypted(raw):  # sealed under the old name by hand or by an old build
                raw = cipher.decrypt(raw, "a recording")
            _write(target, cipher.encrypt(raw))
            sealed.add(wav.name)
            report.recordings += 1

        for doc in data.get(ENTRIES, {}).values():
            audio = doc.get("audio")
            if isinstance(audio, str) and audio.endswith(".wav") and Path(audio).name in sealed:
                doc["audio"] = audio + ".enc"
        report.entries = len(data.get(ENTRIES, {}))
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        _write(journal, cipher.encrypt(text.encode("utf-8")))

        for name in sealed:
            _unlink(audio_dir / name)
        # Copies kept before a format upgrade hold the same entries in plain text.
        for backup in sorted(journal.parent.glob(journal.name + ".v*.bak")):
            raw = backup.read_bytes()
            if not is_encrypted(raw):
                _write(backup, cipher.encrypt(raw))
                report.backups += 1
    return report


def decrypt_journal(journal: Path, passphrase: str) -> ConversionReport:
    """Turn an encrypted journal back into plain files, crash-safely (the mirror of `encrypt_journal`)."""
    journal = Path(journal).expanduser()
    report = ConversionReport()
    if not journal.exists():
        raise JournalError(f"There is no journal at {journal}. Nothing was changed.")
    plain_store = JournalStore(journal)
    with plain_store._locked():
        payload = journal.read_bytes()
        audio_dir = _audio_folder(journal)
        if not is_encrypted(payload):
            report.already = True
            plain_store._check_schema()
            data = _read_plain(plain_store)
            cipher = None
            leftovers = sorted(audio_dir.glob("*" + ENCRYPTED_AUDIO_SUFFIX)) if audio_dir.is_dir() else []
            if leftovers:  # a decrypt was interrupted after the journal was written: finish it
                cipher = Cipher(passphrase, b"", DEFAULT_KDF)
        else:
            cipher = Cipher.for_payload(passphrase, payload, f"the journal {journal}")
            data = json.loads(cipher.decrypt(payload))

        opened: set[str] = set()
        if cipher is not None and audio_dir.is_dir():
            for enc in sorted(audio_dir.glob("*" + ENCRYPTED_AUDIO_SUFFIX)):
                target = enc.with_name(enc.name[: -len(".enc")])
                _write(target, cipher.decrypt(enc.read_bytes(), "a recording"))
                opened.add(target.name)
                report.recordings += 1

        for doc in data.get(ENTRIES, {}).values():
            audio = doc.get("audio")
            if isinstance(audio, str) and audio.endswith(ENCRYPTED_AUDIO_SUFFIX) and Path(audio).name[:-4] in opened:
                doc["audio"] = audio[:-4]
        report.entries = len(data.get(ENTRIES, {}))
        if not report.already:
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            _write(journal, text.encode("utf-8"))
        elif opened:
            plain_store._db.storage.write(data)

        for name in opened:
            _unlink(audio_dir / (name + ".enc"))
        if cipher is not None and not report.already:
            for backup in sorted(journal.parent.glob(journal.name + ".v*.bak")):
                raw = backup.read_bytes()
                if is_encrypted(raw):
                    _write(backup, cipher.decrypt(raw, "a backup"))
                    report.backups += 1
    return report


def _write(path: Path, payload: bytes) -> None:
    try:
        atomic_write_bytes(path, payload)
    except OSError as exc:
        raise JournalError(
            f"Can't write {path}: {exc.strerror}. The journal still opens as before; "
            "free some space or check permissions, then run the command again to finish."
        ) from None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc.strerror)
