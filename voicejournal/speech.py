"""Speaking reflections: pyttsx3 (espeak-ng on Linux), a WAV-writing speaker, a silent one.

pyttsx3 2.99 has state bugs that make plain `say()` + `runAndWait()` unreliable:
`runAndWait()` can return before the speech (or the file) is finished, two `say()` calls
before one `runAndWait()` speak only the last, an empty `runAndWait()` repeats the previous
text, and `save_to_file` prints to stdout. So this module only ever asks pyttsx3 for one
utterance at a time, rendered to a private temporary WAV, waits for the
`finished-utterance` event with a time-out, and plays the WAV itself. A speaker never
raises for a missing engine or device: it stops speaking, keeps the reason in `.problem`,
and the caller prints the text (which it always does anyway).

Speaking is pipelined: `say_sentences` renders each sentence as soon as it arrives and
hands it to a player thread, so the first sentence is heard while a streaming model is
still writing the rest.
"""

from __future__ import annotations

import contextlib
import io
import logging
import platform
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicejournal.errors import DeviceError

if TYPE_CHECKING:
    from voicejournal.config import Config

log = logging.getLogger(__name__)

#: Longest we wait for one utterance to be rendered, whatever its length.
RENDER_TIMEOUT_S = 20.0
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)")


@dataclass
class Voice:
    """An installed voice, as `voicejournal voices` lists it."""

    id: str
    name: str
    languages: list[str]
    gender: str | None = None


@dataclass
class Sound:
    """Rendered speech: 16-bit mono PCM frames and their sample rate."""

    frames: bytes
    rate: int

    @property
    def duration_s(self) -> float:
        return len(self.frames) / 2 / self.rate if self.rate else 0.0

    def wav_bytes(self) -> bytes:
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.rate)
            w.writeframes(self.frames)
        return out.getvalue()


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends, so speech can start before the whole reply is rendered."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


# --- the pyttsx3 engine, made reliable ----------------------------------------------------


class Pyttsx3Engine:
    """One pyttsx3 engine per process, used one utterance at a time.

    espeak-ng can only be initialised once per process (pyttsx3 keeps its driver alive), so
    the engine is shared; the lock keeps two speakers from interleaving their utterances.
    """

    _shared: Pyttsx3Engine | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        import pyttsx3  # pulls in the platform's speech driver; only when speaking

        self._lock = threading.Lock()
        self._done = threading.Event()
        try:
            self._engine = pyttsx3.init()
        except Exception as exc:  # pyttsx3 raises RuntimeError/OSError/ImportError by platform
            raise DeviceError(_no_engine_message(exc)) from None
        self._engine.connect("finished-utterance", self._finished)
        try:
            self._default_voice: str | None = self._engine.getProperty("voice")
        except Exception:  # some drivers can't say; then the voice is only set when configured
            self._default_voice = None
        self._voice: str | None = self._default_voice
        self._broken: str | None = None

    @classmethod
    def shared(cls) -> Pyttsx3Engine:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def _finished(self, name: Any = None, completed: bool = True) -> None:
        self._done.set()

    def voices(self) -> list[Voice]:
        with self._lock:
            found = self._engine.getProperty("voices") or []
        return [
            Voice(id=str(v.id), name=str(v.name), languages=[str(x) for x in (v.languages or [])], gender=v.gender)
            for v in found
        ]

    def render(self, text: str, voice: str | None = None, rate: int | None = None, volume: float | None = None) -> Sound:
        """Render `text` to speech and return it; raises DeviceError, never hangs."""
        if self._broken:
            raise DeviceError(self._broken)
        with self._lock:
            spoken = self._configure(text, voice, rate, volume)
            # Under heavy load the driver has been seen to write an empty file for an utterance
            # (its state is shared between threads); one fresh attempt gets the audio.
            for _attempt in range(2):
                sound = self._render_once(spoken, len(text))
                if sound.frames:
                    return sound
                log.info("the speech engine wrote no audio for %d characters; trying once more", len(text))
        raise DeviceError("The speech engine did not produce any audio; the text is shown instead.")

    def _render_once(self, spoken: str, length: int) -> Sound:
        folder = Path(tempfile.mkdtemp(prefix="voicejournal-tts-"))
        path = folder / "utterance.wav"
        self._done.clear()
        timeout = min(RENDER_TIMEOUT_S, 5.0 + length / 20)
        try:
            # save_to_file prints "Audio saved to ..." from the driver's callback: keep stdout
            # clean for scripts (the print happens before the event we wait for).
            with contextlib.redirect_stdout(io.StringIO()):
                self._engine.save_to_file(spoken, str(path))
                self._engine.runAndWait()
                finished = self._done.wait(timeout)
            if not finished:
                self._broken = "The speech engine stopped responding, so the rest is shown but not spoken."
                raise DeviceError(self._broken)
            return _read_complete_wav(path, wait_s=1.0)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _configure(self, text: str, voice: str | None, rate: int | None, volume: float | None) -> str:
        """Apply the voice settings; returns the text to render (espeak gets them embedded).

        pyttsx3 queues setProperty behind earlier commands and swallows its errors, and
        espeak-ng applies rate changes asynchronously, so a new rate could land an utterance
        late. espeak's embedded commands (Ctrl-A + value + S/A) travel with the text itself,
        which makes rate and volume exact for every utterance. The voice is set on the driver
        directly (synchronous, and a bad name raises) and only when it changes.
        """
        driver = getattr(getattr(self._engine, "proxy", None), "_driver", None)
        target = driver if driver is not None and hasattr(driver, "setProperty") else self._engine
        espeak = "espeak" in type(driver).__module__ if driver is not None else False
        wanted = voice or self._default_voice
        try:
            if wanted and wanted != self._voice:
                self._voice = None
                try:
                    target.setProperty("voice", wanted)
                except (ValueError, KeyError, TypeError):
                    if self._default_voice and wanted != self._default_voice:
                        target.setProperty("voice", self._default_voice)
                        self._voice = self._default_voice
                    raise
                self._voice = wanted
            if espeak:
                prefix = ""
                if rate:
                    prefix += f"\x01{max(80, min(450, int(rate)))}S"
                if volume is not None:
                    prefix += f"\x01{int(round(max(0.0, min(1.0, float(volume))) * 100))}A"
                return prefix + text
            if rate:
                target.setProperty("rate", int(rate))
            if volume is not None:
                target.setProperty("volume", max(0.0, min(1.0, float(volume))))
        except (ValueError, KeyError, TypeError) as exc:
            raise DeviceError(
                f"The voice settings can't be used ({exc}). `voicejournal voices` lists the installed voices."
            ) from None
        return text


