"""Transcription speed and accuracy, streaming against record-then-transcribe, in one run.

On the bundled recordings (tiny.en, int8, CPU) it measures:
- accuracy on real human speech (`--speech DIR`: a folder of recordings with a manifest.tsv,
  default the bundled ones): plain faster-whisper on each whole file at beam 1 and beam 5
  (`WhisperModel.transcribe(path, beam_size=...)`, nothing else set) against `voicejournal
  transcribe`'s path (`transcribe_file`) and the check-in's streaming chunks on the same files
  joined into one long entry, all in the same run with the same model;
- real-time factor of transcribing each recording whole (seconds of work per second of audio);
- for a ~68 s entry (three journal samples back to back) arriving in real time, as from the
  microphone: the time from the end of the take (the recorder has heard its closing
  silence) to the final transcript, with streaming (chunks transcribed in a worker while
  the person speaks) against the naive way (transcribe the whole recording after it ends);
- word error rate of both against the reference texts;
- peak memory of this process (model loaded, both paths run);
- the VAD on ten minutes of digital silence with the quiet-window skip against running
  Silero on every window (faster-whisper's own `get_speech_timestamps`).

    .venv/bin/python bench/bench_transcription.py [--runs 3] [--fast] [--speech DIR] [--beam 5]

`--fast` feeds the entry as fast as possible instead of in real time (no waiting; the
latency figure then only shows the work left after the last chunk).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicejournal.audio import (  # noqa: E402
    SAMPLE_RATE,
    SpeechChunker,
    StreamingVad,
    load_audio,
)
from voicejournal.config import Config  # noqa: E402
from voicejournal.transcription import (  # noqa: E402
    StreamingTranscriber,
    get_transcriber,
    resolve_model,
    transcribe_file,
)

SAMPLES = ROOT / "audio_samples"
ENTRY = ["checkin_morning.wav", "connection_dinner.wav", "old_fear_unanswered.wav"]
SHORT = ["jfk_inaugural_1961.wav", "vctk_p225_001-002.wav"]
BLOCK = 1024  # 64 ms, what the recorder hands on
SILENCE_S = 2.5  # the default pause that ends a hands-free entry


def references() -> dict[str, str]:
    with (SAMPLES / "manifest.tsv").open(encoding="utf-8") as handle:
        return {row["filename"]: row["reference"] for row in csv.DictReader(handle, delimiter="\t")}


def words(text: str) -> list[str]:
    spelled = {"20": "twenty"}
    return [spelled.get(w, w) for w in re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()]


def wer(ref: str, hyp: str) -> float:
    r, h = words(ref), words(hyp)
    dist = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, dist = dist, [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            dist[j] = min(prev[j] + 1, dist[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return dist[len(h)] / max(1, len(r))


def speech_set(folder: Path) -> list[tuple[Path, str]]:
    """(recording, reference) for the real human speech in `folder`'s manifest.tsv."""
    with (folder / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    out = []
    for row in rows:
        ref = row.get("reference_transcript") or row.get("reference") or ""
        if row.get("kind", "human") == "human" and ref:
            out.append((folder / row["filename"], ref))
    return out


def pooled(pairs: list[tuple[str, str]]) -> float:
    """WER over all words of all recordings (not the mean of each recording's WER)."""
    errors = sum(wer(ref, hyp) * len(words(ref)) for ref, hyp in pairs)
    return errors / max(1, sum(len(words(ref)) for ref, _ in pairs))


def accuracy(folder: Path, beam: int) -> None:
    """Plain whole-file faster-whisper at beam 1 and 5 against voicejournal's paths, same run."""
    from faster_whisper import WhisperModel

    clips = speech_set(folder)
    seconds = sum(load_audio(p).size for p, _ in clips) / SAMPLE_RATE
    print(f"\naccuracy on real human speech: {len(clips)} recordings, {seconds:.0f} s, "
          f"{sum(len(words(r)) for _, r in clips)} words ({folder.name}/)")
    plain = WhisperModel(resolve_model("tiny.en")[0], device="cpu", compute_type="int8")
    rows = []
    for b in (1, beam):
        t0 = time.perf_counter()
        pairs = [(ref, " ".join(seg.text.strip() for seg in plain.transcribe(str(path), beam_size=b)[0]))
                 for path, ref in clips]
        rows.append((f"plain faster-whisper, whole file, beam {b}", pooled(pairs), time.perf_counter() - t0))
    for b in (1, beam):
        transcriber = get_transcriber(Config(beam_size=b))
        t0 = time.perf_counter()
        pairs = [(ref, transcribe_file(path, transcriber).text) for path, ref in clips]
        rows.append((f"voicejournal transcribe, beam {b}", pooled(pairs), time.perf_counter() - t0))
    # The same recordings as one long entry, 0.8 s apart: the check-in's streaming chunks
    # (cut at pauses, 3-28 s, each prompted with the text before it) against the whole at once.
    gap = np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.float32)
    entry = np.concatenate([part for path, _ in clips for part in (load_audio(path), gap)])
    ref = " ".join(r for _, r in clips)
    transcriber = get_transcriber(Config(beam_size=beam))
    streaming = StreamingTranscriber(transcriber, background=False)
    chunker = SpeechChunker(streaming.on_chunk)
    t0 = time.perf_counter()
    for offset in range(0, entry.size, BLOCK):
        chunker.feed(entry[offset:offset + BLOCK])
    streamed = streaming.finish(entry).text
    stream_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    whole = transcriber.transcribe(entry).text
    whole_s = time.perf_counter() - t0
    rows.append((f"joined ({entry.size / SAMPLE_RATE:.0f} s): check-in streaming, {len(streaming.pieces)} chunks, "
                 f"beam {beam}", wer(ref, streamed), stream_s))
    rows.append((f"joined: whole entry at once, beam {beam}", wer(ref, whole), whole_s))
    for label, value, took in rows:
        print(f"  {label:<66} WER {value:6.2%}   ({took:5.1f} s)")


