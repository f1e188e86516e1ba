"""The speech module against the real engines (pyttsx3 / espeak-ng, and the neural voice), real
WAV files and real aplay.

The speaker tests run for both voices (`voice` fixture: the same assertions for each, like a
contract); the pyttsx3 quirks have tests of their own. This machine has no sound card, so aplay
fails the way it does on a headless server: that is the "no audio output" case. Playing through
a (virtual) speaker is covered by the check-in's end-to-end test; the neural voice's own tests
are in test_neural_voice.py.
"""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import pytest

from voicejournal.config import Config
from voicejournal.errors import DeviceError
from voicejournal.speech import (
    Player,
    Pyttsx3Engine,
    Pyttsx3Speaker,
    SilentSpeaker,
    Sound,
    TeeSpeaker,
    WavSpeaker,
    engine_for,
    get_speaker,
    list_voices,
    playback_speaker,
    split_sentences,
)


@pytest.fixture(params=["system", "neural"])
def voice(request) -> str:
    """Each speaker test runs with the system voice and with the neural one."""
    return request.param


class FailingEngine(Pyttsx3Engine):
    """An engine that can't render anything (like a broken espeak install)."""

    def __init__(self) -> None:  # no real engine needed
        self.calls = 0

    def render(self, text, voice=None, rate=None, volume=None) -> Sound:
        self.calls += 1
        raise DeviceError("The speech engine did not produce any audio; the text is shown instead.")


class RecordingPlayer(Player):
    """A player that keeps what it was given, with the time, instead of using a device."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.played: list[tuple[float, Sound]] = []
        self.delay_s = delay_s
        self.started_playing = threading.Event()  # tests wait for this, not for a guessed time

    def play(self, sound: Sound) -> None:
        self.played.append((time.monotonic(), sound))
        self.started_playing.set()
        time.sleep(self.delay_s)  # how long the sound "plays"


class FailingPlayer(Player):
    def play(self, sound: Sound) -> None:
        raise DeviceError("No speaker or audio output is available.")


def wav_info(path: Path) -> tuple[int, int, float]:
    with wave.open(str(path)) as w:
        return w.getnchannels(), w.getframerate(), w.getnframes() / w.getframerate()


def test_split_sentences_keeps_every_word():
    text = "You called Ines. She came round with soup!  How did that feel? It counts…  Really."
    parts = split_sentences(text)
    assert parts == ["You called Ines.", "She came round with soup!", "How did that feel?", "It counts…", "Really."]
    assert split_sentences("   ") == []


def test_engine_renders_each_utterance_separately_and_keeps_stdout_clean(capfd):
    """pyttsx3 bugs pinned: one utterance per render (no repeats of the previous text), and
    save_to_file's 'Audio saved to' print never reaches stdout."""
    engine = Pyttsx3Engine.shared()
    short = engine.render("Hello.")
    long = engine.render("Hello. This sentence is a good deal longer than the first one was.")
    again = engine.render("Hello.")
    assert short.rate > 8000 and short.frames
    assert long.duration_s > short.duration_s * 2
    assert abs(again.duration_s - short.duration_s) < 0.3
    out = capfd.readouterr().out
    assert "Audio saved" not in out


def test_rendering_leaves_stdout_to_the_rest_of_the_program(capfd):
    """While the synthesis thread renders, other threads' output still reaches the screen.

    A process-wide stdout redirect around save_to_file once swallowed the helplines the main
    thread printed during the first sentence's render. The driver's callback (where it prints
    "Audio saved to ...") must see the real sys.stdout.
    """
    import sys

    engine = Pyttsx3Engine.shared()
    seen_during_render: list[object] = []
    token = engine._engine.connect("finished-utterance", lambda **_: seen_during_render.append(sys.stdout))
    before = sys.stdout
    try:
        engine.render("Here is where you can reach someone now.")
    finally:
        engine._engine.disconnect(token)  # the engine is shared with later tests
    assert seen_during_render and all(out is before for out in seen_during_render)
    print("a helpline line")
    out = capfd.readouterr().out
    assert "a helpline line" in out and "Audio saved" not in out


