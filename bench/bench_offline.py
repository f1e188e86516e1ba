"""Offline reflection speed with the encoder loaded: the time to compose one reflection.

In the product the crisis check reads the entry first (`risk.check_risk`), and the tone head reuses that
reading, so composing adds only the head and the wording. Measured on the 240 varied entries of
tests/data/variety, in the same run as the naive way: the tone head reading the entry again for
itself. Target: under 30 ms per entry.

    .venv/bin/python bench/bench_offline.py
"""

from __future__ import annotations

import csv
import hashlib
import statistics
import time
from pathlib import Path

from voicejournal.reflection import ReflectionRequest, embedding, get_practice, meaning, risk
from voicejournal.reflection.offline import compose
from voicejournal.reflection.themes import detect_themes, extract_details

DATA = Path(__file__).parents[1] / "tests" / "data" / "variety"


def request_for(text: str) -> ReflectionRequest:
    return ReflectionRequest(text=text, practice=get_practice("checkin"), themes=detect_themes(text),
                             details=extract_details(text), related=[],
                             seed=int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def main() -> None:
    texts = []
    for name in ("entries_a.tsv", "entries_b.tsv"):
        with (DATA / name).open(encoding="utf-8", newline="") as f:
            texts += [r["text"] for r in csv.DictReader(f, delimiter="\t")]
    embedding.get_encoder()
    compose(request_for(texts[0]))  # warm: heads and phrase banks loaded
    shared, naive = [], []
    for text in texts:
        risk.check_risk(text)  # as in the product: the crisis check reads the entry first
        request = request_for(text)
        start = time.perf_counter()
        compose(request)
        shared.append(time.perf_counter() - start)
        meaning._cache.clear()  # the naive way: the entry is read again for the tone
        start = time.perf_counter()
        compose(request)
        naive.append(time.perf_counter() - start)
    ms = lambda xs: 1000 * statistics.median(xs)  # noqa: E731
    p90 = lambda xs: 1000 * sorted(xs)[int(0.9 * len(xs))]  # noqa: E731
    print(f"{len(texts)} entries, compose with the encoder loaded (median / 90th percentile):")
    print(f"  reusing the crisis check's reading: {ms(shared):.1f} / {p90(shared):.1f} ms")
    print(f"  reading the entry again (naive):    {ms(naive):.1f} / {p90(naive):.1f} ms")
    print(f"  {ms(naive) / ms(shared):.1f}x faster; target under 30 ms: {'met' if p90(shared) < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
