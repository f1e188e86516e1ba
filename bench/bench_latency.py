"""Latency from the end of an entry to the first sound of the reflection, per voice.

Pipelines on the same recordings, in one run, with the same loaded Whisper model, the offline
reflector, the neural voice (Piper, loaded once) and the pyttsx3 engine (espeak-ng):

- **check-in loop** (what `voicejournal checkin` does): the recording is fed in real time,
  64 ms blocks at a time, through the VAD chunker; chunks are transcribed in the background
  while the person is still speaking; when the recording ends, the entry is saved, only the
  tail is transcribed, the reflection is streamed and its first sentence (its first clause,
  if long) is rendered and handed to playback. This runs the real `CheckinSession`, once with
  the neural voice and once with espeak-ng.
- **not read ahead**: the same loop without its drafts and look-ahead. Those, in the closing
  pause, transcribe the last stretch from its first 0.4 s (a draft), read the crisis check of
  the transcript so far and render the reflection's first sentence; here the last stretch is
  transcribed from when it is cut (1 s into the pause), and the rest waits for the end.
- **loop, whole reply then play**: the same loop, but the speaker waits for the whole
  reflection, synthesises all of it with the neural voice, then plays: the naive way to speak.
- **naive**: record -> transcribe the whole file -> reflect -> synthesise the whole reply
  (neural voice) -> play.

"End" is the moment recording stops: `silence_seconds` after the last word, as the Recorder
stops (the same in every pipeline);
"first sound" is when the first rendered audio of the reflection is handed to the player.
No sound card is needed: the player only notes the time.

    .venv/bin/python bench/bench_latency.py [--runs 2] [--model tiny.en] [--all]
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
from voicejournal.neural_voice import JOE, NeuralEngine, PiperEngine  # noqa: E402
from voicejournal.prompts import samples_dir  # noqa: E402
from voicejournal.session import CheckinSession, Heard, Listener, SessionView  # noqa: E402
from voicejournal.speech import PiperSpeaker, Player, Pyttsx3Engine, Pyttsx3Speaker, Sound  # noqa: E402
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

    def __init__(self, samples: np.ndarray, transcriber, silence_s: float, read_ahead: bool = True) -> None:
        self.samples = samples
        self.transcriber = transcriber
        self.silence_s = silence_s
        self.read_ahead = read_ahead
        self.ended_at: float | None = None
        self.streaming: StreamingTranscriber | None = None

    def entry(self) -> Heard:
        # As MicListener does: drafts in short pauses, and the check-in's look-ahead reads the
        # crisis check in the closing pause (neither in the "not read ahead" pipeline).
        streaming = StreamingTranscriber(self.transcriber, on_caught_up=self.look_ahead if self.read_ahead else None)
        self.streaming = streaming
        chunker = SpeechChunker(streaming.on_chunk, on_draft=streaming.on_draft if self.read_ahead else None)
        start = time.monotonic()
        fed = 0
        for i in range(0, self.samples.size, BLOCK):
            due = start + (i + BLOCK) / SAMPLE_RATE
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            chunker.feed(self.samples[i:i + BLOCK])
            fed = min(self.samples.size, i + BLOCK)
            if chunker.tracker.started and chunker.tracker.trailing_silence_s >= self.silence_s:
                break  # the Recorder stops here: `silence_seconds` after the last word
        self.ended_at = time.monotonic()
        samples = self.samples[:fed]
        return Heard(ended_by="silence", samples=samples, has_speech=True, duration_s=samples.size / SAMPLE_RATE,
                     transcribe=lambda: streaming.finish(samples))

    def answer(self) -> Heard:
        return Heard(ended_by="eof")


class WholeReplySpeaker(PiperSpeaker):
    """The naive way to speak: wait for the whole reply, synthesise all of it, then play."""

    def say_sentences(self, sentences) -> None:
        said = [s.strip() for s in sentences if s.strip()]
        if not said:
            return
        self.spoken += said
        sound = self.engine.render(" ".join(said), self.config.voice, self.config.rate, self.config.volume)
        self._handed_over(said[0])
        self._player.play(sound)


def make_speaker(kind: str, config: Config):
    if kind == "espeak":
        return Pyttsx3Speaker(config, engine=Pyttsx3Engine.shared(), player=HandOffPlayer())
    engine = NeuralEngine(PiperEngine.shared(JOE))
    cls = WholeReplySpeaker if kind == "neural-whole" else PiperSpeaker
    return cls(config, engine=engine, player=HandOffPlayer())


class ReadyView(SessionView):
    """Notes when the reflection's first sentence is ready (handed to the speaker)."""

    def __init__(self) -> None:
        self.first_sentence_at: float | None = None

    def reflection_sentence(self, sentence: str) -> None:
        if self.first_sentence_at is None:
            self.first_sentence_at = time.monotonic()


def loop_latency(samples: np.ndarray, config: Config, transcriber, reflector, folder: Path,
                 voice: str = "neural") -> tuple[float, float]:
    """Seconds from the end of the entry to the first sound, and the speech stage's share of it
    (from the reflection's first sentence being ready to its first sound)."""
    from voicejournal.reflection import meaning

    meaning.clear_cache()  # every run reads its entry afresh
    store = JournalStore(folder / "journal.json")
    listener = RealtimeListener(samples, transcriber, config.silence_seconds, read_ahead=voice != "neural-late")
    speaker = make_speaker(voice.removesuffix("-late"), config)
    view = ReadyView()
    session = CheckinSession(store, config, listener, speaker, reflector=reflector, view=view, seed=1)
    session.run()
    first = next(t for t in speaker.sound_times if t >= listener.ended_at)
    return first - listener.ended_at, first - view.first_sentence_at


