"""Editing text in the person's `$EDITOR` without leaving it on disk.

`click.edit` would write the text to the normal temporary folder, in plain text, even when the
journal is encrypted. Here the file goes into a private (0700) folder on a memory-backed file
system where there is one (`$XDG_RUNTIME_DIR`, else `/dev/shm`), and everything in that folder
(the file, and any swap or backup file the editor left beside it) is overwritten before it is
deleted. What an editor keeps elsewhere (a swap folder of its own, an undo history) is outside
our reach; the README says so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from voicejournal.errors import UserInputError


def private_base() -> Path:
    """Where the editing folder goes: a memory-backed folder when one exists."""
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())  # e.g. macOS and Windows: the user's own temp folder


def edit_text(text: str, editor: str | None = None) -> str | None:
    """Open `text` in the editor; the saved text, or None when the file was not saved."""
    import click

    folder = Path(tempfile.mkdtemp(prefix="voicejournal-edit-", dir=private_base()))  # 0700
    path = folder / "entry.txt"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        before = path.stat().st_mtime_ns
        try:
            click.edit(filename=str(path), editor=editor)
        except click.ClickException as exc:  # not found, or it exited with an error
            raise UserInputError(
                f"The editor didn't finish ({exc.format_message()}); nothing was changed. "
                "Set $EDITOR to the editor you use, or give the text directly."
            ) from None
        if not path.exists() or path.stat().st_mtime_ns == before:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    finally:
        _shred_folder(folder)


def _shred_folder(folder: Path) -> None:
    """Overwrite every file in `folder` with zeros, then remove the folder."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            _overwrite(Path(root) / name)
    shutil.rmtree(folder, ignore_errors=True)


def _overwrite(path: Path) -> None:
    try:
        size = path.stat().st_size
        with open(path, "r+b", buffering=0) as handle:
            handle.write(b"\0" * size)
            os.fsync(handle.fileno())
    except OSError:
        pass  # removed anyway; a file we can't open is one we can't overwrite