def _no_engine_message(exc: BaseException) -> str:
    hint = "install espeak-ng (Debian/Ubuntu: sudo apt-get install libespeak-ng1)" if platform.system() == "Linux" \
        else "check that the system's speech voices are installed"
    return f"No text-to-speech engine could start ({exc}). Reflections are shown as text; to hear them, {hint}."


def _read_complete_wav(path: Path, wait_s: float) -> Sound:
    """Read a WAV the driver wrote, waiting briefly until it holds audio and its header and data agree."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with wave.open(str(path), "rb") as w:
                frames = w.readframes(w.getnframes())
                complete = w.getsampwidth() == 2 and w.getnchannels() == 1 and len(frames) == w.getnframes() * 2
                if complete and (frames or time.monotonic() > deadline):
                    return Sound(frames=frames, rate=w.getframerate())
        except (FileNotFoundError, EOFError, wave.Error):
            pass
        if time.monotonic() > deadline:
            return Sound(frames=b"", rate=22050)  # the caller decides whether to try again
        time.sleep(0.01)


def list_voices() -> list[Voice]:
    """The voices the text-to-speech engine offers (raises DeviceError when there is none)."""
    return Pyttsx3Engine.shared().voices()


# --- playing ------------------------------------------------------------------------------


class Player:
    """Plays rendered speech on the output device: aplay on Linux, afplay on macOS, winsound on Windows."""

    def __init__(self, device: str | None = None) -> None:
        self.device = device
        self._process: subprocess.Popen | None = None
        self._stopped = False

    def stop(self) -> None:
        """Cut off what is playing now (Ctrl-C: the person wants quiet, not the rest of a sentence)."""
        self._stopped = True
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def play(self, sound: Sound) -> None:
        """Play and wait until done; raises DeviceError when there is no way to play."""
        system = platform.system()
        folder = Path(tempfile.mkdtemp(prefix="voicejournal-play-"))
        path = folder / "speech.wav"
        path.write_bytes(sound.wav_bytes())
        try:
            if system == "Windows":
                import winsound  # Windows only

                winsound.PlaySound(str(path), winsound.SND_FILENAME)
                return
            if system == "Darwin":
                command = ["afplay", str(path)]
            else:
                if not shutil.which("aplay"):
                    raise DeviceError(
                        "No audio player was found (aplay). Install alsa-utils to hear reflections, "
                        "or use --speak-to FILE to save them as a WAV."
                    )
                command = ["aplay", "-q"] + (["-D", self.device] if self.device else []) + [str(path)]
            if self._stopped:
                return
            try:
                self._process = subprocess.Popen(
                    command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                )
                _, stderr = self._process.communicate(timeout=sound.duration_s + 15.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.communicate()
                raise DeviceError("The speaker stopped responding; the text is shown instead.") from None
            except OSError as exc:
                raise DeviceError(f"The audio player could not start ({exc.strerror}).") from None
            returncode, self._process = self._process.returncode, None
            if self._stopped:
                return
            if returncode != 0:
                detail = (stderr or "").strip().splitlines()
                raise DeviceError(
                    "No speaker or audio output is available"
                    + (f" ({detail[-1]})" if detail else "")
                    + ". Reflections are shown as text; use --speak-to FILE to save them as a WAV."
                )
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# --- speakers -----------------------------------------------------------------------------


class Speaker(ABC):
    """Says things out loud (or into a file). Never raises for missing engines or devices.

    `problem` holds why speech stopped working, if it did; `take_problem()` returns it once so
    the caller can say it exactly once. `sound_times` holds, for each utterance, the
    `time.monotonic()` when its audio was handed to the output (used to measure latency).
    """

    name = "speaker"

    def __init__(self) -> None:
        self.problem: str | None = None
        self._problem_told = False
        self.spoken: list[str] = []
        self.sound_times: list[float] = []
        self.on_sound: Callable[[str], None] | None = None

    def say(self, text: str) -> None:
        """Say `text`, blocking until it has been said (or given up on)."""
        self.say_sentences(split_sentences(text))

    def say_sentences(self, sentences: Iterable[str]) -> None:
        """Say each sentence as soon as it arrives, in order; returns when all are said."""
        for sentence in sentences:
            sentence = sentence.strip()
            if not sentence:
                continue
            self.spoken.append(sentence)
            if self.problem is None:
                try:
                    self._utter(sentence)
                except DeviceError as exc:
                    self._fail(str(exc))
        self._drain()

    def take_problem(self) -> str | None:
        """The reason speech is not working, the first time it is asked; then None."""
        if self.problem and not self._problem_told:
            self._problem_told = True
            return self.problem
        return None

    def _fail(self, reason: str) -> None:
        log.info("speech stopped: %s", reason)
        if self.problem is None:
            self.problem = reason

    def _handed_over(self, sentence: str) -> None:
        self.sound_times.append(time.monotonic())
        if self.on_sound:
            self.on_sound(sentence)

    @abstractmethod
    def _utter(self, sentence: str) -> None:
        """Start saying one sentence (may return before it is heard; `_drain` waits)."""

    def _drain(self) -> None:
        """Wait until everything started has been said (nothing to wait for by default)."""
        return None

    def close(self) -> None:
        """Release devices and finish files."""
        self._drain()

    def stop(self) -> None:
        """Stop speaking now and drop whatever was still to be said (after Ctrl-C)."""
        return None


class SilentSpeaker(Speaker):
    """Says nothing (`--no-speak`, or when speech is unavailable). `reason` explains why, if any."""

    name = "silent"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__()
        self.problem = reason
        # --no-speak is the person's own choice: nothing to tell them.
        self._problem_told = reason is None

    def say_sentences(self, sentences: Iterable[str]) -> None:
        for sentence in sentences:
            if sentence.strip():
                self.spoken.append(sentence.strip())

    def _utter(self, sentence: str) -> None:  # pragma: no cover - say_sentences never calls it
        pass


class Pyttsx3Speaker(Speaker):
    """Speaks through pyttsx3 and the system's audio output, sentence by sentence."""

    name = "pyttsx3"

    def __init__(self, config: Config, engine: Pyttsx3Engine | None = None, player: Player | None = None) -> None:
        super().__init__()
        self.config = config
        self._engine = engine
        self._player = player or Player(config.output_device)
        self._queue: queue.Queue[tuple[str, Sound] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def _utter(self, sentence: str) -> None:
        if self._engine is None:
            self._engine = Pyttsx3Engine.shared()
        sound = self._engine.render(sentence, self.config.voice, self.config.rate, self.config.volume)
        self._ensure_player()
        self._queue.put((sentence, sound))

    def _ensure_player(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._play_loop, name="voicejournal-speaker", daemon=True)
            self._thread.start()

    def _play_loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                sentence, sound = item
                if self.problem is not None:
                    continue
                self._handed_over(sentence)
                try:
                    self._player.play(sound)
                except DeviceError as exc:
                    self._fail(str(exc))
            finally:
                self._queue.task_done()

    def _drain(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            # Wait with a bound: each play call has its own time-out, so this always ends.
            self._queue.join()

    def stop(self) -> None:
        self.problem = self.problem or "stopped"
        self._problem_told = True  # stopping was the person's choice: nothing to explain
        while True:
            try:
                self._queue.get_nowait()
                self._queue.task_done()
            except queue.Empty:
                break
        self._player.stop()


class WavSpeaker(Speaker):
    """Writes everything it says, in order, into one WAV file (rewritten after each sentence)."""

    name = "wav"

    def __init__(self, path: Path | str, config: Config | None = None, engine: Pyttsx3Engine | None = None) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.config = config
        self._engine = engine
        self._frames = bytearray()
        self._rate: int | None = None

    def _utter(self, sentence: str) -> None:
        if self._engine is None:
            self._engine = Pyttsx3Engine.shared()
        cfg = self.config
        sound = self._engine.render(
            sentence, cfg.voice if cfg else None, cfg.rate if cfg else None, cfg.volume if cfg else None
        )
        if self._rate is None:
            self._rate = sound.rate
        elif sound.rate != self._rate:  # a voice change mid-file; keep the file playable
            sound = Sound(_resample_pcm16(sound.frames, sound.rate, self._rate), self._rate)
        if self._frames:
            self._frames += b"\x00\x00" * int(self._rate * 0.35)  # a breath between sentences
        self._frames += sound.frames
        self._handed_over(sentence)
        self._write()

    def _write(self) -> None:
        from voicejournal.store import atomic_write_bytes

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, Sound(bytes(self._frames), self._rate or 22050).wav_bytes(), mode=0o600)
        except OSError as exc:
            raise DeviceError(f"Can't write the speech file {self.path}: {exc.strerror}.") from None


class TeeSpeaker(Speaker):
    """Says everything through several speakers (e.g. out loud and into a file)."""

    name = "tee"

    def __init__(self, *speakers: Speaker) -> None:
        super().__init__()
        self.speakers = speakers
        self.sound_times = speakers[0].sound_times if speakers else []

    def say_sentences(self, sentences: Iterable[str]) -> None:
        for sentence in sentences:
            if not sentence.strip():
                continue
            self.spoken.append(sentence.strip())
            for speaker in self.speakers:
                speaker.say_sentences([sentence])
        self.problem = next((s.problem for s in self.speakers if s.problem), None)

    def _utter(self, sentence: str) -> None:  # pragma: no cover - say_sentences never calls it
        pass

    def close(self) -> None:
        for speaker in self.speakers:
            speaker.close()

    def stop(self) -> None:
        for speaker in self.speakers:
            speaker.stop()


def _resample_pcm16(frames: bytes, src: int, dst: int) -> bytes:
    import numpy as np  # only for the rare voice change inside one file

    data = np.frombuffer(frames, dtype="<i2").astype(np.float32)
    if not len(data):
        return b""
    n = max(1, int(round(len(data) * dst / src)))
    out = np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data)
    return out.astype("<i2").tobytes()


def get_speaker(
    config: Config,
    speak_to: Path | str | None = None,
    enabled: bool = True,
    also_play: bool = False,
) -> Speaker:
    """The speaker for these settings: silent (`--no-speak`), a WAV file (`--speak-to`), or the speakers.

    Never raises: if no speech engine can start, the result is a SilentSpeaker whose
    `problem` says why.
    """
    if not enabled or (not config.speak and speak_to is None):
        return SilentSpeaker()
    try:
        engine = Pyttsx3Engine.shared()
    except DeviceError as exc:
        return SilentSpeaker(str(exc))
    if speak_to is not None:
        wav = WavSpeaker(speak_to, config, engine)
        return TeeSpeaker(Pyttsx3Speaker(config, engine), wav) if also_play else wav
    return Pyttsx3Speaker(config, engine)
