"""The check-in loop's control flow, with scripted listeners and fake (but real-subclass) stages.

Real: the store (TinyDB on disk), the prompts, the practices, WAV writing. Fake: what the
person says (a scripted Listener), the transcriber and the reflector (subclasses of the real
base classes, including failing ones). Real Whisper, microphone and speaker are covered by
test_checkin_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicejournal.config import Config
from voicejournal.errors import ModelError, UserInputError
from voicejournal.models import Entry, Reflection, Theme
from voicejournal.reflection import ReflectionResult, ReflectionStream, Reflector
from voicejournal.session import CheckinSession, FileListener, Heard, Listener, SessionView, classify_answer
from voicejournal.speech import SilentSpeaker, split_sentences
from voicejournal.store import JournalStore, open_store
from voicejournal.transcription import Transcriber, Transcript

ENTRY_TEXT = "Noor said she would ring after her shift and it is nearly midnight."


class FakeTranscriber(Transcriber):
    model_name = "fake-whisper"

    def __init__(self, text: str = ENTRY_TEXT) -> None:
        super().__init__()
        self.text = text

    def _transcribe(self, samples, *, prompt, language, **options) -> Transcript:
        return Transcript(self.text, [], "en", model=self.model_name)


class FailingTranscriber(Transcriber):
    model_name = "broken-whisper"

    def _transcribe(self, samples, *, prompt, language, **options) -> Transcript:
        raise ModelError("The Whisper model can't be loaded. The recording is kept; run `voicejournal retry`.")


def speech(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def spoken_entry(transcriber: Transcriber | None = None, ended_by: str = "silence") -> Heard:
    samples = speech()
    tr = transcriber or FakeTranscriber()
    return Heard(ended_by=ended_by, samples=samples, has_speech=True, duration_s=2.0,
                 transcribe=lambda: tr.transcribe(samples))


def said(text: str) -> Heard:
    return Heard(ended_by="silence", samples=speech(0.5), text=text, has_speech=True)


# --- fake reflectors: real Reflector subclasses with scripted replies --------------------------


class FakeReflector(Reflector):
    """Replies with a fixed two-sentence reflection, through the real ReflectionStream."""

    name = "fake"
    REPLY = "You've been waiting for Noor's call. That waiting can feel long."

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _generate(self, request):
        yield self.REPLY

    def _result(self) -> ReflectionResult:
        return ReflectionResult(Reflection(self.REPLY, "fake"), [Theme("narrative", "people_leave", ["ring"])],
                                None, self.REPLY)

    def _steps(self, sentences, error=None):
        yield from sentences
        if error is not None:
            raise error
        return self._result()

    def reflect(self, text, practice="checkin", history=(), check_answer=None, risk=None):
        self.calls += 1
        return self._result()

    def stream(self, text, practice="checkin", history=(), check_answer=None, risk=None):
        self.calls += 1
        return ReflectionStream(self._steps(split_sentences(self.REPLY)))


class FailingReflector(FakeReflector):
    def stream(self, text, practice="checkin", history=(), check_answer=None, risk=None):
        return ReflectionStream(self._steps([], ModelError("The reflection model did not answer in time.")))


class InterruptingReflector(FakeReflector):
    def stream(self, text, practice="checkin", history=(), check_answer=None, risk=None):
        return ReflectionStream(self._steps(["One sentence."], KeyboardInterrupt()))


class ScriptedListener(Listener):
    """Plays back a script of entries and answers, like a person at the microphone."""

    source = "mic"

    def __init__(self, entries: list[Heard], answers: list[Heard]) -> None:
        self.entries = list(entries)
        self.answers = list(answers)
        self.asked = 0

    def entry(self) -> Heard:
        return self.entries.pop(0) if self.entries else Heard(ended_by="quit")

    def answer(self) -> Heard:
        self.asked += 1
        return self.answers.pop(0) if self.answers else Heard(ended_by="quit")


class CollectingView(SessionView):
    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []
        self.sentences: list[str] = []

    def show(self, kind: str, text: str) -> None:
        self.shown.append((kind, text))

    def reflection_sentence(self, sentence: str) -> None:
        self.sentences.append(sentence)

    def kinds(self, kind: str) -> list[str]:
        return [t for k, t in self.shown if k == kind]


@pytest.fixture
def store(tmp_path):
    return JournalStore(tmp_path / "journal.json")


def make_session(store, listener, reflector=None, **kwargs):
    view = CollectingView()
    speaker = SilentSpeaker()
    session = CheckinSession(store, Config(), listener, speaker, reflector=reflector or FakeReflector(),
                             view=view, seed=1, **kwargs)
    return session, view, speaker


def test_one_entry_then_thats_all(store):
    listener = ScriptedListener([spoken_entry()], [said("That's all.")])
    session, view, speaker = make_session(store, listener)
    result = session.run()
    assert len(result.entries) == 1 and result.ended_by == "end" and not result.interrupted
    saved = store.all()
    assert len(saved) == 1
    entry = saved[0]
    assert entry.transcript == ENTRY_TEXT and entry.status == "complete" and entry.source == "mic"
    assert entry.practice == "checkin" and entry.stt_model == "fake-whisper"
    assert entry.reflection.text == FakeReflector.REPLY and entry.themes[0].name == "people_leave"
    assert store.read_audio(entry)[:4] == b"RIFF"  # the recording was kept
    # greeting, the practice's opening, the reflection (sentence by sentence), "more?", a closing
    spoken = speaker.spoken
    assert view.kinds("greeting") and view.kinds("prompt")[0] in " ".join(spoken)
    assert view.sentences == ["You've been waiting for Noor's call.", "That waiting can feel long."]
    assert "You've been waiting for Noor's call." in spoken
    assert view.kinds("closing") and view.kinds("closing")[0].split(".")[0] in " ".join(spoken)
    assert view.kinds("transcript") == [ENTRY_TEXT]


@pytest.mark.parametrize("ending", ["No, thanks.", "done", "Stop.", "that is all", "Nothing more."])
def test_yes_records_another_entry_until_an_ending(store, ending):
    listener = ScriptedListener([spoken_entry(), spoken_entry(FakeTranscriber("And I slept badly."))],
                                [said("Yes."), said(ending)])
    session, view, _ = make_session(store, listener)
    result = session.run()
    assert [e.transcript for e in store.all()] == [ENTRY_TEXT, "And I slept badly."]
    assert all(e.status == "complete" for e in store.all())
    assert result.ended_by == "end" and listener.asked == 2


def test_repeat_that_says_the_reflection_again(store):
    listener = ScriptedListener([spoken_entry()], [said("Can you repeat that?"), said("That's all.")])
    session, view, speaker = make_session(store, listener)
    session.run()
    assert speaker.spoken.count("You've been waiting for Noor's call.") == 2
    assert len(store.all()) == 1


def test_skip_saves_the_next_entry_without_a_reflection(store):
    reflector = FakeReflector()
    listener = ScriptedListener([spoken_entry(), spoken_entry(FakeTranscriber("Just noting the day."))],
                                [said("Skip."), said("done")])
    session, view, _ = make_session(store, listener, reflector=reflector)
    session.run()
    first, second = store.all()
    assert first.reflection is not None
    assert second.transcript == "Just noting the day." and second.reflection is None
    assert second.status == "complete"
    assert reflector.calls == 1


def test_unclear_answers_get_one_gentle_re_ask_then_end_kindly(store):
    listener = ScriptedListener([spoken_entry()], [said("Purple elephants."), said("Hmm banana.")] * 3)
    session, view, speaker = make_session(store, listener)
    result = session.run()
    assert listener.asked == 2  # never loops forever
    assert result.ended_by == "unclear"
    assert "that's all" in view.kinds("prompt")[-1]  # the re-ask says how to answer
    assert "saved" in speaker.spoken[-1] or "saved" in " ".join(speaker.spoken[-2:])
    assert len(store.all()) == 1 and store.all()[0].status == "complete"


def test_keys_enter_continues_and_q_quits(store):
    listener = ScriptedListener([spoken_entry(), spoken_entry()],
                                [Heard(ended_by="enter"), Heard(ended_by="quit")])
    session, view, _ = make_session(store, listener)
    result = session.run()
    assert len(store.all()) == 2 and result.ended_by == "quit"


def test_q_while_recording_keeps_that_entry_and_ends(store):
    listener = ScriptedListener([spoken_entry(ended_by="quit")], [])
    session, view, _ = make_session(store, listener)
    result = session.run()
    assert len(store.all()) == 1 and store.all()[0].reflection is not None
    assert listener.asked == 0 and result.ended_by == "quit"


def test_ctrl_c_while_speaking_keeps_the_recording(store):
    listener = ScriptedListener([spoken_entry(ended_by="interrupt")], [])
    session, view, _ = make_session(store, listener)
    result = session.run()
    assert result.interrupted
    entry = store.all()[0]
    assert entry.is_pending and entry.audio and store.read_audio(entry)[:4] == b"RIFF"


def test_ctrl_c_during_reflection_keeps_the_transcript(store):
    listener = ScriptedListener([spoken_entry()], [])
    session, view, _ = make_session(store, listener, reflector=InterruptingReflector())
    result = session.run()
    assert result.interrupted
    entry = store.all()[0]
    assert entry.transcript == ENTRY_TEXT and entry.is_pending


def test_failing_reflector_leaves_the_entry_pending_and_goes_on(store):
    listener = ScriptedListener([spoken_entry()], [said("that's all")])
    session, view, speaker = make_session(store, listener, reflector=FailingReflector())
    result = session.run()
    entry = store.all()[0]
    assert entry.is_pending and "reflection failed" in entry.pending_reason
    assert entry.transcript == ENTRY_TEXT
    assert any("retry" in s for s in speaker.spoken)
    assert result.ended_by == "end"


def test_failing_transcriber_keeps_the_audio_pending(store):
    listener = ScriptedListener([spoken_entry(FailingTranscriber())], [said("that's all")])
    session, view, _ = make_session(store, listener)
    session.run()
    entry = store.all()[0]
    assert entry.is_pending and "transcription failed" in entry.pending_reason and entry.audio


def test_no_speech_saves_nothing(store):
    listener = ScriptedListener([Heard(ended_by="max", samples=np.zeros(16000, np.float32), has_speech=False)],
                                [said("that's all")])
    session, view, speaker = make_session(store, listener)
    session.run()
    assert store.all() == []
    assert any("didn't hear anything" in s for s in speaker.spoken)


def test_practice_frames_the_opening_and_is_stored(store):
    from voicejournal.reflection.practices import get_practice

    listener = ScriptedListener([spoken_entry()], [said("done")])
    session, view, _ = make_session(store, listener, practice="connection")
    session.run()
    assert view.kinds("prompt")[0] in get_practice("connection").openings()
    assert store.all()[0].practice == "connection"


def test_unknown_practice_says_nothing_and_saves_nothing(store):
    listener = ScriptedListener([spoken_entry()], [])
    session, view, speaker = make_session(store, listener, practice="nope")
    with pytest.raises(UserInputError, match="checkin"):
        session.run()
    assert speaker.spoken == [] and store.all() == []


def test_file_listener_runs_one_pass(store, tmp_path):

    # A real voice: the file listener now asks the VAD whether anyone spoke (a tone is no entry).
    wav = Path(__file__).resolve().parent.parent / "audio_samples" / "vctk_p225_001-002.wav"
    listener = FileListener(wav, FakeTranscriber(), Config())
    session, view, _ = make_session(store, listener)
    result = session.run()
    entry = store.all()[0]
    assert entry.source == "file" and entry.transcript == ENTRY_TEXT and entry.status == "complete"
    assert result.ended_by == "one_pass" and view.kinds("closing")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Yes.", "more"), ("Yeah, there's more.", "more"), ("More.", "more"), ("Yes please", "more"),
        ("No.", "end"), ("No, thanks.", "end"), ("That's all.", "end"), ("that is all", "end"),
        ("Thats all", "end"), ("Done.", "end"), ("I'm done.", "end"), ("Stop.", "end"), ("No more.", "end"),
        ("That's it.", "end"), ("Nothing more, thank you.", "end"), ("That’s all.", "end"),
        ("Repeat that.", "repeat"), ("Could you say that again?", "repeat"), ("Repeat.", "repeat"),
        ("Skip.", "skip"), ("Skip it.", "skip"),
        ("", None), ("Purple elephants.", None), ("Thank you.", None),
        ("Dat's all", "end"),  # tiny.en mishearing, matched by closeness
    ],
)
def test_classify_answer(answer, expected):
    assert classify_answer(answer) == expected


def test_small_step_set_last_time_is_asked_about(store):
    from voicejournal.models import Entry

    store.add(Entry(transcript="This week I'll ask Sam for coffee.", practice="getting-started",
                    themes=[Theme("small_step", "set", ["ask Sam for coffee"])]))
    listener = ScriptedListener([], [])
    session, view, speaker = make_session(store, listener)
    session.run()
    greeting = view.kinds("greeting")[0]
    from voicejournal.reflection import followup_prompt

    follow = followup_prompt(store.all())
    assert follow and follow in greeting


def test_ctrl_c_stops_the_voice_at_once(store):
    class StoppableSpeaker(SilentSpeaker):
        stopped = False

        def stop(self) -> None:
            self.stopped = True

    listener = ScriptedListener([spoken_entry()], [])
    speaker = StoppableSpeaker()
    session = CheckinSession(store, Config(), listener, speaker, reflector=InterruptingReflector(), seed=1)
    assert session.run().interrupted and speaker.stopped


def test_after_support_was_offered_the_goodbye_points_to_people(store):
    """Real offline reflector: crisis language gets the safety message, and the closing fits it."""
    from voicejournal.reflection import get_reflector

    class Typed(ScriptedListener):
        source = "text"

    listener = Typed([Heard(ended_by="text", text="I want to die. I have a plan to end it tonight.", has_speech=True)],
                     [said("that's all")])
    session, view, speaker = make_session(store, listener, reflector=get_reflector(Config(), offline=True))
    session.run()
    (entry,) = store.all()
    assert entry.safety is not None and entry.reflection is None and entry.status == "complete"
    assert "reach out" in view.kinds("closing")[0]
    assert any("findahelpline.com" in s or "988" in s for s in speaker.spoken)


def test_simply_carrying_on_is_kept_as_the_next_entry(store):
    """Answering "is there more?" with more of the story: those words become an entry, not a lost answer."""
    more_words = "Yes, and my sister called me back tonight and we talked for an hour."
    samples = speech(4.0)
    carry_on = Heard(ended_by="silence", samples=samples, text=more_words, has_speech=True, duration_s=4.0,
                     transcribe=lambda: FakeTranscriber(more_words).transcribe(samples))
    listener = ScriptedListener([spoken_entry()], [carry_on, said("That's all.")])
    session, view, _ = make_session(store, listener)
    session.run()
    first, second = store.all()
    assert second.transcript == more_words and second.audio and second.reflection is not None
    assert listener.asked == 2 and listener.entries == []  # no new prompt was needed in between


def test_typed_carrying_on_is_kept_too(run, journal_path):
    typed = "Noor said she would ring after her shift.\nShe did ring in the end, and we laughed about my worrying.\nq\n"
    result = run("checkin", "--text", "--no-speak", input=typed)
    assert result.exit_code == 0, result.output
    assert [e.transcript for e in open_store(journal_path).all()] == [
        "Noor said she would ring after her shift.",
        "She did ring in the end, and we laughed about my worrying.",
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("She did ring in the end, and we laughed about my worrying.", None),
        ("No, that's all for today, thank you very much.", "end"),
        ("Yes, and my sister called me back tonight and we talked.", "more"),
        ("Could you say that again please, I missed the end of it.", "repeat"),
    ],
)
def test_long_answers_are_judged_by_how_they_start(answer, expected):
    assert classify_answer(answer) == expected


def test_first_ever_check_in_is_greeted_as_a_first(store):
    from voicejournal.prompts import read_lines

    session, view, _ = make_session(store, ScriptedListener([], []))
    session.run()
    assert view.kinds("greeting")[0] in read_lines("session/greeting_first.txt")
    store.add(Entry(transcript="earlier"))
    session, view, _ = make_session(store, ScriptedListener([], []))
    session.run()
    assert view.kinds("greeting")[0] in read_lines("session/greeting.txt")