def test_engine_is_safe_from_two_threads():
    engine = Pyttsx3Engine.shared()
    results: list[float] = []

    def work(text: str) -> None:
        results.append(engine.render(text).duration_s)

    threads = [threading.Thread(target=work, args=(f"Thread number {i} is speaking now.",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 3 and all(d > 0.5 for d in results)


def test_wav_speaker_writes_everything_said_in_order(tmp_path, voice):
    out = tmp_path / "speech" / "reply.wav"
    speaker = WavSpeaker(out, Config(voice=voice))
    speaker.say("It sounds like the waiting was hard.")
    first = wav_info(out)[2]
    speaker.say_sentences(["Some people do stay.", "Who has stayed, even imperfectly?"])
    speaker.close()
    channels, rate, total = wav_info(out)
    assert channels == 1 and rate > 8000
    assert total > first + 1.0
    assert speaker.spoken == ["It sounds like the waiting was hard.", "Some people do stay.",
                              "Who has stayed, even imperfectly?"]
    assert len(speaker.sound_times) == 3
    assert speaker.problem is None and speaker.take_problem() is None
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert speaker.describe() == f"{voice} voice, 22,050 Hz: the voice's own rate"


def test_rate_setting_changes_speed(tmp_path, voice):
    slow, fast = tmp_path / "slow.wav", tmp_path / "fast.wav"
    text = "Take one slow breath, and let your shoulders drop a little."
    WavSpeaker(slow, Config(rate=110, voice=voice)).say(text)
    WavSpeaker(fast, Config(rate=260, voice=voice)).say(text)
    assert wav_info(slow)[2] > wav_info(fast)[2] * 1.5


def test_unknown_voice_is_a_problem_not_a_crash(tmp_path):
    speaker = WavSpeaker(tmp_path / "x.wav", Config(voice="no-such-voice-xyz"))
    speaker.say("Hello there.")
    problem = speaker.take_problem()
    assert problem and "voicejournal voices" in problem
    assert speaker.take_problem() is None  # said once only
    assert speaker.spoken == ["Hello there."]


def test_no_audio_output_is_reported_once_and_never_raises(voice):
    """On this machine aplay has no card: the real 'no speaker' path."""
    config = Config(voice=voice)
    speaker = playback_speaker(config, engine_for(config))
    speaker.say("First sentence. Second sentence.")
    speaker.say("Third.")
    speaker.close()
    problem = speaker.take_problem()
    assert problem and "--speak-to" in problem
    assert speaker.take_problem() is None
    assert speaker.spoken == ["First sentence.", "Second sentence.", "Third."]


def test_failing_engine_degrades_to_text():
    engine = FailingEngine()
    speaker = Pyttsx3Speaker(Config(), engine=engine, player=RecordingPlayer())
    speaker.say("One. Two. Three.")
    assert engine.calls == 1  # gave up after the first failure instead of retrying every sentence
    assert speaker.take_problem()
    assert speaker.spoken == ["One.", "Two.", "Three."]


def test_failing_player_stops_speaking_but_keeps_the_text():
    speaker = Pyttsx3Speaker(Config(), player=FailingPlayer())
    speaker.say("One. Two.")
    speaker.close()
    assert speaker.problem and speaker.spoken == ["One.", "Two."]


def test_first_sentence_plays_while_later_ones_are_still_coming(voice):
    """Sentence by sentence: sound starts before a slow (streaming) source has finished."""
    player = RecordingPlayer(delay_s=0.05)
    config = Config(voice=voice)
    speaker = playback_speaker(config, engine_for(config))
    speaker._player = player
    finished_at: list[float] = []

    def slow_sentences():
        yield "The first sentence is ready."
        # the source is still writing: the first sentence must be heard meanwhile
        assert player.started_playing.wait(timeout=30), "nothing played while the source was still going"
        yield "The second one took a while."
        finished_at.append(time.monotonic())

    speaker.say_sentences(slow_sentences())
    speaker.close()
    assert len(player.played) == 2
    assert player.played[0][0] < finished_at[0]
    assert speaker.sound_times[0] == pytest.approx(player.played[0][0], abs=0.05)


def test_silent_speaker_and_get_speaker_choices(tmp_path):
    silent = get_speaker(Config(), enabled=False)
    assert isinstance(silent, SilentSpeaker)
    silent.say("Nothing is said. Not a word.")
    assert silent.spoken == ["Nothing is said.", "Not a word."] and silent.take_problem() is None
    assert isinstance(get_speaker(Config(speak=False)), SilentSpeaker)
    assert isinstance(get_speaker(Config(), speak_to=tmp_path / "a.wav"), WavSpeaker)
    tee = get_speaker(Config(), speak_to=tmp_path / "b.wav", also_play=True)
    assert isinstance(tee, TeeSpeaker)
    tee.say("Both ways.")
    tee.close()
    assert (tmp_path / "b.wav").exists() and tee.spoken == ["Both ways."]
    assert tee.take_problem()  # the playing half has no card here; the file half still worked
    reason = SilentSpeaker("No text-to-speech engine could start.")
    assert reason.take_problem() == "No text-to-speech engine could start."


def test_list_voices_has_english():
    voices = list_voices()
    assert len(voices) > 10
    assert any(v.languages and v.languages[0].startswith("en") for v in voices)


def test_voices_and_config_commands(run):
    result = run("voices")
    assert result.exit_code == 0 and "gmw/en" in result.output
    import json

    listed = json.loads(run("voices", "--json").output)
    assert {"id", "name", "languages", "gender"} <= set(listed[0])
    shown = run("config")
    assert shown.exit_code == 0 and "rate = 165" in shown.output and "model = " in shown.output
    data = json.loads(run("config", "--json").output)
    assert data["speak"] is True and data["journal"].endswith("journal.json")


def test_config_never_shows_the_api_key(run, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secretsecretsecret")
    result = run("config")
    assert "sk-secret" not in result.output and "not shown" in result.output
    assert "sk-secret" not in run("config", "--json").output


def test_config_says_where_each_setting_comes_from(run, vj_home, monkeypatch):
    vj_home.mkdir(parents=True, exist_ok=True)
    (vj_home / "config.toml").write_text('rate = 140\nvoice = "gmw/en-us"\n', encoding="utf-8")
    monkeypatch.setenv("VOICEJOURNAL_VOLUME", "0.5")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:hunter2@127.0.0.1:8080/v1")
    import json

    data = json.loads(run("config", "--json").output)
    assert data["rate"] == 140 and data["sources"]["rate"] == "config.toml"
    assert data["volume"] == 0.5 and data["sources"]["volume"] == "environment"
    assert data["sources"]["model"] == "default"
    text = run("config").output
    assert "hunter2" not in text and "hunter2" not in json.dumps(data)
    assert "rate = 140" in text and "# config.toml" in text


def test_stop_drops_what_was_still_to_be_said(voice):
    """Ctrl-C: the rest of the reflection is not played out first."""
    player = RecordingPlayer(delay_s=0.3)
    config = Config(voice=voice)
    speaker = playback_speaker(config, engine_for(config))
    speaker._player = player
    talker = threading.Thread(target=speaker.say, args=("One. Two. Three. Four. Five. Six.",))
    talker.start()
    assert player.started_playing.wait(timeout=30)
    speaker.stop()
    talker.join(timeout=10)
    speaker.close()
    assert not talker.is_alive()
    assert len(player.played) <= 3  # of six: the rest was dropped, not played out
    assert speaker.take_problem() is None  # stopping was asked for: nothing to explain


class SilentDriverEngine:
    """Stands in for a pyttsx3 engine whose driver never reports the end of an utterance."""

    def save_to_file(self, text, path) -> None:
        self.path = path

    def runAndWait(self) -> None:  # returns at once, like pyttsx3 2.99, and then nothing happens
        pass

    def setProperty(self, name, value) -> None:
        pass


def test_a_driver_that_never_finishes_times_out_instead_of_hanging(monkeypatch):
    import voicejournal.speech as speech

    monkeypatch.setattr(speech, "RENDER_TIMEOUT_S", 0.3)
    engine = object.__new__(Pyttsx3Engine)  # the real class, with the stand-in driver behind it
    engine._lock, engine._done = threading.Lock(), threading.Event()
    engine._engine, engine._broken, engine._default_voice, engine._voice = SilentDriverEngine(), None, None, None
    speaker = Pyttsx3Speaker(Config(), engine=engine, player=RecordingPlayer())
    started = time.monotonic()
    speaker.say("This will never be finished. Nor will this.")
    assert time.monotonic() - started < 2.0
    assert "stopped responding" in speaker.take_problem()
    assert speaker.spoken == ["This will never be finished.", "Nor will this."]
