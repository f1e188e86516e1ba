"""Shared fixtures. No test touches the real home, the network beyond loopback, or hardware."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from voicejournal.cli import cli


@pytest.fixture(autouse=True)
def vj_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point VOICEJOURNAL_HOME at a fresh folder and clear settings that leak in from outside."""
    home = tmp_path / "vjhome"
    monkeypatch.setenv("VOICEJOURNAL_HOME", str(home))
    for name in ("VOICEJOURNAL_JOURNAL", "VOICEJOURNAL_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                 "VOICEJOURNAL_BACKEND", "VOICEJOURNAL_PASSPHRASE", "VOICEJOURNAL_PROMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EDITOR", "false")
    return home


@pytest.fixture
def journal_path(vj_home: Path) -> Path:
    return vj_home / "journal.json"


@pytest.fixture
def run():
    """Invoke the CLI in-process: run("list", "--json") -> click Result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, **kwargs):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False, **kwargs)

    return invoke


@pytest.fixture(scope="session")
def virtual_audio(tmp_path_factory: pytest.TempPathFactory):
    """A private PulseAudio daemon with a virtual microphone and speaker (see tests/vaudio.py).

    Returns a `VirtualAudio`: run the code under test in a subprocess with `env=virtual_audio.env`
    (ALSA reads its config at `import sounddevice`), feed it speech with
    `.play_into_mic(wav)`, and hear what it says with `.record_speaker(out)` / `.stop_recording()`.
    """
    from vaudio import VirtualAudio  # tests/ is on sys.path (pytest rootdir conftest)

    audio = VirtualAudio(tmp_path_factory.mktemp("vaudio")).start()
    yield audio
    audio.stop()
