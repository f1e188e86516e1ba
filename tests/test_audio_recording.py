"""The real recording path: sounddevice capturing from a virtual microphone in real time.

A private PulseAudio daemon (tests/vaudio.py) provides the microphone; the test plays
recordings into it while the code under test records in a subprocess (ALSA reads its
configuration when sounddevice is imported, so the process must start with the daemon's
environment). Each take must end by itself on the trailing silence, and the streamed
transcript must match what was played.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from audio_testkit import SAMPLES, reference, wer

pytestmark = pytest.mark.slow

VCTK = SAMPLES / "vctk_p225_001-002.wav"

# Records `takes` times; prints READY before each take, the recorder's events during it (see
# Meter) and one JSON line after it.
PROBE = r"""
import json, sys, time
from voicejournal.audio import Recorder
from voicejournal.config import Config
from voicejournal.transcription import StreamingTranscriber, get_transcriber

class Meter:
    # what the terminal UI would draw (the level and the elapsed time), and the recorder's
    # events as lines the test reacts to: STATE <name>, and AT <n> after n seconds of audio
    def __init__(self):
        self.calls, self.loudest, self.elapsed, self.whole = 0, 0.0, 0.0, 0
    def level(self, rms, elapsed_s, paused):
        self.calls, self.loudest, self.elapsed = self.calls + 1, max(self.loudest, rms), elapsed_s
        while elapsed_s >= self.whole + 1:
            self.whole += 1
            print("AT", self.whole, flush=True)
    def message(self, text):
        pass
    def state(self, name):
        print("STATE", name, flush=True)

silence, max_s, takes = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
device = sys.argv[4] if len(sys.argv) > 4 else None
config = Config(silence_seconds=silence, max_seconds=max_s, device=device)
transcriber = get_transcriber(config)
for _ in range(takes):
    streaming = StreamingTranscriber(transcriber)
    meter = Meter()
    print("READY", flush=True)
    recording = Recorder(config, meter).record(on_chunk=streaming.on_chunk)
    stopped = time.monotonic()
    text = streaming.finish(recording.samples).text if recording.has_speech else ""
    print(json.dumps({"ended_by": recording.ended_by, "duration_s": recording.duration_s,
                      "speech_s": recording.speech_s, "has_speech": recording.has_speech,
                      "chunks": streaming.handed > 0, "text": text,
                      "finish_s": time.monotonic() - stopped, "meter_calls": meter.calls,
                      "loudest": meter.loudest, "elapsed": meter.elapsed}), flush=True)
"""


def _takes(proc, scripts, timeout: float = 120.0) -> list[dict]:
    """Drive each take with a script, and collect each take's JSON result.

    A script is a generator: it yields the start of a line it waits for ("STATE listening",
    "AT 4"), and acts when that line arrives. Nothing here waits a fixed time for the program
    to reach a state: on a busy machine it may take much longer.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for raw in proc.stdout:
            lines.put(raw.decode() if isinstance(raw, bytes) else raw)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    results: list[dict] = []
    script, waiting_for = None, None
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"take {len(results)} timed out waiting for {waiting_for!r}") from None
        if line is None:
            break
        if line.startswith("READY"):
            script = scripts[len(results)]()
            waiting_for = next(script, None)
        elif line.startswith("{"):
            results.append(json.loads(line))
            script, waiting_for = None, None
        elif script is not None and waiting_for is not None and line.startswith(waiting_for):
            try:
                waiting_for = script.send(line)
            except StopIteration:
                script, waiting_for = None, None
    proc.wait(timeout=30)
    return results


