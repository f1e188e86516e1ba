"""Packaging and start-up: fast commands stay light, and the wheel carries its wording."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("faster_whisper", "ctranslate2", "openai", "sounddevice", "pyttsx3", "onnxruntime", "piper", "matplotlib",
         "numpy", "av")


def _modules_after(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    code = textwrap.dedent(f"""
        import json, sys
        from voicejournal.cli import cli
        try:
            cli({args!r}, prog_name="voicejournal")
        except SystemExit as exit:
            code = exit.code or 0
        else:
            code = 0
        print(json.dumps([code, sorted(m for m in sys.modules if m.split(".")[0] in {list(HEAVY)!r})]))
    """)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    code, modules = json.loads(out.stdout.strip().splitlines()[-1])
    return code, modules


@pytest.mark.parametrize("args", [["--help"], ["list"], ["show", "ENTRY"], ["list", "--json"], ["search", "sister"],
                                  ["names"], ["names", "--json"], ["names", "add", "Saoirse"]])
def test_fast_commands_do_not_import_heavy_libraries(args, vj_home, run):
    run("write", "My sister called tonight.")
    entry_id = json.loads(run("list", "--json").output)[0]["id"]
    args = [entry_id if a == "ENTRY" else a for a in args]
    env = dict(os.environ, VOICEJOURNAL_HOME=str(vj_home))
    code, heavy = _modules_after(args, env)
    assert code == 0
    assert heavy == []


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "voicejournal", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "voicejournal" in out.stdout


@pytest.mark.slow
def test_wheel_installs_and_finds_its_prompts(tmp_path):
    """Build the wheel, install it into a fresh venv, run it from outside the checkout."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = dist.glob("voicejournal-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VOICEJOURNAL_PROMPTS")}
    env["VOICEJOURNAL_HOME"] = str(tmp_path / "home")
    help_out = subprocess.run([str(env_dir / "bin" / "voicejournal"), "--help"], cwd=elsewhere, env=env,
                              capture_output=True, text=True, check=True)
    assert "checkin" in help_out.stdout or "list" in help_out.stdout

    probe = textwrap.dedent("""
        import voicejournal, voicejournal.prompts as p
        files = sorted(x for x in p.prompts_dir().rglob("*") if x.is_file())
        print(voicejournal.__file__)
        print(p.prompts_dir())
        print(len(files))
        print(p.read_prompt(str(files[0].relative_to(p.prompts_dir())))[:40].replace("\\n", " "))
        print(len(list(p.samples_dir().glob("*.wav"))))
    """)
    out = subprocess.run([str(py), "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    module_file, prompts, count, first_text, samples = out.stdout.strip().splitlines()
    assert str(env_dir) in module_file  # the installed copy, not the checkout
    assert prompts.startswith(str(env_dir)) and prompts.endswith("_data/prompts")
    assert int(count) > 0 and first_text.strip()
    assert int(samples) > 0
