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

The last chunk's beam (`final_beam_size`: what is still to transcribe once the person has
stopped) is measured at 1, 2 and 5 on the same recordings: when the entry ends with the closing
pause (hands-free), and when it is ended with Enter straight after the last word (then the
last stretch of speech is transcribed only after the end).

    .venv/bin/python bench/bench_final_beam.py [--runs 2] [--model tiny.en] [--final-beams 1,2,5]
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

    def __init__(self, samples: np.ndarray, transcriber, config: Config | None = None) -> None:
        self.samples = samples
        self.transcriber = transcriber
        self.config = config or Config()
        self.ended_at: float | None = None
        self.transcribed_at: float | None = None
        self.streaming: StreamingTranscriber | None = None

    def entry(self) -> Heard:
        # As MicListener does: background chunks at beam_size, what is left at final_beam_size.
        streaming = StreamingTranscriber(self.transcriber, beam_size=self.config.beam_size,
                                         final_beam_size=self.config.final_beam_size)
        self.streaming = streaming
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

        def transcribe():
            result = streaming.finish(samples)
            self.transcribed_at = time.monotonic()
            return result

        return Heard(ended_by="silence", samples=samples, has_speech=True, duration_s=samples.size / SAMPLE_RATE,
                     transcribe=transcribe)

    def answer(self) -> Heard:
        return Heard(ended_by="eof")


def loop_latency(samples: np.ndarray, config: Config, transcriber, reflector, folder: Path) -> tuple[float, str]:
    store = JournalStore(folder / "journal.json")
    listener = RealtimeListener(samples, transcriber, config)
    speaker = Pyttsx3Speaker(config, engine=Pyttsx3Engine.shared(), player=HandOffPlayer())
    session = CheckinSession(store, config, listener, speaker, reflector=reflector, view=SessionView(), seed=1)
    session.run()
    first = next(t for t in speaker.sound_times if t >= listener.ended_at)
    entry = store.all()[-1]
    TRANSCRIPT_READY.append(listener.transcribed_at - listener.ended_at)
    return first - listener.ended_at, entry.transcript


#: For each check-in run: seconds from the end of the recording to the finished transcript.
TRANSCRIPT_READY: list[float] = []


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
    # The same, ended with Enter right after the last word (the samples end in 1 s of quiet).
    spoken = np.concatenate([s for _, s in loaded])
    out.append(("joined, ended with Enter", spoken[: spoken.size - int(0.7 * SAMPLE_RATE)]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="runs per recording and pipeline (median reported)")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--final-beams", default="1,2,5", help="final_beam_size values to compare")
    parser.add_argument("--skip-naive", action="store_true", help="only the check-in loop")
    parser.add_argument("--only", default="", help="only recordings whose name contains this")
    parser.add_argument("--beam", type=int, default=Config().beam_size, help="beam_size of the background chunks")
    args = parser.parse_args()

    from voicejournal.reflection import get_reflector

    base = Config(model=args.model, backend="offline", beam_size=args.beam)
    transcriber = get_transcriber(base)
    reflector = get_reflector(base, offline=True)
    Pyttsx3Engine.shared()
    # warm-up: model weights, VAD, espeak voice data
    warm = load_audio(samples_dir() / "thats_all.wav")
    transcriber.transcribe(warm)
    reflector.reflect("I slept badly but I am here.")
    Pyttsx3Engine.shared().render("Warming up.")

    beams = [int(b) for b in args.final_beams.split(",")]
    print(f"Latency, end of recording -> first sound of the reflection ({args.model}, offline reflector, "
          f"chunks at beam {base.beam_size}, {args.runs} runs each, median)")
    print("each cell: end -> first sound (end -> transcript ready)")
    print(f"{'recording':<34} {'length':>7} " + " ".join(f"{'final beam ' + str(b):>14}" for b in beams)
          + ("" if args.skip_naive else f" {'naive':>8}"))
    worst = {b: 0.0 for b in beams}
    for name, samples in recordings(base.silence_seconds):
        if args.only not in name:
            continue
        cells = []
        for beam in beams:
            config = base.with_overrides(final_beam_size=beam)
            times = []
            TRANSCRIPT_READY.clear()
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    t, _ = loop_latency(samples, config, transcriber, reflector, Path(tmp))
                times.append(t)
            cells.append((statistics.median(times), statistics.median(TRANSCRIPT_READY)))
            worst[beam] = max(worst[beam], cells[-1][0])
        line = f"{name:<34} {samples.size / SAMPLE_RATE:6.1f}s " + " ".join(
            f"{c:5.2f}s ({r:.2f})" for c, r in cells)
        if not args.skip_naive and "Enter" not in name:
            naive = [naive_latency(samples, base, transcriber, reflector) for _ in range(args.runs)]
            naive_s = statistics.median(t for t, _ in naive)
            parts = [statistics.median(split[i] for _, split in naive) for i in range(3)]
            line += (f" {naive_s:7.2f}s   naive = transcribe {parts[0]:.2f} + reflect {parts[1]:.2f} "
                     f"+ synthesise {parts[2]:.2f} s")
        print(line, flush=True)
    for beam in beams:
        print(f"final beam {beam}: worst check-in latency {worst[beam]:.2f} s (target <= 1.0 s for a 60 s entry)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
