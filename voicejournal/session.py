"""The check-in: the only module that knows the order of the pipeline stages.

    capture (mic / file / text) -> transcribe -> reflect (+ safety, memory) -> speak -> store

`complete_entry` finishes whatever an entry still owes (its transcript, its reflection);
`add`, `retry`, `write` and the check-in loop all go through it, so an entry is saved
before any stage that could fail, and a failure leaves it pending rather than lost.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicejournal.errors import VoiceJournalError
from voicejournal.models import STATUS_COMPLETE, STATUS_PENDING, Entry

if TYPE_CHECKING:  # the stages are imported lazily: they pull in Whisper, numpy, openai
    from voicejournal.config import Config
    from voicejournal.names import NameHints
    from voicejournal.reflection import ReflectionResult, Reflector
    from voicejournal.speech import Speaker
    from voicejournal.store import EntryStore
    from voicejournal.transcription import Transcriber, Transcript

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
        from voicejournal.names import whisper_names
        from voicejournal.transcription import get_transcriber

        try:
            samples = from_wav_bytes(store.read_audio(entry))
            # The whole recording at once, at `beam_size`: nobody is waiting on a file or a retry.
            result = (transcriber or get_transcriber(config)).transcribe(samples, names=whisper_names(store))
        except VoiceJournalError as exc:
            _mark_pending(store, entry, f"transcription failed: {exc}")
            raise
        apply_transcript(store, entry, result, config)
        entry.pending_reason = None if entry.transcript else "no speech was heard"
        store.update(entry)

    if reflect and entry.transcript and entry.reflection is None and entry.safety is None:
        from voicejournal.reflection import get_reflector

        try:
            result = (reflector or get_reflector(config)).reflect(
                entry.transcript, practice=entry.practice or config.practice, history=past_entries(store, entry)
            )
        except VoiceJournalError as exc:
            _mark_pending(store, entry, f"reflection failed: {exc}")
            raise
        apply_reflection(entry, result)

    owed = not entry.transcript or (reflect and entry.reflection is None and entry.safety is None)
    entry.status = STATUS_PENDING if owed else STATUS_COMPLETE
    if not owed:
        entry.pending_reason = None
    store.update(entry)
    return entry


def apply_transcript(store: EntryStore, entry: Entry, transcript: Transcript, config: Config) -> None:
    """Put a transcript on the entry; drop the recording if the settings say not to keep it."""
    entry.transcript = transcript.text
    entry.segments = transcript.segments
    entry.language = transcript.language
    entry.duration_s = transcript.duration_s or entry.duration_s
    entry.stt_model = transcript.model
    if not config.keep_audio:
        store.remove_audio(entry)
        entry.audio = None


def apply_reflection(entry: Entry, result: ReflectionResult) -> None:
    """Put what the reflector found (reflection, themes, safety note) on the entry."""
    entry.reflection = result.reflection
    entry.themes = list(result.themes)
    entry.safety = result.safety


def past_entries(store: EntryStore, entry: Entry) -> list[Entry]:
    """The entries made before this one: what memory may draw on."""
    return [e for e in store.all() if e.id != entry.id and e.created <= entry.created]


def _mark_pending(store: EntryStore, entry: Entry, reason: str) -> None:
    entry.status = STATUS_PENDING
    entry.pending_reason = reason
    store.update(entry)
    log.info("entry %s left pending: %s", entry.id, reason)


# --- the check-in loop -----------------------------------------------------------------------
#
# greet (+ small-step follow-up) -> opening prompt -> listen -> save (pending, with audio)
#   -> transcript -> reflect (streamed, spoken sentence by sentence) -> complete
#   -> "is there more?" -> another entry / repeat / skip / close with a summary

ANSWERS = ("more", "end", "repeat", "skip")

# Phrases as Whisper writes them once lower-cased and stripped of punctuation.
_REPEAT = ("repeat", "say that again", "say it again", "again please", "one more time", "pardon",
           "come again", "what did you say")
_SKIP = ("skip", "no reflection")
_END = ("that's all", "that is all", "thats all", "that's it", "that is it", "thats it", "i'm done",
        "i am done", "all done", "done", "stop", "no more", "nothing more", "nothing else", "not now",
        "no", "nope", "no thanks", "no thank you", "finish", "finished", "enough", "goodbye", "bye",
        "quit", "end", "i'm finished", "that'll do", "nah")
_MORE = ("yes", "yeah", "yep", "yup", "more", "there is", "there's more", "one more", "another",
         "continue", "go on", "keep going", "sure", "please", "i do", "actually")

_HALLUCINATIONS = ("thank you", "thanks", "you", "thank you for watching", "bye bye")


def _normalise(text: str) -> str:
    import re

    flat = text.lower().replace("’", "'")
    flat = re.sub(r"[^a-z' ]+", " ", flat)
    return " ".join(flat.split())


def _has_phrase(text: str, phrases: tuple[str, ...]) -> bool:
    padded = f" {text} "
    return any(f" {p} " in padded for p in phrases)


def classify_answer(text: str) -> str | None:
    """What a short spoken (or typed) answer to "is there more?" asks for.

    Returns "more", "end", "repeat", "skip", or None when it isn't clear. Whisper writes
    "That's all." / "that is all" / "Done." / "No, thanks."; tiny models mishear a little,
    so whole answers that are close to a known phrase count too.
    """
    said = _normalise(text)
    # Whisper writes these into silence or noise: never act on them, ask again instead.
    if not said or said in _HALLUCINATIONS:
        return None
    # In a long answer only its start is the answer ("No, that's all for today, thanks ..."); a
    # word like "end" further on ("she rang in the end") is part of the story being told.
    words = said.split()
    long = len(words) >= CARRY_ON_WORDS
    start = " ".join(words[:3]) if long else said
    if _has_phrase(" ".join(words[:6]) if long else said, _REPEAT):
        return "repeat"
    if _has_phrase(start, _SKIP):
        return "skip"
    # "no more" / "nothing more" must end, even though they contain "more".
    if _has_phrase(start, _END):
        return "end"
    if _has_phrase(start, _MORE):
        return "more"
    if said.endswith(" all") and len(words) <= 4:  # "that's all" misheard: "next all", "dat's all"
        return "end"
    if long:
        return None
    import difflib

    candidates = {p: "end" for p in _END} | {p: "more" for p in _MORE} | {p: "repeat" for p in _REPEAT}
    close = difflib.get_close_matches(said, list(candidates), n=1, cutoff=0.75)
    return candidates[close[0]] if close else None


#: An answer to "is there more?" this long, and not a clear "no", is kept as an entry itself.
CARRY_ON_WORDS = 8


def _word_count(text: str | None) -> int:
    return len((text or "").split())


# Whisper's prompt biases it towards the words it expects: a short answer is one of these.
ANSWER_PROMPT = "Yes, more. No, that's all. Done. Stop. Repeat that. Skip."


def transcribe_answer(transcriber: Transcriber, samples: Any) -> str:
    """The transcript of a short spoken answer, with Whisper primed for the answers we offer."""
    return transcriber.transcribe(samples, prompt=ANSWER_PROMPT).text


# The answer to "are you having thoughts of ending your life, or of hurting yourself?". Anything
# yes-like, even partly ("sometimes", "a bit", "no... well maybe"), is taken as yes: a caring
# message costs little. "I don't know" is not a yes or a no.
_CHECK_YES = ("yes", "yeah", "yep", "yup", "aye", "i am", "i have", "i do", "sometimes", "a bit", "a little",
              "kind of", "kinda", "sort of", "maybe", "i think so", "probably", "a lot", "all the time", "lately")
_CHECK_NO = ("no", "nope", "nah", "not at all", "i'm not", "i am not", "no i'm not", "i'm okay", "i'm ok",
             "i'm fine", "i am fine", "i'm alright", "never", "definitely not", "not really")
_CHECK_UNSURE = ("not sure", "don't know", "dont know", "no idea", "i dunno", "dunno")
CHECK_PROMPT = "Yes. No. I'm not sure."


def classify_check_answer(text: str) -> str:
    """"yes", "no" or "unclear", for a spoken or typed answer to the direct check-in question."""
    said = _normalise(text)
    if not said or said in _HALLUCINATIONS:
        return "unclear"
    if _has_phrase(said, _CHECK_UNSURE):
        return "unclear"
    if _has_phrase(said, _CHECK_YES):
        return "yes"
    if _has_phrase(" ".join(said.split()[:4]), _CHECK_NO):
        return "no"
    return "unclear"


@dataclass
class Heard:
    """One turn of listening: an entry, or an answer to "is there more?".

    `samples` is the recording (None for typed text); `text` is typed text or an answer's
    transcript; `transcribe` finishes the transcript of a recording (called only after
    the audio is saved); `ended_by` is the Recorder's reason, or "text" / "eof".
    """

    ended_by: str
    samples: Any = None
    text: str | None = None
    has_speech: bool = False
    duration_s: float | None = None
    transcribe: Callable[[], Transcript] | None = None
    notes: list[str] = field(default_factory=list)


class Listener(ABC):
    """Where entries and answers come from: the microphone, a file, or typed text."""

    source = "mic"
    one_pass = False
    #: Called with the transcript so far whenever transcription catches up while the person may
    #: still be speaking (set by the check-in, which starts its crisis check early with it).
    look_ahead: Callable[[str], None] | None = None

    @abstractmethod
    def entry(self) -> Heard:
        """Listen for one entry."""

    @abstractmethod
    def answer(self) -> Heard:
        """Listen for a short answer to "is there more?"."""

    def yes_no(self) -> Heard:
        """Listen for a yes or no (the direct check-in question); by default, nobody can answer."""
        return Heard(ended_by="eof")


class MicListener(Listener):
    """Hands-free: records with the Recorder (VAD endpointing) and transcribes while recording."""

    source = "mic"

    def __init__(self, config: Config, transcriber: Transcriber, ui: Any = None,
                 answer_silence_s: float = 1.0, answer_max_s: float = 10.0,
                 names: Sequence[str] | NameHints = ()) -> None:
        self.config = config
        self.transcriber = transcriber
        self.ui = ui
        self.names = names  # people's names for Whisper to spell right (voicejournal.names)
        self.answer_config = config.with_overrides(
            silence_seconds=min(answer_silence_s, config.silence_seconds), max_seconds=answer_max_s
        )

    def entry(self) -> Heard:
        from voicejournal.audio import Recorder
        from voicejournal.transcription import StreamingTranscriber

        # Chunks cut while the person talks use beam_size; what is left when they stop, final_beam_size.
        streaming = StreamingTranscriber(self.transcriber, names=self.names, beam_size=self.config.beam_size,
                                         final_beam_size=self.config.final_beam_size,
                                         on_caught_up=self.look_ahead)
        recording = Recorder(self.config, self.ui).record(on_chunk=streaming.on_chunk, on_draft=streaming.on_draft)
        return Heard(
            ended_by=recording.ended_by,
            samples=recording.samples,
            has_speech=recording.has_speech,
            duration_s=recording.duration_s,
            transcribe=lambda: streaming.finish(recording.samples),
            notes=list(getattr(recording, "notes", [])),
        )

    def answer(self) -> Heard:
        from voicejournal.audio import Recorder

        recording = Recorder(self.answer_config, self.ui).record()
        # A "yes" is shorter than the second of voice an entry needs: any voice counts here.
        spoke = recording.speech_s > 0.15
        text = transcribe_answer(self.transcriber, recording.samples) if spoke else ""
        samples = recording.samples
        return Heard(
            ended_by=recording.ended_by, samples=samples, text=text, has_speech=spoke,
            duration_s=recording.duration_s,
            # if the answer turns out to be more of the entry, transcribe it unprimed
            transcribe=lambda: self.transcriber.transcribe(samples, names=self.names,
                                                           beam_size=self.config.final_beam_size),
        )

    def yes_no(self) -> Heard:
        from voicejournal.audio import Recorder

        recording = Recorder(self.answer_config, self.ui, answer_keys="yn").record()
        spoke = recording.speech_s > 0.15
        text = self.transcriber.transcribe(recording.samples, prompt=CHECK_PROMPT).text if spoke else ""
        return Heard(ended_by=recording.ended_by, samples=recording.samples, text=text, has_speech=spoke)


class FileListener(Listener):
    """`--input FILE`: one pass of the loop on a recording."""

    source = "file"
    one_pass = True

    def __init__(self, path: Path, transcriber: Transcriber | None, config: Config,
                 names: Sequence[str] | NameHints = ()) -> None:
        self.path = Path(path)
        self.transcriber = transcriber
        self.config = config
        self.names = names
        self._used = False

    def entry(self) -> Heard:
        from voicejournal.audio import MIN_SPEECH_S, SAMPLE_RATE, load_audio, speech_seconds

        if self._used:
            return Heard(ended_by="eof")
        self._used = True
        # The same checks as `add`: a recording over the length limit is refused while it is
        # decoded (never all in memory), and one with under a second of voice is no entry.
        samples = load_audio(self.path, max_seconds=self.config.max_seconds)
        spoke = speech_seconds(samples) >= MIN_SPEECH_S

        def transcribe() -> Transcript:
            from voicejournal.transcription import get_transcriber

            return (self.transcriber or get_transcriber(self.config)).transcribe(samples, names=self.names)

        return Heard(ended_by="eof", samples=samples, has_speech=spoke,
                     duration_s=samples.size / SAMPLE_RATE, transcribe=transcribe)

    def answer(self) -> Heard:
        return Heard(ended_by="eof")


class TextListener(Listener):
    """`--text`: the same loop, typed. `read(prompt)` returns a line, or None at end of input."""

    source = "text"

    def __init__(self, read: Callable[[str], str | None]) -> None:
        self.read = read

    def entry(self) -> Heard:
        line = self.read("Your entry")
        if line is None:
            return Heard(ended_by="eof")
        text = line.strip()
        if text.lower() == "q":
            return Heard(ended_by="quit")
        return Heard(ended_by="text", text=text, has_speech=bool(text))

    def yes_no(self) -> Heard:
        line = self.read("Yes or no")
        if line is None:
            return Heard(ended_by="eof")
        return Heard(ended_by="text", text=line.strip(), has_speech=bool(line.strip()))

    def answer(self) -> Heard:
        line = self.read("More? (Enter to go on, q to finish, or type 'repeat' / 'skip')")
        if line is None:
            return Heard(ended_by="eof")
        text = line.strip()
        if not text:
            return Heard(ended_by="enter")
        if text.lower() == "q":
            return Heard(ended_by="quit")
        return Heard(ended_by="text", text=text, has_speech=True)


class SessionView:
    """What the person sees. The CLI subclasses it to print; the default shows nothing.

    It is also the Recorder's UI (`level`, `message`).
    """

    def show(self, kind: str, text: str) -> None:
        """Show `text`; `kind` is greeting, prompt, transcript, reflection, notice, closing or help."""

    def reflection_sentence(self, sentence: str) -> None:
        """One sentence of the reflection, as soon as it is ready (before it is spoken)."""

    def listening(self, what: str) -> None:
        """The microphone is about to listen for an "entry" or an "answer" (everything before is said)."""

    def state(self, name: str) -> None:
        """The recorder's state: "listening" once the microphone delivers sound, then "speech",
        "paused", "resumed" (see `audio.RecorderUI`)."""

    def level(self, rms: float, elapsed_s: float, paused: bool) -> None:
        """The level meter while recording."""

    def message(self, text: str) -> None:
        self.show("notice", text)


@dataclass
class CheckinResult:
    """What a check-in did: the entries it saved, in order, and how it ended."""

    entries: list[Entry] = field(default_factory=list)
    ended_by: str = "end"
    interrupted: bool = False
    notices: list[str] = field(default_factory=list)


class LookAhead:
    """Runs `work(text)` in one background thread on the latest text it was given.

    The check-in hands it the transcript so far each time transcription catches up. In the
    pause that ends an entry, that is the whole entry, so its crisis check is read while the
    person is still silent, and lands in the reading cache (`meaning.read`) for when the entry
    really ends. If they go on speaking, only the newest text is worked on.
    """

    def __init__(self, work: Callable[[str], object]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._next: str | None = None
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()  # set while nothing is being worked on (tests wait on it)
        self.idle.set()

    def __call__(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            self._next = text
            self.idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="voicejournal-look-ahead", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                text, self._next = self._next, None
                if text is None:
                    self._thread = None
                    self.idle.set()
                    return
            try:
                self._work(text)
            except Exception:  # only ever a head start: the real check runs when the entry ends
                log.exception("looking ahead failed")


class CheckinSession:
    """The hands-free check-in loop. See the module's diagram for the order of things.

    Every stage that can fail comes after the entry is saved, so a failure or Ctrl-C leaves
    a pending entry (finished later with `voicejournal retry`) and never loses what was said.
    """

    def __init__(
        self,
        store: EntryStore,
        config: Config,
        listener: Listener,
        speaker: Speaker,
        reflector: Reflector | None = None,
        view: SessionView | None = None,
        practice: str | None = None,
        reflect: bool = True,
        seed: int | None = None,
    ) -> None:
        import random

        self.store = store
        self.config = config
        self.listener = listener
        self.speaker = speaker
        self.reflector = reflector
        self.view = view or SessionView()
        self.practice = practice or config.practice
        self.reflect = reflect
        self.random = random.Random(seed)
        self.seed = seed
        self.result = CheckinResult()
        self._reflect_next = reflect
        self._last_said: str | None = None
        self._asked_check = False  # the direct question is asked at most once per check-in

    # -- talking --
    def _pick(self, name: str) -> str:
        from voicejournal.prompts import read_lines

        return self.random.choice(read_lines(f"session/{name}.txt"))

    def _say(self, kind: str, text: str) -> None:
        self.view.show(kind, text)
        self.speaker.say(text)
        self._tell_speech_problem()

    def _tell_speech_problem(self) -> None:
        problem = self.speaker.take_problem()
        if problem:
            self.result.notices.append(problem)
            self.view.show("notice", problem)

    def greeting(self) -> str:
        """The greeting, asking about last time's small step if one is still open."""
        entries = self.store.all()
        greeting = self._pick("greeting" if entries else "greeting_first")
        try:
            from voicejournal.reflection import followup_prompt
        except ImportError:  # an older reflection package without small steps
            return greeting
        follow = followup_prompt(entries)
        return f"{greeting} {follow}" if follow else greeting

    def opening(self) -> str:
        from voicejournal.reflection.practices import get_practice

        return get_practice(self.practice).opening(seed=self.seed)

    # -- the loop --
    def run(self) -> CheckinResult:
        """Run the check-in until the person is done; returns what was saved."""
        try:
            self._run()
        except KeyboardInterrupt:
            self.result.interrupted = True
            self.result.ended_by = "interrupt"
            self.speaker.stop()
        finally:
            self.speaker.close()
        return self.result

    def _run(self) -> None:
        opening = self.opening()  # an unknown practice fails here, before anything is said
        # Start loading the neural voice now, in the background, so that neither the greeting
        # nor the first reflection waits for it (the CLI starts it even earlier; it loads once).
        preload_voice = getattr(self.speaker, "preload", None)
        if preload_voice is not None:
            preload_voice()
        if self.reflect:
            # Load the crisis check's sentence encoder while the person is still speaking, so
            # the first entry doesn't wait for it; a failure only logs (rules still run).
            try:
                from voicejournal.reflection.embedding import preload

                preload()
            except Exception as exc:
                log.warning("Could not start loading the crisis-check encoder: %s", exc)
            if hasattr(self.listener, "look_ahead"):
                self.listener.look_ahead = LookAhead(self._read_ahead)
        self._say("greeting", self.greeting())
        for line in self._help_lines():
            self.view.show("help", line)
        prompt = opening
        reflect_next = self.reflect
        carried: Heard | None = None
        while True:
            if carried is not None:
                heard, carried = carried, None  # they answered "is there more?" by simply going on
            else:
                self._say("prompt", prompt)
                self.view.listening("entry")
                self._reflect_next = reflect_next
                heard = self.listener.entry()
            if heard.ended_by == "interrupt" and not heard.has_speech:
                raise KeyboardInterrupt
            if heard.ended_by in ("eof", "quit") and not heard.has_speech:
                if heard.samples is not None and heard.samples.size:
                    self._say("notice", self._pick("no_speech"))  # a recording with no voice in it
                self.result.ended_by = heard.ended_by
                break
            if not heard.has_speech:
                self._say("notice", self._pick("no_speech"))
            else:
                for note in heard.notes:
                    self.view.show("notice", note)
                entry = self._save(heard)
                if heard.ended_by == "interrupt":
                    # Ctrl-C while speaking: keep the recording; transcribing can wait for `retry`.
                    raise KeyboardInterrupt
                self._transcribe(entry, heard)
                if entry.transcript and reflect_next:
                    self._reflect(entry)
                elif entry.transcript:
                    self._finish_without_reflection(entry)
            if heard.ended_by == "quit" or self.listener.one_pass:
                self.result.ended_by = "quit" if heard.ended_by == "quit" else "one_pass"
                break
            choice = self._ask_more()
            if isinstance(choice, Heard):
                carried = choice
                continue
            if choice == "end":
                break
            reflect_next = self.reflect
            if choice == "skip":
                reflect_next = False
                self._say("notice", self._pick("skip"))
            prompt = self._pick("next_entry")
        self._close()

    def _help_lines(self) -> list[str]:
        if self.listener.source != "mic":
            return []
        from voicejournal.prompts import read_lines

        return read_lines("session/keys.txt")

    def _save(self, heard: Heard) -> Entry:
        entry = Entry(
            source=self.listener.source,
            practice=self.practice,
            status=STATUS_PENDING,
            pending_reason="transcript not finished",
            duration_s=heard.duration_s,
        )
        if heard.samples is not None:
            from voicejournal.audio import to_wav_bytes

            entry.audio = self.store.write_audio(entry.id, to_wav_bytes(heard.samples))
        else:
            entry.transcript = heard.text or ""
            entry.pending_reason = "reflection not done yet"
        self.store.add(entry)
        self.result.entries.append(entry)
        return entry

    def _transcribe(self, entry: Entry, heard: Heard) -> None:
        if entry.transcript or heard.transcribe is None:
            if entry.transcript:
                self.view.show("transcript", entry.transcript)
            return
        try:
            transcript = heard.transcribe()
        except VoiceJournalError as exc:
            _mark_pending(self.store, entry, f"transcription failed: {exc}")
            self._say("notice", self._pick("reflection_failed"))
            self.view.show("notice", str(exc))
            return
        apply_transcript(self.store, entry, transcript, self.config)
        entry.pending_reason = "reflection not done yet" if entry.transcript else "no speech was heard"
        self.store.update(entry)
        if entry.transcript:
            self.view.show("transcript", entry.transcript)
        else:
            self._say("notice", self._pick("no_speech"))

    def _get_reflector(self) -> Reflector:
        if self.reflector is None:
            from voicejournal.reflection import get_reflector

            self.reflector = get_reflector(self.config)
        return self.reflector

    def _read_ahead(self, text: str) -> None:
        """What may be the whole entry, handled early (see `LookAhead`): its crisis check, and,
        when the reflection can be composed ahead, its first sentence rendered by the voice."""
        if not self._reflect_next:
            return
        from voicejournal.reflection.risk import check_risk

        risk = check_risk(text)
        reflector = self.reflector  # only one already made: making one is the main thread's job
        if risk.level is not None or reflector is None or not reflector.composes_ahead:
            return  # asking first, or the safety message: nothing to get ahead with
        # The entry isn't saved yet, so everything in the journal is its history.
        steps = iter(reflector.stream(text, practice=self.practice, history=self.store.all(), risk=risk))
        try:
            first = next(steps, None)
        finally:
            close = getattr(steps, "close", None)
            if close is not None:
                close()  # stop before the end: a composed-ahead reply is never recorded as given
        if first:
            self.speaker.prepare_first(first)

    def _reflect(self, entry: Entry) -> None:
        """Reflect with the streaming API, speaking each sentence as soon as it is ready."""
        try:
            from voicejournal.reflection.risk import LEVEL_CHECK, check_risk

            reflector = self._get_reflector()
            risk = check_risk(entry.transcript)  # read first: when unsure, ask before reflecting
            answer = self._ask_check() if risk.level == LEVEL_CHECK else None
            stream = reflector.stream(entry.transcript, practice=self.practice, history=past_entries(self.store, entry),
                                      check_answer=answer, risk=risk)

            def sentences() -> Iterator[str]:
                for sentence in stream:
                    self.view.reflection_sentence(sentence)
                    yield sentence

            self.speaker.say_sentences(sentences())
            result = stream.result
        except VoiceJournalError as exc:
            _mark_pending(self.store, entry, f"reflection failed: {exc}")
            self.view.show("notice", str(exc))
            self._say("notice", self._pick("reflection_failed"))
            return
        self._tell_speech_problem()
        apply_reflection(entry, result)
        for notice in result.notices:
            self.view.show("notice", notice)
        self._last_said = result.text
        self.view.show("reflection", result.text)
        owed = entry.reflection is None and entry.safety is None
        entry.status = STATUS_PENDING if owed else STATUS_COMPLETE
        entry.pending_reason = "no reflection was written" if owed else None
        self.store.update(entry)

    def _ask_check(self) -> str | None:
        """Ask directly, once, whether they are thinking of ending their life or hurting themselves.

        Returns "yes", "no", "unclear", or None when nobody can answer (a recording given as a
        file) or it was already asked in this check-in.
        """
        from voicejournal.reflection.resources import check_question

        if self._asked_check:
            return None
        self._asked_check = True
        self._say("prompt", check_question())
        self.view.listening("check")
        heard = self.listener.yes_no()
        if heard.ended_by == "interrupt":
            raise KeyboardInterrupt
        if heard.ended_by in ("key:y", "key:n"):
            return "yes" if heard.ended_by == "key:y" else "no"
        if heard.ended_by == "eof" and not heard.text:
            return None
        if heard.text:
            self.view.show("answer", heard.text)
        return classify_check_answer(heard.text or "")

    def _finish_without_reflection(self, entry: Entry) -> None:
        entry.status = STATUS_COMPLETE
        entry.pending_reason = None
        self.store.update(entry)

    def _ask_more(self) -> str | Heard:
        """Ask "is there more?"; returns more / skip / end (repeat is handled here).

        A long answer that isn't a clear "no" is the person simply carrying on: it comes back
        as a Heard to be kept as the next entry, so those words are never thrown away.
        """
        question = self._pick("more")
        asked_again = False
        while True:
            self._say("prompt", question)
            self.view.listening("answer")
            heard = self.listener.answer()
            if heard.ended_by == "interrupt":
                raise KeyboardInterrupt
            if heard.ended_by in ("quit", "eof"):
                self.result.ended_by = heard.ended_by
                return "end"
            if heard.ended_by == "enter" and not heard.has_speech:
                return "more"
            choice = classify_answer(heard.text or "")
            if heard.text:
                self.view.show("answer", heard.text)
            if choice in (None, "more") and heard.has_speech and _word_count(heard.text) >= CARRY_ON_WORDS:
                return heard
            if choice == "repeat":
                if self._last_said:
                    self._say("reflection", self._last_said)
                continue
            if choice in ("more", "skip"):
                return choice
            if choice == "end":
                self.result.ended_by = "end"
                return "end"
            if asked_again:
                self.result.ended_by = "unclear"
                self._say("notice", self._pick("unclear_end"))
                return "end"
            asked_again = True
            question = self._pick("more_again")

    def _close(self) -> None:
        saved = self.result.entries
        if self.result.ended_by == "unclear":
            return  # the kind ending was just said; don't say goodbye twice
        if any(e.safety is not None for e in saved):
            name = "closing_support"  # after a safety message, a goodbye that points to people, not cheer
        else:
            name = "closing" if saved else "closing_none"
        self._say("closing", self._pick(name))
