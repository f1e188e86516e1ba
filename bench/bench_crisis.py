"""Crisis check speed: the sentence encoder's load, one sentence, and a typical entry.

    .venv/bin/python bench/bench_crisis.py

Measures, in one process: loading all-MiniLM-L6-v2 (numpy), embedding the labelled examples
(first use) against loading them from the disk cache, one short sentence, and `check_crisis`
on a ~150-word entry with no crisis in it (the slow path: the rules find nothing, so every
clause is embedded). The naive way for comparison: every sentence and clause embedded one by one
(no batching), in the same run.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicejournal.reflection import embedding, safety  # noqa: E402

ENTRY = (
    "Today was long. I woke up late and rushed to work, and the bus was packed so I stood the whole way. "
    "My manager asked for the report again and I felt my chest tighten, the old feeling that I'm about to be "
    "found out. At lunch I sat with Priya and she told me about her sister's wedding plans, which was nice, and "
    "I laughed for the first time in days. In the afternoon I kept checking my phone to see if Sam had replied, "
    "and he hadn't, and I started writing the story in my head that he's pulling away. I noticed it though. I "
    "put the phone in my bag and went for a walk around the block. Tonight I made pasta and called my mum, and "
    "we talked about the garden. I'm tired but I think I'm okay."
)


def timed(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    encoder = embedding.get_encoder()
    print(f"model load:                         {1000 * (time.perf_counter() - started):7.0f} ms")
    texts = [line for name in safety._EXAMPLE_FILES.values() for line in safety.read_lines(name)]
    print(f"embed {len(texts)} examples (first use):    {1000 * timed(lambda: encoder.encode(texts), 1):7.0f} ms")
    key = safety._example_key()
    safety._examples(key)  # writes the disk cache
    safety._examples.cache_clear()
    print(f"load examples from the disk cache:  {1000 * timed(lambda: (safety._examples.cache_clear(), safety._examples(key))):7.1f} ms")
    print(f"one short sentence:                 {1000 * timed(lambda: encoder.encode(['I gave my dog to my sister.'])):7.1f} ms")
    words = len(ENTRY.split())
    segments = safety.crisis_segments(ENTRY)
    ours = timed(lambda: safety.check_crisis(ENTRY))
    sentences = [s for s in safety.re.split(r"(?<=[.!?])\s+", ENTRY) if s]
    naive_parts = sentences + segments
    naive = timed(lambda: [encoder.encode([p]) for p in naive_parts], 3)
    print(f"check_crisis, {words}-word entry ({len(segments)} clauses): {1000 * ours:7.0f} ms")
    print(f"naive: {len(naive_parts)} sentences+clauses one by one:  {1000 * naive:7.0f} ms  ({naive / ours:.1f}x ours)")


if __name__ == "__main__":
    main()
