"""The check-in and the things around it: checkin, replay, play, voices, doctor, config."""

from __future__ import annotations

import sys
from dataclasses import asdict, fields
from pathlib import Path

import click

from voicejournal.cli.common import command, json_option, note, open_store, print_json
from voicejournal.cli.common import load_config as cli_config
from voicejournal.errors import EntryNotFound, UserInputError
from voicejournal.session import SessionView


class TerminalView(SessionView):
    """Prints the check-in: prompts, transcript, the reflection as it is spoken, a level meter."""

    def __init__(self, hands_free: bool = False) -> None:
        self.hands_free = hands_free
        self._meter_shown = False
        self._in_reflection = False
        self._tty = sys.stderr.isatty()
        self._listening_for: str | None = None

    def _clear_meter(self) -> None:
        if self._meter_shown:
            click.echo("\r" + " " * 60 + "\r", nl=False, err=True)
            self._meter_shown = False

    def show(self, kind: str, text: str) -> None:
        self._clear_meter()
        if kind == "reflection":
            if self._in_reflection:
                click.echo("")
                self._in_reflection = False
            else:
                click.secho(text, fg="green")
            return
        if kind in ("greeting", "prompt", "closing"):
            click.secho(text, fg="cyan")
        elif kind == "transcript":
            click.secho("You said: ", bold=True, nl=False)
            click.echo(text)
        elif kind == "answer":
            click.secho(f"(heard: {text})", dim=True)
        elif kind == "help":
            note(click.style(text, dim=True))
        else:
            note(text)
        sys.stdout.flush()

    def listening(self, what: str) -> None:
        self._listening_for = what  # shown once the microphone is really delivering sound

    def state(self, name: str) -> None:
        if name == "listening" and self.hands_free and self._listening_for:
            # Everything before it has been spoken and the microphone is open: scripts and tests
            # wait for this line before they speak.
            what, self._listening_for = self._listening_for, None
            hint = {"entry": "pause when you're done", "check": "say yes or no, or press y or n"}.get(
                what, "say more, that's all, repeat that or skip")
            note(click.style(f"[listening: {hint}]", dim=True))

    def reflection_sentence(self, sentence: str) -> None:
        self._clear_meter()
        if not self._in_reflection:
            self._in_reflection = True
        click.secho(sentence + " ", fg="green", nl=False)
        sys.stdout.flush()

    def level(self, rms: float, elapsed_s: float, paused: bool) -> None:
        if not self._tty:
            return
        bars = min(30, int(rms * 300))
        state = "paused " if paused else ""
        click.echo(f"\r  {'▮' * bars:<30} {elapsed_s:5.1f} s {state}", nl=False, err=True)
        self._meter_shown = True


def _read_typed(prompt: str) -> str | None:
    """One typed line; None at the end of input (Ctrl-D or a closed pipe)."""
    click.echo(click.style(prompt + ": ", bold=True), nl=False, err=True)
    line = sys.stdin.readline()
    if line == "":
        click.echo("", err=True)
        return None
    return line.rstrip("\n")


