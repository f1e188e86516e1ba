"""Shared fixtures. No test touches the real home, the network beyond loopback, or hardware."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from voicejournal import dates
from voicejournal.cli import cli


def pytest_configure(config: pytest.Config) -> None:
    """`VOICEJOURNAL_NOW=2028-02-29T21:00 make test` runs the whole suite on that day.

    The product reads VOICEJOURNAL_NOW once per process; turned into one shift here, every
    subprocess a test starts lives on the same clock as the test itself.
    """
    fixed = os.environ.pop(dates.NOW_ENV, "").strip()
    if fixed:
        os.environ[dates.SHIFT_ENV] = repr(_shift_days_to(fixed))
    _let_ctrl_c_through()


def _let_ctrl_c_through() -> None:
    """Tests press Ctrl-C (SIGINT) on the programs they start, and stop parec with it.

    A shell that starts the suite in the background (`make test &`, nohup, some CI runners)
    starts it with SIGINT ignored, and every program it starts inherits that: the recorder
    would never see the Ctrl-C. A handler here is reset to the default in each child instead.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _shift_days_to(moment: str) -> float:
    when = datetime.fromisoformat(moment)
    if when.tzinfo is None:
        when = when.astimezone()
    return (when.timestamp() - time.time()) / 86400.0


@pytest.fixture
def clock_at(monkeypatch: pytest.MonkeyPatch):
    """Pin the product's clock (here and in subprocesses) near a moment: clock_at("2026-01-15T20:00").

    For tests whose journals use fixed dates; tests that build journals relative to
    `dates.today()` don't need it and run on whatever day the clock says.
    """

    def pin(moment: str) -> None:
        monkeypatch.delenv(dates.NOW_ENV, raising=False)
        monkeypatch.setenv(dates.SHIFT_ENV, repr(_shift_days_to(moment)))

    return pin


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
