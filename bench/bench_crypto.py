"""What encryption at rest costs, and what deriving the key once per process saves.

A 1,000-entry journal is read 20 times and written (one entry added) 20 times, three ways:
plain; encrypted with the key derived once (what voicejournal does); and encrypted deriving
the key from the passphrase for every read and write (the naive way). Same files, same run.

    .venv/bin/python bench/bench_crypto.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from voicejournal import crypto
from voicejournal.models import Entry
from voicejournal.store import JournalStore

N_ENTRIES = 1000
ROUNDS = 20
PASS = "bench passphrase"


def fill(path: Path) -> None:
    store = JournalStore(path)
    data = {"entries": {}, "meta": {"1": {"schema_version": 1}}}
    for i in range(N_ENTRIES):
        e = Entry(transcript=f"Entry {i}: " + "I noticed the old fear and stayed with it. " * 12)
        data["entries"][str(i + 1)] = e.to_dict()
    store._db.storage.write(data)


def timed(store: JournalStore, before_each=None) -> tuple[float, float]:
    reads = writes = 0.0
    for i in range(ROUNDS):
        if before_each:
            before_each()
        t = time.perf_counter()
        store.all()
        reads += time.perf_counter() - t
        if before_each:
            before_each()
        t = time.perf_counter()
        store.add(Entry(transcript=f"bench {i}"))
        writes += time.perf_counter() - t
    return reads / ROUNDS * 1000, writes / ROUNDS * 1000


def main() -> None:
    root = Path(tempfile.mkdtemp())
    try:
        plain = root / "plain" / "journal.json"
        fill(plain)
        size = plain.stat().st_size
        p_read, p_write = timed(JournalStore(plain))

        enc = root / "enc" / "journal.json"
        fill(enc)
        t = time.perf_counter()
        crypto.encrypt_journal(enc, PASS)
        encrypt_s = time.perf_counter() - t
        crypto._derive.cache_clear()
        t = time.perf_counter()
        store = crypto.open_encrypted_store(enc, lambda *_: PASS)
        open_s = time.perf_counter() - t
        e_read, e_write = timed(store)

        naive = root / "naive" / "journal.json"
        shutil.copytree(enc.parent, naive.parent)
        store = crypto.open_encrypted_store(naive, lambda *_: PASS)
        n_read, n_write = timed(store, before_each=crypto._derive.cache_clear)  # a fresh key every time
    finally:
        shutil.rmtree(root)

    print(f"journal: {N_ENTRIES} entries, {size / 1e6:.1f} MB; scrypt n=2**{crypto.DEFAULT_KDF.log2_n}")
    print(f"encrypt the whole journal: {encrypt_s * 1000:.0f} ms; open (key derivation + first read): {open_s * 1000:.0f} ms")
    print("| operation | plain | encrypted, key once | encrypted, key every time (naive) | naive / once |")
    print("|---|---|---|---|---|")
    print(f"| read all entries | {p_read:.0f} ms | {e_read:.0f} ms | {n_read:.0f} ms | {n_read / e_read:.1f}× |")
    print(f"| add one entry | {p_write:.0f} ms | {e_write:.0f} ms | {n_write:.0f} ms | {n_write / e_write:.1f}× |")


if __name__ == "__main__":
    main()
