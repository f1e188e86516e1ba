"""Where to reach a person: the helplines for a region, and the words said when someone may be at risk.

The numbers live in `prompts/crisis_resources.toml` (with the date they were checked); the words
in `prompts/safety/`, so both can be updated without programming.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache

from voicejournal.models import Safety
from voicejournal.prompts import prompts_dir, read_lines
from voicejournal.reflection.risk import LEVEL_CRISIS, LEVEL_DANGER


@lru_cache(maxsize=4)
def _resources(path_key: str) -> dict:
    path = prompts_dir() / "crisis_resources.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def load_resources() -> dict:
    """The crisis-lines data file (`prompts/crisis_resources.toml`), with its `checked` date."""
    return _resources(str(prompts_dir()))


def resource_lines(region: str | None, level: str = LEVEL_CRISIS) -> list[str]:
    """Helplines to show and speak for `region` (a country code); the directory when unknown."""
    data = load_resources()
    key = (region or "").strip().upper()
    key = data.get("aliases", {}).get(key, key)
    entry = data.get("regions", {}).get(key)
    lines: list[str] = []
    if entry:
        if level == LEVEL_DANGER:
            lines += entry.get("danger", [])
        lines += entry.get("crisis", [])
        lines.append(f"In immediate danger: call {entry.get('emergency', 'your local emergency number')}.")
    else:
        lines.append(data["emergency"]["text"])
    d = data["directory"]
    lines.append(f"{d['name']}: {d['contact']}, {d['note']}.")
    return lines


def safety_message(safety: Safety, region: str | None) -> tuple[str, list[str]]:
    """The calm, caring message and the helplines for this region: (spoken text, resource lines)."""
    name = "danger" if safety.level == LEVEL_DANGER else "message"
    message = " ".join(read_lines(f"safety/{name}.txt"))
    lines = resource_lines(region, safety.level)
    intro = " ".join(read_lines("safety/resources_intro.txt"))
    text = message + "\n\n" + intro + "\n" + "\n".join(lines)
    return text, lines


def check_question() -> str:
    """The direct, kind question asked when the risk is unclear (prompts/safety/check_question.txt)."""
    return " ".join(read_lines("safety/check_question.txt"))


def check_thanks() -> str:
    """Said when the answer to the question is no, before the reflection."""
    return " ".join(read_lines("safety/check_no.txt"))


def gentle_resources(region: str | None) -> tuple[str, list[str]]:
    """The helplines shown gently before a reflection (an unclear answer, or nobody to ask)."""
    lines = resource_lines(region, LEVEL_CRISIS)
    intro = " ".join(read_lines("safety/check_unclear.txt"))
    return intro + "\n" + "\n".join(lines), lines
