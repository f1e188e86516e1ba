"""`voicejournal checkin`, hands-free, through a virtual microphone and speaker (PulseAudio null sinks).

The test is the person: it waits until the loop says it is listening, speaks an entry into
the microphone, waits for "is there more?", says "that's all", and listens to everything the
loop says. Real: the subprocess, ALSA -> PulseAudio, sounddevice, Silero VAD, faster-whisper
tiny.en, the offline reflector, the neural voice (Piper), aplay, TinyDB on disk.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import subprocess
import sys
import threading
import time
from difflib import SequenceMatcher
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "audio_samples"


def reference(name: str) -> str:
    with open(SAMPLES / "manifest.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["filename"] == name:
                return row["reference"]
    raise KeyError(name)


def words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c in " '" else " " for c in text).split()


def wer(ref: str, hyp: str) -> float:
    """Word error rate (Levenshtein over words)."""
    r, h = words(ref), words(hyp)
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
    return row[len(h)] / max(1, len(r))


def recall_in(ref: str, heard: str) -> float:
    """Share of `ref`'s words heard in order somewhere inside `heard` (1 - the span's WER, ignoring insertions)."""
    r, h = words(ref), words(heard)
    blocks = SequenceMatcher(None, r, h, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / max(1, len(r))


class Watcher:
    """Collects a subprocess's output lines so the test can wait for the loop's prompts."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"never saw {text!r}; output so far:\n" + "".join(self.seen))

    def rest(self) -> str:
        """Everything the process wrote; call after it has exited."""
        # The reader may still be behind on a busy machine: wait for it to reach the end of output.
        self._thread.join(timeout=60)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


@pytest.mark.slow
def test_hands_free_checkin_ends_by_itself_and_speaks_the_reflection(virtual_audio, tmp_path):
    home = tmp_path / "home"
    journal = home / "journal.json"
    env = {
        **virtual_audio.env,
        "VOICEJOURNAL_HOME": str(home),
        "VOICEJOURNAL_JOURNAL": str(journal),
        "VOICEJOURNAL_SILENCE_SECONDS": "1.5",
        "VOICEJOURNAL_RATE": "200",  # a little quicker than the default, to keep the test short
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("VOICEJOURNAL_CONFIG", "VOICEJOURNAL_BACKEND", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    heard_wav = tmp_path / "speaker.wav"
    virtual_audio.record_speaker(heard_wav)
    proc = subprocess.Popen(
        # --debug: the log says which voice loaded (and would say why if it fell back)
        [sys.executable, "-m", "voicejournal", "--debug", "checkin"], cwd=ROOT, env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    watcher = Watcher(proc)
    try:
        watcher.wait_for("[listening: pause", timeout=90)
        virtual_audio.play_into_mic(SAMPLES / "old_fear_unanswered.wav", wait=True)
        watcher.wait_for("[listening: say more", timeout=120)
        virtual_audio.play_into_mic(SAMPLES / "thats_all.wav", wait=True)
        proc.wait(timeout=90)  # the loop must end by itself
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _wait_for_more_audio(heard_wav, seconds=0.5)  # the last of the closing reaches the monitor
        virtual_audio.stop_recording()
    output = watcher.rest()
    assert proc.returncode == 0, output
    assert "Saved 1 entry" in output
    # Spoken with the neural voice, the default: it loaded, and nothing fell back to the system voice.
    assert "neural voice piper/en_US-joe-medium loaded" in output, output
    assert "system voice speaks instead" not in output

    from voicejournal.store import JournalStore

    entries = JournalStore(journal).all()
    assert len(entries) == 1, output
    entry = entries[0]
    assert entry.source == "mic" and entry.status == "complete" and entry.audio
    assert wer(reference("old_fear_unanswered.wav"), entry.transcript) < 0.25, entry.transcript
    assert entry.reflection is not None
    from voicejournal.speech import split_sentences

    assert all(sentence in output for sentence in split_sentences(entry.reflection.text))  # shown as spoken

    # What came out of the speaker transcribes back to the reflection.
    from voicejournal.audio import load_audio
    from voicejournal.config import Config
    from voicejournal.transcription import get_transcriber

    spoken = get_transcriber(Config()).transcribe(load_audio(heard_wav)).text
    assert recall_in(entry.reflection.text, spoken) > 0.7, (entry.reflection.text, spoken)
    info = json.loads(subprocess.run([sys.executable, "-m", "voicejournal", "list", "--json"], cwd=ROOT,
                                     env={**os.environ, "VOICEJOURNAL_JOURNAL": str(journal)},
                                     capture_output=True, text=True, check=True).stdout)
    assert info[0]["id"] == entry.id


def _wait_for_more_audio(wav: Path, seconds: float, timeout: float = 15.0) -> None:
    """Wait until the speaker recording has grown by `seconds` of audio (16 kHz, 16-bit mono)."""
    start = wav.stat().st_size if wav.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wav.exists() and wav.stat().st_size >= start + int(seconds * 32000):
            return
        time.sleep(0.05)


# An entry that is heavy but not clear: the loop must ask before it reflects (issue: crisis detection).
UNSURE = "Work was long again today. Some nights I wonder what the point of carrying on is."


def _speak(text: str, wav: Path) -> Path:
    """Synthesise a sentence as a person at the microphone would say it (espeak-ng, 16 kHz WAV)."""
    import shutil

    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is needed: `bash scripts/bootstrap.sh test` installs it"
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
    return wav


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["No.", "Yes."])
def test_a_heavy_entry_is_met_with_a_direct_question_answered_by_voice(virtual_audio, tmp_path, answer):
    home = tmp_path / "home"
    journal = home / "journal.json"
    env = {**virtual_audio.env, "VOICEJOURNAL_HOME": str(home), "VOICEJOURNAL_JOURNAL": str(journal),
           "VOICEJOURNAL_SILENCE_SECONDS": "1.5", "VOICEJOURNAL_RATE": "220", "VOICEJOURNAL_VOICE": "system",
           "PYTHONUNBUFFERED": "1"}
    for name in ("VOICEJOURNAL_CONFIG", "VOICEJOURNAL_BACKEND", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    entry_wav = _speak(UNSURE, tmp_path / "entry.wav")
    answer_wav = _speak(answer, tmp_path / "answer.wav")
    proc = subprocess.Popen([sys.executable, "-m", "voicejournal", "checkin"], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watcher = Watcher(proc)
    try:
        watcher.wait_for("[listening: pause", timeout=90)
        virtual_audio.play_into_mic(entry_wav, wait=True)
        watcher.wait_for("[listening: say yes or no", timeout=120)  # asked before any reflection
        virtual_audio.play_into_mic(answer_wav, wait=True)
        watcher.wait_for("[listening: say more", timeout=120)
        virtual_audio.play_into_mic(SAMPLES / "thats_all.wav", wait=True)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = watcher.rest()
    assert proc.returncode == 0, output

    from voicejournal.reflection.resources import check_question
    from voicejournal.store import JournalStore

    assert check_question() in output
    entries = JournalStore(journal).all()
    assert len(entries) == 1, output  # saved, whatever the answer
    entry = entries[0]
    if answer == "No.":
        assert entry.safety.level == "check" and entry.safety.answer == "no", output
        assert entry.reflection is not None and "Thank you for telling me" in output
    else:
        assert entry.safety.level == "crisis" and entry.safety.answer == "yes", output
        from voicejournal.reflection.resources import safety_message

        message, lines = safety_message(entry.safety, None)
        assert entry.reflection is None and lines and all(line in output for line in lines), output
