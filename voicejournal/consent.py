"""Asking once before anything leaves the machine.

A remote model (reflection or transcription) on a non-local endpoint is used only after
the person has seen what will be sent and said yes. The answer is remembered per endpoint
in `consent.json` in the voicejournal folder. Loopback endpoints (a model server on this
computer) need no consent: nothing leaves the machine.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from voicejournal.config import data_home
from voicejournal.errors import VoiceJournalError
from voicejournal.models import now_iso
from voicejournal.store import atomic_write_bytes, ensure_private_folder


class ConsentRequired(VoiceJournalError):
    """A remote endpoint was configured but the person has not agreed to use it."""

    exit_code = 2


def is_local_endpoint(url: str | None) -> bool:
    """True for endpoints on this computer (localhost, 127.0.0.0/8, ::1)."""
    if not url:
        return False
    host = (urlparse(url if "://" in url else "http://" + url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _consent_file() -> Path:
    return data_home() / "consent.json"


def _load() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_consent_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, ValueError, OSError):
        return {}


def has_consent(endpoint: str, purpose: str) -> bool:
    return f"{purpose} {endpoint}" in _load()


def record_consent(endpoint: str, purpose: str) -> None:
    data = _load()
    data[f"{purpose} {endpoint}"] = {"granted_at": now_iso()}
    path = _consent_file()
    ensure_private_folder(path.parent)
    atomic_write_bytes(path, json.dumps(data, indent=2).encode("utf-8"))


def ensure_consent(
    endpoint: str,
    purpose: str,
    what_is_sent: str,
    ask: Callable[[str], bool] | None,
    sends_audio: bool = False,
) -> None:
    """Return if `endpoint` may be used for `purpose`; otherwise ask once, or raise.

    `ask` shows the question and returns the answer; None means nobody can be asked (no
    terminal), in which case a remote endpoint without earlier consent is refused.
    """
    if is_local_endpoint(endpoint) or has_consent(endpoint, purpose):
        return
    question = (
        f"voicejournal is set up to use {endpoint} for {purpose}. It will send: {what_is_sent}. "
        + ("Your voice recordings WILL be sent. " if sends_audio else "Your audio is never sent. ")
        + "Allow this from now on?"
    )
    # How to stay local instead differs: reflection has --offline, transcription a setting.
    stay_local = "set transcriber = \"local\"" if sends_audio else "use --offline"
    if ask is None:
        raise ConsentRequired(
            f"{purpose.capitalize()} is set to use {endpoint}, which is not on this computer, and you haven't "
            f"agreed to that yet. Run the command once in a terminal to answer, or {stay_local}."
        )
    if not ask(question):
        raise ConsentRequired(f"Not using {endpoint}. To stay on this computer, {stay_local}, or change the endpoint.")
    record_consent(endpoint, purpose)
