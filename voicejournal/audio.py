"""Capturing and loading audio: 16 kHz mono float32 samples, whatever the source.

- `load_audio` / `iter_audio` read any file PyAV can decode (wav, flac, mp3, ogg, m4a, webm,
  any rate, mono or stereo); `iter_audio` decodes a block at a time so a two-hour file
  never sits in memory whole.
- `StreamingVad` runs faster-whisper's bundled Silero model window by window, keeping its
  state, so a live recording can be judged as it arrives.
- `SpeechChunker` cuts a stream of samples at pauses in speech; `Recorder` and file
  transcription both hand those chunks to the transcriber while more audio arrives.
- `Recorder` records from a microphone in a sounddevice callback stream until the person
  stops speaking (or presses Enter, Space to pause, `q` to end the session, Ctrl-C).

numpy is needed by every function here; sounddevice, PyAV and the VAD model are imported
inside the functions that use them, because importing them costs time and can fail on a
machine without PortAudio, and `voicejournal list` should never pay for that.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from voicejournal.errors import AudioError, DeviceError

if TYPE_CHECKING:
    from voicejournal.config import Config

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: Silero judges 512-sample windows (32 ms at 16 kHz).
VAD_WINDOW = 512
#: Less voice than this in a take counts as "no speech" (a cough, a click, noise).
MIN_SPEECH_S = 1.0
#: A pause at least this long, once a chunk holds MIN_CHUNK_S, is where a chunk is cut.
CHUNK_PAUSE_S = 0.3
#: Whisper reads 30 s windows: chunks of 20-28 s cost one window each and give it enough
#: context to transcribe as well as the whole recording does.
MIN_CHUNK_S = 20.0
MAX_CHUNK_S = 28.0
#: A pause this long may be the end of the entry: cut there (if the chunk holds at least
#: END_CHUNK_S) so the last words are transcribed while the recorder waits out the silence.
END_PAUSE_S = 1.0
END_CHUNK_S = 3.0
#: A pause this long, in a chunk that could be cut at END_PAUSE_S, is where a draft of the
#: chunk so far is offered (`on_draft`): if nobody speaks again, that draft is the chunk's
#: transcript, started this much sooner. The chunks themselves are cut as before.
DRAFT_PAUSE_S = 0.4

ENDED_BY = ("silence", "enter", "max", "quit", "interrupt")


# --- files and WAV bytes -------------------------------------------------------------------


def to_wav_bytes(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM mono WAV bytes of float samples in [-1, 1]."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    pcm = (clipped * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def from_wav_bytes(data: bytes) -> np.ndarray:
    """Samples (float32, mono, 16 kHz) of WAV bytes; other formats and rates are converted."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() == 2 and wav.getnchannels() == 1 and wav.getframerate() == SAMPLE_RATE:
                pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
                return pcm.astype(np.float32) / 32768.0
    except (wave.Error, EOFError):
        pass
    # Not our own plain format (an imported or older recording): let PyAV convert it.
    return load_audio(io.BytesIO(data), name="the recording")


def _open_container(source: str | Path | io.BytesIO, name: str):
    import av  # PyAV (bundled FFmpeg) comes with faster-whisper; loading it takes ~0.1 s

    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise AudioError(f"Can't find the file {path}. Check the name and folder.")
        if path.is_dir():
            raise AudioError(f"{path} is a folder. Give the path of an audio file.")
        if not os.access(path, os.R_OK):
            raise AudioError(f"Can't read {path}: permission denied. Check the file's permissions.")
        if path.stat().st_size == 0:
            raise AudioError(f"{path} is empty (0 bytes): there is no recording in it.")
        source = str(path)
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise AudioError(
            f"{name} isn't an audio file voicejournal can read ({_av_reason(exc)}). "
            "Use wav, flac, mp3, ogg, m4a or webm."
        ) from None
    if not container.streams.audio:
        container.close()
        raise AudioError(f"{name} has no sound track. Use wav, flac, mp3, ogg, m4a or webm.")
    return container


def _av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip().rstrip(".").lower() or type(exc).__name__


