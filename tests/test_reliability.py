"""Nothing is lost: writers killed with SIGKILL, several processes at once, disk full,
read-only folders and a journal folder that disappears.

Every failure here is real: real processes killed by the kernel, a real full file system
(a tiny tmpfs when we may mount one, and a file-size limit, which works anywhere), a
read-only mount (or folder permissions when not root).
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from voicejournal.models import Entry
from voicejournal.store import JournalStore, open_store

REPO = Path(__file__).resolve().parents[1]
PASS = "kill-suite passphrase"

# One writer process per kill. It prints "ready" once set up, then "try X" before and
# "ok X" after each operation, so the parent knows exactly what was acknowledged.
WRITER = r"""
import sys, itertools
from pathlib import Path
from voicejournal import crypto
from voicejournal.models import Entry, new_id
from voicejournal.store import JournalStore, open_store

crypto.DEFAULT_KDF = crypto.KdfParams(log2_n=12)  # the header records it; keeps 25 encrypts quick
mode, path = sys.argv[1], Path(sys.argv[2])
# one write per line: print() writes its parts separately, and a kill can land between them
say = lambda *a: (sys.stdout.write(" ".join(map(str, a)) + "\n"), sys.stdout.flush())
store = open_store(path) if mode != "encrypt" else None
say("ready")
if mode == "add":
    while True:
        entry = Entry(id=new_id(), transcript="entry " + "words " * 30)
        say("try", entry.id)
        store.add(entry)
        say("ok", entry.id)
elif mode == "edit":
    ids = [e.id for e in store.all()]
    for n in itertools.count(1):
        for i in ids:
            say("try", i, n)
            store.modify(i, lambda e: setattr(e, "transcript", f"version {n}"))
            say("ok", i, n)
elif mode == "delete":
    for entry in store.all():
        say("try", entry.id)
        store.delete(entry.id)
        say("ok", entry.id)
    say("done")
elif mode == "encrypt":
    for n in itertools.count():
        if n % 2 == 0:
            crypto.encrypt_journal(path, sys.argv[3])
            say("ok", "encrypted")
        else:
            crypto.decrypt_journal(path, sys.argv[3])
            say("ok", "decrypted")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return env


