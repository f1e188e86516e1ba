"""The guided practices: names, titles and spoken openings, all read from `prompts/practices/`."""

from __future__ import annotations

import random
from dataclasses import dataclass

from voicejournal.errors import UserInputError
from voicejournal.prompts import prompts_dir, read_lines, read_prompt

DEFAULT_PRACTICE = "checkin"

# The order `voicejournal practices` lists them in; a folder added under prompts/practices/
# that is not named here is listed after these.
ORDER = (
    "checkin",
    "reframe",
    "secure-response",
    "connection",
    "corrective",
    "self-compassion",
    "insecurity",
    "getting-started",
)


@dataclass(frozen=True)
class Practice:
    """One guided practice; its wording lives in `prompts/practices/<name>/`."""

    name: str
    title: str
    description: str

    def opening(self, seed: int | str | None = None) -> str:
        """One of the practice's spoken opening prompts (variants rotate so daily use doesn't repeat)."""
        variants = read_lines(f"practices/{self.name}/opening.txt")
        return random.Random(seed).choice(variants)

    def openings(self) -> list[str]:
        return read_lines(f"practices/{self.name}/opening.txt")

    @property
    def guidance(self) -> str:
        """Guidance for a language model's reflection on this practice."""
        return " ".join(read_lines(f"practices/{self.name}/guidance.txt"))

    def questions(self) -> list[str]:
        """Open questions the offline reflector may end with."""
        return read_lines(f"practices/{self.name}/questions.txt")


def _names() -> list[str]:
    folder = prompts_dir() / "practices"
    found = sorted(p.name for p in folder.iterdir() if (p / "about.txt").is_file()) if folder.is_dir() else []
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def list_practices() -> list[Practice]:
    """Every practice, the default (check-in) first."""
    return [get_practice(name) for name in _names()]


def get_practice(name: str | None) -> Practice:
    """The practice called `name` (None means the default); raises UserInputError listing the names."""
    key = (name or DEFAULT_PRACTICE).strip().lower().replace("_", "-").replace(" ", "-")
    names = _names()
    if key not in names:
        raise UserInputError(
            f"There is no practice called '{name}'. The practices are: {', '.join(names)}. "
            "`voicejournal practices` describes each one."
        )
    about = [line.strip() for line in read_prompt(f"practices/{key}/about.txt").splitlines() if line.strip()]
    title = about[0] if about else key
    description = " ".join(about[1:]) if len(about) > 1 else ""
    return Practice(name=key, title=title, description=description)
