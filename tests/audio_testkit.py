"""Helpers for the audio and transcription tests: bundled samples, word error rate, encoding."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parents[1] / "audio_samples"


def reference(name: str) -> str:
    """The reference text of a bundled sample (audio_samples/manifest.tsv)."""
    with (SAMPLES / "manifest.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["filename"] == name:
                return row["reference"]
    raise KeyError(name)


_NUMBERS = {"20": "twenty", "2": "two", "1": "one"}


def normalise(text: str) -> list[str]:
    """Lower case, no punctuation, a few digits spelled out (Whisper writes "20")."""
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()
    return [_NUMBERS.get(w, w.strip("'")) for w in words if w.strip("'")]


def wer(ref: str, hyp: str) -> float:
    """Word error rate: (substitutions + deletions + insertions) / reference words."""
    r, h = normalise(ref), normalise(hyp)
    dist = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        prev, dist = dist, np.empty_like(dist)
        dist[0] = i
        for j in range(1, len(h) + 1):
            dist[j] = min(prev[j] + 1, dist[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return float(dist[len(h)]) / max(1, len(r))


def encode(samples: np.ndarray, path: Path, codec: str, rate: int = 16000, stereo: bool = False) -> Path:
    """Write float samples (16 kHz mono) to `path` with PyAV, resampled to `rate`, mono or stereo."""
    import av

    layout = "stereo" if stereo else "mono"
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        for piece in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(piece):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
