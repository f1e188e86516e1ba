"""Review commands on ten years of daily entries, timed as whole processes.

Fills a journal with 3,650 realistic entries (transcript, timed segments, reflection,
themes, tags), then times `list`, `search` and `show` as a person would run them, against
the naive way measured in the same run: the same commands in a process that imports the
speech and model stacks up front (what an eager CLI would do).

    .venv/bin/python bench/bench_review.py [--entries 3650] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voicejournal.models import Entry, Reflection, Segment, Theme  # noqa: E402
from voicejournal.store import JournalStore  # noqa: E402

PEOPLE = ["Noor", "Ines", "my sister", "Sam", "Dad", "my manager", "Priya", "Tomas", "my partner", "Grandma"]
EVENTS = [
    "didn't answer my message all afternoon", "came round with soup and stayed", "cancelled our plans again",
    "asked how I was really doing", "said the meeting went fine", "forgot my birthday", "hugged me at the station",
    "went quiet at dinner", "offered to help with the move", "laughed at my joke in front of everyone",
]
FEELINGS = ["lonely", "relieved", "on edge", "grateful", "tired", "hopeful", "embarrassed", "calm", "anxious", "seen"]
THOUGHTS = [
    "The old story that people always leave came back for a while.",
    "I noticed I wanted to check my phone again and again.",
    "I told myself I can only depend on myself, and then I wasn't so sure.",
    "It went better than I expected, which surprised me.",
    "I tried to be curious about the worry instead of fighting it.",
    "This week I'll ask for help once, even if it feels awkward.",
]


def _entry(day: datetime, rng: random.Random) -> Entry:
    sentences = []
    for _ in range(rng.randint(6, 12)):
        who, what, how = rng.choice(PEOPLE), rng.choice(EVENTS), rng.choice(FEELINGS)
        sentences.append(f"Today {who} {what} and I felt {how}.")
        if rng.random() < 0.5:
            sentences.append(rng.choice(THOUGHTS))
    text = " ".join(sentences)
    segments, t = [], 0.0
    for s in sentences:
        segments.append(Segment(round(t, 2), round(t + len(s) / 14, 2), s))
        t += len(s) / 14 + 0.4
    reflection = Reflection(
        text=(f"You spent time with {rng.choice(PEOPLE)} today, and it sounds like you felt {rng.choice(FEELINGS)}. "
              "That makes sense given what you've lived through. I wonder what it would be like to notice, gently, "
              "what that old alarm is trying to protect. What is one small thing that might help you feel steady?"),
        backend="offline",
    )
    themes = [Theme("narrative", "people_leave", ["people always leave"])] if rng.random() < 0.2 else []
    return Entry(
        transcript=text, created_at=day.isoformat(timespec="seconds"), source=rng.choice(["mic", "file", "text"]),
        segments=segments, language="en", duration_s=round(t, 1), stt_model="tiny.en", practice="checkin",
        reflection=reflection, themes=themes, tags=rng.sample(["family", "work", "friends", "health"], rng.randint(0, 2)),
        starred=rng.random() < 0.05,
    )


def fill(path: Path, count: int) -> list[str]:
    rng = random.Random(7)
    start = datetime(2016, 1, 1, 21, 0, tzinfo=UTC)
    entries = [_entry(start + timedelta(days=i), rng) for i in range(count)]
    # One write of the whole file (the store's insert path would take minutes for 3,650 entries).
    store = JournalStore(path)
    store.add(entries[0])
    table = store._table()
    table.insert_multiple(e.to_dict() for e in entries[1:])
    return [e.id for e in entries]


def time_process(args: list[str], env: dict[str, str], runs: int, eager: bool) -> float:
    prelude = "import faster_whisper, openai, sounddevice, pyttsx3; " if eager else ""
    code = prelude + "from voicejournal.cli import main; import sys; sys.argv=['voicejournal', *sys.argv[1:]]; main()"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=3650)
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "journal.json"
        ids = fill(journal, opts.entries)
        size_mb = journal.stat().st_size / 1e6
        env = dict(os.environ, VOICEJOURNAL_HOME=tmp, VOICEJOURNAL_JOURNAL=str(journal))
        # Time what an installed copy does: pip compiles bytecode at install time, so let
        # the first (untimed) run write it rather than recompiling every module each run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent
                                                                       / "voicejournal")], env=env, check=True)
        commands = {
            "list": ["list", "-n", "20"],
            "search": ["search", "soup", "grateful"],
            "show": ["show", ids[len(ids) // 2]],
        }
        print(f"journal: {opts.entries} entries, {size_mb:.1f} MB; median of {opts.runs} runs per command")
        print(f"{'command':<8} {'voicejournal':>13} {'eager imports':>14} {'ratio':>7}")
        for name, args in commands.items():
            ours = time_process(args, env, opts.runs, eager=False)
            naive = time_process(args, env, opts.runs, eager=True)
            print(f"{name:<8} {ours:>12.3f}s {naive:>13.3f}s {naive / ours:>6.1f}x")


if __name__ == "__main__":
    main()
