"""The check-in: the only module that knows the order of the pipeline stages.

    capture (mic / file / text) -> transcribe -> reflect (+ safety, memory) -> speak -> store

`complete_entry` finishes whatever an entry still owes (its transcript, its reflection);
`add`, `retry`, `write` and the check-in loop all go through it, so an entry is saved
before any stage that could fail, and a failure leaves it pending rather than lost.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from voicejournal.errors import VoiceJournalError
from voicejournal.models import STATUS_COMPLETE, STATUS_PENDING, Entry

if TYPE_CHECKING:  # the stages are imported lazily: they pull in Whisper, numpy, openai
    from voicejournal.config import Config
    from voicejournal.reflection import Reflector
    from voicejournal.store import EntryStore
    from voicejournal.transcription import Transcriber

log = logging.getLogger(__name__)


def complete_entry(
    store: EntryStore,
    entry: Entry,
    config: Config,
    *,
    transcriber: Transcriber | None = None,
    reflector: Reflector | None = None,
    reflect: bool = True,
) -> Entry:
    """Transcribe and reflect on `entry` as far as it still needs, saving after each stage.

    Raises the stage's VoiceJournalError after saving the entry as pending with the reason.
    """
    if not entry.transcript and entry.audio:
        from voicejournal.audio import from_wav_bytes
        from voicejournal.transcription import get_transcriber

        try:
            samples = from_wav_bytes(store.read_audio(entry))
            result = (transcriber or get_transcriber(config)).transcribe(samples)
        except VoiceJournalError as exc:
            _mark_pending(store, entry, f"transcription failed: {exc}")
            raise
        entry.transcript = result.text
        entry.segments = result.segments
        entry.language = result.language
        entry.duration_s = result.duration_s
        entry.stt_model = result.model
        if not config.keep_audio:
            store.remove_audio(entry)
            entry.audio = None
        entry.pending_reason = None if entry.transcript else "no speech was heard"
        store.update(entry)

    if reflect and entry.transcript and entry.reflection is None and entry.safety is None:
        from voicejournal.reflection import get_reflector

        history = [e for e in store.all() if e.id != entry.id and e.created_at <= entry.created_at]
        try:
            result = (reflector or get_reflector(config)).reflect(
                entry.transcript, practice=entry.practice or config.practice, history=history
            )
        except VoiceJournalError as exc:
            _mark_pending(store, entry, f"reflection failed: {exc}")
            raise
        entry.reflection = result.reflection
        entry.themes = result.themes
        entry.safety = result.safety

    owed = not entry.transcript or (reflect and entry.reflection is None and entry.safety is None)
    entry.status = STATUS_PENDING if owed else STATUS_COMPLETE
    if not owed:
        entry.pending_reason = None
    store.update(entry)
    return entry


def _mark_pending(store: EntryStore, entry: Entry, reason: str) -> None:
    entry.status = STATUS_PENDING
    entry.pending_reason = reason
    store.update(entry)
    log.info("entry %s left pending: %s", entry.id, reason)
