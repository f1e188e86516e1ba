"""Reading ahead: the crisis check of a spoken entry starts in the pause that may end it.

While the person is silent at the end of an entry, everything they said has already been
transcribed; the check-in reads it for risk then, so when the entry really ends the reading is
waiting in the cache and the reflection can start at once. These tests use events, not sleeps.
"""

from __future__ import annotations

import threading

import numpy as np

from voicejournal.config import Config
from voicejournal.reflection import embedding, meaning
from voicejournal.session import CheckinSession, Heard, Listener, LookAhead, SessionView
from voicejournal.speech import (
    PlaybackSpeaker,
    Player,
    SilentSpeaker,
    Sound,
    SpeechEngine,
    split_first_clause,
    split_sentences,
)
from voicejournal.store import JournalStore
from voicejournal.transcription import StreamingTranscriber, Transcriber, Transcript

WAIT_S = 60  # generous: only reached when something is wrong

ENTRY = ("i went to choir tonight for the first time in months and um the woman next to me "
         "remembered my name and saved me a seat which was really nice")


class PieceByPiece(Transcriber):
    """Each chunk 'says' the next of a list of phrases."""

    model_name = "pieces"

    def __init__(self, phrases: list[str]) -> None:
        super().__init__()
        self.phrases = list(phrases)

    def _transcribe(self, samples, *, prompt, language, **options) -> Transcript:
        return Transcript(self.phrases.pop(0), [], "en")


def chunk(seconds: float = 1.0) -> np.ndarray:
    return np.full(int(16000 * seconds), 0.1, dtype=np.float32)


def test_streaming_says_what_it_has_each_time_it_catches_up():
    seen: list[str] = []
    caught_up = threading.Semaphore(0)

    def on_caught_up(text: str) -> None:
        seen.append(text)
        caught_up.release()

    streaming = StreamingTranscriber(PieceByPiece(["i went to choir", "and it was lovely", ""]),
                                     on_caught_up=on_caught_up)
    streaming.on_chunk(chunk())
    assert caught_up.acquire(timeout=WAIT_S)
    streaming.on_chunk(chunk())
    assert caught_up.acquire(timeout=WAIT_S)
    transcript = streaming.finish(np.concatenate([chunk(), chunk(), chunk()]))
    assert seen == ["i went to choir", "i went to choir and it was lovely"]
    # joined exactly as the final transcript is, so the reading ahead is the one that is used
    assert transcript.text == seen[-1]


def test_a_failing_look_ahead_does_not_lose_the_transcript():
    def broken(_text: str) -> None:
        raise RuntimeError("boom")

    streaming = StreamingTranscriber(PieceByPiece(["still here", ""]), on_caught_up=broken)
    streaming.on_chunk(chunk())
    assert streaming.finish(np.concatenate([chunk(), chunk()])).text == "still here"


def test_look_ahead_works_on_the_latest_text_only():
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def work(text: str) -> None:
        if not done and not started.is_set():
            started.set()
            assert release.wait(WAIT_S)
        done.append(text)

    ahead = LookAhead(work)
    ahead("first")
    assert started.wait(WAIT_S)
    ahead("second")  # superseded before it was started
    ahead("third")
    release.set()
    assert ahead.idle.wait(WAIT_S)
    assert done == ["first", "third"]


def test_a_second_reader_of_the_same_text_waits_for_the_first(monkeypatch):
    meaning.clear_cache()
    inside, release = threading.Event(), threading.Event()
    calls: list[str] = []
    reading = object()

    def slow_read(encoder, text, max_chunks, pick):
        calls.append(text)
        inside.set()
        assert release.wait(WAIT_S)
        return reading

    monkeypatch.setattr(embedding, "get_encoder", lambda: object())
    monkeypatch.setattr(meaning, "_read", slow_read)
    got: list[object] = []
    first = threading.Thread(target=lambda: got.append(meaning.read("the same words")))
    first.start()
    assert inside.wait(WAIT_S)
    second = threading.Thread(target=lambda: got.append(meaning.read("the same words")))
    second.start()
    release.set()
    first.join(WAIT_S)
    second.join(WAIT_S)
    assert got == [reading, reading]
    assert calls == ["the same words"]  # read once, not twice
    meaning.clear_cache()


