"""`make demo` (scripts/demo.py) runs the whole check-in on a bundled recording and says where everything is."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_runs_the_check_in_and_prints_every_file(tmp_path):
    folder = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEJOURNAL_", "OPENAI_"))}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), str(folder)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out and "Not available" not in out
    assert "You said:" in out and "Saved 1 entry" in out
    for label, name in (("spoken check-in", "checkin-spoken.wav"), ("spoken reflection", "reflection.wav")):
        path = folder / name
        assert f"{label}" in out and str(path) in out
        with wave.open(str(path)) as w:
            assert w.getnframes() / w.getframerate() > 3
    assert str(folder / "journal.json") in out
    recordings = list((folder / "audio").glob("*.wav"))
    assert len(recordings) == 1 and str(recordings[0]) in out
