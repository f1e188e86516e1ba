"""Reflection: offline speed with memory over a long journal, and a real tiny model behind the
OpenAI-compatible backend (streaming latency and how often the guard catches its replies).

1. **Offline reflector with memory** over a two-year journal (730 entries): time per
   reflection, against the naive way of finding related entries (re-reading every entry's
   themes and people from scratch each time is what we do; the naive baseline scores every
   entry against every other with full-text word overlap — quadratic).
2. **First checked sentence vs. whole reply** from llama.cpp's server with SmolLM2-135M:
   `Reflector.stream()` hands the first sentence to speech as soon as it has passed the guard;
   the naive way waits for the whole reply, then checks it.
3. **Guard catch rate**: of the tiny model's replies, how many the guard rejected (replaced by
   the offline reflection), and why.

    .venv/bin/python bench/bench_reflection.py [--entries 12]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from voicejournal import dates  # noqa: E402
from voicejournal.config import Config  # noqa: E402
from voicejournal.models import Entry  # noqa: E402
from voicejournal.reflection import get_reflector  # noqa: E402
from voicejournal.reflection import text as tx  # noqa: E402
from voicejournal.reflection.themes import detect_themes  # noqa: E402

CORPUS = [json.loads(line) for line in (ROOT / "tests" / "data" / "reflection_entries.jsonl").read_text().splitlines()]


def two_years() -> list[Entry]:
    now = dates.now()
    out = []
    for day in range(730):
        other = CORPUS[(day * 7 + 3) % len(CORPUS)]["text"].split(".")[0]
        text = CORPUS[day % len(CORPUS)]["text"] + " " + other + "."  # 730 different entries
        when = (now - timedelta(days=730 - day)).isoformat(timespec="seconds")
        out.append(Entry(transcript=text, created_at=when, themes=detect_themes(text)))
    return out


def naive_related(text: str, history: list[Entry]) -> list[Entry]:
    """Word overlap with every entry, recomputing each entry's words every time (the obvious way)."""
    mine = set(tx.words(text))
    scored = sorted(history, key=lambda e: len(mine & set(tx.words(e.transcript))) / (len(set(tx.words(e.transcript))) or 1),
                    reverse=True)
    return scored[:2]


def bench_offline() -> None:
    from voicejournal.reflection import memory

    history = two_years()
    reflector = get_reflector(Config())
    texts = [c["text"] for c in CORPUS[:20]]
    reflector.reflect(texts[0])  # imports and prompt files
    memory._CACHE.clear()
    started = time.perf_counter()
    reflector.reflect(texts[1], history=history)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for t in texts:
        reflector.reflect(t, history=history)
    warm = (time.perf_counter() - started) / len(texts)
    started = time.perf_counter()
    for t in texts:
        reflector.reflect(t)
    bare = (time.perf_counter() - started) / len(texts)
    started = time.perf_counter()
    for t in texts:
        naive_related(t, history)
    naive = (time.perf_counter() - started) / len(texts)
    print(f"offline reflection, no history:                 {bare * 1000:7.1f} ms")
    print(f"offline reflection + memory over 730, first:    {cold * 1000:7.1f} ms")
    print(f"offline reflection + memory over 730, later:    {warm * 1000:7.1f} ms")
    print(f"naive word-overlap lookup alone over 730:       {naive * 1000:7.1f} ms "
          f"(memory, later calls, is {naive / max(warm - bare, 1e-6):.1f}x faster than it)")


def start_llama() -> tuple[subprocess.Popen, str]:
    from test_openai_backend import smollm2_gguf

    gguf = smollm2_gguf()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(base + "/models", timeout=2):
                return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("llama.cpp server did not start") from None
            time.sleep(0.3)


def bench_llama(n: int) -> None:
    proc, base = start_llama()
    try:
        config = Config(backend="openai", base_url=base, llm_model="smollm2", timeout=60.0)
        reflector = get_reflector(config)
        reflector.reflect(CORPUS[0]["text"])  # warm the model
        first, whole, caught, reasons = [], [], 0, Counter()
        entries = CORPUS[:n]
        for item in entries:
            started = time.perf_counter()
            stream = reflector.stream(item["text"], practice=item["practice"])
            t_first = None
            for _sentence in stream:
                if t_first is None:
                    t_first = time.perf_counter() - started
            first.append(t_first or 0.0)
            started = time.perf_counter()
            result = reflector.reflect(item["text"], practice=item["practice"])
            whole.append(time.perf_counter() - started)
            if result.notices:
                caught += 1
                for why in re.findall(r"(blame|judgement|diagnosis|command|minimising|flattery|persona|injection|"
                                      r"generic|exclamation mark|emoji|markdown or list|too short|too long|truncated|"
                                      r"off topic|empty|not about this entry|seconds|third person|meta|speaks about itself|mostly quoting|garbled|"
                                      r"not spoken to the person|harm)", result.notices[0]):
                    reasons[why] += 1
        f, w = statistics.median(first), statistics.median(whole)
        print(f"tiny model: first checked sentence (stream) median {f:.2f} s; whole reply then check (naive) "
              f"median {w:.2f} s; ratio {w / f if f else float('nan'):.1f}x")
        print(f"guard caught {caught} of {len(entries)} tiny-model replies ({caught / len(entries):.0%}); "
              f"reasons: {dict(reasons.most_common())}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=12)
    args = parser.parse_args()
    bench_offline()
    bench_llama(args.entries)


if __name__ == "__main__":
    main()
