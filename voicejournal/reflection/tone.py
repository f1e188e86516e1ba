"""The tone of a whole entry: light, mixed or heavy, read by meaning (the `tone` head).

A light day is met as a light day: the offline reflector chooses its feeling guesses, noticing
lines, questions and closings to fit. Without the trained model the reflector falls back to its
word lists (`offline.py`).
"""

from __future__ import annotations

from voicejournal.reflection import heads, meaning
from voicejournal.reflection.risk import MAX_CHUNKS, rank_chunks

TONES = ("light", "mixed", "heavy")
# Light or heavy only when the head is fairly sure; otherwise the day is met as mixed, whose words
# fit any day. Chosen on development entries: a light day read as heavy gets a hard-day question.
SURE = 0.5


def entry_tone(text: str) -> str | None:
    """"light", "mixed" or "heavy"; None when the trained model can't be used."""
    import numpy as np

    head, _ = heads.reader_for("tone")
    if head is None or not text.strip():
        return None
    reading = meaning.read(text, max_chunks=MAX_CHUNKS, pick=rank_chunks)  # the risk check's reading
    if reading is None or not len(reading.chunk_vectors):
        return None
    mean = reading.chunk_vectors.mean(0)
    vector = (mean / max(float(np.linalg.norm(mean)), 1e-12))[None]
    scores = head.scores(vector)[0]
    best = int(scores.argmax())
    return head.labels[best] if scores[best] >= SURE else "mixed"