def test_hands_free_take_ends_on_silence_and_is_transcribed(virtual_audio) -> None:
    # nobody speaks: the take runs to its maximum (the microphone chosen by name, as --device does)
    proc = subprocess.Popen([sys.executable, "-c", PROBE, "1.5", "3", "1", "pulse"], env=virtual_audio.env,
                            stdout=subprocess.PIPE, text=True)
    first = _takes(proc, [_nothing])
    assert first[0]["ended_by"] == "max" and not first[0]["has_speech"]
    assert first[0]["duration_s"] == pytest.approx(3.0, abs=0.2)
    assert first[0]["loudest"] < 0.01 and first[0]["elapsed"] == pytest.approx(3.0, abs=0.2)

    wrong = subprocess.run([sys.executable, "-c", PROBE, "1.5", "3", "1", "no-such-microphone"],
                           env=virtual_audio.env, capture_output=True, text=True, timeout=60)
    assert "DeviceError: No microphone matches 'no-such-microphone'" in wrong.stderr
    assert "pulse" in wrong.stderr  # lists the microphones there are

    # silence_seconds at its default, 2.5 s: longer than the 1.8 s pause between the two sentences
    proc = subprocess.Popen([sys.executable, "-c", PROBE, "2.5", "30", "1"], env=virtual_audio.env,
                            stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    def speak():
        yield "STATE listening"  # the microphone is open: nothing said now is lost
        virtual_audio.play_into_mic(VCTK)

    [take] = _takes(proc, [speak])
    assert take["ended_by"] == "silence", take
    # 6.4 s of speech + 2.5 s of silence to end it; nowhere near the 30 s maximum
    assert 8.0 < take["duration_s"] < 12.0 and time.monotonic() - started < 25
    assert take["speech_s"] > 3.0
    assert take["meter_calls"] > 100 and take["loudest"] > 0.02  # the level meter saw the voice
    assert wer(reference(VCTK.name), take["text"]) <= 0.10, take["text"]
    # the last words were transcribed while the recorder waited out the silence
    assert take["chunks"], "speech was handed to the transcriber before the take ended"


def test_keys_and_ctrl_c(virtual_audio) -> None:
    """Space pauses, Enter ends a take, q ends the session (from a terminal); Ctrl-C keeps the take."""
    leader, follower = pty.openpty()
    # A silence limit far beyond the clip: each take must end by its key or Ctrl-C, even when a
    # busy machine delivers the test's key seconds after the line it reacts to.
    proc = subprocess.Popen([sys.executable, "-c", PROBE, "30", "60", "2"], env=virtual_audio.env,
                            stdin=follower, stdout=subprocess.PIPE)
    os.close(follower)

    def speak_then(key: bytes):
        def script():
            yield "STATE listening"
            virtual_audio.play_into_mic(VCTK)
            yield "AT 4"  # mid-sentence (4 s into a 6.4 s recording): only the key can end the take now
            os.write(leader, key)
        return script

    def pause_then_enter():
        yield "AT 1"
        os.write(leader, b" ")
        yield "STATE paused"
        time.sleep(4.0)  # paused: whatever the microphone hears now is not recorded
        os.write(leader, b" ")
        yield "STATE resumed"
        virtual_audio.play_into_mic(VCTK)
        yield "AT 5"
        os.write(leader, b"\n")

    enter, quit_ = _takes(proc, [pause_then_enter, speak_then(b"q")])
    os.close(leader)
    assert enter["ended_by"] == "enter" and quit_["ended_by"] == "quit", (enter, quit_)
    # 1 s before the pause + 4 s of speech after it; the paused 4 s are left out (with them: 9 s or more)
    assert 5.0 <= enter["duration_s"] < 8.0 and enter["has_speech"]

    proc = subprocess.Popen([sys.executable, "-c", PROBE, "30", "60", "1"], env=virtual_audio.env,
                            stdout=subprocess.PIPE, text=True)

    def interrupt():
        yield "STATE listening"
        virtual_audio.play_into_mic(VCTK)
        yield "AT 4"  # mid-sentence: the take can't have ended on silence yet
        proc.send_signal(signal.SIGINT)

    [take] = _takes(proc, [interrupt])
    assert take["ended_by"] == "interrupt" and take["has_speech"], take
    assert take["duration_s"] > 3.0 and "stella" in take["text"].lower()


def _nothing():
    yield from ()
