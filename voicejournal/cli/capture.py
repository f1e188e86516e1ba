"""Recording and transcription commands: `devices`, `transcribe`, `add`, `retry`.

Audio and Whisper are imported inside each command (through voicejournal.audio and
voicejournal.transcription), never at module level, so `voicejournal list` stays fast.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import click

from voicejournal.cli import common
from voicejournal.errors import AudioError, VoiceJournalError
from voicejournal.models import STATUS_PENDING, Entry

# The agreed practice names (prompts/practices/<name>/); checked here so a typo is caught
# before any audio is saved.
PRACTICES = (
    "checkin", "reframe", "secure-response", "connection", "corrective",
    "self-compassion", "insecurity", "getting-started",
)

NO_SPEECH = (
    "No speech was heard in {name}, so nothing was saved. If you did speak, the recording may be "
    "very quiet; try again a little closer to the microphone."
)


def consent_asker():
    """How to ask before a remote endpoint is used: a yes/no prompt, or None with no terminal."""
    if not sys.stdin.isatty():
        return None
    return lambda question: click.confirm(question, default=False, err=True)


def reflection_available() -> bool:
    return importlib.util.find_spec("voicejournal.reflection") is not None


def model_options(func):
    func = click.option("--language", help="Language code such as en or de, or auto (default: settings).")(func)
    func = click.option(
        "--model",
        help="Whisper model: tiny.en (bundled), base (voicejournal[base]), any faster-whisper name, or a folder.",
    )(func)
    return func


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""

    @common.command(cli, "devices")
    @common.json_option
    def devices(as_json: bool) -> None:
        """List microphones and speakers (use an index or name with --device)."""
        from voicejournal.audio import list_devices

        found = list_devices()
        if as_json:
            common.print_json([d.to_dict() for d in found])
            return
        if not found:
            from voicejournal.errors import DeviceError

            raise DeviceError(
                "No audio devices were found. Plug in a microphone (or start your sound server), "
                "or give recordings as files: `voicejournal add FILE` or `checkin --input FILE`."
            )
        for kind, attr, default in (("Microphones", "inputs", "is_default_input"),
                                    ("Speakers", "outputs", "is_default_output")):
            click.echo(f"{kind}:")
            rows = [d for d in found if getattr(d, attr)]
            if not rows:
                click.echo("  (none)")
            for d in rows:
                mark = "*" if getattr(d, default) else " "
                click.echo(f" {mark}{d.index:>3}  {d.name}  ({getattr(d, attr)} ch, {d.default_rate:g} Hz)")
        common.note("* = default. Choose with --device INDEX-or-NAME, or `device = \"...\"` in config.toml.")

    @common.command(cli, "transcribe")
    @click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
    @model_options
    @click.option("--beam-size", type=click.IntRange(1, 10),
                  help="Whisper's beam: 5 (the default setting) is the most accurate; 1 is about twice as fast.")
    @common.json_option
    def transcribe(file: Path, model: str | None, language: str | None, beam_size: int | None,
                   as_json: bool) -> None:
        """Print the transcript of an audio FILE. Nothing is saved.

        Only the transcript goes to stdout; notes go to stderr. Files of any length work:
        they are decoded and transcribed a piece at a time.
        """
        from voicejournal.audio import probe_duration
        from voicejournal.transcription import get_transcriber, transcribe_file

        probe_duration(file)  # a missing or non-audio file is reported before the model loads
        config = common.load_config(model=model, language=language, beam_size=beam_size)
        names = _journal_names_quietly()
        transcriber = get_transcriber(config, ask=consent_asker())
        common.note(f"Transcribing {file} with {transcriber.model_name}, beam {config.beam_size}…")
        result = transcribe_file(file, transcriber, names=names)
        if not result.text:
            raise AudioError(NO_SPEECH.format(name=file).replace(", so nothing was saved", ""))
        if as_json:
            common.print_json(result.to_dict())
        else:
            click.echo(result.text)

    @common.command(cli, "add")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=Path))
    @click.option("--practice", type=click.Choice(PRACTICES), help="The practice these entries belong to.")
    @model_options
    @click.option("--no-reflect", is_flag=True, help="Only transcribe; no reflection.")
    @common.json_option
    @click.pass_context
    def add(ctx: click.Context, files: tuple[Path, ...], practice: str | None, model: str | None,
            language: str | None, no_reflect: bool, as_json: bool) -> None:
        """Import recordings (wav, flac, mp3, ogg, m4a, webm) as journal entries.

        Each recording is saved, with a pending entry, before it is transcribed, so nothing
        is lost if transcription fails: `voicejournal retry` finishes it later.
        """
        config = common.load_config(model=model, language=language)
        store = common.open_store()
        reflect = not no_reflect
        if reflect and not reflection_available():
            common.note("Reflection isn't available in this installation; entries are saved without one.")
            reflect = False
        state: dict[str, object] = {}
        added: list[Entry] = []
        failures: list[VoiceJournalError] = []
        for file in files:
            try:
                added.append(_add_one(store, file, config, practice, reflect, state))
            except VoiceJournalError as exc:
                if len(files) == 1:
                    raise
                common.error(f"{file}: {exc}")
                failures.append(exc)
        if as_json:
            common.print_json([e.to_dict() for e in added])
        else:
            for entry in added:
                mark = " (pending: " + (entry.pending_reason or "") + ")" if entry.is_pending else ""
                click.echo(f"{entry.id}  {common.one_line(entry.transcript, 70)}{mark}")
        if failures:
            ctx.exit(max(f.exit_code for f in failures))

    @common.command(cli, "retry")
    @common.json_option
    @click.pass_context
    def retry(ctx: click.Context, as_json: bool) -> None:
        """Finish every pending entry: transcribe recordings and add reflections still owed."""
        from voicejournal.session import complete_entry

        store = common.open_store()
        config = common.load_config()
        pending = store.pending()
        if not pending:
            if as_json:
                common.print_json([])
            else:
                common.note("Nothing is pending: every entry is complete.")
            return
        reflect = reflection_available()
        if not reflect:
            common.note("Reflection isn't available in this installation; only transcripts are finished.")
        transcriber = None
        report = []
        for entry in pending:
            try:
                if not entry.transcript and entry.audio and transcriber is None:
                    from voicejournal.transcription import get_transcriber

                    transcriber = get_transcriber(config, ask=consent_asker())
                if not entry.transcript and not entry.audio:
                    raise AudioError("it has neither a transcript nor a recording; `voicejournal edit` can add text")
                entry = complete_entry(store, entry, config, transcriber=transcriber, reflect=reflect)
                status = entry.status
                reason = entry.pending_reason if entry.is_pending else None
            except VoiceJournalError as exc:
                status, reason = STATUS_PENDING, str(exc)
            report.append({"id": entry.id, "status": status, "reason": reason})
            if not as_json:
                line = f"{entry.id}  {'completed' if status != STATUS_PENDING else 'still pending'}"
                click.echo(line + (f": {reason}" if reason else ""))
        if as_json:
            common.print_json(report)
        if any(r["status"] == STATUS_PENDING for r in report):
            ctx.exit(1)


def _journal_names_quietly() -> list[str]:
    """The journal's names for `transcribe`, which saves nothing and works without a journal:
    an encrypted journal whose passphrase isn't at hand (environment or keyring) or a journal
    that can't be read just means no names, never a prompt or a failure."""
    from voicejournal import crypto
    from voicejournal.config import default_journal_path
    from voicejournal.names import whisper_names
    from voicejournal.store import JournalStore

    given = common.journal_path()
    path = Path(given).expanduser() if given else default_journal_path()
    if path.is_dir():
        path = path / "journal.json"
    if not path.is_file():
        return []
    try:
        store = crypto.open_encrypted_store(path, None) if crypto.is_encrypted_file(path) else JournalStore(path)
        return whisper_names(store)
    except VoiceJournalError as exc:
        common.note(f"Transcribing without the journal's names ({exc})")
        return []


