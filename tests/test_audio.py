"""Loading, converting and judging audio: every format, every kind of bad file, the streaming VAD."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from audio_testkit import SAMPLES, encode

from voicejournal.audio import (
    SAMPLE_RATE,
    VAD_WINDOW,
    Recording,
    SpeechChunker,
    StreamingVad,
    from_wav_bytes,
    iter_audio,
    load_audio,
    speech_seconds,
    to_wav_bytes,
)
from voicejournal.errors import AudioError

SPEECH = SAMPLES / "vctk_p225_001-002.wav"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(SPEECH)


@pytest.mark.parametrize(
    ("ext", "codec", "rate", "stereo"),
    [
        ("wav", "pcm_s16le", 8000, True),
        ("flac", "flac", 44100, True),
        ("mp3", "mp3", 44100, True),
        ("ogg", "libopus", 48000, False),
        ("m4a", "aac", 22050, True),
        ("webm", "libopus", 48000, True),
    ],
)
def test_every_format_loads_as_16k_mono(tmp_path: Path, speech: np.ndarray, ext, codec, rate, stereo) -> None:
    path = encode(speech, tmp_path / f"entry.{ext}", codec, rate, stereo)
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size / SAMPLE_RATE - speech.size / SAMPLE_RATE) < 0.1
    # the same sound, not silence: loudness close (stereo up/down-mixing costs up to 3 dB)
    assert np.sqrt(np.mean(samples**2)) == pytest.approx(np.sqrt(np.mean(speech**2)), rel=0.35)


def test_wav_bytes_round_trip(speech: np.ndarray) -> None:
    again = from_wav_bytes(to_wav_bytes(speech))
    assert again.size == speech.size
    assert np.max(np.abs(again - speech)) < 1e-3


def test_from_wav_bytes_converts_other_rates(speech: np.ndarray) -> None:
    data = to_wav_bytes(speech[::2], rate=8000)  # an 8 kHz recording of the same length
    assert abs(from_wav_bytes(data).size - speech.size) < 100


def test_iter_audio_gives_bounded_blocks(speech: np.ndarray) -> None:
    blocks = list(iter_audio(SPEECH, block_s=1.0))
    assert all(b.size == SAMPLE_RATE for b in blocks[:-1])
    assert np.array_equal(np.concatenate(blocks), speech)


def _zero_second_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.write_bytes(b"") or p, "empty"),
        (lambda p: p.write_text("Dear diary, this is text, not sound.\n" * 20) or p, "isn't an audio file"),
        (_zero_second_wav, "no sound"),
        (lambda p: p, "Can't find"),
        (lambda p: p.mkdir() or p, "folder"),
    ],
    ids=["empty", "text-renamed-wav", "zero-seconds", "missing", "folder"],
)
def test_bad_files_give_one_clear_audio_error(tmp_path: Path, make, says: str) -> None:
    path = make(tmp_path / "entry.wav")
    with pytest.raises(AudioError, match=says):
        load_audio(path)


def test_truncated_wav_keeps_what_is_there(tmp_path: Path, speech: np.ndarray) -> None:
    whole = to_wav_bytes(speech)
    path = tmp_path / "cut.wav"
    path.write_bytes(whole[: len(whole) // 2])  # the header still claims the full length
    samples = load_audio(path)
    assert abs(samples.size - speech.size // 2) < SAMPLE_RATE // 10


def test_truncated_header_is_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(to_wav_bytes(np.zeros(16000, dtype=np.float32))[:20])
    with pytest.raises(AudioError):
        load_audio(path)


def test_too_long_for_an_entry_is_refused_early(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    path.write_bytes(to_wav_bytes(np.zeros(SAMPLE_RATE * 40, dtype=np.float32)))
    with pytest.raises(AudioError, match="longer than the longest entry"):
        load_audio(path, max_seconds=30)


@pytest.mark.parametrize("name", ["vctk_p225_001-002.wav", "checkin_morning.wav"])
def test_streaming_vad_matches_faster_whisper_on_any_feed_size(name: str) -> None:
    from faster_whisper.vad import get_vad_model

    speech = load_audio(SAMPLES / name)  # checkin_morning has digitally silent padding
    padded = np.pad(speech, (0, VAD_WINDOW - speech.size % VAD_WINDOW))
    whole = np.asarray(get_vad_model()(padded)).reshape(-1)[: speech.size // VAD_WINDOW]
    for step in (333, 1024, 16000):
        vad = StreamingVad()
        probs = np.concatenate([vad.feed(speech[i:i + step]) for i in range(0, speech.size, step)])
        assert probs.size == whole.size
        assert np.array_equal(probs >= 0.5, whole >= 0.5)
        assert np.max(np.abs(probs - whole)) < 0.05


def test_streaming_vad_skips_long_digital_silence_cheaply() -> None:
    import time

    vad = StreamingVad()
    start = time.perf_counter()
    probs = vad.feed(np.zeros(SAMPLE_RATE * 600, dtype=np.float32))  # ten minutes
    assert time.perf_counter() - start < 2.0  # the model judges only the first half second
    assert probs.size == SAMPLE_RATE * 600 // VAD_WINDOW and probs.max() < 0.1


def test_chunker_cuts_contiguous_pieces_in_pauses() -> None:
    parts = [load_audio(SAMPLES / n) for n in ("checkin_morning.wav", "connection_dinner.wav")]
    stream = np.concatenate(parts)
    chunks: list[np.ndarray] = []
    chunker = SpeechChunker(chunks.append)
    for i in range(0, stream.size, 1024):
        chunker.feed(stream[i:i + 1024])
    assert len(chunks) >= 2, "a 45 s entry with sentence pauses is cut while it is spoken"
    assert all(c.size >= 8 * SAMPLE_RATE for c in chunks)
    assert np.array_equal(np.concatenate([*chunks, chunker.remainder()]), stream)
    for chunk in chunks:  # each cut falls where nobody is speaking
        edge = chunk[-800:]
        assert np.sqrt(np.mean(edge**2)) < 0.01


def test_speech_seconds_tells_voice_from_silence_and_noise(speech: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    assert speech_seconds(np.zeros(SAMPLE_RATE * 3, dtype=np.float32)) == 0
    assert speech_seconds(rng.normal(0, 0.3, SAMPLE_RATE * 3).astype(np.float32)) < 1.0
    assert speech_seconds(speech) > 3.0  # 6.4 s of two read sentences with pauses


def test_recording_needs_a_second_of_voice() -> None:
    empty = np.zeros(10, dtype=np.float32)
    assert not Recording(empty, speech_s=0.4).has_speech
    assert Recording(empty, speech_s=1.2).has_speech


def _without_sound_server() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE", "XDG_RUNTIME", "ALSA"))}
    env["HOME"] = env.get("VOICEJOURNAL_HOME", "/nonexistent")
    return env


def test_no_microphone_is_a_clear_device_error() -> None:
    code = (
        "from voicejournal.audio import Recorder\n"
        "from voicejournal.config import Config\n"
        "from voicejournal.errors import DeviceError\n"
        "try:\n"
        "    Recorder(Config()).record()\n"
        "except DeviceError as exc:\n"
        "    print('DeviceError:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=_without_sound_server(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "DeviceError: No microphone was found" in done.stdout
    assert "--input FILE" in done.stdout


def test_wav_bytes_are_plain_pcm(speech: np.ndarray) -> None:
    with wave.open(io.BytesIO(to_wav_bytes(speech[:1600]))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)


def test_missing_portaudio_is_a_clear_device_error() -> None:
    # As on a machine without libportaudio2: the library lookup finds nothing.
    code = (
        "import ctypes.util, sys\n"
        "find = ctypes.util.find_library\n"
        "ctypes.util.find_library = lambda name: None if 'portaudio' in name else find(name)\n"
        "from voicejournal.cli import cli\n"
        "cli(['devices'], prog_name='voicejournal')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 5
    assert "PortAudio is not installed" in done.stderr and "libportaudio2" in done.stderr
    assert "Traceback" not in done.stderr


class LoudnessVad:
    """Stands in for Silero: a window is speech when it is loud (the chunker's logic alone)."""

    def feed(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        windows = samples[: samples.size // VAD_WINDOW * VAD_WINDOW].reshape(-1, VAD_WINDOW)
        return (np.abs(windows).max(axis=1) > 0.05).astype(np.float32)


def test_chunker_offers_a_draft_in_a_short_pause_and_withdraws_it_when_speech_goes_on() -> None:
    def part(seconds: float, level: float) -> np.ndarray:
        return np.full(int(seconds * SAMPLE_RATE), level, dtype=np.float32)

    stream = np.concatenate([part(4, 0.3), part(0.6, 0), part(2, 0.3), part(2.5, 0)])
    drafts: list[np.ndarray | None] = []
    chunks: list[np.ndarray] = []
    chunker = SpeechChunker(chunks.append, vad=LoudnessVad(), on_draft=drafts.append)
    for i in range(0, stream.size, 1024):
        chunker.feed(stream[i:i + 1024])
    assert len(drafts) == 3 and drafts[1] is None  # offered, withdrawn when speech went on, offered
    first, last = drafts[0], drafts[2]
    assert 4.3 * SAMPLE_RATE < first.size < 4.6 * SAMPLE_RATE  # the speech so far and 0.4 s of pause
    assert 6.9 * SAMPLE_RATE < last.size < 7.2 * SAMPLE_RATE
    assert len(chunks) == 1  # cut in the 1 s pause, after the draft, with only silence added
    assert chunks[0].size > last.size and np.array_equal(chunks[0][:last.size], last)
    assert not np.abs(chunks[0][last.size:]).any()


def test_chunker_offers_no_draft_for_a_very_short_chunk() -> None:
    stream = np.concatenate([np.full(SAMPLE_RATE, 0.3, dtype=np.float32), np.zeros(SAMPLE_RATE * 2, dtype=np.float32)])
    drafts: list = []
    chunker = SpeechChunker(lambda _c: None, vad=LoudnessVad(), on_draft=drafts.append)
    for i in range(0, stream.size, 1024):
        chunker.feed(stream[i:i + 1024])
    assert drafts == []  # under END_CHUNK_S: it would not be cut here either, the tail has it