class ReadsAheadThenEnds(Listener):
    """Like the microphone: hands the transcript so far to the look-ahead during the closing
    pause, waits until it has been read, then the entry ends with that same text."""

    source = "text"
    one_pass = True

    def entry(self) -> Heard:
        assert self.look_ahead is not None
        self.look_ahead(ENTRY)
        assert self.look_ahead.idle.wait(WAIT_S)
        return Heard(ended_by="text", text=ENTRY, has_speech=True)

    def answer(self) -> Heard:
        return Heard(ended_by="eof")


def test_the_check_in_reads_the_entry_for_risk_before_it_ends(monkeypatch, tmp_path):
    meaning.clear_cache()
    readers: list[tuple[str, str]] = []
    real_read = meaning._read

    def counting_read(encoder, text, max_chunks, pick):
        readers.append((text, threading.current_thread().name))
        return real_read(encoder, text, max_chunks, pick)

    monkeypatch.setattr(meaning, "_read", counting_read)
    store = JournalStore(tmp_path / "journal.json")
    session = CheckinSession(store, Config(backend="offline"), ReadsAheadThenEnds(), SilentSpeaker(),
                             view=SessionView(), seed=1)
    result = session.run()
    entry = store.get(result.entries[0].id)
    assert entry.transcript == ENTRY and entry.reflection is not None
    if embedding.get_encoder() is not None:  # with the encoder installed (it is, under `make test`)
        assert [name for text, name in readers if text == ENTRY] == ["voicejournal-look-ahead"]
    meaning.clear_cache()


class NotingEngine(SpeechEngine):
    """Renders silence, noting what it rendered and in which thread."""

    kind = "neural"
    renders_ahead = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def render(self, text, voice=None, rate=None, volume=None) -> Sound:
        self.calls.append((text, threading.current_thread().name))
        return Sound(b"\0\0" * 1600, 16000)


class NotingPlayer(Player):
    def __init__(self) -> None:
        super().__init__()
        self.played: list[Sound] = []

    def play(self, sound: Sound) -> None:
        self.played.append(sound)


def test_a_sentence_rendered_ahead_is_played_without_rendering_it_again():
    engine = NotingEngine()
    speaker = PlaybackSpeaker(Config(), engine=engine, player=NotingPlayer())
    speaker.prepare_first("That sounds like a good evening.")
    speaker.say_sentences(["That sounds like a good evening.", "What made it feel easy?"])
    speaker.close()
    assert [text for text, _ in engine.calls] == ["That sounds like a good evening.", "What made it feel easy?"]
    assert speaker.spoken == ["That sounds like a good evening.", "What made it feel easy?"]


def test_a_different_first_sentence_is_rendered_as_usual():
    engine = NotingEngine()
    speaker = PlaybackSpeaker(Config(), engine=engine, player=NotingPlayer())
    speaker.prepare_first("A guess that turned out wrong.")
    speaker.say_sentences(["What was actually said."])
    speaker.close()
    assert [text for text, _ in engine.calls] == ["A guess that turned out wrong.", "What was actually said."]


def test_the_system_voice_is_not_rendered_ahead():
    class SystemEngine(NotingEngine):
        kind = "system"
        renders_ahead = False

    engine = SystemEngine()
    speaker = PlaybackSpeaker(Config(), engine=engine, player=NotingPlayer())
    speaker.prepare_first("Anything at all.")
    assert engine.calls == []


def test_the_check_in_has_the_first_sentence_ready_when_the_entry_ends(tmp_path):
    from voicejournal.reflection import get_reflector

    config = Config(backend="offline")
    engine = NotingEngine()
    speaker = PlaybackSpeaker(config, engine=engine, player=NotingPlayer())
    store = JournalStore(tmp_path / "journal.json")
    session = CheckinSession(store, config, ReadsAheadThenEnds(), speaker,
                             reflector=get_reflector(config, offline=True), view=SessionView(), seed=1)
    result = session.run()
    reflection = store.get(result.entries[0].id).reflection.text
    threads = {text: name for text, name in engine.calls}
    first_piece = split_first_clause(split_sentences(reflection)[0])[0]
    assert threads[first_piece] == "voicejournal-look-ahead"  # rendered in the pause, once
    assert [text for text, _ in engine.calls].count(first_piece) == 1
    said = speaker.spoken
    start = said.index(split_sentences(reflection)[0])
    assert said[start:start + len(split_sentences(reflection))] == split_sentences(reflection)


