"""Spoken answers to "is there more?", spoken by espeak-ng and heard by the real tiny.en model.

Short synthetic phrases are exactly where Whisper struggles ("Short synthetic phrases transcribe
badly"), so this pins down that the answers the loop offers are recognised from real
transcripts, not only from tidy strings.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from voicejournal.audio import SAMPLE_RATE, load_audio
from voicejournal.config import Config
from voicejournal.session import classify_answer, transcribe_answer

ANSWERS = [
    ("Yes.", "more"),
    ("Yes, there is more.", "more"),
    ("More.", "more"),
    ("No.", "end"),
    ("No, thanks.", "end"),
    ("That's all.", "end"),
    ("That's all for today.", "end"),
    ("I'm done.", "end"),
    ("Stop.", "end"),
    ("Repeat that.", "repeat"),
    ("Can you say that again?", "repeat"),
    ("Skip.", "skip"),
]


@pytest.fixture(scope="module")
def transcriber():
    from voicejournal.transcription import get_transcriber

    return get_transcriber(Config())


@pytest.mark.slow
@pytest.mark.parametrize(("phrase", "expected"), ANSWERS)
def test_spoken_answer_is_understood(phrase, expected, transcriber, tmp_path):
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is needed: `bash scripts/bootstrap.sh test` installs it"
    wav = tmp_path / "answer.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(wav), phrase], check=True)
    pad = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    samples = np.concatenate([pad, load_audio(wav), pad, pad])  # as the recorder would hear it
    heard = transcribe_answer(transcriber, samples)
    assert classify_answer(heard) == expected, f"{phrase!r} was heard as {heard!r}"


@pytest.mark.slow
def test_silence_is_not_an_answer(transcriber):
    """Whisper may invent 'Thank you.' in silence; the loop must ask again, not act on it."""
    noise = (np.random.default_rng(0).standard_normal(SAMPLE_RATE * 3) * 0.002).astype(np.float32)
    assert classify_answer(transcribe_answer(transcriber, noise)) is None
