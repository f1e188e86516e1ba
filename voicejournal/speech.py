"""Speaking reflections: a neural voice (Piper), the system's voices (pyttsx3), a WAV file, silence.

The neural voice (`voicejournal.neural_voice`, the `voice` extra) is the default when it is
installed; pyttsx3 (espeak-ng on Linux) speaks the system voices and takes over, with one line
saying why, when the neural voice can't be used. Both are `SpeechEngine`s: text in, a `Sound`
out. Speakers turn a stream of sentences into sound through an engine.

pyttsx3 2.99 has state bugs that make plain `say()` + `runAndWait()` unreliable:
`runAndWait()` can return before the speech (or the file) is finished, two `say()` calls
before one `runAndWait()` speak only the last, an empty `runAndWait()` repeats the previous
text, and `save_to_file` prints to stdout. So this module only ever asks pyttsx3 for one
utterance at a time, rendered to a private temporary WAV, waits for the
`finished-utterance` event with a time-out, and plays the WAV itself. A speaker never
raises for a missing engine or device: it stops speaking, keeps the reason in `.problem`,
and the caller prints the text (which it always does anyway).

Speaking is pipelined: `say_sentences` hands each sentence on as soon as it arrives; a
synthesis thread renders it while a player thread plays the one before, so the first sentence
is heard while a streaming model is still writing the rest, and each next sentence is ready
when the current one ends. A long first sentence is split at its first clause, so the first
sound waits only for those few words.
"""

from __future__ import annotations

import io
import logging
import platform
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicejournal.errors import DeviceError, VoiceJournalError

if TYPE_CHECKING:
    from voicejournal.config import Config

log = logging.getLogger(__name__)

#: Longest we wait for one utterance to be rendered, whatever its length.
RENDER_TIMEOUT_S = 20.0
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)")


@dataclass
class Voice:
    """An installed voice, as `voicejournal voices` lists it. `kind` is "neural" or "system"."""

    id: str
    name: str
    languages: list[str]
    gender: str | None = None
    kind: str = "system"
    licence: str | None = None


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

    def without_trailing_silence(self, keep_s: float) -> Sound:
        """The sound with its closing silence cut to `keep_s` (a comma's pause, not a sentence's)."""
        import numpy as np  # only when a sentence was split

        data = np.frombuffer(self.frames, dtype="<i2")
        loud = np.flatnonzero(np.abs(data.astype(np.int32)) > 300)  # ~ -40 dBFS
        if not loud.size:
            return self
        end = min(data.size, int(loud[-1]) + 1 + int(keep_s * self.rate))
        return Sound(data[:end].tobytes(), self.rate)

    def resampled(self, rate: int) -> Sound:
        """The sound at another sample rate (FFmpeg's resampler, through PyAV)."""
        if rate == self.rate or not self.frames:
            return Sound(self.frames, rate)
        return Sound(_resample_pcm16(self.frames, self.rate, rate), rate)


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends, so speech can start before the whole reply is rendered."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


#: A first sentence longer than this is split at its first clause (see `split_first_clause`).
LONG_SENTENCE_WORDS = 12
_MIN_PIECE_WORDS = 3
# Words that start a clause of their own ...
# (not "after", "before", "since", "until": they are as often prepositions, "after her shift")
_CLAUSE_WORDS = frozenset(("because", "though", "although", "while", "when", "whenever", "which", "unless",
                           "whereas"))
# ... and joining words that do only when a subject follows ("and you let her in", not "you and Sam").
_JOINING_WORDS = frozenset(("and", "but", "so", "yet", "or"))
_SUBJECTS = frozenset(("i", "you", "he", "she", "it", "we", "they", "that", "there", "then", "this", "your",
                       "my", "his", "her", "their", "our", "someone", "something", "nobody", "people",
                       "it's", "i'm", "i've", "i'd", "you're", "you've", "you'd", "that's", "there's",
                       "she's", "he's", "we're", "they're"))
