"""Keeping the journal private and portable: encrypt, decrypt, import."""

from __future__ import annotations

from pathlib import Path

import click

from voicejournal.cli.common import ask_passphrase, command, journal_path, note, open_store


def _journal_file() -> Path:
    """The journal file this invocation uses (the same rule as `store.open_store`)."""
    from voicejournal.config import default_journal_path

    given = journal_path()
    if given == ":memory:":
        from voicejournal.errors import UserInputError

        raise UserInputError("An in-memory journal can't be encrypted or decrypted.")
    journal = Path(given).expanduser() if given else default_journal_path()
    return journal / "journal.json" if journal.is_dir() else journal


def register(cli: click.Group) -> None:
    @command(cli, "encrypt")
    @click.option("--keyring", "use_keyring", is_flag=True,
                  help="Also save the passphrase in the system keyring, so it isn't asked for each time.")
    def encrypt(use_keyring):
        """Encrypt the journal and its recordings with a passphrase (AES-256-GCM, scrypt).

        The passphrase comes from $VOICEJOURNAL_PASSPHRASE or is asked for twice. After this,
        every command opens the journal with the passphrase from $VOICEJOURNAL_PASSPHRASE,
        the keyring, or a prompt. There is no way back in without it: keep it safe.
        """
        # Crypto is imported here, not at the top: plain journals never need it.
        from voicejournal import crypto

        journal = _journal_file()
        already = crypto.is_encrypted_file(journal)
        phrase = crypto.get_passphrase(journal, ask_passphrase, new=not already)
        report = crypto.encrypt_journal(journal, phrase.value)
        if report.already:
            click.echo(f"{journal} was already encrypted; the passphrase works"
                       + (f" and {report.recordings} leftover recordings are now sealed." if report.recordings else "."))
        else:
            click.echo(f"Encrypted {journal}: {report.entries} entries and {report.recordings} recordings.")
        if use_keyring:
            if crypto.keyring_set(journal, phrase.value):
                note("The passphrase is saved in your system keyring.")
            else:
                note("No system keyring is available, so the passphrase was not saved; you'll be asked for it.")
        note("Exports (`voicejournal export`) are written as plain text: keep them somewhere private.")

    @command(cli, "decrypt")
    def decrypt():
        """Turn an encrypted journal and its recordings back into plain files."""
        from voicejournal import crypto

        journal = _journal_file()
        phrase = crypto.get_passphrase(journal, ask_passphrase)
        report = crypto.decrypt_journal(journal, phrase.value)
        if report.already and not report.recordings:
            click.echo(f"{journal} is not encrypted; nothing to do.")
            return
        click.echo(f"Decrypted {journal}: {report.entries} entries and {report.recordings} recordings are plain files again.")
        crypto.keyring_delete(journal)

    @command(cli, "import")
    @click.argument("source", type=click.Path(exists=True, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Show what would be imported, and save nothing.")
    def import_entries(source, dry_run):
        """Bring entries in from jrnl (JSON export), Day One (JSON export), or a folder of .md/.txt files.

        A folder holds one entry per file, dated by front matter (`date: 2024-03-01 21:15`) or
        by the file name (`2024-03-01.md`). Entries already in the journal are not added twice.
        """
        from voicejournal.interop import read_import

        result = read_import(source)
        for skipped in result.skipped:
            note(f"Skipped {skipped}.")
        store = open_store()
        existing = store.all()
        ids = {e.id for e in existing}
        seen = {(e.created_at, e.transcript.strip()) for e in existing}
        fresh = []
        for entry in result.entries:
            key = (entry.created_at, entry.transcript.strip())
            if entry.id in ids or key in seen:
                continue
            if entry.audio and not (store.audio_path(entry) or Path("/nonexistent")).exists():
                entry.audio = None  # recordings are not part of an export; don't point at nothing
            seen.add(key)
            ids.add(entry.id)
            fresh.append(entry)
        doubles = len(result.entries) - len(fresh)
        if dry_run:
            click.echo(f"Would import {len(fresh)} entries from {source} ({result.format})"
                       + (f"; {doubles} are already in the journal." if doubles else "."))
            return
        for entry in fresh:
            store.add(entry)
        click.echo(f"Imported {len(fresh)} entries from {source} ({result.format})"
                   + (f"; {doubles} were already in the journal." if doubles else "."))
