"""Where the product's words live: plain text files in `prompts/` that anyone can edit.

From a checkout they are read from the top-level `prompts/` folder; an installed wheel
carries a copy inside the package (`voicejournal/_data/prompts`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from voicejournal.errors import VoiceJournalError

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name


def prompts_dir() -> Path:
    """The folder of prompt files; `VOICEJOURNAL_PROMPTS` points elsewhere to try new wording."""
    override = os.environ.get("VOICEJOURNAL_PROMPTS")
    return Path(override) if override else _data_dir("prompts")


def samples_dir() -> Path:
    """The bundled sample recordings (`audio_samples/`)."""
    return _data_dir("audio_samples")


@lru_cache(maxsize=256)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def read_prompt(relative: str) -> str:
    """The text of `prompts/<relative>`, e.g. read_prompt("practices/checkin/opening.txt")."""
    path = prompts_dir() / relative
    try:
        return _read(path)
    except FileNotFoundError:
        raise VoiceJournalError(
            f"The wording file {path} is missing. Reinstall voicejournal or restore the file."
        ) from None


def read_lines(relative: str) -> list[str]:
    """Non-empty, non-comment lines of a prompt file (one variant per line)."""
    return [
        line.strip()
        for line in read_prompt(relative).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
