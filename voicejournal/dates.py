"""Dates people type: ISO dates, `today`, `yesterday`, and `7d` / `2w` / `3m` / `1y` ago."""

from __future__ import annotations

import re
from datetime import date, timedelta

from voicejournal.errors import UserInputError

_RELATIVE = re.compile(r"^(\d{1,5})\s*(d|day|days|w|week|weeks|m|month|months|y|year|years)(\s+ago)?$")


def parse_day(text: str, today: date | None = None) -> date:
    """Turn `text` into a calendar day, or raise a UserInputError saying what is accepted."""
    today = today or date.today()
    value = text.strip().lower()
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)[0]
        if unit == "d":
            return today - timedelta(days=amount)
        if unit == "w":
            return today - timedelta(weeks=amount)
        if unit == "m":
            return shift_months(today, -amount)
        return shift_months(today, -12 * amount)
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    raise UserInputError(
        f"'{text}' is not a date I can read. Use a date like 2026-03-14, or today, yesterday, "
        "7d (days ago), 2w, 3m or 1y."
    )


def shift_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    if year < 1:
        raise UserInputError("That date is too far back.")
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
