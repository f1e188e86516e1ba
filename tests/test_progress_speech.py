"""`lookback --speak` and `review --speak`, heard back: the real voice into a WAV, then real Whisper on it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from audio_testkit import wer
from journal_factory import write_journal

from voicejournal.config import Config
from voicejournal.models import Entry, Theme


def at(day: str, text: str, *themes: Theme) -> Entry:
    moment = datetime.fromisoformat(f"{day}T12:00:00").astimezone()
    return Entry(transcript=text, created_at=moment.isoformat(timespec="seconds"), themes=list(themes))


@pytest.fixture(scope="module")
def transcriber():
    from voicejournal.transcription import get_transcriber

    return get_transcriber(Config(model="tiny.en", language="en"))


def _heard(transcriber, wav: Path) -> str:
    from voicejournal.transcription import transcribe_file

    return transcribe_file(wav, transcriber).text


@pytest.mark.slow
def test_lookback_reads_the_old_entries_aloud(run, journal_path, tmp_path, transcriber):
    write_journal(journal_path, [
        at("2025-03-14", "I walked to the market and bought bread for my neighbour.",
           Theme("connection", "connection", ["bought bread for my neighbour"])),
        at("2026-03-14", "My neighbour knocked to say thank you.", Theme("connection", "connection", ["knocked"])),
    ])
    wav = tmp_path / "lookback.wav"
    out = run("lookback", "--date", "2026-03-14", "--speak-to", str(wav))
    assert out.exit_code == 0, out.output
    assert "The spoken words were saved to" in out.output
    expected = ("One year ago, on 14 March 2025, you said: I walked to the market and bought bread for my "
                "neighbour. The earliest entry about moments of connection is from 14 March 2025. You said: "
                "I walked to the market and bought bread for my neighbour.")
    heard = _heard(transcriber, wav)
    assert wer(expected, heard) < 0.35, heard


@pytest.mark.slow
def test_weekly_review_is_spoken(run, journal_path, tmp_path, transcriber):
    write_journal(journal_path, [
        at("2026-03-12", "This week I will call my sister on Sunday.",
           Theme("small_step", "set", ["call my sister on Sunday"])),
    ])
    wav = tmp_path / "review.wav"
    out = run("review", "--week", "--date", "2026-03-15", "--speak-to", str(wav))
    assert out.exit_code == 0, out.output
    heard = _heard(transcriber, wav)
    printed = " ".join(line.strip().lstrip("- ") for line in out.output.splitlines() if "saved to" not in line)
    assert "Nothing was marked as going well this week" in printed  # what was printed is what was said
    assert wer(printed, heard) < 0.3, heard
    assert "sister" in heard.lower() and "sunday" in heard.lower()


def test_speaking_without_a_sound_device_keeps_the_text(run, journal_path):
    write_journal(journal_path, [at("2026-03-12", "Quiet week.")])
    out = run("review", "--date", "2026-03-15", "--speak")
    assert out.exit_code == 0
    assert "You made one entry on one day this week." in out.output
    assert "Traceback" not in out.output
