"""`voicejournal doctor`: every check reports ok / problem / how to fix, and none stops the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicejournal.config import Config
from voicejournal.doctor import check_journal, check_microphone, run_checks
from voicejournal.models import Entry
from voicejournal.store import open_store

ROOT = Path(__file__).resolve().parent.parent


def test_journal_check(tmp_path):
    path = tmp_path / "journal.json"
    assert check_journal(path).ok and "not created yet" in check_journal(path).detail
    store = open_store(path)
    store.add(Entry(transcript="one"))
    good = check_journal(path)
    assert good.ok and "1 entry," in good.detail and "0o600" in good.detail
    os.chmod(path, 0o644)
    bad = check_journal(path)
    assert not bad.ok and bad.fix == f"chmod 600 {path}"


def test_no_microphone_is_a_problem_with_a_fix():
    """This machine has no sound card: the real 'no microphone' case."""
    from voicejournal.doctor import _guard

    result = _guard("microphone", lambda: check_microphone(Config()), "plug one in")
    assert not result.ok and result.fix


@pytest.mark.slow
def test_doctor_command_reports_each_part(run, tmp_path, journal_path):
    open_store(journal_path).add(Entry(transcript="hello"))
    out = tmp_path / "test-line.wav"
    result = run("doctor", "--speak-to", str(out), "--json")
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert list(checks) == ["microphone", "voice", "speech", "whisper", "reflection", "journal"]
    assert checks["voice"]["ok"] and "checksum ok" in checks["voice"]["detail"]
    assert not checks["microphone"]["ok"] and checks["microphone"]["fix"]
    assert checks["speech"]["ok"] and out.exists()
    assert checks["whisper"]["ok"] and "transcribed" in checks["whisper"]["detail"]
    assert checks["reflection"]["ok"] and "offline" in checks["reflection"]["detail"]
    assert checks["journal"]["ok"] and "1 entry," in checks["journal"]["detail"]
    assert result.exit_code == 1  # one problem (no microphone here)
    text = run("doctor", "--speak-to", str(out))
    assert "problem  microphone" in text.output and "fix:" in text.output and "ok       whisper" in text.output


@pytest.mark.slow
def test_doctor_with_a_microphone_and_speaker(virtual_audio, tmp_path):
    """With the virtual devices every part is ok, the mic level is measured and the test line is played."""
    env = {**virtual_audio.env, "VOICEJOURNAL_HOME": str(tmp_path / "home")}
    for name in ("VOICEJOURNAL_JOURNAL", "VOICEJOURNAL_CONFIG", "VOICEJOURNAL_BACKEND"):
        env.pop(name, None)
    # The doctor records its second whenever it gets there (later on a busy machine): keep talking.
    virtual_audio.keep_mic_busy(ROOT / "audio_samples" / "vctk_p225_001-002.wav", 180, tmp_path)
    try:
        done = subprocess.run([sys.executable, "-m", "voicejournal", "doctor", "--json"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=150)
    finally:
        virtual_audio.stop_players()  # leave the shared microphone quiet for the next test
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert all(c["ok"] for c in checks.values()), checks
    assert "dBFS" in checks["microphone"]["detail"] and "spoke" in checks["speech"]["detail"]
    assert "neural voice" in checks["speech"]["detail"]  # played with the neural voice
    assert done.returncode == 0


@pytest.mark.slow
def test_remote_backend_that_is_down_is_reported(tmp_path):
    """A configured endpoint nobody listens on: a problem with a fix, and the other checks still run."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = Config(backend="openai", base_url=f"http://127.0.0.1:{port}/v1", timeout=2.0)
    checks = {c.name: c for c in run_checks(config, tmp_path / "journal.json", speak_to=tmp_path / "t.wav",
                                            mic=False)}
    assert not checks["reflection"].ok and checks["reflection"].fix
    assert checks["journal"].ok


def test_journal_check_on_an_encrypted_journal(tmp_path, monkeypatch):
    from voicejournal.crypto import KdfParams, encrypt_journal

    path = tmp_path / "journal.json"
    open_store(path).add(Entry(transcript="private"))
    encrypt_journal(path, "correct horse", KdfParams(log2_n=10))
    monkeypatch.delenv("VOICEJOURNAL_PASSPHRASE", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    locked = check_journal(path)
    assert locked.ok and "encrypted" in locked.detail
    monkeypatch.setenv("VOICEJOURNAL_PASSPHRASE", "correct horse")
    opened = check_journal(path)
    assert opened.ok and "1 entry, encrypted" in opened.detail
