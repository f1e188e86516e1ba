"""Latency from the end of an entry to the first sound of the reflection.

Two pipelines on the same recordings, in one run, with the same loaded Whisper model, the
offline reflector and the pyttsx3 engine:

- **check-in loop** (what `voicejournal checkin` does): the recording is fed in real time,
  64 ms blocks at a time, through the VAD chunker; chunks are transcribed in the background
  while the person is still speaking; when the recording ends, the entry is saved, only the
  tail is transcribed, the reflection is streamed and its first sentence is rendered and
  handed to playback. This runs the real `CheckinSession`.
- **naive**: record -> transcribe the whole file -> reflect -> synthesise the whole reply ->
  play.

"End" is the moment recording stops (after the pause that ends an entry, which both share);
"first sound" is when the first rendered audio of the reflection is handed to the player.
No sound card is needed: the player only notes the time.

    .venv/bin/python bench/bench_latency.py [--runs 2] [--model tiny.en]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from voicejournal.audio import SAMPLE_RATE, SpeechChunker, load_audio  # noqa: E402
from voicejournal.config import Config  # noqa: E402
from voicejournal.prompts import samples_dir  # noqa: E402
from voicejournal.session import CheckinSession, Heard, Listener, SessionView  # noqa: E402
from voicejournal.speech import Player, Pyttsx3Engine, Pyttsx3Speaker, Sound  # noqa: E402
from voicejournal.store import JournalStore  # noqa: E402
from voicejournal.transcription import StreamingTranscriber, get_transcriber  # noqa: E402

BLOCK = 1024  # the Recorder's block: 64 ms


class HandOffPlayer(Player):
    """Notes when audio is handed over; plays nothing (no sound card needed)."""

    def play(self, sound: Sound) -> None:
        return None


class RealtimeListener(Listener):
    """Feeds a recording in real time through the Recorder's chunker, like a live microphone."""

    source = "mic"
    one_pass = True

    def __init__(self, samples: np.ndarray, transcriber) -> None:
        self.samples = samples
        self.transcriber = transcriber
        self.ended_at: float | None = None

    def entry(self) -> Heard:
        streaming = StreamingTranscriber(self.transcriber)
        chunker = SpeechChunker(streaming.on_chunk)
        start = time.monotonic()
        for i in range(0, self.samples.size, BLOCK):
            due = start + (i + BLOCK) / SAMPLE_RATE
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            chunker.feed(self.samples[i:i + BLOCK])
        self.ended_at = time.monotonic()
        samples = self.samples
        return Heard(ended_by="silence", samples=samples, has_speech=True, duration_s=samples.size / SAMPLE_RATE,
                     transcribe=lambda: streaming.finish(samples))

    def answer(self) -> Heard:
        return Heard(ended_by="eof")


def loop_latency(samples: np.ndarray, config: Config, transcriber, reflector, folder: Path) -> tuple[float, str]:
    store = JournalStore(folder / "journal.json")
    listener = RealtimeListener(samples, transcriber)
    speaker = Pyttsx3Speaker(config, engine=Pyttsx3Engine.shared(), player=HandOffPlayer())
    session = CheckinSession(store, config, listener, speaker, reflector=reflector, view=SessionView(), seed=1)
    session.run()
    first = next(t for t in speaker.sound_times if t >= listener.ended_at)
    entry = store.all()[-1]
    return first - listener.ended_at, entry.transcript


def naive_latency(samples: np.ndarray, config: Config, transcriber, reflector) -> tuple[float, list[float]]:
    """Seconds to first sound, and the split: transcribe, reflect, synthesise."""
    engine = Pyttsx3Engine.shared()
    ended = time.monotonic()
    text = transcriber.transcribe(samples).text
    transcribed = time.monotonic()
    reply = reflector.reflect(text).text
    reflected = time.monotonic()
    engine.render(reply, config.voice, config.rate, config.volume)
    done = time.monotonic()
    return done - ended, [transcribed - ended, reflected - transcribed, done - reflected]


def recordings(silence_s: float) -> list[tuple[str, np.ndarray]]:
    folder = samples_dir()
    names = ["checkin_morning.wav", "old_fear_unanswered.wav", "connection_dinner.wav"]
    loaded = [(n, load_audio(folder / n)) for n in names]
    tail = np.zeros(int(silence_s * SAMPLE_RATE), dtype=np.float32)
    out = [(name.removesuffix(".wav"), np.concatenate([s, tail])) for name, s in loaded]
    # A one-minute entry: the three joined, as one person talking for a while.
    long = np.concatenate([s for _, s in loaded] + [tail])
    out.append((f"joined ({long.size / SAMPLE_RATE:.0f} s)", long))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="runs per recording and pipeline (median reported)")
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args()

    from voicejournal.reflection import get_reflector

    config = Config(model=args.model, backend="offline")
    transcriber = get_transcriber(config)
    reflector = get_reflector(config, offline=True)
    Pyttsx3Engine.shared()
    # warm-up: model weights, VAD, espeak voice data
    warm = load_audio(samples_dir() / "thats_all.wav")
    transcriber.transcribe(warm)
    reflector.reflect("I slept badly but I am here.")
    Pyttsx3Engine.shared().render("Warming up.")

    print(f"Latency, end of recording -> first sound of the reflection ({args.model}, offline reflector, "
          f"{args.runs} runs each, median)")
    print(f"{'recording':<24} {'length':>7} {'check-in loop':>14} {'naive':>8} {'ratio':>7}")
    rows = []
    for name, samples in recordings(config.silence_seconds):
        loop_times, naive_times, splits = [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                t, _ = loop_latency(samples, config, transcriber, reflector, Path(tmp))
            loop_times.append(t)
            t, split = naive_latency(samples, config, transcriber, reflector)
            naive_times.append(t)
            splits.append(split)
        loop_s, naive_s = statistics.median(loop_times), statistics.median(naive_times)
        parts = [statistics.median(s[i] for s in splits) for i in range(3)]
        rows.append((name, samples.size / SAMPLE_RATE, loop_s, naive_s))
        print(f"{name:<24} {samples.size / SAMPLE_RATE:6.1f}s {loop_s:13.2f}s {naive_s:7.2f}s "
              f"{naive_s / loop_s:6.1f}x   naive = transcribe {parts[0]:.2f} + reflect {parts[1]:.2f} "
              f"+ synthesise {parts[2]:.2f} s", flush=True)
    worst = max(r[2] for r in rows)
    print(f"Worst check-in latency: {worst:.2f} s (target <= 1.0 s for a 60 s entry)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
