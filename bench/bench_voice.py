"""The neural voice on its own, and the memory of a whole check-in with it.

1. **Piper**: loading the voice (checksum included), the real-time factor with one and with two
   onnxruntime threads, and the time to the first audio of a long first sentence rendered whole
   (the naive way) and split at its first clause (what the speaker does).
2. **Peak RSS of a whole check-in**: `voicejournal checkin`, hands-free, in its own process,
   through a private PulseAudio daemon's virtual microphone and speaker (tests/vaudio.py): the
   greeting and prompt are spoken, the entry is spoken into the microphone, the reflection is
   played, "that's all" ends it. Measured with the neural voice and with espeak-ng, on the 25 s
   entry and on the three joined (~71 s). The peak is the process's own (`wait4`).

    .venv/bin/python bench/bench_voice.py [--runs 3] [--no-checkin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

from voicejournal.audio import SAMPLE_RATE, load_audio, to_wav_bytes  # noqa: E402
from voicejournal.neural_voice import JOE, PiperEngine  # noqa: E402
from voicejournal.speech import split_first_clause  # noqa: E402

REPLY = ("It sounds like Noor said she'd ring after her shift and it's nearly midnight. Part of you may be "
         "on edge, waiting for a sign that things are alright, though you know best what's there. I notice "
         "the pull to check and keep checking. What else could you do with that worry, besides checking?")
LONG_FIRST = ("It sounds like the evening stretched out for a long time, while you kept checking your phone "
              "and waiting for a message that didn't come.")


def piper_figures(runs: int) -> None:
    loads, rtf = [], {1: [], 2: []}
    for _ in range(runs):
        engine = PiperEngine(JOE, noise=False)
        started = time.monotonic()
        engine.load()
        loads.append(time.monotonic() - started)
    for threads in (1, 2):
        engine = PiperEngine(JOE, noise=False, threads=threads)
        engine.load()
        for _ in range(runs):
            started = time.monotonic()
            sound = engine.render(REPLY)
            rtf[threads].append((time.monotonic() - started) / sound.duration_s)
    engine = PiperEngine.shared(JOE, noise=False)
    clause = split_first_clause(LONG_FIRST)[0]
    whole_t, clause_t = [], []
    for _ in range(runs):
        started = time.monotonic()
        engine.render(LONG_FIRST)
        whole_t.append(time.monotonic() - started)
        started = time.monotonic()
        engine.render(clause)
        clause_t.append(time.monotonic() - started)
    print(f"Piper, en_US-joe-medium ({runs} runs, median)")
    print(f"  load, checksum included              {statistics.median(loads):.2f} s")
    print(f"  real-time factor, 1 thread            {statistics.median(rtf[1]):.3f}")
    print(f"  real-time factor, 2 threads           {statistics.median(rtf[2]):.3f}")
    w, c = statistics.median(whole_t), statistics.median(clause_t)
    print(f"  long first sentence ({len(LONG_FIRST.split())} words), whole     {w:.2f} s to its audio")
    print(f"  its first clause ({len(clause.split())} words)               {c:.2f} s ({w / c:.1f}x sooner)",
          flush=True)


def hands_free_peak_mb(audio, entry: Path, voice: str, work: Path) -> float:
    """One whole hands-free check-in in its own process; its peak RSS in MB."""
    env = {**audio.env, "VOICEJOURNAL_HOME": str(work / f"home-{voice}-{time.monotonic_ns()}"),
           "VOICEJOURNAL_SILENCE_SECONDS": "1.5", "VOICEJOURNAL_VOICE": voice, "PYTHONUNBUFFERED": "1"}
    for name in ("VOICEJOURNAL_CONFIG", "VOICEJOURNAL_JOURNAL", "VOICEJOURNAL_BACKEND"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "voicejournal", "checkin"], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    listening = {"entry": threading.Event(), "answer": threading.Event()}
    fell_back: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            if "[listening: pause" in line:
                listening["entry"].set()
            elif "[listening: say more" in line:
                listening["answer"].set()
            elif "system voice speaks instead" in line:
                fell_back.append(line.strip())

    threading.Thread(target=read, daemon=True).start()
    usage = None

    def finished() -> bool:  # wait4, not poll(): poll would reap the child and lose its rusage
        nonlocal usage
        pid, _, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            usage, proc.returncode = rusage, 0
        return bool(pid)

    try:
        if not listening["entry"].wait(120):
            raise RuntimeError("the check-in never listened")
        audio.play_into_mic(entry, wait=True)
        deadline = time.monotonic() + 600
        while not finished() and time.monotonic() < deadline:
            if listening["answer"].wait(0.5):  # answer every "is there more?" with "that's all"
                listening["answer"].clear()
                audio.play_into_mic(ROOT / "audio_samples" / "thats_all.wav", wait=True)
    finally:
        if usage is None:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise RuntimeError("the check-in did not end")
    if fell_back:
        raise RuntimeError(fell_back[0])
    return usage.ru_maxrss / 1024


def checkin_figures(runs: int) -> None:
    from vaudio import VirtualAudio

    work = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    folder = ROOT / "audio_samples"
    loaded = [load_audio(folder / n) for n in ("checkin_morning.wav", "old_fear_unanswered.wav",
                                               "connection_dinner.wav")]
    pad = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    (work / "joined.wav").write_bytes(to_wav_bytes(np.concatenate([pad] + loaded + [pad])))
    entries = [("connection_dinner", folder / "connection_dinner.wav"), ("joined (71 s)", work / "joined.wav")]
    print(f"\nPeak RSS of a whole hands-free check-in ({runs} runs, median; min-max)")
    with VirtualAudio(work / "audio") as audio:
        for name, path in entries:
            for voice, label in (("", "neural voice"), ("system", "espeak-ng")):
                peaks = [hands_free_peak_mb(audio, path, voice, work) for _ in range(runs)]
                print(f"  {name:<18} {label:<13} {statistics.median(peaks):5.0f} MB "
                      f"({min(peaks):.0f}-{max(peaks):.0f})", flush=True)
    print("  target: <= 500 MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-checkin", action="store_true", help="only the Piper figures")
    args = parser.parse_args()
    piper_figures(args.runs)
    if not args.no_checkin:
        checkin_figures(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
