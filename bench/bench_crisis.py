"""Crisis check speed, with the encoder loaded: a 150-word entry and a 2,000-word dictation.

    .venv/bin/python bench/bench_crisis.py

`check_risk` reads an entry once (meaning.py: a few overlapping chunks of up to 254 word
pieces, every sentence and window pooled from the same token states) and scores every span
with the risk head. Compared in the same run with:
- the phrase rules alone (what the check was before the model: fast, and blind to new wording);
- the naive way to read by meaning: every sentence and window sent through the encoder as a
  text of its own.
Targets (issue 11): at most 60 ms for 150 words and 300 ms for 2,000 words on two cores.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicejournal.reflection import embedding, meaning, risk  # noqa: E402

ENTRY = (
    "so today was long um i woke up late and rushed to work and the bus was packed so i stood the whole way "
    "and my manager asked for the report again and i felt my chest go tight like the old feeling that i'm "
    "about to be found out you know and at lunch i sat with priya and she told me about her sister's wedding "
    "plans which was nice and i laughed for the first time in days and then in the afternoon i kept checking "
    "my phone to see if sam had replied and he hadn't and i started telling myself the story that he's pulling "
    "away but i noticed it this time and i put the phone in my bag and went for a walk round the block and "
    "tonight i made pasta and rang my mum and we talked about the garden and i'm tired but i think i'm okay"
)


def timed(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def dictation(words: int) -> str:
    out: list[str] = []
    while len(out) < words:
        out += ENTRY.split()
    return " ".join(out[:words])


def naive(text: str) -> None:
    """Every span of the reading encoded as its own text, one at a time."""
    reading = meaning.read(text)
    encoder = embedding.get_encoder()
    for i in range(len(reading.spans)):
        encoder.encode([reading.span_text(i)])


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    if embedding.get_encoder() is None:
        raise SystemExit("the sentence encoder isn't installed: run `make test` once")
    risk.warm_up()
    print(f"encoder and risk model load: {1000 * (time.perf_counter() - started):7.0f} ms")
    for words, target in ((150, 60), (2000, 300)):
        text = dictation(words)
        meaning.clear_cache()  # each run reads afresh, as a new entry would be

        def check(text: str = text) -> None:
            meaning.clear_cache()
            risk.check_risk(text)

        ours = timed(check)
        rules = timed(lambda text=text: risk.rule_check(text))
        slow = timed(lambda text=text: (meaning.clear_cache(), naive(text)), 3 if words < 500 else 1)
        spans = len(meaning.read(text).spans)
        print(f"{words:5d} words ({spans} spans): check_risk {1000 * ours:6.0f} ms (target {target} ms)   "
              f"rules alone {1000 * rules:5.1f} ms   naive, span by span {1000 * slow:7.0f} ms ({slow / ours:.1f}x ours)")


if __name__ == "__main__":
    main()