def naive_latency(samples: np.ndarray, config: Config, transcriber, reflector) -> tuple[float, list[float]]:
    """Seconds to first sound, and the split: transcribe, reflect, synthesise (neural voice)."""
    from voicejournal.reflection import meaning

    meaning.clear_cache()
    engine = PiperEngine.shared(JOE)
    ended = time.monotonic()
    text = transcriber.transcribe(samples).text
    transcribed = time.monotonic()
    reply = reflector.reflect(text).text
    reflected = time.monotonic()
    engine.render(reply, config.voice, config.rate, config.volume)
    done = time.monotonic()
    return done - ended, [transcribed - ended, reflected - transcribed, done - reflected]


def recordings(silence_s: float, every: bool = False) -> list[tuple[str, np.ndarray]]:
    """The 25 s entry, the three joined (~71 s) and the three with pauses then JFK (~87 s); with
    `every`, the other two 26 s ones as well."""
    folder = samples_dir()
    names = ["checkin_morning.wav", "old_fear_unanswered.wav", "connection_dinner.wav"]
    loaded = [(n, load_audio(folder / n)) for n in names]
    tail = np.zeros(int(silence_s * SAMPLE_RATE), dtype=np.float32)
    out = [(name.removesuffix(".wav"), np.concatenate([s, tail])) for name, s in loaded
           if every or name == "connection_dinner.wav"]
    # A one-minute entry: the three joined, as one person talking for a while.
    long = np.concatenate([s for _, s in loaded] + [tail])
    out.append((f"joined ({long.size / SAMPLE_RATE:.0f} s)", long))
    # The same with a 1.5 s pause after each part, ending with a real person speaking for 11 s:
    # what ends the entry is a short last stretch cut in a pause (drafts start it sooner).
    pause = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    paused = np.concatenate([x for _, s in loaded for x in (s, pause)] + [load_audio(folder / "jfk_inaugural_1961.wav"), tail])
    out.append((f"with pauses ({paused.size / SAMPLE_RATE:.0f} s)", paused))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="runs per recording and pipeline (median reported)")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--all", action="store_true", help="all three 25 s entries, not just one")
    args = parser.parse_args()

    from voicejournal.reflection import get_reflector

    config = Config(model=args.model, backend="offline")
    transcriber = get_transcriber(config)
    reflector = get_reflector(config, offline=True)
    # warm-up: model weights, VAD, both voices (a check-in loads the neural voice as it starts)
    warm = load_audio(samples_dir() / "thats_all.wav")
    transcriber.transcribe(warm)
    reflector.reflect("I slept badly but I am here.")
    Pyttsx3Engine.shared().render("Warming up.")
    PiperEngine.shared(JOE).render("Warming up.")

    voices = ("neural", "neural-late", "neural-whole", "espeak")
    print(f"Latency, end of recording -> first sound of the reflection ({args.model}, offline reflector, "
          f"{args.runs} runs each, median). In brackets: the speech stage's share, from the first")
    print("sentence being ready to its first sound. 'whole reply' = the same loop, speaking the naive way "
          "(whole reply synthesised, then played); naive = the whole pipeline the naive way.")
    print("'not read ahead' = the same loop without drafts or look-ahead: the crisis check is read and the "
          "first sentence rendered only once the entry has ended.")
    print(f"{'recording':<20} {'length':>6} {'loop, neural':>19} {'not read ahead':>19} {'whole reply':>19} "
          f"{'ratio':>6} {'loop, espeak':>19} {'naive':>7} {'ratio':>6}")
    rows = []
    for name, samples in recordings(config.silence_seconds, every=args.all):
        totals: dict[str, list[float]] = {v: [] for v in voices}
        shares: dict[str, list[float]] = {v: [] for v in voices}
        naive_times, splits = [], []
        for _ in range(args.runs):
            for voice in voices:
                with tempfile.TemporaryDirectory() as tmp:
                    total, share = loop_latency(samples, config, transcriber, reflector, Path(tmp), voice=voice)
                totals[voice].append(total)
                shares[voice].append(share)
            t, split = naive_latency(samples, config, transcriber, reflector)
            naive_times.append(t)
            splits.append(split)
        loop = {v: statistics.median(ts) for v, ts in totals.items()}
        share = {v: statistics.median(ts) for v, ts in shares.items()}
        naive_s = statistics.median(naive_times)
        parts = [statistics.median(s[i] for s in splits) for i in range(3)]
        rows.append((name, samples.size / SAMPLE_RATE, loop["neural"]))

        def cell(v: str, loop=loop, share=share) -> str:
            return f"{loop[v]:.2f} s ({share[v]:.2f} s)"

        print(f"{name:<20} {samples.size / SAMPLE_RATE:5.0f}s {cell('neural'):>19} {cell('neural-late'):>19} "
              f"{cell('neural-whole'):>19} "
              f"{loop['neural-whole'] / loop['neural']:5.1f}x {cell('espeak'):>19} {naive_s:6.2f}s "
              f"{naive_s / loop['neural']:5.1f}x   naive = transcribe {parts[0]:.2f} + reflect {parts[1]:.2f} "
              f"+ synthesise {parts[2]:.2f} s; speech share whole/streamed "
              f"{share['neural-whole'] / share['neural']:.1f}x", flush=True)
    worst = max(r[2] for r in rows)
    print(f"Worst check-in latency with the neural voice: {worst:.2f} s (target <= 0.3 s for a 70 s entry)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
