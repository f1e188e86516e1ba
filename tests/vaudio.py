"""A private PulseAudio daemon with a virtual microphone and speaker, for real-time audio tests.

Machines that run the tests have no sound card. PulseAudio's null sinks give a real-time
device pair instead (tests/data/vaudio.pa):

- virtual microphone: the test plays a WAV into the sink `vmicfeed` (`paplay`); the app
  records the default source `vmicfeed.monitor`;
- virtual speaker: the app plays to the default sink `vspk`; the test records
  `vspk.monitor` (`parec`).

What was checked to work here (Debian 12, no /dev/snd):
- The daemon is private to the test session: HOME and XDG_RUNTIME_DIR point at temp folders,
  so it never meets a desktop's PulseAudio. It is ready in ~0.1 s and stopped by its pid.
- The app reaches it through ALSA's `default` device, the real code path. ALSA routes
  `default` to PulseAudio through libasound2-plugins; `$HOME/.asoundrc` here says so
  explicitly, so it works even where the distribution's `99-pulse.conf` is missing.
- ALSA reads its configuration when PortAudio starts (`import sounddevice`), so the code
  under test must run in a subprocess started with `env` (or set the variables before the
  first `import sounddevice` in that process).
- `norewinds=1` on the sinks matters: without it the first ~60 ms played are lost. Pad test
  audio with silence.
- `module-pipe-source` can't be used (no pacing; `InputStream.stop()` hangs).

Needs the Debian packages pulseaudio, pulseaudio-utils and libasound2-plugins
(`scripts/bootstrap.sh test` installs them).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

PA_SCRIPT = Path(__file__).resolve().parent / "data" / "vaudio.pa"
ASOUNDRC = "pcm.!default { type pulse }\nctl.!default { type pulse }\n"


class VirtualAudio:
    """Start with `start()`, stop with `stop()`; `env` is what a subprocess needs to use it."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="vaudio-"))
        self.home = self.root / "home"
        self.runtime = self.root / "xdg"
        self.env: dict[str, str] = {}
        self._daemon: subprocess.Popen | None = None
        self._players: list[subprocess.Popen] = []
        self._recorder: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> VirtualAudio:
        for tool in ("pulseaudio", "pactl", "paplay", "parec"):
            if shutil.which(tool) is None:
                raise RuntimeError(
                    f"{tool} is missing: run `bash scripts/bootstrap.sh test` (installs pulseaudio, "
                    "pulseaudio-utils, libasound2-plugins)."
                )
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(parents=True, exist_ok=True)
        os.chmod(self.runtime, 0o700)
        (self.home / ".asoundrc").write_text(ASOUNDRC, encoding="utf-8")
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PULSE_RUNTIME_PATH": str(self.runtime / "pulse"),
        }
        self.env.pop("PULSE_SERVER", None)
        self._daemon = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(PA_SCRIPT), "--daemonize=no", "--exit-idle-time=-1",
             "--disallow-exit", "--use-pid-file=no", "--log-target=stderr"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._daemon.poll() is not None:
                raise RuntimeError(f"pulseaudio exited at start (code {self._daemon.returncode})")
            ready = subprocess.run(["pactl", "info"], env=self.env, capture_output=True)
            if ready.returncode == 0:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("pulseaudio did not become ready")

    def play_into_mic(self, wav_path: Path | str, wait: bool = False) -> subprocess.Popen:
        """Play a WAV into the virtual microphone (what the app hears), in real time."""
        player = subprocess.Popen(["paplay", "--device=vmicfeed", str(wav_path)], env=self.env)
        self._players.append(player)
        if wait:
            player.wait(timeout=600)
        return player

    def keep_mic_busy(self, wav_path: Path | str, seconds: float, work: Path | str) -> subprocess.Popen:
        """Play `wav_path` into the microphone over and over for `seconds` (stop it with
        `stop_players()`): for a program that records at a moment the test can't know."""
        import wave

        with wave.open(str(wav_path)) as src:
            params, frames = src.getparams(), src.readframes(src.getnframes())
        repeats = max(1, int(seconds * params.framerate / max(1, params.nframes)) + 1)
        looped = Path(work) / f"looped-{Path(wav_path).stem}.wav"
        with wave.open(str(looped), "wb") as out:
            out.setparams(params)
            out.writeframes(frames * repeats)
        return self.play_into_mic(looped)

    def stop_players(self) -> None:
        """Stop everything still playing into the microphone."""
        for player in self._players:
            if player.poll() is None:
                player.kill()
                player.wait()
        self._players.clear()

    def record_speaker(self, out_path: Path | str) -> subprocess.Popen:
        """Start recording what the app plays to the virtual speaker into a 16 kHz mono WAV."""
        self.stop_recording()
        self._recorder = subprocess.Popen(
            ["parec", "--device=vspk.monitor", "--format=s16le", "--rate=16000", "--channels=1",
             "--file-format=wav", str(out_path)],
            env=self.env,
        )
        return self._recorder

    def stop_recording(self) -> None:
        """Stop `record_speaker`; parec finishes the WAV header when it gets SIGINT."""
        if self._recorder is not None:
            _stop_process(self._recorder, signal.SIGINT)
            self._recorder = None

    def stop(self) -> None:
        self.stop_recording()
        self.stop_players()
        if self._daemon is not None:
            _stop_process(self._daemon, signal.SIGTERM)
            self._daemon = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> VirtualAudio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_process(process: subprocess.Popen, sig: int) -> None:
    """Ask `process` to end with `sig`; kill it if it hasn't within 5 s."""
    process.send_signal(sig)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
