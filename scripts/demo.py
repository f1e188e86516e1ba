"""`make demo`: one check-in, end to end, on a bundled recording, in a throw-away journal.

Runs `voicejournal checkin --input <sample>`: the spoken prompt, the transcript, the
reflection and its spoken version, and the saved entry. What is said goes to WAV files (and
is played too when this computer has a speaker). Prints where every file is. If a stage is
not available, says what is missing and carries on with the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VJ = [sys.executable, "-m", "voicejournal"]
SAMPLE = ROOT / "audio_samples" / "old_fear_unanswered.wav"


def has_speaker() -> bool:
    """True when ALSA lists a sound card (a headless machine or container has none)."""
    if not shutil.which("aplay"):
        return False
    cards = subprocess.run(["aplay", "-l"], capture_output=True, text=True, check=False)
    return cards.returncode == 0 and "card" in cards.stdout


def step(args: list[str], env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess:
    print("\n$ voicejournal " + " ".join(args), flush=True)
    return subprocess.run(VJ + args, cwd=ROOT, env=env, text=True, capture_output=capture, check=False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # `demo.py FOLDER` keeps everything in FOLDER (the tests use this); by default a new temp folder.
    home = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="voicejournal-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    journal = home / "journal.json"
    spoken = home / "checkin-spoken.wav"
    reflection_wav = home / "reflection.wav"
    env = {**os.environ, "VOICEJOURNAL_HOME": str(home), "VOICEJOURNAL_JOURNAL": str(journal)}
    print(f"Demo journal: {journal}")
    print(f"Recording used as the spoken entry: {SAMPLE.relative_to(ROOT)}")

    checkin = ["checkin", "--input", str(SAMPLE), "--speak-to", str(spoken)]
    if has_speaker():
        checkin.append("--also-play")
    else:
        print("No speaker found: what is said goes to WAV files only.")
    done = step(checkin, env)
    missing = []
    if done.returncode != 0:
        missing.append(f"the check-in stopped with exit code {done.returncode} (see the message above)")
        typed = step(["write", "I keep rereading our messages, waiting for her to reply."], env)
        if typed.returncode != 0:
            return typed.returncode

    listed = step(["list", "--json"], env, capture=True)
    entries = json.loads(listed.stdout or "[]") if listed.returncode == 0 else []
    if not entries:
        print("No entry was saved.")
        return 1
    entry = entries[0]
    step(["show", entry["id"]], env)
    if entry.get("reflection"):
        replay = step(["replay", entry["id"], "--speak-to", str(reflection_wav)], env)
        if replay.returncode != 0:
            missing.append("speaking the saved reflection again (replay)")

    print("\nFiles from this demo:")
    print(f"  journal            {journal}")
    if entry.get("audio"):
        print(f"  entry recording    {home / entry['audio']}")
    for label, path in (("spoken check-in", spoken), ("spoken reflection", reflection_wav)):
        if path.exists():
            print(f"  {label:<18} {path}")
        else:
            missing.append(f"{label} (no WAV was written: is espeak-ng installed?)")
    if missing:
        print("\nNot available on this computer: " + "; ".join(missing))
    print(f"\nEverything from this demo is in {home} (delete the folder when done).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
