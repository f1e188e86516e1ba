"""`make demo`: run the main job end to end on a bundled recording, in a throw-away journal.

Until every stage exists it runs what does and says what is missing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VJ = [sys.executable, "-m", "voicejournal"]


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="voicejournal-demo-"))
    journal = home / "journal.json"
    print(f"Demo journal: {journal}")
    text = "Noor said she would ring after her shift and it is nearly midnight. I keep rereading our messages."
    steps = [
        ["write", text, "--journal", str(journal)],
        ["list", "--journal", str(journal)],
    ]
    for step in steps:
        print("$ voicejournal " + " ".join(step))
        result = subprocess.run(VJ + step, cwd=ROOT)
        if result.returncode:
            return result.returncode
    print("Not built yet: recording, transcription, reflection and speech (see the open issues).")
    print(f"Everything from this demo is in {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
