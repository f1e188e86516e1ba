"""How fast `progress` and `report` are on a journal of 3,650 entries (ten years of daily entries).

Compared in the same run, on the same journal file:

- **one pass** (what `voicejournal progress` does): read the journal once, then count every
  entry's stored themes into its month's bucket in a single loop.
- **naive**: for each month of the window, ask the store for that month's entries
  (`store.query(EntryFilter(since, until))`, which reads the journal each time) and count
  them; this is how a report is usually first written.

Also timed: the whole `voicejournal progress` command in a fresh process (Python start-up
included) and writing the HTML report for all ten years.

    .venv/bin/python bench/bench_progress.py [--entries 3650] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from journal_factory import dense_journal, write_journal  # noqa: E402

from voicejournal.progress import (  # noqa: E402
    MonthStats,
    month_end,
    months_between,
    progress_for,
    theme_keys,
)
from voicejournal.report import write_html_report  # noqa: E402
from voicejournal.store import EntryFilter, JournalStore  # noqa: E402

END = date(2025, 12, 31)


def one_pass(path: Path, months: int) -> list[MonthStats]:
    store = JournalStore(path)
    return progress_for(store.all(), months=months, until=END).months


def naive(path: Path, months: int) -> list[MonthStats]:
    store = JournalStore(path)
    start = progress_for([], months=months, until=END).window.start
    out = []
    for key in months_between(start, END):
        first = date.fromisoformat(key + "-01")
        found = store.query(EntryFilter(since=first, until=month_end(first)))
        stats = MonthStats(key, entries=len(found), days=len({e.created.astimezone().date() for e in found}))
        for entry in found:
            for name in theme_keys(entry):
                stats.count(name)
        out.append(stats)
    return out


def best_of(runs: int, func, *args) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=3650)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    generated = dense_journal(args.entries, end=END)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_journal(Path(tmp) / "journal.json", generated.entries)
        size_mb = path.stat().st_size / 1e6
        print(f"journal: {args.entries} entries, {len(generated.months)} months, {size_mb:.1f} MB")

        for months in (12, 120):
            fast, slow = one_pass(path, months), naive(path, months)
            assert [(m.month, m.entries, m.narratives, m.connection) for m in fast] == \
                   [(m.month, m.entries, m.narratives, m.connection) for m in slow], "results differ"
            for m in fast:  # and both match what the journal was built with
                assert m.entries == generated.expected.get(m.month, {}).get("entries", 0)
            t_fast = best_of(args.runs, one_pass, path, months)
            t_slow = best_of(max(1, args.runs - 1), naive, path, months)
            print(f"progress over {months:3d} months: one pass {t_fast * 1000:7.0f} ms   "
                  f"naive (a query per month) {t_slow * 1000:7.0f} ms   -> {t_slow / t_fast:5.1f}x faster")

        entries = JournalStore(path).all()
        t_read = best_of(args.runs, lambda: JournalStore(path).all())
        t_count = best_of(args.runs, lambda: progress_for(entries, months=120, until=END))
        print(f"of which: reading the journal {t_read * 1000:.0f} ms, counting 120 months {t_count * 1000:.0f} ms")

        cli = [str(ROOT / ".venv" / "bin" / "voicejournal"), "--journal", str(path), "progress", "--to", "2025-12-31"]
        if not Path(cli[0]).exists():
            cli = [sys.executable, "-m", "voicejournal", *cli[1:]]
        wall = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cli, check=True, capture_output=True)
            wall.append(time.perf_counter() - start)
        print(f"`voicejournal progress` in a fresh process: {min(wall) * 1000:.0f} ms "
              f"(median {statistics.median(wall) * 1000:.0f} ms)")

        result = progress_for(entries, until=END, default_months=None)
        report = Path(tmp) / "report.html"
        t_report = best_of(args.runs, write_html_report, entries, result, report)
        print(f"report --html, all {len(result.months)} months: {t_report * 1000:.0f} ms, "
              f"{report.stat().st_size / 1e6:.1f} MB page")


if __name__ == "__main__":
    main()
