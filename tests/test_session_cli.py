"""replay, play and the typed/file check-in through the command line (real store, real TTS to WAV files)."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from voicejournal.audio import to_wav_bytes
from voicejournal.models import Entry, Reflection, Safety
from voicejournal.store import open_store

ROOT = Path(__file__).resolve().parent.parent


def add(journal: Path, **fields) -> Entry:
    store = open_store(journal)
    entry = store.add(Entry(**fields))
    return entry


def test_replay_speaks_the_saved_reflection_to_a_file(run, journal_path, tmp_path):
    entry = add(journal_path, transcript="I called my sister.",
                reflection=Reflection("You called your sister. That took some courage.", "offline"))
    out = tmp_path / "replay.wav"
    result = run("replay", entry.id[:8], "--speak-to", str(out))
    assert result.exit_code == 0, result.output
    assert "You called your sister." in result.output and f"written to {out}" in result.output
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 1.5


def test_replay_without_a_speaker_prints_and_says_why_once(run, journal_path):
    entry = add(journal_path, transcript="x", reflection=Reflection("Some people do stay.", "offline"))
    result = run("replay", entry.id)
    assert result.exit_code == 0
    assert "Some people do stay." in result.output
    assert result.output.count("--speak-to") == 1  # the reason it wasn't heard, said once


def test_replay_of_an_entry_without_a_reflection(run, journal_path):
    pending = add(journal_path, transcript="x", status="pending")
    result = run("replay", pending.id)
    assert result.exit_code == 3 and "retry" in result.output
    safety = add(journal_path, transcript="y", safety=Safety("crisis", "sincere"))
    result = run("replay", safety.id)
    assert result.exit_code == 3 and "support was offered" in result.output
    assert run("replay", "zzzz").exit_code == 3


def test_play_writes_or_plays_the_recording(run, journal_path, tmp_path):
    store = open_store(journal_path)
    entry = Entry(transcript="hello", source="mic")
    samples = (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    entry.audio = store.write_audio(entry.id, to_wav_bytes(samples))
    store.add(entry)
    out = tmp_path / "copy.wav"
    result = run("play", entry.id, "--to", str(out))
    assert result.exit_code == 0 and out.read_bytes() == store.read_audio(entry)
    # No sound card here: a clear message and exit 5, not a traceback.
    result = run("play", entry.id)
    assert result.exit_code == 5 and "speaker" in result.output.lower() and "Traceback" not in result.output
    typed = add(journal_path, transcript="typed")
    assert run("play", typed.id).exit_code == 3


def test_checkin_text_loop_typed(run, journal_path, tmp_path):
    out = tmp_path / "spoken.wav"
    typed = "My friend has not answered my message and the old story came back. People always leave.\n\n" \
            "Later I went for a walk and felt a bit calmer.\nq\n"
    result = run("checkin", "--text", "--speak-to", str(out), input=typed)
    assert result.exit_code == 0, result.output
    entries = open_store(journal_path).all()
    assert [e.transcript for e in entries] == [
        "My friend has not answered my message and the old story came back. People always leave.",
        "Later I went for a walk and felt a bit calmer.",
    ]
    assert all(e.source == "text" and e.reflection and e.status == "complete" for e in entries)
    assert "Saved 2 entries" in result.output and str(journal_path) in result.output
    assert entries[0].reflection.text.split(".")[0] in result.output
    assert out.exists()


def test_checkin_text_no_speak_and_end_of_input(run, journal_path):
    result = run("checkin", "--text", "--no-speak", "--practice", "connection",
                 input="Sam listened to me at dinner and I felt calm.\n")
    assert result.exit_code == 0, result.output
    (entry,) = open_store(journal_path).all()
    assert entry.practice == "connection" and entry.reflection is not None
    assert "--speak-to" not in result.output  # --no-speak is a choice, not a problem to report


def test_checkin_rejects_bad_input_cleanly(run, tmp_path, journal_path):
    assert run("checkin", "--text", "--practice", "nope", input="x\n").exit_code == 2
    missing = run("checkin", "--input", str(tmp_path / "none.wav"))
    assert missing.exit_code == 2 and "no recording" in missing.output
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    bad = run("checkin", "--input", str(junk), "--no-speak")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert open_store(journal_path).all() == []


def test_checkin_input_recording_without_voice_saves_nothing_and_says_so(run, tmp_path, journal_path):
    """Regression: a silent --input file ended the check-in without a word about why."""
    quiet = tmp_path / "quiet.wav"
    rng = np.random.default_rng(3)
    quiet.write_bytes(to_wav_bytes((rng.standard_normal(16000 * 4) * 0.001).astype(np.float32)))
    result = run("checkin", "--input", str(quiet), "--no-speak")
    assert result.exit_code == 0
    assert "didn't hear anything" in result.output
    assert not journal_path.exists() or open_store(journal_path).all() == []


@pytest.mark.slow
def test_checkin_input_file_one_pass_with_real_whisper(run, journal_path, tmp_path):
    out = tmp_path / "spoken.wav"
    result = run("checkin", "--input", str(ROOT / "audio_samples" / "connection_dinner.wav"),
                 "--speak-to", str(out))
    assert result.exit_code == 0, result.output
    (entry,) = open_store(journal_path).all()
    assert entry.source == "file" and entry.status == "complete" and entry.audio
    assert "burnt rice" in entry.transcript.lower()
    assert entry.reflection and entry.reflection.text.split(".")[0] in result.output
    with wave.open(io.BytesIO(out.read_bytes())) as w:
        assert w.getnframes() / w.getframerate() > 5  # greeting, prompt, reflection, closing
    listed = json.loads(run("list", "--json").output)
    assert listed[0]["id"] == entry.id


def test_checkin_without_a_microphone_says_what_to_do(run, journal_path):
    """This machine has no sound card: the hands-free check-in can't start, and says so."""
    result = run("checkin", "--no-speak")
    assert result.exit_code == 5
    assert "--input FILE" in result.output and "Traceback" not in result.output
    assert not journal_path.exists() or open_store(journal_path).all() == []


def test_checkin_without_a_speaker_prints_everything_and_says_why_once(run, journal_path):
    """No audio output on this machine: the check-in goes on in text and explains it once."""
    result = run("checkin", "--text", input="I told Ines I was struggling and she stayed all evening.\n\nq\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("No speaker or audio output is available") == 1
    (entry,) = open_store(journal_path).all()
    assert entry.status == "complete" and entry.reflection.text.split(".")[0] in result.output