def probe_duration(path: str | Path) -> float | None:
    """The length the file's header claims, in seconds, without decoding it (None if unknown)."""
    container = _open_container(path, str(path))
    try:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000  # av.time_base: microseconds
        return None
    finally:
        container.close()


def iter_audio(
    source: str | Path | io.BytesIO, block_s: float = 30.0, name: str | None = None
) -> Iterator[np.ndarray]:
    """Decode `source` a block at a time: float32 mono 16 kHz arrays of about `block_s` seconds.

    Memory stays at one block however long the file is. Damaged frames are skipped; a file
    that can't be opened or decoded at all raises AudioError.
    """
    import av  # see _open_container

    label = name or str(source)
    container = _open_container(source, label)
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    block = int(block_s * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    held = 0
    decoded_any = False
    try:
        frames = container.decode(audio=0)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except av.error.InvalidDataError:
                continue  # a damaged frame: keep what can be heard
            except (av.error.FFmpegError, OSError) as exc:
                if decoded_any:
                    log.info("stopped decoding %s early: %s", label, exc)
                    break  # a truncated file: keep what came before the damage
                raise AudioError(f"{label} can't be decoded ({_av_reason(exc)}). Is the file complete?") from None
            frame.pts = None  # resampling a stream with gaps must not fail on timestamps
            for out in resampler.resample(frame):
                pending.append(out.to_ndarray().reshape(-1))
                held += out.samples
            decoded_any = True
            while held >= block:
                joined = np.concatenate(pending)
                yield joined[:block].astype(np.float32) / 32768.0
                rest = joined[block:]
                pending, held = ([rest] if rest.size else []), rest.size
        for out in resampler.resample(None):
            pending.append(out.to_ndarray().reshape(-1))
        if pending:
            joined = np.concatenate(pending)
            if joined.size:
                yield joined.astype(np.float32) / 32768.0
    finally:
        container.close()


def load_audio(
    path: str | Path | io.BytesIO, name: str | None = None, max_seconds: float | None = None
) -> np.ndarray:
    """The whole file as float32 mono 16 kHz samples. Raises AudioError if it holds no sound.

    With `max_seconds`, a longer file is refused as soon as that much has been decoded, so
    a two-hour file never fills memory.
    """
    label = name or str(path)
    blocks = []
    held = 0
    for block in iter_audio(path, name=name):
        blocks.append(block)
        held += block.size
        if max_seconds is not None and held > max_seconds * SAMPLE_RATE:
            raise AudioError(
                f"{label} is longer than the longest entry allowed ({_minutes(max_seconds)}). "
                "Raise max_seconds in your settings, or use `voicejournal transcribe` for long recordings."
            )
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    if samples.size == 0:
        raise AudioError(f"{label} holds no sound (0 seconds of audio).")
    return samples


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"


# --- voice activity ------------------------------------------------------------------------


class StreamingVad:
    """Silero VAD (shipped inside faster-whisper) fed a few milliseconds at a time.

    faster-whisper's `get_speech_timestamps` needs the whole recording; here the model's
    recurrent state and 64-sample context are carried from one call to the next so a live
    stream gets the same judgement window by window.
    """

    CONTEXT = 64
    #: Windows whose loudest sample is below this (about -66 dBFS) are silence, unjudged.
    QUIET = 5e-4
    SKIP_AFTER = 16

    def __init__(self) -> None:
        # onnxruntime and the model load on first use (~0.1 s), not at import.
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self._state = np.zeros((2, 1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        self._rest = np.zeros(0, dtype=np.float32)
        self._quiet_run = 0

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Speech probabilities for each complete 512-sample window now available."""
        audio = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32).reshape(-1)])
        count = audio.size // VAD_WINDOW
        self._rest = audio[count * VAD_WINDOW:]
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        windows = audio[: count * VAD_WINDOW].reshape(count, VAD_WINDOW)
        contexts = np.concatenate([self._context[None, :], windows[:-1, -self.CONTEXT:]], axis=0)
        batch = np.concatenate([contexts, windows], axis=1)
        self._context = windows[-1, -self.CONTEXT:].copy()
        probs = np.zeros(count, dtype=np.float32)
        # Long digital silence (padding, a muted stretch) can't be speech: after the model has
        # seen SKIP_AFTER quiet windows in a row (its state has settled on "silence"), the
        # rest of that silence is skipped. A two-hour file of mostly silence becomes cheap;
        # anything audible is always judged by the model.
        quiet = np.abs(windows).max(axis=1) < self.QUIET
        judge = np.ones(count, dtype=bool)
        run = self._quiet_run
        for i in range(count):
            run = run + 1 if quiet[i] else 0
            judge[i] = run <= self.SKIP_AFTER
        self._quiet_run = run
        rows_all = np.flatnonzero(judge)
        for start in range(0, rows_all.size, 10000):
            rows = rows_all[start:start + 10000]
            out, h, c = self._session.run(None, {"input": batch[rows], "h": self._state[0], "c": self._state[1]})
            self._state = np.stack([h, c])
            probs[rows] = np.asarray(out, dtype=np.float32).reshape(-1)
        return probs


@dataclass
class SpeechTracker:
    """Turns window probabilities into speech time, trailing silence and pause points.

    Hysteresis as in Silero: a window is speech above `threshold`, and stays speech until the
    probability drops below `threshold - 0.15`.
    """

    threshold: float = 0.5
    window_s: float = VAD_WINDOW / SAMPLE_RATE
    speech_s: float = 0.0
    trailing_silence_s: float = 0.0
    in_speech: bool = False
    heard_since_cut: bool = False

    def update(self, prob: float) -> bool:
        if prob >= self.threshold or (self.in_speech and prob >= self.threshold - 0.15):
            self.in_speech = True
            self.speech_s += self.window_s
            self.trailing_silence_s = 0.0
            self.heard_since_cut = True
        else:
            self.in_speech = False
            self.trailing_silence_s += self.window_s
        return self.in_speech

    @property
    def started(self) -> bool:
        return self.speech_s > 0


class SpeechChunker:
    """Cuts a stream into contiguous chunks at pauses in speech.

    Chunks are consecutive slices of the stream (silence included), so the sum of their
    lengths is where the next one starts; that is how `StreamingTranscriber.finish` knows
    what is left to transcribe. A cut falls in the middle of a pause:
    - of `pause_s` once the chunk holds `min_chunk_s` (Whisper gets long, well-formed pieces);
    - of `end_pause_s` once it holds `end_chunk_s` (this may be the end of the entry, so the
      last words get transcribed during the closing silence rather than after it);
    - at the latest pause before `max_chunk_s`, or right there if nobody paused.

    `on_draft`, if given, is offered the chunk so far after a pause of `draft_pause_s` that
    is not yet a cut, and is called with None when speech starts again (that draft is out of
    date). Until then the chunk's speech is exactly the draft's: only silence follows.
    """

    def __init__(
        self,
        on_chunk: Callable[[np.ndarray], None],
        pause_s: float = CHUNK_PAUSE_S,
        min_chunk_s: float = MIN_CHUNK_S,
        max_chunk_s: float = MAX_CHUNK_S,
        end_pause_s: float = END_PAUSE_S,
        end_chunk_s: float = END_CHUNK_S,
        vad: StreamingVad | None = None,
        on_silence: Callable[[np.ndarray], None] | None = None,
        on_draft: Callable[[np.ndarray | None], None] | None = None,
        draft_pause_s: float = DRAFT_PAUSE_S,
    ) -> None:
        self.on_chunk = on_chunk
        self.on_draft = on_draft
        self.draft_windows = max(1, round(draft_pause_s * SAMPLE_RATE / VAD_WINDOW))
        self._drafted = False  # a draft is out and still covers all the chunk's speech
        # Chunks in which the VAD heard nobody go here instead, when given (a long file's
        # silent stretches need no transcription, only to be counted).
        self.on_silence = on_silence
        self.vad = vad or StreamingVad()
        self.tracker = SpeechTracker()
        self.pause_windows = max(1, round(pause_s * SAMPLE_RATE / VAD_WINDOW))
        self.end_pause_windows = max(1, round(end_pause_s * SAMPLE_RATE / VAD_WINDOW))
        self.min_samples = int(min_chunk_s * SAMPLE_RATE)
        self.max_samples = int(max_chunk_s * SAMPLE_RATE)
        self.end_samples = int(end_chunk_s * SAMPLE_RATE)
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._judged = 0  # samples of the buffer the VAD has already judged
        self._silent_run = 0
        self._last_pause = 0  # middle of the latest short pause in the buffer (0: none yet)
        self.emitted = 0  # samples handed on so far

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; returns their speech probabilities (one per completed window)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._buffer.append(samples)
        self._buffered += samples.size
        probs = self.vad.feed(samples)
        for prob in probs:
            self._judged += VAD_WINDOW
            if self.tracker.update(float(prob)):
                self._silent_run = 0
                if self._drafted:
                    self._drafted = False
                    self.on_draft(None)
            else:
                self._silent_run += 1
                middle = self._judged - (self._silent_run * VAD_WINDOW) // 2
                if self._silent_run >= 2 and self.tracker.heard_since_cut:
                    self._last_pause = middle
                if self.tracker.heard_since_cut and (
                    (self._silent_run == self.pause_windows and self._judged >= self.min_samples)
                    or (self._silent_run == self.end_pause_windows and self._judged >= self.end_samples)
                ):
                    self._cut(middle)
                    continue
                if (self.on_draft is not None and self._silent_run == self.draft_windows
                        and self.tracker.heard_since_cut and self._judged >= self.end_samples):
                    self._offer_draft()
            if self._judged >= self.max_samples:
                self._cut(self._last_pause or self._judged)
        return probs

    def _offer_draft(self) -> None:
        joined = np.concatenate(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        self._buffer = [joined]
        self._drafted = True
        self.on_draft(joined[:self._judged])

    def _cut(self, at: int) -> None:
        self._drafted = False  # the cut chunk (or the stream's end) takes the draft's place
        joined = np.concatenate(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        chunk, rest = joined[:at], joined[at:]
        silent = not self.tracker.heard_since_cut
        self._buffer, self._buffered = [rest], rest.size
        self._judged = max(0, self._judged - at)
        self._last_pause = 0
        # Speech after the cut point (the start of the next sentence) still counts.
        self.tracker.heard_since_cut = self._judged - self._silent_run * VAD_WINDOW > 0
        self.emitted += chunk.size
        if chunk.size:
            (self.on_silence if silent and self.on_silence else self.on_chunk)(chunk)

    def remainder(self) -> np.ndarray:
        """What has not been handed on yet (the end of the stream)."""
        if not self._buffer:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._buffer)


# --- devices -------------------------------------------------------------------------------


def _sounddevice():
    """Import sounddevice, turning a missing PortAudio into a clear DeviceError."""
    try:
        import sounddevice  # loads the PortAudio C library, which may be missing

        return sounddevice
    except OSError:
        raise DeviceError(
            "The audio library PortAudio is not installed, so the microphone can't be used. "
            "Install it (Debian/Ubuntu: sudo apt-get install libportaudio2), "
            "or give a recording with --input FILE."
        ) from None


@dataclass
class Device:
    """One audio device as PortAudio sees it."""

    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float
    is_default_input: bool = False
    is_default_output: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "name": self.name,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "default_rate": self.default_rate,
            "default_input": self.is_default_input,
            "default_output": self.is_default_output,
        }


def list_devices() -> list[Device]:
    """Every input and output device PortAudio can see (empty when there is none)."""
    sd = _sounddevice()
    try:
        found = sd.query_devices()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as exc:
        raise DeviceError(f"Can't list audio devices ({exc}). Is a sound server running?") from None
    devices = []
    for info in found:
        devices.append(
            Device(
                index=int(info["index"]),
                name=str(info["name"]),
                inputs=int(info["max_input_channels"]),
                outputs=int(info["max_output_channels"]),
                default_rate=float(info["default_samplerate"]),
                is_default_input=int(info["index"]) == default_in,
                is_default_output=int(info["index"]) == default_out,
            )
        )
    return devices


def _device_arg(name: str | None) -> int | str | None:
    if name is None or name == "":
        return None
    return int(name) if name.strip().isdigit() else name


def check_input_device(device: str | None = None) -> Device:
    """The input device that would be used; DeviceError saying what to do if there is none."""
    sd = _sounddevice()
    try:
        info = sd.query_devices(_device_arg(device), kind="input")
    except (sd.PortAudioError, ValueError) as exc:
        if device:
            names = ", ".join(f"{d.index}: {d.name}" for d in list_devices() if d.inputs) or "none"
            raise DeviceError(
                f"No microphone matches '{device}' ({exc}). Microphones found: {names}. "
                "See `voicejournal devices`."
            ) from None
        raise DeviceError(
            "No microphone was found. Plug one in (or start your sound server), check "
            "`voicejournal devices`, or give a recording with --input FILE."
        ) from None
    return Device(
        index=int(info["index"]),
        name=str(info["name"]),
        inputs=int(info["max_input_channels"]),
        outputs=int(info["max_output_channels"]),
        default_rate=float(info["default_samplerate"]),
        is_default_input=True,
    )


# --- recording -----------------------------------------------------------------------------


class RecorderUI(Protocol):
    """What the recorder shows while it listens (the CLI draws it; None draws nothing)."""

    def level(self, rms: float, elapsed_s: float, paused: bool) -> None: ...

    def message(self, text: str) -> None: ...

    def state(self, name: str) -> None:
        """The recorder's state changed: "listening" (the microphone is delivering sound),
        "speech" (the person has started speaking), "paused" or "resumed". Scripts and tests
        wait for these instead of guessing how long things take."""


@dataclass
class Recording:
    """A take from the microphone."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    duration_s: float = 0.0
    speech_s: float = 0.0
    ended_by: str = "silence"
    notes: list[str] = field(default_factory=list)

    @property
    def has_speech(self) -> bool:
        """At least a second of voice: shorter takes (a cough, noise) are not entries."""
        return self.speech_s >= MIN_SPEECH_S


class _Keys:
    """Reads single keys from a terminal in a thread: Enter ends, Space pauses, q quits."""

    def __init__(self) -> None:
        self.pressed: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved = None

    def start(self) -> None:
        if not sys.stdin or not sys.stdin.isatty():
            return  # no terminal (a pipe, a test): hands-free only
        import termios  # POSIX only; Windows has no cbreak mode and stays hands-free
        import tty

        fd = sys.stdin.fileno()
        try:
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except termios.error:
            return
        self._thread = threading.Thread(target=self._read, args=(fd,), daemon=True)
        self._thread.start()

    def _read(self, fd: int) -> None:
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                char = os.read(fd, 1).decode(errors="ignore")
                if char:
                    self.pressed.put(char)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=1)
        if self._saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)


class Recorder:
    """Records one entry from the configured microphone until the person is done.

    Audio arrives in a PortAudio callback (which only copies blocks into a queue); this
    thread runs the VAD, the level meter and the keys, and hands speech chunks to
    `on_chunk` so transcription can start before the person has finished.
    """

    BLOCK = VAD_WINDOW * 2  # 64 ms: smooth meter, cheap VAD calls

    def __init__(self, config: Config, ui: RecorderUI | None = None, keys: bool = True,
                 answer_keys: str = "") -> None:
        self.config = config
        self.ui = ui
        self.keys = keys
        self.answer_keys = answer_keys  # keys that answer a question ("yn"): ended_by "key:y"

    def record(self, on_chunk: Callable[[np.ndarray], None] | None = None,
               on_draft: Callable[[np.ndarray | None], None] | None = None) -> Recording:
        """Record until `silence_seconds` of quiet after speech, Enter, `q`, max length or Ctrl-C.

        `on_chunk` and `on_draft` are the SpeechChunker's callbacks (StreamingTranscriber's).
        """
        sd = _sounddevice()
        check_input_device(self.config.device)
        blocks: queue.Queue[np.ndarray] = queue.Queue()
        overflows = 0

        def callback(indata, _frames, _time, status) -> None:
            nonlocal overflows
            if status.input_overflow:
                overflows += 1
            blocks.put(indata[:, 0].copy())

        chunker = SpeechChunker(on_chunk or (lambda _c: None), on_draft=on_draft)
        kept: list[np.ndarray] = []
        kept_samples = 0
        paused = False
        ended_by = "silence"
        keys = _Keys()
        heard_any = heard_speech = False
        try:
            stream = sd.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                blocksize=self.BLOCK,
                device=_device_arg(self.config.device),
                callback=callback,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(
                f"The microphone can't be opened ({exc}). It may be in use by another program, "
                "or not support 16 kHz mono. Close other recording apps, pick another with --device "
                "(see `voicejournal devices`), or give a recording with --input FILE."
            ) from None
        max_samples = int(self.config.max_seconds * SAMPLE_RATE)
        started = time.monotonic()
        try:
            if self.keys:
                keys.start()
            with stream:
                while True:
                    try:
                        block = blocks.get(timeout=2.0)
                    except queue.Empty:
                        raise DeviceError(
                            "The microphone stopped sending sound. Check that it is connected, "
                            "or give a recording with --input FILE."
                        ) from None
                    if not heard_any:
                        heard_any = True
                        self._state("listening")
                    key = _next_key(keys)
                    if key in ("\n", "\r"):
                        ended_by = "enter"
                        break
                    if key and key.lower() in self.answer_keys:
                        ended_by = f"key:{key.lower()}"
                        break
                    if key in ("q", "Q"):
                        ended_by = "quit"
                        break
                    if key == " ":
                        paused = not paused
                        if self.ui:
                            self.ui.message("Paused. Press Space to go on." if paused else "Listening again.")
                        self._state("paused" if paused else "resumed")
                    if paused:
                        if self.ui:
                            self.ui.level(0.0, kept_samples / SAMPLE_RATE, True)
                        continue
                    kept.append(block)
                    kept_samples += block.size
                    chunker.feed(block)
                    if self.ui:
                        rms = float(np.sqrt(np.mean(block * block))) if block.size else 0.0
                        self.ui.level(rms, kept_samples / SAMPLE_RATE, False)
                    tracker = chunker.tracker
                    if tracker.started and not heard_speech:
                        heard_speech = True
                        self._state("speech")
                    if tracker.started and tracker.trailing_silence_s >= self.config.silence_seconds:
                        ended_by = "silence"
                        break
                    if kept_samples >= max_samples:
                        ended_by = "max"
                        break
        except KeyboardInterrupt:
            ended_by = "interrupt"  # keep what was said; the caller decides what comes next
        except sd.PortAudioError as exc:
            raise DeviceError(f"Recording failed ({exc}). Check the microphone and try again.") from None
        finally:
            keys.stop()
        samples = np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)
        recording = Recording(
            samples=samples,
            duration_s=samples.size / SAMPLE_RATE,
            speech_s=chunker.tracker.speech_s,
            ended_by=ended_by,
        )
        if overflows:
            recording.notes.append(f"{overflows} audio blocks arrived late; a few milliseconds may be missing.")
        log.info(
            "recorded %.1f s (%.1f s speech) in %.1f s, ended by %s",
            recording.duration_s, recording.speech_s, time.monotonic() - started, ended_by,
        )
        return recording

    def _state(self, name: str) -> None:
        notify = getattr(self.ui, "state", None)  # a UI may only draw the meter
        if notify is not None:
            notify(name)


def _next_key(keys: _Keys) -> str | None:
    try:
        return keys.pressed.get_nowait()
    except queue.Empty:
        return None


def speech_seconds(samples: np.ndarray) -> float:
    """How much of `samples` is voice, by Silero VAD (for files, where no tracker ran)."""
    tracker = SpeechTracker()
    for prob in StreamingVad().feed(samples):
        tracker.update(float(prob))
    return tracker.speech_s