class Counting(PieceByPiece):
    """PieceByPiece that also counts its calls."""

    def __init__(self, phrases: list[str]) -> None:
        super().__init__(phrases)
        self.calls = 0

    def _transcribe(self, samples, *, prompt, language, **options) -> Transcript:
        self.calls += 1
        return super()._transcribe(samples, prompt=prompt, language=language, **options)


def test_a_draft_nobody_spoke_after_becomes_the_chunks_transcript():
    # The chunker offers a draft a moment into a pause; when the pause goes on to end the
    # chunk, that chunk is the same speech, so its transcript is the draft's, made sooner.
    told = threading.Semaphore(0)
    seen: list[str] = []

    def on_caught_up(text: str) -> None:
        seen.append(text)
        told.release()

    backend = Counting(["i went to choir", "and it was lovely", ""])
    streaming = StreamingTranscriber(backend, on_caught_up=on_caught_up)
    streaming.on_chunk(chunk())
    assert told.acquire(timeout=WAIT_S)
    streaming.on_draft(chunk(2.0))
    assert told.acquire(timeout=WAIT_S)  # the look-ahead hears the draft at once
    assert seen == ["i went to choir", "i went to choir and it was lovely"]
    streaming.on_chunk(chunk(2.5))  # cut later in the same pause: same speech, more silence
    transcript = streaming.finish(np.concatenate([chunk(), chunk(2.5), chunk(0.5)]))
    assert transcript.text == "i went to choir and it was lovely" == seen[-1]
    assert streaming.drafts_used == 1
    assert backend.calls == 3  # first chunk, the draft, the tail: the second chunk cost nothing
    assert len(seen) == 2  # using the draft told the look-ahead nothing new


def test_a_draft_is_dropped_once_speech_goes_on():
    told = threading.Semaphore(0)
    backend = Counting(["i went to", "i went to choir after all", ""])
    streaming = StreamingTranscriber(backend, on_caught_up=lambda _t: told.release())
    streaming.on_draft(chunk(2.0))
    assert told.acquire(timeout=WAIT_S)
    streaming.on_draft(None)  # they spoke again: the chunk will hold more than the draft
    streaming.on_chunk(chunk(4.0))
    transcript = streaming.finish(np.concatenate([chunk(4.0), chunk(0.5)]))
    assert transcript.text == "i went to choir after all"  # the chunk's own, not the draft's
    assert streaming.drafts_used == 0 and backend.calls == 3


def test_a_draft_can_stand_for_the_tail():
    # Ended with Enter in a pause before any chunk was cut: the tail is the draft's speech.
    told = threading.Semaphore(0)
    backend = Counting(["i went to choir", "never used"])
    streaming = StreamingTranscriber(backend, on_caught_up=lambda _t: told.release())
    streaming.on_draft(chunk(3.5))
    assert told.acquire(timeout=WAIT_S)
    assert streaming.finish(chunk(3.8)).text == "i went to choir"
    assert streaming.drafts_used == 1 and backend.calls == 1


def test_no_draft_while_a_chunk_is_being_transcribed():
    busy, release = threading.Event(), threading.Event()

    class Slow(Counting):
        def _transcribe(self, samples, *, prompt, language, **options) -> Transcript:
            busy.set()
            assert release.wait(WAIT_S)
            return super()._transcribe(samples, prompt=prompt, language=language, **options)

    backend = Slow(["i went to choir", "and it was lovely", ""])
    streaming = StreamingTranscriber(backend)
    streaming.on_chunk(chunk())
    assert busy.wait(WAIT_S)
    streaming.on_draft(chunk(2.0))  # the worker is busy: a draft would only hold up real work
    release.set()
    streaming.on_chunk(chunk(2.5))
    assert streaming.finish(np.concatenate([chunk(), chunk(2.5)])).text == "i went to choir and it was lovely"
    assert streaming.drafts_used == 0 and backend.calls == 2