_DASHES = frozenset(("—", "–", "-", "--"))


def split_first_clause(sentence: str) -> list[str]:
    """A long sentence as [its first clause, the rest]; a short one as [itself].

    A neural voice renders a whole sentence before any of it can be heard (0.4 s for a long
    one on 2 cores); its first clause takes a fraction of that, and the rest is rendered while
    the clause plays. The split is at the first comma, semicolon, colon or dash that leaves at
    least three words on each side, else before a word that starts a clause ("because", "while",
    "when", ...; "and", "but", "so" only when a subject follows them), and the first piece then
    gets a comma so it is read as a clause and not as the end of a sentence.
    """
    words = sentence.split()
    if len(words) <= LONG_SENTENCE_WORDS:
        return [sentence]
    last = len(words) - _MIN_PIECE_WORDS
    for i in range(_MIN_PIECE_WORDS, last + 1):
        if words[i - 1].endswith((",", ";", ":")):
            return [" ".join(words[:i]), " ".join(words[i:])]
        if words[i] in _DASHES and i + 1 <= last:
            return [" ".join(words[:i]) + ",", " ".join(words[i + 1:])]
    for i in range(_MIN_PIECE_WORDS + 1, last + 1):
        word = words[i].lower()
        if word in _CLAUSE_WORDS or (word in _JOINING_WORDS and words[i + 1].lower().strip(",") in _SUBJECTS):
            return [" ".join(words[:i]) + ",", " ".join(words[i:])]
    return [sentence]


class SpeechEngine(ABC):
    """Text in, speech out: the neural voice (neural_voice.py) or the system's (Pyttsx3Engine).

    `kind` is "neural" or "system". `render` raises a VoiceJournalError (DeviceError when
    nothing can speak), never hangs. `preload` may start loading in the background;
    `take_notice` returns, once, a line the person should hear about (a fallback).
    """

    kind = "system"

    @abstractmethod
    def render(self, text: str, voice: str | None = None, rate: int | None = None,
               volume: float | None = None) -> Sound:
        """Render `text` to speech."""

    def preload(self) -> None:
        """Get ready in the background, so the first sentence doesn't wait (nothing by default)."""
        return None

    def take_notice(self) -> str | None:
        return None

    @property
    def active(self) -> str:
        """Which kind of voice is speaking now."""
        return self.kind


# --- the pyttsx3 engine, made reliable ----------------------------------------------------


def _send_driver_prints_to_log(engine: Any) -> None:
    """Make the pyttsx3 driver's own print() calls ("Audio saved to ...") debug log lines.

    They would land in the middle of what the check-in shows. Redirecting sys.stdout around a
    render is not safe: it is one object for the whole process, so while the synthesis thread
    rendered, the main thread's lines (helplines among them) went into the redirect instead.
    A print() defined in the driver's own module only changes what the driver calls.
    """
    driver = getattr(getattr(engine, "proxy", None), "_driver", None)
    module = sys.modules.get(type(driver).__module__) if driver is not None else None
    if module is None or not type(driver).__module__.startswith("pyttsx3."):
        return

    def driver_print(*args: Any, **_kwargs: Any) -> None:
        log.debug("speech driver: %s", " ".join(str(a) for a in args))

    module.print = driver_print


class Pyttsx3Engine(SpeechEngine):
    """One pyttsx3 engine per process, used one utterance at a time: the system's voices.

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
        _send_driver_prints_to_log(self._engine)
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

    @property
    def default_voice(self) -> str | None:
        """The system's own default voice id."""
        return self._default_voice

    def render(self, text: str, voice: str | None = None, rate: int | None = None, volume: float | None = None) -> Sound:
        """Render `text` to speech and return it; raises DeviceError, never hangs.

        `voice` is a system voice id; None or "system" is the system's default voice.
        """
        if self._broken:
            raise DeviceError(self._broken)
        if voice is not None and voice.strip().lower() in ("", "system"):
            voice = None
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


