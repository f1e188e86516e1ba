"""No surprise network: the whole default flow runs with every non-loopback connection blocked
at the socket level (and recorded), and no key or passphrase reaches logs, --debug output or files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "audio_samples"

# Loaded by Python at start-up from PYTHONPATH, before any library: every way out of the
# machine (connect, connect_ex, sendto, name lookups) is checked, recorded and refused.
SITECUSTOMIZE = r'''
import ipaddress, os, socket

_LOG = os.environ["VJ_NET_LOG"]

def _local(host):
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host or "")
    if host in ("", "localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False

def _refuse(what, target):
    with open(_LOG, "a") as log:
        log.write(f"{what} {target!r}\n")
    raise OSError(101, "network blocked by the no-surprise-network test")

def _inet(sock):
    return sock.family in (socket.AF_INET, socket.AF_INET6)

_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
_getaddrinfo, _gethostbyname = socket.getaddrinfo, socket.gethostbyname

def connect(self, address):
    if _inet(self) and not _local(address[0]):
        _refuse("connect", address)
    return _connect(self, address)

def connect_ex(self, address):
    if _inet(self) and not _local(address[0]):
        _refuse("connect_ex", address)
    return _connect_ex(self, address)

def sendto(self, data, *args):
    address = args[-1]
    if _inet(self) and not _local(address[0]):
        _refuse("sendto", address)
    return _sendto(self, data, *args)

def getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)

def gethostbyname(host):
    if not _local(host):
        _refuse("gethostbyname", host)
    return _gethostbyname(host)

socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
'''

API_KEY = "sk-test-DoNotLeakThisKey1234567890"
PASSPHRASE = "tulips-and-a-quiet-harbour"


@pytest.fixture
def sandbox(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "network-attempts.log"
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOICEJOURNAL_", "OPENAI_", "HF_", "TRANSFORMERS_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(guard), str(REPO)]),
        "VJ_NET_LOG": str(log),
        "VOICEJOURNAL_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "EDITOR": "false",
    })

    def vj(*args: str, ok=(0,), extra_env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "voicejournal", *args], capture_output=True, text=True,
                              env={**env, **(extra_env or {})}, input=stdin, timeout=180, cwd=tmp_path)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        assert proc.returncode in ok, (args, proc.returncode, proc.stdout[-500:], proc.stderr[-1500:])
        return proc

    vj.log = log  # type: ignore[attr-defined]
    vj.home = home  # type: ignore[attr-defined]
    vj.tmp = tmp_path  # type: ignore[attr-defined]
    return vj


def _commands(vj) -> set[str]:
    out = vj("--help").stdout
    listing = out.split("Commands:", 1)[1]
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


def test_the_guard_really_blocks_and_records(sandbox):
    probe = "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 443), timeout=1)\nexcept OSError as e:\n    print(e.errno)"
    env = {**os.environ, "PYTHONPATH": str(sandbox.tmp / "guard"), "VJ_NET_LOG": str(sandbox.log)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=30)
    assert out.stdout.strip() == "101"
    assert "192.0.2.1" in sandbox.log.read_text()


@pytest.mark.slow
def test_default_flow_makes_no_connection_out(sandbox):
    vj = sandbox
    available = _commands(vj)
    written = vj("write", "I called my sister and she picked up; I let it be easy.").stdout
    entry_id = re.search(r"Saved entry (\w+)\.", written).group(1)
    vj("write", "A quiet day at work.", "--tag", "work")
    flows: list[tuple[tuple[str, ...], tuple[int, ...]]] = [
        (("list",), (0,)), (("list", "--json", "-n", "5"), (0,)), (("show", entry_id), (0,)),
        (("search", "sister"), (0,)), (("tag", entry_id, "+family"), (0,)), (("star", entry_id), (0,)),
        (("export", "--format", "md", "-o", "out.md"), (0,)), (("export", "--format", "json"), (0,)),
        (("export", "--format", "jrnl", "-o", "out.json"), (0,)),
        (("add", str(SAMPLES / "checkin_morning.wav")), (0,)),
        (("transcribe", str(SAMPLES / "thats_all.wav")), (0,)),
        (("checkin", "--input", str(SAMPLES / "connection_dinner.wav"), "--no-speak"), (0,)),
        (("reflect", "I worry people will leave when they see the real me."), (0,)),
        (("retry",), (0,)), (("progress",), (0,)), (("lookback",), (0,)), (("review",), (0,)),
        (("report", "--html", "report.html"), (0,)), (("practices",), (0,)), (("config",), (0,)),
        (("doctor", "--no-mic", "--speak-to", "doctor.wav"), (0, 1, 5, 6)),
    ]
    ran = []
    for args, ok in flows:
        if args[0] in available:
            vj(*args, ok=ok)
            ran.append(args[0])
    folder = sandbox.tmp / "notes"
    folder.mkdir()
    (folder / "2024-01-02.md").write_text("Imported note")
    vj("import", str(folder))
    vj("encrypt", extra_env={"VOICEJOURNAL_PASSPHRASE": PASSPHRASE})
    vj("list", extra_env={"VOICEJOURNAL_PASSPHRASE": PASSPHRASE})
    vj("decrypt", extra_env={"VOICEJOURNAL_PASSPHRASE": PASSPHRASE})
    assert {"list", "show", "search", "export"} <= set(ran)
    attempts = sandbox.log.read_text() if sandbox.log.exists() else ""
    assert attempts == "", f"tried to reach the network: {attempts}"
    print("\nno-network flow ran:", " ".join(sorted(set(ran))))


def test_debug_output_logs_and_files_never_hold_secrets(sandbox):
    vj = sandbox
    secrets_env = {"OPENAI_API_KEY": API_KEY, "VOICEJOURNAL_PASSPHRASE": PASSPHRASE}
    vj("write", "Passphrase talk: my passphrase is not here, api_key neither.", extra_env=secrets_env)
    vj("encrypt", extra_env=secrets_env)
    outputs = []
    for args in (("--debug", "list"), ("--debug", "search", "talk"), ("--debug", "export", "--format", "json"),
                 ("--debug", "config"), ("--debug", "write", "second entry")):
        proc = vj(*args, ok=(0, 1, 2), extra_env=secrets_env)
        outputs.append(proc.stdout + proc.stderr)
    wrong = vj("--debug", "list", ok=(4,), extra_env={**secrets_env, "VOICEJOURNAL_PASSPHRASE": "wrong " + PASSPHRASE})
    outputs.append(wrong.stdout + wrong.stderr)
    everything = "\n".join(outputs)
    assert "DEBUG" in everything or "debug" in everything.lower()
    assert API_KEY not in everything and PASSPHRASE not in everything
    on_disk = b"".join(p.read_bytes() for p in vj.home.rglob("*") if p.is_file())
    assert API_KEY.encode() not in on_disk and PASSPHRASE.encode() not in on_disk


def test_redacting_formatter_end_to_end(sandbox):
    """Whatever a library logs (a request with headers, a config dump), --debug output is redacted."""
    script = (
        "import logging, sys\n"
        "from voicejournal.cli import common\n"
        "common.enable_debug_logging()\n"
        "log = logging.getLogger('voicejournal.reflection')\n"
        f"log.debug('POST /v1/chat Authorization: Bearer {API_KEY}')\n"
        f"log.debug('settings %s', {{'api_key': '{API_KEY}', 'passphrase': '{PASSPHRASE}'}})\n"
        f"log.debug('passphrase={PASSPHRASE}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert proc.stderr.count("[redacted]") >= 3, proc.stderr
    assert API_KEY not in proc.stderr and PASSPHRASE not in proc.stderr