def kill_writer(mode: str, journal: Path, rng: random.Random, *extra: str) -> list[list[str]]:
    """Start a writer, let it run a random 0-120 ms after it is ready, SIGKILL it; its output lines."""
    proc = subprocess.Popen([sys.executable, "-u", "-c", WRITER, mode, str(journal), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    first = proc.stdout.readline()
    assert first.strip() == "ready", proc.stderr.read()
    time.sleep(rng.uniform(0, 0.12))
    proc.send_signal(signal.SIGKILL)
    # Not communicate(): it reads the raw pipe and would drop lines readline() already buffered.
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=30)
    assert proc.returncode in (-signal.SIGKILL, 0), err  # 0: `delete` finished before the kill
    # Regression: a line cut off by the kill ("ok" without its id) broke the bookkeeping.
    complete = out if out.endswith("\n") else out[: out.rfind("\n") + 1]
    return [line.split() for line in complete.splitlines()]


KILLS = {"add": 40, "edit": 25, "delete": 20, "encrypt": 25}


def test_writers_killed_at_random_moments_lose_nothing(tmp_path):
    rng = random.Random(20260214)
    survived = dict.fromkeys(KILLS, 0)
    started = time.monotonic()

    # Adds: every acknowledged entry is there; at most the one in flight is extra.
    journal = tmp_path / "add" / "journal.json"
    acked: set[str] = set()
    for _ in range(KILLS["add"]):
        lines = kill_writer("add", journal, rng)
        acked |= {w[1] for w in lines if w[0] == "ok"}
        tried = [w[1] for w in lines if w[0] == "try"]
        ids = {e.id for e in JournalStore(journal).all()}
        assert acked <= ids
        assert ids - acked <= set(tried[-1:])
        acked |= ids  # an in-flight entry that landed is part of the journal from now on
        survived["add"] += 1
    assert len(acked) > KILLS["add"]  # the kills really landed between many writes

    # Edits: each entry holds its last acknowledged version, or the one in flight.
    versions = {e.id: "entry " + "words " * 30 for e in JournalStore(journal).all()}
    for _ in range(KILLS["edit"]):
        lines = kill_writer("edit", journal, rng)
        in_flight = {}
        for w in lines:
            if w[0] == "ok":
                versions[w[1]] = f"version {w[2]}"
            elif w[0] == "try":
                in_flight = {w[1]: f"version {w[2]}"}
        for entry in JournalStore(journal).all():
            assert entry.transcript in (versions[entry.id], in_flight.get(entry.id)), entry.id
            versions[entry.id] = entry.transcript
        survived["edit"] += 1

    # Deletes: acknowledged deletions are gone, everything else is still there.
    present = set(versions)
    for _ in range(KILLS["delete"]):
        if not present:
            break
        lines = kill_writer("delete", journal, rng)
        gone = {w[1] for w in lines if w[0] == "ok"}
        tried = [w[1] for w in lines if w[0] == "try"]
        ids = {e.id for e in JournalStore(journal).all()}
        assert not ids & gone
        assert present - gone - ids <= set(tried[-1:])
        present = ids
        survived["delete"] += 1

    # Encrypt/decrypt in a loop: the journal always opens, with every entry and recording.
    journal = tmp_path / "enc" / "journal.json"
    store = JournalStore(journal)
    wav = b"RIFF" + bytes(range(256)) * 40
    expected = {}
    for i in range(12):
        entry = Entry(transcript=f"secret {i}")
        entry.audio = store.write_audio(entry.id, wav) if i % 2 == 0 else None
        store.add(entry)
        expected[entry.id] = entry.transcript
    os.environ["VOICEJOURNAL_PASSPHRASE"] = PASS  # how open_store finds it; removed below
    try:
        for _ in range(KILLS["encrypt"]):
            kill_writer("encrypt", journal, rng, PASS)
            store = open_store(journal)
            entries = store.all()
            assert {e.id: e.transcript for e in entries} == expected
            for e in entries:
                if e.audio:
                    assert store.read_audio(e) == wav, e.audio
            survived["encrypt"] += 1
    finally:
        del os.environ["VOICEJOURNAL_PASSPHRASE"]

    elapsed = time.monotonic() - started
    assert survived == KILLS, survived
    _record("kills", {"survived": survived, "total": sum(survived.values()), "seconds": round(elapsed, 1)})


def _writers(mode: str, journal: Path, count: int, n: int) -> list[subprocess.Popen]:
    code = {
        "add": "for i in range(n): s.add(Entry(transcript=f'{tag} {i}'))",
        "tag": "ids=[e.id for e in s.all()]\n"
               "for i in ids: s.modify(i, lambda e: e.tags.append(tag))",
        "mixed": "ids=[e.id for e in s.all()][:n]\n"
                 "for i in ids:\n"
                 "    s.add(Entry(transcript=f'{tag} new {i}'))\n"
                 "    s.modify(i, lambda e: e.tags.append(tag))",
    }[mode]
    script = ("import sys\nfrom voicejournal.store import open_store\nfrom voicejournal.models import Entry\n"
              "s=open_store(sys.argv[1]); tag=sys.argv[2]; n=int(sys.argv[3])\n" + code)
    return [subprocess.Popen([sys.executable, "-c", script, str(journal), f"w{k}", str(n)], env=_env(),
                             stderr=subprocess.PIPE, text=True) for k in range(count)]


def _wait(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err


def test_two_processes_200_adds_each_give_400_entries(journal_path):
    started = time.monotonic()
    _wait(_writers("add", journal_path, 2, 200))
    elapsed = time.monotonic() - started
    entries = JournalStore(journal_path).all()
    texts = sorted(e.transcript for e in entries)
    assert len(entries) == 400
    assert len({e.id for e in entries}) == 400
    assert texts == sorted(f"w{k} {i}" for k in range(2) for i in range(200))
    _record("concurrency_adds", {"processes": 2, "adds": 400, "entries": len(entries), "seconds": round(elapsed, 1)})


def test_processes_editing_and_adding_at_once_lose_nothing(journal_path):
    store = JournalStore(journal_path)
    for i in range(40):
        store.add(Entry(transcript=f"base {i}"))
    _wait(_writers("tag", journal_path, 2, 0) + _writers("mixed", journal_path, 2, 40))
    entries = JournalStore(journal_path).all()
    base = [e for e in entries if e.transcript.startswith("base")]
    assert len(base) == 40
    for e in base:
        assert sorted(e.tags) == ["w0", "w0", "w1", "w1"]  # two writers named w0/w1 in each group
    added = sorted(e.transcript for e in entries if " new " in e.transcript)
    assert len(added) == 80 and len(set(added)) == 80
    assert len({e.id for e in entries}) == 120


# --- disk full, read-only, vanishing folder --------------------------------------------------


def _try_mount(*args: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def small_disk(folder: Path, size_kb: int = 48):
    """A real, tiny file system at `folder` (tmpfs). Yields False when mounting isn't allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = _try_mount("-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(folder))
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=True)


@contextmanager
def read_only(folder: Path):
    """Make `folder` read-only for real: a read-only bind mount as root, permissions otherwise."""
    if _try_mount("--bind", str(folder), str(folder)):
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
            yield
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
    else:
        mode = folder.stat().st_mode
        os.chmod(folder, 0o500)
        try:
            yield
        finally:
            os.chmod(folder, mode)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.endswith(".lock")}


def test_disk_full_is_a_clear_error_and_the_journal_is_intact(run, tmp_path):
    folder = tmp_path / "tiny"
    with small_disk(folder) as mounted:
        if not mounted:  # no mount allowed here: test_file_size_limit_write_fails_cleanly covers this path
            return
        journal = folder / "journal.json"
        saved = 0
        result = None
        for i in range(400):
            result = run("--journal", str(journal), "write", f"entry {i} " + "x" * 300)
            # `write` saves the entry, then saves its reflection: the disk may fill at either step;
            # an entry counts as acknowledged once "Saved entry" was printed.
            saved += "Saved entry" in result.output
            if result.exit_code != 0:
                break
        assert result.exit_code == 4, result.output
        assert "No space left on device" in result.output and "Nothing was changed" in result.output
        assert "Traceback" not in result.output
        assert len(JournalStore(journal).all()) == saved > 0
        assert not list(folder.glob("*.tmp"))
        before = _snapshot(folder)
        again = run("--journal", str(journal), "tag", JournalStore(journal).all()[0].id, "+" + "t" * 39)
        assert again.exit_code in (0, 4)
        if again.exit_code == 4:
            assert _snapshot(folder) == before
        listed = run("--journal", str(journal), "list", "--json")
        assert listed.exit_code == 0 and len(json.loads(listed.output)) == saved


def test_file_size_limit_write_fails_cleanly(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG) in a real subprocess, on any machine."""
    journal = tmp_path / "j" / "journal.json"
    store = JournalStore(journal)
    for i in range(5):
        store.add(Entry(transcript=f"kept {i}"))
    before = journal.read_bytes()
    limit = len(before) + 200

    def limit_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "voicejournal", "--journal", str(journal), "write", "y" * 5000],
                          capture_output=True, text=True, env=_env(), preexec_fn=limit_size, timeout=60)
    assert proc.returncode == 4, proc.stderr
    assert "File too large" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert journal.read_bytes() == before
    assert not list(journal.parent.glob("*.tmp"))


def test_read_only_folder_is_a_clear_error_and_reading_still_works(run, journal_path):
    store = JournalStore(journal_path)
    first = store.add(Entry(transcript="written before the folder went read-only"))
    folder = journal_path.parent
    before = _snapshot(folder)
    with read_only(folder):
        for args in (["write", "new"], ["tag", first.id, "+x"], ["star", first.id], ["delete", "--yes", first.id]):
            result = run("--journal", str(journal_path), *args)
            assert result.exit_code == 4, (args, result.output)
            assert "Nothing was changed" in result.output and "Traceback" not in result.output
        listed = run("--journal", str(journal_path), "list")
        assert listed.exit_code == 0 and "read-only" in listed.output
        assert run("--journal", str(journal_path), "show", first.id).exit_code == 0
    assert _snapshot(folder) == before


def test_journal_folder_that_disappears(run, tmp_path):
    folder = tmp_path / "usb"
    journal = folder / "journal.json"
    store = open_store(journal)
    store.add(Entry(transcript="on the drive"))
    moved = tmp_path / "usb-elsewhere"
    folder.rename(moved)  # the drive is unplugged while the program runs
    with pytest.raises(Exception, match="has disappeared") as info:
        store.add(Entry(transcript="would start a second, partial journal"))
    assert getattr(info.value, "exit_code", None) == 4
    assert not folder.exists()
    assert [e.transcript for e in JournalStore(moved / "journal.json").all()] == ["on the drive"]

    # Between commands: a journal given by path whose folder is gone is simply not there yet;
    # a path whose parent is a file is a clear error.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run("--journal", str(blocker / "journal.json"), "write", "hello")
    assert result.exit_code == 4 and "Traceback" not in result.output
    assert blocker.read_text() == "not a folder"


def test_entry_and_audio_survive_when_reflection_fails(journal_path, tmp_path):
    """Remote model failures are the reflection suite's; here: whatever it raises, the entry and audio stay."""
    from voicejournal.config import Config
    from voicejournal.errors import ModelError
    from voicejournal.session import complete_entry

    class BrokenReflector:
        """Stands in for a remote backend whose server fails; `complete_entry` only calls reflect()."""

        def reflect(self, text, practice="checkin", history=()):
            raise ModelError("The model server stopped answering. Your entry is saved; `voicejournal retry` finishes it.")

    store = JournalStore(journal_path)
    entry = Entry(transcript="I asked my partner for reassurance and then felt silly about it.", source="mic")
    entry.audio = store.write_audio(entry.id, b"RIFF....WAVE")
    store.add(entry)
    with pytest.raises(ModelError):
        complete_entry(store, entry, Config(), reflector=BrokenReflector())
    kept = JournalStore(journal_path).get(entry.id)
    assert kept.transcript == entry.transcript and kept.is_pending
    assert "reflection failed" in (kept.pending_reason or "")
    assert store.read_audio(kept) == b"RIFF....WAVE"


def _record(name: str, data: dict) -> None:
    """Print the figures the README quotes (see them with `pytest -s`)."""
    print(f"\nreliability {name}: {json.dumps(data, sort_keys=True)}")