def _speech_options(func):
    options = [
        click.option("--speak-to", "speak_to", type=click.Path(dir_okay=False),
                     help="Write what is said to this WAV file instead of playing it."),
        click.option("--also-play", is_flag=True, help="With --speak-to: play it as well."),
        click.option("--no-speak", is_flag=True, help="Print only; say nothing out loud."),
        click.option("--sample-rate", "sample_rate", type=click.IntRange(8000, 48000),
                     help="With --speak-to: the WAV's sample rate in Hz (default: the voice's own, "
                          "22050 for the neural voice); other rates are resampled."),
        click.option("--voice", help="Voice to speak with: an id from `voicejournal voices` (neural or "
                                     "system), or `system` for the system's default voice."),
        click.option("--rate", type=click.IntRange(60, 450),
                     help="Speaking rate, words per minute (the neural voice keeps the same pace)."),
        click.option("--volume", type=click.FloatRange(0.0, 1.0), help="Speaking volume, 0 to 1."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _speaker_for(config, speak_to, also_play, no_speak, sample_rate=None):
    from voicejournal.speech import get_speaker

    if sample_rate and not speak_to:
        raise UserInputError("--sample-rate is for the WAV that --speak-to writes; add --speak-to FILE.")
    return get_speaker(config, speak_to=Path(speak_to) if speak_to else None, enabled=not no_speak,
                       also_play=also_play, sample_rate=sample_rate)


def _written_note(speaker, speak_to) -> str:
    """Where the speech went and in what form: "Speech written to F (neural voice, 22,050 Hz: ...)"."""
    from voicejournal.speech import wav_description

    what = wav_description(speaker)
    if what is None:  # --no-speak: nothing was written
        return ""
    return f"Speech written to {speak_to} ({what})."


def register(cli: click.Group) -> None:
    @command(cli, "checkin")
    @click.option("--practice", "-p", help="Which practice frames the check-in (see `voicejournal practices`).")
    @click.option("--input", "input_file", type=click.Path(dir_okay=False),
                  help="Run one pass on this recording instead of the microphone.")
    @click.option("--text", "typed", is_flag=True, help="Type instead of speaking.")
    @click.option("--no-reflect", is_flag=True, help="Save entries without a reflection.")
    @click.option("--offline", is_flag=True, help="Use the offline reflector whatever is configured.")
    @click.option("--model", help="Whisper model (tiny.en, base, a name or a folder).")
    @click.option("--device", help="Microphone to record from (see `voicejournal devices`).")
    @click.option("--silence", "silence_seconds", type=click.FloatRange(0.3, 30.0),
                  help="Seconds of quiet that end an entry.")
    @_speech_options
    def checkin(practice, input_file, typed, no_reflect, offline, model, device, silence_seconds,
                speak_to, also_play, no_speak, sample_rate, voice, rate, volume):
        """Talk it through: a prompt, your entry, a reflection spoken back, as many times as you like.

        Hands-free: a pause ends an entry. Afterwards say "more", "that's all", "repeat that"
        or "skip" (or press Enter to go on, q to end). Ctrl-C stops and keeps everything.
        """
        from voicejournal.cli.reflect import consent_asker
        from voicejournal.session import CheckinSession, FileListener, MicListener, TextListener

        if typed and input_file:
            raise UserInputError("Use --input FILE or --text, not both.")
        if input_file and not Path(input_file).is_file():
            raise UserInputError(f"There is no recording at {input_file}.")
        config = cli_config(practice=practice, model=model, device=device, silence_seconds=silence_seconds,
                            voice=voice, rate=rate, volume=volume, backend="offline" if offline else None)
        if practice:
            from voicejournal.reflection.practices import get_practice

            get_practice(practice)  # an unknown name stops here, listing the names
        store = open_store()
        # The voice first: the neural one loads in the background while Whisper and the
        # reflector load, so the greeting is not held up by it.
        speaker = _speaker_for(config, speak_to, also_play, no_speak, sample_rate)
        speaker.preload()
        view = TerminalView(hands_free=not typed and not input_file)
        reflector = None
        if not no_reflect:
            from voicejournal.reflection import get_reflector

            reflector = get_reflector(config, offline=offline, ask=consent_asker())
        if typed:
            listener = TextListener(_read_typed)
        else:
            from voicejournal.transcription import get_transcriber

            if not input_file:
                from voicejournal.audio import check_input_device

                # No microphone: say so (and what to do instead) before loading models or greeting.
                check_input_device(config.device)
            from voicejournal.names import whisper_names

            transcriber = get_transcriber(config, ask=consent_asker())
            names = whisper_names(store)  # so Whisper spells the people in this journal as the person does
            if input_file:
                listener = FileListener(Path(input_file), transcriber, config, names=names)
            else:
                listener = MicListener(config, transcriber, ui=view, names=names)
        session = CheckinSession(store, config, listener, speaker, reflector=reflector, view=view,
                                 practice=config.practice, reflect=not no_reflect)
        result = session.run()
        where = getattr(store, "path", "memory")
        count = len(result.entries)
        ids = ", ".join(e.id for e in result.entries)
        pending = sum(1 for e in result.entries if e.is_pending)
        summary = f"Saved {count} entr{'y' if count == 1 else 'ies'}" + (f" ({ids})" if ids else "")
        summary += f" in {where}."
        if pending:
            summary += f" {pending} still pending: `voicejournal retry` finishes it."
        if speak_to and speaker.spoken:
            summary = (summary + " " + _written_note(speaker, speak_to)).strip()
        click.echo(summary)
        if result.interrupted:
            click.get_current_context().exit(130)

    @command(cli, "replay")
    @click.argument("entry_id")
    @_speech_options
    def replay(entry_id, speak_to, also_play, no_speak, sample_rate, voice, rate, volume):
        """Speak a saved reflection again."""
        store = open_store()
        entry = store.get(entry_id)
        if entry.reflection is None:
            if entry.safety:
                raise EntryNotFound(
                    f"Entry {entry.id} has no reflection: support was offered instead. "
                    f"`voicejournal show {entry.id}` shows the entry."
                )
            raise EntryNotFound(
                f"Entry {entry.id} has no reflection yet. `voicejournal retry` writes the missing ones."
            )
        config = cli_config(voice=voice, rate=rate, volume=volume)
        speaker = _speaker_for(config, speak_to, also_play, no_speak, sample_rate)
        click.secho(entry.reflection.text, fg="green")
        speaker.say(entry.reflection.text)
        speaker.close()
        problem = speaker.take_problem()
        if problem:
            note(problem)
        if speak_to and _written_note(speaker, speak_to):
            click.echo(_written_note(speaker, speak_to))

    @command(cli, "play")
    @click.argument("entry_id")
    @click.option("--to", "to_file", type=click.Path(dir_okay=False), help="Write the recording to this WAV instead.")
    def play(entry_id, to_file):
        """Play the recording of an entry (or write it to a WAV with --to)."""
        import io
        import wave

        from voicejournal.speech import Player, Sound

        store = open_store()
        entry = store.get(entry_id)
        if not entry.audio:
            raise EntryNotFound(f"Entry {entry.id} has no recording (it was typed, or its audio was not kept).")
        wav = store.read_audio(entry)
        if to_file:
            from voicejournal.store import atomic_write_bytes

            atomic_write_bytes(Path(to_file), wav)
            click.echo(f"Written to {to_file}.")
            return
        with wave.open(io.BytesIO(wav)) as w:
            sound = Sound(w.readframes(w.getnframes()), w.getframerate())
        click.echo(f"Playing {entry.id} ({sound.duration_s:.0f} s)…")
        Player(cli_config().output_device).play(sound)

    @command(cli, "voices")
    @json_option
    def voices(as_json):
        """List the voices for speaking reflections: the neural voice(s), then the system's."""
        from voicejournal import neural_voice
        from voicejournal.errors import DeviceError
        from voicejournal.speech import Pyttsx3Engine, available_voices

        found, system_problem = available_voices()
        if not found:
            raise DeviceError(system_problem or "No voices are installed.")
        setting = cli_config().voice
        chosen = neural_voice.choose(setting)
        if chosen is not None:
            current = chosen.id
        elif setting and setting.strip().lower() != neural_voice.SYSTEM:
            current = setting
        else:
            current = Pyttsx3Engine.shared().default_voice if not system_problem else None
        if as_json:
            print_json([asdict(v) | {"current": current in (v.id, v.name)} for v in found])
            return
        neural = [v for v in found if v.kind == "neural"]
        system = [v for v in found if v.kind != "neural"]
        click.secho("Neural voices (warm, natural, offline):", bold=True)
        if neural:
            for v in neural:
                mark = "*" if current in (v.id, v.name) else " "
                click.echo(f"{mark} {v.id:<28} {v.name:<20} {','.join(v.languages):<6} {v.licence or ''}")
            if not neural_voice.engine_installed():
                note("  The neural voice needs Piper: " + neural_voice.INSTALL_HINT)
        else:
            click.echo("  none installed: " + neural_voice.INSTALL_HINT)
        click.secho("System voices:", bold=True)
        for v in system:
            mark = "*" if current in (v.id, v.name) else " "
            click.echo(f"{mark} {v.id:<28} {v.name:<28} {','.join(v.languages)}")
        if system_problem:
            click.echo(f"  none: {system_problem}")
        note(f"{len(neural)} neural and {len(system)} system voices. Pick one with --voice ID or "
             f"`voice = \"ID\"` in config.toml; `voice = \"system\"` for the system's default.")

    @command(cli, "config")
    @json_option
    def show_config(as_json):
        """Show the settings in effect (flags > environment > config.toml > defaults)."""
        import os

        from voicejournal.config import ENV_PREFIX, config_path, default_journal_path, read_config_file

        config = cli_config()
        in_file = read_config_file(config_path())
        values, sources = {}, {}
        for f in fields(config):
            value = getattr(config, f.name)
            values[f.name] = _hide_password(value) if f.name.endswith("url") else value
            if os.environ.get(ENV_PREFIX + f.name.upper()):
                sources[f.name] = "environment"
            elif f.name == "base_url" and os.environ.get("OPENAI_BASE_URL"):
                sources[f.name] = "environment"
            elif f.name in in_file:
                sources[f.name] = "config.toml"
            else:
                sources[f.name] = "default"
        if as_json:
            print_json(values | {"journal": str(default_journal_path()), "config_file": str(config_path()),
                                 "sources": sources})
            return
        click.echo(f"# settings file: {config_path()}" + ("" if config_path().exists() else " (not created)"))
        click.echo(f"# journal: {default_journal_path()}")
        for name, value in values.items():
            line = f"{name} = {_toml(value)}"
            click.echo(f"{line:<40} # {sources[name]}" if "#" not in line else line)
        if config.api_key:
            click.echo("# an API key is set in the environment (not shown)")

    @command(cli, "doctor")
    @click.option("--speak-to", "speak_to", type=click.Path(dir_okay=False),
                  help="Write the test line to this WAV instead of playing it.")
    @click.option("--no-mic", is_flag=True, help="Skip the one-second microphone test.")
    @json_option
    def doctor(speak_to, no_mic, as_json):
        """Check the microphone, speaker, Whisper model, reflection backend and journal."""
        from voicejournal.doctor import run_checks

        config = cli_config()
        checks = run_checks(config, journal=_journal_for_doctor(), speak_to=Path(speak_to) if speak_to else None,
                            mic=not no_mic)
        if as_json:
            print_json([asdict(c) for c in checks])
        else:
            for c in checks:
                colour = "green" if c.ok else "yellow"
                click.secho(f"{'ok     ' if c.ok else 'problem'}  {c.name:<11} {c.detail}", fg=colour)
                if not c.ok and c.fix:
                    click.echo(f"         {'':<11} fix: {c.fix}")
        if not all(c.ok for c in checks):
            click.get_current_context().exit(1)


def _journal_for_doctor() -> Path:
    from voicejournal.cli.common import journal_path
    from voicejournal.config import default_journal_path

    given = journal_path()
    path = Path(given).expanduser() if given else default_journal_path()
    return path / "journal.json" if path.is_dir() else path


def _hide_password(url):
    """A URL with any user:password@ part replaced, so `config` output can be shared safely."""
    if not isinstance(url, str) or "@" not in url:
        return url
    import re

    return re.sub(r"//[^/@]*@", "//[hidden]@", url)


def _toml(value) -> str:
    if value is None:
        return '""  # not set'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