def take_as_recorded(entry: np.ndarray) -> np.ndarray:
    """The entry followed by room-quiet silence until the recorder would stop."""
    rng = np.random.default_rng(0)
    tail = rng.normal(0, 0.0005, int((SILENCE_S + 0.5) * SAMPLE_RATE)).astype(np.float32)
    return np.concatenate([entry, tail])


def streaming_run(transcriber, take: np.ndarray, real_time: bool) -> tuple[float, str, int]:
    """Feed `take` block by block like the Recorder; returns (latency after the take, text, chunks)."""
    streaming = StreamingTranscriber(transcriber)
    chunker = SpeechChunker(streaming.on_chunk)
    start = time.perf_counter()
    fed = 0
    for offset in range(0, take.size, BLOCK):
        block = take[offset:offset + BLOCK]
        if real_time:
            wait = start + (offset + block.size) / SAMPLE_RATE - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        chunker.feed(block)
        fed += block.size
        tracker = chunker.tracker
        if tracker.started and tracker.trailing_silence_s >= SILENCE_S:
            break  # the recorder stops here
    ended = time.perf_counter()
    result = streaming.finish(take[:fed])
    return time.perf_counter() - ended, result.text, len(streaming.pieces)


def whole_run(transcriber, take: np.ndarray) -> tuple[float, str]:
    ended = time.perf_counter()
    result = transcriber.transcribe(take)
    return time.perf_counter() - ended, result.text


def vad_skip_ratio() -> tuple[float, float]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    silence = np.zeros(SAMPLE_RATE * 600, dtype=np.float32)
    start = time.perf_counter()
    StreamingVad().feed(silence)
    skip = time.perf_counter() - start
    start = time.perf_counter()
    get_speech_timestamps(silence, VadOptions())
    full = time.perf_counter() - start
    return skip, full


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="don't feed the entry in real time")
    parser.add_argument("--speech", type=Path, default=SAMPLES,
                        help="real recordings with a manifest.tsv (filename, reference) for the accuracy table")
    parser.add_argument("--beam", type=int, default=Config().beam_size, help="the beam to compare with beam 1")
    parser.add_argument("--only-accuracy", action="store_true")
    args = parser.parse_args()
    refs = references()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, runs: {args.runs}")

    accuracy(args.speech, args.beam)
    if args.only_accuracy:
        return 0

    start = time.perf_counter()
    transcriber = get_transcriber(Config())
    transcriber.transcribe(load_audio(SAMPLES / SHORT[1]))  # warm up (first call allocates)
    print(f"model tiny.en loaded and warmed up in {time.perf_counter() - start:.2f} s")

    print("\nreal-time factor, whole recording (lower is faster)")
    for name in [*SHORT, *ENTRY]:
        audio = load_audio(SAMPLES / name)
        times, text = [], ""
        for _ in range(args.runs):
            t0 = time.perf_counter()
            text = transcriber.transcribe(audio).text
            times.append(time.perf_counter() - t0)
        seconds = audio.size / SAMPLE_RATE
        print(f"  {name:28} {seconds:5.1f} s audio  RTF {statistics.median(times) / seconds:.3f}  "
              f"WER {wer(refs[name], text):.1%}")

    entry = np.concatenate([load_audio(SAMPLES / n) for n in ENTRY])
    take = take_as_recorded(entry)
    ref = " ".join(refs[n] for n in ENTRY)
    mode = "fed in real time" if not args.fast else "fed as fast as possible"
    print(f"\n{entry.size / SAMPLE_RATE:.0f} s entry ({mode}), time from the end of the take to the final transcript")
    stream_lat, whole_lat, stream_wer, whole_wer = [], [], [], []
    pieces = 0
    for _ in range(args.runs):
        latency, text, pieces = streaming_run(transcriber, take, real_time=not args.fast)
        stream_lat.append(latency)
        stream_wer.append(wer(ref, text))
        latency, text = whole_run(transcriber, take)
        whole_lat.append(latency)
        whole_wer.append(wer(ref, text))
    s, w = statistics.median(stream_lat), statistics.median(whole_lat)
    print(f"  streaming ({pieces} pieces)       {s:6.2f} s   WER {statistics.median(stream_wer):.1%}")
    print(f"  record, then transcribe   {w:6.2f} s   WER {statistics.median(whole_wer):.1%}")
    print(f"  streaming is {w / max(s, 1e-3):.0f}x faster to a transcript; "
          f"WER difference {100 * (statistics.median(stream_wer) - statistics.median(whole_wer)):+.1f} points")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process after both paths: {peak:.0f} MB")

    skip, full = vad_skip_ratio()
    print(f"\nVAD over 10 min of digital silence: {skip:.2f} s with the quiet skip, {full:.2f} s on every "
          f"window ({full / max(skip, 1e-3):.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
