"""Settings: command-line flag > environment > config.toml > defaults.

Secrets (API keys, passphrases) are read from the environment only and never written to
the journal, logs or exports.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from voicejournal.errors import ConfigError

ENV_PREFIX = "VOICEJOURNAL_"
JOURNAL_FILENAME = "journal.json"
CONFIG_FILENAME = "config.toml"


def data_home() -> Path:
    """`$VOICEJOURNAL_HOME`, else the platform's user data folder."""
    env = os.environ.get("VOICEJOURNAL_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs  # light, but only needed when no home is set

    return Path(platformdirs.user_data_dir("voicejournal", appauthor=False))


def default_journal_path() -> Path:
    return Path(os.environ.get("VOICEJOURNAL_JOURNAL") or data_home() / JOURNAL_FILENAME).expanduser()


@dataclass(frozen=True)
class Config:
    """Every setting with its default. Field names are the keys of config.toml."""

    # transcription
    model: str = "tiny.en"
    language: str = "auto"
    compute_type: str = "int8"
    beam_size: int = 5                  # Whisper's beam: wider is more accurate and slower (1 = greedy)
    final_beam_size: int = 2            # the beam for what is left once a check-in entry ends (bench_latency)
    transcriber: str = "local"          # or "remote": an OpenAI-compatible server (sends audio; asks first)
    transcribe_url: str | None = None   # base URL of the remote transcription server
    transcribe_model: str = "whisper-1"  # model name the remote server expects
    whisper_device: str = "cpu"         # where local Whisper runs: cpu, cuda or auto
    # recording
    device: str | None = None
    output_device: str | None = None
    silence_seconds: float = 2.5
    max_seconds: float = 600.0
    keep_audio: bool = True
    # reflection
    backend: str = "offline"
    base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    timeout: float = 20.0
    practice: str = "checkin"
    region: str | None = None
    # speech
    voice: str | None = None  # None: the neural voice if installed; "system"; a voice id; a Piper .onnx
    rate: int = 165           # words per minute; the neural voice's length scale follows it
    volume: float = 1.0
    speak: bool = True

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with the non-None overrides applied (flags from the command line)."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **_coerce_all(clean, source="command line"))

    @property
    def api_key(self) -> str | None:
        """Read from the environment each time; never stored."""
        return os.environ.get("OPENAI_API_KEY") or os.environ.get(ENV_PREFIX + "API_KEY")


def _coerce(name: str, value: Any, source: str) -> Any:
    kinds = {f.name: f.type for f in fields(Config)}
    if name not in kinds:
        known = ", ".join(sorted(kinds))
        raise ConfigError(f"Unknown setting '{name}' in {source}. Known settings: {known}.")
    kind = kinds[name]
    try:
        if "bool" in kind:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind.startswith("int"):
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if number != number or number < 0:  # NaN or negative
                raise ValueError
            return number
        if value is None:
            return None
        if not isinstance(value, str | int | float):
            raise ValueError
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"Setting '{name}' in {source} has the value {value!r}, which is not a valid {kind.split(' ')[0]}."
        ) from None


#: Whole-number settings that only make sense in a range (Whisper's beam: 1 is greedy; past
#: ~10 it is only slower).
_INT_RANGES = {"beam_size": (1, 10), "final_beam_size": (1, 10)}


def _checked(name: str, value: Any, source: str) -> Any:
    if name in _INT_RANGES:
        low, high = _INT_RANGES[name]
        if not low <= value <= high:
            raise ConfigError(f"Setting '{name}' in {source} is {value}; use a whole number from {low} to {high}.")
    return value


def _coerce_all(values: dict[str, Any], source: str) -> dict[str, Any]:
    return {k: _checked(k, _coerce(k, v, source), source) for k, v in values.items()}


def config_path() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "CONFIG") or data_home() / CONFIG_FILENAME)


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The settings file {path} can't be read ({exc}). Fix or remove it.") from None
    except OSError as exc:
        raise ConfigError(f"The settings file {path} can't be opened ({exc.strerror}).") from None
    # Allow an optional [voicejournal] table as well as top-level keys.
    table = data.get("voicejournal", data)
    if not isinstance(table, dict):
        raise ConfigError(f"The settings file {path} should hold key = value lines.")
    return table


def load_config(path: Path | None = None) -> Config:
    """Defaults, then config.toml, then VOICEJOURNAL_* environment variables."""
    values = _coerce_all(read_config_file(path or config_path()), source=str(path or config_path()))
    names = {f.name for f in fields(Config)}
    env = {}
    for name in names:
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            env[name] = raw
    if os.environ.get("OPENAI_BASE_URL") and "base_url" not in env:
        env["base_url"] = os.environ["OPENAI_BASE_URL"]
    values.update(_coerce_all(env, source="the environment"))
    return Config(**values)