def available_voices() -> tuple[list[Voice], str | None]:
    """The neural voices installed, then the system's; and why the system's can't be listed, if so."""
    from voicejournal import neural_voice

    found = [neural_voice.as_voice(v) for v in neural_voice.installed_voices()]
    try:
        found += Pyttsx3Engine.shared().voices()
    except DeviceError as exc:
        return found, str(exc)
    return found, None


def list_voices() -> list[Voice]:
    """Every voice that can speak, neural first (raises DeviceError when there is none)."""
    found, problem = available_voices()
    if not found:
        raise DeviceError(problem or "No voices are installed.")
    return found


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

    `problem` holds why speech stopped working, if it did; `take_problem()` returns, once,
    what the person should be told about speech (that, or that the system voice speaks
    because the neural voice can't). `sound_times` holds, for each sentence, the
    `time.monotonic()` when its first audio was handed to the output (used to measure latency).
    """

    name = "speaker"

    def __init__(self) -> None:
        self.problem: str | None = None
        self._problem_told = False
        self.spoken: list[str] = []
        self.sound_times: list[float] = []
        self.on_sound: Callable[[str], None] | None = None
        self._engine: SpeechEngine | None = None

    def say(self, text: str) -> None:
        """Say `text`, blocking until it has been said (or given up on)."""
        self.say_sentences(split_sentences(text))

    def say_sentences(self, sentences: Iterable[str]) -> None:
        """Say each sentence as soon as it arrives, in order; returns when all are said."""
        first = True
        for sentence in sentences:
            sentence = sentence.strip()
            if not sentence:
                continue
            self._say_one(sentence, first)
            first = False
        self._drain()

    def _say_one(self, sentence: str, first: bool) -> None:
        self.spoken.append(sentence)
        if self.problem is None:
            try:
                self._utter_first(sentence) if first else self._utter(sentence)
            except VoiceJournalError as exc:
                self._fail(str(exc))

    def prepare_first(self, sentence: str) -> None:  # noqa: B027  (optional: most speakers render fast)
        """Render now what may be the next turn's first sentence, so it can play at once."""

    def preload(self) -> None:
        """Start getting the voice ready in the background (a check-in calls this as it starts)."""
        engine = self._engine
        if engine is not None:
            engine.preload()

    def take_problem(self) -> str | None:
        """What to tell the person about speech, the first time it is asked (one line); then None."""
        told = []
        take_notice = getattr(self._engine, "take_notice", None)
        notice = take_notice() if take_notice else None
        if notice:
            told.append(notice)
        if self.problem and not self._problem_told:
            self._problem_told = True
            told.append(self.problem)
        return " ".join(told) or None

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

    def _utter_first(self, sentence: str) -> None:
        """Start saying the first sentence of a turn (speakers that play split it to start sooner)."""
        self._utter(sentence)

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


#: The pause kept after the first clause of a split sentence (Piper ends each piece with ~0.2-0.3 s).
CLAUSE_PAUSE_S = 0.12


class PlaybackSpeaker(Speaker):
    """Speaks through an engine and the audio output, three stages at once.

    The caller hands sentences over as they are written and carries on; a synthesis thread
    renders each one while a player thread plays the one before. The first sentence of each
    turn, if long, is rendered as two pieces (`split_first_clause`), so its first clause can
    play while the rest is rendered. `rendered` records (text, started, finished) for each
    piece rendered, for tests and the benchmark.
    """

    name = "speaker"

    def __init__(self, config: Config, engine: SpeechEngine | None = None, player: Player | None = None) -> None:
        super().__init__()
        self.config = config
        self._engine = engine
        self._player = player or Player(config.output_device)
        self._texts: queue.Queue[tuple[str, str | None, bool] | None] = queue.Queue()
        self._sounds: queue.Queue[tuple[str | None, Sound] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()
        self.rendered: list[tuple[str, float, float]] = []
        # One render at a time (the voice's phonemiser is not made for two threads), and the one
        # piece rendered ahead by `prepare_first`, with the settings it was rendered with.
        self._render_lock = threading.Lock()
        self._ahead: tuple[tuple, Sound] | None = None

    def _default_engine(self) -> SpeechEngine:
        return Pyttsx3Engine.shared()

    @property
    def engine(self) -> SpeechEngine:
        """The engine, started on first use (raises DeviceError if none can start)."""
        if self._engine is None:
            self._engine = self._default_engine()
        return self._engine

    def preload(self) -> None:
        try:
            self.engine.preload()
        except VoiceJournalError as exc:
            self._fail(str(exc))

    def prepare_first(self, sentence: str) -> None:
        """Render the first piece of `sentence` now (the check-in calls this in the pause that
        may end an entry); if the reflection does start with it, it plays without waiting.

        Only for an engine that can render beside the speaker's own threads (the neural voice;
        the system voice renders in a few milliseconds anyway).
        """
        try:
            engine = self.engine
        except VoiceJournalError:
            return
        if self.problem is not None or not getattr(engine, "renders_ahead", False):
            return
        key = self._render_key(split_first_clause(sentence.strip())[0])
        with self._render_lock:
            if self._ahead is not None and self._ahead[0] == key:
                return
            try:
                self._ahead = (key, self._render_now(engine, key))
            except VoiceJournalError:
                return  # the real turn will meet the same problem and say so

    def _render_key(self, text: str) -> tuple:
        return (text, self.config.voice, self.config.rate, self.config.volume)

    def _render(self, text: str) -> Sound:
        key = self._render_key(text)
        with self._render_lock:
            if self._ahead is not None and self._ahead[0] == key:
                sound, self._ahead = self._ahead[1], None
                return sound
            return self._render_now(self.engine, key)

    def _render_now(self, engine: SpeechEngine, key: tuple) -> Sound:
        # Called holding _render_lock; `rendered` notes every piece, ahead of time or not.
        started = time.monotonic()
        sound = engine.render(*key)
        self.rendered.append((key[0], started, time.monotonic()))
        return sound

    def _utter(self, sentence: str) -> None:
        self._queue_piece(sentence, sentence, whole=True)

    def _utter_first(self, sentence: str) -> None:
        pieces = split_first_clause(sentence)
        for i, piece in enumerate(pieces):
            # sound_times are per sentence: only the first piece's hand-over counts
            self._queue_piece(piece, sentence if i == 0 else None, whole=i == len(pieces) - 1)

    def _queue_piece(self, text: str, sentence: str | None, whole: bool) -> None:
        self.engine  # noqa: B018 - start the engine here, so a missing one fails in the caller's thread
        self._ensure_threads()
        self._texts.put((text, sentence, whole))

    def _ensure_threads(self) -> None:
        with self._threads_lock:
            if len(self._threads) == 2 and all(t.is_alive() for t in self._threads):
                return
            self._threads = [
                threading.Thread(target=self._synthesis_loop, name="voicejournal-synthesis", daemon=True),
                threading.Thread(target=self._play_loop, name="voicejournal-speaker", daemon=True),
            ]
            for thread in self._threads:
                thread.start()

    def _synthesis_loop(self) -> None:
        while True:
            item = self._texts.get()
            try:
                if item is None:
                    return
                text, sentence, whole = item
                if self.problem is not None:
                    continue
                try:
                    sound = self._render(text)
                except VoiceJournalError as exc:
                    self._fail(str(exc))
                    continue
                except Exception as exc:  # a bug in an engine must not leave the caller waiting forever
                    log.exception("speech engine failed")
                    self._fail(f"The speech engine failed ({type(exc).__name__}); the text is shown instead.")
                    continue
                if not whole:
                    sound = sound.without_trailing_silence(CLAUSE_PAUSE_S)
                self._sounds.put((sentence, sound))
            finally:
                self._texts.task_done()

    def _play_loop(self) -> None:
        while True:
            item = self._sounds.get()
            try:
                if item is None:
                    return
                sentence, sound = item
                if self.problem is not None:
                    continue
                if sentence is not None:
                    self._handed_over(sentence)
                try:
                    self._player.play(sound)
                except DeviceError as exc:
                    self._fail(str(exc))
                except Exception as exc:  # never leave the caller waiting on a dead player thread
                    log.exception("player failed")
                    self._fail(f"The audio player failed ({type(exc).__name__}); the text is shown instead.")
            finally:
                self._sounds.task_done()

    def _drain(self) -> None:
        # Bounded: every render and every play has its own time-out, so this always ends.
        if self._threads:
            self._texts.join()
            self._sounds.join()

    def stop(self) -> None:
        self.problem = self.problem or "stopped"
        self._problem_told = True  # stopping was the person's choice: nothing to explain
        for pending in (self._texts, self._sounds):
            while True:
                try:
                    pending.get_nowait()
                    pending.task_done()
                except queue.Empty:
                    break
        self._player.stop()

    def close(self) -> None:
        self._drain()
        with self._threads_lock:
            if self._threads:
                self._texts.put(None)
                self._sounds.put(None)
                self._threads = []


class Pyttsx3Speaker(PlaybackSpeaker):
    """Speaks with the system's voices through pyttsx3 and the audio output."""

    name = "pyttsx3"


class PiperSpeaker(PlaybackSpeaker):
    """Speaks with the neural voice through the audio output; the system voice if it can't be used."""

    name = "piper"

    def _default_engine(self) -> SpeechEngine:
        from voicejournal import neural_voice

        return neural_voice.neural_engine(neural_voice.choose(self.config.voice) or neural_voice.DEFAULT_VOICE)


class WavSpeaker(Speaker):
    """Writes everything it says, in order, into one WAV file (rewritten after each sentence).

    The file is at `sample_rate` if given, else at the first voice's own rate (22,050 Hz for
    the neural voice); sound at another rate is resampled. `describe()` says which.
    """

    name = "wav"

    def __init__(self, path: Path | str, config: Config | None = None, engine: SpeechEngine | None = None,
                 sample_rate: int | None = None) -> None:
        super().__init__()
        self.path = Path(path).expanduser()
        self.config = config
        self._engine = engine
        self._frames = bytearray()
        self._rate: int | None = sample_rate
        self.source_rates: set[int] = set()
        self.voices_used: set[str] = set()

    def _utter(self, sentence: str) -> None:
        if self._engine is None:
            from voicejournal.config import Config

            self._engine = engine_for(self.config or Config())
        cfg = self.config
        sound = self._engine.render(
            sentence, cfg.voice if cfg else None, cfg.rate if cfg else None, cfg.volume if cfg else None
        )
        self.source_rates.add(sound.rate)
        self.voices_used.add(self._engine.active)
        if self._rate is None:
            self._rate = sound.rate
        elif sound.rate != self._rate:  # another rate asked for, or a voice change mid-file
            sound = sound.resampled(self._rate)
        if self._frames:
            self._frames += b"\x00\x00" * int(self._rate * 0.35)  # a breath between sentences
        self._frames += sound.frames
        self._handed_over(sentence)
        self._write()

    @property
    def duration_s(self) -> float:
        """Seconds of audio written so far."""
        return len(self._frames) / 2 / self._rate if self._rate else 0.0

    def describe(self) -> str:
        """Which voice the file holds and at what rate: its own, or resampled."""
        voices = " and ".join(sorted(self.voices_used)) or "no"
        if self._rate is None or not self.source_rates:
            return f"{voices} voice"
        if self.source_rates == {self._rate}:
            return f"{voices} voice, {self._rate:,} Hz: the voice's own rate"
        sources = ", ".join(f"{r:,}" for r in sorted(self.source_rates))
        return f"{voices} voice, resampled from {sources} Hz to {self._rate:,} Hz"

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
        first = True
        for sentence in sentences:
            sentence = sentence.strip()
            if not sentence:
                continue
            self.spoken.append(sentence)
            for speaker in self.speakers:
                speaker._say_one(sentence, first)
            first = False
        for speaker in self.speakers:
            speaker._drain()
        self.problem = next((s.problem for s in self.speakers if s.problem), None)

    def _utter(self, sentence: str) -> None:  # pragma: no cover - say_sentences never calls it
        pass

    def preload(self) -> None:
        for speaker in self.speakers:
            speaker.preload()

    def take_problem(self) -> str | None:
        told: list[str] = []
        for speaker in self.speakers:
            message = speaker.take_problem()
            if message and message not in told:
                told.append(message)
        return " ".join(told) or None

    def close(self) -> None:
        for speaker in self.speakers:
            speaker.close()

    def stop(self) -> None:
        for speaker in self.speakers:
            speaker.stop()


def wav_description(speaker: Speaker) -> str | None:
    """What `--speak-to` wrote (voice, sample rate, resampled or not), for the closing line."""
    if isinstance(speaker, WavSpeaker):
        return speaker.describe()
    for inner in getattr(speaker, "speakers", ()):
        if isinstance(inner, WavSpeaker):
            return inner.describe()
    return None


def _resample_pcm16(frames: bytes, src: int, dst: int) -> bytes:
    """16-bit mono PCM from `src` to `dst` Hz with FFmpeg's resampler (PyAV, already a dependency)."""
    import av  # only when a WAV is written at another rate than the voice's
    import numpy as np

    data = np.frombuffer(frames, dtype="<i2")
    if not data.size:
        return b""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=dst)
    frame = av.AudioFrame.from_ndarray(data.reshape(1, -1).copy(), format="s16", layout="mono")
    frame.sample_rate = src
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame) + resampler.resample(None)]
    return np.concatenate(out).astype("<i2").tobytes() if out else b""