def _add_one(store, file: Path, config, practice: str | None, reflect: bool, state: dict) -> Entry:
    """Save one recording as a pending entry, then transcribe (and reflect on) it."""
    from voicejournal.audio import MIN_SPEECH_S, SAMPLE_RATE, load_audio, speech_seconds, to_wav_bytes
    from voicejournal.session import complete_entry
    from voicejournal.transcription import get_transcriber

    samples = load_audio(file, max_seconds=config.max_seconds)
    if speech_seconds(samples) < MIN_SPEECH_S:
        raise AudioError(NO_SPEECH.format(name=file))
    entry = Entry(source="file", status=STATUS_PENDING, practice=practice or config.practice,
                  duration_s=round(samples.size / SAMPLE_RATE, 2), pending_reason="transcript owed")
    # The recording is on disk and the entry saved before transcription can fail.
    entry.audio = store.write_audio(entry.id, to_wav_bytes(samples))
    try:
        store.add(entry)
    except BaseException:
        store.remove_audio(entry)
        raise
    try:
        if "transcriber" not in state:  # loaded once for all files; a failure leaves this entry pending
            state["transcriber"] = get_transcriber(config, ask=consent_asker())
        entry = complete_entry(store, entry, config, transcriber=state["transcriber"], reflect=reflect)
    except VoiceJournalError as exc:
        entry = store.get(entry.id)
        if not entry.transcript:
            if entry.pending_reason == "transcript owed":
                reason = f"transcription failed: {exc}"
                store.modify(entry.id, lambda e: setattr(e, "pending_reason", reason))
            raise  # transcription failed: the entry and recording are kept for `retry`
        common.note(f"{file}: saved, but the reflection is still owed ({exc}). `voicejournal retry` adds it.")
        return entry
    if not entry.transcript:
        # Whisper found no words where the VAD heard voice (humming, noise): not an entry.
        store.delete(entry.id)
        raise AudioError(NO_SPEECH.format(name=file))
    return entry