def engine_for(config: Config) -> SpeechEngine:
    """The engine for the `voice` setting: the neural voice (the system's behind it), or pyttsx3.

    Choosing imports nothing heavy and loads nothing (the neural voice loads on `preload` or
    the first sentence). Raises DeviceError only when a system voice is asked for and no
    system speech engine can start.
    """
    from voicejournal import neural_voice

    chosen = neural_voice.choose(config.voice)
    if chosen is not None:
        return neural_voice.neural_engine(chosen)
    return Pyttsx3Engine.shared()


def playback_speaker(config: Config, engine: SpeechEngine) -> PlaybackSpeaker:
    """A speaker that plays `engine`'s speech on the audio output."""
    kind = PiperSpeaker if engine.kind == "neural" else Pyttsx3Speaker
    return kind(config, engine)


def get_speaker(
    config: Config,
    speak_to: Path | str | None = None,
    enabled: bool = True,
    also_play: bool = False,
    sample_rate: int | None = None,
) -> Speaker:
    """The speaker for these settings: silent (`--no-speak`), a WAV file (`--speak-to`), or the speakers.

    The voice is the neural one unless `voice` names a system voice (or it isn't installed).
    `sample_rate` is the WAV's (default: the voice's own). Never raises: if no speech engine
    can start, the result is a SilentSpeaker whose `problem` says why.
    """
    if not enabled or (not config.speak and speak_to is None):
        return SilentSpeaker()
    try:
        engine = engine_for(config)
    except DeviceError as exc:
        return SilentSpeaker(str(exc))
    if speak_to is not None:
        wav = WavSpeaker(speak_to, config, engine, sample_rate=sample_rate)
        return TeeSpeaker(playback_speaker(config, engine), wav) if also_play else wav
    return playback_speaker(config, engine)
